/* Run directories: <base>/<YYYYMMDD-HHMMSS>/ for logs and models, arguments.txt and
 * revision_info.txt. */
#ifndef FN_RT_RUNDIR_H
#define FN_RT_RUNDIR_H

#include "runtime/rt.h"

/* Expands a leading ~ and creates the directory and its parents. */
int rt_mkdirs(const char *path, char *expanded, size_t cap, RtStatus *st);
/* A fresh run name from the local time (a suffix _2, _3... if the model directory exists). */
void rt_run_name(const char *models_base_expanded, char *name, size_t cap);
int rt_write_text(const char *path, const char *text, int append, RtStatus *st);

#endif

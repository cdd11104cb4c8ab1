/* Run directories: <base>/<YYYYMMDD-HHMMSS>/ for logs and models, arguments.txt and
 * revision_info.txt. */
#ifndef FN_RT_RUNDIR_H
#define FN_RT_RUNDIR_H

#include "runtime/rt.h"

/* Expands a leading ~ (path and out may be one buffer). */
void rt_expand_home(const char *path, char *out, size_t cap);
/* Expands a leading ~ and creates the directory and its parents. */
int rt_mkdirs(const char *path, char *expanded, size_t cap, RtStatus *st);
/* Creates a fresh run folder models_base_expanded/<local time> (a suffix _2, _3... when that
 * exists) with mkdir, which fails when another process took the name first, and gives its name:
 * two runs started in one second get two folders. */
int rt_run_create(const char *models_base_expanded, char *name, size_t cap, RtStatus *st);
/* 1 if path names a directory: for "X is a directory" where a file is expected. */
int rt_is_dir(const char *path);
int rt_write_text(const char *path, const char *text, int append, RtStatus *st);

#endif

/* Run directories: <base>/<YYYYMMDD-HHMMSS>/ for logs and models. */
#ifndef FN_RT_RUNDIR_H
#define FN_RT_RUNDIR_H

#include "runtime/core/files.h"

/* Creates a fresh run folder models_base_expanded/<local time> (a suffix _2, _3... when that
 * exists) with mkdir, which fails when another process took the name first, and gives its name:
 * two runs started in one second get two folders. */
int rt_run_create(const char *models_base_expanded, char *name, size_t cap, RtStatus *st);

#endif

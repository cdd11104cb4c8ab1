/* Paths and folders the runtime's layers share: creating folders, writing small text files.
 * Paths are taken as given: cli/ expands a leading ~. What this is not: run folders
 * (runtime/train/rundir.h) or atomic writes (framed.h). */
#ifndef FN_RT_FILES_H
#define FN_RT_FILES_H

#include "runtime/core/rt.h"

/* Creates the directory and its parents; `out` (cap bytes, may be NULL) gets the path. */
int rt_mkdirs(const char *path, char *out, size_t cap, RtStatus *st);
/* 1 if path names a directory: for "X is a directory" where a file is expected. */
int rt_is_dir(const char *path);
int rt_write_text(const char *path, const char *text, int append, RtStatus *st);

#endif

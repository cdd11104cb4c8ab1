/* NVRTC, opened with dlopen so that fn builds and runs where the CUDA toolkit is absent. */
#ifndef FN_CODEGEN_CUDA_NVRTC_H
#define FN_CODEGEN_CUDA_NVRTC_H

#include <stddef.h>

#include "ir/status.h"

/* Compiles CUDA C `src` for `arch` (e.g. "sm_90") to a cubin with NVRTC (lib: the library to
 * open instead, the tests' host emulation; NULL: the system's). Returns 0 (cubin malloc'ed, log
 * malloc'ed: the compiler's warnings, empty when clean), -1 on a compile error (log holds it),
 * or -2 when no NVRTC library can be opened (st says which names were tried). The log is the
 * compiler's output, data for the caller to show; st holds the one-line reason of a failure.
 * Out of memory for the log or the cubin: -1, st says so (the log may then be NULL). */
int cu_nvrtc_compile(const char *src, const char *name, const char *arch, const char *lib, void **cubin,
                     size_t *n_cubin, char **log, FnStatus *st);
/* cu_nvrtc_compile through an on-disk cache of cubins keyed by (source, architecture, NVRTC
 * version): <dir>/<16 hex digits>-<arch>.cubin, written to a temporary file and renamed, with a
 * header (magic, length) checked on read; a damaged entry is recompiled. dir NULL or "": no
 * cache: compiled every time. *hit says whether the cubin came from the cache. */
int cu_compile_cached(const char *src, const char *arch, const char *dir, const char *lib, void **cubin,
                      size_t *n_cubin, int *hit, char **log, FnStatus *st);
/* NVRTC's version (lib as for cu_nvrtc_compile), or -1 if it cannot be opened. */
int cu_nvrtc_version(const char *lib, int *major, int *minor);

#endif

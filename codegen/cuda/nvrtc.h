/* NVRTC, opened with dlopen so that fn builds and runs where the CUDA toolkit is absent. */
#ifndef FN_CODEGEN_CUDA_NVRTC_H
#define FN_CODEGEN_CUDA_NVRTC_H

#include <stddef.h>

/* Compiles CUDA C `src` for `arch` (e.g. "sm_90") to a cubin. Returns 0 (cubin malloc'ed, log
 * malloc'ed: the compiler's warnings, empty when clean), -1 on a compile error (log holds it),
 * or -2 when no NVRTC library can be opened (err says which names were tried). */
int cu_nvrtc_compile(const char *src, const char *name, const char *arch, void **cubin, size_t *n_cubin,
                     char **log, char *err, size_t errcap);
/* cu_nvrtc_compile through an on-disk cache of cubins keyed by (source, architecture, NVRTC
 * version): <dir>/<16 hex digits>-<arch>.cubin, written to a temporary file and renamed, with a
 * header (magic, length) checked on read; a damaged entry is recompiled. dir NULL: the default
 * cache (cu_kernel_cache_dir). *hit says whether the cubin came from the cache. */
int cu_compile_cached(const char *src, const char *arch, const char *dir, void **cubin, size_t *n_cubin,
                      int *hit, char **log, char *err, size_t errcap);
/* $FN_KERNEL_CACHE, else $XDG_CACHE_HOME/fn/kernels, else ~/.cache/fn/kernels. */
void cu_kernel_cache_dir(char *out, size_t cap);
/* NVRTC's version, or -1 if it cannot be opened. */
int cu_nvrtc_version(int *major, int *minor);

#endif

/* See nvrtc.h: the on-disk cache of compiled modules. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/cuda/nvrtc.h"
#include "ir/alloc.h"

#define CACHE_MAGIC "FNKC0001"

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

/* the cached cubin, or NULL if absent or damaged, or out of memory to read it (*oom) */
static void *cache_read(const char *path, size_t *n, int *oom) {
    *oom = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char magic[8];
    uint64_t len = 0;
    void *data = NULL;
    struct stat sb;
    if (fread(magic, 1, 8, f) == 8 && !memcmp(magic, CACHE_MAGIC, 8) && fread(&len, 8, 1, f) == 1 &&
        fstat(fileno(f), &sb) == 0 && (uint64_t)sb.st_size == 16 + len && len > 0) {
        data = len <= SIZE_MAX ? fn_malloc((size_t)len) : NULL;
        *oom = !data;
        if (data && fread(data, 1, len, f) != len) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    *n = data ? len : 0;
    return data;
}

int cu_compile_cached(const char *src, const char *arch, const char *dir, const char *lib, void **cubin,
                      size_t *n_cubin, int *hit, char **log, FnStatus *st) {
    char path[4200], tmp[4300];
    *hit = 0;
    if (!dir || !*dir) return cu_nvrtc_compile(src, "fn_module.cu", arch, lib, cubin, n_cubin, log, st);
    int major = 0, minor = 0;
    if (cu_nvrtc_version(lib, &major, &minor) < 0) major = minor = -1;
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, src, strlen(src));
    h = fnv1a(h, arch, strlen(arch) + 1);
    h = fnv1a(h, &major, sizeof major);
    h = fnv1a(h, &minor, sizeof minor);
    snprintf(path, sizeof path, "%s/%016llx-%s.cubin", dir, (unsigned long long)h, arch);
    *hit = 0;
    *log = NULL;
    int oom;
    if ((*cubin = cache_read(path, n_cubin, &oom))) {
        *hit = 1;
        if (!(*log = fn_calloc(1, 1))) {
            free(*cubin);
            *cubin = NULL;
            *n_cubin = 0;
            *hit = 0;
            return fn_fail(st, "out of memory for the kernel cache's log");
        }
        return 0;
    }
    if (oom) return fn_fail(st, "out of memory reading the kernel cache's %s", path);
    int rc = cu_nvrtc_compile(src, "fn_module.cu", arch, lib, cubin, n_cubin, log, st);
    if (rc < 0) return rc;
    mkdirs(dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    uint64_t len = *n_cubin;
    int ok = f && fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&len, 8, 1, f) == 1 &&
             fwrite(*cubin, 1, *n_cubin, f) == *n_cubin;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) unlink(tmp); /* a cache that cannot be written is not an error */
    return 0;
}

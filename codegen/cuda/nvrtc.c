/* See nvrtc.h. The few NVRTC entry points fn uses, resolved by name from the library. */
#include "codegen/cuda/nvrtc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

typedef struct _nvrtcProgram *nvrtcProgram;
typedef struct {
    void *lib;
    int (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *, const char *const *);
    int (*compile)(nvrtcProgram, int, const char *const *);
    int (*log_size)(nvrtcProgram, size_t *);
    int (*get_log)(nvrtcProgram, char *);
    int (*cubin_size)(nvrtcProgram, size_t *);
    int (*get_cubin)(nvrtcProgram, char *);
    int (*destroy)(nvrtcProgram *);
    int (*version)(int *, int *);
} Nvrtc;

static const char *const lib_names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12",
                                        "/usr/local/cuda/lib64/libnvrtc.so"};

/* the library (lib, else the system's) and its entry points into v; 0, or -2 with a message */
static int nvrtc_load(Nvrtc *v, const char *lib, FnStatus *st) {
    memset(v, 0, sizeof *v);
    if (lib && !(v->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL))) { /* tests: the host emulation */
        fn_fail(st, "FN_CUDA_EMULATOR=%s: %s", lib, dlerror());
        return -2;
    }
    for (size_t i = 0; i < sizeof lib_names / sizeof lib_names[0] && !v->lib; i++)
        v->lib = dlopen(lib_names[i], RTLD_NOW | RTLD_LOCAL);
    if (!v->lib) {
        fn_fail(st, "NVRTC not found (tried libnvrtc.so, .so.13, .so.12, /usr/local/cuda/lib64)");
        return -2;
    }
#define SYM(field, sym) *(void **)&v->field = dlsym(v->lib, sym)
    SYM(create, "nvrtcCreateProgram");
    SYM(compile, "nvrtcCompileProgram");
    SYM(log_size, "nvrtcGetProgramLogSize");
    SYM(get_log, "nvrtcGetProgramLog");
    SYM(cubin_size, "nvrtcGetCUBINSize");
    SYM(get_cubin, "nvrtcGetCUBIN");
    SYM(destroy, "nvrtcDestroyProgram");
    SYM(version, "nvrtcVersion");
#undef SYM
    if (!v->create || !v->compile || !v->log_size || !v->get_log || !v->cubin_size || !v->get_cubin ||
        !v->destroy || !v->version) {
        fn_fail(st, "the NVRTC library lacks an entry point fn needs");
        dlclose(v->lib);
        return -2;
    }
    return 0;
}

/* The system's NVRTC is opened once and kept for the process (NVRTC keeps internal state of its
 * own); a failure too is kept, with its message. A library named by the caller (the tests' host
 * emulation) is opened on each call (dlopen counts the references). */
static pthread_once_t nvrtc_once = PTHREAD_ONCE_INIT;
static Nvrtc nvrtc_lib;
static int nvrtc_rc;
static FnStatus nvrtc_st;

static void nvrtc_load_once(void) { nvrtc_rc = nvrtc_load(&nvrtc_lib, NULL, &nvrtc_st); }

static int nvrtc_open(Nvrtc *v, const char *lib, FnStatus *st) {
    if (lib && *lib) return nvrtc_load(v, lib, st);
    pthread_once(&nvrtc_once, nvrtc_load_once);
    *v = nvrtc_lib;
    if (nvrtc_rc < 0) fn_fail(st, "%s", nvrtc_st.msg);
    return nvrtc_rc;
}

int cu_nvrtc_version(const char *lib, int *major, int *minor) {
    Nvrtc v;
    if (nvrtc_open(&v, lib, NULL) < 0) return -1;
    return v.version(major, minor) == 0 ? 0 : -1;
}

int cu_nvrtc_compile(const char *src, const char *name, const char *arch, const char *lib, void **cubin,
                     size_t *n_cubin, char **log, FnStatus *st) {
    *cubin = NULL;
    *n_cubin = 0;
    *log = NULL;
    Nvrtc v;
    int rc = nvrtc_open(&v, lib, st);
    if (rc < 0) return rc;
    nvrtcProgram prog = NULL;
    if (v.create(&prog, src, name, 0, NULL, NULL) != 0) return fn_fail(st, "nvrtcCreateProgram failed");
    char arch_opt[64];
    snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", arch);
    const char *opts[] = {arch_opt, "--std=c++17", "--restrict"};
    int crc = v.compile(prog, 3, opts);
    size_t n = 0;
    v.log_size(prog, &n);
    if (!(*log = fn_calloc(n + 1, 1))) { /* the log is lost: *log stays NULL */
        v.destroy(&prog);
        return fn_fail(st, "out of memory for NVRTC's log of %s", name);
    }
    if (n) v.get_log(prog, *log);
    rc = crc == 0 ? 0 : -1;
    if (rc == 0 && v.cubin_size(prog, n_cubin) == 0 && *n_cubin) {
        if ((*cubin = fn_malloc(*n_cubin))) {
            v.get_cubin(prog, *cubin);
        } else {
            *n_cubin = 0;
            rc = fn_fail(st, "out of memory for the cubin of %s", name);
        }
    } else if (rc == 0) {
        fn_fail(st, "NVRTC gave no cubin for %s", arch);
        rc = -1;
    }
    if (rc < 0 && crc != 0) fn_fail(st, "NVRTC could not compile %s for %s", name, arch);
    v.destroy(&prog);
    return rc;
}

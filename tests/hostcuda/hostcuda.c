/* A host emulation of the parts of the CUDA driver API, NVRTC and cuBLAS that fn calls, so that the
 * GPU executor (runtime/gpu/gpu_exec.c) and the kernels fn generates run, and are tested, on a
 * machine without a GPU. fn opens this library in place of libcuda, libcublas and libnvrtc when
 * FN_CUDA_EMULATOR names it (runtime/gpu/cuda_api.c, codegen/cuda/nvrtc.c).
 *
 * - NVRTC: a "compile" turns the module's CUDA C into C++ for the host compiler (`c++`): a shim
 *   makes blockIdx, threadIdx, blockDim and gridDim globals, and for each `extern "C" __global__`
 *   kernel a runner is added that packs its arguments, runs one thread, or runs a whole grid
 *   thread by thread. The shared object is built once per source (in $TMPDIR/fn_hostcuda) and
 *   the "cubin" is the source itself, so the kernel cache works as with a real card.
 * - Kernels whose text calls __syncthreads run each block's threads as coroutines (ucontext):
 *   every thread runs to its next barrier before any goes past it, so __shared__ memory (a
 *   static of the module, blocks running one at a time) behaves as on a card.
 * - Memory is host memory: a CUdeviceptr is a host address. cuBLAS's SGEMM is OpenBLAS's.
 * - Streams run their work at once, in order. A captured stream records it instead; a replayed
 *   graph runs the records in order, or, with FN_HOSTCUDA_SHUFFLE=seed, in a random order that
 *   keeps each record after those it depends on (the stream's previous record and the events it
 *   waited for), so a missing dependency between streams shows as a different result.
 * - Calls a real driver refuses are refused: synchronous copies and stream synchronisation
 *   while a stream captures (the capture is then invalidated), launches past the grid and block
 *   limits, unknown kernels.
 * What this is not: a timing model, or a check of the cubin NVRTC would make (test_cuda_codegen
 * compiles every kernel with the real NVRTC). The card is reported as compute capability 9.0 with
 * FN_HOSTCUDA_SMS multiprocessors (default 4). */

#include <cblas.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum {
    OK = 0,
    ERR_VALUE = 1,
    ERR_MEMORY = 2,
    ERR_IMAGE = 200,
    ERR_NOT_FOUND = 500,
    ERR_LAUNCH = 719,
    ERR_CAPTURE_UNSUPPORTED = 900,
    ERR_CAPTURE_INVALIDATED = 901
};
#define EXPORT __attribute__((visibility("default")))

/* ---- modules: CUDA C compiled for the host -------------------------------------------------- */

static const char shim[] =
    "#include <math.h>\n#include <string.h>\n#include <stdint.h>\n"
    "struct FnDim3 { unsigned x, y, z; };\n"
    "static FnDim3 blockIdx, threadIdx, blockDim, gridDim;\n"
    "extern \"C\" { void (*fnhost_sync)(void); }\n"
    "#define __global__\n#define __device__\n#define __forceinline__ inline\n#define __shared__ static\n"
    "static inline void __syncthreads() { fnhost_sync(); }\n"
    "static inline float __int_as_float(int u) { float f; memcpy(&f, &u, sizeof f); return f; }\n"
    "static inline float __fmul_rn(float a, float b) { return a * b; }\n"
    "static inline float __fsub_rn(float a, float b) { return a - b; }\n"
    "extern \"C\" void fnhost_ids(const unsigned *g, const unsigned *b, const unsigned *bi, const unsigned *ti) {\n"
    "    gridDim = {g[0], g[1], g[2]}; blockDim = {b[0], b[1], b[2]};\n"
    "    blockIdx = {bi[0], bi[1], bi[2]}; threadIdx = {ti[0], ti[1], ti[2]};\n"
    "}\n";

typedef struct {
    char name[128];
    size_t size;                                  /* packed arguments' bytes */
    void (*pack)(void **args, void *dst);         /* the launch's arguments, by value */
    void (*thread)(const void *packed);           /* one thread, ids set by fnhost_ids */
    void (*grid)(const void *packed, const unsigned *g, const unsigned *b); /* every thread in order */
    int syncs;                                    /* the kernel calls __syncthreads */
    void (*ids)(const unsigned *, const unsigned *, const unsigned *, const unsigned *);
} Func;

typedef struct {
    void *so;
    Func *f;
    int n;
} Module;

typedef struct {
    char *c;
    size_t n, cap;
} Text;

static void put(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(t->c ? t->c + t->n : NULL, t->c ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (t->c && t->n + (size_t)k < t->cap) {
            t->n += (size_t)k;
            return;
        }
        t->cap = (t->cap + (size_t)k) * 2 + 256;
        t->c = realloc(t->c, t->cap);
    }
}

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\t') p++;
    return p;
}

/* one past the bracket closing the one at p (p points at '(' or '{') */
static const char *match(const char *p) {
    char open = *p, close = open == '(' ? ')' : '}';
    int depth = 0;
    for (; *p; p++) {
        if (*p == open) depth++;
        else if (*p == close && --depth == 0) return p + 1;
    }
    return p;
}

#define KERNEL_MARK "extern \"C\" __global__ void "

/* The host C++ for a module: shim, source, then for each kernel its argument struct and
 * runners. The kernels' names (n of them) go to names, and whether each syncs to syncs. */
static char *host_source(const char *src, char (**names)[128], int **syncs, int *n) {
    Text t = {0};
    put(&t, "%s%s\n", shim, src);
    *n = 0;
    *names = NULL;
    *syncs = NULL;
    for (const char *p = strstr(src, KERNEL_MARK); p; p = strstr(p, KERNEL_MARK)) {
        p += strlen(KERNEL_MARK);
        const char *open = strchr(p, '(');
        if (!open) break;
        *names = realloc(*names, (size_t)(*n + 1) * sizeof **names);
        *syncs = realloc(*syncs, (size_t)(*n + 1) * sizeof **syncs);
        char *name = (*names)[*n];
        snprintf(name, 128, "%.*s", (int)(open - p), p);
        const char *close = match(open), *body = strchr(close, '{');
        const char *end = body ? match(body) : close;
        char *text = strndup(body ? body : close, (size_t)(end - (body ? body : close)));
        (*syncs)[*n] = strstr(text, "__syncthreads") != NULL;
        free(text);
        /* the parameters: "type name" split at commas; the name is the last identifier */
        Text members = {0}, packs = {0}, call = {0};
        int k = 0;
        for (const char *q = open + 1; q < close - 1; k++) {
            const char *comma = q;
            while (comma < close - 1 && *comma != ',') comma++;
            const char *e = comma;
            while (e > q && (e[-1] == ' ' || e[-1] == '\n')) e--;
            const char *id = e;
            while (id > q && (id[-1] == '_' || (id[-1] >= 'a' && id[-1] <= 'z') || (id[-1] >= 'A' && id[-1] <= 'Z') ||
                              (id[-1] >= '0' && id[-1] <= '9')))
                id--;
            q = skip_space(q);
            put(&members, "    %.*s a%d;\n", (int)(id - q), q, k);
            put(&packs, "    memcpy(&p->a%d, args[%d], sizeof p->a%d);\n", k, k, k);
            put(&call, "%sp->a%d", k ? ", " : "", k);
            q = comma + 1;
        }
        put(&t,
            "struct fnhost_P_%s {\n%s};\n"
            "extern \"C\" const size_t fnhost_size_%s = sizeof(fnhost_P_%s);\n"
            "extern \"C\" void fnhost_pack_%s(void **args, void *dst) {\n"
            "    fnhost_P_%s *p = (fnhost_P_%s *)dst;\n%s    (void)args; (void)p;\n}\n"
            "extern \"C\" void fnhost_thread_%s(const void *src) {\n"
            "    const fnhost_P_%s *p = (const fnhost_P_%s *)src; (void)p;\n    %s(%s);\n}\n"
            "extern \"C\" void fnhost_grid_%s(const void *src, const unsigned *g, const unsigned *b) {\n"
            "    const fnhost_P_%s *p = (const fnhost_P_%s *)src; (void)p;\n"
            "    gridDim = {g[0], g[1], g[2]}; blockDim = {b[0], b[1], b[2]};\n"
            "    for (unsigned z = 0; z < g[2]; z++) for (unsigned y = 0; y < g[1]; y++) for (unsigned x = 0; x < g[0]; x++)\n"
            "        for (unsigned tz = 0; tz < b[2]; tz++) for (unsigned ty = 0; ty < b[1]; ty++)\n"
            "            for (unsigned tx = 0; tx < b[0]; tx++) {\n"
            "                blockIdx = {x, y, z}; threadIdx = {tx, ty, tz};\n"
            "                %s(%s);\n"
            "            }\n}\n",
            name, members.c ? members.c : "", name, name, name, name, name, packs.c ? packs.c : "", name, name, name,
            name, call.c ? call.c : "", name, name, name, name, call.c ? call.c : "");
        free(members.c);
        free(packs.c);
        free(call.c);
        ++*n;
        p = end;
    }
    return t.c;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Builds (or finds) the shared object for src; its path to so. 0, or -1 with the compiler's
 * output in *log. */
static int build(const char *src, char *so, size_t cap, char **log) {
    const char *tmp = getenv("TMPDIR");
    char dir[512], cpp[1100], cmd[6000], out[1200];
    snprintf(dir, sizeof dir, "%s/fn_hostcuda", tmp && *tmp ? tmp : "/tmp");
    mkdir(dir, 0755);
    char (*names)[128];
    int *syncs, n;
    char *text = host_source(src, &names, &syncs, &n);
    free(names);
    free(syncs);
    uint64_t h = fnv1a(text) ^ fnv1a(shim);
    snprintf(so, cap, "%s/%016llx.so", dir, (unsigned long long)h);
    *log = NULL;
    if (access(so, R_OK) == 0) {
        free(text);
        return 0;
    }
    snprintf(cpp, sizeof cpp, "%s/%016llx.%d.cpp", dir, (unsigned long long)h, (int)getpid());
    snprintf(out, sizeof out, "%s.log", cpp);
    FILE *f = fopen(cpp, "w");
    if (!f) {
        free(text);
        *log = strdup("cannot write the host source");
        return -1;
    }
    fputs(text, f);
    fclose(f);
    free(text);
    /* built under a temporary name and renamed: processes sharing the folder never load half a file */
    snprintf(cmd, sizeof cmd, "c++ -std=c++17 -O1 -w -shared -fPIC -o %s.tmp %s >%s 2>&1 && mv -f %s.tmp %s", cpp, cpp, out,
             cpp, so);
    int rc = system(cmd);
    FILE *lf = fopen(out, "r");
    if (lf) {
        Text l = {0};
        char line[1024];
        while (fgets(line, sizeof line, lf)) put(&l, "%s", line);
        fclose(lf);
        *log = l.c;
    }
    unlink(out);
    unlink(cpp);
    return rc == 0 ? 0 : -1;
}

static Module *load(const char *src) {
    char so[600], *log = NULL;
    if (build(src, so, sizeof so, &log) < 0) {
        fprintf(stderr, "hostcuda: the module does not compile for the host:\n%s\n", log ? log : "");
        free(log);
        return NULL;
    }
    free(log);
    Module *m = calloc(1, sizeof *m);
    if (!(m->so = dlopen(so, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "hostcuda: %s\n", dlerror());
        free(m);
        return NULL;
    }
    char (*names)[128];
    int *syncs;
    free(host_source(src, &names, &syncs, &m->n));
    m->f = calloc((size_t)m->n + 1, sizeof *m->f);
    void (**sync_hook)(void) = dlsym(m->so, "fnhost_sync");
    extern void hostcuda_barrier(void);
    if (sync_hook) *sync_hook = hostcuda_barrier;
    for (int i = 0; i < m->n; i++) {
        Func *f = &m->f[i];
        char sym[200];
        snprintf(f->name, sizeof f->name, "%s", names[i]);
        f->syncs = syncs[i];
        f->ids = (void (*)(const unsigned *, const unsigned *, const unsigned *, const unsigned *))dlsym(m->so, "fnhost_ids");
        snprintf(sym, sizeof sym, "fnhost_size_%s", f->name);
        const size_t *size = dlsym(m->so, sym);
        f->size = size ? *size : 0;
        snprintf(sym, sizeof sym, "fnhost_pack_%s", f->name);
        *(void **)&f->pack = dlsym(m->so, sym);
        snprintf(sym, sizeof sym, "fnhost_thread_%s", f->name);
        *(void **)&f->thread = dlsym(m->so, sym);
        snprintf(sym, sizeof sym, "fnhost_grid_%s", f->name);
        *(void **)&f->grid = dlsym(m->so, sym);
    }
    free(names);
    free(syncs);
    return m;
}

/* ---- a block's threads as coroutines, for kernels with barriers ------------------------------ */

#define STACK (64 << 10)
static ucontext_t sched_ctx, *fiber;
static char *stacks, *finished;
static int n_fibers, cur_fiber;
static const Func *cur_func;
static const void *cur_args;

/* __syncthreads: back to the scheduler, which resumes this thread in the next round */
EXPORT void hostcuda_barrier(void) { swapcontext(&fiber[cur_fiber], &sched_ctx); }

static void fiber_main(void) {
    cur_func->thread(cur_args);
    finished[cur_fiber] = 1; /* then back to the scheduler through uc_link */
}

static void run_block_fibers(const Func *f, const void *args, const unsigned *g, const unsigned *b, const unsigned *bi) {
    int n = (int)(b[0] * b[1] * b[2]);
    if (n > n_fibers) {
        free(fiber);
        free(stacks);
        free(finished);
        fiber = calloc((size_t)n, sizeof *fiber);
        stacks = malloc((size_t)n * STACK);
        finished = malloc((size_t)n);
        n_fibers = n;
    }
    cur_func = f;
    cur_args = args;
    for (int t = 0; t < n; t++) {
        getcontext(&fiber[t]);
        fiber[t].uc_stack.ss_sp = stacks + (size_t)t * STACK;
        fiber[t].uc_stack.ss_size = STACK;
        fiber[t].uc_link = &sched_ctx;
        makecontext(&fiber[t], fiber_main, 0);
        finished[t] = 0;
    }
    /* rounds: each live thread runs to its next barrier or its end */
    for (int live = n; live > 0;)
        for (int t = 0; t < n; t++) {
            if (finished[t]) continue;
            unsigned ti[3] = {(unsigned)t % b[0], (unsigned)t / b[0] % b[1], (unsigned)t / (b[0] * b[1])};
            f->ids(g, b, bi, ti);
            cur_fiber = t;
            swapcontext(&sched_ctx, &fiber[t]);
            live -= finished[t];
        }
}

static void run_kernel(const Func *f, const void *args, const unsigned *g, const unsigned *b) {
    if (!f->syncs) {
        f->grid(args, g, b);
        return;
    }
    for (unsigned z = 0; z < g[2]; z++)
        for (unsigned y = 0; y < g[1]; y++)
            for (unsigned x = 0; x < g[0]; x++) {
                unsigned bi[3] = {x, y, z};
                run_block_fibers(f, args, g, b, bi);
            }
}

/* ---- work: run now, or recorded by a capturing stream ---------------------------------------- */

typedef enum { W_KERNEL, W_COPY, W_SET, W_GEMM, W_NOP } WorkKind;
typedef struct {
    WorkKind kind;
    const Func *f;
    void *args; /* W_KERNEL: packed, owned */
    unsigned g[3], b[3];
    void *dst;
    const void *src, *src2;
    size_t n;
    unsigned char byte;
    int ta, tb, m, nn, k, lda, ldb, ldc; /* W_GEMM (dst = src x src2), column-major as cuBLAS */
    float alpha, beta;
    int *deps, n_deps; /* a graph's record: the records it waits for */
} Work;

static void run_work(const Work *w) {
    switch (w->kind) {
    case W_KERNEL: run_kernel(w->f, w->args, w->g, w->b); break;
    case W_COPY: memmove(w->dst, w->src, w->n); break;
    case W_SET: memset(w->dst, w->byte, w->n); break;
    case W_GEMM:
        cblas_sgemm(CblasColMajor, w->ta ? CblasTrans : CblasNoTrans, w->tb ? CblasTrans : CblasNoTrans, w->m, w->nn, w->k,
                    w->alpha, w->src, w->lda, w->src2, w->ldb, w->beta, w->dst, w->ldc);
        break;
    case W_NOP: break;
    }
}

typedef struct {
    Work *w;
    int n, cap;
    int invalid; /* a refused call during the capture */
} Graph;

typedef struct Stream {
    Graph *cap;  /* capturing into this graph, else NULL */
    int origin;  /* the stream the capture began on */
    int last;    /* its last record in cap (-1: none yet) */
    int *wait, n_wait; /* events waited for since: dependencies of the next record */
} Stream;

typedef struct {
    Graph *g; /* recorded during a capture: the record it marks */
    int rec;
} Event;

static Stream legacy_stream = {NULL, 0, -1, NULL, 0};
#define MAX_CAPTURES 16
static Graph *capturing[MAX_CAPTURES]; /* captures in progress */
static int n_capturing;
/* streams that joined a capture through cuStreamWaitEvent (its end checks they rejoined) */
static Stream *joined[64];
static int n_joined;
static size_t allocated;
static int n_sms(void) {
    const char *e = getenv("FN_HOSTCUDA_SMS");
    int n = e ? atoi(e) : 0;
    return n > 0 ? n : 4;
}

static Stream *stream_of(void *s) { return s ? (Stream *)s : &legacy_stream; }

/* work on a stream: run now, or recorded (w's owned parts move into the graph) */
static CUresult submit(Stream *s, Work w) {
    if (!s->cap) {
        run_work(&w);
        if (w.kind == W_KERNEL) free(w.args);
        return OK;
    }
    Graph *g = s->cap;
    if (g->n == g->cap) {
        g->cap = g->cap * 2 + 64;
        g->w = realloc(g->w, (size_t)g->cap * sizeof *g->w);
    }
    w.n_deps = 0;
    w.deps = malloc((size_t)(s->n_wait + 1) * sizeof *w.deps);
    if (s->last >= 0) w.deps[w.n_deps++] = s->last;
    for (int i = 0; i < s->n_wait; i++) w.deps[w.n_deps++] = s->wait[i];
    s->n_wait = 0;
    g->w[g->n] = w;
    s->last = g->n++;
    return OK;
}

/* a call a capturing stream forbids (synchronous copies, synchronisation): refused, and every
   capture in progress is invalidated */
static CUresult refuse_if_capturing(void) {
    for (int i = 0; i < n_capturing; i++) capturing[i]->invalid = 1;
    return n_capturing ? ERR_CAPTURE_UNSUPPORTED : OK;
}

/* ---- the driver API -------------------------------------------------------------------------- */

#define MAGIC "FNHOSTCU"
#define HEADER 256

EXPORT CUresult cuInit(unsigned flags) { return flags ? ERR_VALUE : OK; }
EXPORT CUresult cuDeviceGet(int *dev, int ordinal) {
    *dev = 0;
    return ordinal == 0 ? OK : 101;
}
EXPORT CUresult cuDeviceGetName(char *name, int len, int dev) {
    (void)dev;
    snprintf(name, (size_t)len, "fn host emulator");
    return OK;
}
EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
    (void)dev;
    *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? n_sms() : 0;
    return OK;
}
EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) {
    static int the_context;
    (void)dev;
    *ctx = &the_context;
    return OK;
}
EXPORT CUresult cuCtxSetCurrent(void *ctx) { return ctx ? OK : ERR_VALUE; }

EXPORT CUresult cuModuleLoadData(void **mod, const void *image) {
    if (memcmp(image, MAGIC, 8) != 0) return ERR_IMAGE;
    Module *m = load((const char *)image + 8);
    *mod = m;
    return m ? OK : ERR_IMAGE;
}
EXPORT CUresult cuModuleUnload(void *mod) {
    Module *m = mod;
    if (!m) return ERR_VALUE;
    dlclose(m->so);
    free(m->f);
    free(m);
    return OK;
}
EXPORT CUresult cuModuleGetFunction(void **f, void *mod, const char *name) {
    Module *m = mod;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->f[i].name, name) && m->f[i].pack && m->f[i].grid) {
            *f = &m->f[i];
            return OK;
        }
    return ERR_NOT_FOUND;
}

static void *alloc(size_t n) {
    char *p = aligned_alloc(HEADER, HEADER + (n + HEADER - 1) / HEADER * HEADER);
    if (!p) return NULL;
    *(size_t *)p = n;
    allocated += n;
    return p + HEADER;
}
static void release(void *p) {
    if (!p) return;
    char *h = (char *)p - HEADER;
    allocated -= *(size_t *)h;
    free(h);
}
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    *p = (CUdeviceptr)(uintptr_t)alloc(n);
    return *p ? OK : ERR_MEMORY;
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    release((void *)(uintptr_t)p);
    return OK;
}
EXPORT CUresult cuMemAllocHost_v2(void **p, size_t n) {
    *p = alloc(n);
    return *p ? OK : ERR_MEMORY;
}
EXPORT CUresult cuMemFreeHost(void *p) {
    release(p);
    return OK;
}
EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total_b) {
    *total_b = (size_t)16 << 30;
    *free_b = *total_b > allocated ? *total_b - allocated : 0;
    return OK;
}
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    if (refuse_if_capturing()) return ERR_CAPTURE_UNSUPPORTED;
    memcpy((void *)(uintptr_t)dst, src, n);
    return OK;
}
EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    if (refuse_if_capturing()) return ERR_CAPTURE_UNSUPPORTED;
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return OK;
}
EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *s) {
    return submit(stream_of(s), (Work){.kind = W_COPY, .dst = (void *)(uintptr_t)dst, .src = (const void *)(uintptr_t)src, .n = n});
}
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *s) {
    return submit(stream_of(s), (Work){.kind = W_COPY, .dst = (void *)(uintptr_t)dst, .src = src, .n = n});
}
EXPORT CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char byte, size_t n, void *s) {
    return submit(stream_of(s), (Work){.kind = W_SET, .dst = (void *)(uintptr_t)dst, .byte = byte, .n = n});
}

EXPORT CUresult cuStreamCreate(void **s, unsigned flags) {
    (void)flags;
    Stream *st = calloc(1, sizeof *st);
    st->last = -1;
    *s = st;
    return OK;
}
EXPORT CUresult cuStreamDestroy_v2(void *s) {
    Stream *st = s;
    if (st && st->cap) return ERR_VALUE;
    if (st) free(st->wait);
    free(st);
    return OK;
}
EXPORT CUresult cuStreamSynchronize(void *s) {
    Stream *st = stream_of(s);
    if (st->cap) return ERR_CAPTURE_UNSUPPORTED;
    return refuse_if_capturing();
}

EXPORT CUresult cuLaunchKernel(void *fp, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                               unsigned shared, void *s, void **params, void **extra) {
    const Func *f = fp;
    if (!f || extra || (!params && f->size) || shared > 48 * 1024) return ERR_VALUE;
    if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || (uint64_t)bx * by * bz > 1024 ||
        bz > 64)
        return ERR_VALUE;
    Work w = {.kind = W_KERNEL, .f = f, .g = {gx, gy, gz}, .b = {bx, by, bz}};
    w.args = malloc(f->size ? f->size : 1);
    f->pack(params, w.args);
    return submit(stream_of(s), w);
}

EXPORT CUresult cuGetErrorString(CUresult r, const char **msg) {
    switch (r) {
    case OK: *msg = "no error"; break;
    case ERR_VALUE: *msg = "invalid argument"; break;
    case ERR_MEMORY: *msg = "out of memory"; break;
    case ERR_IMAGE: *msg = "device kernel image is invalid"; break;
    case ERR_NOT_FOUND: *msg = "named symbol not found"; break;
    case ERR_CAPTURE_UNSUPPORTED: *msg = "operation not permitted when stream is capturing"; break;
    case ERR_CAPTURE_INVALIDATED: *msg = "operation failed due to a previous error during capture"; break;
    case 904: *msg = "capture was not joined to the origin stream"; break;
    default: *msg = "unknown error"; return ERR_VALUE;
    }
    return OK;
}

/* ---- events and captures ----------------------------------------------------------------------- */

EXPORT CUresult cuEventCreate(void **e, unsigned flags) {
    (void)flags;
    *e = calloc(1, sizeof(Event));
    return OK;
}
EXPORT CUresult cuEventDestroy_v2(void *e) {
    free(e);
    return OK;
}
EXPORT CUresult cuEventRecord(void *e, void *s) {
    Event *ev = e;
    Stream *st = stream_of(s);
    ev->g = st->cap;
    ev->rec = st->cap ? st->last : -1;
    if (st->cap && st->n_wait) { /* a record that carries the waits, so the event includes them */
        submit(st, (Work){.kind = W_NOP});
        ev->rec = st->last;
    }
    return OK;
}
EXPORT CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) {
    Event *ev = e;
    Stream *st = stream_of(s);
    (void)flags;
    if (!ev->g) return OK; /* recorded outside a capture: its work has run */
    if (!st->cap) { /* a stream joining the capture */
        if (n_joined == (int)(sizeof joined / sizeof *joined)) return ERR_VALUE;
        st->cap = ev->g;
        st->origin = 0;
        st->last = -1;
        joined[n_joined++] = st;
    } else if (st->cap != ev->g)
        return ERR_VALUE;
    if (ev->rec >= 0) {
        st->wait = realloc(st->wait, (size_t)(st->n_wait + 1) * sizeof *st->wait);
        st->wait[st->n_wait++] = ev->rec;
    }
    return OK;
}

EXPORT CUresult cuStreamBeginCapture_v2(void *s, int mode) {
    Stream *st = stream_of(s);
    (void)mode;
    if (st->cap || n_capturing == MAX_CAPTURES) return ERR_VALUE;
    st->cap = capturing[n_capturing++] = calloc(1, sizeof(Graph));
    st->origin = 1;
    st->last = -1;
    st->n_wait = 0;
    return OK;
}

static void graph_free(Graph *g);

static int reaches(const Graph *g, int from, int to, char *seen) {
    if (from == to) return 1;
    if (from < to || seen[from]) return 0;
    seen[from] = 1;
    for (int i = 0; i < g->w[from].n_deps; i++)
        if (reaches(g, g->w[from].deps[i], to, seen)) return 1;
    return 0;
}

EXPORT CUresult cuStreamEndCapture(void *s, void **graph) {
    Stream *st = stream_of(s);
    if (!st->cap || !st->origin) return ERR_VALUE;
    Graph *g = st->cap;
    if (st->n_wait) submit(st, (Work){.kind = W_NOP}); /* the origin's last waits join the graph */
    for (int i = 0; i < n_capturing; i++)
        if (capturing[i] == g) capturing[i] = capturing[--n_capturing];
    CUresult rc = g->invalid ? ERR_CAPTURE_INVALIDATED : OK;
    /* every stream that joined must have rejoined: its last record precedes the origin's */
    char *seen = calloc((size_t)g->n + 1, 1);
    for (int i = 0; i < n_joined;) {
        Stream *j = joined[i];
        if (j->cap != g) {
            i++;
            continue;
        }
        memset(seen, 0, (size_t)g->n + 1);
        if (j->last >= 0 && rc == OK && (st->last < 0 || !reaches(g, st->last, j->last, seen))) rc = 904;
        j->cap = NULL;
        j->last = -1;
        j->n_wait = 0;
        joined[i] = joined[--n_joined];
    }
    free(seen);
    st->cap = NULL;
    st->origin = 0;
    st->last = -1;
    *graph = rc == OK ? g : NULL;
    if (rc != OK) graph_free(g);
    return rc;
}

EXPORT CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long flags) {
    (void)flags;
    Graph *g = graph, *x = calloc(1, sizeof *x);
    x->n = x->cap = g->n;
    x->w = malloc((size_t)(g->n + 1) * sizeof *x->w);
    for (int i = 0; i < g->n; i++) {
        x->w[i] = g->w[i];
        if (g->w[i].kind == W_KERNEL) {
            x->w[i].args = malloc(g->w[i].f->size ? g->w[i].f->size : 1);
            memcpy(x->w[i].args, g->w[i].args, g->w[i].f->size);
        }
        x->w[i].deps = malloc((size_t)(g->w[i].n_deps + 1) * sizeof *x->w[i].deps);
        memcpy(x->w[i].deps, g->w[i].deps, (size_t)g->w[i].n_deps * sizeof *x->w[i].deps);
    }
    *exec = x;
    return OK;
}

static void graph_free(Graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        if (g->w[i].kind == W_KERNEL) free(g->w[i].args);
        free(g->w[i].deps);
    }
    free(g->w);
    free(g);
}
EXPORT CUresult cuGraphDestroy(void *g) {
    graph_free(g);
    return OK;
}
EXPORT CUresult cuGraphExecDestroy(void *x) {
    graph_free(x);
    return OK;
}

/* The records in order, or (FN_HOSTCUDA_SHUFFLE=seed) in a random order that runs each after
 * the records it depends on. */
EXPORT CUresult cuGraphLaunch(void *exec, void *s) {
    Graph *x = exec;
    Stream *st = stream_of(s);
    if (st->cap) return ERR_CAPTURE_UNSUPPORTED;
    const char *shuffle = getenv("FN_HOSTCUDA_SHUFFLE");
    if (!shuffle || !*shuffle) {
        for (int i = 0; i < x->n; i++) run_work(&x->w[i]);
        return OK;
    }
    static uint64_t rng;
    if (!rng) rng = strtoull(shuffle, NULL, 10) * 2654435761u + 1;
    int *waiting = calloc((size_t)x->n + 1, sizeof *waiting), *ready = malloc(((size_t)x->n + 1) * sizeof *ready), n_ready = 0;
    int **users = calloc((size_t)x->n + 1, sizeof *users), *n_users = calloc((size_t)x->n + 1, sizeof *n_users);
    for (int i = 0; i < x->n; i++) {
        waiting[i] = x->w[i].n_deps;
        for (int d = 0; d < x->w[i].n_deps; d++) {
            int p = x->w[i].deps[d];
            users[p] = realloc(users[p], (size_t)(n_users[p] + 1) * sizeof **users);
            users[p][n_users[p]++] = i;
        }
        if (!waiting[i]) ready[n_ready++] = i;
    }
    while (n_ready) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int k = (int)(rng % (uint64_t)n_ready), i = ready[k];
        ready[k] = ready[--n_ready];
        run_work(&x->w[i]);
        for (int u = 0; u < n_users[i]; u++)
            if (--waiting[users[i][u]] == 0) ready[n_ready++] = users[i][u];
    }
    for (int i = 0; i < x->n; i++) free(users[i]);
    free(users);
    free(n_users);
    free(waiting);
    free(ready);
    return OK;
}

/* ---- cuBLAS ------------------------------------------------------------------------------------ */

typedef struct {
    void *stream;
} Blas;

EXPORT int cublasCreate_v2(void **h) {
    *h = calloc(1, sizeof(Blas));
    return 0;
}
EXPORT int cublasDestroy_v2(void *h) {
    free(h);
    return 0;
}
EXPORT int cublasSetStream_v2(void *h, void *s) {
    ((Blas *)h)->stream = s;
    return 0;
}
EXPORT int cublasSetMathMode(void *h, int mode) {
    (void)h;
    return mode == 0 || mode == 3 ? 0 : 7; /* default or TF32 (run in float32 here) */
}
EXPORT int cublasSetWorkspace_v2(void *h, void *w, size_t n) {
    (void)h;
    return w || !n ? 0 : 7;
}
EXPORT int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                          const float *b, int ldb, const float *beta, float *c, int ldc) {
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7; /* invalid value */
    if (!m || !n) return 0;
    Work w = {.kind = W_GEMM, .ta = ta, .tb = tb, .m = m, .nn = n, .k = k, .alpha = *alpha, .beta = *beta,
              .src = a, .lda = lda > 0 ? lda : 1, .src2 = b, .ldb = ldb > 0 ? ldb : 1, .dst = c, .ldc = ldc > 0 ? ldc : 1};
    return submit(stream_of(((Blas *)h)->stream), w) == OK ? 0 : 13; /* execution failed */
}

/* ---- NVRTC ------------------------------------------------------------------------------------- */

typedef struct {
    char *src, *log;
    int ok;
} Program;

EXPORT int nvrtcVersion(int *major, int *minor) {
    *major = 0;
    *minor = 1;
    return 0;
}
EXPORT int nvrtcCreateProgram(void **prog, const char *src, const char *name, int n_headers, const char *const *headers,
                              const char *const *include_names) {
    (void)name;
    (void)headers;
    (void)include_names;
    if (n_headers) return 4; /* invalid input */
    Program *p = calloc(1, sizeof *p);
    p->src = strdup(src);
    *prog = p;
    return 0;
}
EXPORT int nvrtcCompileProgram(void *prog, int n_opts, const char *const *opts) {
    Program *p = prog;
    char so[600];
    (void)n_opts;
    (void)opts;
    p->ok = build(p->src, so, sizeof so, &p->log) == 0;
    return p->ok ? 0 : 6; /* compilation */
}
EXPORT int nvrtcGetProgramLogSize(void *prog, size_t *n) {
    Program *p = prog;
    *n = p->log ? strlen(p->log) + 1 : 1;
    return 0;
}
EXPORT int nvrtcGetProgramLog(void *prog, char *log) {
    Program *p = prog;
    strcpy(log, p->log ? p->log : "");
    return 0;
}
EXPORT int nvrtcGetCUBINSize(void *prog, size_t *n) {
    Program *p = prog;
    *n = p->ok ? 8 + strlen(p->src) + 1 : 0;
    return 0;
}
EXPORT int nvrtcGetCUBIN(void *prog, char *cubin) {
    Program *p = prog;
    memcpy(cubin, MAGIC, 8);
    strcpy(cubin + 8, p->src);
    return 0;
}
EXPORT int nvrtcDestroyProgram(void **prog) {
    Program *p = *prog;
    if (p) {
        free(p->src);
        free(p->log);
    }
    free(p);
    *prog = NULL;
    return 0;
}

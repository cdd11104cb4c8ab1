/* See hostcuda.h: NVRTC's part (CUDA C to a host shared object) and the modules' part of the
 * driver (load, look up, run a kernel's grid). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "tests/hostcuda/hostcuda.h"
#include "tests/hostcuda/mma_shim.h"

#define MAGIC "FNHOSTCU"

/* ---- modules: CUDA C compiled for the host -------------------------------------------------- */

static const char shim[] =
    "#include <math.h>\n#include <string.h>\n#include <stdint.h>\n"
    "struct FnDim3 { unsigned x, y, z; };\n"
    "static FnDim3 blockIdx, threadIdx, blockDim, gridDim;\n"
    "extern \"C\" { void (*fnhost_sync)(void); }\n"
    "#define __global__\n#define __device__\n#define __forceinline__ inline\n#define __shared__ static\n"
    "static inline void __syncthreads() { fnhost_sync(); }\n"
    "static inline void __threadfence() {}\n"
    "static inline unsigned atomicAdd(unsigned *p, unsigned v) { unsigned o = *p; *p = o + v; return o; }\n"
    "static inline float __int_as_float(int u) { float f; memcpy(&f, &u, sizeof f); return f; }\n"
    "static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, sizeof f); return f; }\n"
    "static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, sizeof u); return u; }\n"
    "static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }\n"
    "static inline float __fmul_rn(float a, float b) { return a * b; }\n"
    "static inline float __fsub_rn(float a, float b) { return a - b; }\n"
    FN_HOST_MMA_SHIM
    "extern \"C\" void fnhost_ids(const unsigned *g, const unsigned *b, const unsigned *bi, const unsigned *ti) {\n"
    "    gridDim = {g[0], g[1], g[2]}; blockDim = {b[0], b[1], b[2]};\n"
    "    blockIdx = {bi[0], bi[1], bi[2]}; threadIdx = {ti[0], ti[1], ti[2]};\n"
    "}\n";

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

/* the start of the identifier that ends at end (not before lo) */
static const char *ident_start(const char *lo, const char *end) {
    while (end > lo && (end[-1] == '_' || (end[-1] >= 'a' && end[-1] <= 'z') || (end[-1] >= 'A' && end[-1] <= 'Z') ||
                        (end[-1] >= '0' && end[-1] <= '9')))
        end--;
    return end;
}

/* The module's __device__ functions that call __syncthreads, as "name(" each followed by a NUL
 * (an empty list is one NUL): a kernel that calls one syncs as if it called __syncthreads
 * itself (one level: such helpers call no other syncing helper). */
static char *syncing_helpers(const char *src) {
    Text t = {0};
    put(&t, "%s", "");
    for (const char *p = strstr(src, "__device__"); p; p = strstr(p + 1, "__device__")) {
        const char *open = strchr(p, '('), *semi = strchr(p, ';');
        if (!open || (semi && semi < open)) continue; /* a declaration or a variable */
        const char *id = ident_start(p, open), *body = strchr(match(open), '{');
        if (!body) continue;
        const char *end = match(body);
        char *text = strndup(body, (size_t)(end - body));
        if (strstr(text, "__syncthreads")) {
            put(&t, "%.*s(", (int)(open - id), id);
            t.c[t.n++] = 0; /* put leaves room: cap > n */
        }
        free(text);
    }
    put(&t, "%s", "");
    return t.c;
}

/* whether a kernel's body synchronises: __syncthreads, or a call of a syncing helper */
static int body_syncs(const char *text, const char *helpers) {
    if (strstr(text, "__syncthreads")) return 1;
    for (const char *h = helpers; *h; h += strlen(h) + 1)
        if (strstr(text, h)) return 1;
    return 0;
}

/* The host C++ for a module: shim, source, then for each kernel its argument struct and
 * runners. The kernels' names (n of them) go to names, and whether each syncs to syncs. */
static char *host_source(const char *src, char (**names)[128], int **syncs, int *n) {
    Text t = {0};
    put(&t, "%s%s\n", shim, src);
    char *helpers = syncing_helpers(src);
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
        (*syncs)[*n] = body_syncs(text, helpers);
        free(text);
        /* the parameters: "type name" split at commas; the name is the last identifier */
        Text members = {0}, packs = {0}, call = {0};
        int k = 0;
        for (const char *q = open + 1; q < close - 1; k++) {
            const char *comma = q;
            while (comma < close - 1 && *comma != ',') comma++;
            const char *e = comma;
            while (e > q && (e[-1] == ' ' || e[-1] == '\n')) e--;
            const char *id = ident_start(q, e);
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
    free(helpers);
    return t.c;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Builds (or finds) the shared object for src; its path to so, and (when names is not NULL) its
 * kernels as host_source lists them. 0, or -1 with the compiler's output in *log. */
static int build(const char *src, char *so, size_t cap, char **log, char (**names)[128], int **syncs, int *n) {
    const char *tmp = getenv("TMPDIR");
    char dir[512], cpp[1100], cmd[6000], out[1200];
    snprintf(dir, sizeof dir, "%s/fn_hostcuda", tmp && *tmp ? tmp : "/tmp");
    mkdir(dir, 0755);
    char (*k_names)[128];
    int *k_syncs, k_n;
    char *text = host_source(src, &k_names, &k_syncs, &k_n);
    if (names) *names = k_names, *syncs = k_syncs, *n = k_n;
    else free(k_names), free(k_syncs);
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
    char so[600], *log = NULL, (*names)[128];
    int *syncs;
    Module *m = calloc(1, sizeof *m);
    if (build(src, so, sizeof so, &log, &names, &syncs, &m->n) < 0) {
        fprintf(stderr, "hostcuda: the module does not compile for the host:\n%s\n", log ? log : "");
        free(log);
        free(names);
        free(syncs);
        free(m);
        return NULL;
    }
    free(log);
    if (!(m->so = dlopen(so, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "hostcuda: %s\n", dlerror());
        free(names);
        free(syncs);
        free(m);
        return NULL;
    }
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

void hc_run_kernel(const Func *f, const void *args, const unsigned *g, const unsigned *b) {
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

EXPORT CUresult cuModuleLoadData(void **mod, const void *image) {
    if (memcmp(image, MAGIC, 8) != 0) return ERR_IMAGE;
    Module *m = load((const char *)image + 8);
    *mod = m;
    return m ? OK : ERR_IMAGE;
}
EXPORT CUresult cuModuleUnload(void *mod) {
    Module *m = mod;
    if (!m) return ERR_VALUE;
    hc_drain(); /* queued launches of its kernels run first */
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
    p->ok = build(p->src, so, sizeof so, &p->log, NULL, NULL, NULL) == 0;
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

/* See hostcuda.h: the driver's device, memory, streams, events, captures and graphs, and cuBLAS.
 *
 * Work that is not captured goes into one queue, `pending`: a list of records, each with the
 * records it depends on (always earlier ones). It runs when the host waits for some of it: the
 * records those depend on, transitively, in list order or (FN_HOSTCUDA_SHUFFLE) in a random order
 * that keeps the dependencies. When every record has run the list starts again (a new epoch:
 * records and events of an older one count as done). A capture fills a graph of its own the
 * same way; a launched graph's records join the queue. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/hostcuda/hostcuda.h"

/* ---- work and graphs ---------------------------------------------------------------------------- */

typedef enum { W_KERNEL, W_COPY, W_SET, W_GEMM, W_HOST, W_NOP } WorkKind;
typedef struct {
    WorkKind kind;
    const Func *f;
    void *args; /* W_KERNEL: packed, owned by the record */
    unsigned g[3], b[3];
    void *dst;
    const void *src, *src2;
    size_t n;
    unsigned char byte;
    int ta, tb, m, nn, k, lda, ldb, ldc; /* W_GEMM (dst = src x src2), column-major as cuBLAS */
    int bf16;                            /* W_GEMM: the inputs rounded to bfloat16 first */
    int half;                            /* W_GEMM: the inputs are bfloat16, and the output too when 2 */
    float alpha, beta;
    void (*host)(void *); /* W_HOST: host(dst), as cuLaunchHostFunc */
    int *deps, n_deps; /* the records this one waits for */
    char done;
} Work;

/* FN_HOSTCUDA_STATS: what ran, printed when the library goes */
static struct {
    char name[128];
    long long n;
} ran[512];
static int n_ran, stats = -1;
static long long ran_gemms, ran_copies;

static void count(const Work *w) {
    if (stats < 0) {
        const char *e = getenv("FN_HOSTCUDA_STATS");
        stats = e && *e && strcmp(e, "0") != 0;
    }
    if (!stats) return;
    if (w->kind == W_GEMM) ran_gemms++;
    if (w->kind == W_COPY) ran_copies++;
    if (w->kind != W_KERNEL) return;
    for (int i = 0; i < n_ran; i++)
        if (!strcmp(ran[i].name, w->f->name)) {
            ran[i].n++;
            return;
        }
    if (n_ran == (int)(sizeof ran / sizeof *ran)) return;
    snprintf(ran[n_ran].name, sizeof ran[n_ran].name, "%s", w->f->name);
    ran[n_ran++].n = 1;
}

__attribute__((destructor)) static void print_stats(void) {
    if (stats <= 0) return;
    long long launches = 0;
    for (int i = 0; i < n_ran; i++) launches += ran[i].n;
    fprintf(stderr, "hostcuda: %lld kernel launches, %lld GEMMs, %lld copies run\n", launches, ran_gemms, ran_copies);
    for (int i = 0; i < n_ran; i++) fprintf(stderr, "  %10lld %s\n", ran[i].n, ran[i].name);
}

/* FN_HOSTCUDA_DRY: nothing runs (work is only counted): launch counts of full-size steps in
   seconds, results meaningless */
static int dry_run(void) {
    static int dry = -1;
    if (dry < 0) {
        const char *e = getenv("FN_HOSTCUDA_DRY");
        dry = e && *e && strcmp(e, "0") != 0;
    }
    return dry;
}

/* bfloat16's bits of v, to nearest even (a NaN stays a NaN), as the prelude's fn_bf16_of; and back */
static uint16_t bf16_bits(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}
static float bf16_value(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

/* the values a column-major matrix (rows x cols, ld) spans */
static size_t span(int rows, int cols, int ld) { return cols ? (size_t)(cols - 1) * ld + rows : 0; }

/* a float copy of a column-major matrix of n values, each rounded to bfloat16 first (as the
   tensor cores take it: FAST_16BF) or stored as bfloat16 (half) */
static float *as_floats(const void *m, size_t n, int half) {
    float *c = malloc((n ? n : 1) * sizeof *c);
    for (size_t i = 0; i < n; i++)
        c[i] = half ? bf16_value(((const uint16_t *)m)[i]) : bf16_value(bf16_bits(((const float *)m)[i]));
    return c;
}

static void run_gemm(const Work *w) {
    const float *a = w->src, *b = w->src2;
    float *ra = NULL, *rb = NULL, *rc = NULL, *c = w->dst;
    size_t na = span(w->ta ? w->k : w->m, w->ta ? w->m : w->k, w->lda), nb = span(w->tb ? w->nn : w->k, w->tb ? w->k : w->nn, w->ldb),
           nc = span(w->m, w->nn, w->ldc);
    if (w->half || w->bf16) {
        a = ra = as_floats(w->src, na, w->half);
        b = rb = as_floats(w->src2, nb, w->half);
    }
    if (w->half == 2) c = rc = as_floats(w->dst, nc, 1);
    cblas_sgemm(CblasColMajor, w->ta ? CblasTrans : CblasNoTrans, w->tb ? CblasTrans : CblasNoTrans, w->m, w->nn, w->k,
                w->alpha, a, w->lda, b, w->ldb, w->beta, c, w->ldc);
    for (size_t i = 0; rc && i < nc; i++) ((uint16_t *)w->dst)[i] = bf16_bits(rc[i]); /* back to bfloat16 */
    free(ra);
    free(rb);
    free(rc);
}

static void run_work(const Work *w) {
    count(w);
    if (dry_run()) return;
    switch (w->kind) {
    case W_KERNEL: hc_run_kernel(w->f, w->args, w->g, w->b); break;
    case W_COPY: memmove(w->dst, w->src, w->n); break;
    case W_SET: memset(w->dst, w->byte, w->n); break;
    case W_GEMM: run_gemm(w); break;
    case W_HOST: w->host(w->dst); break;
    case W_NOP: break;
    }
}

typedef struct {
    Work *w;
    int n, cap;
    int invalid;    /* a refused call during the capture */
    unsigned epoch; /* pending: bumped when the list starts again */
} Graph;

/* w (its args now owned by g) after deps; its index */
static int append(Graph *g, Work w, const int *deps, int n_deps) {
    if (g->n == g->cap) {
        g->cap = g->cap * 2 + 256;
        g->w = realloc(g->w, (size_t)g->cap * sizeof *g->w);
    }
    w.deps = malloc((size_t)(n_deps + 1) * sizeof *w.deps);
    if (n_deps) memcpy(w.deps, deps, (size_t)n_deps * sizeof *deps);
    w.n_deps = n_deps;
    w.done = 0;
    g->w[g->n] = w;
    return g->n++;
}

static void clear(Graph *g) {
    for (int i = 0; i < g->n; i++) {
        if (g->w[i].kind == W_KERNEL) free(g->w[i].args);
        free(g->w[i].deps);
    }
    g->n = 0;
}

static Graph pending;

/* the next of FN_HOSTCUDA_SHUFFLE's random numbers (never 0), or 0 without it */
static uint64_t shuffle_rng(void) {
    static uint64_t rng;
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("FN_HOSTCUDA_SHUFFLE");
        on = e && *e;
        if (on) rng = strtoull(e, NULL, 10) * 2654435761u + 1;
    }
    if (!on) return 0;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Runs the records of g marked in `want` (and not done), each after its dependencies: in index
 * order (dependencies point backwards), or in a random order when FN_HOSTCUDA_SHUFFLE is set. */
static void run_marked(Graph *g, const char *want) {
    int n = g->n;
    if (!shuffle_rng()) {
        for (int i = 0; i < n; i++)
            if (want[i] && !g->w[i].done) run_work(&g->w[i]), g->w[i].done = 1;
        return;
    }
    int *waiting = calloc((size_t)n + 1, sizeof *waiting), *ready = malloc(((size_t)n + 1) * sizeof *ready);
    int **users = calloc((size_t)n + 1, sizeof *users), *n_users = calloc((size_t)n + 1, sizeof *n_users), n_ready = 0;
    for (int i = 0; i < n; i++) {
        if (!want[i] || g->w[i].done) continue;
        for (int d = 0; d < g->w[i].n_deps; d++) {
            int p = g->w[i].deps[d];
            if (g->w[p].done) continue;
            waiting[i]++;
            users[p] = realloc(users[p], (size_t)(n_users[p] + 1) * sizeof **users);
            users[p][n_users[p]++] = i;
        }
        if (!waiting[i]) ready[n_ready++] = i;
    }
    while (n_ready) {
        int k = (int)(shuffle_rng() % (uint64_t)n_ready), i = ready[k];
        ready[k] = ready[--n_ready];
        run_work(&g->w[i]);
        g->w[i].done = 1;
        for (int u = 0; u < n_users[i]; u++)
            if (--waiting[users[i][u]] == 0) ready[n_ready++] = users[i][u];
    }
    for (int i = 0; i < n; i++) free(users[i]);
    free(users);
    free(n_users);
    free(waiting);
    free(ready);
}

/* Runs the pending records the targets depend on, and the targets (-1: none); all of them when
 * n_targets < 0. */
static void drain_to(const int *targets, int n_targets) {
    Graph *g = &pending;
    char *want = calloc((size_t)g->n + 1, 1);
    int *stack = malloc(((size_t)g->n + 1) * sizeof *stack), top = 0;
    for (int t = 0; n_targets < 0 ? t < g->n : t < n_targets; t++) {
        int i = n_targets < 0 ? t : targets[t];
        if (i >= 0 && i < g->n && !g->w[i].done && !want[i]) want[i] = 1, stack[top++] = i;
    }
    while (top) {
        int i = stack[--top];
        for (int d = 0; d < g->w[i].n_deps; d++) {
            int p = g->w[i].deps[d];
            if (!g->w[p].done && !want[p]) want[p] = 1, stack[top++] = p;
        }
    }
    run_marked(g, want);
    free(want);
    free(stack);
    int all = 1;
    for (int i = 0; i < g->n && all; i++) all = g->w[i].done;
    if (all && g->n) {
        clear(g);
        g->epoch++;
    }
}

EXPORT void hc_drain(void) { drain_to(NULL, -1); }

/* ---- streams and events --------------------------------------------------------------------------- */

typedef struct Stream {
    int blocking; /* created without CU_STREAM_NON_BLOCKING: in step with the legacy stream */
    /* outside a capture: its last pending record (valid in epoch pepoch) and the events it waited
       for since, which its next record depends on */
    int plast;
    unsigned pepoch;
    int *pwait, n_pwait;
    /* capturing into cap (else NULL): the capture's origin stream or one that joined it, its last
       record there and the events waited for since */
    Graph *cap;
    int origin, last;
    int *wait, n_wait;
} Stream;

typedef struct {
    Graph *g; /* &pending, or the capture it was recorded in; NULL: nothing to wait for */
    int rec;
    unsigned epoch;
} Event;

static Stream legacy_stream = {1, -1, 0, NULL, 0, NULL, 0, -1, NULL, 0};
static Stream *streams[256]; /* the created ones */
static int n_streams;
static Event *events[4096]; /* the created ones (a freed capture forgets its records) */
static int n_events;
#define MAX_CAPTURES 16
static Graph *capturing[MAX_CAPTURES]; /* captures in progress */
static int n_capturing;
static Stream *joined[64]; /* streams that joined a capture through cuStreamWaitEvent */
static int n_joined;

static Stream *stream_of(void *s) { return s ? (Stream *)s : &legacy_stream; }

/* the pending record i of epoch e, if it has not run */
static int live(int i, unsigned e) { return i >= 0 && e == pending.epoch && i < pending.n && !pending.w[i].done; }

static void add_dep(int **deps, int *n, int *cap, int i) {
    if (*n == *cap) {
        *cap = *cap * 2 + 16;
        *deps = realloc(*deps, (size_t)*cap * sizeof **deps);
    }
    (*deps)[(*n)++] = i;
}

/* what a stream's next pending record depends on; the legacy stream and blocking streams wait
   for each other */
static int pending_deps(const Stream *s, int **deps, int *cap) {
    int n = 0;
    if (live(s->plast, s->pepoch)) add_dep(deps, &n, cap, s->plast);
    for (int k = 0; k < s->n_pwait; k++) add_dep(deps, &n, cap, s->pwait[k]);
    if (s == &legacy_stream) {
        for (int k = 0; k < n_streams; k++)
            if (streams[k]->blocking && live(streams[k]->plast, streams[k]->pepoch)) add_dep(deps, &n, cap, streams[k]->plast);
    } else if (s->blocking && live(legacy_stream.plast, legacy_stream.pepoch))
        add_dep(deps, &n, cap, legacy_stream.plast);
    return n;
}

/* work on a stream: queued, or recorded into its capture */
static CUresult submit(Stream *s, Work w) {
    int *deps = NULL, cap = 0, n = 0;
    if (s->cap) {
        if (s->last >= 0) add_dep(&deps, &n, &cap, s->last);
        for (int k = 0; k < s->n_wait; k++) add_dep(&deps, &n, &cap, s->wait[k]);
        s->n_wait = 0;
        s->last = append(s->cap, w, deps, n);
    } else {
        n = pending_deps(s, &deps, &cap);
        s->n_pwait = 0;
        s->plast = append(&pending, w, deps, n);
        s->pepoch = pending.epoch;
    }
    free(deps);
    return OK;
}

/* the host waits for stream s (its queued work and the waits after it) */
static void drain_stream(Stream *s) {
    int *deps = NULL, cap = 0, n = pending_deps(s, &deps, &cap);
    drain_to(deps, n);
    free(deps);
}

/* a call a capture forbids (synchronous copies, synchronisation): refused, and every capture in
   progress is invalidated */
static CUresult refuse_if_capturing(void) {
    for (int i = 0; i < n_capturing; i++) capturing[i]->invalid = 1;
    return n_capturing ? ERR_CAPTURE_UNSUPPORTED : OK;
}

EXPORT CUresult cuStreamCreate(void **s, unsigned flags) {
    if (n_streams == (int)(sizeof streams / sizeof *streams)) return ERR_MEMORY;
    Stream *st = calloc(1, sizeof *st);
    st->blocking = !(flags & 1);
    st->plast = st->last = -1;
    streams[n_streams++] = st;
    *s = st;
    return OK;
}
EXPORT CUresult cuStreamDestroy_v2(void *s) {
    Stream *st = s;
    if (!st || st->cap) return ERR_VALUE;
    drain_stream(st); /* its work still runs */
    for (int k = 0; k < n_streams; k++)
        if (streams[k] == st) streams[k] = streams[--n_streams];
    free(st->pwait);
    free(st->wait);
    free(st);
    return OK;
}
EXPORT CUresult cuStreamSynchronize(void *s) {
    Stream *st = stream_of(s);
    if (st->cap) return ERR_CAPTURE_UNSUPPORTED;
    if (refuse_if_capturing()) return ERR_CAPTURE_UNSUPPORTED;
    drain_stream(st);
    return OK;
}

EXPORT CUresult cuEventCreate(void **e, unsigned flags) {
    (void)flags;
    if (n_events == (int)(sizeof events / sizeof *events)) return ERR_MEMORY;
    Event *ev = calloc(1, sizeof *ev);
    ev->rec = -1;
    events[n_events++] = ev;
    *e = ev;
    return OK;
}
EXPORT CUresult cuEventDestroy_v2(void *e) {
    for (int k = 0; k < n_events; k++)
        if (events[k] == e) events[k] = events[--n_events];
    free(e);
    return OK;
}
EXPORT CUresult cuEventRecord(void *e, void *s) {
    Event *ev = e;
    Stream *st = stream_of(s);
    if (st->cap) {
        if (st->n_wait) submit(st, (Work){.kind = W_NOP}); /* a record that carries the waits */
        *ev = (Event){st->cap, st->last, 0};
    } else {
        if (st->n_pwait) submit(st, (Work){.kind = W_NOP});
        *ev = live(st->plast, st->pepoch) ? (Event){&pending, st->plast, pending.epoch} : (Event){NULL, -1, 0};
    }
    return OK;
}
EXPORT CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) {
    Event *ev = e;
    Stream *st = stream_of(s);
    (void)flags;
    if (ev->g == &pending) {
        if (!live(ev->rec, ev->epoch)) return OK; /* it has run */
        if (st->cap) return ERR_CAPTURE_ISOLATION; /* a capture cannot wait for work outside it */
        st->pwait = realloc(st->pwait, (size_t)(st->n_pwait + 1) * sizeof *st->pwait);
        st->pwait[st->n_pwait++] = ev->rec;
        return OK;
    }
    if (!ev->g) return OK;
    if (!st->cap) { /* a stream joining the capture */
        if (n_joined == (int)(sizeof joined / sizeof *joined)) return ERR_VALUE;
        st->cap = ev->g;
        st->origin = 0;
        st->last = -1;
        joined[n_joined++] = st;
    } else if (st->cap != ev->g)
        return ERR_CAPTURE_ISOLATION;
    if (ev->rec >= 0) {
        st->wait = realloc(st->wait, (size_t)(st->n_wait + 1) * sizeof *st->wait);
        st->wait[st->n_wait++] = ev->rec;
    }
    return OK;
}

/* ---- captures and graphs ---------------------------------------------------------------------------- */

static void graph_free(Graph *g) {
    if (!g) return;
    for (int k = 0; k < n_events; k++) /* events recorded in it have nothing left to wait for */
        if (events[k]->g == g) *events[k] = (Event){NULL, -1, 0};
    clear(g);
    free(g->w);
    free(g);
}

EXPORT CUresult cuStreamBeginCapture_v2(void *s, int mode) {
    Stream *st = stream_of(s);
    (void)mode;
    if (st->cap || st == &legacy_stream || n_capturing == MAX_CAPTURES) return ERR_VALUE;
    st->cap = capturing[n_capturing++] = calloc(1, sizeof(Graph));
    st->origin = 1;
    st->last = -1;
    st->n_wait = 0;
    return OK;
}

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
        if (j->last >= 0 && rc == OK && (st->last < 0 || !reaches(g, st->last, j->last, seen))) rc = ERR_CAPTURE_UNJOINED;
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
    for (int i = 0; i < g->n; i++) {
        Work w = g->w[i];
        if (w.kind == W_KERNEL) {
            w.args = malloc(w.f->size ? w.f->size : 1);
            memcpy(w.args, g->w[i].args, w.f->size);
        }
        append(x, w, g->w[i].deps, g->w[i].n_deps);
    }
    *exec = x;
    return OK;
}
EXPORT CUresult cuGraphDestroy(void *g) {
    graph_free(g);
    return OK;
}
EXPORT CUresult cuGraphExecDestroy(void *x) {
    hc_drain(); /* launches of it still queued run first */
    graph_free(x);
    return OK;
}

/* The graph's records join the queue after the stream's work; the stream's next work waits for
 * all of them. */
EXPORT CUresult cuGraphLaunch(void *exec, void *s) {
    Graph *x = exec;
    Stream *st = stream_of(s);
    if (st->cap) return ERR_CAPTURE_UNSUPPORTED;
    int *before = NULL, cap = 0, n_before = pending_deps(st, &before, &cap), base = pending.n;
    int *deps = NULL, dcap = 0;
    for (int i = 0; i < x->n; i++) {
        Work w = x->w[i];
        if (w.kind == W_KERNEL) {
            w.args = malloc(w.f->size ? w.f->size : 1);
            memcpy(w.args, x->w[i].args, w.f->size);
        }
        int n = 0;
        for (int d = 0; d < w.n_deps; d++) add_dep(&deps, &n, &dcap, base + w.deps[d]);
        if (!w.n_deps)
            for (int d = 0; d < n_before; d++) add_dep(&deps, &n, &dcap, before[d]);
        append(&pending, w, deps, n);
    }
    int n = 0;
    for (int i = 0; i < x->n; i++) add_dep(&deps, &n, &dcap, base + i);
    for (int d = 0; d < n_before; d++) add_dep(&deps, &n, &dcap, before[d]);
    st->plast = append(&pending, (Work){.kind = W_NOP}, deps, n);
    st->pepoch = pending.epoch;
    st->n_pwait = 0;
    free(deps);
    free(before);
    return OK;
}

/* ---- the device and its memory ------------------------------------------------------------------------ */

#define HEADER 256
static size_t device_bytes;

static int n_sms(void) {
    const char *e = getenv("FN_HOSTCUDA_SMS");
    int n = e ? atoi(e) : 0;
    return n > 0 ? n : 4;
}

/* FN_HOSTCUDA_DEVICES cards (default 8), all alike: the ranks of a data-parallel test each take one */
static int n_devices(void) {
    const char *e = getenv("FN_HOSTCUDA_DEVICES");
    int n = e ? atoi(e) : 0;
    return n > 0 ? n : 8;
}

EXPORT CUresult cuInit(unsigned flags) { return flags ? ERR_VALUE : OK; }
EXPORT CUresult cuDeviceGetCount(int *n) {
    *n = n_devices();
    return OK;
}
EXPORT CUresult cuDeviceGet(int *dev, int ordinal) {
    *dev = ordinal;
    return ordinal >= 0 && ordinal < n_devices() ? OK : 101;
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

/* n bytes with their size in a header; *counter counts them */
static void *alloc(size_t n, size_t *counter) {
    char *p = aligned_alloc(HEADER, HEADER + (n + HEADER - 1) / HEADER * HEADER);
    if (!p) return NULL;
    *(size_t *)p = n;
    *counter += n;
    return p + HEADER;
}
static void release(void *p, size_t *counter) {
    if (!p) return;
    hc_drain(); /* as a card's free: after the work queued before it */
    char *h = (char *)p - HEADER;
    *counter -= *(size_t *)h;
    free(h);
}
static size_t host_bytes;
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    *p = (CUdeviceptr)(uintptr_t)alloc(n, &device_bytes);
    return *p ? OK : ERR_MEMORY;
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    release((void *)(uintptr_t)p, &device_bytes);
    return OK;
}
EXPORT CUresult cuMemAllocHost_v2(void **p, size_t n) {
    *p = alloc(n, &host_bytes);
    return *p ? OK : ERR_MEMORY;
}
EXPORT CUresult cuMemFreeHost(void *p) {
    release(p, &host_bytes);
    return OK;
}
/* FN_HOSTCUDA_GIB: the emulated card's memory in GiB (default 16; 141 models an H200's) */
EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total_b) {
    const char *e = getenv("FN_HOSTCUDA_GIB");
    double gib = e && atof(e) > 0 ? atof(e) : 16;
    *total_b = (size_t)(gib * (double)(1 << 30));
    *free_b = *total_b > device_bytes ? *total_b - device_bytes : 0;
    return OK;
}
/* synchronous copies: on the legacy stream, after the work it waits for */
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    if (refuse_if_capturing()) return ERR_CAPTURE_UNSUPPORTED;
    drain_stream(&legacy_stream);
    memcpy((void *)(uintptr_t)dst, src, n);
    return OK;
}
EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    if (refuse_if_capturing()) return ERR_CAPTURE_UNSUPPORTED;
    drain_stream(&legacy_stream);
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

/* the host's function, in the stream's order (the NCCL emulation's reductions, nccl.c) */
EXPORT CUresult cuLaunchHostFunc(void *s, void (*fn)(void *), void *user) {
    if (!fn) return ERR_VALUE;
    return submit(stream_of(s), (Work){.kind = W_HOST, .host = fn, .dst = user});
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
    case ERR_CAPTURE_UNJOINED: *msg = "capture was not joined to the origin stream"; break;
    case ERR_CAPTURE_ISOLATION: *msg = "dependency on work outside the capture"; break;
    default: *msg = "unknown error"; return ERR_VALUE;
    }
    return OK;
}

/* ---- cuBLAS ------------------------------------------------------------------------------------------- */

typedef struct {
    void *stream, *workspace;
} Blas;
static Blas *handles[64];
static int n_handles;

EXPORT int cublasCreate_v2(void **h) {
    if (n_handles == (int)(sizeof handles / sizeof *handles)) return 3; /* alloc failed */
    *h = handles[n_handles++] = calloc(1, sizeof(Blas));
    return 0;
}
EXPORT int cublasDestroy_v2(void *h) {
    for (int k = 0; k < n_handles; k++)
        if (handles[k] == h) handles[k] = handles[--n_handles];
    free(h);
    return 0;
}
EXPORT int cublasSetStream_v2(void *h, void *s) {
    ((Blas *)h)->stream = s;
    ((Blas *)h)->workspace = NULL; /* as cuBLAS: back to its own pool */
    return 0;
}
EXPORT int cublasSetMathMode(void *h, int mode) {
    (void)h;
    return mode == 0 || mode == 3 ? 0 : 7; /* default or TF32 (run in float32 here) */
}
/* a workspace another handle uses is refused: GEMMs on two streams would race in it */
EXPORT int cublasSetWorkspace_v2(void *h, void *w, size_t n) {
    if (!w && n) return 7;
    for (int k = 0; k < n_handles; k++)
        if (handles[k] != h && w && handles[k]->workspace == w) return 7;
    ((Blas *)h)->workspace = w;
    return 0;
}
static int gemm(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const void *a, int lda,
                const void *b, int ldb, const float *beta, void *c, int ldc, int bf16, int half) {
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7; /* invalid value */
    if (!m || !n) return 0;
    Work w = {.kind = W_GEMM, .ta = ta, .tb = tb, .m = m, .nn = n, .k = k, .alpha = *alpha, .beta = *beta,
              .src = a, .lda = lda > 0 ? lda : 1, .src2 = b, .ldb = ldb > 0 ? ldb : 1, .dst = c, .ldc = ldc > 0 ? ldc : 1,
              .bf16 = bf16, .half = half};
    return submit(stream_of(((Blas *)h)->stream), w) == OK ? 0 : 13; /* execution failed */
}
EXPORT int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                          const float *b, int ldb, const float *beta, float *c, int ldc) {
    return gemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 0);
}
/* float32 matrices (type 0) computed in float32 (68, 77: TF32 runs as float32 here) or on
   bfloat16-rounded inputs (75); or bfloat16 ones (14) into float32 or bfloat16, in float32 (68) */
EXPORT int cublasGemmEx(void *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *a, int atype,
                        int lda, const void *b, int btype, int ldb, const void *beta, void *c, int ctype, int ldc,
                        int compute, int algo) {
    (void)algo;
    if (atype == 14 && btype == 14 && (ctype == 0 || ctype == 14) && compute == 68)
        return gemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, ctype == 14 ? 2 : 1);
    if (atype || btype || ctype || (compute != 68 && compute != 75 && compute != 77)) return 15; /* not supported */
    return gemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, compute == 75, 0);
}

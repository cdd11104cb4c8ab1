/* See pool.h. A job's tasks are dealt out as one range per participant, as OpenMP's static
 * schedule would (participant w first runs tasks n*w/size .. n*(w+1)/size - 1 in order, so the
 * data a thread wrote in one loop is in its own cache for the next loop over the same shape);
 * a participant that has finished its range takes tasks from the back of the others'. Each
 * range is one 64-bit word, claimed task by task with compare-and-swap:
 *   bits 0-19 one past its last task, 20-39 its next task, 40-63 the job's generation
 * so a participant that read an old job's word can never claim a task of a newer one (its
 * generation no longer matches), and the job's function and argument, written before the words
 * are published, stay valid for whoever holds a claimed task: the caller cannot start another
 * job until every claimed task has finished. */
#include "ir/pool.h"

#include "ir/alloc.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { TASK_BITS = 20, GEN_BITS = 24 };
#define MAX_TASKS ((1u << TASK_BITS) - 1)
#define GEN_MASK ((1u << GEN_BITS) - 1)
#define WORD(gen, lo, hi) (((uint64_t)(gen) << 40) | ((uint64_t)(lo) << 20) | (uint64_t)(hi))
#define W_HI(w) ((uint32_t)((w) & MAX_TASKS))
#define W_LO(w) ((uint32_t)(((w) >> 20) & MAX_TASKS))
#define W_GEN(w) ((uint32_t)((w) >> 40))
#define LO_ONE ((uint64_t)1 << 20)

typedef struct { /* a participant's range, a cache line (and more) apart from the next */
    _Atomic uint64_t w;
    char pad[120];
} Range;

struct FnPool {
    int size, spin_us;
    void (*thread_init)(void);
    pthread_t *threads;      /* size - 1 workers */
    pthread_mutex_t busy;    /* held by the caller of the running job */
    uint32_t jobs;           /* generations published (the caller's, under busy) */
    Range *range;            /* [size]: the running job's tasks not yet claimed */
    _Atomic uint32_t gen;    /* futex word of idle workers: the last generation published */
    _Atomic uint32_t done;   /* futex word of the caller: tasks of the running job finished */
    _Atomic int sleepers;    /* workers asleep (or about to be) on gen */
    _Atomic int caller_asleep;
    _Atomic int stop;
    FnPoolTask task; /* the running job, written before its ranges are published */
    void *arg;
    uint32_t n_tasks;
};

typedef struct {
    FnPool *p;
    int worker;
} WorkerArg;

static void futex_wait(_Atomic uint32_t *w, uint32_t seen) {
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w) { syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins up to spin_us while *w == seen; 1 when it changed. */
static int spin_while(const FnPool *p, _Atomic uint32_t *w, uint32_t seen) {
    double end = 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(w, memory_order_acquire) != seen) return 1;
        relax();
        if ((i & 63) == 63) {
            double t = now_us();
            if (!end) end = t + p->spin_us;
            else if (t >= end) return 0;
        }
    }
}

/* A task of generation g from range r: its front (the owner) or its back (a thief); 0: none. */
static int claim(FnPool *p, int r, uint32_t g, int front, uint32_t *task) {
    _Atomic uint64_t *word = &p->range[r].w;
    uint64_t w = atomic_load_explicit(word, memory_order_acquire);
    for (;;) {
        if (W_GEN(w) != g || W_LO(w) >= W_HI(w)) return 0;
        uint64_t next = front ? w + LO_ONE : w - 1;
        if (atomic_compare_exchange_weak_explicit(word, &w, next, memory_order_acq_rel, memory_order_acquire)) {
            *task = front ? W_LO(w) : W_HI(w) - 1;
            return 1;
        }
    }
}

static void run_one(FnPool *p, uint32_t task, int worker) {
    p->task(p->arg, (int64_t)task, worker);
    if (atomic_fetch_add(&p->done, 1) + 1 == p->n_tasks && atomic_load(&p->caller_asleep)) futex_wake(&p->done);
}

/* Runs tasks of generation g until none is left: this participant's range, then the others'. */
static void run_tasks(FnPool *p, uint32_t g, int worker) {
    uint32_t t;
    while (claim(p, worker, g, 1, &t)) run_one(p, t, worker);
    for (int k = 1; k < p->size; k++)
        while (claim(p, (worker + k) % p->size, g, 0, &t)) run_one(p, t, worker);
}

static void *worker_main(void *v) {
    WorkerArg a = *(WorkerArg *)v;
    free(v);
    FnPool *p = a.p;
    if (p->thread_init) p->thread_init();
    uint32_t seen = 0;
    for (;;) {
        if (!spin_while(p, &p->gen, seen)) {
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) futex_wait(&p->gen, seen);
            atomic_fetch_sub(&p->sleepers, 1);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        run_tasks(p, seen, a.worker);
    }
}

FnPool *fn_pool_new(int threads, int spin_us, void (*thread_init)(void)) {
    FnPool *p = fn_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->size = threads > 1 ? threads : 1;
    p->spin_us = spin_us > 0 ? spin_us : 0;
    p->thread_init = thread_init;
    pthread_mutex_init(&p->busy, NULL);
    if (p->size == 1) return p;
    if (!(p->threads = fn_calloc((size_t)p->size - 1, sizeof *p->threads)) ||
        !(p->range = fn_calloc((size_t)p->size, sizeof *p->range))) {
        fn_pool_free(p);
        return NULL;
    }
    for (int i = 1; i < p->size; i++) {
        WorkerArg *a = fn_malloc(sizeof *a);
        if (a) *a = (WorkerArg){p, i};
        if (!a || pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            p->size = i; /* fn_pool_free joins the ones started */
            fn_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void fn_pool_free(FnPool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, 1);
    futex_wake(&p->gen);
    for (int i = 1; p->threads && i < p->size; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->busy);
    free(p->threads);
    free(p->range);
    free(p);
}

int fn_pool_size(const FnPool *p) { return p ? p->size : 1; }

static void run_serial(int64_t n, FnPoolTask task, void *arg) {
    for (int64_t t = 0; t < n; t++) task(arg, t, 0);
}

/* One job of at most MAX_TASKS tasks starting at `base` (fn_pool_run splits larger ones). */
typedef struct {
    FnPoolTask task;
    void *arg;
    int64_t base;
} Offset;

static void offset_task(void *v, int64_t t, int worker) {
    Offset *o = v;
    o->task(o->arg, o->base + t, worker);
}

static void run_job(FnPool *p, uint32_t n, FnPoolTask task, void *arg) {
    p->task = task;
    p->arg = arg;
    p->n_tasks = n;
    atomic_store(&p->done, 0);
    uint32_t g = p->jobs = (p->jobs + 1) & GEN_MASK;
    for (int r = 0; r < p->size; r++)
        atomic_store_explicit(&p->range[r].w, WORD(g, (uint64_t)n * r / p->size, (uint64_t)n * (r + 1) / p->size),
                              memory_order_release);
    atomic_store(&p->gen, g);
    if (atomic_load(&p->sleepers) > 0) futex_wake(&p->gen);
    run_tasks(p, g, 0);
    for (uint32_t d; (d = atomic_load(&p->done)) != n;) {
        if (spin_while(p, &p->done, d)) continue;
        atomic_store(&p->caller_asleep, 1);
        if ((d = atomic_load(&p->done)) != n) futex_wait(&p->done, d);
        atomic_store(&p->caller_asleep, 0);
    }
}

void fn_pool_run(FnPool *p, int64_t n, FnPoolTask task, void *arg) {
    if (n <= 0) return;
    if (!p || p->size == 1 || n == 1 || pthread_mutex_trylock(&p->busy) != 0) {
        run_serial(n, task, arg);
        return;
    }
    if (n <= MAX_TASKS) {
        run_job(p, (uint32_t)n, task, arg);
    } else {
        for (int64_t b = 0; b < n; b += MAX_TASKS) {
            Offset o = {task, arg, b};
            run_job(p, (uint32_t)(n - b < MAX_TASKS ? n - b : MAX_TASKS), offset_task, &o);
        }
    }
    pthread_mutex_unlock(&p->busy);
}

/* The tightest cgroup v2 quota (cpu.max "QUOTA PERIOD") on the way from this process's cgroup
 * up to the root, in CPUs rounded up; 0: none. */
static int cgroup_cpus(void) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char line[4096], path[4200];
    const char *rel = NULL;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            rel = line + 3;
            break;
        }
    fclose(f);
    if (!rel) return 0;
    int best = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", rel);
    for (;;) {
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", strcmp(dir, "/") ? dir : "");
        FILE *m = fopen(path, "r");
        long long quota = 0, period = 0;
        char q[32] = "";
        if (m && fscanf(m, "%31s %lld", q, &period) == 2 && strcmp(q, "max") && period > 0) {
            quota = atoll(q);
            int cpus = (int)((quota + period - 1) / period);
            if (cpus > 0 && (!best || cpus < best)) best = cpus;
        }
        if (m) fclose(m);
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (!strcmp(dir, "/") || !*dir) break;
            strcpy(dir, "/");
        } else {
            *slash = 0;
        }
    }
    return best;
}

int fn_cpus_available(void) {
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    int q = cgroup_cpus();
    if (q > 0 && q < n) n = q;
    return n > 0 ? n : 1;
}

int fn_isa_host(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return FN_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FN_ISA_AVX2;
#endif
    return FN_ISA_BASE;
}

int fn_isa_resolve(int want) {
    int host = fn_isa_host();
    return want <= FN_ISA_AUTO || want > host ? host : want;
}

static const char *const isa_names[FN_ISA_COUNT] = {"auto", "base", "avx2", "avx512"};

const char *fn_isa_name(int isa) {
    return isa >= 0 && isa < FN_ISA_COUNT ? isa_names[isa] : "?";
}

int fn_isa_parse(const char *name) {
    for (int i = 0; i < FN_ISA_COUNT; i++)
        if (!strcmp(name, isa_names[i])) return i;
    return -1;
}

/* The CPU thread pool (ir/pool.h): every task runs exactly once, on a worker number in range, for
 * pools of 1-4 threads and NULL, job sizes 0 to past one job's limit (2^20 - 1 tasks), many
 * small jobs in a row; a task that calls the pool again (it runs inline), two threads calling
 * one pool at once (the second runs inline), thread_init called once per worker; and the CPU
 * count (affinity, cgroup quota) within the machine's. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "ir/pool.h"
#include "tests/testlib.h"

typedef struct {
    _Atomic int *hits; /* [n] */
    _Atomic int bad_worker;
    int size;
} Count;

static void count_task(void *arg, int64_t t, int worker) {
    Count *c = arg;
    atomic_fetch_add(&c->hits[t], 1);
    if (worker < 0 || worker >= c->size) atomic_store(&c->bad_worker, 1);
}

/* n tasks on p: each exactly once, workers in range */
static int runs_each_once(FnPool *p, int64_t n) {
    Count c = {calloc((size_t)(n ? n : 1), sizeof(_Atomic int)), 0, fn_pool_size(p)};
    fn_pool_run(p, n, count_task, &c);
    int ok = !atomic_load(&c.bad_worker);
    for (int64_t t = 0; t < n; t++) ok &= atomic_load(&c.hits[t]) == 1;
    free(c.hits);
    return ok;
}

typedef struct {
    FnPool *p;
    _Atomic int inner;
} Nest;

static void inner_task(void *arg, int64_t t, int worker) { atomic_fetch_add(&((Nest *)arg)->inner, 1); }

static void outer_task(void *arg, int64_t t, int worker) {
    Nest *n = arg;
    fn_pool_run(n->p, 5, inner_task, n); /* the pool is busy: runs on this thread */
}

typedef struct {
    FnPool *p;
    int ok;
} Caller;

static void *second_caller(void *arg) {
    Caller *c = arg;
    c->ok = 1;
    for (int k = 0; k < 200; k++) c->ok &= runs_each_once(c->p, 1 + k % 37);
    return NULL;
}

static _Atomic int inits;
static void count_init(void) { atomic_fetch_add(&inits, 1); }

int main(void) {
    CHECK(runs_each_once(NULL, 17) && fn_pool_size(NULL) == 1, "a NULL pool runs the tasks on the caller");
    for (int threads = 1; threads <= 4; threads++) {
        atomic_store(&inits, 0);
        FnPool *p = fn_pool_new(threads, 20, count_init);
        if (!CHECK(p && fn_pool_size(p) == threads, "a pool of %d threads starts", threads)) continue;
        int ok = 1;
        const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, 100003};
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) ok &= runs_each_once(p, sizes[i]);
        CHECK(ok, "%d threads: jobs of 0 to 100,003 tasks run each task once, workers in range", threads);
        ok = 1;
        for (int k = 0; k < 20000 && ok; k++) ok &= runs_each_once(p, 1 + k % 5);
        CHECK(ok, "%d threads: 20,000 small jobs in a row", threads);
        Nest n = {p, 0};
        fn_pool_run(p, 8, outer_task, &n);
        CHECK(atomic_load(&n.inner) == 40, "%d threads: a task calling the pool runs its job inline (%d of 40)",
              threads, atomic_load(&n.inner));
        Caller c = {p, 0};
        pthread_t th;
        pthread_create(&th, NULL, second_caller, &c);
        ok = 1;
        for (int k = 0; k < 200; k++) ok &= runs_each_once(p, 1 + k % 41);
        pthread_join(th, NULL);
        CHECK(ok && c.ok, "%d threads: two threads calling one pool at once", threads);
        fn_pool_free(p);
        CHECK(atomic_load(&inits) == threads - 1, "%d threads: thread_init ran once per worker (%d)", threads,
              atomic_load(&inits));
    }
    FnPool *p = fn_pool_new(2, 0, NULL);
    CHECK(p && runs_each_once(p, (1 << 20) + 5), "a job past one job's limit (2^20 + 5 tasks), no spinning");
    fn_pool_free(p);
    int cpus = fn_cpus_available();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(cpus >= 1 && cpus <= online, "CPUs this process may use: %d of %ld online", cpus, online);
    return test_summary("test_pool");
}

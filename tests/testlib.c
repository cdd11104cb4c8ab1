/* Tiny test helper shared by every tests/test_*.c; see testlib.h.
 * What this is not: thread-safe (the counters are plain globals).
 */
#include "testlib.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/options.h"
#include "runtime/cpu/cpu_exec.h"

static int n_passed, n_failed;

int test_check_(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        n_passed++;
        return 1;
    }
    n_failed++;
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

int test_failures(void) {
    return n_failed;
}

int test_summary(const char *name) {
    printf("%s: %d checks passed, %d failed\n", name, n_passed, n_failed);
    fflush(stdout);
    return n_failed ? 1 : 0;
}

double test_rel_err(const double *a, const double *b, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!isfinite(d)) return INFINITY;
        if (d > diff) diff = d;
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return diff / (scale > 1e-12 ? scale : 1e-12);
}

double test_rel_l2(const void *x, const void *ref, size_t n, int prec) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double a = prec == 4 ? (double)((const float *)x)[i] : ((const double *)x)[i];
        double b = prec == 4 ? (double)((const float *)ref)[i] : ((const double *)ref)[i];
        if (isnan(a) != isnan(b)) return INFINITY;
        if (!isnan(a)) num += (a - b) * (a - b), den += b * b;
    }
    return sqrt(num) / (den > 0 ? sqrt(den) : 1);
}

uint64_t test_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double test_rng_uniform(uint64_t *state) {
    return (double)(test_rng_next(state) >> 11) * 0x1.0p-53;
}

void test_fill_uniform(double *x, size_t n, uint64_t *state, double lo, double hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * test_rng_uniform(state);
}

const char *test_shared_data(void) {
    static const char *dir = "../shared/data";
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

char *test_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t k = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[k] = 0;
    fclose(f);
    return s;
}

static RtBackend cpu_backend[2]; /* made at first use: [0] fused, [1] the reference path */

static const RtBackend *cpu_with(int fuse) {
    RtBackend *be = &cpu_backend[!fuse];
    if (!be->ops) {
        RtOptions o;
        cli_options_from_env(&o);
        o.fuse = fuse;
        RtStatus st;
        if (rt_backend_cpu(be, &o, &st) < 0) {
            fprintf(stderr, "%s\n", st.msg);
            exit(1);
        }
    }
    return be;
}

const RtBackend *test_cpu(void) { return cpu_with(1); }
const RtBackend *test_cpu_ref(void) { return cpu_with(0); }

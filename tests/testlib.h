/* Tiny test helper shared by every tests/test_*.c.
 *
 * What this is: a non-aborting CHECK that counts passes and failures, a summary line for main,
 * a relative-error helper, a deterministic splitmix64 RNG, and the location of shared/data.
 * What this is not: a framework; no registration, fixtures or forking.
 */
#ifndef FN_TESTLIB_H
#define FN_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

/* Counts one check; on failure prints "file:line: FAIL: <message>" and keeps going.
 * Evaluates to 1 if cond held, else 0. Usage: CHECK(err < 1e-6, "err %g", err); */
#define CHECK(cond, ...) test_check_((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

int test_check_(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Failed checks so far. */
int test_failures(void);

/* Prints "<name>: <P> checks passed, <F> failed"; returns 0 if none failed, else 1. */
int test_summary(const char *name);

/* max|a-b| / max(1e-12, max|b|); INFINITY if any difference is NaN or infinite. */
double test_rel_err(const double *a, const double *b, size_t n);
/* Relative L2 error of x against ref, n reals of prec bytes (4 or 8): |x - ref| / |ref|;
 * NaN must stand at the same places (else INFINITY), and those places are left out. */
double test_rel_l2(const void *x, const void *ref, size_t n, int prec);

/* splitmix64: the next 64 random bits, and a uniform double in [0, 1). */
uint64_t test_rng_next(uint64_t *state);
double test_rng_uniform(uint64_t *state);

/* x[i] uniform in [lo, hi). */
void test_fill_uniform(double *x, size_t n, uint64_t *state, double lo, double hi);

/* The whole file, NUL-terminated (malloc'ed), or NULL if it cannot be read. */
char *test_read_file(const char *path);

/* "../shared/data" if that directory exists relative to the cwd, else NULL. */
const char *test_shared_data(void);

/* The CPU backend with the environment's options (as fnrun reads them, cli/options.h), and the
 * same with fusion off: the reference path the fast one is checked against. */
struct RtBackend;
const struct RtBackend *test_cpu(void);
const struct RtBackend *test_cpu_ref(void);

#endif

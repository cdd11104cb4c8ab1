/* Checked allocation: every heap allocation of fn's libraries goes through these four (the C
 * library's, counted), so that a test can make the k-th allocation of a phase fail and see
 * every failure come back as a clean error (tests/test_alloc_walk.c). Callers check for NULL
 * and report "out of memory" in their own status. What this is not: an arena or a pool.
 * The counter and the failure point are the one process-wide state of the libraries: a test
 * hook, atomic, read by nothing else. */
#ifndef FN_IR_ALLOC_H
#define FN_IR_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *fn_malloc(size_t n);
void *fn_calloc(size_t n, size_t size);
void *fn_realloc(void *p, size_t n);
char *fn_strdup(const char *s);

/* Tests: allocation number k (1, 2, ... counted from this call) fails, once; 0: none fails. */
void fn_alloc_fail_at(int64_t k);
/* Allocations since the last fn_alloc_fail_at. */
int64_t fn_alloc_count(void);
/* The code address that made the allocation that failed (NULL: none has): the walk counts the
 * distinct call sites it has exercised. */
const void *fn_alloc_failed_site(void);

#endif

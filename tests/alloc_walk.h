/* The allocation-failure walk shared by tests/test_alloc_walk*.c: a case runs once without
 * failures, then with allocation number k failing (ir/alloc.h's test hook) for k = 1, 2, ...
 * (or a stride of them) until a run makes fewer than k allocations. Each run with a failure must
 * come back with a clean error (-1 and a message, one that says c->says where it is set), never
 * a crash; the run past the last allocation must succeed with the result of the run without
 * failures. The walk counts the distinct call sites it made fail and prints a summary line.
 * What this is not: the cases themselves (each test's callbacks, which set up and free what they
 * use) or a leak check (LeakSanitizer does that under the ASan build). */
#ifndef FN_TESTS_ALLOC_WALK_H
#define FN_TESTS_ALLOC_WALK_H

#include <stdint.h>

#include "ir/status.h"

/* What one run gives, compared between the run without failures and the one past the last
 * allocation: equal values (a digest, a loss; the run without failures must give a finite one)
 * and equal texts (or both NULL). */
typedef struct {
    double value;
    char *text; /* NULL, or malloc'ed (the C library's: not counted); the walk frees it */
} AwResult;

/* One run of a case: 0 with *res filled, or -1 with st's message. Frees all it made but
 * res->text, whether it fails or not. */
typedef int (*AwRun)(void *ctx, AwResult *res, FnStatus *st);

/* The distinct code addresses whose allocation was made to fail. */
typedef struct {
    const void *at[4096];
    int n;
} AwSites;

typedef struct {
    const char *name; /* in the checks' messages and the summary line */
    int width;        /* of the name's column in the summary line */
    AwRun run;
    void *ctx;
    int64_t head, tail, stride; /* stride > 1: every allocation in the first head and (tail > 0)
                                   the last tail, else every stride-th; otherwise every one */
    const char *says;           /* non-NULL: a clean error's message contains this */
    AwSites *all;               /* non-NULL: the sites are noted there too (those of many walks) */
} AwCase;

typedef struct {
    int64_t total;           /* allocations in the run without failures; 0 if that run failed */
    int failed, clean, bad;  /* runs made to fail (clean + bad), with a clean error, without */
    int sites;               /* distinct call sites made to fail */
} AwStats;

/* Walks case c. want non-NULL: the result of the run without failures is left there (its text
 * the caller's to free; {NAN, NULL} when that run failed); else it is freed. */
AwStats aw_walk(const AwCase *c, AwResult *want);

#endif

/* See alloc.h. */
#include "ir/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int64_t count, fail_at;
static void *_Atomic failed_site;

/* 1 if this allocation (called from site) is the one a test asked to fail */
static int fails(void *site) {
    int64_t k = atomic_fetch_add(&count, 1) + 1;
    if (k != atomic_load(&fail_at)) return 0;
    atomic_store(&failed_site, site);
    return 1;
}

void *fn_malloc(size_t n) { return fails(__builtin_return_address(0)) ? NULL : malloc(n); }

void *fn_calloc(size_t n, size_t size) { return fails(__builtin_return_address(0)) ? NULL : calloc(n, size); }

void *fn_realloc(void *p, size_t n) { return fails(__builtin_return_address(0)) ? NULL : realloc(p, n); }

char *fn_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = fails(__builtin_return_address(0)) ? NULL : malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void fn_alloc_fail_at(int64_t k) {
    atomic_store(&fail_at, k);
    atomic_store(&count, 0);
    atomic_store(&failed_site, NULL);
}

const void *fn_alloc_failed_site(void) { return atomic_load(&failed_site); }

int64_t fn_alloc_count(void) { return atomic_load(&count); }

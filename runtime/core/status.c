/* The counter-based random streams, symbol binding and the clock (rt.h). Status messages are
 * ir/status.c's (rt_fail is fn_fail). */
#include "runtime/core/rt.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

uint64_t rt_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t rt_hash(uint64_t a, uint64_t b, uint64_t c) {
    return rt_mix(rt_mix(rt_mix(a) ^ b) ^ c);
}

double rt_uniform(uint64_t key, uint64_t counter) {
    return (double)(rt_mix(key ^ rt_mix(counter)) >> 11) * 0x1.0p-53;
}

uint64_t rt_dropout_salt(const IrGraph *g, IrId id) {
    uint64_t k = 0;
    for (IrId j = 0; j < id; j++) k += g->nodes[j].op == IR_OP_DROPOUT_MASK;
    return rt_hash(0xd50u, k, 0);
}

uint64_t rt_hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

void rt_shuffle(int *v, int n, uint64_t key) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rt_uniform(key, (uint64_t)i) * (i + 1));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

int rt_bind_syms(const IrGraph *g, const RtBinding *b, int nb, int64_t *sym, RtStatus *st) {
    for (int i = 0; i < g->n_syms; i++) {
        sym[i] = g->syms[i].dflt;
        for (int k = 0; k < nb; k++)
            if (strcmp(b[k].name, g->syms[i].name) == 0) sym[i] = b[k].value;
        if (sym[i] < 1)
            return rt_fail(st, "dimension '%s' is not bound (give it a value)", g->syms[i].name);
    }
    return 0;
}

double rt_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

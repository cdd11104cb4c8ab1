/* The runtime's core vocabulary: status, time, counter-based random numbers, symbol bindings
 * and the variable store that every graph of an artifact shares. No process-global state:
 * every call takes its context explicitly. Library code never exits; it returns -1 and fills
 * an RtStatus. What this is not: an executor (exec.h) or a compiler (the runtime includes
 * nothing of frontend/, and of passes/ only the fusion analysis it schedules with).
 */
#ifndef FN_RT_H
#define FN_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"
#include "ir/status.h"

/* ---- status -------------------------------------------------------------------------------- */
/* The runtime's status is the one of every layer (ir/status.h): codegen fills the same type. */
typedef FnStatus RtStatus;
#define rt_fail fn_fail /* the runtime's name for it: -1, the message in st */

double rt_now(void); /* monotonic seconds */
/* Threads the BLAS (when it is OpenBLAS) and OpenMP loops (the reference kernels) may use, set
 * for the calling thread. The CPU backend's pool threads take 1 (OpenBLAS's OpenMP build reads
 * the calling thread's OpenMP setting at every call, and a new thread's is every core). */
void rt_blas_threads(int n);
void rt_blas_one_thread(void); /* rt_blas_threads(1): a pool's thread_init */

/* ---- random numbers: counter-based, so results never depend on call order or threads ------- */
uint64_t rt_mix(uint64_t x);                               /* splitmix64 finaliser */
uint64_t rt_hash(uint64_t a, uint64_t b, uint64_t c);      /* key for a random stream */
double rt_uniform(uint64_t key, uint64_t counter);         /* in [0, 1) */
uint64_t rt_hash_str(const char *s);
/* The salt of DROPOUT_MASK node id's stream rt_hash(seed, step, salt), the same on every backend:
 * from its place among g's DROPOUT_MASKs, which a graph specialised for its replicas
 * (passes/replicas.c) keeps, unlike its id */
uint64_t rt_dropout_salt(const IrGraph *g, IrId id);
/* Seeded Fisher-Yates shuffle of v[0..n) drawing from the stream `key`. */
void rt_shuffle(int *v, int n, uint64_t key);

/* ---- symbols ------------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    int64_t value;
} RtBinding;
/* Fills sym[g->n_syms] from bindings and the graph's defaults; error names an unbound symbol. */
int rt_bind_syms(const IrGraph *g, const RtBinding *b, int nb, int64_t *sym, RtStatus *st);

/* ---- variables (params and states), shared by every graph of an artifact ------------------ */
typedef struct {
    char *name;
    int is_state;
    IrInit init;
    double init_value;
    int flags; /* IR_LEAF_* */
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t n;
    void *data; /* n reals of the store's precision */
} RtVar;

typedef struct {
    int prec; /* bytes per real: 4 or 8 */
    RtVar *v;
    int n, cap;
} RtVars;

RtVars *rt_vars_new(int prec);
void rt_vars_free(RtVars *vs);
/* Adds every PARAM/STATE of g (shapes bound by sym) that is not there yet; an existing variable
 * with another shape is an error. New variables are zero until rt_vars_init. */
int rt_vars_bind(RtVars *vs, const IrGraph *g, const int64_t *sym, RtStatus *st);
/* Initialises every variable from its initialiser; glorot uniform draws from a stream keyed by
 * (seed, variable name), so the result does not depend on declaration order. */
void rt_vars_init(RtVars *vs, uint64_t seed);
RtVar *rt_vars_find(RtVars *vs, const char *name);
int64_t rt_vars_count(const RtVars *vs, int trainable_only);

#endif

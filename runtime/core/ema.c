/* The weights' exponential moving average, kept on the host beside the variable store: the
 * parameters and batch-norm statistics (rt_var_is_averaged), updated after every step. */
#include "runtime/core/ema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int rt_var_is_averaged(const RtVar *v) {
    return !v->is_state || ends_with(v->name, "/moving_mean") || ends_with(v->name, "/moving_variance");
}

static int count_averaged(const RtVars *vars) {
    int n = 0;
    for (int i = 0; i < vars->n; i++) n += rt_var_is_averaged(&vars->v[i]);
    return n;
}

RtVars *rt_ema_new(const RtVars *vars) {
    RtVars *e = rt_vars_new(vars->prec);
    for (int i = 0; e && i < vars->n; i++) {
        if (!rt_var_is_averaged(&vars->v[i])) continue;
        if (e->n == e->cap) {
            int cap = e->cap ? 2 * e->cap : 64;
            RtVar *grown = fn_realloc(e->v, (size_t)cap * sizeof *e->v);
            if (!grown) break;
            e->v = grown;
            e->cap = cap;
        }
        RtVar *d = &e->v[e->n];
        *d = vars->v[i];
        d->name = fn_strdup(vars->v[i].name);
        d->data = fn_malloc((size_t)d->n * sizeof(float));
        if (!d->name || !d->data) {
            free(d->name);
            free(d->data);
            break;
        }
        memcpy(d->data, vars->v[i].data, (size_t)d->n * sizeof(float));
        e->n++;
    }
    if (e && e->n < count_averaged(vars)) { /* out of memory */
        rt_vars_free(e);
        return NULL;
    }
    return e;
}

/* The variable that ema's k-th average tracks: the averages are the averaged variables in the
 * store's order (rt_ema_new), so one walk pairs them without name lookups in the step. */
static RtVar *tracked(RtVars *vars, int *i) {
    while (!rt_var_is_averaged(&vars->v[*i])) ++*i;
    return &vars->v[(*i)++];
}

double rt_ema_decay(double d, int64_t t) { return fmin(d, (1.0 + (double)t) / (10.0 + (double)t)); }

typedef struct {
    float *s;
    const float *v;
    int64_t n;
    float k;
} Ema;

enum { EMA_CHUNK = 65536 };

static void ema_chunk(void *arg, int64_t c, int worker) {
    const Ema *e = arg;
    int64_t j1 = (c + 1) * EMA_CHUNK < e->n ? (c + 1) * EMA_CHUNK : e->n;
    for (int64_t j = c * EMA_CHUNK; j < j1; j++) e->s[j] -= e->k * (e->s[j] - e->v[j]);
}

/* shadow -= (1 - decay)(shadow - value), element by element (the same bits whoever runs a chunk) */
void rt_ema_update(RtVars *ema, RtVars *vars, double d, int64_t t, FnPool *pool) {
    float k = (float)(1 - rt_ema_decay(d, t));
    for (int i = 0, vi = 0; i < ema->n; i++) {
        Ema e = {ema->v[i].data, tracked(vars, &vi)->data, ema->v[i].n, k};
        fn_pool_run(pool, (e.n + EMA_CHUNK - 1) / EMA_CHUNK, ema_chunk, &e);
    }
}

/* Exchanges the values of the averaged variables and their averages. */
void rt_ema_swap(RtVars *ema, RtVars *vars) {
    for (int i = 0, vi = 0; i < ema->n; i++) {
        float *s = ema->v[i].data, *v = tracked(vars, &vi)->data;
        for (int64_t j = 0; j < ema->v[i].n; j++) {
            float t = s[j];
            s[j] = v[j];
            v[j] = t;
        }
    }
}

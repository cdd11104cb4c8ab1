/* The variable store: params and states by name, in one precision, with their initialisers. */
#include "runtime/core/rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

RtVars *rt_vars_new(int prec) {
    RtVars *vs = fn_calloc(1, sizeof *vs);
    if (vs) vs->prec = prec;
    return vs;
}

void rt_vars_free(RtVars *vs) {
    if (!vs) return;
    for (int i = 0; i < vs->n; i++) {
        free(vs->v[i].name);
        free(vs->v[i].data);
    }
    free(vs->v);
    free(vs);
}

RtVar *rt_vars_find(RtVars *vs, const char *name) {
    for (int i = 0; i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0) return &vs->v[i];
    return NULL;
}

int rt_vars_bind(RtVars *vs, const IrGraph *g, const int64_t *sym, RtStatus *st) {
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        if (n->op != IR_OP_PARAM && n->op != IR_OP_STATE) continue;
        const char *name = ir_str(g, n->attr.u.leaf.name);
        int64_t dims[IR_MAX_RANK];
        for (int k = 0; k < n->shape.rank; k++) dims[k] = ir_dim_eval(g, n->shape.d[k], sym);
        int64_t count = ir_numel(dims, n->shape.rank);
        RtVar *v = rt_vars_find(vs, name);
        if (v) {
            if (v->rank != n->shape.rank || memcmp(v->dims, dims, sizeof(int64_t) * (size_t)v->rank))
                return rt_fail(st, "variable %s: shape differs between graphs", name);
            continue;
        }
        if (count < 0) return rt_fail(st, "variable %s: more than %lld elements at these sizes", name, (long long)IR_MAX_NUMEL);
        if (count == 0) return rt_fail(st, "variable %s has an empty shape", name);
        if (vs->n == vs->cap) {
            int cap = vs->cap ? 2 * vs->cap : 64;
            RtVar *grown = fn_realloc(vs->v, (size_t)cap * sizeof *vs->v);
            if (!grown) return rt_fail(st, "out of memory for variable %s", name);
            vs->v = grown;
            vs->cap = cap;
        }
        v = &vs->v[vs->n];
        memset(v, 0, sizeof *v);
        v->is_state = n->op == IR_OP_STATE;
        v->init = n->attr.u.leaf.init;
        v->init_value = n->attr.u.leaf.value;
        v->flags = n->attr.u.leaf.flags;
        v->rank = n->shape.rank;
        memcpy(v->dims, dims, sizeof dims);
        v->n = count;
        v->name = fn_strdup(name);
        v->data = fn_calloc((size_t)count, (size_t)vs->prec);
        if (!v->name || !v->data) {
            free(v->name);
            free(v->data);
            return rt_fail(st, "out of memory for variable %s", name);
        }
        vs->n++;
    }
    return 0;
}

static void set_real(void *data, int prec, int64_t i, double x) {
    if (prec == 4) ((float *)data)[i] = (float)x;
    else ((double *)data)[i] = x;
}

void rt_vars_init(RtVars *vs, uint64_t seed) {
    for (int i = 0; i < vs->n; i++) {
        RtVar *v = &vs->v[i];
        double limit = 0;
        if (v->init == IR_INIT_GLOROT_UNIFORM) {
            /* fans as TensorFlow: receptive field size times in/out channels */
            int64_t rf = 1;
            for (int k = 0; k + 2 < v->rank; k++) rf *= v->dims[k];
            int64_t fan_in = v->rank >= 2 ? rf * v->dims[v->rank - 2] : v->dims[0];
            int64_t fan_out = v->rank >= 2 ? rf * v->dims[v->rank - 1] : v->dims[0];
            limit = sqrt(6.0 / (double)(fan_in + fan_out));
        }
        uint64_t key = rt_hash(seed, rt_hash_str(v->name), 0x1a1);
        for (int64_t j = 0; j < v->n; j++) {
            double x = 0;
            switch (v->init) {
            case IR_INIT_ZEROS: x = 0; break;
            case IR_INIT_ONES: x = 1; break;
            case IR_INIT_CONST: x = v->init_value; break;
            case IR_INIT_GLOROT_UNIFORM: x = limit * (2 * rt_uniform(key, (uint64_t)j) - 1); break;
            }
            set_real(v->data, vs->prec, j, x);
        }
    }
}

int64_t rt_vars_count(const RtVars *vs, int trainable_only) {
    int64_t n = 0;
    for (int i = 0; i < vs->n; i++)
        if (!trainable_only || !vs->v[i].is_state) n += vs->v[i].n;
    return n;
}

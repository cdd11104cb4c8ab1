/* See jit.h. */
#include "runtime/cpu/jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "ir/pool.h"

/* the distinct kernels found so far: each one's structural key and its symbol (fn_k0, ...) */
typedef struct {
    char **keys, **names;
    int n, cap;
} Kernels;

static void kernels_free(Kernels *ks) {
    for (int k = 0; k < ks->n; k++) free(ks->keys[k]), free(ks->names[k]);
    free(ks->keys);
    free(ks->names);
}

/* the index of the kernel with this key, added when new (*fresh); -1 when out of memory */
static int kernel_for(Kernels *ks, const char *key, int *fresh) {
    *fresh = 0;
    for (int k = 0; k < ks->n; k++)
        if (!strcmp(ks->keys[k], key)) return k;
    if (ks->n == ks->cap) {
        int cap = ks->cap ? 2 * ks->cap : 16;
        char **keys = fn_realloc(ks->keys, (size_t)cap * sizeof *keys);
        if (keys) ks->keys = keys;
        char **names = keys ? fn_realloc(ks->names, (size_t)cap * sizeof *names) : NULL;
        if (!names) return -1;
        ks->names = names;
        ks->cap = cap;
    }
    char *k = fn_strdup(key), *name = fn_malloc(24);
    if (!k || !name) {
        free(k);
        free(name);
        return -1;
    }
    snprintf(name, 24, "fn_k%d", ks->n);
    ks->keys[ks->n] = k;
    ks->names[ks->n] = name;
    *fresh = 1;
    return ks->n++;
}

/* group gi's pointer slots appended to j's (cap: their room); -1 when out of memory */
static int add_slots(RtJit *j, const PassFuseLayout *lay, int gi, int *used, int *cap) {
    if (*used + lay->n_slots > *cap) {
        int c = 2 * (*used + lay->n_slots);
        IrId *node = fn_realloc(j->slot_node, (size_t)c * sizeof *node);
        if (node) j->slot_node = node;
        char *kind = node ? fn_realloc(j->slot_kind, (size_t)c) : NULL;
        if (!kind) return -1;
        j->slot_kind = kind;
        *cap = c;
    }
    j->n_slots[gi] = lay->n_slots;
    j->slot0[gi] = *used;
    for (int s = 0; s < lay->n_slots; s++) {
        j->slot_node[*used + s] = lay->slot_node[s];
        j->slot_kind[*used + s] = (char)lay->slot_kind[s];
    }
    *used += lay->n_slots;
    return 0;
}

/* every group's kernel written into module (structurally equal groups share one); -1 when out
 * of memory */
static int emit_groups(RtJit *j, const RtPlan *p, int prec, Kernels *ks, LlText *module) {
    const PassFusion *f = &p->fusion;
    LlText key = {0};
    PassFuseLayout lay;
    int used = 0, cap = 0, rc = 0;
    for (int gi = 0; gi < f->n_groups && rc == 0; gi++) {
        j->kernel[gi] = -1;
        key.len = 0;
        if (ll_emit_group(p->g, f, gi, p->numel, prec, "k", 0, &lay, &key) < 0) {
            if (key.oom) rc = -1; /* out of memory; otherwise the group runs interpreted */
            continue;
        }
        int fresh, k = kernel_for(ks, key.s, &fresh);
        if (k < 0) {
            rc = -1;
            break;
        }
        if (fresh && ll_emit_group(p->g, f, gi, p->numel, prec, ks->names[k], k, &lay, module) < 0 && module->oom) {
            rc = -1;
            break;
        }
        j->kernel[gi] = k;
        j->inner[gi] = lay.lanes > 1 ? lay.lanes : lay.inner;
        rc = add_slots(j, &lay, gi, &used, &cap);
    }
    ll_text_free(&key);
    j->n_kernels = ks->n;
    return module->oom ? -1 : rc;
}

int rt_jit_build(RtJit *j, const RtPlan *p, int prec, int compile, const RtOptions *o, RtStatus *st) {
    memset(j, 0, sizeof *j);
    int ng = p->fusion.n_groups;
    if (!ng || (compile && !ll_jit_available())) return 0;
    double t0 = rt_now();
    j->kernel = fn_malloc((size_t)ng * sizeof *j->kernel);
    j->slot0 = fn_calloc((size_t)ng, sizeof *j->slot0);
    j->n_slots = fn_calloc((size_t)ng, sizeof *j->n_slots);
    j->inner = fn_calloc((size_t)ng, sizeof *j->inner);
    LlText module = {0};
    Kernels ks = {0};
    int rc = j->kernel && j->slot0 && j->n_slots && j->inner ? 0 : -1;
    if (rc == 0) {
        ll_emit_prelude(&module);
        rc = emit_groups(j, p, prec, &ks, &module);
    }
    if (rc < 0) rt_fail(st, "out of memory writing the LLVM kernels");
    const char *dump = o ? o->dump_llvm : NULL;
    if (rc == 0 && dump && *dump) {
        FILE *fp = fopen(dump, "w");
        if (fp) fputs(module.s, fp), fclose(fp);
    }
    if (rc == 0 && j->n_kernels && compile) {
        if (!(j->fns = fn_calloc((size_t)j->n_kernels, sizeof *j->fns))) rc = rt_fail(st, "out of memory");
        else if (!(j->jit = ll_jit_new(module.s, (const char *const *)ks.names, j->n_kernels, j->fns,
                                       o ? o->dump_asm : NULL, o ? o->cpu_isa : FN_ISA_AUTO, st)))
            rc = -1;
    }
    kernels_free(&ks);
    j->text = module.s; /* kept for tests and fnc */
    j->compile_s = rt_now() - t0;
    if (rc < 0) rt_jit_free(j);
    return rc;
}

void rt_jit_free(RtJit *j) {
    ll_jit_free(j->jit);
    free(j->text);
    free(j->fns);
    free(j->kernel);
    free(j->slot0);
    free(j->n_slots);
    free(j->inner);
    free(j->slot_node);
    free(j->slot_kind);
    memset(j, 0, sizeof *j);
}

/* See jit.h. */
#include "runtime/cpu/jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_jit_build(RtJit *j, const RtPlan *p, int prec, int compile, const RtOptions *o, RtStatus *st) {
    memset(j, 0, sizeof *j);
    const PassFusion *f = &p->fusion;
    if (!f->n_groups || (compile && !ll_jit_available())) return 0;
    double t0 = rt_now();
    int ng = f->n_groups;
    j->kernel = malloc((size_t)ng * sizeof *j->kernel);
    j->slot0 = calloc((size_t)ng, sizeof *j->slot0);
    j->n_slots = calloc((size_t)ng, sizeof *j->n_slots);
    j->inner = calloc((size_t)ng, sizeof *j->inner);
    LlText module = {0}, key = {0};
    char **keys = NULL, **names = NULL;
    int cap_slots = 0, used_slots = 0;
    ll_emit_prelude(&module);
    PassFuseLayout lay;
    for (int gi = 0; gi < ng; gi++) {
        j->kernel[gi] = -1;
        key.len = 0;
        if (ll_emit_group(p->g, f, gi, p->numel, prec, "k", 0, &lay, &key) < 0) continue;
        int k = 0;
        while (k < j->n_kernels && strcmp(keys[k], key.s) != 0) k++;
        if (k == j->n_kernels) { /* a new kernel */
            keys = realloc(keys, (size_t)(k + 1) * sizeof *keys);
            names = realloc(names, (size_t)(k + 1) * sizeof *names);
            keys[k] = strdup(key.s);
            names[k] = malloc(24);
            snprintf(names[k], 24, "fn_k%d", k);
            ll_emit_group(p->g, f, gi, p->numel, prec, names[k], k, &lay, &module);
            j->n_kernels++;
        }
        j->kernel[gi] = k;
        j->inner[gi] = lay.lanes > 1 ? lay.lanes : lay.inner;
        j->n_slots[gi] = lay.n_slots;
        j->slot0[gi] = used_slots;
        if (used_slots + lay.n_slots > cap_slots) {
            cap_slots = 2 * (used_slots + lay.n_slots);
            j->slot_node = realloc(j->slot_node, (size_t)cap_slots * sizeof *j->slot_node);
            j->slot_kind = realloc(j->slot_kind, (size_t)cap_slots);
        }
        for (int s = 0; s < lay.n_slots; s++) {
            j->slot_node[used_slots + s] = lay.slot_node[s];
            j->slot_kind[used_slots + s] = (char)lay.slot_kind[s];
        }
        used_slots += lay.n_slots;
    }
    const char *dump = o ? o->dump_llvm : NULL;
    if (dump && *dump) {
        FILE *fp = fopen(dump, "w");
        if (fp) fputs(module.s, fp), fclose(fp);
    }
    int ok = 1;
    if (j->n_kernels && compile) {
        j->fns = calloc((size_t)j->n_kernels, sizeof *j->fns);
        j->jit = ll_jit_new(module.s, (const char *const *)names, j->n_kernels, j->fns, o ? o->dump_asm : NULL, st);
        if (!j->jit) ok = 0;
    }
    for (int k = 0; k < j->n_kernels; k++) free(keys[k]), free(names[k]);
    free(keys);
    free(names);
    j->text = module.s; /* kept for tests and fnc */
    ll_text_free(&key);
    j->compile_s = rt_now() - t0;
    if (!ok) {
        rt_jit_free(j);
        return -1;
    }
    return 0;
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

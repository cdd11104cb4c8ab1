/* What every foreign-weight reader (interop/interop.h) must give a fuzz target, whatever the
 * bytes: on success, well-formed tensors whose float32 values are all readable (and no values for
 * other dtypes); on an error, no tensors and a message. Traps otherwise. Shared by
 * fuzz_tf_index.c, fuzz_tf_graph.c and fuzz_torch_pt.c; frees the tensors. */
#ifndef FN_FUZZ_IX_CHECK_H
#define FN_FUZZ_IX_CHECK_H

#include <string.h>

#include "interop/interop.h"

static inline void ix_fuzz_check(int rc, IxTensors *ts, const RtStatus *st) {
    if (rc < 0 && (ts->n != 0 || ts->t != NULL || !st->msg[0])) __builtin_trap();
    for (int i = 0; rc == 0 && i < ts->n; i++) {
        const IxTensor *t = &ts->t[i];
        if (!t->name || t->rank < 0 || t->rank > IX_MAX_RANK || t->n < 0) __builtin_trap();
        if ((strcmp(t->dtype, "float32") == 0) != (t->data != NULL)) __builtin_trap();
        volatile float sink = 0;
        for (int64_t k = 0; t->data && k < t->n; k++) sink += t->data[k];
        (void)sink;
    }
    ix_tensors_free(ts);
}

#endif

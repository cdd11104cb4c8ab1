/* IxTensors: the named tensors every reader fills (see interop.h), allocated through ir/alloc.h.
 * Not a reader: the readers fill these. */
#include "interop/interop.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

IxTensor *ix_tensors_add(IxTensors *ts, const char *name, const char *dtype, int rank,
                         const int64_t *dims, RtStatus *st) {
    if (rank < 0 || rank > IX_MAX_RANK) return rt_fail(st, "%s: rank %d is not supported", name, rank), NULL;
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0 || (dims[k] > 0 && n > (INT64_C(1) << 31) / dims[k]))
            return rt_fail(st, "%s: bad shape (dimension %d is %lld)", name, k, (long long)dims[k]), NULL;
        n *= dims[k];
    }
    if (n > (INT64_C(1) << 31)) return rt_fail(st, "%s: more than 2^31 elements", name), NULL;
    if (ts->n == ts->cap) {
        int cap = ts->cap ? 2 * ts->cap : 64;
        IxTensor *t = fn_realloc(ts->t, (size_t)cap * sizeof *t);
        if (!t) return rt_fail(st, "%s: out of memory", name), NULL;
        ts->t = t;
        ts->cap = cap;
    }
    IxTensor *t = &ts->t[ts->n];
    memset(t, 0, sizeof *t);
    t->name = fn_strdup(name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->rank = rank;
    for (int k = 0; k < rank; k++) t->dims[k] = dims[k];
    t->n = n;
    if (strcmp(dtype, "float32") == 0) t->data = fn_calloc((size_t)(n ? n : 1), sizeof(float));
    if (!t->name || (strcmp(dtype, "float32") == 0 && !t->data)) {
        free(t->name);
        free(t->data);
        return rt_fail(st, "%s: out of memory", name), NULL;
    }
    ts->n++;
    return t;
}

const IxTensor *ix_tensors_find(const IxTensors *ts, const char *name) {
    for (int i = 0; i < ts->n; i++)
        if (strcmp(ts->t[i].name, name) == 0) return &ts->t[i];
    return NULL;
}

void ix_tensors_free(IxTensors *ts) {
    for (int i = 0; i < ts->n; i++) {
        free(ts->t[i].name);
        free(ts->t[i].data);
    }
    free(ts->t);
    memset(ts, 0, sizeof *ts);
}

void ix_shape_str(const int64_t *dims, int rank, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

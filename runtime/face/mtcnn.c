/* See mtcnn.h. */
#include "runtime/face/mtcnn.h"

#include <math.h>
#include <string.h>

/* the fully connected layers fed by a flattened S x S x C map */
static const struct {
    const char *net, *layer;
    int side;
} flattened[] = {{"rnet", "conv4", 3}, {"onet", "conv5", 3}};

int rt_mtcnn_load(RtVars *vars, const char *net, const RtNpyWeights *w, int adapt, RtStatus *st) {
    if (vars->prec != 4) return rt_fail(st, "MTCNN weights go into float32 variables");
    size_t plen = strlen(net);
    int filled = 0, expected = 0;
    for (int i = 0; i < vars->n; i++)
        expected += strncmp(vars->v[i].name, net, plen) == 0 && vars->v[i].name[plen] == '/';
    for (int i = 0; i < w->n; i++) {
        const RtNpyArray *a = &w->a[i];
        char name[512];
        snprintf(name, sizeof name, "%s/%s/%s", net, a->layer, a->param);
        RtVar *v = rt_vars_find(vars, name);
        if (!v) return rt_fail(st, "the %s weights have %s, which the net does not", net, name);
        int same = v->n == a->n && v->rank == a->rank;
        for (int k = 0; same && k < a->rank; k++) /* an adapted kernel has its spatial axes swapped */
            same = v->dims[k] == a->dims[adapt && a->rank == 4 && k < 2 ? 1 - k : k];
        if (!same) {
            char want[96] = "", got[96] = "";
            for (int k = 0, o = 0; k < v->rank; k++) o += snprintf(want + o, sizeof want - (size_t)o, "%s%lld", k ? "x" : "", (long long)v->dims[k]);
            for (int k = 0, o = 0; k < a->rank; k++) o += snprintf(got + o, sizeof got - (size_t)o, "%s%lld", k ? "x" : "", (long long)a->dims[k]);
            return rt_fail(st, "%s: the weights are %s, the net wants %s%s", name, got, want,
                           adapt && a->rank == 4 ? " (spatial axes swapped)" : "");
        }
        for (int64_t k = 0; k < a->n; k++) /* NaN, inf: a corrupted file, never a net */
            if (!isfinite(a->data[k]))
                return rt_fail(st, "array %s/%s has a non-finite value (%g) at index %lld", a->layer, a->param,
                               (double)a->data[k], (long long)k);
        float *dst = v->data;
        int side = 0;
        for (size_t k = 0; k < sizeof flattened / sizeof flattened[0]; k++)
            if (!strcmp(flattened[k].net, net) && !strcmp(flattened[k].layer, a->layer)) side = flattened[k].side;
        if (adapt && a->rank == 4) { /* [kh,kw,i,o] -> [kw,kh,i,o] */
            int64_t kh = a->dims[0], kw = a->dims[1], io = a->dims[2] * a->dims[3];
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++)
                    memcpy(dst + (x * kh + y) * io, a->data + (y * kw + x) * io, (size_t)io * sizeof(float));
        } else if (adapt && side && !strcmp(a->param, "weights")) { /* rows (w,h,c) -> (h,w,c) */
            int64_t cols = a->dims[1], c = a->dims[0] / (side * side);
            if (c * side * side != a->dims[0]) return rt_fail(st, "%s: %lld rows are not %dx%dxC", name, (long long)a->dims[0], side, side);
            for (int64_t h = 0; h < side; h++)
                for (int64_t x = 0; x < side; x++)
                    memcpy(dst + ((h * side + x) * c) * cols, a->data + ((x * side + h) * c) * cols,
                           (size_t)(c * cols) * sizeof(float));
        } else {
            memcpy(dst, a->data, (size_t)a->n * sizeof(float));
        }
        filled++;
    }
    if (filled != expected)
        return rt_fail(st, "the %s weights fill %d of the net's %d variables", net, filled, expected);
    return 0;
}

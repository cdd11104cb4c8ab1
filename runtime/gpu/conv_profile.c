/* See conv_profile.h. */
#include "runtime/gpu/conv_profile.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

static int same(IrOp op, const RefWindow *a, const GpuConvRow *r) {
    const RefWindow *b = &r->w;
    return r->op == op && a->n == b->n && a->h == b->h && a->w == b->w && a->c == b->c && a->kh == b->kh &&
           a->kw == b->kw && a->sh == b->sh && a->sw == b->sw && a->oh == b->oh && a->ow == b->ow && a->o == b->o &&
           a->pad_t == b->pad_t && a->pad_l == b->pad_l;
}

GpuConvRow *gpu_conv_profile_add(GpuConvProfile *p, IrOp op, const RefWindow *w, int phase, double s) {
    GpuConvRow *r = NULL;
    for (int i = 0; i < p->n && !r; i++)
        if (same(op, w, &p->row[i])) r = &p->row[i];
    if (!r) {
        if (p->n == p->cap) {
            int cap = p->cap * 2 + 16;
            GpuConvRow *grown = fn_realloc(p->row, (size_t)cap * sizeof *p->row);
            if (!grown) return NULL; /* out of memory: this lap goes uncounted */
            p->row = grown;
            p->cap = cap;
        }
        r = &p->row[p->n++];
        memset(r, 0, sizeof *r);
        r->op = op;
        r->w = *w;
    }
    r->s[phase] += s;
    return r;
}

static double total(const GpuConvRow *r) { return r->s[0] + r->s[1] + r->s[2]; }

static int by_total(const void *a, const void *b) {
    double x = total(a), y = total(b);
    return (x < y) - (x > y);
}

void gpu_conv_profile_print(const GpuConvProfile *p, int64_t steps, int top, FILE *f) {
    if (!p->n) return;
    GpuConvRow *rows = fn_malloc((size_t)p->n * sizeof *rows);
    if (!rows) return;
    memcpy(rows, p->row, (size_t)p->n * sizeof *rows);
    qsort(rows, (size_t)p->n, sizeof *rows, by_total);
    double all[GPU_CONV_PHASES] = {0}, sum = 0;
    for (int i = 0; i < p->n; i++)
        for (int k = 0; k < GPU_CONV_PHASES; k++) all[k] += rows[i].s[k], sum += rows[i].s[k];
    double per = steps > 0 ? 1e3 / (double)steps : 1e3;
    fprintf(f, "GPU convolutions by shape (ms per step; M x K x N of the GEMM): %.2f ms in all, im2col %.0f%%, GEMM %.0f%%, "
               "col2im %.0f%%\n",
            sum * per, sum > 0 ? 100 * all[0] / sum : 0, sum > 0 ? 100 * all[1] / sum : 0, sum > 0 ? 100 * all[2] / sum : 0);
    for (int i = 0; i < p->n && i < top; i++) {
        const GpuConvRow *r = &rows[i];
        const RefWindow *w = &r->w;
        long long m = (long long)w->n * w->oh * w->ow, k = (long long)w->kh * w->kw * w->c;
        long long gm = m, gk = k, gn = w->o; /* forward: [M, K] x [K, O] */
        if (r->op == IR_OP_CONV2D_BWD_DATA) gk = w->o, gn = k;          /* dy x w^T */
        else if (r->op == IR_OP_CONV2D_BWD_FILTER) gm = k, gk = m, gn = w->o; /* col^T x dy */
        double gemm_ms = r->s[GPU_CONV_GEMM] * per, calls = steps > 0 ? (double)r->calls / (double)steps : 1;
        fprintf(f, "  %-19s %dx%d/%d %4d -> %-4d %3dx%-3d %8lld x %5lld x %-5lld %8.3f ms: im2col %.3f, GEMM %.3f (%.1f TFLOP/s), "
                   "col2im %.3f%s\n",
                ir_op_info[r->op].name, w->kh, w->kw, w->sh, w->c, w->o, w->oh, w->ow, gm, gk, gn, total(r) * per,
                r->s[0] * per, gemm_ms, gemm_ms > 0 ? 2.0 * (double)gm * (double)gk * (double)gn * calls / (gemm_ms * 1e9) : 0,
                r->s[2] * per, r->implicit ? " (implicit GEMM)" : "");
    }
    free(rows);
}

void gpu_conv_profile_clear(GpuConvProfile *p) {
    for (int i = 0; i < p->n; i++) {
        memset(p->row[i].s, 0, sizeof p->row[i].s);
        p->row[i].calls = 0;
    }
}

void gpu_conv_profile_free(GpuConvProfile *p) {
    free(p->row);
    memset(p, 0, sizeof *p);
}

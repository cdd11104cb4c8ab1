/* Reference CPU kernels: the plain-C oracle every faster backend is tested against.
 *
 * What this is: one function per primitive op (forward, and the backward kernels that the
 * autodiff rules emit), on raw contiguous arrays, in two precisions. Every kernel exists as
 * `ref_<name>_f32` and `ref_<name>_f64` with the same argument list, `real` standing for the
 * element type (float or double). Labels are int32.
 * What this is not: fast. Convolutions go through im2col + BLAS gemm so that tests and the demo
 * stay quick; everything else is straightforward loops. No allocation except the caller-provided
 * scratch buffers; no global state; no error paths (shapes are checked by the IR verifier).
 *
 * Layouts: activations NHWC, conv weights HWIO ([kh, kw, cin, cout]), matrices row-major.
 * "SAME" padding follows TensorFlow: out = ceil(in / s), pad_total = max((out-1)*s + k - in, 0),
 * pad_before = pad_total / 2 (the extra pixel goes after). "VALID": out = (in - k) / s + 1.
 */
#ifndef FN_REF_H
#define FN_REF_H

#include <stdint.h>
#include <stddef.h>

/* Geometry of a conv or pool window over an NHWC tensor. Filled by ref_window_init. */
typedef struct {
    int n, h, w, c;        /* input  [n, h, w, c] */
    int kh, kw, sh, sw;    /* window and strides */
    int oh, ow;            /* output spatial size */
    int pad_t, pad_l;      /* padding before (top, left); the rest is after */
    int o;                 /* conv output channels (unused for pools) */
} RefWindow;

/* same_padding: 1 = SAME, 0 = VALID. */
void ref_window_init(RefWindow *win, int n, int h, int w, int c, int kh, int kw, int sh, int sw,
                     int same_padding, int o);

/* A 1x1, stride-1, unpadded window: the input already is the im2col matrix. */
int ref_conv_pointwise(const RefWindow *win);

/* Scratch floats (not bytes) the conv kernels need for im2col: n*oh*ow*kh*kw*c reals. */
size_t ref_conv_scratch(const RefWindow *win);

#define REF_DECLARE(real, sfx)                                                                     \
    /* y[M,N] = op(a) op(b); a is [M,K] (or [K,M] if ta), b is [K,N] (or [N,K] if tb). */         \
    void ref_matmul_##sfx(const real *a, const real *b, real *y, int m, int n, int k, int ta,     \
                          int tb);                                                                 \
    /* y[n,oh,ow,o] = conv(x[n,h,w,c], w[kh,kw,c,o]). */                                          \
    void ref_conv2d_##sfx(const real *x, const real *w, real *y, const RefWindow *win,            \
                          real *scratch);                                                          \
    /* im2col of output pixels p0..p1 of image b into col (one row of kh*kw*c per pixel), and  \
       its adjoint: those rows added back into dx (which the caller zeroes) */                     \
    void ref_im2col_rows_##sfx(const real *x, real *col, const RefWindow *win, int b, int64_t p0,   \
                               int64_t p1);                                                        \
    void ref_col2im_rows_##sfx(const real *col, real *dx, const RefWindow *win, int b, int64_t p0,  \
                               int64_t p1);                                                        \
    /* dx[n,h,w,c] from dy[n,oh,ow,o] and w. */                                                   \
    void ref_conv2d_bwd_data_##sfx(const real *dy, const real *w, real *dx, const RefWindow *win, \
                                   real *scratch);                                                 \
    /* dw[kh,kw,c,o] from x and dy. */                                                             \
    void ref_conv2d_bwd_filter_##sfx(const real *x, const real *dy, real *dw,                     \
                                     const RefWindow *win, real *scratch);                         \
    /* Max pool; padded cells never win (TF semantics). */                                        \
    void ref_maxpool_##sfx(const real *x, real *y, const RefWindow *win);                         \
    /* dx: each output's gradient goes to the first maximal input cell of its window. */          \
    void ref_maxpool_grad_##sfx(const real *x, const real *dy, real *dx, const RefWindow *win);   \
    /* Average pool; the divisor counts only in-bounds cells (TF semantics). */                   \
    void ref_avgpool_##sfx(const real *x, real *y, const RefWindow *win);                         \
    void ref_avgpool_grad_##sfx(const real *dy, real *dx, const RefWindow *win);                  \
    /* Softmax over the last axis of [rows, cols]; numerically stable. */                          \
    void ref_softmax_##sfx(const real *x, real *y, int rows, int cols);                           \
    /* loss[r] = -log softmax(x[r])[labels[r]]; stable (log-sum-exp). */                           \
    void ref_softmax_xent_##sfx(const real *x, const int32_t *labels, real *loss, int rows,       \
                                int cols);                                                         \
    /* dx[r,j] = g[r] * (softmax(x[r])[j] - (j == labels[r])). */                                 \
    void ref_softmax_xent_grad_##sfx(const real *x, const int32_t *labels, const real *g,         \
                                     real *dx, int rows, int cols);                                \
    /* y[r] = x[r] / sqrt(max(sum(x[r]^2), eps)). */                                               \
    void ref_l2norm_##sfx(const real *x, real *y, int rows, int cols, double eps);                \
    void ref_l2norm_grad_##sfx(const real *x, const real *dy, real *dx, int rows, int cols,       \
                               double eps);                                                        \
    /* Mean over rows of [argmax(x[r]) == labels[r]] (first maximum wins). */                      \
    real ref_accuracy_##sfx(const real *x, const int32_t *labels, int rows, int cols);

REF_DECLARE(float, f32)
REF_DECLARE(double, f64)
#undef REF_DECLARE

#endif

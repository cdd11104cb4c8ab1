/* Window geometry for the reference conv and pool kernels.
 *
 * What this is: ref_window_init (output size and padding, TensorFlow SAME/VALID rules) and
 * ref_conv_scratch (the im2col buffer size), ref_conv_pointwise (when no im2col is needed).
 * What this is not: a shape checker. A VALID window larger than its input yields an empty
 * output (oh or ow = 0) rather than an error; the IR verifier rejects such graphs earlier.
 */
#include "codegen/ref/ref.h"

/* One spatial axis: output size and padding before, per TensorFlow. */
static void window_axis(int in, int k, int s, int same_padding, int *out, int *pad_before) {
    if (same_padding) {
        int o = (in + s - 1) / s;
        int pad_total = (o - 1) * s + k - in;
        if (pad_total < 0) pad_total = 0;
        *out = o;
        *pad_before = pad_total / 2;
    } else {
        *out = in >= k ? (in - k) / s + 1 : 0;
        *pad_before = 0;
    }
}

void ref_window_init(RefWindow *win, int n, int h, int w, int c, int kh, int kw, int sh, int sw,
                     int same_padding, int o) {
    win->n = n;
    win->h = h;
    win->w = w;
    win->c = c;
    win->kh = kh;
    win->kw = kw;
    win->sh = sh;
    win->sw = sw;
    win->o = o;
    window_axis(h, kh, sh, same_padding, &win->oh, &win->pad_t);
    window_axis(w, kw, sw, same_padding, &win->ow, &win->pad_l);
}

size_t ref_conv_scratch(const RefWindow *win) {
    return (size_t)win->n * (size_t)win->oh * (size_t)win->ow * (size_t)win->kh * (size_t)win->kw *
           (size_t)win->c;
}

int ref_conv_pointwise(const RefWindow *v) {
    return v->kh == 1 && v->kw == 1 && v->sh == 1 && v->sw == 1 && v->pad_t == 0 && v->pad_l == 0 && v->oh == v->h &&
           v->ow == v->w;
}

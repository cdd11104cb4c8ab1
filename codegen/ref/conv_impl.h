/* Reference 2-D convolution (NHWC x HWIO), written once for both precisions (included twice
 * from conv.c).
 *
 * What this is: forward, backward-data and backward-filter via im2col into the caller's scratch
 * and one gemm each, the batch folded into the gemm's M dimension:
 *   col[n*oh*ow, kh*kw*c]  (one row per output pixel, columns ordered like w's [kh,kw,c])
 *   forward:     y[M,o]    = col[M,K] * w[K,o]
 *   bwd_data:    col[M,K]  = dy[M,o] * w[K,o]^T, then col2im adds each column back into dx
 *   bwd_filter:  dw[K,o]   = col[M,K]^T * dy[M,o]
 * A 1x1 stride-1 unpadded conv skips im2col: x itself is the column matrix. im2col and col2im
 * share the images among OpenMP threads (each image's cells are its own, so the result does
 * not depend on the thread count).
 * What this is not: grouped, dilated or bias-adding convolution.
 * Expects `real`, `SFX(name)` and conv_pixel (conv.c); the gemms go through
 * ref_matmul (CBLAS).
 */

/* Column rows p0..p1 of image b (output pixels p = oy*ow + ox; one row per pixel, laid out
 * like w's [kh,kw,c]); padded cells become 0. The in-bounds cells of one kernel row are
 * adjacent in x (NHWC), so each is one copy. */
void SFX(ref_im2col_rows)(const real *x, real *col, const RefWindow *win, int b, int64_t p0, int64_t p1) {
    size_t c = (size_t)win->c;
    size_t row_len = (size_t)win->kh * (size_t)win->kw * c;
    for (int64_t p = p0; p < p1; p++, col += row_len) {
        int oy = (int)(p / win->ow), ox = (int)(p % win->ow);
        int ix0 = ox * win->sw - win->pad_l;
        int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + win->kw > win->w ? win->w - ix0 : win->kw;
        if (kx1 < kx0) kx1 = kx0;
        for (int ky = 0; ky < win->kh; ky++) {
            int iy = oy * win->sh - win->pad_t + ky;
            real *dst = col + (size_t)ky * (size_t)win->kw * c; // [kw*c]
            if (iy < 0 || iy >= win->h) {
                memset(dst, 0, (size_t)win->kw * c * sizeof(real));
                continue;
            }
            if (kx0 > 0) memset(dst, 0, (size_t)kx0 * c * sizeof(real));
            if (kx1 > kx0)
                memcpy(dst + (size_t)kx0 * c, x + conv_pixel(win, b, iy, ix0 + kx0),
                       (size_t)(kx1 - kx0) * c * sizeof(real));
            if (kx1 < win->kw) memset(dst + (size_t)kx1 * c, 0, (size_t)(win->kw - kx1) * c * sizeof(real));
        }
    }
}

/* Adds column rows p0..p1 of image b back into dx (each column entry onto its input cell). */
void SFX(ref_col2im_rows)(const real *col, real *dx, const RefWindow *win, int b, int64_t p0, int64_t p1) {
    size_t c = (size_t)win->c;
    size_t row_len = (size_t)win->kh * (size_t)win->kw * c;
    for (int64_t p = p0; p < p1; p++, col += row_len) {
        int oy = (int)(p / win->ow), ox = (int)(p % win->ow);
        for (int ky = 0; ky < win->kh; ky++) {
            int iy = oy * win->sh - win->pad_t + ky;
            if (iy < 0 || iy >= win->h) continue;
            for (int kx = 0; kx < win->kw; kx++) {
                int ix = ox * win->sw - win->pad_l + kx;
                if (ix < 0 || ix >= win->w) continue;
                const real *src = col + ((size_t)ky * (size_t)win->kw + (size_t)kx) * c;
                real *dst = dx + conv_pixel(win, b, iy, ix); // [c]
                for (size_t ci = 0; ci < c; ci++)
                    dst[ci] += src[ci];
            }
        }
    }
}

/* col[n*oh*ow, kh*kw*c] from x[n,h,w,c], image by image. */
static void SFX(im2col)(const real *x, real *col, const RefWindow *win) {
    size_t pixels = (size_t)win->oh * (size_t)win->ow, row_len = (size_t)win->kh * (size_t)win->kw * (size_t)win->c;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < win->n; b++)
        SFX(ref_im2col_rows)(x, col + (size_t)b * pixels * row_len, win, b, 0, (int64_t)pixels);
}

/* dx[n,h,w,c] = sum of col[n*oh*ow, kh*kw*c] entries landing on each input cell. */
static void SFX(col2im)(const real *col, real *dx, const RefWindow *win) {
    size_t pixels = (size_t)win->oh * (size_t)win->ow, row_len = (size_t)win->kh * (size_t)win->kw * (size_t)win->c;
    size_t image = (size_t)win->h * (size_t)win->w * (size_t)win->c;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < win->n; b++) {
        memset(dx + (size_t)b * image, 0, image * sizeof(real));
        SFX(ref_col2im_rows)(col + (size_t)b * pixels * row_len, dx, win, b, 0, (int64_t)pixels);
    }
}

void SFX(ref_conv2d)(const real *x, const real *w, real *y, const RefWindow *win, real *scratch) {
    int m = win->n * win->oh * win->ow;
    int k = win->kh * win->kw * win->c;
    const real *col = x; // [m,k]
    if (!ref_conv_pointwise(win)) {
        SFX(im2col)(x, scratch, win);
        col = scratch;
    }
    SFX(ref_matmul)(col, w, y, m, win->o, k, 0, 0); // [n,oh,ow,o]
}

void SFX(ref_conv2d_bwd_data)(const real *dy, const real *w, real *dx, const RefWindow *win,
                              real *scratch) {
    int m = win->n * win->oh * win->ow;
    int k = win->kh * win->kw * win->c;
    if (ref_conv_pointwise(win)) {
        SFX(ref_matmul)(dy, w, dx, m, k, win->o, 0, 1); // [n,h,w,c]
        return;
    }
    SFX(ref_matmul)(dy, w, scratch, m, k, win->o, 0, 1); // col [m,k]
    SFX(col2im)(scratch, dx, win);
}

void SFX(ref_conv2d_bwd_filter)(const real *x, const real *dy, real *dw, const RefWindow *win,
                                real *scratch) {
    int m = win->n * win->oh * win->ow;
    int k = win->kh * win->kw * win->c;
    const real *col = x; // [m,k]
    if (!ref_conv_pointwise(win)) {
        SFX(im2col)(x, scratch, win);
        col = scratch;
    }
    SFX(ref_matmul)(col, dy, dw, k, win->o, m, 1, 0); // [kh,kw,c,o]
}

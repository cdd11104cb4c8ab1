/* Reference max and average pooling (NHWC), written once for both precisions (included twice
 * from pool.c).
 *
 * What this is: forward and gradient of max pool (padded cells never win; the gradient goes to
 * the first maximal cell in row-major window order) and average pool (the divisor counts only
 * in-bounds cells), all as direct loops. Average-pool sums accumulate in double.
 * What this is not: fast, or a pool over the channel or batch axes.
 * Expects `real`, `SFX(name)`, pool_clip, pool_index and pool_input_size (pool.c).
 */

/* The maximum over the window's in-bounds cells, channels innermost. */
void SFX(ref_maxpool)(const real *x, real *y, const RefWindow *win) {
    real *out = y; // [n,oh,ow,c]
    const int c = win->c;
    for (int b = 0; b < win->n; b++)
        for (int oy = 0; oy < win->oh; oy++)
            for (int ox = 0; ox < win->ow; ox++, out += c) {
                int y0, y1, x0, x1;
                pool_clip(oy * win->sh - win->pad_t, win->kh, win->h, &y0, &y1);
                pool_clip(ox * win->sw - win->pad_l, win->kw, win->w, &x0, &x1);
                memcpy(out, x + pool_index(win, b, y0, x0, 0), (size_t)c * sizeof(real));
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        const real *v = x + pool_index(win, b, iy, ix, 0);
                        for (int ci = 0; ci < c; ci++) out[ci] = v[ci] > out[ci] ? v[ci] : out[ci];
                    }
            }
}

/* Each output cell's gradient goes to the first maximal in-bounds cell of its window in
 * row-major order (padding never wins), found for a block of channels at once so that x is read in memory order. Images are
 * independent, so they are shared among threads; the result does not depend on their number. */
void SFX(ref_maxpool_grad)(const real *x, const real *dy, real *dx, const RefWindow *win) {
    enum { CB = 64 };
    const size_t image = pool_input_size(win) / (size_t)(win->n > 0 ? win->n : 1);
#pragma omp parallel for schedule(static)
    for (int b = 0; b < win->n; b++) {
        memset(dx + (size_t)b * image, 0, image * sizeof(real)); // [h,w,c]
        for (int oy = 0; oy < win->oh; oy++)
            for (int ox = 0; ox < win->ow; ox++) {
                const real *g = dy + (((size_t)b * (size_t)win->oh + (size_t)oy) * (size_t)win->ow + (size_t)ox) * (size_t)win->c;
                int y0, y1, x0, x1;
                pool_clip(oy * win->sh - win->pad_t, win->kh, win->h, &y0, &y1);
                pool_clip(ox * win->sw - win->pad_l, win->kw, win->w, &x0, &x1);
                for (int c0 = 0; c0 < win->c; c0 += CB) {
                    int nc = win->c - c0 < CB ? win->c - c0 : CB;
                    size_t best[CB];
                    real bv[CB]; /* the best values, beside their indices: no gathers */
                    for (int ci = 0; ci < nc; ci++) {
                        best[ci] = pool_index(win, b, y0, x0, c0 + ci);
                        bv[ci] = x[best[ci]];
                    }
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            size_t i0 = pool_index(win, b, iy, ix, c0);
                            for (int ci = 0; ci < nc; ci++) {
                                real v = x[i0 + (size_t)ci];
                                int better = v > bv[ci];
                                bv[ci] = better ? v : bv[ci];
                                best[ci] = better ? i0 + (size_t)ci : best[ci];
                            }
                        }
                    for (int ci = 0; ci < nc; ci++) dx[best[ci]] += g[c0 + ci];
                }
            }
    }
}

void SFX(ref_avgpool)(const real *x, real *y, const RefWindow *win) {
    real *out = y; // [n,oh,ow,c]
    for (int b = 0; b < win->n; b++)
        for (int oy = 0; oy < win->oh; oy++)
            for (int ox = 0; ox < win->ow; ox++) {
                int y0, y1, x0, x1;
                pool_clip(oy * win->sh - win->pad_t, win->kh, win->h, &y0, &y1);
                pool_clip(ox * win->sw - win->pad_l, win->kw, win->w, &x0, &x1);
                double count = (double)(y1 - y0) * (double)(x1 - x0);
                for (int ci = 0; ci < win->c; ci++) {
                    double sum = 0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            sum += x[pool_index(win, b, iy, ix, ci)];
                    *out++ = (real)(count > 0 ? sum / count : 0);
                }
            }
}

void SFX(ref_avgpool_grad)(const real *dy, real *dx, const RefWindow *win) {
    memset(dx, 0, pool_input_size(win) * sizeof(real)); // [n,h,w,c]
    const real *g = dy;                                 // [n,oh,ow,c]
    for (int b = 0; b < win->n; b++)
        for (int oy = 0; oy < win->oh; oy++)
            for (int ox = 0; ox < win->ow; ox++, g += win->c) {
                int y0, y1, x0, x1;
                pool_clip(oy * win->sh - win->pad_t, win->kh, win->h, &y0, &y1);
                pool_clip(ox * win->sw - win->pad_l, win->kw, win->w, &x0, &x1);
                double count = (double)(y1 - y0) * (double)(x1 - x0);
                if (count <= 0) continue;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        real *d = dx + pool_index(win, b, iy, ix, 0); // [c]
                        for (int ci = 0; ci < win->c; ci++)
                            d[ci] += (real)(g[ci] / count);
                    }
            }
}

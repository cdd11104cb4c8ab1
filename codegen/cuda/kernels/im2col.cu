/* Fixed CUDA kernels of cuda_emit.c: im2col and col2im, conversions to bfloat16.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_im2col
/* col[n*oh*ow, kh*kw*c] from x[n,h,w,c]; padded cells are 0. A thread per output pixel and
 * channel walks the window, so the pixel's coordinates are divided out once, not per cell; the
 * two never overlap (__restrict__), so the cells' loads need not wait for the last store.
 * The columns in float32 or bfloat16 (fn_im2col_bf16) */
template <typename T, typename X> __device__ inline void fn_im2col_at(T *__restrict__ col, const X *__restrict__ x, const FnWin &w) {
    fn_i64 row_len = (fn_i64)w.kh * w.kw * w.c;
    FN_LOOP(i, (fn_i64)w.n * w.oh * w.ow * w.c) {
        int b, oy, ox, ci;
        fn_nhwc_d(i, w.doh, w.dow, w.dc, &b, &oy, &ox, &ci);
        T *dst = col + (((fn_i64)b * w.oh + oy) * w.ow + ox) * row_len + ci;
        for (int ky = 0; ky < w.kh; ky++) {
            int iy = oy * w.sh - w.pad_t + ky;
            for (int kx = 0; kx < w.kw; kx++) {
                int ix = ox * w.sw - w.pad_l + kx;
                fn_put(&dst[(ky * w.kw + kx) * w.c], iy < 0 || iy >= w.h || ix < 0 || ix >= w.w ? 0.f : (float)x[fn_pix(w, b, iy, ix) + ci]);
            }
        }
    }
}
extern "C" __global__ void fn_im2col(float *__restrict__ col, const FN_TA *__restrict__ x, FnWin w) {
    fn_im2col_at(col, x, w);
}

//@ fn_im2col_bf16
extern "C" __global__ void fn_im2col_bf16(fn_bf16 *__restrict__ col, const FN_TA *__restrict__ x, FnWin w) {
    fn_im2col_at(col, x, w);
}

//@ fn_col2im
/* dx[n,h,w,c]: the col entries landing on each cell, added in output order as the CPU. The
 * window is walked backwards (outputs in ascending order) over every cell, those of no output
 * skipped, so that the loop has fixed bounds and its loads can be in flight together. The
 * columns in float32 or bfloat16 (fn_col2im_bf16) */
template <typename X, typename T> __device__ inline void fn_col2im_at(X *dx, const T *col, const FnWin &w) {
    fn_i64 row_len = (fn_i64)w.kh * w.kw * w.c;
    FN_LOOP(i, (fn_i64)w.n * w.h * w.w * w.c) {
        int b, iy, ix, ci;
        fn_nhwc_d(i, w.dh, w.dw, w.dc, &b, &iy, &ix, &ci);
        float s = 0.f;
        for (int ky = w.kh - 1; ky >= 0; ky--) {
            int ty = iy + w.pad_t - ky, oy = w.sh == 1 || ty < 0 ? ty : fn_udiv(ty, w.dsh);
            if (ty < 0 || oy >= w.oh || oy * w.sh != ty) continue;
            const T *at = col + (((fn_i64)b * w.oh + oy) * w.ow) * row_len + (fn_i64)ky * w.kw * w.c + ci;
            for (int kx = w.kw - 1; kx >= 0; kx--) {
                int tx = ix + w.pad_l - kx, ox = w.sw == 1 || tx < 0 ? tx : fn_udiv(tx, w.dsw);
                if (tx >= 0 && ox < w.ow && ox * w.sw == tx) s += fn_get(&at[ox * row_len + kx * w.c]);
            }
        }
        dx[i] = s;
    }
}
extern "C" __global__ void fn_col2im(FN_TY *dx, const float *col, FnWin w) {
    fn_col2im_at(dx, col, w);
}

//@ fn_col2im_bf16
extern "C" __global__ void fn_col2im_bf16(FN_TY *dx, const fn_bf16 *col, FnWin w) {
    fn_col2im_at(dx, col, w);
}

//@ fn_to_bf16_segs
/* the weights a step's GEMMs take in bfloat16, rounded once at its start: segment blockIdx.y */
struct FnSeg { const float *x; fn_bf16 *y; fn_i64 n; };
extern "C" __global__ void fn_to_bf16_segs(const FnSeg *segs) {
    FnSeg s = segs[blockIdx.y];
    FN_LOOP(i, s.n) s.y[i] = s.x[i];
}

//@ fn_to_bf16
/* y = x rounded to bfloat16 (the GEMM operands of FN_GPU_BF16) */
extern "C" __global__ void fn_to_bf16(fn_bf16 *y, const float *x, fn_i64 n) {
    FN_LOOP(i, n) y[i] = x[i];
}

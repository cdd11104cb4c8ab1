/* Fixed CUDA kernels of cuda_emit.c: fill, the moving averages' step, copies.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_fill
extern "C" __global__ void fn_fill(float *y, fn_i64 n, float f) {
    FN_LOOP(i, n) y[i] = f;
}

//@ fn_ema
/* the moving averages' step: s -= k (s - v), rounded as the host's rt_ema_update (no FMA) */
extern "C" __global__ void fn_ema(float *s, const float *v, fn_i64 n, float k) {
    FN_LOOP(i, n) s[i] = __fsub_rn(s[i], __fmul_rn(k, __fsub_rn(s[i], v[i])));
}

//@ fn_copy_segs
/* the step's assignments not computed in place: each value copied into its variable, bit for
 * bit, at the step's end, all in one launch (segment blockIdx.y) */
struct FnCopy { const unsigned *x; unsigned *y; fn_i64 n; };
extern "C" __global__ void fn_copy_segs(const FnCopy *segs) {
    FnCopy s = segs[blockIdx.y];
    FN_LOOP(i, s.n) s.y[i] = s.x[i];
}

//@ fn_copy
extern "C" __global__ void fn_copy(FN_TY *y, const FN_TA *a, fn_i64 n) {
    FN_LOOP(i, n) y[i] = a[i];
}

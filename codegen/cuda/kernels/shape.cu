/* Fixed CUDA kernels of cuda_emit.c: broadcasts, slices, concatenation.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_bcast
extern "C" __global__ void fn_bcast(FN_TY *y, const float *a, fn_i64 n, fn_i64 na, float s) {
    FN_LOOP(i, n) y[i] = a[fn_mod(i, na)] * s;
}

//@ fn_bcast_last
extern "C" __global__ void fn_bcast_last(float *y, const float *a, fn_i64 rows, fn_i64 c, int mean) {
    FN_LOOP(i, rows * c) { float v = a[fn_div(i, c)]; y[i] = mean ? v / (float)c : v; }
}

//@ fn_slice
extern "C" __global__ void fn_slice(FN_TY *y, const FN_TA *a, fn_i64 outer, fn_i64 src_ax, fn_i64 len,
                                     fn_i64 start, fn_i64 inner) {
    FnRows q = fn_rows(len * inner);
    FN_LOOP(i, outer * len * inner) {
        y[i] = a[(q.o * src_ax + start) * inner + q.r];
        fn_rows_next(q);
    }
}

//@ fn_concat_part
/* one input of a concat, written at offset off along the axis */
extern "C" __global__ void fn_concat_part(FN_TY *y, const FN_TA *x, fn_i64 outer, fn_i64 y_ax, fn_i64 off,
                                           fn_i64 len, fn_i64 inner) {
    FnRows q = fn_rows(len * inner);
    FN_LOOP(i, outer * len * inner) {
        y[(q.o * y_ax + off) * inner + q.r] = x[i];
        fn_rows_next(q);
    }
}

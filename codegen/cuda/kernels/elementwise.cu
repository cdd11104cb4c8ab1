/* The elementwise templates, printf formats for cuda_emit.c: %s is the kernel's name, then
 * the expressions. cu_unary: y = f(v), v = a[i], with the scalar attribute f; cu_binary: suffix
 * broadcasting, x = a[...], z = b[...].
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ cu_unary
extern "C" __global__ void %s(float *y, const float *a, fn_i64 n, float f) {
    FN_LOOP(i, n) { float v = a[i]; y[i] = %s; }
}

//@ cu_binary
extern "C" __global__ void %s(float *y, const float *a, const float *b, fn_i64 n, fn_i64 na, fn_i64 nb) {
    FN_LOOP(i, n) { float x = %s, z = %s; y[i] = %s; }
}

/* What the implicit-GEMM convolution kernels use of CUDA beyond the shims' basics, for modules
 * compiled as host C++: float4, uint2 and __align__, and the tensor cores' warp-wide product
 * (fn_mma_32x32x8 and fn_tf32, which the module prelude defines with inline PTX unless
 * FN_HOST_EMULATION is set):
 * each lane's share of the product, read straight from shared memory in float32, since a thread
 * here cannot see the others' registers. The store of each lane's share, and everything around
 * the product, run as written; the fragment loads of the PTX version only run on a card. */
#ifndef FN_TESTS_HOSTCUDA_MMA_SHIM_H
#define FN_TESTS_HOSTCUDA_MMA_SHIM_H

#define FN_HOST_MMA_SHIM \
    "#define FN_HOST_EMULATION 1\n" \
    "#define __align__(n) __attribute__((aligned(n)))\n" \
    "struct __attribute__((aligned(16))) float4 { float x, y, z, w; };\n" \
    "static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }\n" \
    "struct __attribute__((aligned(8))) uint2 { unsigned x, y; };\n" \
    "static inline float fn_tf32(float v) { return v; }\n" \
    "static inline void fn_mma_32x32x8(float acc[2][4][4], const float *a, int sr, int sc, const float *b, int ldb) {\n" \
    "    int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;\n" \
    "    for (int mt = 0; mt < 2; mt++) for (int nt = 0; nt < 4; nt++) for (int r = 0; r < 4; r++) {\n" \
    "        int row = mt * 16 + g + 8 * (r >> 1), col = nt * 8 + 2 * t + (r & 1);\n" \
    "        float s = 0.f;\n" \
    "        for (int k = 0; k < 8; k++) s += a[row * sr + k * sc] * b[k * ldb + col];\n" \
    "        acc[mt][nt][r] += s;\n" \
    "    }\n" \
    "}\n"

#endif

/* Fixed CUDA kernels of cuda_emit.c: convolutions as implicit GEMMs on the tensor cores.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_conv_igemm
/* Convolutions as implicit GEMMs on the tensor cores (TF32 operands, float32 sums): the window's
 * cells are gathered into shared memory a tile at a time, never into a column matrix.
 * data 0, forward:        y[n,oh,ow,o] = sum over (ky,kx,ci) of x[n, oy*sh-pad_t+ky, ox*sw-pad_l+kx, ci] wt[ky,kx,ci,o]
 * data 1, data gradient:  y[n,h,w,c]   = sum over (ky,kx,o) of dy[n, oy, ox, o] wt[ky,kx,c,o], oy*sh = iy+pad_t-ky
 * A block (4 warps) makes 128 rows x 32 columns of y, 32 of the sum at a time, the next 32 loaded
 * into registers while the tensor cores take these (4 channels a load where they are a multiple
 * of 4); a warp makes 32 x 32. */
/* The geometry of a gather: the gathered tensor's height, width and channels (x's, or dy's for
 * the data gradient) and the window over it */
struct FnGather { int gh, gw, kc, kw, sh, sw, data; };
/* a row's window corner (iy, ix) moved to the window's cell (ky, kx) of the gathered tensor;
 * false in the padding or, for a strided data gradient, between outputs */
__device__ __forceinline__ bool fn_gather_cell(const FnGather &q, int ky, int kx, int &iy, int &ix) {
    if (q.data) {
        iy -= ky;
        ix -= kx;
        if (q.sh != 1 || q.sw != 1) {
            iy = iy >= 0 && iy % q.sh == 0 ? iy / q.sh : -1;
            ix = ix >= 0 && ix % q.sw == 0 ? ix / q.sw : -1;
        }
    } else {
        iy += ky;
        ix += kx;
    }
    return iy >= 0 && iy < q.gh && ix >= 0 && ix < q.gw;
}
/* v[j] = the gathered tensor's value for column k of the sum at row warp + 4j, whose image
 * offset and window corner are base, ry and rx */
template <typename T> __device__ __forceinline__ void fn_gather32(float v[32], const T *src, const FnGather &q, int k, int K, const fn_i64 *base,
                                            const int *ry, const int *rx, int warp) {
    int cell = k / q.kc, ci = k - cell * q.kc, ky = cell / q.kw, kx = cell - ky * q.kw;
#pragma unroll
    for (int j = 0; j < 32; j++) {
        int r = warp + 4 * j, iy = ry[r], ix = rx[r];
        fn_i64 b = base[r];
        v[j] = k < K && b >= 0 && fn_gather_cell(q, ky, kx, iy, ix) ? (float)src[b + (iy * q.gw + ix) * q.kc + ci] : 0.f;
    }
}
/* v[j] = the weights' value at row k0 + warp + 4j of the sum, column c (w[k][o] forward, w[cell][c][o]
 * for the data gradient) */
__device__ __forceinline__ void fn_weights8(float v[8], const float *wt, const FnWin &w, int data, int k0, int K, int c,
                                            int ncol, int warp) {
    int cl = 0, o = 0; /* the data gradient's row k0 + warp + 4j as (cell, o): one division, then steps */
    if (data) {
        cl = (k0 + warp) / w.o;
        o = k0 + warp - cl * w.o;
    }
    for (int j = 0; j < 8; j++) {
        int kr = k0 + warp + 4 * j;
        if (kr >= K || c >= ncol) v[j] = 0.f;
        else if (data) v[j] = wt[((fn_i64)cl * w.c + c) * w.o + o];
        else v[j] = wt[(fn_i64)kr * w.o + c];
        for (o += 4; data && o >= w.o; o -= w.o) cl++;
    }
}
/* column k of the sum as its window cell (ky, kx) and channel ci: by division once, then
 * stepped 32 columns a tile (fn_cell_next: no division; kc is at least 4 where it is used) */
struct FnCell { int k, ky, kx, ci; };
__device__ __forceinline__ FnCell fn_cell_at(const FnGather &q, int k) {
    int cell = k / q.kc, ky = cell / q.kw;
    return FnCell{k, ky, cell - ky * q.kw, k - cell * q.kc};
}
__device__ __forceinline__ void fn_cell_next(const FnGather &q, FnCell &c) {
    c.k += 32;
    for (c.ci += 32; c.ci >= q.kc; c.ci -= q.kc)
        if (++c.kx == q.kw) c.kx = 0, c.ky++;
}
/* as fn_gather32 with 4 channels a load (kc a multiple of 4): v[4j..4j+3] for columns c.k..c.k+3
 * at row rg + 16j */
template <typename T> __device__ __forceinline__ void fn_gather32v(float v[32], const T *src, const FnGather &q, const FnCell &c, int K,
                                             const fn_i64 *base, const int *ry, const int *rx, int rg) {
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int r = rg + 16 * j, iy = ry[r], ix = rx[r];
        fn_i64 b = base[r];
        if (c.k < K && b >= 0 && fn_gather_cell(q, c.ky, c.kx, iy, ix)) fn_load4(src + b + (iy * q.gw + ix) * q.kc + c.ci, v + 4 * j);
        else v[4 * j] = v[4 * j + 1] = v[4 * j + 2] = v[4 * j + 3] = 0.f;
    }
}
extern "C" __global__ void fn_conv_igemm(FN_TY *y, const FN_TA *src, const float *wt, FnWin w, int data) {
    __shared__ __align__(16) float as[128][36];
    __shared__ float bs[32][40];
    __shared__ fn_i64 base[128];
    __shared__ int ry[128], rx[128];
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    FnGather q = {data ? w.oh : w.h, data ? w.ow : w.w, data ? w.o : w.c, w.kw, w.sh, w.sw, data};
    int rh = data ? w.h : w.oh, rw = data ? w.w : w.ow, ncol = data ? w.c : w.o; /* the rows' height and width */
    fn_i64 M = (fn_i64)w.n * rh * rw, m0 = (fn_i64)blockIdx.x * 128, m = m0 + tid;
    int K = w.kh * w.kw * q.kc, n0 = blockIdx.y * 32;
    if (m < M) { /* each row's image and window corner */
        int px = (int)fn_mod(m, rw);
        fn_i64 r = fn_div(m, rw);
        base[tid] = fn_div(r, rh) * q.gh * q.gw * q.kc;
        ry[tid] = data ? (int)fn_mod(r, rh) + w.pad_t : (int)fn_mod(r, rh) * w.sh - w.pad_t;
        rx[tid] = data ? px + w.pad_l : px * w.sw - w.pad_l;
    } else base[tid] = -1;
    float acc[2][4][4], va[32], vb[8];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.f;
    __syncthreads();
    /* vec: 4 channels a load, thread (row group rg, quad qd) taking columns 4qd..4qd+3 of rows
     * rg, rg + 16, ...; else a column (lane) of rows warp, warp + 4, ... */
    int vec = q.kc % 4 == 0, rg = tid >> 3, qd = tid & 7;
    FnCell cell = fn_cell_at(q, 4 * qd); /* the vec gather's columns, tile by tile */
    if (vec) fn_gather32v(va, src, q, cell, K, base, ry, rx, rg);
    else fn_gather32(va, src, q, lane, K, base, ry, rx, warp);
    fn_weights8(vb, wt, w, data, 0, K, n0 + lane, ncol, warp);
    for (int k0 = 0; k0 < K; k0 += 32) {
        if (vec)
            for (int j = 0; j < 8; j++)
                *(float4 *)&as[rg + 16 * j][4 * qd] =
                    make_float4(fn_tf32(va[4 * j]), fn_tf32(va[4 * j + 1]), fn_tf32(va[4 * j + 2]), fn_tf32(va[4 * j + 3]));
        else
            for (int j = 0; j < 32; j++) as[warp + 4 * j][lane] = fn_tf32(va[j]);
        for (int j = 0; j < 8; j++) bs[warp + 4 * j][lane] = fn_tf32(vb[j]);
        __syncthreads();
        if (k0 + 32 < K) { /* the next 32 of the sum, in flight meanwhile */
            if (vec) {
                fn_cell_next(q, cell);
                fn_gather32v(va, src, q, cell, K, base, ry, rx, rg);
            } else {
                fn_gather32(va, src, q, k0 + 32 + lane, K, base, ry, rx, warp);
            }
            fn_weights8(vb, wt, w, data, k0 + 32, K, n0 + lane, ncol, warp);
        }
        for (int kk = 0; kk < 32; kk += 8) fn_mma_32x32x8(acc, &as[warp * 32][kk], 36, 1, &bs[kk][0], 40);
        __syncthreads();
    }
    int g = lane >> 2, t = lane & 3;
    for (int mt = 0; mt < 2; mt++)
        for (int nt = 0; nt < 4; nt++)
            for (int r = 0; r < 4; r++) {
                fn_i64 row = m0 + warp * 32 + mt * 16 + g + 8 * (r >> 1);
                int c = n0 + nt * 8 + 2 * t + (r & 1);
                if (row < M && c < ncol) y[row * ncol + c] = acc[mt][nt][r];
            }
}

//@ fn_conv_igemm_filter
/* The filter gradient as an implicit GEMM (TF32 operands, float32 sums): part[s][k][o] = the sum,
 * over the rows m of split s (`chunk` of them), of x's window cell k at output pixel m times
 * dy[m][o]; k = (ky*kw + kx)*c + ci as in fn_conv_igemm. A block (4 warps) makes 128 k x 32 o,
 * a warp 32 k x 32 o, 32 rows at a time, the next 32 loaded into registers meanwhile (4
 * channels a load where they are a multiple of 4); fn_sum_lead adds the splits up. */
/* rows m0 .. m0+31's image offsets (-1 past r1) and window corners, by the first 32 threads */
__device__ __forceinline__ void fn_filter_rows(fn_i64 *base, int *ry, int *rx, const FnWin &w, fn_i64 m0, fn_i64 r1) {
    int tid = threadIdx.x;
    if (tid >= 32) return;
    fn_i64 m = m0 + tid;
    if (m < r1) { /* output pixel m as (image b, row oy, column ox) */
        int b, oy, ox;
        if (m >> 31) {
            fn_i64 r = fn_div(m, w.ow);
            ox = (int)fn_mod(m, w.ow), oy = (int)fn_mod(r, w.oh), b = (int)fn_div(r, w.oh);
        } else {
            int r = fn_udiv((int)m, w.dow);
            ox = (int)m - r * w.ow, b = fn_udiv(r, w.doh), oy = r - b * w.oh;
        }
        base[tid] = (fn_i64)b * w.h * w.w * w.c;
        ry[tid] = oy * w.sh - w.pad_t;
        rx[tid] = ox * w.sw - w.pad_l;
    } else base[tid] = -1;
}
/* the thread's column k of x's window cells (cell ky, kx, channel ci) at the 32 rows */
template <typename T> __device__ __forceinline__ void fn_filter_load(float va[32], const T *x, const FnWin &w, int k, int K, int ky, int kx,
                                               int ci, const fn_i64 *base, const int *ry, const int *rx) {
#pragma unroll
    for (int j = 0; j < 32; j++) {
        fn_i64 b = base[j];
        int iy = ry[j] + ky, ix = rx[j] + kx;
        va[j] = k < K && b >= 0 && iy >= 0 && iy < w.h && ix >= 0 && ix < w.w ? (float)x[b + (iy * w.w + ix) * w.c + ci] : 0.f;
    }
}
/* as fn_filter_load's x part with 4 channels a load (c a multiple of 4): va[4j..4j+3] for the
 * thread's columns k..k+3 at row rg + 4j */
template <typename T> __device__ __forceinline__ void fn_filter_load4(float va[32], const T *x, const FnWin &w, int k, int K, int ky, int kx,
                                                int ci, int rg, const fn_i64 *base, const int *ry, const int *rx) {
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int r = rg + 4 * j, iy = ry[r] + ky, ix = rx[r] + kx;
        fn_i64 b = base[r];
        if (k < K && b >= 0 && iy >= 0 && iy < w.h && ix >= 0 && ix < w.w) fn_load4(x + b + (iy * w.w + ix) * w.c + ci, va + 4 * j);
        else va[4 * j] = va[4 * j + 1] = va[4 * j + 2] = va[4 * j + 3] = 0.f;
    }
}
/* dy's rows warp + 4j at column o */
template <typename T> __device__ __forceinline__ void fn_filter_dy(float vb[8], const T *dy, const FnWin &w, int o, fn_i64 m0, const fn_i64 *base) {
    for (int j = 0; j < 8; j++) {
        int r = (threadIdx.x >> 5) + 4 * j;
        vb[j] = base[r] >= 0 && o < w.o ? (float)dy[(m0 + r) * w.o + o] : 0.f;
    }
}
extern "C" __global__ void fn_conv_igemm_filter(float *part, const FN_TA *x, const FN_TB *dy, FnWin w, fn_i64 chunk) {
    __shared__ __align__(16) float as[32][136];
    __shared__ float bs[32][40];
    __shared__ fn_i64 base[2][32];
    __shared__ int ry[2][32], rx[2][32];
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    /* vec: 4 channels a load, the thread taking columns 4 lane .. 4 lane + 3 of rows warp, warp + 4,
     * ...; else column tid of every row */
    int vec = w.c % 4 == 0, K = w.kh * w.kw * w.c, k = blockIdx.x * 128 + (vec ? 4 * lane : tid), o = blockIdx.y * 32 + lane;
    int cell = k / w.c, ci = k - cell * w.c, ky = cell / w.kw, kx = cell - ky * w.kw;
    fn_i64 M = (fn_i64)w.n * w.oh * w.ow, r0 = (fn_i64)blockIdx.z * chunk;
    fn_i64 r1 = r0 + chunk < M ? r0 + chunk : M;
    float acc[2][4][4], va[32], vb[8];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.f;
    fn_filter_rows(base[0], ry[0], rx[0], w, r0, r1);
    __syncthreads();
    if (vec) fn_filter_load4(va, x, w, k, K, ky, kx, ci, warp, base[0], ry[0], rx[0]);
    else fn_filter_load(va, x, w, k, K, ky, kx, ci, base[0], ry[0], rx[0]);
    fn_filter_dy(vb, dy, w, o, r0, base[0]);
    int cur = 0;
    for (fn_i64 m0 = r0; m0 < r1; m0 += 32, cur ^= 1) {
        if (vec)
            for (int j = 0; j < 8; j++)
                *(float4 *)&as[warp + 4 * j][4 * lane] =
                    make_float4(fn_tf32(va[4 * j]), fn_tf32(va[4 * j + 1]), fn_tf32(va[4 * j + 2]), fn_tf32(va[4 * j + 3]));
        else
            for (int j = 0; j < 32; j++) as[j][tid] = fn_tf32(va[j]);
        for (int j = 0; j < 8; j++) bs[warp + 4 * j][lane] = fn_tf32(vb[j]);
        fn_filter_rows(base[cur ^ 1], ry[cur ^ 1], rx[cur ^ 1], w, m0 + 32, r1);
        __syncthreads();
        if (m0 + 32 < r1) { /* the next 32 rows, in flight meanwhile */
            if (vec) fn_filter_load4(va, x, w, k, K, ky, kx, ci, warp, base[cur ^ 1], ry[cur ^ 1], rx[cur ^ 1]);
            else fn_filter_load(va, x, w, k, K, ky, kx, ci, base[cur ^ 1], ry[cur ^ 1], rx[cur ^ 1]);
            fn_filter_dy(vb, dy, w, o, m0 + 32, base[cur ^ 1]);
        }
        for (int kk = 0; kk < 32; kk += 8) fn_mma_32x32x8(acc, &as[kk][warp * 32], 1, 136, &bs[kk][0], 40);
        __syncthreads();
    }
    int g = lane >> 2, t = lane & 3;
    float *dst = part + (fn_i64)blockIdx.z * K * w.o;
    for (int mt = 0; mt < 2; mt++)
        for (int nt = 0; nt < 4; nt++)
            for (int r = 0; r < 4; r++) {
                int kr = blockIdx.x * 128 + warp * 32 + mt * 16 + g + 8 * (r >> 1), oc = blockIdx.y * 32 + nt * 8 + 2 * t + (r & 1);
                if (kr < K && oc < w.o) dst[(fn_i64)kr * w.o + oc] = acc[mt][nt][r];
            }
}

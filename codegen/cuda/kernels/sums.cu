/* Fixed CUDA kernels of cuda_emit.c: sums and means over leading and last axes.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_sum_lead_part
extern "C" __global__ void fn_sum_lead_part(float *part, const FN_TA *a, fn_i64 ny, fn_i64 k, fn_i64 chunk,
                                             int mean, fn_i64 n_mean) {
    fn_sum_lead_at(part, a, ny, k, chunk, mean, n_mean, blockIdx.x, blockIdx.y);
}

//@ fn_sum_lead_multi
extern "C" __global__ void fn_sum_lead_multi(FnSums q) {
    const FnSum &s = q.s[blockIdx.z];
    if ((fn_i64)blockIdx.x * 32 >= s.ny) return; /* the whole block: a shorter sum */
    fn_sum_lead_at(s.y, s.a, s.ny, s.k, s.k, s.mean, s.n_mean, blockIdx.x, 0);
}

//@ fn_sum_lead
/* y[j] = sum_i a[i*ny + j] over k rows (the splits' partial sums), / n_mean for a mean */
extern "C" __global__ void fn_sum_lead(float *y, const float *a, fn_i64 ny, fn_i64 k, int mean, fn_i64 n_mean) {
    FN_LOOP(j, ny) {
        float s = 0.f;
        for (fn_i64 i = 0; i < k; i++) s += a[i * ny + j];
        y[j] = mean ? s / (float)n_mean : s;
    }
}

//@ fn_sum_last
/* short rows: one thread per row */
extern "C" __global__ void fn_sum_last(float *y, const float *a, fn_i64 rows, fn_i64 c, int mean) {
    FN_LOOP(r, rows) {
        float s = 0.f;
        for (fn_i64 j = 0; j < c; j++) s += a[r * c + j];
        y[r] = mean ? s / (float)c : s;
    }
}

//@ fn_sum_last_block
/* long rows: one 256-thread block per row, strided sums then a fixed tree */
extern "C" __global__ void fn_sum_last_block(float *y, const float *a, fn_i64 rows, fn_i64 c, int mean) {
    __shared__ float t[256];
    for (fn_i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        float s = 0.f;
        for (fn_i64 j = threadIdx.x; j < c; j += 256) s += a[r * c + j];
        t[threadIdx.x] = s;
        __syncthreads();
        for (int o = 128; o > 0; o >>= 1) {
            if (threadIdx.x < o) t[threadIdx.x] += t[threadIdx.x + o];
            __syncthreads();
        }
        if (threadIdx.x == 0) y[r] = mean ? t[0] / (float)c : t[0];
        __syncthreads();
    }
}

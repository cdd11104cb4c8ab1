/* Fixed CUDA kernels of cuda_emit.c: dropout masks, gathers, scatter-adds.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_dropout_mask
/* (u < keep) / keep with u from the CPU's stream: the same mask on both targets, counted from
 * `first` (a data-parallel rank's slice of the global batch); the key is
 * rt_hash(seed, step, salt) with seed and step read from the device (a captured step replays) */
extern "C" __global__ void fn_dropout_mask(float *y, const float *keep, fn_i64 n, const fn_u64 *seed_step,
                                           fn_u64 salt, fn_u64 first) {
    fn_u64 key = fn_mix(fn_mix(fn_mix(seed_step[0]) ^ seed_step[1]) ^ salt);
    float k = keep[0];
    FN_LOOP(i, n) y[i] = fn_uniform(key, first + (fn_u64)i) < (double)k ? 1.f / k : 0.f;
}

//@ fn_gather
/* rows table[idx[i]]; out-of-range indices give zero rows */
extern "C" __global__ void fn_gather(float *y, const float *table, const int *idx, fn_i64 n, fn_i64 rows, fn_i64 e) {
    FN_LOOP(i, n * e) {
        int r = idx[i / e];
        y[i] = r < 0 || r >= rows ? 0.f : table[(fn_i64)r * e + i % e];
    }
}

//@ fn_scatter_add
/* out[c] = sum of values[i] with idx[i] = c, added in i order (no atomics) */
extern "C" __global__ void fn_scatter_add(float *y, const float *v, const int *idx, fn_i64 n, fn_i64 rows, fn_i64 e) {
    FN_LOOP(o, rows * e) {
        fn_i64 c = o / e, j = o % e;
        float s = 0.f;
        for (fn_i64 i = 0; i < n; i++) if (idx[i] == c) s += v[i * e + j];
        y[o] = s;
    }
}

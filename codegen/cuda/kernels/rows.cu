/* Fixed CUDA kernels of cuda_emit.c: softmax, cross-entropy, L2 normalisation, accuracy.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_softmax
extern "C" __global__ void fn_softmax(float *y, const float *x, fn_i64 rows, fn_i64 cols) {
    FN_LOOP(r, rows) {
        const float *xr = x + r * cols;
        float m = xr[0];
        for (fn_i64 j = 1; j < cols; j++) if (xr[j] > m) m = xr[j];
        double sum = 0;
        for (fn_i64 j = 0; j < cols; j++) sum += exp((double)xr[j] - m);
        for (fn_i64 j = 0; j < cols; j++) y[r * cols + j] = (float)(exp((double)xr[j] - m) / sum);
    }
}

//@ fn_softmax_xent
extern "C" __global__ void fn_softmax_xent(float *loss, const float *x, const int *labels, fn_i64 rows, fn_i64 cols) {
    __shared__ float pm[8][33];
    __shared__ double ps[8][33];
    for (fn_i64 r0 = (fn_i64)blockIdx.x * 8; r0 < rows; r0 += (fn_i64)gridDim.x * 8) {
        fn_i64 r = r0 + threadIdx.y < rows ? r0 + threadIdx.y : rows - 1; /* past the end: the last row again, unwritten */
        const float *xr = x + r * cols;
        float m = fn_row_max(xr, cols, pm);
        double sum = fn_row_expsum(xr, cols, m, ps);
        int l = labels[r];
        if (threadIdx.x == 0 && r0 + threadIdx.y < rows)
            loss[r] = l < 0 || l >= cols ? __int_as_float(0x7fc00000) : (float)(log(sum) - ((double)xr[l] - m));
    }
}

//@ fn_softmax_xent_grad
extern "C" __global__ void fn_softmax_xent_grad(float *dx, const float *x, const int *labels, const float *g, fn_i64 rows,
                                                fn_i64 cols) {
    __shared__ float pm[8][33];
    __shared__ double ps[8][33];
    for (fn_i64 r0 = (fn_i64)blockIdx.x * 8; r0 < rows; r0 += (fn_i64)gridDim.x * 8) {
        fn_i64 r = r0 + threadIdx.y < rows ? r0 + threadIdx.y : rows - 1;
        const float *xr = x + r * cols;
        float m = fn_row_max(xr, cols, pm);
        double inv = 1.0 / fn_row_expsum(xr, cols, m, ps);
        int l = labels[r], valid = l >= 0 && l < cols;
        if (r0 + threadIdx.y < rows)
            for (fn_i64 j = threadIdx.x; j < cols; j += 32) {
                double p = exp((double)xr[j] - m) * inv - (j == l ? 1.0 : 0.0);
                dx[r * cols + j] = valid ? (float)((double)g[r] * p) : __int_as_float(0x7fc00000);
            }
    }
}

//@ fn_l2norm
extern "C" __global__ void fn_l2norm(float *y, const float *x, fn_i64 rows, fn_i64 cols, double eps) {
    FN_LOOP(r, rows) {
        const float *xr = x + r * cols;
        double s = 0;
        for (fn_i64 j = 0; j < cols; j++) s += (double)xr[j] * xr[j];
        double inv = 1.0 / sqrt(s > eps ? s : eps);
        for (fn_i64 j = 0; j < cols; j++) y[r * cols + j] = (float)(xr[j] * inv);
    }
}

//@ fn_l2norm_grad
extern "C" __global__ void fn_l2norm_grad(float *dx, const float *x, const float *dy, fn_i64 rows,
                                           fn_i64 cols, double eps) {
    FN_LOOP(r, rows) {
        const float *xr = x + r * cols, *gr = dy + r * cols;
        double s = 0, xg = 0;
        for (fn_i64 j = 0; j < cols; j++) s += (double)xr[j] * xr[j];
        if (s < eps) {
            double inv = 1.0 / sqrt(eps);
            for (fn_i64 j = 0; j < cols; j++) dx[r * cols + j] = (float)(gr[j] * inv);
            continue;
        }
        double inv = 1.0 / sqrt(s);
        for (fn_i64 j = 0; j < cols; j++) xg += (double)xr[j] * gr[j];
        double k = xg * inv * inv * inv;
        for (fn_i64 j = 0; j < cols; j++) dx[r * cols + j] = (float)(gr[j] * inv - xr[j] * k);
    }
}

//@ fn_accuracy
/* y[0] = the share of rows whose first maximal column is their label; one block, a warp per
 * row, the rows' hits added in a fixed order */
extern "C" __global__ void fn_accuracy(float *y, const float *x, const int *labels, fn_i64 rows, fn_i64 cols) {
    __shared__ float pv[8][33];
    __shared__ fn_i64 pj[8][33];
    __shared__ int hits[8];
    int lane = threadIdx.x, wy = threadIdx.y, h = 0;
    for (fn_i64 r0 = 0; r0 < rows; r0 += 8) {
        fn_i64 r = r0 + wy < rows ? r0 + wy : rows - 1;
        const float *xr = x + r * cols;
        float bv = 0.f;
        fn_i64 bj = -1; /* the lane's first maximum (strictly greater wins, as on the CPU) */
        for (fn_i64 j = lane; j < cols; j += 32) {
            float v = xr[j];
            if (bj < 0 ? j == 0 || v == v : v > bv) {
                bv = v;
                bj = j;
            }
        }
        pv[wy][lane] = bv;
        pj[wy][lane] = bj;
        __syncthreads();
        if (lane == 0) { /* lanes in order: larger wins, then the smaller column */
            for (int k = 1; k < 32; k++) {
                float v = pv[wy][k];
                fn_i64 j = pj[wy][k];
                if (j >= 0 && (bj < 0 || v > bv || (!(bv > v) && j < bj))) {
                    bv = v;
                    bj = j;
                }
            }
            if (r0 + wy < rows) h += bj == labels[r];
        }
        __syncthreads();
    }
    if (lane == 0) hits[wy] = h;
    __syncthreads();
    if (lane == 0 && wy == 0) {
        int t = 0;
        for (int k = 0; k < 8; k++) t += hits[k];
        y[0] = rows > 0 ? (float)((double)t / (double)rows) : 0.f;
    }
}

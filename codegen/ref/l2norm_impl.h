/* Reference row-wise L2 normalization and its gradient, written once for both precisions
 * (included twice from l2norm.c).
 *
 * What this is: y[r] = x[r] / sqrt(max(s, eps)) with s = sum(x[r]^2), sums in double. The
 * gradient follows TensorFlow's maximum(): when s >= eps it flows through s,
 *   dx = dy / |x| - x * <x, dy> / |x|^3,
 * and when s < eps the denominator is the constant sqrt(eps), dx = dy / sqrt(eps).
 * What this is not: a normalization over any axis but the last.
 * Expects `real` and `SFX(name)` to be defined.
 */

static double SFX(row_sumsq)(const real *x, int cols) {
    double s = 0;
    for (int j = 0; j < cols; j++)
        s += (double)x[j] * (double)x[j];
    return s;
}

void SFX(ref_l2norm)(const real *x, real *y, int rows, int cols, double eps) {
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * (size_t)cols; // [cols]
        real *yr = y + (size_t)r * (size_t)cols;       // [cols]
        double s = SFX(row_sumsq)(xr, cols);
        double inv = 1.0 / sqrt(s > eps ? s : eps);
        for (int j = 0; j < cols; j++)
            yr[j] = (real)((double)xr[j] * inv);
    }
}

void SFX(ref_l2norm_grad)(const real *x, const real *dy, real *dx, int rows, int cols, double eps) {
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * (size_t)cols;  // [cols]
        const real *gr = dy + (size_t)r * (size_t)cols; // [cols]
        real *dr = dx + (size_t)r * (size_t)cols;       // [cols]
        double s = SFX(row_sumsq)(xr, cols);
        if (s < eps) {
            double inv = 1.0 / sqrt(eps);
            for (int j = 0; j < cols; j++)
                dr[j] = (real)((double)gr[j] * inv);
            continue;
        }
        double inv = 1.0 / sqrt(s);
        double xg = 0; /* <x, dy> */
        for (int j = 0; j < cols; j++)
            xg += (double)xr[j] * (double)gr[j];
        double k = xg * inv * inv * inv;
        for (int j = 0; j < cols; j++)
            dr[j] = (real)((double)gr[j] * inv - (double)xr[j] * k);
    }
}

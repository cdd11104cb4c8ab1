/* Reference softmax, softmax cross-entropy and accuracy over the last axis of [rows, cols],
 * written once for both precisions (included twice from softmax.c).
 *
 * What this is: numerically stable loops: the row maximum is subtracted before exp, sums and
 * logs are carried in double, and the loss is log(sum(exp(x - max))) - (x[label] - max). A label
 * outside [0, cols) yields a NaN loss and a NaN gradient row rather than an out-of-bounds read.
 * What this is not: a general axis reduction; the class axis is always the last one.
 * Expects `real` and `SFX(name)` to be defined.
 */

static real SFX(row_max)(const real *x, int cols) {
    real m = x[0];
    for (int j = 1; j < cols; j++)
        if (x[j] > m) m = x[j];
    return m;
}

/* sum(exp(x - m)) for one row. */
static double SFX(row_sumexp)(const real *x, int cols, double m) {
    double sum = 0;
    for (int j = 0; j < cols; j++)
        sum += exp((double)x[j] - m);
    return sum;
}

void SFX(ref_softmax)(const real *x, real *y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * (size_t)cols; // [cols]
        real *yr = y + (size_t)r * (size_t)cols;       // [cols]
        double m = (double)SFX(row_max)(xr, cols);
        double inv = 1.0 / SFX(row_sumexp)(xr, cols, m);
        for (int j = 0; j < cols; j++)
            yr[j] = (real)(exp((double)xr[j] - m) * inv);
    }
}

void SFX(ref_softmax_xent)(const real *x, const int32_t *labels, real *loss, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * (size_t)cols; // [cols]
        int32_t l = labels[r];
        if (l < 0 || l >= cols) {
            loss[r] = (real)NAN;
            continue;
        }
        double m = (double)SFX(row_max)(xr, cols);
        loss[r] = (real)(log(SFX(row_sumexp)(xr, cols, m)) - ((double)xr[l] - m));
    }
}

void SFX(ref_softmax_xent_grad)(const real *x, const int32_t *labels, const real *g, real *dx,
                                int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * (size_t)cols; // [cols]
        real *dr = dx + (size_t)r * (size_t)cols;      // [cols]
        int32_t l = labels[r];
        int valid = l >= 0 && l < cols;
        double m = (double)SFX(row_max)(xr, cols);
        double inv = 1.0 / SFX(row_sumexp)(xr, cols, m);
        for (int j = 0; j < cols; j++) {
            double p = exp((double)xr[j] - m) * inv - (j == l ? 1.0 : 0.0);
            dr[j] = valid ? (real)((double)g[r] * p) : (real)NAN;
        }
    }
}

real SFX(ref_accuracy)(const real *x, const int32_t *labels, int rows, int cols) {
    if (rows <= 0) return 0;
    int hits = 0;
    for (int r = 0; r < rows; r++) {
        const real *xr = x + (size_t)r * (size_t)cols; // [cols]
        int best = 0;
        for (int j = 1; j < cols; j++)
            if (xr[j] > xr[best]) best = j;
        hits += best == labels[r];
    }
    return (real)((double)hits / (double)rows);
}

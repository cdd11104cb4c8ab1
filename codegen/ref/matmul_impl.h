/* Reference matmul, written once for both precisions (included twice from matmul.c).
 *
 * What this is: y = op(a) op(b) through one CBLAS gemm, row-major.
 * What this is not: batched; no alpha/beta accumulation (y is overwritten).
 * Expects `real`, `SFX(name)` and `GEMM` (cblas_sgemm or cblas_dgemm) to be defined.
 */

void SFX(ref_matmul)(const real *a, const real *b, real *y, int m, int n, int k, int ta, int tb) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* empty sum; BLAS would reject the leading dimension 0 */
        for (size_t i = 0; i < (size_t)m * (size_t)n; i++)
            y[i] = 0;
        return;
    }
    int lda = ta ? m : k; /* a: [m,k] or [k,m] */
    int ldb = tb ? k : n; /* b: [k,n] or [n,k] */
    GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1,
         a, lda, b, ldb, 0, y, n);
}

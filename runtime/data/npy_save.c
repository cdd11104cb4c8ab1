/* Writing a float32 matrix as a .npy file (NumPy's format 1.0: magic, header dict padded so the
 * data starts on a 64-byte boundary, little-endian values), via a temporary file renamed into
 * place, so a reader never sees half a file. What this is not: a general .npy writer (one
 * dtype, rank 2, C order) or the weights reader (npy.c). */
#include "runtime/data/npy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The 10-byte preamble and the header text, padded with spaces to a multiple of 64 with '\n'. */
static size_t npy_header(int64_t rows, int64_t cols, unsigned char *h, size_t cap) {
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)rows, (long long)cols);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64; /* + '\n' */
    if (total > cap) return 0;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (unsigned char)((total - 10) & 0xff);
    h[9] = (unsigned char)((total - 10) >> 8);
    memcpy(h + 10, dict, (size_t)n);
    memset(h + 10 + n, ' ', total - 10 - (size_t)n - 1);
    h[total - 1] = '\n';
    return total;
}

int rt_npy_save_f32(const char *path, const float *x, int64_t rows, int64_t cols, RtStatus *st) {
    unsigned char h[256];
    size_t nh = npy_header(rows, cols, h, sizeof h);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return rt_fail(st, "cannot write %s: %s", tmp, strerror(errno));
    size_t n = (size_t)(rows * cols);
    int ok = fwrite(h, 1, nh, f) == nh && (n == 0 || fwrite(x, sizeof(float), n, f) == n);
    ok = fflush(f) == 0 && ok;
    int err = ok ? 0 : (errno ? errno : EIO);
    if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (!err) return 0;
    unlink(tmp);
    return rt_fail(st, "cannot write %s: %s", path, strerror(err));
}

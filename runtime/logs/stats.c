/* See stats.h. Keys (float32): per step `loss`, `center_loss`, `reg_loss`, `xent_loss`,
 * `prelogits_norm`, `accuracy` [max_nrof_epochs * epoch_size]; per validation `val_loss`,
 * `val_xent_loss`, `val_accuracy` [ceil(max_nrof_epochs / validate_every_n_epochs)]; per epoch
 * `lfw_accuracy`, `lfw_valrate`, `learning_rate`, `time_train`, `time_validate`,
 * `time_evaluate` [max_nrof_epochs]; `prelogits_hist` [max_nrof_epochs, 1000]. */
#include "runtime/logs/stats.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/alloc.h"

enum { HIST_BINS = 1000 };
enum { K_LOSS, K_CENTER, K_REG, K_XENT, K_NORM, K_ACC, /* per step */
       K_VLOSS, K_VXENT, K_VACC,                        /* per validation */
       K_LFW_ACC, K_LFW_VAL, K_LR, K_TTRAIN, K_TVAL, K_TEVAL, /* per epoch */
       K_HIST, K_COUNT };
static const char *const key_name[K_COUNT] = {
    "loss", "center_loss", "reg_loss", "xent_loss", "prelogits_norm", "accuracy",
    "val_loss", "val_xent_loss", "val_accuracy",
    "lfw_accuracy", "lfw_valrate", "learning_rate", "time_train", "time_validate", "time_evaluate",
    "prelogits_hist"};

struct RtStats {
    float *v[K_COUNT];
    hsize_t len[K_COUNT];
    int max_epochs, epoch_size, every;
    double hist_max;
};

RtStats *rt_stats_new(int max_epochs, int epoch_size, int every, double hist_max) {
    RtStats *s = fn_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->max_epochs = max_epochs;
    s->epoch_size = epoch_size;
    s->every = every > 0 ? every : 1;
    s->hist_max = hist_max > 0 ? hist_max : 10;
    for (int k = 0; k < K_COUNT; k++) {
        s->len[k] = k <= K_ACC ? (hsize_t)max_epochs * (hsize_t)epoch_size
                  : k <= K_VACC ? (hsize_t)((max_epochs + s->every - 1) / s->every)
                  : k < K_HIST ? (hsize_t)max_epochs
                               : (hsize_t)max_epochs * HIST_BINS;
        if (!(s->v[k] = fn_calloc(s->len[k] + 1, sizeof(float)))) {
            rt_stats_free(s);
            return NULL;
        }
    }
    return s;
}

void rt_stats_free(RtStats *s) {
    if (!s) return;
    for (int k = 0; k < K_COUNT; k++) free(s->v[k]);
    free(s);
}

static void put(RtStats *s, int k, int64_t i, double x) {
    if (i >= 0 && (hsize_t)i < s->len[k]) s->v[k][i] = (float)x;
}

void rt_stats_step(RtStats *s, int64_t step, int epoch, double loss, double center_loss,
                   double reg_loss, double xent, double prelogits_norm, double accuracy,
                   const float *p, int64_t n) {
    const double vals[] = {loss, center_loss, reg_loss, xent, prelogits_norm, accuracy};
    for (int k = K_LOSS; k <= K_ACC; k++) put(s, k, step, vals[k]);
    if (epoch < 1 || epoch > s->max_epochs || !p) return;
    float *row = s->v[K_HIST] + (size_t)(epoch - 1) * HIST_BINS;
    for (int64_t i = 0; i < n; i++) { /* histogram of min(|p|, max) over [0, max] */
        double a = fmin(fabs(p[i]), s->hist_max);
        int b = (int)(a / s->hist_max * HIST_BINS);
        row[b < HIST_BINS ? b : HIST_BINS - 1] += 1;
    }
}

void rt_stats_validation(RtStats *s, int epoch, double loss, double xent, double acc) {
    int64_t i = (epoch - 1) / s->every;
    put(s, K_VLOSS, i, loss);
    put(s, K_VXENT, i, xent);
    put(s, K_VACC, i, acc);
}

void rt_stats_epoch(RtStats *s, int epoch, double lfw_acc, double lfw_val, double lr,
                    double t_train, double t_val, double t_eval) {
    const double vals[] = {lfw_acc, lfw_val, lr, t_train, t_val, t_eval};
    for (int k = K_LFW_ACC; k <= K_TEVAL; k++) put(s, k, epoch - 1, vals[k - K_LFW_ACC]);
}

/* The HDF5 file built in memory (the core driver, no backing store): its image, malloc'ed, or
 * NULL. HDF5's own file I/O would lose errno behind its error stack. */
static unsigned char *stats_image(const RtStats *s, size_t *len) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back as return values */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0
                  ? H5Fcreate("stat.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0) H5Pclose(fapl);
    int ok = f >= 0;
    for (int k = 0; k < K_COUNT && ok; k++) {
        hsize_t dims[2] = {s->len[k], 0};
        int rank = 1;
        if (k == K_HIST) dims[0] = (hsize_t)s->max_epochs, dims[1] = HIST_BINS, rank = 2;
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t d = H5Dcreate2(f, key_name[k], H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ok = sp >= 0 && d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->v[k]) >= 0;
        if (d >= 0) H5Dclose(d);
        if (sp >= 0) H5Sclose(sp);
    }
    ssize_t n = ok && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0 ? H5Fget_file_image(f, NULL, 0) : -1;
    unsigned char *img = n > 0 ? fn_malloc((size_t)n) : NULL;
    if (img && H5Fget_file_image(f, img, (size_t)n) != n) {
        free(img);
        img = NULL;
    }
    if (f >= 0) H5Fclose(f);
    *len = img ? (size_t)n : 0;
    return img;
}

int rt_stats_write(const RtStats *s, const char *path, RtStatus *st) {
    size_t len;
    unsigned char *img = stats_image(s, &len);
    if (!img) return rt_fail(st, "cannot write %s: HDF5 could not build the file", path);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    int err = !f ? errno : fwrite(img, 1, len, f) != len || fflush(f) != 0 ? (errno ? errno : EIO) : 0;
    if (f && fclose(f) != 0 && !err) err = errno;
    free(img);
    if (!err && rename(tmp, path) != 0) err = errno;
    if (!err) return 0;
    if (f) unlink(tmp); /* no partial temporary file left */
    return rt_fail(st, "cannot write %s (through %s): %s", path, tmp, strerror(err));
}

float *rt_stats_read_key(const char *path, const char *key, int64_t *n, RtStatus *st) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        rt_fail(st, "cannot read %s (not an HDF5 file?)", path);
        return NULL;
    }
    hid_t d = H5Dopen2(f, key, H5P_DEFAULT);
    float *v = NULL;
    if (d < 0) {
        rt_fail(st, "%s has no dataset '%s'", path, key);
    } else {
        hid_t sp = H5Dget_space(d);
        hssize_t cnt = H5Sget_simple_extent_npoints(sp);
        v = fn_malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(float));
        if (!v) {
            rt_fail(st, "out of memory reading '%s' from %s", key, path);
        } else if (cnt < 0 || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            v = NULL;
            rt_fail(st, "cannot read '%s' from %s", key, path);
        }
        *n = cnt;
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(f);
    return v;
}

int rt_stats_read(RtStats *s, const char *path, RtStatus *st) {
    for (int k = 0; k < K_COUNT; k++) {
        int64_t n;
        float *v = rt_stats_read_key(path, key_name[k], &n, st);
        if (!v) return -1;
        /* every array is indexed from its start (step, validation, epoch, epoch-row), so a
         * resumed run with another max_nrof_epochs keeps the common prefix */
        size_t keep = (hsize_t)n < s->len[k] ? (size_t)n : (size_t)s->len[k];
        memcpy(s->v[k], v, keep * sizeof(float));
        free(v);
    }
    return 0;
}

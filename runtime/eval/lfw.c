/* See lfw.h. The metrics follow lfw.py / facenet.py (calculate_roc, calculate_val) with the
 * fixes of SPEC §5: missing pairs skipped, cos clipped, threshold grids reaching the largest
 * possible distance, and VAL@FAR's threshold found by an explicit search for the crossing
 * (robust to flat stretches of FAR). */
#include "runtime/eval/lfw.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/alloc.h"
#include "runtime/core/files.h"

void rt_lfw_free(RtLfwPairs *p) {
    for (int i = 0; i < 2 * p->n_pairs; i++) free(p->paths[i]);
    free(p->paths);
    free(p->issame);
    free(p->fold);
    memset(p, 0, sizeof *p);
}

/* lfw_dir/name/name_%04d.jpg, else .png; 0 if neither exists. */
static int image_path(const char *dir, const char *name, long idx, char *out, size_t cap) {
    static const char *ext[] = {"jpg", "png"};
    struct stat sb;
    for (int e = 0; e < 2; e++) {
        snprintf(out, cap, "%s/%s/%s_%04ld.%s", dir, name, name, idx, ext[e]);
        if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode)) return 1;
    }
    return 0;
}

static int parse_index(const char *s, long *v) {
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return *s && !*end && !errno && *v >= 0;
}

int rt_lfw_read_pairs(const char *file, const char *dir, RtLfwPairs *p, RtStatus *st) {
    memset(p, 0, sizeof *p);
    if (rt_is_dir(file)) return rt_fail(st, "--lfw_pairs %s is a directory", file);
    FILE *f = fopen(file, "r");
    if (!f) return rt_fail(st, "cannot read LFW pairs %s: %s", file, strerror(errno));
    int rc = rt_lfw_parse_pairs(f, file, dir, p, st);
    fclose(f);
    return rc;
}

/* room for cap pairs; -1 when out of memory (p keeps what it had) */
static int grow_pairs(RtLfwPairs *p, int cap) {
    char **paths = fn_realloc(p->paths, 2 * (size_t)cap * sizeof *p->paths);
    if (!paths) return -1;
    p->paths = paths;
    int *issame = fn_realloc(p->issame, (size_t)cap * sizeof *p->issame);
    if (!issame) return -1;
    p->issame = issame;
    int *fold = fn_realloc(p->fold, (size_t)cap * sizeof *p->fold);
    if (!fold) return -1;
    p->fold = fold;
    return 0;
}

int rt_lfw_parse_pairs(FILE *f, const char *file, const char *dir, RtLfwPairs *p, RtStatus *st) {
    memset(p, 0, sizeof *p);
    char line[4096];
    int ln = 0, rc = 0, cap = 0, n_lines = 0;
    long sets = 0, per = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        char *tok[8];
        int nt = 0;
        for (char *t = strtok(line, " \t\r\n"); t && nt < 8; t = strtok(NULL, " \t\r\n")) tok[nt++] = t;
        if (nt == 0) continue;
        if (per == 0) { /* the first line that is not blank */
            if (nt != 2 || !parse_index(tok[0], &sets) || !parse_index(tok[1], &per) || sets < 1 || per < 1 ||
                sets > 1000000 || per > 1000000)
                rc = rt_fail(st, "%s:%d: the header must be 'sets<TAB>pairs' with numbers from 1 to 1000000", file,
                             ln);
            continue;
        }
        long i, j;
        int same = nt == 3;
        if ((nt != 3 && nt != 4) || !parse_index(tok[1], &i) || !parse_index(same ? tok[2] : tok[3], &j)) {
            rc = rt_fail(st, "%s:%d: expected 'name i j' or 'name1 i name2 j' with non-negative numbers",
                         file, ln);
            break;
        }
        /* within each set the first `per` lines are same-person pairs */
        long pos = n_lines % (2 * per);
        if (same != (pos < per)) {
            rc = rt_fail(st, "%s:%d: a %s pair where set %ld expects %s pairs", file, ln,
                         same ? "same-person" : "different-person", n_lines / (2 * per) + 1,
                         pos < per ? "same-person" : "different-person");
            break;
        }
        n_lines++;
        char a[4096], b[4096];
        if (!image_path(dir, tok[0], i, a, sizeof a) || !image_path(dir, same ? tok[0] : tok[2], j, b, sizeof b)) {
            p->n_skipped++;
            continue;
        }
        if (p->n_pairs == cap && grow_pairs(p, cap ? 2 * cap : 1024) < 0) {
            rc = rt_fail(st, "out of memory reading %s", file);
            break;
        }
        if (p->n_pairs == cap) cap = cap ? 2 * cap : 1024;
        char *da = fn_strdup(a), *db = da ? fn_strdup(b) : NULL;
        if (!db) {
            free(da);
            rc = rt_fail(st, "out of memory reading %s", file);
            break;
        }
        p->paths[2 * p->n_pairs] = da;
        p->paths[2 * p->n_pairs + 1] = db;
        p->issame[p->n_pairs] = same;
        p->fold[p->n_pairs++] = (int)((n_lines - 1) / (2 * per));
    }
    if (rc == 0 && per == 0) rc = rt_fail(st, "%s: empty pairs file", file);
    if (rc == 0 && n_lines != sets * 2 * per)
        rc = rt_fail(st, "%s: the header announces %ld sets of %ld+%ld pairs but the file has %d pair lines",
                     file, sets, per, per, n_lines);
    p->n_sets = (int)sets;
    p->set_size = (int)per;
    if (rc) rt_lfw_free(p);
    return rc;
}

/* ---- metrics ------------------------------------------------------------------------------ */
static double distance(const float *a, const float *b, const double *mean, int dim, int metric) {
    if (metric == 0) {
        double s = 0;
        for (int k = 0; k < dim; k++) {
            double d = (double)a[k] - b[k];
            s += d * d;
        }
        return s;
    }
    double dot = 0, na = 0, nb = 0;
    for (int k = 0; k < dim; k++) {
        double x = a[k] - mean[k], y = b[k] - mean[k];
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    double c = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 1;
    if (c > 1) c = 1;
    if (c < -1) c = -1;
    return acos(c) / M_PI;
}

/* predictions "same" iff dist < threshold over pairs with in[k] == want */
static void counts(const double *dist, const int *issame, const int *in, int want, int n, double th,
                   int *tp, int *fp, int *tn, int *fn) {
    *tp = *fp = *tn = *fn = 0;
    for (int k = 0; k < n; k++) {
        if (in[k] != want) continue;
        int pred = dist[k] < th;
        if (pred && issame[k]) ++*tp;
        else if (pred) ++*fp;
        else if (issame[k]) ++*fn;
        else ++*tn;
    }
}

/* Contiguous folds: the pairs file's sets (fold_of) or scikit-learn's KFold blocks (the first
 * n % folds one longer). Every fold needs same and different pairs. */
static int assign_folds(const int *issame, const int *fold_of, int n_pairs, int n_folds, int *fold,
                        RtStatus *st) {
    if (n_folds < 2 || n_folds > n_pairs)
        return rt_fail(st, "%d folds cannot be formed from %d pairs", n_folds, n_pairs);
    for (int k = 0; fold_of && k < n_pairs; k++)
        if (fold_of[k] < 0 || fold_of[k] >= n_folds)
            return rt_fail(st, "pair %d belongs to set %d, beyond %d folds", k + 1, fold_of[k] + 1, n_folds);
    for (int k = 0, f = 0, end = 0; k < n_pairs; k++) {
        while (!fold_of && k == end) end += n_pairs / n_folds + (f++ < n_pairs % n_folds);
        fold[k] = fold_of ? fold_of[k] : f - 1;
    }
    for (int f = 0; f < n_folds; f++) {
        int same = 0, diff = 0;
        for (int k = 0; k < n_pairs; k++)
            if (fold[k] == f) same += issame[k], diff += !issame[k];
        if (!same || !diff)
            return rt_fail(st, "fold %d of %d has no %s pairs: use --lfw_nrof_folds equal to the pairs "
                               "file's number of sets, or fewer folds", f + 1, n_folds, same ? "different" : "same");
    }
    return 0;
}

int rt_lfw_check_folds(const RtLfwPairs *p, int n_folds, RtStatus *st) {
    int *fold = fn_malloc(((size_t)p->n_pairs + 1) * sizeof *fold);
    if (!fold) return rt_fail(st, "out of memory checking the folds of %d pairs", p->n_pairs);
    int rc = assign_folds(p->issame, n_folds == p->n_sets ? p->fold : NULL, p->n_pairs, n_folds, fold, st);
    free(fold);
    return rc;
}

/* r's means and deviations over the folds, and AUC and EER from the fold-averaged ROC */
static void summarize(const double *acc, const double *val, const double *far, int n_folds, const double *tpr,
                      const double *fpr, int n_roc, RtLfwResult *r) {
    for (int f = 0; f < n_folds; f++) {
        r->acc_mean += acc[f] / n_folds;
        r->val_mean += val[f] / n_folds;
        r->far_mean += far[f] / n_folds;
    }
    for (int f = 0; f < n_folds; f++) {
        r->acc_std += (acc[f] - r->acc_mean) * (acc[f] - r->acc_mean) / n_folds;
        r->val_std += (val[f] - r->val_mean) * (val[f] - r->val_mean) / n_folds;
    }
    r->acc_std = sqrt(r->acc_std);
    r->val_std = sqrt(r->val_std);
    /* AUC: trapezoids over the fold-averaged ROC (fpr falls as the threshold falls) */
    for (int t = 1; t < n_roc; t++) r->auc += (fpr[t] - fpr[t - 1]) * (tpr[t] + tpr[t - 1]) / 2;
    /* EER: where FPR = 1 - TPR on that ROC, by linear interpolation along the grid */
    r->eer = 1;
    for (int t = 1; t < n_roc; t++) {
        double g0 = 1 - fpr[t - 1] - tpr[t - 1], g1 = 1 - fpr[t] - tpr[t];
        if ((g0 >= 0 && g1 <= 0) || (g0 <= 0 && g1 >= 0)) {
            double u = g0 == g1 ? 0 : g0 / (g0 - g1);
            r->eer = fpr[t - 1] + u * (fpr[t] - fpr[t - 1]);
            break;
        }
    }
    r->n_folds = n_folds;
}

int rt_lfw_evaluate(const float *emb, int dim, const int *issame, const int *fold_of,
                    int n_pairs, int n_folds, int metric, int subtract_mean, RtLfwResult *r,
                    RtStatus *st) {
    memset(r, 0, sizeof *r);
    if (metric != 0 && metric != 1) return rt_fail(st, "--distance_metric %d: use 0 or 1", metric);
    if (n_folds < 2 || n_folds > n_pairs || n_folds > 256)
        return rt_fail(st, "%d folds cannot be formed from %d pairs", n_folds, n_pairs);
    /* the largest possible distance: squared Euclidean between vectors of the largest norm */
    double max_norm2 = 0;
    for (int i = 0; i < 2 * n_pairs; i++) {
        double s = 0;
        for (int k = 0; k < dim; k++) s += (double)emb[(size_t)i * dim + k] * emb[(size_t)i * dim + k];
        max_norm2 = fmax(max_norm2, s);
    }
    double dmax = metric == 1 ? 1.0 : 4 * max_norm2;
    int n_roc = (int)ceil(dmax / 0.01) + 2, n_val = (int)ceil(dmax / 0.001) + 2;
    int *fold = fn_malloc((size_t)n_pairs * sizeof *fold), *train = fn_malloc((size_t)n_pairs * sizeof *train);
    double *dist = fn_malloc((size_t)n_pairs * sizeof *dist), *mean = fn_calloc((size_t)(dim ? dim : 1), sizeof *mean);
    double *tpr = fn_calloc((size_t)n_roc, sizeof *tpr), *fpr = fn_calloc((size_t)n_roc, sizeof *fpr);
    double *far_train = fn_malloc((size_t)n_val * sizeof *far_train);
    double acc[256] = {0}, val[256] = {0}, far[256] = {0};
    int rc = fold && train && dist && mean && tpr && fpr && far_train
                 ? assign_folds(issame, fold_of, n_pairs, n_folds, fold, st)
                 : rt_fail(st, "out of memory evaluating %d pairs", n_pairs);
    if (rc < 0) {
        free(fold), free(train), free(dist), free(mean), free(tpr), free(fpr), free(far_train);
        return -1;
    }
    for (int f = 0; f < n_folds; f++) {
        int n_train = 0;
        for (int k = 0; k < n_pairs; k++) n_train += (train[k] = fold[k] != f);
        memset(mean, 0, (size_t)dim * sizeof *mean);
        if (subtract_mean && n_train > 0)
            for (int k = 0; k < n_pairs; k++)
                if (train[k])
                    for (int e = 0; e < 2; e++)
                        for (int d = 0; d < dim; d++) mean[d] += emb[(size_t)(2 * k + e) * dim + d] / (2.0 * n_train);
        for (int k = 0; k < n_pairs; k++) {
            const float *a = emb + (size_t)2 * k * dim, *b = a + dim;
            dist[k] = distance(a, b, mean, dim, metric); /* Euclidean: the mean cancels */
        }
        /* accuracy: the first best threshold on the training folds, applied to the test fold */
        int tp, fp, tn, fn, best = 0;
        double best_acc = -1;
        for (int t = 0; t < n_roc; t++) {
            counts(dist, issame, train, 1, n_pairs, t * 0.01, &tp, &fp, &tn, &fn);
            double a = (double)(tp + tn) / (tp + fp + tn + fn);
            if (a > best_acc) best_acc = a, best = t;
            counts(dist, issame, train, 0, n_pairs, t * 0.01, &tp, &fp, &tn, &fn);
            tpr[t] += (tp + fn ? (double)tp / (tp + fn) : 0) / n_folds;
            fpr[t] += (fp + tn ? (double)fp / (fp + tn) : 0) / n_folds;
        }
        counts(dist, issame, train, 0, n_pairs, best * 0.01, &tp, &fp, &tn, &fn);
        acc[f] = (double)(tp + tn) / (tp + fp + tn + fn);
        /* VAL@FAR=1e-3: the threshold where the training FAR crosses the target, interpolated
         * between the last grid point below it and the first at or above it */
        int n_diff = 0, n_same_test = 0, n_diff_test = 0;
        for (int k = 0; k < n_pairs; k++) {
            n_diff += train[k] && !issame[k];
            n_same_test += !train[k] && issame[k];
            n_diff_test += !train[k] && !issame[k];
        }
        if (n_diff == 0 || n_same_test == 0 || n_diff_test == 0) {
            rc = rt_fail(st, "fold %d lacks same or different pairs: VAL@FAR cannot be computed", f + 1);
            break;
        }
        for (int t = 0; t < n_val; t++) {
            counts(dist, issame, train, 1, n_pairs, t * 0.001, &tp, &fp, &tn, &fn);
            far_train[t] = (double)fp / n_diff;
        }
        const double target = 1e-3;
        double th = 0;
        int hi = -1;
        for (int t = 0; t < n_val && hi < 0; t++)
            if (far_train[t] >= target) hi = t;
        if (hi == 0) th = 0;
        else if (hi > 0) {
            int lo = hi - 1; /* FAR is flat below the crossing from lo's value on */
            double f0 = far_train[lo], f1 = far_train[hi];
            th = (lo + (f1 > f0 ? (target - f0) / (f1 - f0) : 0)) * 0.001;
        }
        counts(dist, issame, train, 0, n_pairs, th, &tp, &fp, &tn, &fn);
        val[f] = (double)tp / n_same_test;
        far[f] = (double)fp / n_diff_test;
    }
    if (rc == 0) summarize(acc, val, far, n_folds, tpr, fpr, n_roc, r);
    free(fold);
    free(train);
    free(dist);
    free(mean);
    free(tpr);
    free(fpr);
    free(far_train);
    return rc;
}

/* LFW verification: pairs.txt, image paths, and the metrics of the reference's lfw.py
 * (accuracy at the best threshold per fold, VAL@FAR, AUC, EER) with its fixes (SPEC §5).
 * Not here: computing embeddings (embed.h). */
#ifndef FN_RT_LFW_H
#define FN_RT_LFW_H

#include "runtime/core/rt.h"

typedef struct {
    char **paths; /* 2 per kept pair: [a0, b0, a1, b1, ...] */
    int *issame;  /* per kept pair */
    int *fold;    /* per kept pair: its set in pairs.txt (0-based) */
    int n_pairs;  /* kept */
    int n_skipped; /* pairs with a missing image */
    int n_sets, set_size; /* from the header */
} RtLfwPairs;

/* Reads pairs.txt (header `sets<TAB>n`, then per set n same lines `name i j` and n different
 * lines `name1 i name2 j`) and resolves lfw_dir/name/name_%04d.{jpg,png}; pairs with a missing
 * image are skipped and counted. Errors name the file and line. */
int rt_lfw_read_pairs(const char *pairs_file, const char *lfw_dir, RtLfwPairs *p, RtStatus *st);
/* The same from an open stream (file names it in messages): for the fuzz target. */
int rt_lfw_parse_pairs(FILE *f, const char *file, const char *dir, RtLfwPairs *p, RtStatus *st);
void rt_lfw_free(RtLfwPairs *p);

typedef struct {
    double acc_mean, acc_std;  /* over folds, population std */
    double val_mean, val_std, far_mean;
    double auc, eer;
    int n_folds;
} RtLfwResult;

/* emb: 2 * n_pairs rows of dim values (pair k: rows 2k and 2k+1). metric 0: squared Euclidean
 * (thresholds 0, 0.01, ... up to the largest possible distance), 1: arccos(cos)/pi with cos
 * clipped to [-1, 1] (thresholds up to 1). Folds are contiguous: fold_of[k] per pair if given
 * (the pairs file's sets), else scikit-learn's KFold blocks. subtract_mean: per fold, the mean
 * of its training pairs' embeddings is subtracted before the cosine. */
/* Checks up front that n_folds folds can be formed (each with same and different pairs). */
int rt_lfw_check_folds(const RtLfwPairs *p, int n_folds, RtStatus *st);

int rt_lfw_evaluate(const float *emb, int dim, const int *issame, const int *fold_of,
                    int n_pairs, int n_folds, int metric, int subtract_mean, RtLfwResult *r,
                    RtStatus *st);

#endif

/* Datasets: class-per-folder scanning (one root, or the union of several) and the validation
 * split. Not here: decoding and augmentation (image.h), batching and threads (loader.h). */
#ifndef FN_RT_DATA_H
#define FN_RT_DATA_H

#include "runtime/core/rt.h"

typedef struct {
    char *name;
    int first, count; /* range into RtDataset.paths */
} RtClass;

typedef struct {
    RtClass *classes;
    int n_classes;
    char **paths; /* all images, grouped by class */
    int *labels;
    int n_images;
    int n_empty_classes;    /* class folders without images, skipped by rt_dataset_scan */
    char first_empty[4096]; /* the first of them */
} RtDataset;

/* Scans data_dir/<class>/<image>; classes and files sorted bytewise. data_dir may be a
 * colon-separated list of roots: their union, where same-named classes in several roots are
 * one class (its files: each root's sorted files, in root order). A class folder without images
 * is skipped and counted (n_empty_classes). Errors: a missing or unreadable root, no classes. */
int rt_dataset_scan(const char *data_dir, RtDataset *ds, RtStatus *st);
/* The same; allow_empty keeps class folders without files (as classes with no images). */
int rt_dataset_scan_ex(const char *data_dir, int allow_empty, RtDataset *ds, RtStatus *st);
void rt_dataset_free(RtDataset *ds);
/* The reference's SPLIT_IMAGES: each class's images are shuffled with a stream keyed by (seed,
 * class); split = floor(n(1-ratio)), n-1 if that is n; the first split images train, the rest
 * validate. A class whose training part has fewer than min_nrof images is dropped from both
 * sets (so labels are positions in the kept classes). ratio <= 0: train = all, val empty.
 * -1 when out of memory (both sets then empty). */
int rt_dataset_split(const RtDataset *all, double ratio, int min_nrof, uint64_t seed,
                     RtDataset *train, RtDataset *val);
void rt_split_sizes(int n, double ratio, int *n_train, int *n_val);

#endif

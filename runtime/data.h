/* Datasets: class-per-folder scanning and image loading for the training step.
 * Here: a plain PNG loader (libpng) with centre crop/pad and fixed standardisation. Not here
 * (yet): JPEG, augmentation, prefetch threads, the validation split (the input-pipeline issue). */
#ifndef FN_RT_DATA_H
#define FN_RT_DATA_H

#include "runtime/rt.h"

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
} RtDataset;

/* Scans data_dir/<class>/<image>; classes and files sorted bytewise. Errors: missing or
 * unreadable data_dir, no classes, a class folder without images. */
int rt_dataset_scan(const char *data_dir, RtDataset *ds, RtStatus *st);
void rt_dataset_free(RtDataset *ds);
/* The reference's SPLIT_IMAGES: each class's images are shuffled with a stream keyed by (seed,
 * class); split = floor(n(1-ratio)), n-1 if that is n; the first split images train, the rest
 * validate. A class whose training part has fewer than min_nrof images is dropped from both
 * sets (so labels are positions in the kept classes). ratio <= 0: train = all, val empty. */
int rt_dataset_split(const RtDataset *all, double ratio, int min_nrof, uint64_t seed,
                     RtDataset *train, RtDataset *val);
void rt_split_sizes(int n, double ratio, int *n_train, int *n_val);

/* Decodes an image file into 8-bit RGB (grey expanded, alpha dropped). *pix is malloc'ed. */
int rt_image_load(const char *path, unsigned char **pix, int *w, int *h, RtStatus *st);
/* Writes 8-bit RGB as PNG. */
int rt_image_save_png(const char *path, const unsigned char *pix, int w, int h, RtStatus *st);
/* Centre crop (offset floor((S-s)/2)) or symmetric zero pad to size x size, then
 * (x - 127.5) / 128, into out[size*size*3] (NHWC, one image). */
void rt_image_to_input(const unsigned char *pix, int w, int h, int size, float *out);

#endif

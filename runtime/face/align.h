/* Face alignment of a class-per-folder dataset (the reference's align_dataset_mtcnn.py, SPEC §7):
 * detect with MTCNN, pick the face, crop with a margin, resize, save PNG. Several processes may
 * share one output folder: each image is claimed with a lock (flock, released by the kernel if
 * the process dies) and written to a temporary file renamed into place, so no image is done
 * twice and no partial PNG is ever visible. An image done without an output (unreadable, or
 * no face) leaves a mark in OUTPUT_DIR/.fn-align, so neither another process nor a rerun redoes
 * it (remove that folder to retry them). Worker threads share the image list. */
#ifndef FN_RT_ALIGN_H
#define FN_RT_ALIGN_H

#include <signal.h>

#include "runtime/face/mtcnn.h"

typedef struct {
    const char *input_dir, *output_dir;
    const char *model;       /* artifact with pnet/eval, rnet/eval, onet/eval */
    const char *weights_dir; /* det1.npy, det2.npy, det3.npy */
    const RtBackend *backend; /* where the nets run (the CPU's) */
    int image_size, margin;
    int random_order, detect_multiple_faces;
    int threads;
    int png_level;            /* zlib level of the PNGs (1: fast; PIL's default is 6) */
    const char *command_line; /* for revision_info.txt */
    FILE *out;                /* progress, messages and totals */
    volatile sig_atomic_t *stop;
} RtAlignOpts;

typedef struct {
    int total;      /* images in the input */
    int aligned;    /* faces saved */
    int skipped;    /* output already there */
    int claimed;    /* being aligned by another process */
    int unreadable; /* could not be decoded */
    int no_face;
    double seconds; /* wall time of the image loop */
} RtAlignTotals;

void rt_align_defaults(RtAlignOpts *o);
int rt_align(const RtAlignOpts *o, RtAlignTotals *t, RtStatus *st);

/* The reference's choice among faces found in a w x h image: the largest
 * (area - 2 * squared offset of the box centre from the image centre). */
int rt_align_pick(const RtFace *faces, int n, int w, int h);
/* Face f of img cropped as the reference crops it (its box widened by margin/2 on each side,
 * clipped to the image, truncated to whole pixels, into bb) and resized bilinearly to
 * size x size into crop (allocated: rt_image_free). */
int rt_align_crop(const RtImage *img, const RtFace *f, int margin, int size, RtImage *crop, int bb[4],
                  RtStatus *st);

#endif

/* `--align` of the face tools (compare.py's load_and_align_data): each input image's face found
 * by MTCNN (minsize 20, thresholds 0.6/0.7/0.7, factor 0.709), the reference's pick among
 * several (rt_align_pick: the largest, nearest the centre), cropped with a margin and resized
 * bilinearly to image_size as fnrun align crops, and written as a PNG into a work folder. PNG
 * is lossless, so embedding the crops gives the faces' embeddings. An image that cannot be read
 * or has no face is reported and left out. What this is not: dataset alignment with locks and
 * resumption (runtime/face/align.h). */
#ifndef FN_RT_ALIGN_INPUTS_H
#define FN_RT_ALIGN_INPUTS_H

#include <signal.h>

#include "runtime/core/exec.h"
#include "runtime/tools/inputs.h"

typedef struct {
    const char *mtcnn_model;   /* artifact with pnet/eval, rnet/eval, onet/eval */
    const char *mtcnn_weights; /* folder of det1.npy, det2.npy, det3.npy */
    const RtBackend *backend;  /* where the nets run (per-image nets: the CPU's) */
    int margin, image_size;    /* 44, 160 as compare.py */
    const char *work_dir;      /* an existing folder for the crops */
    FILE *log;                 /* what was left out, and progress; NULL: stderr */
    volatile sig_atomic_t *stop;
} RtAlignInputsOpts;

typedef struct {
    RtInputs crops; /* one PNG per input with a face, in input order, with the input's class */
    int *source;    /* [crops.n]: the input each crop is of */
    int n_unreadable, n_no_face;
} RtAligned;

int rt_align_inputs(const RtAlignInputsOpts *o, const RtInputs *in, RtAligned *a, RtStatus *st);
void rt_aligned_free(RtAligned *a);

#endif

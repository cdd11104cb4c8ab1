/* MTCNN face detection (the reference's align/detect_face.py, after Zhang et al.) with fn's
 * compiled nets (models/mtcnn/) and the reference's weight files.
 *
 * The reference feeds transposed (W x H) images to nets trained in column-major Caffe; fn feeds
 * images as they are and adapts the weights instead: conv kernels get their two spatial axes
 * swapped, and the first fully connected layer after the convolutions (RNet conv4, ONet conv5)
 * gets its input rows permuted from the transposed map's (w, h, c) order to (h, w, c). The
 * box arithmetic keeps the reference's MATLAB conventions (1-based, inclusive widths). */
#ifndef FN_RT_MTCNN_H
#define FN_RT_MTCNN_H

#include "runtime/data/image.h"
#include "runtime/data/npy.h"
#include "runtime/core/artifact.h"
#include "runtime/core/exec.h"

/* Fills every variable "<net>/<layer>/<param>" of vars from w (net: "pnet", "rnet", "onet").
 * adapt 0 copies the arrays as they are (for images fed transposed, as the reference). */
int rt_mtcnn_load(RtVars *vars, const char *net, const RtNpyWeights *w, int adapt, RtStatus *st);

typedef struct {
    double box[4]; /* x1 y1 x2 y2 in the reference's coordinates (not squared, not rounded) */
    double score;  /* ONet's face probability */
    double pts[10]; /* x, y of the five landmarks: left eye, right eye, nose, mouth corners */
} RtFace;

typedef struct {
    double minsize;      /* smallest face searched, pixels (20) */
    double factor;       /* pyramid step (0.709) */
    double threshold[3]; /* PNet >=, RNet >, ONet > (0.6, 0.7, 0.7) */
} RtMtcnnParams;
void rt_mtcnn_defaults(RtMtcnnParams *p);

/* A detector: the three nets bound on their own variables, with executors cached per PNet
 * input size and per crop batch size. One per thread; the graphs are only read. */
typedef struct RtMtcnn RtMtcnn;
/* graphs: PNet, RNet, ONet eval graphs (input "data"; outputs prob, reg, landmarks), bound on
 * be (the CPU's: per-image nets); weights_dir holds det1.npy, det2.npy, det3.npy. */
RtMtcnn *rt_mtcnn_new(const RtBackend *be, const IrGraph *pnet, const IrGraph *rnet, const IrGraph *onet,
                      const char *weights_dir, RtStatus *st);
/* The three nets' graphs of the artifact at path (loaded into art), or -1 with st, art freed. */
int rt_mtcnn_graphs(const char *path, RtArtifact *art, const IrGraph *g[3], RtStatus *st);
/* The detector of the artifact at path (graphs pnet/eval, rnet/eval, onet/eval, loaded into
 * art, which must outlive it: rt_artifact_free after rt_mtcnn_free). NULL with st. */
RtMtcnn *rt_mtcnn_open(const RtBackend *be, const char *path, const char *weights_dir, RtArtifact *art,
                       RtStatus *st);
void rt_mtcnn_free(RtMtcnn *m);
/* All faces in img, in descending score (*faces malloc'ed, NULL when none). */
int rt_mtcnn_detect(RtMtcnn *m, const RtImage *img, const RtMtcnnParams *p, RtFace **faces,
                    int *n_faces, RtStatus *st);

#endif

/* MTCNN weights into fn's nets (models/mtcnn/). The reference feeds transposed (W x H)
 * images to nets trained in column-major Caffe; fn feeds images as they are and adapts the
 * weights instead: conv kernels get their two spatial axes swapped, and the first fully
 * connected layer after the convolutions (RNet conv4, ONet conv5) gets its input rows
 * permuted from the transposed map's (w, h, c) order to (h, w, c). */
#ifndef FN_RT_MTCNN_H
#define FN_RT_MTCNN_H

#include "runtime/npy.h"

/* Fills every variable "<net>/<layer>/<param>" of vars from w (net: "pnet", "rnet", "onet").
 * adapt 0 copies the arrays as they are (for images fed transposed, as the reference). */
int rt_mtcnn_load(RtVars *vars, const char *net, const RtNpyWeights *w, int adapt, RtStatus *st);

#endif

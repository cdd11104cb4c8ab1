/* Image resampling as the reference's libraries do it, so detections and aligned crops match:
 * OpenCV's INTER_AREA (MTCNN's pyramid and crops) and Pillow's BILINEAR (the aligned output,
 * scipy.misc.imresize). Both are separable: a table of taps per output column and per output
 * row, applied in two passes. Each returns 0, or -1 when out of memory (dst then unwritten).
 * Not here: decoding (image.h), the training crop/flip (augment.c). */
#ifndef FN_RT_RESIZE_H
#define FN_RT_RESIZE_H

#include "runtime/data/image.h"

/* cv2.resize(src, (dw, dh), interpolation=INTER_AREA) of an interleaved float image with c
 * channels (row stride sw*c). Shrinking on both axes averages the covered source area with
 * fractional edge weights; otherwise OpenCV's area-mode linear interpolation. round_u8 rounds
 * and clamps each result to [0, 255] as cv2 does for 8-bit images (the reference's pyramid);
 * the crops of RNet/ONet are float in the reference, so they are not rounded. */
int rt_resize_area(const float *src, int sw, int sh, int c, float *dst, int dw, int dh,
                   int round_u8);
/* The same on the window [x0, x0+ww) x [y0, y0+wh) of the image, which may reach past its
 * edges: pixels outside are zero (MTCNN's padded crops, without building the padded copy). */
int rt_resize_area_window(const float *src, int sw, int sh, int c, int x0, int y0, int ww, int wh,
                          float *dst, int dw, int dh, int round_u8);

/* PIL Image.resize((dw, dh), BILINEAR) of the window [x0, x0+cw) x [y0, y0+ch) of an RGB
 * image: triangle filter widened by the scale when shrinking (antialiased), horizontal pass
 * first with 8-bit rounding between passes, as Pillow. dst: dw*dh*3 bytes. */
int rt_resize_bilinear(const RtImage *src, int x0, int y0, int cw, int ch, unsigned char *dst,
                       int dw, int dh);

#endif

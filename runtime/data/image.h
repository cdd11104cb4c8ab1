/* Images: decoding JPEG (libjpeg-turbo) and PNG (libpng) into 8-bit RGB, writing PNG, and the
 * per-image augmentation of the input pipeline.
 * Not here: which images make a batch, threads (loader.h). */
#ifndef FN_RT_IMAGE_H
#define FN_RT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/core/rt.h"

typedef struct {
    int w, h;
    unsigned char *pix; /* [h, w, 3] RGB, row-major */
} RtImage;

/* Decodes a JPEG or PNG held in memory (the format is told by its first bytes, never by a file
 * name). Grey becomes RGB; alpha is dropped (not composited); 16-bit PNG is reduced to 8 bits.
 * Returns 0, or -1 with the reason in st (no file named: the caller knows it). Never crashes on
 * bad input: this is the fuzz target. */
int rt_image_decode(const unsigned char *data, size_t n, RtImage *img, RtStatus *st);
/* Reads and decodes a file; the message names the file. */
int rt_image_read(const char *path, RtImage *img, RtStatus *st);
/* The image's size from its header alone. */
int rt_image_probe(const unsigned char *data, size_t n, int *w, int *h, RtStatus *st);
/* Decodes only the window [x0, x0+w) x [y0, y0+h) (inside the image): a JPEG skips the rows
 * above, stops after the last row and decodes only the iMCU columns the window touches; the
 * pixels are those of a full decode. */
int rt_image_decode_window(const unsigned char *data, size_t n, int x0, int y0, int w, int h,
                           RtImage *img, RtStatus *st);
/* Reads a file and decodes what rt_augment(img, control, size, key) will use: without
 * RT_AUG_ROTATE only the crop window (rt_crop_window), else the whole image. Augmenting the
 * result gives the same output as augmenting the whole image. The message names the file. */
int rt_image_load(const char *path, int control, int size, uint64_t key, RtImage *img,
                  RtStatus *st);
void rt_image_free(RtImage *img);
int rt_image_write_png(const char *path, const RtImage *img, RtStatus *st); /* zlib level 6 */
/* level: zlib's 0 (store) .. 9 (smallest); 1 writes ~3x faster than 6, ~9% larger. */
int rt_image_write_png_level(const char *path, const RtImage *img, int level, RtStatus *st);

/* The reference's control bits (facenet.py), one set per image. */
enum {
    RT_AUG_ROTATE = 1,     /* random rotation in [-10, 10] degrees, bicubic, black corners */
    RT_AUG_CROP = 2,       /* random size x size crop (else centre crop / zero pad) */
    RT_AUG_FLIP = 4,       /* random horizontal flip, p = 0.5 */
    RT_AUG_FIXED_STD = 8,  /* (x - 127.5) / 128 (else per-image prewhitening) */
    RT_AUG_FLIP_ALWAYS = 16 /* deterministic flip, after standardisation (LFW flipped pass) */
};

/* Rotates counter-clockwise by `degrees` about the image centre (w/2, h/2), same size, as the
 * reference's PIL rotate: output pixel (x, y) samples the source at the centre-relative inverse
 * rotation of (x + 0.5, y + 0.5), minus 0.5, with cubic convolution (a = -1, PIL's
 * affine-transform kernel) over a 4x4 neighbourhood whose taps are clamped to the image; sample
 * points outside [-0.5, w-0.5) x [-0.5, h-0.5) give black. Clipped to [0, 255] and rounded.
 * dst must have w*h*3 bytes. */
void rt_rotate_bicubic(const RtImage *src, double degrees, unsigned char *dst);

/* Runs the pipeline of SPEC §3 on one decoded image: rotate, crop (random offset uniform in
 * [0, S-s] per axis; otherwise centre crop at floor((S-s)/2) or symmetric zero pad), flip,
 * standardise, deterministic flip, into out[size*size*3]. Random draws come only from the
 * stream `key` (rt_uniform(key, 0..3): angle, crop y, crop x, flip), so results are the same
 * on any thread. scratch must hold img->w * img->h * 3 bytes (used by the rotation).
 * Returns -1 with a message if a random crop is asked of an image smaller than size. */
int rt_augment(const RtImage *img, int control, int size, uint64_t key, unsigned char *scratch,
               float *out, RtStatus *st);
/* The source window [x0, x0+cw) x [y0, y0+ch) that rt_augment reads from a w x h image when it
 * does not rotate; -1 if a random crop does not fit. */
int rt_crop_window(int w, int h, int control, int size, uint64_t key, int *x0, int *y0, int *cw,
                   int *ch);

#endif

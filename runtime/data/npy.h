/* .npy files: the reference's MTCNN weight files (det1.npy, det2.npy, det3.npy) read as they
 * are, and float32 matrices written (fnrun embed). A weights file holds a 0-d object array
 * that wraps a pickled dict {layer: {param: float32 ndarray}}. The bounded pickle reader (runtime/data/pickle.h) rebuilds the dict, allowing only the NumPy
 * globals these files name; no Python code is run and every length is checked. */
#ifndef FN_RT_NPY_H
#define FN_RT_NPY_H

#include "runtime/core/rt.h"

typedef struct {
    char *layer, *param; /* e.g. "conv1", "weights" */
    int rank;
    int64_t dims[8];
    int64_t n;
    float *data; /* row-major, as stored (HWIO kernels) */
} RtNpyArray;

typedef struct {
    RtNpyArray *a;
    int n;
} RtNpyWeights;

int rt_npy_load_weights(const char *path, RtNpyWeights *w, RtStatus *st);
/* From memory (the fuzz entry); name is used in messages. */
int rt_npy_parse_weights(const unsigned char *data, size_t n, const char *name, RtNpyWeights *w,
                         RtStatus *st);
const RtNpyArray *rt_npy_find(const RtNpyWeights *w, const char *layer, const char *param);
void rt_npy_free(RtNpyWeights *w);

/* x [rows, cols] float32 to path as a .npy numpy.load reads (npy_save.c); written whole or
 * not at all (a temporary file renamed into place). */
int rt_npy_save_f32(const char *path, const float *x, int64_t rows, int64_t cols, RtStatus *st);

#endif

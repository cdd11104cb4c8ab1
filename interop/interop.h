/* Models in and out: weights written by other frameworks read into named tensors, matched by
 * name to an artifact's variables, and the eval graph written out as ONNX.
 *
 * What this is: the readers (TensorFlow V2 checkpoints: interop/tf_table.c, tf_checkpoint.c;
 * frozen GraphDefs: tf_graph.c; PyTorch state dicts: torch_pt.c), the name tables and layout
 * conversions that map them onto fn's variables (import.c), and the ONNX code generator
 * (onnx_export.c). Every reader checks every length, offset and checksum against the file and
 * runs nothing it reads (no pickle global outside its allow-list, no graph op).
 * What this is not: an executor; it never runs a graph (runtime/ does). Depends on runtime/
 * (status, variables, artifacts) and ir/, never the other way.
 */
#ifndef FN_INTEROP_H
#define FN_INTEROP_H

#include "runtime/core/rt.h"

#define IX_MAX_RANK 8

/* One tensor as the source file stores it: its name, its element type as the source names it,
 * its shape in the source's layout (TF: HWIO convolutions; PyTorch: OIHW), row-major. */
typedef struct {
    char *name;
    char dtype[16]; /* "float32", "int64", "float64", ... */
    int rank;
    int64_t dims[IX_MAX_RANK];
    int64_t n;   /* elements (1 for a scalar) */
    float *data; /* n floats when dtype is "float32", else NULL (the values are not kept) */
} IxTensor;

typedef struct {
    IxTensor *t;
    int n, cap;
} IxTensors;

/* Appends a tensor (name copied); with dtype "float32" its data is allocated (zeroed) for the
 * caller to fill. NULL with st filled on a bad shape (negative dims, rank > IX_MAX_RANK, more
 * than 2^31 elements) or out of memory. */
IxTensor *ix_tensors_add(IxTensors *ts, const char *name, const char *dtype, int rank,
                         const int64_t *dims, RtStatus *st);
const IxTensor *ix_tensors_find(const IxTensors *ts, const char *name); /* NULL if absent */
void ix_tensors_free(IxTensors *ts);
/* "[a,b,c]" */
void ix_shape_str(const int64_t *dims, int rank, char *buf, size_t cap);

/* ---- readers: each fills out (empty on entry) or returns -1 with a one-line message naming
 * the file (and the tensor, where one is at fault); out is empty again after an error. ---- */

/* A TensorFlow V2 checkpoint: prefix "DIR/model-X.ckpt-N" (a path ending in .index or
 * .data-00000-of-00001 is taken as its prefix). Every tensor's CRC-32C is checked. Tensors of
 * other dtypes are listed with data NULL. */
int ix_tf_checkpoint_read(const char *prefix, IxTensors *out, RtStatus *st);
/* The same from memory (the fuzz entry): the .index table and the single data shard. */
int ix_tf_checkpoint_parse(const unsigned char *index, size_t n_index, const unsigned char *data,
                           size_t n_data, const char *name, IxTensors *out, RtStatus *st);
/* A frozen TensorFlow GraphDef (.pb): every Const node's "value" tensor, named as the node. */
int ix_tf_graph_read(const char *path, IxTensors *out, RtStatus *st);
int ix_tf_graph_parse(const unsigned char *d, size_t n, const char *name, IxTensors *out, RtStatus *st);
/* A PyTorch state dict saved by torch.save (zip format, or the legacy format of torch < 1.6). */
int ix_torch_read(const char *path, IxTensors *out, RtStatus *st);
int ix_torch_parse(const unsigned char *d, size_t n, const char *name, IxTensors *out, RtStatus *st);

#endif

/* `fnrun import`: weights written by another framework as an fn checkpoint for an artifact.
 *
 * What this is: the pipeline (interop/import.c) — read the source into named tensors, map each
 * of the artifact's variables to a source tensor by an explicit name table per source
 * (interop/names.c), convert the layout, check every shape, and write a checkpoint
 * (runtime/core/checkpoint.h) with the artifact beside it, so `fnrun validate`, `--pretrained_model`
 * and `fnrun export` take it as they take a run's.
 * What this is not: a reader (interop/tf_*.c, torch_pt.c) or a converter of graphs: the model
 * is always fn's own artifact, and only its variables come from the source.
 */
#ifndef FN_INTEROP_IMPORT_H
#define FN_INTEROP_IMPORT_H

#include "interop/interop.h"

typedef enum {
    IX_FMT_AUTO,     /* from the file's first bytes and name */
    IX_FMT_TF_CKPT,  /* TensorFlow V2 checkpoint: PREFIX.index + PREFIX.data-00000-of-00001 */
    IX_FMT_TF_GRAPH, /* frozen TensorFlow GraphDef (.pb) */
    IX_FMT_TORCH     /* facenet-pytorch state dict (torch.save) */
} IxFormat;

/* How a source tensor's layout becomes fn's. */
typedef enum {
    IX_LAYOUT_SAME,
    IX_LAYOUT_OIHW, /* PyTorch Conv2d weight [O,I,H,W] -> fn's HWIO [H,W,I,O] */
    IX_LAYOUT_T2    /* PyTorch Linear weight [out,in] -> fn's [in,out] */
} IxLayout;

typedef struct {
    const char *src;      /* file, or a TF checkpoint's prefix */
    IxFormat format;
    const char *artifact; /* the model the weights are for */
    const char *out;      /* the checkpoint to write; its artifact goes beside it as model-RUN.fnc */
    int image_size;       /* bound and recorded for evaluation; 0: the model's default */
    int allow_missing;    /* variables the source lacks keep their initial values */
    int allow_extra;      /* source tensors that match no variable are ignored */
    int use_moving_averages; /* TF: the weights take their ExponentialMovingAverage shadows */
    uint64_t seed;        /* initial values of what the source does not give */
    FILE *log;            /* what was matched, skipped, and why; every problem (default stdout) */
} IxImportOpts;

void ix_import_defaults(IxImportOpts *o);
/* Reads o->src and imports it. */
int ix_import(const IxImportOpts *o, RtStatus *st);
/* The same from tensors already read (o->src names them in messages). */
int ix_import_tensors(const IxImportOpts *o, IxFormat fmt, const IxTensors *src, RtStatus *st);

/* The format of src by its first bytes and name (never IX_FMT_AUTO; -1 with st if none). */
int ix_detect_format(const char *src, IxFormat *fmt, RtStatus *st);
const char *ix_format_name(IxFormat fmt);
int ix_read_source(const char *src, IxFormat fmt, IxTensors *out, RtStatus *st);

/* ---- the name tables (interop/names.c) ----------------------------------------------------- */
/* The source tensor that holds fn variable `name`, and its layout; 0 if the source has no
 * name for it (buf then empty). */
int ix_source_name(IxFormat fmt, const char *name, char *buf, size_t cap, IxLayout *layout);
/* Where the source keeps fn variable `name`'s moving average (TF: NAME/ExponentialMovingAverage);
 * 0 if it has no such place. */
int ix_source_average_name(IxFormat fmt, const char *name, char *buf, size_t cap);
/* For a source batch norm fn has no variable for (facenet-pytorch's bn.weight, TF's gamma): the
 * scale's source name for the batch norm whose beta is fn variable `beta_name`; 0 if none. */
int ix_source_bn_scale(IxFormat fmt, const char *beta_name, char *buf, size_t cap);
/* Source tensors that are no variable's but carry nothing fn needs (global_step,
 * num_batches_tracked): 1 to ignore them. */
int ix_source_ignorable(IxFormat fmt, const char *src_name);

#endif

/* A model to run: MODEL (an artifact, a checkpoint or a run's model directory, as
 * rt_checkpoint_resolve_model finds them) opened, one of its graphs bound at a batch size and
 * its variables filled — seeded, then the checkpoint's (or its moving averages), or an MTCNN
 * net's det<k>.npy as fnrun align adapts them. What fnrun validate, fnrun export and the bench
 * tools share. What this is not: an executor (bind one on m->vars with m->b).
 */
#ifndef FN_RT_MODEL_H
#define FN_RT_MODEL_H

#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"

typedef struct {
    const char *model;
    const char *graph;          /* "eval"; "pnet/eval" ... in mtcnn.fnc */
    int image_size;             /* also H and W (the MTCNN nets) */
    int embedding_size;         /* for an artifact alone: a checkpoint knows its own */
    int use_moving_averages;    /* the checkpoint's averaged weights */
    uint64_t seed;              /* the initial values of what nothing else gives */
    const char *mtcnn_weights;  /* the folder of det1-3.npy, for an MTCNN graph */
} RtModelOpts;

typedef struct {
    char artifact[4096], ckpt[4096]; /* ckpt[0] == 0 for an artifact alone */
    RtCkptInfo info;                 /* zero for an artifact alone */
    RtArtifact art;
    const IrGraph *g;
    RtVars *vars;     /* float32, bound at the batch rt_model_open was given */
    RtBinding b[6];   /* the bindings, for rt_exec_bind and friends */
    int nb;
} RtModel;

/* 0, or -1 with st (m is then closed). */
int rt_model_open(const RtModelOpts *o, int64_t batch, RtModel *m, RtStatus *st);
void rt_model_close(RtModel *m);

#endif

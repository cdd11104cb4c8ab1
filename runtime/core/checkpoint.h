/* Checkpoints (runtime/core/proto/fn_checkpoint.proto): save, load for resume, restore weights from a
 * pretrained run, and find a run's latest checkpoint. Variables are float32 (RtVars prec 4). */
#ifndef FN_RT_CHECKPOINT_H
#define FN_RT_CHECKPOINT_H

#include "runtime/core/rt.h"

#define FN_CHECKPOINT_VERSION 1
extern const char rt_checkpoint_magic[8]; /* the framed file's magic, "FNCKPT01" (framed.h) */

typedef struct {
    char run[64];
    int64_t step;
    uint64_t seed;
    char optimizer[32];
    int epoch_size, batch_size;
    int image_size, embedding_size, classes;
} RtCkptInfo;

/* Written atomically (framed.h; kill_midwrite: its crash test). ema may be NULL. */
int rt_checkpoint_save(const char *path, const RtCkptInfo *info, const RtVars *vars, const RtVars *ema,
                       int kill_midwrite, RtStatus *st);
/* Everything back for a resume: every variable of vars (and ema) must be in the file with the
 * same shape. */
int rt_checkpoint_load(const char *path, RtCkptInfo *info, RtVars *vars, RtVars *ema,
                       RtStatus *st);
/* Reads only the header fields (no variables). */
int rt_checkpoint_info(const char *path, RtCkptInfo *info, RtStatus *st);
/* The same from a file's bytes in memory (name for messages): for the fuzz target. */
int rt_checkpoint_info_from_bytes(const void *data, size_t size, const char *name, RtCkptInfo *info,
                                  RtStatus *st);
/* Evaluation with the moving averages: every averaged variable of vars gets its average. */
int rt_checkpoint_load_averages(const char *path, RtVars *vars, RtStatus *st);
/* --pretrained_model: restores the weights and batch-norm statistics whose name and shape
 * match; Logits of another class count are skipped with a message on log; anything else that
 * does not match is an error. */
int rt_checkpoint_restore_weights(const char *path, RtVars *vars, FILE *log, RtStatus *st);
/* The path of the checkpoint with the largest epoch in dir (model-*.ckpt-<epoch>). */
int rt_checkpoint_latest(const char *dir, char *path, size_t cap, RtStatus *st);
/* For --resume: the newest checkpoint in dir that reads whole (checksum and decoding) and its
 * info; a corrupt newer one is passed over with a note on log naming it. */
int rt_checkpoint_latest_intact(const char *dir, FILE *log, char *path, size_t cap, RtCkptInfo *info,
                                RtStatus *st);
/* The artifact and checkpoint behind a MODEL argument (fnrun validate, fnrun export): an
 * artifact alone (ckpt[0] == 0, info untouched), a checkpoint (info read from it; its artifact
 * model-<run>.fnc beside it, else the only model-*.fnc there: a renamed run folder), or a run's
 * model directory (its latest checkpoint). */
int rt_checkpoint_resolve_model(const char *model, char *art, char *ckpt, size_t cap, RtCkptInfo *info,
                                RtStatus *st);

#endif

/* Compiled artifacts on disk (see runtime/core/proto/fn_artifact.proto for the format). */
#ifndef FN_RT_ARTIFACT_H
#define FN_RT_ARTIFACT_H

#include "runtime/core/rt.h"

#define FN_ARTIFACT_VERSION 1
#define FN_VERSION "0.1.0"

typedef struct {
    char *source;
    char *compiler;
    int n;
    char **names;
    IrGraph **graphs;
} RtArtifact;

/* Writes atomically (temp file + rename): a failure leaves any previous file whole. */
int rt_artifact_save(const char *path, const char *source, IrGraph *const *graphs,
                     const char *const *names, int n, RtStatus *st);
int rt_artifact_load(const char *path, RtArtifact *a, RtStatus *st);
/* The artifact at `from` written to `to` (checked as an artifact, written atomically): the graph
 * a run or an imported checkpoint keeps beside its checkpoints as model-RUN.fnc. */
int rt_artifact_copy(const char *from, const char *to, RtStatus *st);
/* The same from a file's bytes in memory (name for messages): for the fuzz target. */
int rt_artifact_from_bytes(const void *data, size_t size, const char *name, RtArtifact *a, RtStatus *st);
IrGraph *rt_artifact_graph(const RtArtifact *a, const char *name); /* NULL if absent */
void rt_artifact_free(RtArtifact *a);

#endif

/* ONNX as one more code-generation target of the IR: a bound eval graph written as an ONNX model
 * (onnx_export.c), and a reader that checks such a file's structure (onnx_check.c).
 *
 * What this is: the exporter lowers the nodes reachable from the chosen outputs op by op (one
 * table keyed by IrOp; IR ops without an ONNX lowering are an error naming the op), keeps every
 * rank-4 value NCHW (fn is NHWC), writes the variables as float32 initialisers and leaves the
 * batch dimension N symbolic ("N"). Batch norm stays the IR's primitive ops (ONNX Runtime folds
 * the constants). IR version 8, opset 17 (default domain only).
 * The checker unpacks a ModelProto and checks what the exporter promises: opset present, every
 * node input defined earlier (graph input, initialiser or an earlier node's output), each name
 * defined once, every initialiser's data as long as its dims say; it counts nodes by op type.
 * What this is not: a runtime (ONNX Runtime runs the file; bench/interop/onnx_parity.py
 * compares it with fn), an importer of ONNX models, or a full ONNX checker (operator schemas and
 * shape inference are onnx.checker's: tests/cli_export.sh runs it).
 */
#ifndef FN_INTEROP_ONNX_H
#define FN_INTEROP_ONNX_H

#include "runtime/core/rt.h"

#define IX_ONNX_IR_VERSION 8
#define IX_ONNX_OPSET      17

/* What is exported: an eval graph, its variables (float32, filled) and a value for every symbol
 * of g. The symbol "N" (the batch) stays symbolic; its value in sym is not used. */
typedef struct {
    const IrGraph *g;
    const RtVars *vars;
    const int64_t *sym;
} IxOnnxSource;

typedef struct {
    const char *const *outputs; /* graph outputs to export; NULL or 0: "embeddings" when g has
                                   it, else every output of g */
    int n_outputs;
    int input_nchw;         /* 1: rank-4 inputs (and outputs) are NCHW; 0: NHWC as fn's, with
                               a Transpose after each input and before each output */
    const char *graph_name; /* the ONNX graph's name ("fn" if NULL) */
} IxOnnxOpts;

typedef struct {
    int nodes, initializers, inputs, outputs;
    int64_t parameters; /* exporter: elements of the variables written; checker: float elements
                           of every initialiser (the variables plus a few scalar constants) */
    int64_t ir_version, opset;
    int n_ops; /* distinct op types, in order of first use */
    struct {
        char op[32];
        int count;
    } ops[64];
} IxOnnxInfo;

/* The serialised ModelProto in *bytes (malloc'ed, *len bytes); info (may be NULL) gets the
 * counts. -1 with st naming the fault: a missing variable, an unknown output, an op without a
 * lowering, a shape that depends on N where ONNX needs a constant. */
int ix_onnx_export(const IxOnnxSource *src, const IxOnnxOpts *o, unsigned char **bytes, size_t *len,
                   IxOnnxInfo *info, RtStatus *st);
/* bytes written to path atomically (a temporary file beside it, renamed over it). */
int ix_onnx_write(const char *path, const unsigned char *bytes, size_t len, RtStatus *st);

/* The checks above on a serialised ModelProto; info (may be NULL) gets the counts. */
int ix_onnx_check(const unsigned char *bytes, size_t len, IxOnnxInfo *info, RtStatus *st);
/* The same on a file (at most 2 GiB). */
int ix_onnx_check_file(const char *path, IxOnnxInfo *info, RtStatus *st);
/* The count of op_type in info (0 if absent). */
int ix_onnx_op_count(const IxOnnxInfo *info, const char *op_type);

#endif

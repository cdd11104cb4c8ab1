/* The IR: a dataflow graph of primitive tensor ops.
 *
 * What this is: nodes in an arena referred to by integer id (IrId), built through hash-consing
 * constructors (an identical node is never built twice: CSE for free), each carrying its inferred
 * shape and dtype. Node ids are a topological order: a node's inputs always have smaller ids.
 * Shapes are made of symbolic dimension expressions (IrDim), themselves hash-consed in the graph,
 * so one compiled graph serves every batch size, image size, embedding size and class count; the
 * runtime binds the symbols and evaluates the dimensions once.
 * What this is not: an executor or a scheduler (runtime/, passes/).
 *
 * Semantics
 * - Layout: activations NHWC, conv weights HWIO [kh,kw,cin,cout], matrices row-major.
 * - dtypes: IR_DT_FLOAT is "the execution's float type": the same graph runs in float32 for
 *   training and in float64 for gradient checks. IR_DT_INT32 is for labels.
 * - Broadcasting: binary elementwise ops align shapes at the trailing axis; the shorter shape
 *   must be a suffix of the longer one (no size-1 stretching). Rank-0 tensors are scalars.
 * - NaN: propagates through arithmetic; relu(NaN) = NaN; comparisons with NaN are false.
 * - Side effects: ASSIGN nodes write a variable after the step; they are graph roots.
 * Errors: constructors return IR_NONE and leave a message in g->err for the caller (the
 * frontend turns it into a located diagnostic); internal invariants are asserts.
 */
#ifndef FN_IR_H
#define FN_IR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/status.h"

#define IR_MAX_RANK 6
#define IR_MAX_IN 8
#define IR_NONE (-1)
/* Elements per tensor at most: 2^40 (4 TiB of float32), so that sizes, products of dims and byte
 * counts stay far inside int64_t; a node whose constant shape exceeds it is refused. */
#define IR_MAX_NUMEL ((int64_t)1 << 40)
/* Nodes per graph at most (the training graph of Inception-ResNet-v1 has about 10^4). */
#define IR_MAX_NODES (1 << 22)

typedef int32_t IrId;  /* node id */
typedef int32_t IrDim; /* dimension-expression id */

typedef enum {
#define IR_OP(e, name, arity, cls, attr, flags, sem) IR_OP_##e,
#include "ir/ops.def"
#undef IR_OP
    IR_OP_COUNT
} IrOp;

typedef enum {
    IR_CLASS_SOURCE,
    IR_CLASS_ELEMENTWISE,
    IR_CLASS_REDUCTION,
    IR_CLASS_MOVEMENT,
    IR_CLASS_CONTRACTION,
    IR_CLASS_WINDOW,
    IR_CLASS_NN
} IrClass;

typedef enum {
    IR_ATTR_NONE,
    IR_ATTR_LEAF,
    IR_ATTR_SCALAR,
    IR_ATTR_WINDOW,
    IR_ATTR_AXIS,
    IR_ATTR_MATMUL,
    IR_ATTR_REDUCE,
    IR_ATTR_REPLICAS
} IrAttrKind;

enum { IR_F_NOGRAD = 1, IR_F_EFFECT = 2, IR_F_RANDOM = 4 };

typedef struct {
    const char *name;
    int arity;
    IrClass cls;
    IrAttrKind attr;
    int flags;
    const char *semantics;
} IrOpInfo;
extern const IrOpInfo ir_op_info[IR_OP_COUNT];

typedef enum { IR_DT_FLOAT, IR_DT_INT32 } IrDtype;

/* ---- dimension expressions ------------------------------------------------------------------ */
typedef enum {
    IR_DIM_CONST,
    IR_DIM_SYM,
    IR_DIM_ADD,
    IR_DIM_SUB,
    IR_DIM_MUL,
    IR_DIM_FLOORDIV
} IrDimKind;

/* Nesting of a dimension expression at most (evaluation and printing recurse on it). */
#define IR_MAX_DIM_DEPTH 1000

typedef struct {
    IrDimKind kind;
    int32_t depth; /* 1 for CONST and SYM, else 1 + the deeper operand's */
    int64_t a, b; /* CONST: value in a; SYM: symbol index in a; others: operand dim ids */
} IrDimNode;

typedef struct {
    int rank;
    IrDim d[IR_MAX_RANK];
} IrShape;

/* ---- attributes: one struct per attribute kind, chosen by the op table ---------------------- */
typedef enum { IR_INIT_ZEROS, IR_INIT_ONES, IR_INIT_CONST, IR_INIT_GLOROT_UNIFORM } IrInit;
enum {
    IR_LEAF_DECAY = 1, /* the variable is a weight under weight decay */
    IR_LEAF_INT = 2    /* an int32 input (labels) */
};

typedef struct {
    int name; /* interned string: the variable's or input's full name */
    IrInit init;
    double value; /* IR_INIT_CONST */
    int flags;    /* IR_LEAF_* */
} IrLeafAttr;
typedef struct {
    double f;
} IrScalarAttr;
typedef struct {
    int kh, kw, sh, sw; /* kh = kw = 0 on AVGPOOL: the whole map (global pooling) */
    int same;           /* 1 = SAME padding, 0 = VALID */
} IrWindowAttr;
typedef struct {
    int axis, start, len;
} IrAxisAttr;
typedef struct {
    int ta, tb;
} IrMatmulAttr;
typedef struct {
    int keep; /* SUM/BCAST: number of trailing axes kept */
    int mean; /* divide by the number of reduced (or broadcast) elements */
} IrReduceAttr;

/* ALLREDUCE's group: which data-parallel runs reduce it (the runtime decides from its replicas
 * and options, passes/replicas.c; with one replica none is reduced) */
typedef enum {
    IR_REPLICAS_ALWAYS,   /* every run of several replicas: gradients, the centres' updates */
    IR_REPLICAS_SYNC_BN,  /* with synchronised batch norm only: the batch moments */
    IR_REPLICAS_LOCAL_BN, /* without it only: the moving statistics' targets */
    IR_REPLICAS_COUNT
} IrReplicaGroup;
typedef struct {
    int group; /* IrReplicaGroup */
    int mean;  /* divide the sum by the number of replicas */
} IrReplicasAttr;

typedef struct {
    union {
        IrLeafAttr leaf;
        IrScalarAttr scalar;
        IrWindowAttr window;
        IrAxisAttr axis;
        IrMatmulAttr matmul;
        IrReduceAttr reduce;
        IrReplicasAttr replicas;
    } u;
    IrShape shape; /* target shape: sources, RESHAPE, BCAST*, CONV2D_BWD_DATA, AVGPOOL_GRAD */
    int copy;      /* 0, or k > 0 on the k-th copy of a pointwise value that passes/recompute.c
                      gave to another reader to recompute (distinct nodes, same value) */
} IrAttr;

typedef struct {
    IrOp op;
    IrDtype dtype;
    int n_in;
    IrId in[IR_MAX_IN];
    IrAttr attr;
    IrShape shape; /* inferred */
    int scope;     /* interned scope path where it was built (naming only, not identity) */
} IrNode;

typedef struct {
    int name; /* interned */
    IrId id;
} IrNamed;

typedef struct {
    char *name;
    int64_t dflt; /* -1: no default, must be bound */
} IrSym;

typedef struct IrGraph {
    IrNode *nodes;
    int n_nodes, cap_nodes;
    IrDimNode *dims;
    int n_dims, cap_dims;
    IrSym *syms;
    int n_syms, cap_syms;
    char **strs;
    int n_strs, cap_strs;
    IrNamed *outputs; /* named results */
    int n_outputs, cap_outputs;
    IrNamed *marks; /* layer boundaries for `fnc info` (scope name, value) */
    int n_marks, cap_marks;
    IrId *effects; /* ASSIGN nodes, in creation order */
    int n_effects, cap_effects;
    int32_t *node_hash, *dim_hash, *str_hash; /* open addressing tables, -1 = empty */
    int node_hash_cap, dim_hash_cap, str_hash_cap;
    int cur_scope; /* interned; stamped onto new nodes */
    char err[512];
    int oom;       /* an allocation failed: the graph is incomplete; ir_make returns IR_NONE */
} IrGraph;

/* ---- graph --------------------------------------------------------------------------------- */
IrGraph *ir_graph_new(void); /* NULL when out of memory */
void ir_graph_free(IrGraph *g);
IrGraph *ir_graph_clone(const IrGraph *g);
/* g's symbols, dimensions and strings, without nodes, outputs, marks or effects: the start of a
 * pass that rebuilds a graph node by node (simplify, recompute) */
IrGraph *ir_graph_clone_empty(const IrGraph *g);
int ir_intern(IrGraph *g, const char *s);
const char *ir_str(const IrGraph *g, int id);
static inline IrNode *ir_node_at(IrGraph *g, IrId id) { return &g->nodes[id]; }
int ir_set_output(IrGraph *g, const char *name, IrId id); /* replaces an existing name */
IrId ir_output(const IrGraph *g, const char *name);       /* IR_NONE if absent */
void ir_add_mark(IrGraph *g, const char *name, IrId id);
/* The end of a pass's rebuild: src's outputs and marks in dst, each node through map (src id ->
 * dst id), and src's current scope; -1 when dst ran out of memory (then or earlier). */
int ir_copy_names(IrGraph *dst, const IrGraph *src, const IrId *map);
IrId ir_find_leaf(const IrGraph *g, IrOp op, const char *name); /* INPUT/PARAM/STATE by name */

/* ---- dims ---------------------------------------------------------------------------------- */
IrDim ir_dim_const(IrGraph *g, int64_t v);
IrDim ir_dim_sym(IrGraph *g, const char *name, int64_t dflt); /* existing symbol or new one */
/* The arithmetic folds constants; IR_NONE with g->err when that overflows int64_t or divides by
 * zero, or when an operand is IR_NONE (ir_make refuses a shape holding IR_NONE, passing g->err on). */
IrDim ir_dim_add(IrGraph *g, IrDim a, IrDim b);
IrDim ir_dim_sub(IrGraph *g, IrDim a, IrDim b);
IrDim ir_dim_mul(IrGraph *g, IrDim a, IrDim b);
IrDim ir_dim_floordiv(IrGraph *g, IrDim a, IrDim b);
int ir_dim_const_value(const IrGraph *g, IrDim d, int64_t *v); /* 1 if constant */
int ir_sym_index(const IrGraph *g, const char *name);           /* -1 if unknown */
/* Evaluates with symbol values sym[i] (index = symbol index): 0, or -1 when the arithmetic
 * overflows int64_t or divides by zero. */
int ir_dim_eval_checked(const IrGraph *g, IrDim d, const int64_t *sym, int64_t *out);
/* The same, -1 on overflow or division by zero (no dimension is negative: callers check < 1). */
int64_t ir_dim_eval(const IrGraph *g, IrDim d, const int64_t *sym);
int ir_dim_format(const IrGraph *g, IrDim d, char *buf, size_t cap);
int ir_shape_format(const IrGraph *g, const IrShape *s, char *buf, size_t cap);
IrShape ir_shape_make(IrGraph *g, int rank, const int64_t *v); /* constant shape */
int ir_shape_equal(const IrShape *a, const IrShape *b);        /* structurally */

/* ---- node construction (hash-consed, shape-inferred) ---------------------------------------- */
/* The general constructor: IR_NONE and g->err on a shape/arity/dtype error. */
IrId ir_make(IrGraph *g, IrOp op, const IrId *in, int n_in, const IrAttr *attr);
IrId ir_unary(IrGraph *g, IrOp op, IrId x);
IrId ir_binary(IrGraph *g, IrOp op, IrId a, IrId b);
IrId ir_scalar_op(IrGraph *g, IrOp op, IrId x, double f); /* SCALE, ADDS, POWS, L2NORM */
IrId ir_const(IrGraph *g, double f, const IrShape *shape);
IrId ir_leaf(IrGraph *g, IrOp op, const char *name, IrDtype dt, const IrShape *shape, IrInit init,
             double value, int flags);
IrId ir_reduce(IrGraph *g, IrOp op, IrId x, int keep, int mean, const IrShape *target);

/* ---- rules (one file per op class holds both: ir/rules_*.c) -------------------------------- */
/* Infers n->shape and n->dtype from inputs and attributes; 0 ok, -1 with g->err. */
int ir_infer(IrGraph *g, IrNode *n);
/* Vector-Jacobian product: given node id and its adjoint dy, builds the adjoints of its inputs
 * into dx[i] (IR_NONE where none flows). 0 ok, -1 with g->err. */
int ir_vjp(IrGraph *g, IrId id, IrId dy, IrId *dx);

/* ---- checks and text ------------------------------------------------------------------------- */
int ir_verify(IrGraph *g); /* 0 ok; -1 with g->err */
void ir_print(const IrGraph *g, FILE *f);
/* Parses the text of ir_print into a new graph; NULL with a message in st (ir/status.h). */
IrGraph *ir_parse_text(const char *text, FnStatus *st);
/* The product of dims; -1 when a dim is negative or the product exceeds IR_MAX_NUMEL. */
int64_t ir_numel(const int64_t *dims, int rank);
/* Every node's readers, one entry an input edge (a node reading x twice is listed twice), in id
 * order: node x's are list[start[x] .. start[x + 1]). 0, or -1 when out of memory (then empty). */
typedef struct {
    int *start; /* n_nodes + 1 entries */
    IrId *list;
} IrReaders;
int ir_readers(const IrGraph *g, IrReaders *r);
void ir_readers_free(IrReaders *r);

#endif

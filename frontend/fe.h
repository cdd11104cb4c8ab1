/* The frontend: the model DSL (docs/dsl.md) parsed, checked and lowered into an IR graph.
 *
 * What this is: a lexer, a recursive-descent parser building an AST per source file, and a
 * tree-walking evaluator that runs the program once and emits IR nodes for every tensor value it
 * computes (shapes are inferred and checked by the IR constructors as they are built). All user
 * mistakes become located diagnostics `file:line:col: error: message` followed by the source
 * line and a caret line; errors are collected, never fatal.
 * What this is not: autodiff, optimisation or anything that runs tensors (passes/, runtime/).
 *
 * The public API is fe_compile. The section after FE_INTERNAL is shared by the frontend/ sources
 * only.
 */
#ifndef FN_FE_H
#define FN_FE_H

#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"
#include "ir/status.h"

typedef struct {
    const char *name;
    int64_t value;
} FeDefine;

/* Resource limits of one compile (0 in a field: the FE_MAX_* default below); fe_compile_text
 * takes them, for a fuzzer or a service compiling untrusted models to set them lower. */
typedef struct {
    int64_t steps;       /* statements executed */
    int64_t nodes;       /* IR nodes built */
    int64_t value_bytes; /* list and string bytes built */
    int64_t repeat;      /* one repeat's count */
} FeLimits;

typedef struct {
    const char *path;        /* model file */
    const FeDefine *defines; /* -D name=value: binds a `dim` to a constant */
    int n_defines;
    int training; /* value of the builtin `training` */
} FeOptions;

/* Parses, checks and lowers the model into a new IR graph. All diagnostics are printed to diag
 * as `file:line:col: error: message`, then the source line, then a caret line; all errors are
 * collected (parse errors recover at statement level; a failed expression yields an error value
 * that propagates silently). Returns NULL if any error; *n_errors gets the count (n_errors may be
 * NULL), and st (ir/status.h; may be NULL) the first error's line as printed (`file:line:col:
 * error: message`, or `path: error: message` where it has no place), for callers that want the
 * reason without reading diag. Never exits, never asserts on user mistakes. */
IrGraph *fe_compile(const FeOptions *opt, FILE *diag, int *n_errors, FnStatus *st);
/* The same with the model's text given in memory (len bytes, no NUL needed); opt->path names it
 * in diagnostics, and its imports are resolved relative to opt->path's folder. limits: NULL for
 * the defaults. */
IrGraph *fe_compile_text(const FeOptions *opt, const FeLimits *limits, const char *text, size_t len,
                         FILE *diag, int *n_errors, FnStatus *st);

#ifdef FE_INTERNAL
/* ============================ internals shared by the frontend/ sources
 * ============================= */
#include <stdarg.h>
#include <stddef.h>

#define FE_MAX_CALL_DEPTH 64  /* nested user-function calls */
#define FE_MAX_NEST       200 /* parser nesting (brackets, blocks, operators: the AST's depth) */
#define FE_MAX_ARGS       16  /* builtin parameters */
/* Resource limits: a model is a small program; these keep a hostile or mistaken one from
 * exhausting memory or time (each is reported as a located error, and evaluation stops). */
#define FE_MAX_FILE_BYTES  (4 << 20)   /* a source file (the models are a few KiB) */
#define FE_MAX_REPEAT      100000      /* one repeat's count */
#define FE_MAX_STEPS       1000000     /* statements executed in all (FeLimits may lower these four) (Inception-ResNet-v1: ~10^4) */
#define FE_MAX_LIST        (1 << 20)   /* items of one list */
#define FE_MAX_STRING      (1 << 20)   /* bytes of one string */
#define FE_MAX_VALUE_BYTES (256 << 20) /* lists and strings built in all */
#define FE_MAX_NODES       (1 << 18)   /* IR nodes the model builds (IRv1: ~1900 before autodiff) */
#define FE_MAX_FILES       256         /* source files: the model and its imports */
#define FE_MAX_ERRORS      50          /* diagnostics printed before the compile gives up */

/* ---- memory: everything of one compilation lives in one arena, freed at the end ----------- */
typedef struct FeArenaBlock FeArenaBlock;
typedef struct {
    FeArenaBlock *head;
} FeArena;
struct FeCtx;
/* Zeroed; NULL when out of memory, reported (fe_oom). */
void *fe_alloc(struct FeCtx *c, size_t n);
char *fe_strndup(struct FeCtx *c, const char *s, size_t n);
void fe_arena_free(FeArena *a);

/* ---- sources and locations -------------------------------------------------------------- */
typedef struct {
    int file;      /* index into FeCtx.files; -1: no location */
    int line, col; /* 1-based; col counts bytes */
} FeLoc;

struct FeNode;
typedef struct {
    const char *path; /* as opened (relative to the importer's folder) */
    const char *real; /* realpath, for "each file once" */
    char *text;       /* NUL-terminated contents */
    size_t len;
    struct FeNode *prog; /* FE_N_BLOCK of top-level statements */
    int state;           /* 0 parsed, 1 running, 2 done */
    int imported;        /* not the model file itself */
    int lex_bad;         /* had a lexical error: maybe not DSL at all */
    int quoted;          /* source lines quoted in diagnostics so far */
} FeFile;

/* ---- tokens ------------------------------------------------------------------------------- */
typedef enum {
    FE_T_EOF,
    FE_T_IDENT,
    FE_T_INT,
    FE_T_FLOAT,
    FE_T_STRING,
    /* keywords */
    FE_T_IMPORT,
    FE_T_DIM,
    FE_T_DEF,
    FE_T_OUTPUT,
    FE_T_SCOPE,
    FE_T_REPEAT,
    FE_T_IF,
    FE_T_ELSE,
    FE_T_RETURN,
    FE_T_TRUE,
    FE_T_FALSE,
    FE_T_AND,
    FE_T_OR,
    FE_T_NOT,
    /* punctuation */
    FE_T_LPAREN,
    FE_T_RPAREN,
    FE_T_LBRACK,
    FE_T_RBRACK,
    FE_T_LBRACE,
    FE_T_RBRACE,
    FE_T_COMMA,
    FE_T_ASSIGN, /* = */
    FE_T_EQ,
    FE_T_NE,
    FE_T_LT,
    FE_T_LE,
    FE_T_GT,
    FE_T_GE,
    FE_T_PLUS,
    FE_T_MINUS,
    FE_T_STAR,
    FE_T_SLASH,
    FE_T_DSLASH, /* // */
    FE_T_COUNT
} FeTokKind;

typedef struct {
    FeTokKind kind;
    FeLoc loc;
    int bol;          /* first token on its line */
    int bad;          /* stands for (or follows) a lexical error: no parse error reported here */
    const char *text; /* IDENT: interned name; STRING: decoded contents */
    int64_t ival;
    double fval;
} FeToken;

const char *fe_tok_name(FeTokKind k); /* "'+'", "identifier", ... for messages */

/* ---- AST ---------------------------------------------------------------------------------- */
typedef enum {
    /* expressions */
    FE_N_INT,
    FE_N_FLOAT,
    FE_N_STR,
    FE_N_BOOL,
    FE_N_NAME,
    FE_N_LIST,   /* items */
    FE_N_UNARY,  /* op a */
    FE_N_BINARY, /* a op b */
    FE_N_CALL,   /* a(items, names[i] = keyword or NULL) */
    FE_N_INDEX,  /* a[b] */
    /* statements */
    FE_N_BLOCK,  /* items */
    FE_N_ASSIGN, /* name = a */
    FE_N_OUTPUT, /* output name = a */
    FE_N_SCOPE,  /* scope name a(block) */
    FE_N_REPEAT, /* repeat a name b(block) */
    FE_N_IF,     /* if a b(block) else c (block, if, or NULL) */
    FE_N_RETURN, /* return a */
    FE_N_EXPR,   /* a */
    FE_N_DIM,    /* dim names[i] [= items[i] (INT node or NULL)] */
    FE_N_DEF,    /* def name(names[i] [= items[i]]) a(block) */
    FE_N_IMPORT  /* import: ival = file index */
} FeNodeKind;

typedef struct FeNode {
    FeNodeKind kind;
    FeLoc loc;
    FeTokKind op;
    const char *name; /* NAME, STR, ASSIGN, OUTPUT, SCOPE, REPEAT, DEF */
    int64_t ival;     /* INT, BOOL, IMPORT */
    double fval;
    struct FeNode *a, *b, *c;
    struct FeNode **items;
    const char **names;
    FeLoc *locs; /* locations of names[] (DEF params, DIM names, CALL keywords) */
    int n_items;
} FeNode;

/* ---- values ------------------------------------------------------------------------------- */
typedef enum {
    FE_V_ERR, /* a failed expression: propagates silently */
    FE_V_NONE,
    FE_V_INT, /* a dimension: constant (d == IR_NONE, value in i) or symbolic (d) */
    FE_V_FLOAT,
    FE_V_STR,
    FE_V_BOOL,
    FE_V_LIST,
    FE_V_TENSOR,
    FE_V_FUNC,   /* user function: def node */
    FE_V_BUILTIN /* builtin: index into fe_builtins */
} FeValKind;

typedef struct FeValue {
    FeValKind kind;
    IrDim d;   /* INT: symbolic dim, IR_NONE if constant */
    int64_t i; /* INT constant, BOOL, BUILTIN index */
    double f;
    const char *s;
    IrId t;
    const FeNode *fn;
    struct FeValue *items; /* LIST */
    int n;
} FeValue;

const char *fe_kind_name(FeValKind k); /* with its article: "a tensor", "an int", ... */

/* ---- the compilation context ------------------------------------------------------------- */
typedef struct {
    const char *name;
    FeValue v;
    int fixed; /* dims and defs cannot be reassigned */
} FeVar;

typedef struct {
    FeVar *vars;
    int n, cap;
} FeEnv;

typedef struct {
    IrId last; /* last tensor assigned in the block: the mark's value */
} FeFrame;

typedef struct FeCtx {
    FeOptions opt;
    FILE *diag;
    int n_errors;
    FnStatus *st; /* gets the first error (fe_compile's caller's; may be NULL) */
    FeArena arena;
    IrGraph *g;
    /* sources */
    FeFile *files;
    int n_files, cap_files;
    /* interned identifiers: an open-addressing table of cap_idents slots */
    const char **idents;
    int n_idents, cap_idents;
    /* diagnostics already printed (an error inside a function called many times prints once) */
    FeLoc *reported;
    int n_reported, cap_reported;
    /* evaluation */
    FeEnv globals;
    FeEnv *locals; /* NULL at top level */
    char *scope;   /* current scope path "a/b/c" */
    size_t scope_len, scope_cap;
    FeFrame *frame; /* innermost scope block of the current function activation, or NULL */
    FeLoc calls[FE_MAX_CALL_DEPTH + 1]; /* call sites of the active user functions */
    int depth;
    int *used_defines; /* per opt.defines[i] */
    int halted;        /* a resource limit was hit (or too many errors): stop evaluating */
    int oom;           /* an allocation failed (reported once): halted too */
    int64_t steps;     /* statements executed, bounded by FE_MAX_STEPS */
    size_t value_bytes; /* list and string bytes built, bounded by lim.value_bytes */
    FeLimits lim;       /* opt.limits with the defaults filled in */
} FeCtx;

/* diag.c */
void fe_error(FeCtx *c, FeLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fe_error_plain(FeCtx *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An allocation failed: reports `path: error: out of memory` once and halts the compile. Every
 * frontend allocation goes through ir/alloc.h, and its failure ends here. */
void fe_oom(FeCtx *c);
/* Reads a regular file of at most FE_MAX_FILE_BYTES into a new FeFile (never blocking on a FIFO
 * or device); -1 with *why saying why not (no message printed). */
int fe_file_load(FeCtx *c, const char *path, const char **why);
/* A new FeFile holding a copy of text; -1 when out of memory (reported). */
int fe_file_add(FeCtx *c, const char *path, const char *text, size_t len);
const char *fe_intern(FeCtx *c, const char *s, size_t n); /* NULL: out of memory (reported) */

/* lex.c: the whole file as tokens, ending with FE_T_EOF; lexical errors are reported. NULL
 * (and *n_tokens 0) when out of memory (reported). */
FeToken *fe_lex(FeCtx *c, int file, int *n_tokens);

/* parse.c: parses file `file` (already loaded) and, recursively, the files it imports. Returns
 * the number of errors found. */
int fe_parse_file(FeCtx *c, int file);

/* lower.c */
FeValue fe_eval(FeCtx *c, const FeNode *e);
FeValue fe_err(void);
FeValue fe_none(void);
FeValue fe_int(int64_t v);
FeValue fe_tensor(IrId t);
/* Charges n bytes of list or string values to the budget: 1, or 0 after reporting at loc. */
int fe_value_budget(FeCtx *c, FeLoc loc, size_t n);
FeValue fe_int_dim(FeCtx *c, IrDim d);       /* constant dims become constant ints */
IrDim fe_dim_of(FeCtx *c, const FeValue *v); /* INT value as a dim */
/* Formats an IR error (g->err) at loc. */
void fe_ir_error(FeCtx *c, FeLoc loc, const char *what);

/* builtins.c */
typedef struct {
    FeLoc loc; /* the call */
    const char *name;
    int builtin; /* index into fe_builtins */
    int n;
    FeValue v[FE_MAX_ARGS];
    FeLoc vloc[FE_MAX_ARGS];
    int given[FE_MAX_ARGS];
} FeArgs;

typedef struct {
    const char *name;
    const char *params[FE_MAX_ARGS]; /* parameter names, NULL-terminated; "?x": optional */
    FeValue (*fn)(FeCtx *c, FeArgs *a);
} FeBuiltin;

extern const FeBuiltin fe_builtins[];
int fe_builtin_find(const char *name); /* index or -1 */
#endif                                 /* FE_INTERNAL */

#endif

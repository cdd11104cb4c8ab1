/* The evaluator: runs the parsed program once, lowering every tensor computation into the IR.
 *
 * What this is: statements (assignment, output, scope, repeat, if, return, def, dim, import),
 * expressions over the DSL's values (ints as symbolic dimensions, floats, strings, bools, lists,
 * tensors, functions), user-function calls with default arguments evaluated at call time, and
 * fe_compile. Scope blocks push a name onto the scope path that stamps IR nodes and prefixes
 * variable names, and leave a mark (layer boundary) holding the last tensor assigned in them.
 * A failed expression reports once and yields FE_V_ERR, which every consumer passes on silently.
 * What this is not: the builtins' lowering (builtins.c) or parsing (parse.c).
 */
#define FE_INTERNAL
#include "frontend/fe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

/* ---- values ------------------------------------------------------------------------------- */
static FeValue mk(FeValKind k) {
    FeValue v;
    memset(&v, 0, sizeof v);
    v.kind = k;
    v.d = IR_NONE;
    v.t = IR_NONE;
    return v;
}
FeValue fe_err(void) {
    return mk(FE_V_ERR);
}
FeValue fe_none(void) {
    return mk(FE_V_NONE);
}
FeValue fe_int(int64_t i) {
    FeValue v = mk(FE_V_INT);
    v.i = i;
    return v;
}
FeValue fe_tensor(IrId t) {
    if (t == IR_NONE) return fe_err();
    FeValue v = mk(FE_V_TENSOR);
    v.t = t;
    return v;
}
static FeValue fe_float(double f) {
    FeValue v = mk(FE_V_FLOAT);
    v.f = f;
    return v;
}
static FeValue fe_bool(int b) {
    FeValue v = mk(FE_V_BOOL);
    v.i = b != 0;
    return v;
}

int fe_value_budget(FeCtx *c, FeLoc loc, size_t n) {
    if (c->value_bytes <= (size_t)c->lim.value_bytes && n <= (size_t)c->lim.value_bytes - c->value_bytes) {
        c->value_bytes += n;
        return 1;
    }
    fe_error(c, loc, "the model builds more than %lld bytes of lists and strings, the limit",
             (long long)c->lim.value_bytes);
    c->halted = 1;
    return 0;
}

FeValue fe_int_dim(FeCtx *c, IrDim d) {
    int64_t k;
    if (ir_dim_const_value(c->g, d, &k)) return fe_int(k);
    FeValue v = mk(FE_V_INT);
    v.d = d;
    return v;
}

IrDim fe_dim_of(FeCtx *c, const FeValue *v) {
    return v->d != IR_NONE ? v->d : ir_dim_const(c->g, v->i);
}

const char *fe_kind_name(FeValKind k) {
    switch (k) {
    case FE_V_ERR: return "an error";
    case FE_V_NONE: return "nothing";
    case FE_V_INT: return "an int";
    case FE_V_FLOAT: return "a float";
    case FE_V_STR: return "a string";
    case FE_V_BOOL: return "a bool";
    case FE_V_LIST: return "a list";
    case FE_V_TENSOR: return "a tensor";
    case FE_V_FUNC: return "a function";
    case FE_V_BUILTIN: return "a builtin function";
    }
    return "?";
}

void fe_ir_error(FeCtx *c, FeLoc loc, const char *what) {
    if (c->g->oom)
        fe_oom(c); /* once, without a place: the graph is incomplete */
    else if (c->g->err[0])
        fe_error(c, loc, "%s", c->g->err);
    else
        fe_error(c, loc, "%s: invalid operation", what);
}

/* ---- environments ------------------------------------------------------------------------- */
static FeVar *env_find(FeEnv *e, const char *name) {
    for (int i = e->n - 1; i >= 0; i--)
        if (e->vars[i].name == name) return &e->vars[i];
    return NULL;
}

/* 0, or -1 when out of memory (reported; the variable is not set). */
static int env_set(FeCtx *c, FeEnv *e, const char *name, FeValue v, int fixed) {
    FeVar *x = env_find(e, name);
    if (!x) {
        if (e->n == e->cap) {
            int cap = e->cap ? 2 * e->cap : 16;
            FeVar *vars = fn_realloc(e->vars, (size_t)cap * sizeof *e->vars);
            if (!vars) {
                fe_oom(c);
                return -1;
            }
            e->vars = vars;
            e->cap = cap;
        }
        x = &e->vars[e->n++];
        x->name = name;
    }
    x->v = v;
    x->fixed = fixed;
    return 0;
}

static FeVar *lookup(FeCtx *c, const char *name) {
    FeVar *x = c->locals ? env_find(c->locals, name) : NULL;
    return x ? x : env_find(&c->globals, name);
}

/* ---- scopes ------------------------------------------------------------------------------- */
static size_t scope_push(FeCtx *c, const char *name) {
    size_t old = c->scope_len, need = old + strlen(name) + 2;
    if (need > c->scope_cap) {
        char *scope = fn_realloc(c->scope, 2 * need);
        if (!scope) {
            fe_oom(c); /* halted: the block does not run; scope_pop(old) is harmless */
            return old;
        }
        c->scope = scope;
        c->scope_cap = 2 * need;
    }
    if (old) c->scope[c->scope_len++] = '/';
    strcpy(c->scope + c->scope_len, name);
    c->scope_len += strlen(name);
    c->g->cur_scope = ir_intern(c->g, c->scope);
    return old;
}

static void scope_pop(FeCtx *c, size_t old) {
    c->scope_len = old;
    c->scope[old] = 0;
    c->g->cur_scope = ir_intern(c->g, c->scope);
}

/* ---- statements --------------------------------------------------------------------------- */
typedef enum { FLOW_NEXT, FLOW_RETURN } Flow;

static Flow exec_block(FeCtx *c, const FeNode *b, FeValue *ret);

static Flow exec_scoped(FeCtx *c, const char *name, const FeNode *block, FeValue *ret) {
    size_t old = scope_push(c, name);
    FeFrame fr = {IR_NONE}, *parent = c->frame;
    c->frame = &fr;
    Flow fl = exec_block(c, block, ret);
    c->frame = parent;
    if (fr.last != IR_NONE) {
        ir_add_mark(c->g, c->scope, fr.last);
        if (parent) parent->last = fr.last;
    }
    scope_pop(c, old);
    return fl;
}

static void assign(FeCtx *c, FeLoc loc, const char *name, FeValue v) {
    FeEnv *e = c->locals ? c->locals : &c->globals;
    FeVar *x = env_find(e, name);
    if (x && x->fixed) {
        fe_error(c, loc, "cannot assign to '%s': it names a %s", name,
                 x->v.kind == FE_V_INT    ? "dim"
                 : x->v.kind == FE_V_BOOL ? "builtin constant"
                                          : "function");
        return;
    }
    env_set(c, e, name, v, 0);
    if (v.kind == FE_V_TENSOR && c->frame) c->frame->last = v.t;
}

static int define_index(FeCtx *c, const char *name) {
    int found = -1;
    for (int i = 0; i < c->opt.n_defines; i++)
        if (strcmp(c->opt.defines[i].name, name) == 0) found = i; /* the last -D wins */
    return found;
}

static void exec_dim(FeCtx *c, const FeNode *s) {
    for (int i = 0; i < s->n_items; i++) {
        const char *name = s->names[i];
        if (lookup(c, name) || fe_builtin_find(name) >= 0) {
            fe_error(c, s->locs[i], "'%s' is already defined", name);
            continue;
        }
        int k = define_index(c, name);
        FeValue v;
        if (k >= 0) {
            c->used_defines[k] = 1;
            if (c->opt.defines[k].value < 0 || c->opt.defines[k].value > IR_MAX_NUMEL) {
                fe_error(c, s->locs[i], "-D %s=%lld: out of range (a dim is 0 to 2^40)", name,
                         (long long)c->opt.defines[k].value);
                v = fe_err();
            } else {
                v = fe_int(c->opt.defines[k].value);
            }
        } else {
            v = fe_int_dim(c, ir_dim_sym(c->g, name, s->items[i] ? s->items[i]->ival : -1));
        }
        env_set(c, &c->globals, name, v, 1);
    }
}

static void exec_def(FeCtx *c, const FeNode *s) {
    if (fe_builtin_find(s->name) >= 0) {
        fe_error(c, s->loc, "'%s' is a builtin function and cannot be redefined", s->name);
        return;
    }
    if (lookup(c, s->name)) {
        fe_error(c, s->loc, "'%s' is already defined", s->name);
        return;
    }
    FeValue v = mk(FE_V_FUNC);
    v.fn = s;
    env_set(c, &c->globals, s->name, v, 1);
}

static void exec_file(FeCtx *c, int file) {
    FeFile *f = &c->files[file];
    if (f->state != 0) return; /* each file runs once; a cycle is cut here */
    f->state = 1;
    FeValue ret;
    exec_block(c, c->files[file].prog, &ret);
    c->files[file].state = 2;
}

/* Counts a statement against lim.steps: 1, or 0 (reported once, evaluation halted). */
static int step(FeCtx *c, const FeNode *s) {
    if (c->halted) return 0;
    if (++c->steps <= c->lim.steps) return 1;
    fe_error(c, s->loc, "the model runs more than %lld statements, the limit (an endless loop?)",
             (long long)c->lim.steps);
    c->halted = 1;
    return 0;
}

static Flow exec_stmt(FeCtx *c, const FeNode *s, FeValue *ret) {
    if (!step(c, s)) return FLOW_NEXT;
    switch (s->kind) {
    case FE_N_ASSIGN: assign(c, s->loc, s->name, fe_eval(c, s->a)); return FLOW_NEXT;
    case FE_N_OUTPUT: {
        FeValue v = fe_eval(c, s->a);
        if (v.kind == FE_V_ERR) return FLOW_NEXT;
        if (v.kind != FE_V_TENSOR) {
            fe_error(c, s->a->loc, "output '%s' must be a tensor, got %s", s->name,
                     fe_kind_name(v.kind));
            return FLOW_NEXT;
        }
        if (ir_output(c->g, s->name) != IR_NONE) {
            fe_error(c, s->loc, "output '%s' is defined twice", s->name);
            return FLOW_NEXT;
        }
        ir_set_output(c->g, s->name, v.t); /* output names are not variables */
        return FLOW_NEXT;
    }
    case FE_N_SCOPE: return exec_scoped(c, s->name, s->a, ret);
    case FE_N_REPEAT: {
        FeValue n = fe_eval(c, s->a);
        if (n.kind == FE_V_ERR) return FLOW_NEXT;
        if (n.kind == FE_V_INT && n.d == IR_NONE && n.i > c->lim.repeat) {
            fe_error(c, s->a->loc, "repeat count %lld is over the limit of %lld", (long long)n.i,
                     (long long)c->lim.repeat);
            return FLOW_NEXT;
        }
        if (n.kind != FE_V_INT || n.d != IR_NONE || n.i < 0) {
            char what[128];
            if (n.kind == FE_V_INT && n.d != IR_NONE) {
                char buf[96];
                ir_dim_format(c->g, n.d, buf, sizeof buf);
                snprintf(what, sizeof what, "the symbolic dim %s", buf);
            } else if (n.kind == FE_V_INT) {
                snprintf(what, sizeof what, "%lld", (long long)n.i);
            } else {
                snprintf(what, sizeof what, "%s", fe_kind_name(n.kind));
            }
            fe_error(c, s->a->loc, "repeat count must be a constant non-negative int, got %s",
                     what);
            return FLOW_NEXT;
        }
        for (int64_t i = 1; i <= n.i && !c->halted; i++) {
            if (i > 1 && !step(c, s)) break; /* each pass counts, even of an empty block */
            char name[256];
            snprintf(name, sizeof name, "%s_%lld", s->name, (long long)i);
            if (exec_scoped(c, name, s->b, ret) == FLOW_RETURN) return FLOW_RETURN;
        }
        return FLOW_NEXT;
    }
    case FE_N_IF: {
        FeValue cond = fe_eval(c, s->a);
        if (cond.kind == FE_V_ERR) return FLOW_NEXT;
        if (cond.kind != FE_V_BOOL) {
            fe_error(c, s->a->loc, "condition must be a bool, got %s", fe_kind_name(cond.kind));
            return FLOW_NEXT;
        }
        if (cond.i) return exec_block(c, s->b, ret);
        if (!s->c) return FLOW_NEXT;
        return s->c->kind == FE_N_IF ? exec_stmt(c, s->c, ret) : exec_block(c, s->c, ret);
    }
    case FE_N_RETURN: *ret = fe_eval(c, s->a); return FLOW_RETURN;
    case FE_N_EXPR: fe_eval(c, s->a); return FLOW_NEXT;
    case FE_N_DIM: exec_dim(c, s); return FLOW_NEXT;
    case FE_N_DEF: exec_def(c, s); return FLOW_NEXT;
    case FE_N_IMPORT:
        if (s->ival >= 0) exec_file(c, (int)s->ival);
        return FLOW_NEXT;
    default: fe_error(c, s->loc, "internal: not a statement"); return FLOW_NEXT;
    }
}

static Flow exec_block(FeCtx *c, const FeNode *b, FeValue *ret) {
    for (int i = 0; i < b->n_items && !c->halted; i++)
        if (exec_stmt(c, b->items[i], ret) == FLOW_RETURN) return FLOW_RETURN;
    return FLOW_NEXT;
}

/* ---- arithmetic --------------------------------------------------------------------------- */
static int64_t floordiv64(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* A plain number: a float or a constant int. */
static int as_number(const FeValue *v, double *out) {
    if (v->kind == FE_V_FLOAT)
        *out = v->f;
    else if (v->kind == FE_V_INT && v->d == IR_NONE)
        *out = (double)v->i;
    else
        return 0;
    return 1;
}

/* a op b on constant ints: 1, or 0 when it overflows int64_t. */
static int int_fold(FeTokKind op, int64_t a, int64_t b, int64_t *r) {
    switch (op) {
    case FE_T_PLUS: return !__builtin_add_overflow(a, b, r);
    case FE_T_MINUS: return !__builtin_sub_overflow(a, b, r);
    case FE_T_STAR: return !__builtin_mul_overflow(a, b, r);
    default: /* FE_T_DSLASH, b != 0 */
        if (a == INT64_MIN && b == -1) return 0;
        *r = floordiv64(a, b);
        return 1;
    }
}

static FeValue int_binop(FeCtx *c, FeLoc loc, FeTokKind op, FeValue a, FeValue b) {
    int ca = a.d == IR_NONE, cb = b.d == IR_NONE;
    int64_t r;
    if (op == FE_T_SLASH) {
        fe_error(c, loc, "'/' on two ints: use // for integer division");
        return fe_err();
    }
    if (op == FE_T_DSLASH && cb && b.i == 0) {
        fe_error(c, loc, "integer division by zero");
        return fe_err();
    }
    if (ca && cb) {
        switch (op) {
        case FE_T_PLUS:
        case FE_T_MINUS:
        case FE_T_STAR:
        case FE_T_DSLASH:
            if (int_fold(op, a.i, b.i, &r)) return fe_int(r);
            fe_error(c, loc, "integer overflow: %lld %s %lld does not fit in 64 bits",
                     (long long)a.i, fe_tok_name(op), (long long)b.i);
            return fe_err();
        case FE_T_EQ: return fe_bool(a.i == b.i);
        case FE_T_NE: return fe_bool(a.i != b.i);
        case FE_T_LT: return fe_bool(a.i < b.i);
        case FE_T_LE: return fe_bool(a.i <= b.i);
        case FE_T_GT: return fe_bool(a.i > b.i);
        case FE_T_GE: return fe_bool(a.i >= b.i);
        default: break;
        }
    }
    IrDim da = fe_dim_of(c, &a), db = fe_dim_of(c, &b), dr = IR_NONE;
    switch (op) {
    case FE_T_PLUS: dr = ir_dim_add(c->g, da, db); break;
    case FE_T_MINUS: dr = ir_dim_sub(c->g, da, db); break;
    case FE_T_STAR: dr = ir_dim_mul(c->g, da, db); break;
    case FE_T_DSLASH: dr = ir_dim_floordiv(c->g, da, db); break;
    case FE_T_EQ:
    case FE_T_NE:
        if (da == db) return fe_bool(op == FE_T_EQ);
        break;
    default: break;
    }
    if (op == FE_T_PLUS || op == FE_T_MINUS || op == FE_T_STAR || op == FE_T_DSLASH) {
        if (dr != IR_NONE) return fe_int_dim(c, dr);
        fe_ir_error(c, loc, fe_tok_name(op));
        return fe_err();
    }
    char sa[128], sb[128];
    ir_dim_format(c->g, da, sa, sizeof sa);
    ir_dim_format(c->g, db, sb, sizeof sb);
    fe_error(c, loc, "cannot decide %s %s %s at compile time (a symbolic dim is involved)", sa,
             fe_tok_name(op), sb);
    return fe_err();
}

static FeValue tensor_binop(FeCtx *c, FeLoc loc, FeTokKind op, FeValue a, FeValue b) {
    IrGraph *g = c->g;
    double k;
    IrId r = IR_NONE;
    static const IrOp bin[] = {[FE_T_PLUS] = IR_OP_ADD,
                               [FE_T_MINUS] = IR_OP_SUB,
                               [FE_T_STAR] = IR_OP_MUL,
                               [FE_T_SLASH] = IR_OP_DIV};
    if (op != FE_T_PLUS && op != FE_T_MINUS && op != FE_T_STAR && op != FE_T_SLASH) {
        fe_error(c, loc, "operator %s is not defined on tensors", fe_tok_name(op));
        return fe_err();
    }
    if (a.kind == FE_V_TENSOR && b.kind == FE_V_TENSOR) {
        r = ir_binary(g, bin[op], a.t, b.t);
    } else if (a.kind == FE_V_TENSOR && as_number(&b, &k)) {
        switch (op) {
        case FE_T_PLUS: r = ir_scalar_op(g, IR_OP_ADDS, a.t, k); break;
        case FE_T_MINUS: r = ir_scalar_op(g, IR_OP_ADDS, a.t, -k); break;
        case FE_T_STAR: r = ir_scalar_op(g, IR_OP_SCALE, a.t, k); break;
        default:
            if (k == 0) {
                fe_error(c, loc, "division of a tensor by zero");
                return fe_err();
            }
            r = ir_scalar_op(g, IR_OP_SCALE, a.t, 1.0 / k);
        }
    } else if (b.kind == FE_V_TENSOR && as_number(&a, &k)) {
        switch (op) {
        case FE_T_PLUS: r = ir_scalar_op(g, IR_OP_ADDS, b.t, k); break;
        case FE_T_MINUS: {
            IrId n = ir_unary(g, IR_OP_NEG, b.t);
            r = n == IR_NONE ? IR_NONE : ir_scalar_op(g, IR_OP_ADDS, n, k);
            break;
        }
        case FE_T_STAR: r = ir_scalar_op(g, IR_OP_SCALE, b.t, k); break;
        default: {
            IrShape scalar;
            memset(&scalar, 0, sizeof scalar);
            IrId kc = ir_const(g, k, &scalar);
            r = kc == IR_NONE ? IR_NONE : ir_binary(g, IR_OP_DIV, kc, b.t);
        }
        }
    } else {
        const FeValue *o = a.kind == FE_V_TENSOR ? &b : &a;
        if (o->kind == FE_V_INT)
            fe_error(c, loc, "a symbolic dim cannot be used as a number in tensor arithmetic");
        else
            fe_error(c, loc, "%s cannot be used as a tensor operand of %s", fe_kind_name(o->kind),
                     fe_tok_name(op));
        return fe_err();
    }
    if (r == IR_NONE) {
        fe_ir_error(c, loc, fe_tok_name(op));
        return fe_err();
    }
    return fe_tensor(r);
}

/* Float arithmetic never gives inf or NaN: no such value reaches a builtin. */
static FeValue float_result(FeCtx *c, FeLoc loc, double r) {
    if (isfinite(r)) return fe_float(r);
    fe_error(c, loc, "float arithmetic overflows (the result is not finite)");
    return fe_err();
}

static FeValue concat_str(FeCtx *c, FeLoc loc, const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na + nb > FE_MAX_STRING) {
        fe_error(c, loc, "string of %zu bytes is over the limit of %d", na + nb, FE_MAX_STRING);
        return fe_err();
    }
    if (!fe_value_budget(c, loc, na + nb + 1)) return fe_err();
    char *s = fe_alloc(c, na + nb + 1);
    if (!s) return fe_err();
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    FeValue v = mk(FE_V_STR);
    v.s = s;
    return v;
}

static FeValue concat_list(FeCtx *c, FeLoc loc, const FeValue *a, const FeValue *b) {
    if ((int64_t)a->n + b->n > FE_MAX_LIST) {
        fe_error(c, loc, "list of %lld items is over the limit of %d", (long long)a->n + b->n,
                 FE_MAX_LIST);
        return fe_err();
    }
    FeValue v = mk(FE_V_LIST);
    v.n = a->n + b->n;
    if (!fe_value_budget(c, loc, (size_t)v.n * sizeof *v.items)) return fe_err();
    v.items = fe_alloc(c, (size_t)(v.n ? v.n : 1) * sizeof *v.items);
    if (!v.items) return fe_err();
    for (int i = 0; i < a->n; i++)
        v.items[i] = a->items[i];
    for (int i = 0; i < b->n; i++)
        v.items[a->n + i] = b->items[i];
    return v;
}

static FeValue binop(FeCtx *c, FeLoc loc, FeTokKind op, FeValue a, FeValue b) {
    if (a.kind == FE_V_ERR || b.kind == FE_V_ERR) return fe_err();
    if (a.kind == FE_V_TENSOR || b.kind == FE_V_TENSOR) return tensor_binop(c, loc, op, a, b);
    if (a.kind == FE_V_INT && b.kind == FE_V_INT) return int_binop(c, loc, op, a, b);
    double x, y;
    if (as_number(&a, &x) && as_number(&b, &y)) {
        switch (op) {
        case FE_T_PLUS: return float_result(c, loc, x + y);
        case FE_T_MINUS: return float_result(c, loc, x - y);
        case FE_T_STAR: return float_result(c, loc, x * y);
        case FE_T_SLASH:
        case FE_T_DSLASH:
            if (y == 0) {
                fe_error(c, loc, "division by zero");
                return fe_err();
            }
            return float_result(c, loc, op == FE_T_SLASH ? x / y : floor(x / y));
        case FE_T_EQ: return fe_bool(x == y);
        case FE_T_NE: return fe_bool(x != y);
        case FE_T_LT: return fe_bool(x < y);
        case FE_T_LE: return fe_bool(x <= y);
        case FE_T_GT: return fe_bool(x > y);
        case FE_T_GE: return fe_bool(x >= y);
        default: break;
        }
    }
    if (a.kind == FE_V_STR && b.kind == FE_V_STR) {
        if (op == FE_T_EQ || op == FE_T_NE)
            return fe_bool((strcmp(a.s, b.s) == 0) == (op == FE_T_EQ));
        if (op == FE_T_PLUS) return concat_str(c, loc, a.s, b.s);
    }
    if (a.kind == FE_V_BOOL && b.kind == FE_V_BOOL && (op == FE_T_EQ || op == FE_T_NE))
        return fe_bool((a.i == b.i) == (op == FE_T_EQ));
    if (a.kind == FE_V_LIST && b.kind == FE_V_LIST && op == FE_T_PLUS)
        return concat_list(c, loc, &a, &b);
    if ((a.kind == FE_V_INT || b.kind == FE_V_INT) && (as_number(&a, &x) || as_number(&b, &y)))
        fe_error(c, loc, "a symbolic dim cannot be mixed with a float");
    else
        fe_error(c, loc, "operator %s is not defined on %s and %s", fe_tok_name(op),
                 fe_kind_name(a.kind), fe_kind_name(b.kind));
    return fe_err();
}

/* ---- calls -------------------------------------------------------------------------------- */
/* Binds the call's arguments to parameter slots. names[i] are the parameter names, n_params of
 * them; out/outloc/given get the bound values. Returns 0, or -1 after reporting. */
static int bind_args(FeCtx *c, const char *fname, const FeNode *call, const FeValue *vals,
                     const char *const *names, int n_params, FeValue *out, FeLoc *outloc,
                     int *given) {
    int n_pos = 0;
    for (int i = 0; i < call->n_items; i++)
        if (!call->names[i]) n_pos++;
    if (n_pos > n_params) {
        fe_error(c, call->locs[n_params], "%s() takes %s%d argument%s, got %d", fname,
                 n_params ? "at most " : "", n_params, n_params == 1 ? "" : "s", n_pos);
        return -1;
    }
    for (int i = 0; i < call->n_items; i++) {
        int slot = i;
        if (call->names[i]) {
            slot = -1;
            for (int k = 0; k < n_params; k++)
                if (strcmp(names[k], call->names[i]) == 0) slot = k;
            if (slot < 0) {
                fe_error(c, call->locs[i], "%s() has no parameter named '%s'", fname,
                         call->names[i]);
                return -1;
            }
            if (given[slot]) {
                fe_error(c, call->locs[i], "argument '%s' of %s() given twice", names[slot], fname);
                return -1;
            }
        }
        out[slot] = vals[i];
        outloc[slot] = call->locs[i];
        given[slot] = 1;
    }
    return 0;
}

static FeValue call_builtin(FeCtx *c, int bi, const FeNode *call, FeLoc loc, const FeValue *vals) {
    const FeBuiltin *b = &fe_builtins[bi];
    FeArgs a;
    memset(&a, 0, sizeof a);
    a.loc = loc;
    a.name = b->name;
    a.builtin = bi;
    const char *names[FE_MAX_ARGS] = {0};
    int n = 0;
    for (; n < FE_MAX_ARGS && b->params[n]; n++)
        names[n] = b->params[n][0] == '?' ? b->params[n] + 1 : b->params[n];
    a.n = n;
    for (int i = 0; i < n; i++)
        a.v[i] = fe_none();
    if (bind_args(c, b->name, call, vals, names, n, a.v, a.vloc, a.given) < 0) return fe_err();
    for (int i = 0; i < n; i++)
        if (!a.given[i] && b->params[i][0] != '?') {
            fe_error(c, loc, "missing argument '%s' in call to %s()", names[i], b->name);
            return fe_err();
        }
    return b->fn(c, &a);
}

static FeValue call_user(FeCtx *c, const FeNode *fn, const FeNode *call, FeLoc loc,
                         const FeValue *vals) {
    int n = fn->n_items;
    FeValue *args = fn_calloc((size_t)(n ? n : 1), sizeof *args);
    FeLoc *locs = fn_calloc((size_t)(n ? n : 1), sizeof *locs);
    int *given = fn_calloc((size_t)(n ? n : 1), sizeof *given);
    FeValue result = fe_err();
    if (!args || !locs || !given) {
        fe_oom(c);
        goto done;
    }
    if (bind_args(c, fn->name, call, vals, fn->names, n, args, locs, given) < 0) goto done;
    for (int i = 0; i < n; i++)
        if (!given[i] && !fn->items[i]) {
            fe_error(c, loc, "missing argument '%s' in call to %s()", fn->names[i], fn->name);
            goto done;
        }
    if (c->depth >= FE_MAX_CALL_DEPTH) {
        fe_error(c, loc, "recursion too deep: more than %d nested function calls",
                 FE_MAX_CALL_DEPTH);
        goto done;
    }
    FeEnv env = {0}, *saved_env = c->locals;
    FeFrame *saved_frame = c->frame;
    c->calls[c->depth++] = loc;
    c->locals = &env;
    c->frame = NULL;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        /* defaults are evaluated now, in the callee's environment: earlier params are visible */
        FeValue v = given[i] ? args[i] : fe_eval(c, fn->items[i]);
        if (v.kind == FE_V_ERR || env_set(c, &env, fn->names[i], v, 0) < 0) ok = 0;
    }
    if (ok) {
        FeValue ret = fe_none();
        if (exec_block(c, fn->a, &ret) == FLOW_RETURN)
            result = ret;
        else
            result = fe_none();
    }
    c->frame = saved_frame;
    c->locals = saved_env;
    c->depth--;
    free(env.vars);
done:
    free(args);
    free(locs);
    free(given);
    return result;
}

static FeValue eval_call(FeCtx *c, const FeNode *e) {
    const FeNode *callee = e->a;
    FeLoc loc = callee->loc;
    FeValue f;
    if (callee->kind == FE_N_NAME) {
        FeVar *x = lookup(c, callee->name);
        int bi;
        if (x)
            f = x->v;
        else if ((bi = fe_builtin_find(callee->name)) >= 0) {
            f = mk(FE_V_BUILTIN);
            f.i = bi;
        } else {
            fe_error(c, loc, "unknown function '%s'", callee->name);
            return fe_err();
        }
    } else {
        f = fe_eval(c, callee);
    }
    if (f.kind == FE_V_ERR) return fe_err();
    if (f.kind != FE_V_FUNC && f.kind != FE_V_BUILTIN) {
        if (callee->kind == FE_N_NAME)
            fe_error(c, loc, "'%s' is %s, not a function", callee->name, fe_kind_name(f.kind));
        else
            fe_error(c, loc, "%s cannot be called", fe_kind_name(f.kind));
        return fe_err();
    }
    FeValue *vals = fn_calloc((size_t)(e->n_items ? e->n_items : 1), sizeof *vals);
    if (!vals) {
        fe_oom(c);
        return fe_err();
    }
    int bad = 0;
    for (int i = 0; i < e->n_items; i++) {
        vals[i] = fe_eval(c, e->items[i]);
        if (vals[i].kind == FE_V_ERR) bad = 1;
    }
    FeValue r = bad                   ? fe_err()
                : f.kind == FE_V_FUNC ? call_user(c, f.fn, e, loc, vals)
                                      : call_builtin(c, (int)f.i, e, loc, vals);
    free(vals);
    if (c->g->n_nodes > c->lim.nodes && !c->halted) {
        fe_error(c, loc, "the model builds more than %lld IR nodes, the limit",
                 (long long)c->lim.nodes);
        c->halted = 1;
        return fe_err();
    }
    return r;
}

/* ---- expressions -------------------------------------------------------------------------- */
/* Unary '-' of an evaluated operand. */
static FeValue negate(FeCtx *c, FeLoc loc, FeValue a) {
    switch (a.kind) {
    case FE_V_INT:
        if (a.d == IR_NONE && a.i != INT64_MIN) return fe_int(-a.i);
        if (a.d == IR_NONE) {
            fe_error(c, loc, "integer overflow: -(%lld) does not fit in 64 bits", (long long)a.i);
            return fe_err();
        }
        return fe_int_dim(c, ir_dim_sub(c->g, ir_dim_const(c->g, 0), a.d));
    case FE_V_FLOAT: return fe_float(-a.f);
    case FE_V_TENSOR: {
        IrId r = ir_unary(c->g, IR_OP_NEG, a.t);
        if (r == IR_NONE) fe_ir_error(c, loc, "neg");
        return fe_tensor(r);
    }
    default:
        fe_error(c, loc, "unary '-' is not defined on %s", fe_kind_name(a.kind));
        return fe_err();
    }
}

/* A name: a variable, else a builtin function. */
static FeValue eval_name(FeCtx *c, const FeNode *e) {
    FeVar *x = lookup(c, e->name);
    if (x) return x->v;
    int bi = fe_builtin_find(e->name);
    if (bi >= 0) {
        FeValue v = mk(FE_V_BUILTIN);
        v.i = bi;
        return v;
    }
    fe_error(c, e->loc, "unknown identifier '%s'", e->name);
    return fe_err();
}

/* A list literal: every item evaluated, even after a failed one. */
static FeValue eval_list(FeCtx *c, const FeNode *e) {
    FeValue v = mk(FE_V_LIST);
    v.n = e->n_items;
    if (!fe_value_budget(c, e->loc, (size_t)v.n * sizeof *v.items)) return fe_err();
    v.items = fe_alloc(c, (size_t)(v.n ? v.n : 1) * sizeof *v.items);
    if (!v.items) return fe_err();
    int bad = 0;
    for (int i = 0; i < v.n; i++) {
        v.items[i] = fe_eval(c, e->items[i]);
        if (v.items[i].kind == FE_V_ERR) bad = 1;
    }
    return bad ? fe_err() : v;
}

/* 'not' and unary '-'. */
static FeValue eval_unary(FeCtx *c, const FeNode *e) {
    FeValue a = fe_eval(c, e->a);
    if (a.kind == FE_V_ERR) return a;
    if (e->op == FE_T_NOT) {
        if (a.kind == FE_V_BOOL) return fe_bool(!a.i);
        fe_error(c, e->loc, "'not' needs a bool, got %s", fe_kind_name(a.kind));
        return fe_err();
    }
    return negate(c, e->loc, a);
}

/* 'and' and 'or', short-circuiting; the other binary operators evaluate both sides. */
static FeValue eval_binary(FeCtx *c, const FeNode *e) {
    if (e->op == FE_T_AND || e->op == FE_T_OR) {
        FeValue a = fe_eval(c, e->a);
        if (a.kind == FE_V_ERR) return a;
        if (a.kind != FE_V_BOOL) {
            fe_error(c, e->a->loc, "%s needs bools, got %s", fe_tok_name(e->op),
                     fe_kind_name(a.kind));
            return fe_err();
        }
        if ((e->op == FE_T_AND) != (a.i != 0)) return a; /* short circuit */
        FeValue b = fe_eval(c, e->b);
        if (b.kind != FE_V_BOOL && b.kind != FE_V_ERR) {
            fe_error(c, e->b->loc, "%s needs bools, got %s", fe_tok_name(e->op),
                     fe_kind_name(b.kind));
            return fe_err();
        }
        return b;
    }
    FeValue a = fe_eval(c, e->a);
    FeValue b = fe_eval(c, e->b);
    return binop(c, e->loc, e->op, a, b);
}

/* list[i], i a constant int (negative from the end). */
static FeValue eval_index(FeCtx *c, const FeNode *e) {
    FeValue a = fe_eval(c, e->a), i = fe_eval(c, e->b);
    if (a.kind == FE_V_ERR || i.kind == FE_V_ERR) return fe_err();
    if (a.kind != FE_V_LIST) {
        fe_error(c, e->loc, "only lists can be indexed, not %s%s", fe_kind_name(a.kind),
                 a.kind == FE_V_TENSOR ? " (shape(x)[i] gives a dim)" : "");
        return fe_err();
    }
    if (i.kind != FE_V_INT || i.d != IR_NONE) {
        fe_error(c, e->b->loc, "a list index must be a constant int, got %s",
                 i.kind == FE_V_INT ? "a symbolic dim" : fe_kind_name(i.kind));
        return fe_err();
    }
    int64_t k = i.i < 0 ? i.i + a.n : i.i;
    if (k < 0 || k >= a.n) {
        fe_error(c, e->b->loc, "index %lld out of range for a list of %d", (long long)i.i, a.n);
        return fe_err();
    }
    return a.items[k];
}

FeValue fe_eval(FeCtx *c, const FeNode *e) {
    switch (e->kind) {
    case FE_N_INT: return fe_int(e->ival);
    case FE_N_FLOAT: return fe_float(e->fval);
    case FE_N_STR: {
        FeValue v = mk(FE_V_STR);
        v.s = e->name;
        return v;
    }
    case FE_N_BOOL: return fe_bool((int)e->ival);
    case FE_N_NAME: return eval_name(c, e);
    case FE_N_LIST: return eval_list(c, e);
    case FE_N_UNARY: return eval_unary(c, e);
    case FE_N_BINARY: return eval_binary(c, e);
    case FE_N_CALL: return eval_call(c, e);
    case FE_N_INDEX: return eval_index(c, e);
    default: fe_error(c, e->loc, "internal: not an expression"); return fe_err();
    }
}

/* ---- the entry point ---------------------------------------------------------------------- */
/* Runs the parsed program (file f) into a new graph in c->g; -D names never declared are errors. */
static void evaluate(FeCtx *c, int f) {
    const FeOptions *opt = &c->opt;
    const char *training;
    if (!(c->g = ir_graph_new()) || !(c->scope = fn_calloc(1, 64)) || !(training = fe_intern(c, "training", 8)) ||
        env_set(c, &c->globals, training, fe_bool(opt->training), 1) < 0) {
        fe_oom(c); /* (once) */
        return;
    }
    c->scope_cap = 64;
    c->g->cur_scope = ir_intern(c->g, "");
    exec_file(c, f);
    for (int i = 0; i < opt->n_defines && !c->halted; i++)
        if (!c->used_defines[i] && define_index(c, opt->defines[i].name) == i)
            fe_error_plain(c, opt->path ? opt->path : "fn", "-D %s: the model declares no dim named '%s'",
                           opt->defines[i].name, opt->defines[i].name);
    c->g->cur_scope = ir_intern(c->g, "");
}

/* text NULL: read opt->path from disk. */
static IrGraph *compile(const FeOptions *opt, const FeLimits *limits, const char *text,
                        size_t len, FILE *diag, int *n_errors, FnStatus *st) {
    FeCtx c;
    memset(&c, 0, sizeof c);
    c.opt = *opt;
    c.diag = diag ? diag : stderr;
    c.st = st;
    FeLimits none = {0, 0, 0, 0};
    const FeLimits *l = limits ? limits : &none;
    c.lim.steps = l->steps > 0 ? l->steps : FE_MAX_STEPS;
    c.lim.nodes = l->nodes > 0 ? l->nodes : FE_MAX_NODES;
    c.lim.value_bytes = l->value_bytes > 0 ? l->value_bytes : FE_MAX_VALUE_BYTES;
    c.lim.repeat = l->repeat > 0 ? l->repeat : FE_MAX_REPEAT;
    c.used_defines = fn_calloc((size_t)(opt->n_defines > 0 ? opt->n_defines : 1), sizeof(int));
    const char *why = "no path given";
    int f = !c.used_defines ? -1
            : text          ? fe_file_add(&c, opt->path ? opt->path : "<memory>", text, len)
            : opt->path     ? fe_file_load(&c, opt->path, &why)
                            : -1;
    if (!c.used_defines)
        fe_oom(&c);
    else if (f < 0 && !c.oom)
        fe_error_plain(&c, opt->path ? opt->path : "fn", "cannot read model file: %s", why);
    else if (f >= 0)
        fe_parse_file(&c, f);
    if (c.n_errors == 0) evaluate(&c, f);
    if (c.g && c.g->oom) fe_oom(&c); /* a failure the evaluator passed by (a mark, an output) */
    IrGraph *g = c.g;
    if (c.n_errors && g) {
        ir_graph_free(g);
        g = NULL;
    }
    if (n_errors) *n_errors = c.n_errors;
    free(c.used_defines);
    free(c.globals.vars);
    free(c.scope);
    free(c.files);
    free(c.idents);
    free(c.reported);
    fe_arena_free(&c.arena);
    return g;
}

IrGraph *fe_compile(const FeOptions *opt, FILE *diag, int *n_errors, FnStatus *st) {
    return compile(opt, NULL, NULL, 0, diag, n_errors, st);
}

IrGraph *fe_compile_text(const FeOptions *opt, const FeLimits *limits, const char *text, size_t len,
                         FILE *diag, int *n_errors, FnStatus *st) {
    return compile(opt, limits, text ? text : "", text ? len : 0, diag, n_errors, st);
}

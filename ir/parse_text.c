/* The IR text parser: reads what ir_print writes (for tests and hand-written pass inputs).
 * Shapes after ':' are checked against the inferred ones; marks are not part of the text.
 * Out of memory, it fails with "out of memory" in the status. Not here: printing (print.c). */
#include "ir/ir.h"
#include "ir/alloc.h"
#include "ir/status.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p;
    int line;
    FnStatus *st;
    IrGraph *g;
    IrId *map;
    int n_map, cap_map;
} P;

static int fail(P *p, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fn_fail(p->st, "line %d: %s", p->line, msg);
}

static void ws(P *p) {
    while (*p->p == ' ' || *p->p == '\t') p->p++;
}
static int eat(P *p, const char *s) {
    ws(p);
    size_t n = strlen(s);
    if (strncmp(p->p, s, n) != 0) return 0;
    p->p += n;
    return 1;
}
/* a word: letters, digits, '_' and, unless in a dimension expression (where it subtracts), '-' */
static int word(P *p, char *buf, size_t cap, int dash) {
    ws(p);
    size_t n = 0;
    while (isalnum((unsigned char)p->p[n]) || p->p[n] == '_' || (dash && p->p[n] == '-')) n++;
    if (n == 0 || n >= cap) return 0;
    memcpy(buf, p->p, n);
    buf[n] = 0;
    p->p += n;
    return 1;
}
static int ident(P *p, char *buf, size_t cap) { return word(p, buf, cap, 1); }
static int integer(P *p, long long *v) {
    ws(p);
    char *end;
    *v = strtoll(p->p, &end, 10);
    if (end == p->p) return 0;
    p->p = end;
    return 1;
}

static IrDim dim_expr(P *p);
static IrDim dim_atom(P *p) {
    long long v;
    char name[128];
    if (eat(p, "(")) {
        IrDim d = dim_expr(p);
        if (d < 0 || !eat(p, ")")) return -1;
        return d;
    }
    if (integer(p, &v)) return ir_dim_const(p->g, v);
    if (word(p, name, sizeof name, 0)) {
        int s = ir_sym_index(p->g, name);
        if (s < 0) return fail(p, "unknown symbol %s", name);
        return ir_dim_sym(p->g, name, -1);
    }
    return fail(p, "expected a dimension");
}
static IrDim dim_expr(P *p) {
    IrDim a = dim_atom(p);
    if (a < 0) return -1;
    ws(p);
    IrDim (*op)(IrGraph *, IrDim, IrDim) = NULL;
    if (eat(p, "//")) op = ir_dim_floordiv;
    else if (eat(p, "+")) op = ir_dim_add;
    else if (eat(p, "-")) op = ir_dim_sub;
    else if (eat(p, "*")) op = ir_dim_mul;
    if (!op) return a;
    IrDim b = dim_atom(p);
    return b < 0 ? -1 : op(p->g, a, b);
}
static int shape(P *p, IrShape *s) {
    memset(s, 0, sizeof *s);
    if (!eat(p, "[")) return fail(p, "expected '['");
    if (eat(p, "]")) return 0;
    do {
        if (s->rank == IR_MAX_RANK) return fail(p, "rank too large");
        IrDim d = dim_expr(p);
        if (d < 0) return -1;
        s->d[s->rank++] = d;
    } while (eat(p, ","));
    return eat(p, "]") ? 0 : fail(p, "expected ']'");
}

static int attrs(P *p, IrOp op, IrAttr *at, int *is_int) {
    static const char *inits[] = {"zeros", "ones", "const", "glorot_uniform"};
    if (!eat(p, "{")) return fail(p, "expected '{'");
    while (!eat(p, "}")) {
        char key[64], val[512];
        long long a, b;
        if (!ident(p, key, sizeof key)) return fail(p, "expected an attribute");
        if (!strcmp(key, "decay")) { at->u.leaf.flags |= IR_LEAF_DECAY; continue; }
        if (!strcmp(key, "int32")) { at->u.leaf.flags |= IR_LEAF_INT; *is_int = 1; continue; }
        if (!eat(p, "=")) return fail(p, "expected '=' after %s", key);
        if (!strcmp(key, "name")) {
            if (!eat(p, "\"")) return fail(p, "expected a string");
            const char *q = strchr(p->p, '"');
            if (!q || (size_t)(q - p->p) >= sizeof val) return fail(p, "bad string");
            memcpy(val, p->p, (size_t)(q - p->p));
            val[q - p->p] = 0;
            p->p = q + 1;
            at->u.leaf.name = ir_intern(p->g, val);
        } else if (!strcmp(key, "init")) {
            if (!ident(p, val, sizeof val)) return fail(p, "expected an initialiser");
            int k = -1;
            for (int i = 0; i < 4; i++)
                if (!strcmp(val, inits[i])) k = i;
            if (k < 0) return fail(p, "unknown initialiser %s", val);
            at->u.leaf.init = (IrInit)k;
        } else if (!strcmp(key, "value") || !strcmp(key, "f")) {
            char *end;
            ws(p);
            double f = strtod(p->p, &end);
            if (end == p->p) return fail(p, "expected a number");
            p->p = end;
            if (key[0] == 'v') at->u.leaf.value = f;
            else at->u.scalar.f = f;
        } else if (!strcmp(key, "k") || !strcmp(key, "s")) {
            if (!integer(p, &a) || !eat(p, "x") || !integer(p, &b)) return fail(p, "expected AxB");
            if (key[0] == 'k') { at->u.window.kh = (int)a; at->u.window.kw = (int)b; }
            else { at->u.window.sh = (int)a; at->u.window.sw = (int)b; }
        } else if (!strcmp(key, "pad")) {
            if (!ident(p, val, sizeof val)) return fail(p, "expected same or valid");
            at->u.window.same = !strcmp(val, "same");
        } else if (!strcmp(key, "shape")) {
            if (shape(p, &at->shape) < 0) return -1;
        } else {
            if (!integer(p, &a)) return fail(p, "expected an integer for %s", key);
            if (!strcmp(key, "axis")) at->u.axis.axis = (int)a;
            else if (!strcmp(key, "start")) at->u.axis.start = (int)a;
            else if (!strcmp(key, "len")) at->u.axis.len = (int)a;
            else if (!strcmp(key, "ta")) at->u.matmul.ta = (int)a;
            else if (!strcmp(key, "tb")) at->u.matmul.tb = (int)a;
            else if (!strcmp(key, "keep")) at->u.reduce.keep = (int)a;
            else if (!strcmp(key, "mean") && ir_op_info[op].attr == IR_ATTR_REPLICAS) at->u.replicas.mean = (int)a;
            else if (!strcmp(key, "mean")) at->u.reduce.mean = (int)a;
            else if (!strcmp(key, "group")) at->u.replicas.group = (int)a;
            else if (!strcmp(key, "copy")) at->copy = (int)a;
            else return fail(p, "unknown attribute %s", key);
        }
    }
    return 0;
}

static int node_ref(P *p, IrId *id) {
    long long v;
    if (!eat(p, "%") || !integer(p, &v)) return fail(p, "expected %%id");
    if (v < 0 || v >= p->n_map) return fail(p, "%%%lld is not defined yet", v);
    *id = p->map[v];
    return 0;
}

static int line(P *p) {
    char word[128];
    long long v;
    if (eat(p, "sym")) {
        if (!ident(p, word, sizeof word)) return fail(p, "expected a symbol name");
        long long dflt = -1;
        if (eat(p, "=") && !integer(p, &dflt)) return fail(p, "expected a default");
        ir_dim_sym(p->g, word, dflt);
        return 0;
    }
    if (eat(p, "output")) {
        IrId id;
        char name[512];
        ws(p);
        size_t n = strcspn(p->p, " \t\n=");
        if (n == 0 || n >= sizeof name) return fail(p, "expected an output name");
        memcpy(name, p->p, n);
        name[n] = 0;
        p->p += n;
        if (!eat(p, "=") || node_ref(p, &id) < 0) return fail(p, "expected '= %%id'");
        ir_set_output(p->g, name, id);
        return 0;
    }
    if (!eat(p, "%") || !integer(p, &v) || v != p->n_map) return fail(p, "expected %%%d", p->n_map);
    if (!eat(p, "=") || !ident(p, word, sizeof word)) return fail(p, "expected '= op'");
    int op = -1;
    for (int k = 0; k < IR_OP_COUNT; k++)
        if (!strcmp(ir_op_info[k].name, word)) op = k;
    if (op < 0) return fail(p, "unknown op %s", word);
    IrId in[IR_MAX_IN];
    int n_in = 0;
    if (!eat(p, "(")) return fail(p, "expected '('");
    if (!eat(p, ")")) {
        do {
            if (n_in == IR_MAX_IN || node_ref(p, &in[n_in++]) < 0) return -1;
        } while (eat(p, ","));
        if (!eat(p, ")")) return fail(p, "expected ')'");
    }
    IrAttr at;
    memset(&at, 0, sizeof at);
    int is_int = 0;
    if (attrs(p, (IrOp)op, &at, &is_int) < 0) return -1;
    IrShape printed;
    if (!eat(p, ":") || !(eat(p, "f") || eat(p, "i")) || shape(p, &printed) < 0)
        return fail(p, "expected ': f[...]'");
    p->g->cur_scope = 0;
    if (eat(p, "@")) {
        const char *e = p->p;
        while (*e && *e != '\n') e++;
        char *sc = fn_malloc((size_t)(e - p->p) + 1);
        if (!sc) return fail(p, "out of memory");
        memcpy(sc, p->p, (size_t)(e - p->p));
        sc[e - p->p] = 0;
        p->g->cur_scope = ir_intern(p->g, sc);
        free(sc);
        p->p = e;
    }
    IrId id = ir_make(p->g, (IrOp)op, in, n_in, &at);
    if (id == IR_NONE) return fail(p, "%s", p->g->err);
    if (!ir_shape_equal(&p->g->nodes[id].shape, &printed)) return fail(p, "shape differs from the inferred one");
    if (p->n_map == p->cap_map) {
        int cap = p->cap_map ? 2 * p->cap_map : 64;
        IrId *map = fn_realloc(p->map, (size_t)cap * sizeof *p->map);
        if (!map) return fail(p, "out of memory");
        p->map = map;
        p->cap_map = cap;
    }
    p->map[p->n_map++] = id;
    return 0;
}

IrGraph *ir_parse_text(const char *text, FnStatus *st) {
    P p = {text, 1, st, ir_graph_new(), NULL, 0, 0};
    if (!p.g) {
        fn_fail(st, "out of memory");
        return NULL;
    }
    int rc = 0;
    while (*p.p && rc == 0) {
        ws(&p);
        if (*p.p == '\n') { p.p++; p.line++; continue; }
        if (*p.p == '#') { while (*p.p && *p.p != '\n') p.p++; continue; }
        rc = line(&p);
        ws(&p);
        if (rc == 0 && *p.p && *p.p != '\n') rc = fail(&p, "unexpected text '%.20s'", p.p);
    }
    free(p.map);
    if (p.g->oom) rc = fail(&p, "out of memory"); /* a symbol, an output or a dimension */
    if (rc) {
        ir_graph_free(p.g);
        return NULL;
    }
    return p.g;
}

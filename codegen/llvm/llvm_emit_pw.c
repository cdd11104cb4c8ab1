/* See llvm_emit_pw.h. The op's expression from ir/pointwise.def (its text, as the table writes it)
 * is parsed into a small tree (the C subset the table allows), written out bottom up as SSA
 * instructions, then named and printed. Not a C compiler: words outside the table's list, or a
 * libm call on a float, are refused (-1), never guessed.
 *
 * The instructions are the C code's, operation for operation: a cast to double is fpext (none
 * where real is double), a cast to real fptrunc (or sitofp from an int), sqrt is
 * @llvm.sqrt.f64 and exp, log, pow the libm calls, fabsr @llvm.fabs in real, < and > ordered
 * compares (false on NaN, as in C), ?: a select of both sides (the else side written first, then
 * the then side and the condition), and a difference of two compares is taken in i32. Numbers
 * take their operation's type; f is the scalar in real, fd in double. Names: the value is
 * %m<k>; what a final cast to real converts is .y; other steps are .x (fpext), .c (compares),
 * .s (calls), .z (zext) and .n (the rest), numbered from the second of a letter (.c2). */
#include "codegen/llvm/llvm_emit_pw.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    IrOp op;
    int arity;
    const char *expr;
} table[] = {
#define IR_PW1(e, expr) {IR_OP_##e, 1, #expr},
#define IR_PW2(e, expr) {IR_OP_##e, 2, #expr},
#include "ir/pointwise.def"
#undef IR_PW1
#undef IR_PW2
};

/* ---- the tree ---------------------------------------------------------------------------- */
enum { MAX_NODES = 32, MAX_INS = 16 };
typedef enum { N_NUM, N_WORD, N_NEG, N_CAST, N_BIN, N_CALL, N_SEL } NodeKind;
typedef struct {
    NodeKind kind;
    char op;      /* N_BIN: + - * / < >; N_CAST: 'r' (real) or 'd' (double) */
    char word[8]; /* N_WORD, N_CALL */
    int kid[3], n_kids;
    double num;
} Node;
typedef struct {
    const char *p;
    Node n[MAX_NODES];
    int count, bad;
} Parser;

static int new_node(Parser *ps, NodeKind kind) {
    if (ps->count == MAX_NODES) {
        ps->bad = 1;
        return 0;
    }
    memset(&ps->n[ps->count], 0, sizeof ps->n[0]);
    ps->n[ps->count].kind = kind;
    return ps->count++;
}

static char peek(Parser *ps) {
    while (*ps->p == ' ') ps->p++;
    return *ps->p;
}

static int expect(Parser *ps, char c) {
    if (peek(ps) != c) return ps->bad = 1, 0;
    ps->p++;
    return 1;
}

/* a word's length at p (0: none) */
static size_t word_len(const char *p) {
    size_t n = 0;
    if (isalpha((unsigned char)*p) || *p == '_')
        while (isalnum((unsigned char)p[n]) || p[n] == '_') n++;
    return n;
}

static int parse_cond(Parser *ps);

static int binary_node(Parser *ps, char op, int l, int r) {
    int i = new_node(ps, N_BIN);
    ps->n[i].op = op;
    ps->n[i].kid[0] = l;
    ps->n[i].kid[1] = r;
    ps->n[i].n_kids = 2;
    return i;
}

static int parse_prim(Parser *ps) {
    char c = peek(ps);
    if (c == '(') {
        ps->p++;
        int i = parse_cond(ps);
        expect(ps, ')');
        return i;
    }
    if (isdigit((unsigned char)c)) {
        int i = new_node(ps, N_NUM);
        char *end;
        ps->n[i].num = strtod(ps->p, &end);
        ps->p = *end == 'f' ? end + 1 : end; /* 0.f */
        return i;
    }
    size_t len = word_len(ps->p);
    if (len == 0 || len >= sizeof ps->n[0].word) return ps->bad = 1, 0;
    char w[8];
    memcpy(w, ps->p, len);
    w[len] = 0;
    ps->p += len;
    int i = new_node(ps, peek(ps) == '(' ? N_CALL : N_WORD);
    memcpy(ps->n[i].word, w, len + 1);
    if (ps->n[i].kind == N_CALL) {
        ps->p++;
        do {
            if (ps->n[i].n_kids == 3) return ps->bad = 1, 0;
            int a = parse_cond(ps);
            ps->n[i].kid[ps->n[i].n_kids++] = a;
        } while (!ps->bad && peek(ps) == ',' && ps->p++);
        expect(ps, ')');
    }
    return i;
}

static int parse_unary(Parser *ps) {
    char c = peek(ps);
    if (c == '-') {
        ps->p++;
        int i = new_node(ps, N_NEG);
        ps->n[i].kid[0] = parse_unary(ps);
        ps->n[i].n_kids = 1;
        return i;
    }
    if (c == '(') { /* a cast: (real) or (double) */
        const char *q = ps->p + 1;
        size_t len = word_len(q);
        int real = len == 4 && !strncmp(q, "real", 4), dbl = len == 6 && !strncmp(q, "double", 6);
        if ((real || dbl) && q[len] == ')') {
            ps->p = q + len + 1;
            int i = new_node(ps, N_CAST);
            ps->n[i].op = real ? 'r' : 'd';
            ps->n[i].kid[0] = parse_unary(ps);
            ps->n[i].n_kids = 1;
            return i;
        }
    }
    return parse_prim(ps);
}

static int parse_mul(Parser *ps) {
    int l = parse_unary(ps);
    for (char c; !ps->bad && ((c = peek(ps)) == '*' || c == '/');) {
        ps->p++;
        l = binary_node(ps, c, l, parse_unary(ps));
    }
    return l;
}

static int parse_add(Parser *ps) {
    int l = parse_mul(ps);
    for (char c; !ps->bad && ((c = peek(ps)) == '+' || c == '-');) {
        ps->p++;
        l = binary_node(ps, c, l, parse_mul(ps));
    }
    return l;
}

static int parse_rel(Parser *ps) {
    int l = parse_add(ps);
    char c = peek(ps);
    if (c != '<' && c != '>') return l;
    ps->p++;
    return binary_node(ps, c, l, parse_add(ps));
}

static int parse_cond(Parser *ps) {
    int c = parse_rel(ps);
    if (ps->bad || peek(ps) != '?') return c;
    ps->p++;
    int t = parse_cond(ps);
    expect(ps, ':');
    int i = new_node(ps, N_SEL);
    ps->n[i].kid[0] = c;
    ps->n[i].kid[1] = t;
    ps->n[i].kid[2] = parse_cond(ps);
    ps->n[i].n_kids = 3;
    return i;
}

/* ---- the instructions ---------------------------------------------------------------------- */
typedef enum { TY_K, TY_T, TY_D, TY_B, TY_I } Ty; /* TY_K: a number, typed by its use */
typedef struct {
    Ty ty;
    int ins;       /* >= 0: that instruction's value; else txt */
    double num;    /* TY_K */
    char txt[40];  /* a register or a literal */
} Val;
typedef struct {
    char kind;     /* the name's letter: x c s z n, t (a cast to real) */
    char fmt[112]; /* the instruction, $0 $1 $2 standing for its operands */
    Val arg[3];
    char name[8];
} Ins;
typedef struct {
    const Parser *ps;
    Ins ins[MAX_INS];
    int n, prec, bad;
    const char *a, *b;
    double s;
} Em;

static const char *ty_name(const Em *e, Ty t) {
    switch (t) {
    case TY_T: return e->prec == 4 ? "float" : "double";
    case TY_D: return "double";
    case TY_B: return "i1";
    default: return "i32";
    }
}

static int same_ty(const Em *e, Ty a, Ty b) { return !strcmp(ty_name(e, a), ty_name(e, b)); }

/* An LLVM float literal: the bits of the value as a double (exact for a float too). */
static Val literal(const Em *e, double v, Ty t) {
    Val r = {.ty = t, .ins = -1};
    double d = t == TY_T && e->prec == 4 ? (double)(float)v : v;
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    snprintf(r.txt, sizeof r.txt, "0x%016llX", (unsigned long long)u);
    return r;
}

/* v in type t where v is a number; else v as it is */
static Val typed(const Em *e, Val v, Ty t) { return v.ty == TY_K ? literal(e, v.num, t) : v; }

/* appends an instruction of letter kind and type t: fmt (printf-formatted with the type names
 * already in) over the operands */
static Val add_ins(Em *e, char kind, Ty t, const char *fmt, Val a0, Val a1, Val a2) {
    if (e->n == MAX_INS) return e->bad = 1, (Val){0};
    Ins *in = &e->ins[e->n];
    in->kind = kind;
    snprintf(in->fmt, sizeof in->fmt, "%s", fmt);
    in->arg[0] = a0, in->arg[1] = a1, in->arg[2] = a2;
    return (Val){.ty = t, .ins = e->n++};
}

static Val emit(Em *e, int node);

/* a cast of node `kid` to real ('r') or double ('d') */
static Val emit_cast(Em *e, char to, int kid) {
    Val v = emit(e, kid), z = {0};
    Ty t = to == 'r' ? TY_T : TY_D;
    char f[112];
    if (v.ty == TY_K) return literal(e, v.num, t);
    if (same_ty(e, v.ty, t)) return v.ty = t, v;
    if (t == TY_D && v.ty == TY_T) return add_ins(e, 'x', t, "fpext float $0 to double", v, z, z);
    if (t == TY_T && v.ty == TY_D) return add_ins(e, 't', t, "fptrunc double $0 to float", v, z, z);
    if (t == TY_T && v.ty == TY_I) {
        snprintf(f, sizeof f, "sitofp i32 $0 to %s", ty_name(e, t));
        return add_ins(e, 't', t, f, v, z, z);
    }
    return e->bad = 1, v;
}

static Val emit_bin(Em *e, char op, Val l, Val r) {
    Val z = {0};
    char f[112];
    Ty t = l.ty != TY_K ? l.ty : r.ty != TY_K ? r.ty : TY_T;
    l = typed(e, l, t), r = typed(e, r, t);
    if (!same_ty(e, l.ty, r.ty)) return e->bad = 1, l;
    if (t == TY_B && op == '-') { /* a difference of two compares: in int, as C takes it */
        l = add_ins(e, 'z', TY_I, "zext i1 $0 to i32", l, z, z);
        r = add_ins(e, 'z', TY_I, "zext i1 $0 to i32", r, z, z);
        return add_ins(e, 'n', TY_I, "sub i32 $0, $1", l, r, z);
    }
    if (t != TY_T && t != TY_D) return e->bad = 1, l;
    const char *name = op == '+' ? "fadd" : op == '-' ? "fsub" : op == '*' ? "fmul" : op == '/' ? "fdiv"
                     : op == '<' ? "fcmp olt" : "fcmp ogt";
    snprintf(f, sizeof f, "%s %s $0, $1", name, ty_name(e, t));
    return add_ins(e, op == '<' || op == '>' ? 'c' : 'n', op == '<' || op == '>' ? TY_B : t, f, l, r, z);
}

static Val emit_call(Em *e, const Node *nd) {
    Val v[2] = {{0}, {0}}, z = {0};
    char f[112];
    for (int i = 0; i < nd->n_kids && i < 2; i++) v[i] = emit(e, nd->kid[i]);
    if (!strcmp(nd->word, "fabsr") && nd->n_kids == 1) {
        v[0] = typed(e, v[0], TY_T);
        if (v[0].ty != TY_T) return e->bad = 1, v[0];
        snprintf(f, sizeof f, "call %s @llvm.fabs.f%d(%s $0)", ty_name(e, TY_T), e->prec * 8, ty_name(e, TY_T));
        return add_ins(e, 's', TY_T, f, v[0], z, z);
    }
    int n_args = !strcmp(nd->word, "pow") ? 2 : 1;
    const char *fn = !strcmp(nd->word, "sqrt") ? "llvm.sqrt.f64" : nd->word;
    if (nd->n_kids != n_args || (n_args == 1 && strcmp(nd->word, "sqrt") && strcmp(nd->word, "exp") &&
                                 strcmp(nd->word, "log")))
        return e->bad = 1, v[0];
    for (int i = 0; i < n_args; i++) { /* libm takes doubles: the table casts floats itself */
        v[i] = typed(e, v[i], TY_D);
        if (!same_ty(e, v[i].ty, TY_D)) return e->bad = 1, v[0];
    }
    snprintf(f, sizeof f, "call double @%s(double $0%s)", fn, n_args == 2 ? ", double $1" : "");
    return add_ins(e, 's', TY_D, f, v[0], v[1], z);
}

static Val emit(Em *e, int node) {
    const Node *nd = &e->ps->n[node];
    Val z = {0}, v;
    char f[112];
    if (e->bad) return z;
    switch (nd->kind) {
    case N_NUM: return (Val){.ty = TY_K, .ins = -1, .num = nd->num};
    case N_WORD:
        v = (Val){.ty = TY_T, .ins = -1};
        if (!strcmp(nd->word, "v") || !strcmp(nd->word, "x")) snprintf(v.txt, sizeof v.txt, "%s", e->a);
        else if (!strcmp(nd->word, "z") && e->b) snprintf(v.txt, sizeof v.txt, "%s", e->b);
        else if (!strcmp(nd->word, "f")) v = literal(e, e->s, TY_T);
        else if (!strcmp(nd->word, "fd")) v = literal(e, e->s, TY_D);
        else e->bad = 1;
        return v;
    case N_NEG:
        v = typed(e, emit(e, nd->kid[0]), TY_T);
        snprintf(f, sizeof f, "fneg %s $0", ty_name(e, v.ty));
        return add_ins(e, 'n', v.ty, f, v, z, z);
    case N_CAST: return emit_cast(e, nd->op, nd->kid[0]);
    case N_BIN: {
        Val l = emit(e, nd->kid[0]);
        return emit_bin(e, nd->op, l, emit(e, nd->kid[1]));
    }
    case N_CALL: return emit_call(e, nd);
    case N_SEL: { /* the else side, the then side, the condition */
        Val o = emit(e, nd->kid[2]), t = emit(e, nd->kid[1]), c = emit(e, nd->kid[0]);
        Ty ty = t.ty != TY_K ? t.ty : o.ty != TY_K ? o.ty : TY_T;
        t = typed(e, t, ty), o = typed(e, o, ty);
        if (c.ty != TY_B || !same_ty(e, t.ty, o.ty)) return e->bad = 1, z;
        snprintf(f, sizeof f, "select i1 $0, %s $1, %s $2", ty_name(e, ty), ty_name(e, ty));
        return add_ins(e, 'n', ty, f, c, t, o);
    }
    }
    return e->bad = 1, z;
}

/* ---- names and text ---------------------------------------------------------------------------- */
static void name_all(Em *e) {
    Ins *last = &e->ins[e->n - 1];
    int y = last->kind == 't' && last->arg[0].ty != TY_K ? last->arg[0].ins : -1;
    for (int i = 0; i < e->n; i++) {
        Ins *in = &e->ins[i];
        if (in == last) continue;
        if (i == y) {
            snprintf(in->name, sizeof in->name, ".y");
            continue;
        }
        int seen = 1;
        for (int j = 0; j < i; j++) seen += e->ins[j].kind == in->kind && j != y;
        if (seen > 1) snprintf(in->name, sizeof in->name, ".%c%d", in->kind, seen);
        else snprintf(in->name, sizeof in->name, ".%c", in->kind);
    }
}

static void val_text(const Em *e, int k, const Val *v, char *out, size_t cap) {
    if (v->ins >= 0) snprintf(out, cap, "%%m%d%s", k, e->ins[v->ins].name);
    else snprintf(out, cap, "%s", v->txt);
}

int ll_pointwise(IrOp op, int k, const char *a, const char *b, double s, int prec, char *out, size_t cap) {
    size_t i = 0;
    while (i < sizeof table / sizeof table[0] && table[i].op != op) i++;
    if (i == sizeof table / sizeof table[0] || (table[i].arity == 2 && !b)) return -1;
    Parser ps = {.p = table[i].expr};
    int root = parse_cond(&ps);
    if (ps.bad || peek(&ps) != 0) return -1;
    Em e = {.ps = &ps, .prec = prec, .a = a, .b = b, .s = s};
    Val r = emit(&e, root);
    if (e.bad || r.ins != e.n - 1 || !same_ty(&e, r.ty, TY_T)) return -1; /* the value: the last step, in real */
    name_all(&e);
    size_t o = 0;
    out[0] = 0;
    for (int n = 0; n < e.n; n++) {
        char line[256], arg[48];
        size_t l = (size_t)snprintf(line, sizeof line, "  %%m%d%s = ", k, e.ins[n].name);
        for (const char *p = e.ins[n].fmt; *p && l + 1 < sizeof line; p++) {
            if (p[0] == '$' && p[1] >= '0' && p[1] <= '2') {
                val_text(&e, k, &e.ins[n].arg[*++p - '0'], arg, sizeof arg);
                l += (size_t)snprintf(line + l, sizeof line - l, "%s", arg);
            } else {
                line[l++] = *p;
                line[l] = 0;
            }
        }
        if (l + 1 >= sizeof line) return -1;
        int w = snprintf(out + o, cap - o, "%s\n", line);
        if (w < 0 || o + (size_t)w >= cap) return -1;
        o += (size_t)w;
    }
    return 0;
}

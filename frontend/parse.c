/* The parser: tokens to an AST, recursive descent (grammar in docs/dsl.md).
 *
 * What this is: one function per grammar rule; imports are resolved and parsed here (relative to
 * the importing file, each file once), so the evaluator sees every file's AST before running.
 * Error recovery is per statement: a failed statement is reported, then tokens are skipped to the
 * next line start outside any bracket (or to the '}' that closes the enclosing block).
 * What this is not: name resolution or type checking (lower.c does both while evaluating).
 */
#define FE_INTERNAL
#include "frontend/fe.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

typedef struct {
    FeCtx *c;
    int file;
    FeToken *t;
    int n, pos;
    int nest;   /* expression/block nesting, bounded by FE_MAX_NEST */
    int open;   /* unclosed ( and [ of the current statement, for recovery */
    int in_def; /* inside a def body: `return` allowed */
} Parser;

/* A growable array of pointers, copied into the arena when done. Out of memory (reported, the
 * compile halts), it drops what it cannot hold and vec_done gives NULL. */
typedef struct {
    void **p;
    int n, cap;
    int oom;
} Vec;

static void vec_push(Parser *P, Vec *v, void *x) {
    if (v->oom) return;
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 8;
        void **p = fn_realloc(v->p, (size_t)cap * sizeof *v->p);
        if (!p) {
            v->oom = 1;
            fe_oom(P->c);
            return;
        }
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = x;
}

static void **vec_done(Parser *P, Vec *v) {
    void **out = v->oom ? NULL : fe_alloc(P->c, (size_t)(v->n ? v->n : 1) * sizeof *out);
    if (out && v->n) memcpy(out, v->p, (size_t)v->n * sizeof *out);
    free(v->p);
    v->p = NULL;
    return out;
}

static const FeToken *tok(const Parser *P) {
    return &P->t[P->pos];
}
static FeTokKind kind(const Parser *P) {
    return P->t[P->pos].kind;
}
static FeTokKind peek_kind(const Parser *P, int k) {
    int i = P->pos + k;
    return i < P->n ? P->t[i].kind : FE_T_EOF;
}
static const FeToken *next(Parser *P) {
    const FeToken *t = &P->t[P->pos];
    if (t->kind != FE_T_EOF) P->pos++;
    return t;
}
static int accept(Parser *P, FeTokKind k) {
    if (kind(P) != k) return 0;
    next(P);
    return 1;
}

static void *perr(Parser *P, FeLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *perr(Parser *P, FeLoc loc, const char *fmt, ...) {
    /* right after a lexical error (already reported), a parse error is most likely its echo */
    if (P->t[P->pos].bad || (P->pos > 0 && P->t[P->pos - 1].bad)) return NULL;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fe_error(P->c, loc, "%s", msg);
    return NULL;
}

/* "expected X before Y" at the current token. */
static void *expected(Parser *P, const char *what) {
    const FeToken *t = tok(P);
    if (t->kind == FE_T_IDENT) return perr(P, t->loc, "expected %s before '%s'", what, t->text);
    return perr(P, t->loc, "expected %s before %s", what, fe_tok_name(t->kind));
}

static int expect(Parser *P, FeTokKind k) {
    if (accept(P, k)) return 1;
    expected(P, fe_tok_name(k));
    return 0;
}

/* A new AST node; NULL when out of memory (reported). */
static FeNode *node(Parser *P, FeNodeKind k, FeLoc loc) {
    FeNode *n = fe_alloc(P->c, sizeof *n);
    if (!n) return NULL;
    n->kind = k;
    n->loc = loc;
    return n;
}

/* ---- expressions -------------------------------------------------------------------------- */
static FeNode *parse_expr(Parser *P);

static int enter(Parser *P) {
    if (++P->nest > FE_MAX_NEST) {
        perr(P, tok(P)->loc, "nesting too deep (more than %d levels)", FE_MAX_NEST);
        return 0;
    }
    return 1;
}

/* One more operator of a chain (a + b + c ..., x[0][0] ..., f()()): each nests the AST one level
 * deeper, and the evaluator recurses on it, so chains count against FE_MAX_NEST as brackets do.
 * The caller gives the levels back (P->nest -= levels) when the chain ends. */
static int chain(Parser *P, int *levels) {
    if (P->nest + 1 > FE_MAX_NEST) {
        perr(P, tok(P)->loc,
             "expression too deep: more than %d nested operators and brackets (split it with "
             "intermediate variables)",
             FE_MAX_NEST);
        return 0;
    }
    P->nest++;
    ++*levels;
    return 1;
}

/* args := [arg {',' arg} [',']] ')' ; arg := [IDENT '='] expr */
static FeNode *parse_call(Parser *P, FeNode *callee) {
    FeNode *n = node(P, FE_N_CALL, tok(P)->loc);
    if (!n) return NULL;
    next(P); /* ( */
    P->open++;
    n->a = callee;
    Vec items = {0}, names = {0}, locs = {0};
    int kw_seen = 0, ok = 1;
    while (kind(P) != FE_T_RPAREN) {
        const char *name = NULL;
        FeLoc loc = tok(P)->loc;
        if (kind(P) == FE_T_IDENT && peek_kind(P, 1) == FE_T_ASSIGN) {
            name = tok(P)->text;
            for (int i = 0; i < names.n; i++)
                if (names.p[i] == name) {
                    perr(P, loc, "keyword argument '%s' given twice", name);
                    ok = 0;
                    break;
                }
            next(P);
            next(P);
            kw_seen = 1;
        } else if (kw_seen) {
            perr(P, loc, "positional argument after keyword arguments");
            ok = 0;
        }
        if (!ok) break;
        FeNode *e = parse_expr(P);
        if (!e) {
            ok = 0;
            break;
        }
        FeLoc *lp = fe_alloc(P->c, sizeof *lp);
        if (!lp) {
            ok = 0;
            break;
        }
        *lp = loc;
        vec_push(P, &items, e);
        vec_push(P, &names, (void *)name);
        vec_push(P, &locs, lp);
        if (!accept(P, FE_T_COMMA)) break;
    }
    if (ok && !expect(P, FE_T_RPAREN)) ok = 0;
    n->n_items = items.n;
    n->items = (FeNode **)vec_done(P, &items);
    n->names = (const char **)vec_done(P, &names);
    FeLoc **lps = (FeLoc **)vec_done(P, &locs);
    n->locs = fe_alloc(P->c, (size_t)(n->n_items ? n->n_items : 1) * sizeof *n->locs);
    if (!ok || !n->items || !n->names || !lps || !n->locs) return NULL; /* out of memory: reported */
    for (int i = 0; i < n->n_items; i++)
        n->locs[i] = *lps[i];
    P->open--;
    return n;
}

static FeNode *parse_primary(Parser *P) {
    const FeToken *t = tok(P);
    FeNode *n;
    switch (t->kind) {
    case FE_T_INT:
        n = node(P, FE_N_INT, t->loc);
        if (!n) return NULL;
        n->ival = t->ival;
        next(P);
        return n;
    case FE_T_FLOAT:
        n = node(P, FE_N_FLOAT, t->loc);
        if (!n) return NULL;
        n->fval = t->fval;
        next(P);
        return n;
    case FE_T_STRING:
        n = node(P, FE_N_STR, t->loc);
        if (!n) return NULL;
        n->name = t->text;
        next(P);
        return n;
    case FE_T_TRUE:
    case FE_T_FALSE:
        n = node(P, FE_N_BOOL, t->loc);
        if (!n) return NULL;
        n->ival = t->kind == FE_T_TRUE;
        next(P);
        return n;
    case FE_T_IDENT:
        n = node(P, FE_N_NAME, t->loc);
        if (!n) return NULL;
        n->name = t->text;
        next(P);
        return n;
    case FE_T_LPAREN: {
        next(P);
        P->open++;
        FeNode *e = parse_expr(P);
        if (!e || !expect(P, FE_T_RPAREN)) return NULL;
        P->open--;
        return e;
    }
    case FE_T_LBRACK: {
        n = node(P, FE_N_LIST, t->loc);
        if (!n) return NULL;
        next(P);
        P->open++;
        Vec items = {0};
        while (kind(P) != FE_T_RBRACK) {
            FeNode *e = parse_expr(P);
            if (!e) {
                free(items.p);
                return NULL;
            }
            vec_push(P, &items, e);
            if (!accept(P, FE_T_COMMA)) break;
        }
        n->n_items = items.n;
        n->items = (FeNode **)vec_done(P, &items);
        if (!n->items || !expect(P, FE_T_RBRACK)) return NULL;
        P->open--;
        return n;
    }
    default: return expected(P, "an expression");
    }
}

static FeNode *parse_postfix(Parser *P) {
    FeNode *e = parse_primary(P);
    int levels = 0;
    while (e && (kind(P) == FE_T_LPAREN || kind(P) == FE_T_LBRACK)) {
        if (!chain(P, &levels)) {
            e = NULL;
            break;
        }
        if (kind(P) == FE_T_LPAREN) {
            e = parse_call(P, e);
        } else if (kind(P) == FE_T_LBRACK) {
            FeNode *n = node(P, FE_N_INDEX, tok(P)->loc);
            if (!n) {
                e = NULL;
                break;
            }
            next(P);
            P->open++;
            n->a = e;
            n->b = parse_expr(P);
            if (!n->b || !expect(P, FE_T_RBRACK)) {
                e = NULL;
                break;
            }
            P->open--;
            e = n;
        }
    }
    P->nest -= levels;
    return e;
}

static FeNode *parse_unary(Parser *P) {
    if (kind(P) == FE_T_MINUS) {
        FeNode *n = node(P, FE_N_UNARY, tok(P)->loc);
        if (!n) return NULL;
        n->op = FE_T_MINUS;
        next(P);
        if (!enter(P)) return NULL;
        n->a = parse_unary(P);
        P->nest--;
        return n->a ? n : NULL;
    }
    return parse_postfix(P);
}

static FeNode *binary(Parser *P, FeTokKind op, FeLoc loc, FeNode *a, FeNode *b) {
    if (!a || !b) return NULL;
    FeNode *n = node(P, FE_N_BINARY, loc);
    if (!n) return NULL;
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static FeNode *parse_mul(Parser *P) {
    FeNode *e = parse_unary(P);
    int levels = 0;
    while (e && (kind(P) == FE_T_STAR || kind(P) == FE_T_SLASH || kind(P) == FE_T_DSLASH)) {
        if (!chain(P, &levels)) {
            e = NULL;
            break;
        }
        const FeToken *t = next(P);
        e = binary(P, t->kind, t->loc, e, parse_unary(P));
    }
    P->nest -= levels;
    return e;
}

static FeNode *parse_add(Parser *P) {
    FeNode *e = parse_mul(P);
    int levels = 0;
    while (e && (kind(P) == FE_T_PLUS || kind(P) == FE_T_MINUS)) {
        if (!chain(P, &levels)) {
            e = NULL;
            break;
        }
        const FeToken *t = next(P);
        e = binary(P, t->kind, t->loc, e, parse_mul(P));
    }
    P->nest -= levels;
    return e;
}

static int is_cmp(FeTokKind k) {
    return k == FE_T_EQ || k == FE_T_NE || k == FE_T_LT || k == FE_T_LE || k == FE_T_GT ||
           k == FE_T_GE;
}

static FeNode *parse_cmp(Parser *P) {
    FeNode *e = parse_add(P);
    if (e && is_cmp(kind(P))) {
        const FeToken *t = next(P);
        e = binary(P, t->kind, t->loc, e, parse_add(P));
        if (e && is_cmp(kind(P))) return perr(P, tok(P)->loc, "comparisons cannot be chained");
    }
    return e;
}

static FeNode *parse_not(Parser *P) {
    if (kind(P) == FE_T_NOT) {
        FeNode *n = node(P, FE_N_UNARY, tok(P)->loc);
        if (!n) return NULL;
        n->op = FE_T_NOT;
        next(P);
        if (!enter(P)) return NULL;
        n->a = parse_not(P);
        P->nest--;
        return n->a ? n : NULL;
    }
    return parse_cmp(P);
}

static FeNode *parse_and(Parser *P) {
    FeNode *e = parse_not(P);
    int levels = 0;
    while (e && kind(P) == FE_T_AND) {
        if (!chain(P, &levels)) {
            e = NULL;
            break;
        }
        const FeToken *t = next(P);
        e = binary(P, t->kind, t->loc, e, parse_not(P));
    }
    P->nest -= levels;
    return e;
}

static FeNode *parse_expr(Parser *P) {
    if (!enter(P)) return NULL;
    FeNode *e = parse_and(P);
    int levels = 0;
    while (e && kind(P) == FE_T_OR) {
        if (!chain(P, &levels)) {
            e = NULL;
            break;
        }
        const FeToken *t = next(P);
        e = binary(P, t->kind, t->loc, e, parse_and(P));
    }
    P->nest -= levels + 1;
    return e;
}

/* ---- statements --------------------------------------------------------------------------- */
static FeNode *parse_stmt(Parser *P, int top);

/* Skips the rest of a failed statement: to the next line start outside brackets, or to the '}'
 * that closes the enclosing block (not consumed). */
static void sync(Parser *P, int start) {
    int depth = P->open;
    P->open = 0;
    while (kind(P) != FE_T_EOF) {
        const FeToken *t = tok(P);
        if (P->pos > start && t->bol && depth <= 0) return;
        switch (t->kind) {
        case FE_T_LBRACE:
        case FE_T_LPAREN:
        case FE_T_LBRACK: depth++; break;
        case FE_T_RBRACE:
            if (depth <= 0) return;
            depth--;
            break;
        case FE_T_RPAREN:
        case FE_T_RBRACK:
            if (depth > 0) depth--;
            break;
        default: break;
        }
        next(P);
    }
}

static int top_only(FeTokKind k) {
    return k == FE_T_DEF || k == FE_T_DIM || k == FE_T_IMPORT;
}

/* block := '{' {stmt} '}' */
static FeNode *parse_block(Parser *P) {
    const FeToken *open = tok(P);
    if (open->kind != FE_T_LBRACE) return expected(P, "'{'");
    if (!enter(P)) return NULL;
    FeLoc loc = open->loc;
    next(P);
    FeNode *b = node(P, FE_N_BLOCK, loc);
    Vec items = {0};
    for (;;) {
        if (P->c->halted) break;
        if (accept(P, FE_T_RBRACE)) break;
        if (kind(P) == FE_T_EOF || (tok(P)->bol && top_only(kind(P)))) {
            perr(P, loc, "unclosed '{': expected '}' before %s", fe_tok_name(kind(P)));
            break;
        }
        int start = P->pos, nest = P->nest;
        FeNode *s = parse_stmt(P, 0);
        if (s) {
            vec_push(P, &items, s);
        } else {
            sync(P, start);
            P->nest = nest;
        }
    }
    P->nest--;
    FeNode **done = (FeNode **)vec_done(P, &items);
    if (!b || !done) return NULL; /* out of memory: reported */
    b->n_items = items.n;
    b->items = done;
    return b;
}

/* import := 'import' STRING */
static FeNode *parse_import(Parser *P, FeLoc loc) {
    const FeToken *s = tok(P);
    if (s->kind != FE_T_STRING) return expected(P, "a file name string");
    next(P);
    FeNode *n = node(P, FE_N_IMPORT, loc);
    if (!n) return NULL;
    n->ival = -1;
    /* resolve relative to the importing file's folder */
    const char *from = P->c->files[P->file].path, *slash = strrchr(from, '/');
    size_t dn = (s->text[0] == '/' || !slash) ? 0 : (size_t)(slash - from + 1);
    size_t len = dn + strlen(s->text);
    char *path = fe_alloc(P->c, len + 1);
    if (!path) return NULL;
    memcpy(path, from, dn);
    strcpy(path + dn, s->text);
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        perr(P, s->loc, "cannot import \"%s\": %s (looked for %s)", s->text, strerror(errno), path);
        return n; /* the statement parsed; the error is counted */
    }
    for (int i = 0; i < P->c->n_files; i++)
        if (strcmp(P->c->files[i].real, real) == 0) {
            n->ival = i;
            return n;
        }
    if (P->c->n_files >= FE_MAX_FILES) {
        perr(P, s->loc, "cannot import \"%s\": more than %d source files", s->text, FE_MAX_FILES);
        return n;
    }
    const char *why;
    int f = fe_file_load(P->c, path, &why);
    if (f < 0) {
        perr(P, s->loc, "cannot import \"%s\": %s", s->text, why);
        return n;
    }
    P->c->files[f].imported = 1;
    n->ival = f;
    fe_parse_file(P->c, f);
    return n;
}

/* dimdecl := 'dim' IDENT ['=' INT] {',' IDENT ['=' INT]} */
static FeNode *parse_dim(Parser *P, FeLoc loc) {
    FeNode *n = node(P, FE_N_DIM, loc);
    if (!n) return NULL;
    Vec names = {0}, vals = {0}, locs = {0};
    do {
        const FeToken *t = tok(P);
        if (t->kind != FE_T_IDENT) {
            free(names.p), free(vals.p), free(locs.p);
            return expected(P, "a dim name");
        }
        next(P);
        FeNode *v = NULL;
        if (accept(P, FE_T_ASSIGN)) {
            if (kind(P) != FE_T_INT) {
                free(names.p), free(vals.p), free(locs.p);
                return expected(P, "an integer default");
            }
            v = node(P, FE_N_INT, tok(P)->loc);
            if (!v) {
                free(names.p), free(vals.p), free(locs.p);
                return NULL; /* out of memory: reported */
            }
            v->ival = next(P)->ival;
        }
        FeLoc *lp = fe_alloc(P->c, sizeof *lp);
        if (!lp) {
            free(names.p), free(vals.p), free(locs.p);
            return NULL;
        }
        *lp = t->loc;
        vec_push(P, &names, (void *)t->text);
        vec_push(P, &vals, v);
        vec_push(P, &locs, lp);
    } while (accept(P, FE_T_COMMA));
    n->n_items = names.n;
    n->names = (const char **)vec_done(P, &names);
    n->items = (FeNode **)vec_done(P, &vals);
    FeLoc **lps = (FeLoc **)vec_done(P, &locs);
    n->locs = fe_alloc(P->c, (size_t)n->n_items * sizeof *n->locs);
    if (!n->names || !n->items || !lps || !n->locs) return NULL; /* out of memory: reported */
    for (int i = 0; i < n->n_items; i++)
        n->locs[i] = *lps[i];
    return n;
}

/* def := 'def' IDENT '(' [param {',' param}] ')' block ; param := IDENT ['=' expr] */
static FeNode *parse_def(Parser *P, FeLoc loc) {
    const FeToken *name = tok(P);
    if (name->kind != FE_T_IDENT) return expected(P, "a function name");
    next(P);
    FeNode *n = node(P, FE_N_DEF, loc);
    if (!n) return NULL;
    n->name = name->text;
    if (!expect(P, FE_T_LPAREN)) return NULL;
    P->open++;
    Vec names = {0}, dflts = {0}, locs = {0};
    int ok = 1;
    while (kind(P) != FE_T_RPAREN) {
        const FeToken *t = tok(P);
        if (t->kind != FE_T_IDENT) {
            expected(P, "a parameter name");
            ok = 0;
            break;
        }
        for (int i = 0; i < names.n; i++)
            if (names.p[i] == t->text) {
                perr(P, t->loc, "duplicate parameter '%s'", t->text);
                ok = 0;
            }
        next(P);
        FeNode *d = NULL;
        if (ok && accept(P, FE_T_ASSIGN) && !(d = parse_expr(P))) ok = 0;
        if (!ok) break;
        FeLoc *lp = fe_alloc(P->c, sizeof *lp);
        if (!lp) {
            ok = 0;
            break;
        }
        *lp = t->loc;
        vec_push(P, &names, (void *)t->text);
        vec_push(P, &dflts, d);
        vec_push(P, &locs, lp);
        if (!accept(P, FE_T_COMMA)) break;
    }
    if (ok && !expect(P, FE_T_RPAREN)) ok = 0;
    n->n_items = names.n;
    n->names = (const char **)vec_done(P, &names);
    n->items = (FeNode **)vec_done(P, &dflts);
    FeLoc **lps = (FeLoc **)vec_done(P, &locs);
    if (!ok || !n->names || !n->items || !lps) return NULL;
    P->open--;
    n->locs = fe_alloc(P->c, (size_t)(n->n_items ? n->n_items : 1) * sizeof *n->locs);
    if (!n->locs) return NULL;
    for (int i = 0; i < n->n_items; i++)
        n->locs[i] = *lps[i];
    P->in_def = 1;
    n->a = parse_block(P);
    P->in_def = 0;
    return n->a ? n : NULL;
}

static FeNode *parse_if(Parser *P, FeLoc loc) {
    FeNode *n = node(P, FE_N_IF, loc);
    if (!n || !(n->a = parse_expr(P)) || !(n->b = parse_block(P))) return NULL;
    if (accept(P, FE_T_ELSE)) {
        if (kind(P) == FE_T_IF) {
            FeLoc l2 = next(P)->loc;
            if (!enter(P)) return NULL;
            n->c = parse_if(P, l2);
            P->nest--;
        } else {
            n->c = parse_block(P);
        }
        if (!n->c) return NULL;
    }
    return n;
}

/* output := 'output' IDENT '=' expr */
static FeNode *parse_output(Parser *P, FeLoc loc) {
    const FeToken *name = tok(P);
    if (name->kind != FE_T_IDENT) return expected(P, "an output name");
    next(P);
    if (!expect(P, FE_T_ASSIGN)) return NULL;
    FeNode *n = node(P, FE_N_OUTPUT, loc);
    if (!n) return NULL;
    n->name = name->text;
    n->a = parse_expr(P);
    return n->a ? n : NULL;
}

/* scope := 'scope' (IDENT | STRING) block */
static FeNode *parse_scope(Parser *P, FeLoc loc) {
    const FeToken *name = tok(P);
    if (name->kind != FE_T_IDENT && name->kind != FE_T_STRING) return expected(P, "a scope name");
    if (name->kind == FE_T_STRING && (!name->text[0] || strchr(name->text, '/')))
        return perr(P, name->loc, "a scope name must be non-empty and contain no '/'");
    next(P);
    FeNode *n = node(P, FE_N_SCOPE, loc);
    if (!n) return NULL;
    n->name = name->text;
    n->a = parse_block(P);
    return n->a ? n : NULL;
}

static FeNode *parse_stmt(Parser *P, int top) {
    const FeToken *t = tok(P);
    FeLoc loc = t->loc;
    P->open = 0;
    if (top_only(t->kind) && !top) {
        perr(P, loc, "%s is only allowed at the top level of a file", fe_tok_name(t->kind));
        return NULL;
    }
    switch (t->kind) {
    case FE_T_IMPORT: next(P); return parse_import(P, loc);
    case FE_T_DIM: next(P); return parse_dim(P, loc);
    case FE_T_DEF: next(P); return parse_def(P, loc);
    case FE_T_OUTPUT: next(P); return parse_output(P, loc);
    case FE_T_SCOPE: next(P); return parse_scope(P, loc);
    case FE_T_REPEAT: {
        next(P);
        FeNode *n = node(P, FE_N_REPEAT, loc);
        if (!n || !(n->a = parse_expr(P))) return NULL;
        if (kind(P) != FE_T_IDENT) return expected(P, "a scope name for the repeated block");
        n->name = next(P)->text;
        n->b = parse_block(P);
        return n->b ? n : NULL;
    }
    case FE_T_IF: next(P); return parse_if(P, loc);
    case FE_T_RETURN: {
        if (!P->in_def) {
            perr(P, loc, "'return' outside a function");
            return NULL;
        }
        next(P);
        FeNode *n = node(P, FE_N_RETURN, loc);
        if (!n) return NULL;
        n->a = parse_expr(P);
        return n->a ? n : NULL;
    }
    case FE_T_ELSE: return perr(P, loc, "'else' without a matching 'if'");
    case FE_T_RBRACE: next(P); return perr(P, loc, "unmatched '}'");
    case FE_T_IDENT:
        if (peek_kind(P, 1) == FE_T_ASSIGN) {
            FeNode *n = node(P, FE_N_ASSIGN, loc);
        if (!n) return NULL;
            n->name = t->text;
            next(P);
            next(P);
            n->a = parse_expr(P);
            return n->a ? n : NULL;
        }
        break;
    default: break;
    }
    FeNode *e = parse_expr(P);
    if (!e) return NULL;
    if (e->kind != FE_N_CALL)
        return perr(P, e->loc, "expression statement has no effect (only a call can stand alone)");
    FeNode *n = node(P, FE_N_EXPR, loc);
    if (!n) return NULL;
    n->a = e;
    return n;
}

int fe_parse_file(FeCtx *c, int file) {
    int before = c->n_errors;
    Parser P = {.c = c, .file = file};
    P.t = fe_lex(c, file, &P.n);
    FeNode *prog = P.t ? node(&P, FE_N_BLOCK, (FeLoc){file, 1, 1}) : NULL;
    if (!prog) { /* out of memory: reported */
        free(P.t);
        return c->n_errors - before;
    }
    Vec items = {0};
    while (kind(&P) != FE_T_EOF && !c->halted) {
        int start = P.pos;
        FeNode *s = parse_stmt(&P, 1);
        if (s) {
            vec_push(&P, &items, s);
        } else {
            sync(&P, start); /* a '}' left here is reported (and consumed) by parse_stmt */
            P.nest = 0;
        }
    }
    prog->n_items = items.n;
    prog->items = (FeNode **)vec_done(&P, &items);
    if (prog->items) c->files[file].prog = prog; /* else out of memory: reported */
    free(P.t);
    return c->n_errors - before;
}

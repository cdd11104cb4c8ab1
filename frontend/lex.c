/* The lexer: source text to a token array (docs/dsl.md, "Lexical structure").
 *
 * What this is: one pass over a file producing every token up front with its line and column;
 * identifiers are interned so the parser and evaluator compare names by pointer. Lexical errors
 * (unterminated string, stray character, malformed number) are reported and skipped.
 * What this is not: the parser (parse.c).
 */
#define FE_INTERNAL
#include "frontend/fe.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

static const char *tok_names[FE_T_COUNT] = {
    [FE_T_EOF] = "end of file", [FE_T_IDENT] = "identifier", [FE_T_INT] = "integer",
    [FE_T_FLOAT] = "number",    [FE_T_STRING] = "string",    [FE_T_IMPORT] = "'import'",
    [FE_T_DIM] = "'dim'",       [FE_T_DEF] = "'def'",        [FE_T_OUTPUT] = "'output'",
    [FE_T_SCOPE] = "'scope'",   [FE_T_REPEAT] = "'repeat'",  [FE_T_IF] = "'if'",
    [FE_T_ELSE] = "'else'",     [FE_T_RETURN] = "'return'",  [FE_T_TRUE] = "'true'",
    [FE_T_FALSE] = "'false'",   [FE_T_AND] = "'and'",        [FE_T_OR] = "'or'",
    [FE_T_NOT] = "'not'",       [FE_T_LPAREN] = "'('",       [FE_T_RPAREN] = "')'",
    [FE_T_LBRACK] = "'['",      [FE_T_RBRACK] = "']'",       [FE_T_LBRACE] = "'{'",
    [FE_T_RBRACE] = "'}'",      [FE_T_COMMA] = "','",        [FE_T_ASSIGN] = "'='",
    [FE_T_EQ] = "'=='",         [FE_T_NE] = "'!='",          [FE_T_LT] = "'<'",
    [FE_T_LE] = "'<='",         [FE_T_GT] = "'>'",           [FE_T_GE] = "'>='",
    [FE_T_PLUS] = "'+'",        [FE_T_MINUS] = "'-'",        [FE_T_STAR] = "'*'",
    [FE_T_SLASH] = "'/'",       [FE_T_DSLASH] = "'//'",
};

const char *fe_tok_name(FeTokKind k) {
    return k < FE_T_COUNT ? tok_names[k] : "?";
}

static const struct {
    const char *word;
    FeTokKind kind;
} keywords[] = {
    {"import", FE_T_IMPORT}, {"dim", FE_T_DIM},     {"def", FE_T_DEF},
    {"output", FE_T_OUTPUT}, {"scope", FE_T_SCOPE}, {"repeat", FE_T_REPEAT},
    {"if", FE_T_IF},         {"else", FE_T_ELSE},   {"return", FE_T_RETURN},
    {"true", FE_T_TRUE},     {"false", FE_T_FALSE}, {"and", FE_T_AND},
    {"or", FE_T_OR},         {"not", FE_T_NOT},
};

typedef struct {
    FeCtx *c;
    int file;
    const char *p, *end, *line_start;
    int line;
    int bol; /* no token yet on this line */
    int bad; /* the next token follows a lexical error */
    FeToken *toks;
    int n, cap;
} Lexer;

static FeLoc here(const Lexer *L, const char *p) {
    return (FeLoc){L->file, L->line, (int)(p - L->line_start) + 1};
}

/* A lexical error: the file is marked (diag.c then quotes at most one of its lines). */
static void lex_error(Lexer *L, const char *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lex_error(Lexer *L, const char *p, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->c->files[L->file].lex_bad = 1;
    fe_error(L->c, here(L, p), "%s", msg);
}

/* A new token; NULL when out of memory (reported: the compile halts, the lexer stops). */
static FeToken *push(Lexer *L, FeTokKind k, const char *start) {
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 256;
        FeToken *t = fn_realloc(L->toks, (size_t)cap * sizeof *L->toks);
        if (!t) {
            fe_oom(L->c);
            return NULL;
        }
        L->toks = t;
        L->cap = cap;
    }
    FeToken *t = &L->toks[L->n++];
    memset(t, 0, sizeof *t);
    t->kind = k;
    t->loc = here(L, start);
    t->bol = L->bol;
    t->bad = L->bad;
    L->bol = 0;
    L->bad = 0;
    return t;
}

static void lex_string(Lexer *L) {
    const char *start = L->p;
    char quote = *L->p++;
    size_t cap = 32, n = 0;
    char *buf = fn_malloc(cap);
    while (buf) {
        if (L->p >= L->end || *L->p == '\n' || *L->p == '\r') {
            lex_error(L, start, "unterminated string");
            L->bad = 1;
            break;
        }
        char ch = *L->p++;
        if (ch == quote) break;
        if (ch == '\\' && L->p < L->end) {
            char e = *L->p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case '\\':
            case '"':
            case '\'': ch = e; break;
            default: lex_error(L, L->p - 2, "unknown escape sequence '\\%c'", e); ch = e;
            }
        }
        if (n + 1 >= cap) {
            char *b = fn_realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
            if (!buf) break;
        }
        buf[n++] = ch;
    }
    if (!buf) {
        fe_oom(L->c);
        return;
    }
    FeToken *t = push(L, FE_T_STRING, start);
    if (t) t->text = fe_strndup(L->c, buf, n);
    free(buf);
}

static void lex_number(Lexer *L) {
    const char *start = L->p;
    int is_float = 0;
    while (L->p < L->end && isdigit((unsigned char)*L->p))
        L->p++;
    if (L->p < L->end && *L->p == '.') {
        is_float = 1;
        L->p++;
        while (L->p < L->end && isdigit((unsigned char)*L->p))
            L->p++;
    }
    if (L->p < L->end && (*L->p == 'e' || *L->p == 'E')) {
        const char *q = L->p + 1;
        if (q < L->end && (*q == '+' || *q == '-')) q++;
        if (q < L->end && isdigit((unsigned char)*q)) {
            is_float = 1;
            L->p = q;
            while (L->p < L->end && isdigit((unsigned char)*L->p))
                L->p++;
        }
    }
    if (L->p < L->end && (isalnum((unsigned char)*L->p) || *L->p == '_')) {
        while (L->p < L->end && (isalnum((unsigned char)*L->p) || *L->p == '_'))
            L->p++;
        lex_error(L, start, "malformed number '%.*s'", (int)(L->p - start) > 32 ? 32 : (int)(L->p - start), start);
        FeToken *t = push(L, FE_T_INT, start);
        if (t) t->bad = 1;
        return;
    }
    char tmp[64];
    size_t n = (size_t)(L->p - start);
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    memcpy(tmp, start, n);
    tmp[n] = 0;
    errno = 0;
    if (is_float) {
        double f = strtod(tmp, NULL);
        if (!isfinite(f) || (size_t)(L->p - start) >= sizeof tmp) { /* 1e999: no literal is inf */
            lex_error(L, start, "number literal out of range (not a finite double)");
            FeToken *t = push(L, FE_T_FLOAT, start);
            if (t) t->bad = 1;
            return;
        }
        FeToken *t = push(L, FE_T_FLOAT, start);
        if (t) t->fval = f;
    } else {
        long long v = strtoll(tmp, NULL, 10);
        if (errno == ERANGE || (size_t)(L->p - start) >= sizeof tmp) {
            lex_error(L, start, "integer literal too large");
            FeToken *t = push(L, FE_T_INT, start);
            if (t) t->bad = 1;
            return;
        }
        FeToken *t = push(L, FE_T_INT, start);
        if (t) t->ival = v, t->fval = (double)v;
    }
}

static int punct(Lexer *L) {
    static const struct {
        const char *s;
        FeTokKind k;
    } ops[] = {
        {"==", FE_T_EQ},     {"!=", FE_T_NE},    {"<=", FE_T_LE},    {">=", FE_T_GE},
        {"//", FE_T_DSLASH}, {"(", FE_T_LPAREN}, {")", FE_T_RPAREN}, {"[", FE_T_LBRACK},
        {"]", FE_T_RBRACK},  {"{", FE_T_LBRACE}, {"}", FE_T_RBRACE}, {",", FE_T_COMMA},
        {"=", FE_T_ASSIGN},  {"<", FE_T_LT},     {">", FE_T_GT},     {"+", FE_T_PLUS},
        {"-", FE_T_MINUS},   {"*", FE_T_STAR},   {"/", FE_T_SLASH},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].s);
        if ((size_t)(L->end - L->p) >= n && memcmp(L->p, ops[i].s, n) == 0) {
            push(L, ops[i].k, L->p);
            L->p += n;
            return 1;
        }
    }
    return 0;
}

FeToken *fe_lex(FeCtx *c, int file, int *n_tokens) {
    const FeFile *f = &c->files[file];
    Lexer L = {.c = c, .file = file, .p = f->text, .end = f->text + f->len, .line = 1, .bol = 1};
    L.line_start = L.p;
    while (L.p < L.end && !c->halted) {
        char ch = *L.p;
        if (ch == '\n') {
            L.p++;
            L.line++;
            L.line_start = L.p;
            L.bol = 1;
        } else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
            L.p++;
        } else if (ch == '#') {
            while (L.p < L.end && *L.p != '\n')
                L.p++;
        } else if (isalpha((unsigned char)ch) || ch == '_') {
            const char *s = L.p;
            while (L.p < L.end && (isalnum((unsigned char)*L.p) || *L.p == '_'))
                L.p++;
            size_t n = (size_t)(L.p - s);
            FeTokKind k = FE_T_IDENT;
            for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
                if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, s, n) == 0)
                    k = keywords[i].kind;
            FeToken *t = push(&L, k, s);
            if (t) t->text = fe_intern(c, s, n);
            if (t && k == FE_T_TRUE) t->ival = 1;
        } else if (isdigit((unsigned char)ch) ||
                   (ch == '.' && L.p + 1 < L.end && isdigit((unsigned char)L.p[1]))) {
            lex_number(&L);
        } else if (ch == '"' || ch == '\'') {
            lex_string(&L); /* an unterminated string stops at the end of its line */
        } else if (!punct(&L)) {
            if (isprint((unsigned char)ch))
                lex_error(&L, L.p, "unexpected character '%c'", ch);
            else
                lex_error(&L, L.p, "unexpected byte 0x%02x", (unsigned char)ch);
            L.bad = 1;
            L.p++;
        }
    }
    FeToken *t = c->oom ? NULL : push(&L, FE_T_EOF, L.p);
    if (!t) { /* out of memory (reported) */
        free(L.toks);
        *n_tokens = 0;
        return NULL;
    }
    t->bol = 1;
    *n_tokens = L.n;
    return L.toks;
}

/* Frontend plumbing: the arena, source files, identifier interning and diagnostics.
 *
 * What this is: the located-error printer (`file:line:col: error: msg`, the source line, a caret
 * line, then a `note: called from here` per active user-function call) with de-duplication (an
 * error inside a function that runs many times is printed once), and the source-file registry.
 * What this is not: the lexer or parser (lex.c, parse.c).
 */
#define FE_INTERNAL
#include "frontend/fe.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena -------------------------------------------------------------------------------- */
struct FeArenaBlock {
    FeArenaBlock *next;
    size_t used, cap;
    max_align_t data[];
};

#define FE_ARENA_BLOCK (64 * 1024)

void *fe_alloc(FeArena *a, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!n) n = sizeof(max_align_t);
    FeArenaBlock *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > FE_ARENA_BLOCK ? n : FE_ARENA_BLOCK;
        b = calloc(1, sizeof *b + cap);
        if (!b) abort(); /* out of memory: not a user error */
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *fe_strndup(FeArena *a, const char *s, size_t n) {
    char *p = fe_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void fe_arena_free(FeArena *a) {
    while (a->head) {
        FeArenaBlock *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* ---- identifiers -------------------------------------------------------------------------- */
static uint64_t fe_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* Open addressing; cap_idents is a power of two, n_idents < cap_idents / 2. */
const char *fe_intern(FeCtx *c, const char *s, size_t n) {
    if (2 * (c->n_idents + 1) > c->cap_idents) {
        int cap = c->cap_idents ? 2 * c->cap_idents : 256;
        const char **t = calloc((size_t)cap, sizeof *t);
        if (!t) abort();
        for (int i = 0; i < c->cap_idents; i++) {
            const char *p = c->idents[i];
            if (!p) continue;
            uint64_t h = fe_hash(p, strlen(p)) & (uint64_t)(cap - 1);
            while (t[h])
                h = (h + 1) & (uint64_t)(cap - 1);
            t[h] = p;
        }
        free(c->idents);
        c->idents = t;
        c->cap_idents = cap;
    }
    uint64_t mask = (uint64_t)(c->cap_idents - 1), h = fe_hash(s, n) & mask;
    for (; c->idents[h]; h = (h + 1) & mask)
        if (strncmp(c->idents[h], s, n) == 0 && c->idents[h][n] == 0) return c->idents[h];
    c->idents[h] = fe_strndup(&c->arena, s, n);
    c->n_idents++;
    return c->idents[h];
}

/* ---- files -------------------------------------------------------------------------------- */
int fe_file_load(FeCtx *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    for (;;) {
        if (!text) abort();
        size_t k = fread(text + len, 1, cap - len - 1, f);
        len += k;
        if (len + 1 < cap) break;
        cap *= 2;
        text = realloc(text, cap);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return -1;
    }
    text[len] = 0;
    if (c->n_files == c->cap_files) {
        c->cap_files = c->cap_files ? 2 * c->cap_files : 8;
        c->files = realloc(c->files, (size_t)c->cap_files * sizeof *c->files);
        if (!c->files) abort();
    }
    FeFile *fl = &c->files[c->n_files];
    memset(fl, 0, sizeof *fl);
    fl->path = fe_strndup(&c->arena, path, strlen(path));
    char real[PATH_MAX];
    const char *r = realpath(path, real) ? real : path;
    fl->real = fe_strndup(&c->arena, r, strlen(r));
    fl->text = fe_strndup(&c->arena, text, len);
    fl->len = len;
    free(text);
    return c->n_files++;
}

/* ---- diagnostics -------------------------------------------------------------------------- */
static int already_reported(FeCtx *c, FeLoc loc) {
    for (int i = 0; i < c->n_reported; i++)
        if (c->reported[i].file == loc.file && c->reported[i].line == loc.line &&
            c->reported[i].col == loc.col)
            return 1;
    if (c->n_reported == c->cap_reported) {
        c->cap_reported = c->cap_reported ? 2 * c->cap_reported : 16;
        c->reported = realloc(c->reported, (size_t)c->cap_reported * sizeof *c->reported);
        if (!c->reported) abort();
    }
    c->reported[c->n_reported++] = loc;
    return 0;
}

static void print_source_line(FeCtx *c, FeLoc loc) {
    const FeFile *f = &c->files[loc.file];
    const char *p = f->text, *end = f->text + f->len;
    for (int l = 1; l < loc.line && p < end; p++)
        if (*p == '\n') l++;
    const char *e = p;
    while (e < end && *e != '\n' && *e != '\r')
        e++;
    fprintf(c->diag, "%.*s\n", (int)(e - p), p);
    for (int i = 1; i < loc.col; i++)
        fputc(p + i - 1 < e && p[i - 1] == '\t' ? '\t' : ' ', c->diag);
    fputs("^\n", c->diag);
}

void fe_error(FeCtx *c, FeLoc loc, const char *fmt, ...) {
    if (loc.file >= 0 && already_reported(c, loc)) return;
    c->n_errors++;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loc.file < 0) {
        fprintf(c->diag, "%s: error: %s\n", c->opt.path ? c->opt.path : "fn", msg);
        return;
    }
    fprintf(c->diag, "%s:%d:%d: error: %s\n", c->files[loc.file].path, loc.line, loc.col, msg);
    print_source_line(c, loc);
    /* the active calls, innermost first; runs of one call site (recursion) print once */
    for (int d = c->depth - 1, k = 0; d >= 0; k++) {
        FeLoc cl = c->calls[d];
        int run = 0;
        while (d >= 0 && c->calls[d].file == cl.file && c->calls[d].line == cl.line &&
               c->calls[d].col == cl.col)
            d--, run++;
        if (k == 8) {
            fprintf(c->diag, "note: ... and %d more calls\n", d + 1 + run);
            break;
        }
        fprintf(c->diag, "%s:%d:%d: note: called from here", c->files[cl.file].path, cl.line,
                cl.col);
        if (run > 1) fprintf(c->diag, " (%d nested calls)", run);
        fputc('\n', c->diag);
    }
}

void fe_error_plain(FeCtx *c, const char *where, const char *fmt, ...) {
    c->n_errors++;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(c->diag, "%s: error: %s\n", where, msg);
}

/* Frontend plumbing: the arena, source files, identifier interning and diagnostics.
 *
 * What this is: the located-error printer (`file:line:col: error: msg`, the source line, a caret
 * line, then a `note: called from here` per active user-function call) with de-duplication (an
 * error inside a function that runs many times is printed once; the first also goes to the
 * caller's FnStatus), and the source-file registry.
 * What this is not: the lexer or parser (lex.c, parse.c).
 */
#define FE_INTERNAL
#include "frontend/fe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/alloc.h"

/* ---- arena -------------------------------------------------------------------------------- */
struct FeArenaBlock {
    FeArenaBlock *next;
    size_t used, cap;
    max_align_t data[];
};

#define FE_ARENA_BLOCK (64 * 1024)

void *fe_alloc(FeCtx *c, size_t n) {
    FeArena *a = &c->arena;
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!n) n = sizeof(max_align_t);
    FeArenaBlock *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > FE_ARENA_BLOCK ? n : FE_ARENA_BLOCK;
        b = fn_calloc(1, sizeof *b + cap);
        if (!b) {
            fe_oom(c);
            return NULL;
        }
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *fe_strndup(FeCtx *c, const char *s, size_t n) {
    char *p = fe_alloc(c, n + 1);
    if (!p) return NULL;
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
        const char **t = fn_calloc((size_t)cap, sizeof *t);
        if (!t) {
            fe_oom(c);
            return NULL;
        }
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
    char *copy = fe_strndup(c, s, n);
    if (!copy) return NULL;
    c->idents[h] = copy;
    c->n_idents++;
    return copy;
}

/* ---- files -------------------------------------------------------------------------------- */
int fe_file_add(FeCtx *c, const char *path, const char *text, size_t len) {
    if (c->n_files == c->cap_files) {
        int cap = c->cap_files ? 2 * c->cap_files : 8;
        FeFile *files = fn_realloc(c->files, (size_t)cap * sizeof *c->files);
        if (!files) {
            fe_oom(c);
            return -1;
        }
        c->files = files;
        c->cap_files = cap;
    }
    FeFile *fl = &c->files[c->n_files];
    memset(fl, 0, sizeof *fl);
    char real[PATH_MAX];
    const char *r = realpath(path, real) ? real : path;
    if (!(fl->path = fe_strndup(c, path, strlen(path))) || !(fl->real = fe_strndup(c, r, strlen(r))) ||
        !(fl->text = fe_strndup(c, text, len)))
        return -1; /* reported; the arena keeps what was copied */
    fl->len = len;
    return c->n_files++;
}

/* Reads at most FE_MAX_FILE_BYTES + 1 bytes of a regular file: the text (fn_malloc'd), or NULL
 * with *why set ("out of memory" among the reasons). Opened non-blocking so that a FIFO given as a model cannot hang the compiler. */
static char *read_regular(const char *path, size_t *len, const char **why) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        *why = strerror(errno);
        if (fd >= 0) close(fd);
        return NULL;
    }
    *why = !S_ISREG(st.st_mode)            ? "not a regular file"
           : st.st_size > FE_MAX_FILE_BYTES ? "larger than 4 MiB, the limit for a source file"
                                            : NULL;
    char *text = *why ? NULL : fn_malloc(FE_MAX_FILE_BYTES + 2);
    if (!*why && !text) *why = "out of memory";
    size_t n = 0;
    while (text && n <= FE_MAX_FILE_BYTES) {
        ssize_t k = read(fd, text + n, FE_MAX_FILE_BYTES + 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) *why = strerror(errno);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    if (text && !*why && n > FE_MAX_FILE_BYTES) *why = "larger than 4 MiB, the limit for a source file";
    if (*why) {
        free(text);
        return NULL;
    }
    *len = n;
    return text;
}

int fe_file_load(FeCtx *c, const char *path, const char **why) {
    size_t len = 0;
    char *text = read_regular(path, &len, why);
    if (!text) return -1;
    int f = fe_file_add(c, path, text, len);
    free(text);
    if (f < 0) *why = "out of memory";
    return f;
}

/* ---- diagnostics -------------------------------------------------------------------------- */
static int already_reported(FeCtx *c, FeLoc loc) {
    for (int i = 0; i < c->n_reported; i++)
        if (c->reported[i].file == loc.file && c->reported[i].line == loc.line &&
            c->reported[i].col == loc.col)
            return 1;
    if (c->n_reported == c->cap_reported) {
        int cap = c->cap_reported ? 2 * c->cap_reported : 16;
        FeLoc *r = fn_realloc(c->reported, (size_t)cap * sizeof *c->reported);
        if (!r) return 0; /* out of memory: printed, not remembered (the compile fails anyway) */
        c->reported = r;
        c->cap_reported = cap;
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

/* Source lines are quoted freely from the model's own DSL; from an imported file only with its
 * first error, and from a file that failed to lex (perhaps no DSL at all: a path outside the
 * model's tree) only one line, so that diagnostics never echo a whole file. */
static int may_quote(FeCtx *c, int file) {
    FeFile *f = &c->files[file];
    if ((f->imported || f->lex_bad) && f->quoted > 0) return 0;
    f->quoted++;
    return 1;
}

/* Counts an error: 1 if it is to be printed, 0 once FE_MAX_ERRORS were (the compile stops). */
static int count_error(FeCtx *c) {
    c->n_errors++;
    if (c->n_errors <= FE_MAX_ERRORS) return 1;
    if (c->n_errors == FE_MAX_ERRORS + 1)
        fprintf(c->diag, "%s: error: too many errors (%d); stopping\n",
                c->opt.path ? c->opt.path : "fn", FE_MAX_ERRORS);
    c->halted = 1;
    return 0;
}

void fe_error(FeCtx *c, FeLoc loc, const char *fmt, ...) {
    if (c->halted && c->n_errors > FE_MAX_ERRORS) return;
    if (loc.file >= 0 && already_reported(c, loc)) return;
    if (!count_error(c)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loc.file < 0) {
        fprintf(c->diag, "%s: error: %s\n", c->opt.path ? c->opt.path : "fn", msg);
        if (c->n_errors == 1) fn_fail(c->st, "%s: error: %s", c->opt.path ? c->opt.path : "fn", msg);
        return;
    }
    fprintf(c->diag, "%s:%d:%d: error: %s\n", c->files[loc.file].path, loc.line, loc.col, msg);
    if (c->n_errors == 1) fn_fail_at(c->st, c->files[loc.file].path, loc.line, loc.col, "error: %s", msg);
    if (may_quote(c, loc.file)) print_source_line(c, loc);
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
    if (!count_error(c)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(c->diag, "%s: error: %s\n", where, msg);
    if (c->n_errors == 1) fn_fail(c->st, "%s: error: %s", where, msg);
}

void fe_oom(FeCtx *c) {
    if (c->oom) return;
    c->oom = 1;
    fe_error_plain(c, c->opt.path ? c->opt.path : "fn", "out of memory");
    c->halted = 1;
}

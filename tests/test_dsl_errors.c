/* Must-fail DSL files: every .fn file in tests/dsl_errors is compiled and its diagnostics checked.
 *
 * What this is: each file lists the errors it must produce in comment lines
 *     # expect: <line>:<col>: error: <message substring>
 * The compile must fail with exactly that many errors; each expected one must be printed as
 * `<path>:<line>:<col>: error: ...<substring>...`, followed by the source line and a caret line
 * whose '^' sits under column <col>. Plus the C-level errors that have no file (-D of an unknown
 * dim, a missing model file).
 * What this is not: a test of successful compilation (test_frontend.c).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/fe.h"
#include "testlib.h"

#define DIR_PATH "tests/dsl_errors"

typedef struct {
    int line, col;
    char msg[256];
} Expect;

/* Line `line` (1-based) of text, copied into buf without its newline. */
static void nth_line(const char *text, int line, char *buf, size_t cap) {
    const char *p = text;
    for (int l = 1; l < line && *p; p++)
        if (*p == '\n') l++;
    size_t n = strcspn(p, "\n");
    if (n >= cap) n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
}

static int parse_expects(const char *text, Expect *ex, int max) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, "# expect: ")) && n < max; p++) {
        Expect *e = &ex[n];
        int used = 0;
        if (sscanf(p, "# expect: %d:%d: error: %n", &e->line, &e->col, &used) == 2 && used) {
            size_t k = strcspn(p + used, "\n");
            if (k >= sizeof e->msg) k = sizeof e->msg - 1;
            memcpy(e->msg, p + used, k);
            e->msg[k] = 0;
            n++;
        }
    }
    return n;
}

static void check_file(const char *path) {
    char *text = test_read_file(path);
    if (!CHECK(text != NULL, "%s is readable", path)) return;
    Expect ex[16];
    int n_ex = parse_expects(text, ex, 16);
    CHECK(n_ex > 0, "%s has at least one '# expect:' line", path);

    char *diag = NULL;
    size_t diag_len = 0;
    FILE *d = open_memstream(&diag, &diag_len);
    FeOptions o = {path, NULL, 0, 1};
    int n_errors = -1;
    FnStatus st = {""};
    IrGraph *g = fe_compile(&o, d, &n_errors, &st);
    fclose(d);
    CHECK(g == NULL, "%s fails to compile", path);
    if (g) ir_graph_free(g);
    CHECK(n_errors == n_ex, "%s: %d errors expected, got %d:\n%s", path, n_ex, n_errors, diag);
    CHECK(st.msg[0] && !strncmp(diag, st.msg, strlen(st.msg)) && diag[strlen(st.msg)] == '\n',
          "%s: the status holds the first diagnostic line: \"%s\"", path, st.msg);

    for (int i = 0; i < n_ex; i++) {
        char head[512];
        snprintf(head, sizeof head, "%s:%d:%d: error: ", path, ex[i].line, ex[i].col);
        const char *at = diag;
        const char *hit = NULL;
        while ((at = strstr(at, head))) { /* the first such line that holds the message */
            size_t len = strcspn(at, "\n");
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)len, at);
            if (strstr(line, ex[i].msg)) {
                hit = at;
                break;
            }
            at += len;
        }
        if (!CHECK(hit != NULL, "%s: expected \"%s%s\" in:\n%s", path, head, ex[i].msg, diag))
            continue;
        /* then the source line, then a caret under the column */
        const char *src = hit + strcspn(hit, "\n");
        char want[1024], got[1024], caret[1024];
        nth_line(text, ex[i].line, want, sizeof want);
        nth_line(*src ? src + 1 : src, 1, got, sizeof got);
        const char *cl = *src ? src + 1 + strcspn(src + 1, "\n") : src;
        nth_line(*cl ? cl + 1 : cl, 1, caret, sizeof caret);
        CHECK(strcmp(want, got) == 0, "%s:%d: source line printed: want \"%s\" got \"%s\"", path,
              ex[i].line, want, got);
        size_t pos = strspn(caret, " \t");
        CHECK(caret[pos] == '^' && (int)pos == ex[i].col - 1 && caret[pos + 1] == 0,
              "%s:%d: caret under column %d: \"%s\"", path, ex[i].line, ex[i].col, caret);
    }
    free(diag);
    free(text);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_files(void) {
    DIR *dir = opendir(DIR_PATH);
    if (!CHECK(dir != NULL, "%s exists (run from the source root)", DIR_PATH)) return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".fn") == 0) {
            names[n] = malloc(sizeof DIR_PATH + len + 1);
            sprintf(names[n], "%s/%s", DIR_PATH, e->d_name);
            n++;
        }
    }
    closedir(dir);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    CHECK(n >= 12, "at least 12 must-fail files, found %d", n);
    for (int i = 0; i < n; i++) {
        check_file(names[i]);
        free(names[i]);
    }
    printf("test_dsl_errors: %d must-fail files\n", n);
}

/* Errors without a source location. */
static void test_command_line(void) {
    char *diag = NULL;
    size_t len = 0;
    FILE *d = open_memstream(&diag, &len);
    FeDefine defs[] = {{"embedding_size", 256}, {"embeding_size", 512}};
    FeOptions o = {"models/mtcnn/rnet.fn", defs, 2, 1};
    int n_errors = -1;
    IrGraph *g = fe_compile(&o, d, &n_errors, NULL);
    fclose(d);
    CHECK(g == NULL && n_errors == 2, "two -D of undeclared dims: 2 errors, got %d", n_errors);
    CHECK(
        strstr(diag, "error: -D embeding_size: the model declares no dim named 'embeding_size'") !=
            NULL,
        "-D of an unknown dim is reported: %s", diag);
    if (g) ir_graph_free(g);
    free(diag);

    diag = NULL;
    d = open_memstream(&diag, &len);
    FeOptions o2 = {DIR_PATH "/no_such_model.fn", NULL, 0, 1};
    FnStatus st = {""};
    g = fe_compile(&o2, d, &n_errors, &st);
    fclose(d);
    CHECK(g == NULL && n_errors == 1 &&
              strstr(diag, "no_such_model.fn: error: cannot read model file") != NULL,
          "a missing model file is one error: %s", diag);
    CHECK(strstr(st.msg, "no_such_model.fn: error: cannot read model file") != NULL,
          "and the status says so: %s", st.msg);
    free(diag);
}

int main(void) {
    test_files();
    test_command_line();
    return test_summary("test_dsl_errors");
}

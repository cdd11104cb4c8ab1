/* The allocation-failure walk of compilation (test_alloc_walk.c does loading and training): a
 * model compiled from source as `fnc compile` builds its training graph (frontend, then the pass
 * pipeline: verify, autodiff, the optimiser (ADAM), simplify, recompute) and fused as the runtime
 * fuses it at bind time (pass_fuse), with allocation number k failing (ir/alloc.h's test hook),
 * for k = 1, 2, ... until a run makes fewer than k allocations; and the IR text parser
 * (ir_parse_text) reading the printed result back, walked the same way. Each run with a failure
 * must come back with a clean error (NULL or -1, and a message saying "out of memory"), never a
 * crash; the run past the last allocation must build the same graph as a run without failures
 * (the same printed text, the same fusion counts). Under the ASan build, LeakSanitizer then
 * finds whatever a failure path forgot to free. Two models, every allocation of each: the tiny
 * classifier (tests/models/tiny_mlp.fn) and a small one given here in memory that exercises
 * more of the frontend (imports of models/lib, user functions with defaults, scopes, repeat,
 * lists, strings, batch norm and the facenet head's losses).
 * What this is not: a test of what the compiler builds (test_frontend, test_passes, the golden
 * tests) or of error messages on bad models (test_dsl_errors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/fe.h"
#include "ir/alloc.h"
#include "passes/passes.h"
#include "tests/testlib.h"

/* A small model with imports (resolved relative to its path, as if it lay in tests/models/). */
static const char small_model[] =
    "import \"../../models/lib/layers.fn\"\n"
    "import \"../../models/lib/facenet.fn\"\n"
    "dim N, image_size=6, embedding_size=4, classes\n"
    "def block(x, out, scale=0.5) {\n"
    "    scope Branch { net = conv(x, out, 3) }\n"
    "    return x + net * scale\n"
    "}\n"
    "images = input(\"images\", [N, image_size, image_size, 3])\n"
    "labels = input(\"labels\", [N], dtype=\"int32\")\n"
    "sizes = [4, 4] + [embedding_size]\n"
    "tag = \"Net\" + \"_a\"\n"
    "scope Net {\n"
    "    scope Conv1 { net = conv(images, sizes[0], 3, stride=2, padding=\"VALID\") }\n"
    "    repeat 2 Repeat { net = block(net, sizes[1]) }\n"
    "    scope Bottleneck { net = fully_connected(net, sizes[-1], activation=false) }\n"
    "}\n"
    "classifier_head(net, labels, classes)\n";

typedef struct {
    const char *path;
    const char *text; /* NULL: read path */
} Model;

/* the distinct code addresses whose allocation was made to fail */
typedef struct {
    const void *at[4096];
    int n;
} Sites;

static void note_site(Sites *s, const void *site) {
    for (int i = 0; i < s->n; i++)
        if (s->at[i] == site) return;
    if (site && s->n < 4096) s->at[s->n++] = site;
}

/* The graph printed, in a malloc'ed string (the C library's: not counted). */
static char *print_graph(const IrGraph *g) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    ir_print(g, f);
    fclose(f);
    return buf;
}

/* One compilation: 0 with *text (the graph printed, malloc'ed) and *fused (fusion counts), or -1
 * with st filled. Frees all it made. */
static int compile_once(const Model *m, FILE *diag, char **text, int fused[3], FnStatus *st) {
    FeOptions fo = {m->path, NULL, 0, 1};
    int n_errors = 0;
    IrGraph *g = m->text ? fe_compile_text(&fo, NULL, m->text, strlen(m->text), diag, &n_errors, st)
                         : fe_compile(&fo, diag, &n_errors, st);
    if (!g) return n_errors > 0 ? -1 : fn_fail(st, "no graph and no error");
    PassCtx ctx = {NULL, NULL, 0, 1, PASS_OPT_ADAM};
    PassFusion f;
    int rc = -1;
    if (pass_pipeline(&g, 1, &ctx) < 0) {
        fn_fail(st, "pipeline: %s", g->err);
    } else if (pass_fuse(g, NULL, NULL, &f) < 0) {
        fn_fail(st, "fusion: out of memory");
    } else {
        fused[0] = f.n_groups, fused[1] = f.n_fused, fused[2] = f.n_written;
        pass_fusion_free(&f);
        *text = print_graph(g);
        rc = 0;
    }
    ir_graph_free(g);
    return rc;
}

static int parse_once(const Model *m, FILE *diag, char **text, int fused[3], FnStatus *st) {
    (void)diag, (void)fused;
    IrGraph *g = ir_parse_text(m->text, st);
    if (!g) return -1;
    *text = print_graph(g);
    ir_graph_free(g);
    return 0;
}

typedef int (*RunFn)(const Model *m, FILE *diag, char **text, int fused[3], FnStatus *st);

/* Walks every allocation of run(m): a clean error each time, then the unfailed result. */
static void walk(const char *what, RunFn run, const Model *m, FILE *diag, char **result) {
    FnStatus st = {{0}};
    char *want = NULL, *got = NULL;
    int want_f[3] = {0}, got_f[3] = {0};
    fn_alloc_fail_at(0);
    int ok = CHECK(run(m, diag, &want, want_f, &st) == 0 && want, "%s: a run without failures: %s", what, st.msg);
    int64_t total = fn_alloc_count();
    int clean = 0, bad = 0;
    Sites sites = {.n = 0};
    for (int64_t k = 1; ok; k++) {
        fn_alloc_fail_at(k);
        st.msg[0] = 0;
        int rc = run(m, diag, &got, got_f, &st);
        int64_t made = fn_alloc_count();
        note_site(&sites, fn_alloc_failed_site());
        fn_alloc_fail_at(0);
        if (k > made) { /* no allocation failed: the run must have gone through, to the same graph */
            ok = CHECK(rc == 0 && got && !strcmp(got, want) && !memcmp(got_f, want_f, sizeof got_f),
                       "%s: past the last allocation (%lld), the run builds the same graph", what, (long long)made);
            free(got);
            break;
        }
        if (rc == 0 || !strstr(st.msg, "out of memory")) {
            if (bad++ < 5)
                CHECK(0, "%s: allocation %lld of %lld failed, yet the run %s%s", what, (long long)k, (long long)made,
                      rc == 0 ? "reported success" : "said: ", rc == 0 ? "" : st.msg);
            if (rc == 0) free(got);
        } else {
            clean++;
        }
    }
    printf("  %-36s %lld allocations in a run, %d made to fail in turn (from %d call sites): %d clean errors, %d not\n",
           what, (long long)total, clean + bad, sites.n, clean, bad);
    CHECK(ok && bad == 0 && clean > 0, "%s: every allocation's failure is a clean error", what);
    *result = want;
}

int main(void) {
    FILE *diag = fopen("/dev/null", "w");
    if (!diag) return 1;
    const Model models[] = {
        {"tests/models/tiny_mlp.fn", NULL},
        {"tests/models/alloc_walk_small.fn", small_model},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char what[128], *printed = NULL, *reparsed = NULL;
        snprintf(what, sizeof what, "compile %s", models[i].path);
        walk(what, compile_once, &models[i], diag, &printed);
        if (!printed) continue;
        /* the IR text parser reads the printed graph back, to the same text */
        Model text = {models[i].path, printed};
        snprintf(what, sizeof what, "ir_parse_text %s", models[i].path);
        walk(what, parse_once, &text, diag, &reparsed);
        CHECK(reparsed && !strcmp(reparsed, printed), "%s: the printed graph reads back to the same text", models[i].path);
        free(reparsed);
        free(printed);
    }
    fclose(diag);
    return test_summary("test_alloc_walk_compile");
}

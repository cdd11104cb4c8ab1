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
#include "passes/passes.h"
#include "tests/alloc_walk.h"
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

/* What a run reads (the ctx of compile_once and parse_once). */
typedef struct {
    const Model *m;
    FILE *diag;
} Job;

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

/* The fusion counts in one value, apart while each is under 2^16. */
static double fusion_counts(const PassFusion *f) {
    return f->n_groups + f->n_fused * 65536.0 + f->n_written * 4294967296.0;
}

/* One compilation (ctx a Job): 0 with res->text (the graph printed, malloc'ed) and res->value
 * (the fusion counts), or -1 with st filled. Frees all it made. */
static int compile_once(void *job, AwResult *res, FnStatus *st) {
    const Model *m = ((const Job *)job)->m;
    FILE *diag = ((const Job *)job)->diag;
    FeOptions fo = {m->path, NULL, 0, 1};
    int n_errors = 0;
    IrGraph *g = m->text ? fe_compile_text(&fo, NULL, m->text, strlen(m->text), diag, &n_errors, st)
                         : fe_compile(&fo, diag, &n_errors, st);
    if (!g) return n_errors > 0 ? -1 : fn_fail(st, "no graph and no error");
    PassCtx ctx = {.verify = 1, .optimizer = PASS_OPT_ADAM};
    PassFusion f;
    int rc = -1;
    if (pass_pipeline(&g, 1, &ctx) < 0) {
        fn_fail(st, "pipeline: %s", g->err);
    } else if (pass_fuse(g, NULL, NULL, &f) < 0) {
        fn_fail(st, "fusion: out of memory");
    } else {
        res->value = fusion_counts(&f);
        pass_fusion_free(&f);
        res->text = print_graph(g);
        rc = res->text ? 0 : fn_fail(st, "cannot print the graph");
    }
    ir_graph_free(g);
    return rc;
}

/* One parse of the model's text (ctx a Job): 0 with res->text (the graph printed again), or -1
 * with st filled. Frees all it made. */
static int parse_once(void *job, AwResult *res, FnStatus *st) {
    IrGraph *g = ir_parse_text(((const Job *)job)->m->text, st);
    if (!g) return -1;
    res->value = 0;
    res->text = print_graph(g);
    ir_graph_free(g);
    return res->text ? 0 : fn_fail(st, "cannot print the graph");
}

/* Walks every allocation of run: a clean error each time ("out of memory"), then the unfailed
 * result (the same graph, the same fusion counts), whose text is left in *printed (or NULL). */
static void walk(const char *what, AwRun run, const Model *m, FILE *diag, char **printed) {
    AwResult want;
    aw_walk(&(AwCase){what, 36, run, &(Job){m, diag}, .says = "out of memory"}, &want);
    *printed = want.text;
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

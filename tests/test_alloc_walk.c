/* The allocation-failure walk: loading an artifact, binding its training graph (ADAM) on the
 * CPU, seeding the variables, one training step and the moving averages' copy and step, with
 * allocation number k of all that failing (ir/alloc.h's test hook), for k = 1, 2, ... until a
 * run makes fewer than k allocations. Each run with a failure must come back with a clean
 * error (-1 and a message), never a crash; the run past the last allocation must succeed with
 * the loss of a run without failures. Under the ASan build, LeakSanitizer then finds whatever a
 * failure path forgot to free. Two models: the tiny classifier, every allocation; the reduced
 * network (about 100,000 allocations, most of them its seven graphs' strings and nodes), every
 * allocation up to 4,000 and then every 37th (a full walk is quadratic: minutes under ASan).
 * The walk itself: tests/alloc_walk.c. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime/core/artifact.h"
#include "runtime/core/ema.h"
#include "runtime/core/exec.h"
#include "tests/alloc_walk.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

typedef struct {
    const char *model;
    RtBinding b[4];
    int nb;
    int64_t all_to, stride; /* every allocation up to all_to, then every stride-th */
} Case;

typedef struct {
    const char *artifact;
    const Case *c;
} Run;

/* One run (ctx a Run): 0 with the loss in res->value, or -1 with st filled (a failure
 * reported). Frees all it made. */
static int run_once(void *ctx, AwResult *res, RtStatus *st) {
    const char *artifact = ((const Run *)ctx)->artifact;
    const Case *c = ((const Run *)ctx)->c;
    RtArtifact art;
    RtVars *vars = NULL, *ema = NULL;
    RtExec *ex = NULL;
    int rc = -1;
    if (rt_artifact_load(artifact, &art, st) < 0) return -1;
    const IrGraph *g = rt_artifact_graph(&art, "train/ADAM");
    if (!g) {
        rt_fail(st, "no train/ADAM graph");
        goto done;
    }
    if (!(vars = rt_vars_new(4))) {
        rt_fail(st, "out of memory for the variables");
        goto done;
    }
    const char *want[] = {"loss"};
    if (!(ex = rt_exec_bind(test_cpu(), g, vars, c->b, c->nb, want, 1, 1, st))) goto done;
    rt_vars_init(vars, 3);
    uint64_t rng = 7;
    fx_random_inputs(g, ex, 4, &rng, NULL, NULL);
    if (rt_exec_upload_vars(ex, st) < 0 || rt_exec_run(ex, 1, 0, st) < 0) goto done;
    res->value = rt_exec_scalar(ex, "loss");
    if (!(ema = rt_ema_new(vars))) {
        rt_fail(st, "out of memory for the moving averages");
        goto done;
    }
    rc = rt_exec_ema_update(ex, ema, 0.999, 1, st);
done:
    rt_exec_free(ex);
    rt_vars_free(ema);
    rt_vars_free(vars);
    rt_artifact_free(&art);
    return rc;
}

static void walk(const Case *c, const char *dir) {
    char artifact[512];
    snprintf(artifact, sizeof artifact, "%s/model.fnc", dir);
    if (!CHECK(fx_compile(c->model, artifact) == 0, "%s compiles", c->model)) return;
    aw_walk(&(AwCase){c->model, 28, run_once, &(Run){artifact, c}, c->all_to, 0, c->stride, NULL, NULL}, NULL);
}

int main(void) {
    char dir[] = "/tmp/fn_alloc_walk_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    const Case cases[] = {
        {"tests/models/tiny_mlp.fn", {{"N", 5}}, 1, INT64_MAX, 1},
        {"tests/models/irv1_small.fn", {{"N", 2}, {"classes", 3}}, 2, 4000, 37},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) walk(&cases[i], dir);
    char path[600];
    snprintf(path, sizeof path, "%s/model.fnc", dir);
    unlink(path);
    rmdir(dir);
    return test_summary("test_alloc_walk");
}

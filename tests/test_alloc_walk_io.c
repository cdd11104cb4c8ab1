/* The allocation-failure walk of the readers and writers above the core (test_alloc_walk.c does
 * the artifact and the training step): a checkpoint saved, found (the newest intact one) and
 * loaded back; a learning-rate schedule; an LFW pairs file; a dataset folder scanned and split;
 * a batch of it decoded by the loader's worker; TensorBoard records and stat.h5 written and read.
 * Each phase runs with allocation number k failing (ir/alloc.h's test hook), for k = 1, 2, ...
 * until a run makes fewer than k allocations: every failure must come back as a clean error (-1
 * and a message), never a crash; the run past the last allocation must give what a run without
 * failures gives. Under the ASan build, LeakSanitizer finds what a failure path forgot to free.
 * Every allocation is walked except the long pairs file's middle (every 37th there; its growth
 * past 1,024 pairs lies in its last allocations, which are all walked); the walk itself is
 * tests/alloc_walk.c. What this is not: a test of the formats themselves (test_checkpoint,
 * test_lfw, test_schedule, test_data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"
#include "runtime/core/ema.h"
#include "runtime/data/data.h"
#include "runtime/data/loader.h"
#include "runtime/eval/lfw.h"
#include "runtime/logs/events.h"
#include "runtime/logs/stats.h"
#include "runtime/train/schedule.h"
#include "tests/alloc_walk.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static char dir[] = "/tmp/fn_alloc_walk_io_XXXXXX";

/* Each phase is an AwRun (tests/alloc_walk.h): 0 with res->value (a digest of what it read), or
 * -1 with st filled. Frees all it made. */

/* ---- checkpoints ------------------------------------------------------------------------------ */

typedef struct {
    RtVars *vars, *ema;   /* what is saved */
    RtVars *vars2, *ema2; /* what it is loaded into */
} Ckpt;

static double digest(const RtVars *vs) {
    double s = 0;
    for (int i = 0; i < vs->n; i++)
        for (int64_t j = 0; j < vs->v[i].n; j++) s += ((const float *)vs->v[i].data)[j] * (double)(1 + (j % 7));
    return s;
}

static int ckpt_phase(void *ctx, AwResult *res, RtStatus *st) {
    Ckpt *c = ctx;
    RtCkptInfo info = {.run = "walk", .step = 42, .seed = 7, .optimizer = "ADAM", .epoch_size = 3,
                       .batch_size = 5, .image_size = 0, .embedding_size = 0, .classes = 3}, back;
    char path[600], found[600];
    snprintf(path, sizeof path, "%s/model-walk.ckpt-1", dir);
    for (int i = 0; i < c->vars2->n; i++) memset(c->vars2->v[i].data, 0, (size_t)c->vars2->v[i].n * sizeof(float));
    if (rt_checkpoint_save(path, &info, c->vars, c->ema, 0, st) < 0) return -1;
    if (rt_checkpoint_latest_intact(dir, NULL, found, sizeof found, &back, st) < 0) return -1;
    if (rt_checkpoint_load(found, &back, c->vars2, c->ema2, st) < 0) return -1;
    res->value = digest(c->vars2) + digest(c->ema2) + (double)back.step;
    return 0;
}

/* the tiny classifier's variables (and their moving averages), twice, made without failures */
static int ckpt_setup(Ckpt *c, RtArtifact *art) {
    char artifact[600];
    RtStatus st;
    snprintf(artifact, sizeof artifact, "%s/model.fnc", dir);
    if (!CHECK(fx_compile("tests/models/tiny_mlp.fn", artifact) == 0, "tiny_mlp compiles")) return -1;
    int rc = rt_artifact_load(artifact, art, &st);
    unlink(artifact);
    if (!CHECK(rc == 0, "the artifact loads: %s", st.msg)) return -1;
    const IrGraph *g = rt_artifact_graph(art, "train/ADAM");
    RtBinding b[] = {{"N", 5}};
    int64_t sym[64] = {0};
    c->vars = rt_vars_new(4);
    c->vars2 = rt_vars_new(4);
    if (!CHECK(g && g->n_syms < 64 && rt_bind_syms(g, b, 1, sym, &st) == 0 &&
                   rt_vars_bind(c->vars, g, sym, &st) == 0 && rt_vars_bind(c->vars2, g, sym, &st) == 0,
               "the variables bind"))
        return -1;
    rt_vars_init(c->vars, 3);
    c->ema = rt_ema_new(c->vars);
    c->ema2 = rt_ema_new(c->vars2);
    for (int i = 0; c->ema && i < c->ema->n; i++) /* averages unlike the variables */
        for (int64_t j = 0; j < c->ema->v[i].n; j++) ((float *)c->ema->v[i].data)[j] *= 0.5f;
    return CHECK(c->ema && c->ema2, "the moving averages") ? 0 : -1;
}

/* ---- text files: a schedule, LFW pairs -------------------------------------------------------- */

static int schedule_phase(void *ctx, AwResult *res, RtStatus *st) {
    RtSchedule s;
    if (rt_schedule_load(ctx, &s, st) < 0) return -1;
    res->value = s.n + rt_schedule_rate(&s, 30);
    rt_schedule_free(&s);
    return 0;
}

typedef struct {
    char pairs[600], lfw[600];
} Lfw;

static int lfw_phase(void *ctx, AwResult *res, RtStatus *st) {
    Lfw *l = ctx;
    RtLfwPairs p;
    if (rt_lfw_read_pairs(l->pairs, l->lfw, &p, st) < 0) return -1;
    res->value = p.n_pairs * 1000.0 + p.n_sets + (double)strlen(p.paths[2 * p.n_pairs - 1]);
    rt_lfw_free(&p);
    return 0;
}

/* lfw/<person>/<person>_000<i>.png for 8 people x 2 images (empty files: only their names are
 * read), and a pairs file of one set of per same-person and per different-person pairs */
static void write_lfw(Lfw *l, const char *name, int per) {
    snprintf(l->lfw, sizeof l->lfw, "%s/lfw", dir);
    mkdir(l->lfw, 0777);
    for (int k = 0; k < 8; k++) {
        char p[800];
        snprintf(p, sizeof p, "%s/person%d", l->lfw, k);
        mkdir(p, 0777);
        for (int i = 1; i <= 2; i++) {
            snprintf(p, sizeof p, "%s/person%d/person%d_%04d.png", l->lfw, k, k, i);
            FILE *f = fopen(p, "w");
            if (f) fclose(f);
        }
    }
    snprintf(l->pairs, sizeof l->pairs, "%s/%s", dir, name);
    FILE *f = fopen(l->pairs, "w");
    if (!f) return;
    fprintf(f, "1\t%d\n", per);
    for (int i = 0; i < per; i++) fprintf(f, "person%d\t1\t2\n", i % 8);
    for (int i = 0; i < per; i++) fprintf(f, "person%d\t1\tperson%d\t2\n", i % 8, (i + 1) % 8);
    fclose(f);
}

/* ---- the dataset ------------------------------------------------------------------------------ */

static int dataset_phase(void *ctx, AwResult *res, RtStatus *st) {
    RtDataset ds, tr, va;
    if (rt_dataset_scan(ctx, &ds, st) < 0) return -1;
    int rc = rt_dataset_split(&ds, 0.25, 0, 5, &tr, &va);
    if (rc < 0)
        rt_fail(st, "out of memory splitting the dataset");
    else
        res->value = ds.n_images * 1e4 + ds.n_classes * 1e2 + tr.n_images + va.n_images * 1e-2 + tr.labels[tr.n_images - 1];
    rt_dataset_free(&tr);
    rt_dataset_free(&va);
    rt_dataset_free(&ds);
    return rc;
}

/* The loader's one batch, decoded by its worker thread: an allocation failing there is a bad
 * image, fatal with max_bad_images 0 (one worker: the count of allocations is the same in every
 * run). */
static int loader_phase(void *ctx, AwResult *res, RtStatus *st) {
    const RtDataset *ds = ctx;
    enum { B = 4, S = 4 };
    RtLoaderOpts o = {ds, B, S, 0, 1, 2, RT_ORDER_SHUFFLE, 11, 0, 1, 0, NULL, 0, 0};
    float images[B * S * S * 3];
    int32_t labels[B];
    RtLoader *l = rt_loader_new(&o, st);
    if (!l) return -1;
    int rc = rt_loader_next(l, images, labels, NULL, st);
    rt_loader_free(l);
    if (rc < 0) return -1;
    res->value = 0;
    for (int i = 0; i < B * S * S * 3; i++) res->value += images[i] * (1 + i % 5);
    for (int i = 0; i < B; i++) res->value += labels[i] * 1e3;
    return 0;
}

/* ---- the logs: TensorBoard records and stat.h5 ------------------------------------------------ */

/* A lost record is the events writer's error (said once on stderr; the callers do not check
 * each record), a failure here; HDF5's own allocations are not counted. */
static int logs_phase(void *ctx, AwResult *res, RtStatus *st) {
    const char *d = ctx;
    RtEvents *e = rt_events_open(d, 1234.5, st);
    if (!e) return -1;
    float x[50];
    unsigned char rgb[4 * 4 * 3];
    for (int i = 0; i < 50; i++) x[i] = (float)sin(i);
    for (int i = 0; i < 48; i++) rgb[i] = (unsigned char)(i * 5);
    int lost = rt_events_scalar(e, "loss", 1, 0.5) < 0;
    lost |= rt_events_histogram(e, "w", 1, x, 50) < 0;
    lost |= rt_events_image(e, "input", 1, rgb, 4, 4) < 0;
    lost |= rt_events_flush(e) < 0;
    char path[700];
    snprintf(path, sizeof path, "%s", rt_events_path(e));
    rt_events_close(e);
    unlink(path);
    if (lost) return rt_fail(st, "a TensorBoard record of %s was lost", path);
    RtStats *s = rt_stats_new(2, 3, 1, 10);
    if (!s) return rt_fail(st, "out of memory for the statistics");
    rt_stats_step(s, 1, 0, 2.0, 0.1, 0.2, 1.5, 3.0, 0.25, x, 50);
    snprintf(path, sizeof path, "%s/stat.h5", d);
    int rc = rt_stats_write(s, path, st);
    if (rc == 0) rc = rt_stats_read(s, path, st);
    int64_t n = 0;
    float *v = rc == 0 ? rt_stats_read_key(path, "loss", &n, st) : NULL;
    if (rc == 0 && !v) rc = -1;
    res->value = v && n > 1 ? v[1] + (double)n : 0;
    free(v);
    rt_stats_free(s);
    unlink(path);
    return rc;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char cmd[700];
    Ckpt ck = {0};
    RtArtifact art;
    memset(&art, 0, sizeof art);
    int have_ckpt = ckpt_setup(&ck, &art) == 0;

    char sched[600];
    snprintf(sched, sizeof sched, "%s/schedule.txt", dir);
    FILE *f = fopen(sched, "w");
    if (f) {
        fprintf(f, "# a comment\n");
        for (int e = 1; e <= 40; e++) fprintf(f, "%d: %g\n", e, 0.1 / e);
        fclose(f);
    }
    Lfw small, big;
    write_lfw(&small, "pairs_small.txt", 3);
    write_lfw(&big, "pairs_big.txt", 520); /* 1,040 pairs: the arrays grow past 1,024 */
    char data[600];
    snprintf(data, sizeof data, "%s/data", dir);
    fx_make_dataset(data, 3, 20, 4, 9); /* 20 files a class: the listing grows past 16 */
    RtDataset ds;
    RtStatus st;
    int have_ds = CHECK(rt_dataset_scan(data, &ds, &st) == 0, "the dataset scans: %s", st.msg);

    const AwCase cases[] = { /* stride 0: every allocation */
        {"checkpoint save, find, load", 34, ckpt_phase, &ck, 0, 0, 0, NULL, NULL},
        {"schedule (40 entries)", 34, schedule_phase, sched, 0, 0, 0, NULL, NULL},
        {"LFW pairs (6)", 34, lfw_phase, &small, 0, 0, 0, NULL, NULL},
        {"LFW pairs (1,040)", 34, lfw_phase, &big, 60, 80, 37, NULL, NULL},
        {"dataset scan and split (3 x 20)", 34, dataset_phase, data, 0, 0, 0, NULL, NULL},
        {"loader: one batch of 4", 34, loader_phase, &ds, 0, 0, 0, NULL, NULL},
        {"events and stat.h5", 34, logs_phase, dir, 0, 0, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if ((i > 0 || have_ckpt) && (cases[i].run != loader_phase || have_ds)) aw_walk(&cases[i], NULL);
    if (have_ds) rt_dataset_free(&ds);

    rt_vars_free(ck.vars);
    rt_vars_free(ck.vars2);
    rt_vars_free(ck.ema);
    rt_vars_free(ck.ema2);
    rt_artifact_free(&art);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary("test_alloc_walk_io");
}

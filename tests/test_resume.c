/* Resume is bit-exact: 2 epochs, stop, resume for 2 more gives the losses and the final
 * variables of 4 uninterrupted epochs, with every stochastic feature on (ADAM, dropout,
 * rotation/crop/flip, center loss, prelogits norm, weight decay, EMA, validation). Also: only
 * the last 3 checkpoints are kept, and the run directories hold arguments.txt and
 * revision_info.txt. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"
#include "runtime/train/train.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

enum { EPOCH = 3, EPOCHS = 4, STEPS = EPOCH * EPOCHS };

static char dir[] = "/tmp/fn_test_resume_XXXXXX";

static RtTrainOpts opts(const char *art, const char *data, const char *tag, char *logs, char *models) {
    RtTrainOpts o;
    rt_train_defaults(&o);
    o.backend = test_cpu();
    o.artifact = art;
    o.data_dir = data;
    sprintf(logs, "%s/%s/logs", dir, tag);
    sprintf(models, "%s/%s/models", dir, tag);
    o.logs_base_dir = logs;
    o.models_base_dir = models;
    o.batch_size = 4;
    o.image_size = 75;
    o.embedding_size = 8;
    o.epoch_size = EPOCH;
    o.max_nrof_epochs = EPOCHS;
    o.optimizer = "ADAM";
    o.learning_rate = 0.01;
    o.keep_probability = 0.8;
    o.weight_decay = 1e-3;
    o.center_loss_factor = 0.01;
    o.prelogits_norm_loss_factor = 1e-3;
    o.random_rotate = o.random_crop = o.random_flip = 1;
    o.validation_set_split_ratio = 0.25;
    o.validate_every_n_epochs = 1;
    o.lfw_batch_size = 2;
    o.nrof_preprocess_threads = 2;
    o.seed = 42;
    o.arguments_text = "test: yes\n";
    o.command_line = "test_resume";
    return o;
}

static int load_vars(const char *ckpt, RtVars *vars) {
    RtCkptInfo info;
    RtStatus st;
    return rt_checkpoint_load(ckpt, &info, vars, NULL, &st);
}

/* Issue 24 item 12: --resume takes the newest checkpoint that reads whole, naming the corrupt
 * one it passed over; with none intact, the error names the newest's fault. */
static void intact_fallback(const char *run, const char *newest) {
    char path[1200], note[2048] = "";
    RtCkptInfo info;
    RtStatus st;
    FILE *log = fmemopen(note, sizeof note, "w");
    CHECK(truncate(newest, 100) == 0, "truncate %s", newest);
    int rc = rt_checkpoint_latest_intact(run, log, path, sizeof path, &info, &st);
    fclose(log);
    CHECK(rc == 0 && strcmp(path, newest) != 0 && strstr(note, newest) && strstr(note, "truncated"),
          "passes over the truncated newest checkpoint to %s: %s", rc == 0 ? path : st.msg, note);
    DIR *d = opendir(run);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", run, e->d_name);
        if (strstr(e->d_name, ".ckpt-")) CHECK(truncate(p, 100) == 0, "truncate %s", p);
    }
    if (d) closedir(d);
    CHECK(rt_checkpoint_latest_intact(run, NULL, path, sizeof path, &info, &st) < 0 &&
              strstr(st.msg, "no intact checkpoint in") && strstr(st.msg, "truncated"),
          "none intact: %s", st.msg);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char data[600], art[600], logs[700], models[700], run[800], path[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(art, sizeof art, "%s/model.fnc", dir);
    fx_make_dataset(data, 3, 8, 78, 7);
    if (!CHECK(fx_compile("tests/models/irv1_small.fn", art) == 0, "compile")) return test_summary("test_resume");
    FILE *quiet = fopen("/dev/null", "w");
    RtStatus st;
    double full[STEPS], part[STEPS];
    for (int i = 0; i < STEPS; i++) full[i] = part[i] = NAN;

    /* A: four epochs in one go */
    RtTrainOpts a = opts(art, data, "a", logs, models);
    a.log = quiet;
    CHECK(rt_train(&a, full, STEPS, &st) == 0, "uninterrupted run: %s", st.msg);
    char run_a[800];
    CHECK(fx_only_subdir(models, run_a, sizeof run_a) == 0, "one run directory in %s", models);
    struct stat sb;
    int kept = 0;
    for (int e = 1; e <= EPOCHS; e++) {
        const char *slash = strrchr(run_a, '/');
        snprintf(path, sizeof path, "%s/model-%s.ckpt-%d", run_a, slash + 1, e);
        kept += stat(path, &sb) == 0 ? 1 << (e - 1) : 0;
    }
    CHECK(kept == 0xe, "checkpoints of epochs 2, 3, 4 are kept and epoch 1's removed (mask %x)", kept);
    char run_logs[800];
    CHECK(fx_only_subdir(logs, run_logs, sizeof run_logs) == 0, "one log directory");
    snprintf(path, sizeof path, "%s/arguments.txt", run_logs);
    CHECK(stat(path, &sb) == 0, "arguments.txt written");
    snprintf(path, sizeof path, "%s/revision_info.txt", run_logs);
    CHECK(stat(path, &sb) == 0, "revision_info.txt written");

    /* B: two epochs, then resume for two more */
    RtTrainOpts b = opts(art, data, "b", logs, models);
    b.log = quiet;
    b.max_nrof_epochs = 2;
    CHECK(rt_train(&b, part, STEPS, &st) == 0, "first half: %s", st.msg);
    CHECK(fx_only_subdir(models, run, sizeof run) == 0, "one run directory");
    b.max_nrof_epochs = EPOCHS;
    b.resume = run;
    CHECK(rt_train(&b, part, STEPS, &st) == 0, "resumed half: %s", st.msg);
    int same = memcmp(full, part, sizeof full) == 0;
    printf("  losses, uninterrupted vs resumed after epoch 2:\n");
    for (int i = 0; i < STEPS; i++)
        printf("    step %2d  %.9f  %.9f%s\n", i + 1, full[i], part[i], full[i] == part[i] ? "" : "  <-- differs");
    CHECK(same, "every step's loss is bit-identical");

    /* the final variables, bit for bit */
    RtVars *va = rt_vars_new(4), *vb = rt_vars_new(4);
    RtCkptInfo info;
    char ca[1200], cb[1200];
    CHECK(rt_checkpoint_latest(run_a, ca, sizeof ca, &st) == 0 && rt_checkpoint_latest(run, cb, sizeof cb, &st) == 0,
          "latest checkpoints");
    /* read every variable the checkpoint holds: bind from the artifact's train graph */
    {
        RtArtifact ar;
        rt_artifact_load(art, &ar, &st);
        IrGraph *g = rt_artifact_graph(&ar, "train/ADAM");
        RtBinding bind[] = {{"N", 4}, {"image_size", 75}, {"embedding_size", 8}, {"classes", 3}};
        int64_t sym[16];
        rt_bind_syms(g, bind, 4, sym, &st);
        rt_vars_bind(va, g, sym, &st);
        rt_vars_bind(vb, g, sym, &st);
        rt_artifact_free(&ar);
    }
    CHECK(load_vars(ca, va) == 0 && load_vars(cb, vb) == 0, "both final checkpoints load");
    int diff = 0;
    for (int i = 0; i < va->n; i++)
        diff += memcmp(va->v[i].data, rt_vars_find(vb, va->v[i].name)->data, (size_t)va->v[i].n * 4) != 0;
    CHECK(diff == 0 && va->n > 100, "all %d variables (weights, BN statistics, Adam slots, centres) are identical: %d differ",
          va->n, diff);
    CHECK(rt_checkpoint_load(cb, &info, va, NULL, &st) == 0 && info.step == STEPS, "the checkpoint records step %d",
          STEPS);
    rt_vars_free(va);
    rt_vars_free(vb);
    intact_fallback(run_a, ca);
    fclose(quiet);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return test_summary("test_resume");
}

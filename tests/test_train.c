/* End-to-end training: compile a model through the whole pipeline, write the artifact, and
 * train on a generated class-per-folder dataset. The loss must fall below half its initial
 * value, and two runs with one seed must give bit-identical losses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/train/rundir.h"
#include "runtime/train/train.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

/* Issue 24 item 6: two runs in one second used to share one folder (the name was checked with
 * stat and the folder made later). */
static void two_runs_one_second(const char *dir) {
    char a[64], b[64], pa[700], pb[700];
    RtStatus st;
    struct stat sb;
    CHECK(rt_run_create(dir, a, sizeof a, &st) == 0 && rt_run_create(dir, b, sizeof b, &st) == 0,
          "create two run folders: %s", st.msg);
    snprintf(pa, sizeof pa, "%s/%s", dir, a);
    snprintf(pb, sizeof pb, "%s/%s", dir, b);
    CHECK(strcmp(a, b) != 0 && stat(pa, &sb) == 0 && stat(pb, &sb) == 0,
          "two runs in one second get two folders: %s and %s", a, b);
}

enum { CLASSES = 4, PER_CLASS = 6, SIZE = 78, STEPS = 40 };

int main(void) {
    char dir[] = "/tmp/fn_test_train_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    two_runs_one_second(dir);
    char data[600], art[600];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(art, sizeof art, "%s/model.fnc", dir);
    fx_make_dataset(data, CLASSES, PER_CLASS, SIZE, 99);
    if (!CHECK(fx_compile("tests/models/irv1_small.fn", art) == 0, "compile the reduced model"))
        return test_summary("test_train");
    double l1[STEPS], l2[STEPS];
    RtTrainOpts o;
    rt_train_defaults(&o);
    o.backend = test_cpu();
    o.artifact = art;
    o.data_dir = data;
    o.batch_size = 8;
    o.image_size = 75;
    o.embedding_size = 16;
    o.max_nrof_epochs = 1;
    o.epoch_size = STEPS;
    o.learning_rate = 0.05;
    o.optimizer = "SGD";
    o.seed = 7;
    char logs[700], models[700];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    snprintf(models, sizeof models, "%s/models", dir);
    o.logs_base_dir = logs;
    o.models_base_dir = models;
    FILE *devnull = fopen("/dev/null", "w");
    o.log = devnull;
    RtStatus st;
    CHECK(rt_train(&o, l1, STEPS, &st) == 0, "train: %s", st.msg);
    CHECK(rt_train(&o, l2, STEPS, &st) == 0, "train again: %s", st.msg);
    fclose(devnull);
    double first = l1[0], last = 0;
    for (int i = STEPS - 5; i < STEPS; i++) last += l1[i] / 5;
    printf("  loss: step 1 %.4f, mean of the last 5 steps %.4f (%d steps)\n", first, last, STEPS);
    CHECK(last < 0.5 * first, "loss fell from %.4f to %.4f, not below half", first, last);
    CHECK(memcmp(l1, l2, sizeof l1) == 0, "two runs with one seed give identical losses");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return test_summary("test_train");
}

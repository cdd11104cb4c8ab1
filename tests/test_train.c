/* End-to-end training: compile a model through the whole pipeline, write the artifact, and
 * train on a generated class-per-folder dataset. The loss must fall below half its initial
 * value, and two runs with one seed must give bit-identical losses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/driver.h"
#include "runtime/image.h"
#include "runtime/train.h"
#include "tests/testlib.h"

enum { CLASSES = 4, PER_CLASS = 6, SIZE = 78, STEPS = 40 };

static int compile(const char *model, const char *out) {
    PassCtx ctx = {0};
    ctx.verify = 1;
    return drv_compile(model, NULL, 0, out, &ctx, stderr);
}

/* Class c: a fixed colour per quadrant; images differ by noise. */
static void make_dataset(const char *dir) {
    mkdir(dir, 0777);
    unsigned char *pix = malloc(SIZE * SIZE * 3);
    uint64_t rng = 99;
    RtStatus st;
    for (int c = 0; c < CLASSES; c++) {
        char cdir[512];
        snprintf(cdir, sizeof cdir, "%s/c%d", dir, c);
        mkdir(cdir, 0777);
        for (int i = 0; i < PER_CLASS; i++) {
            for (int y = 0; y < SIZE; y++)
                for (int x = 0; x < SIZE; x++)
                    for (int ch = 0; ch < 3; ch++) {
                        int q = (y >= SIZE / 2) * 2 + (x >= SIZE / 2);
                        int base = ((c * 7 + q * 3 + ch * 5) % 8) * 32;
                        int v = base + (int)(test_rng_uniform(&rng) * 40) - 20;
                        pix[(y * SIZE + x) * 3 + ch] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
            char path[600];
            snprintf(path, sizeof path, "%s/img%02d.png", cdir, i);
            RtImage img = {SIZE, SIZE, pix};
            rt_image_write_png(path, &img, &st);
        }
    }
    free(pix);
}

int main(void) {
    char dir[] = "/tmp/fn_test_train_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char data[600], art[600];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(art, sizeof art, "%s/model.fnc", dir);
    make_dataset(data);
    if (!CHECK(compile("tests/models/irv1_small.fn", art) == 0, "compile the reduced model"))
        return test_summary("test_train");
    double l1[STEPS], l2[STEPS];
    RtTrainOpts o;
    rt_train_defaults(&o);
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

/* ckpt_diff A B [--ema] [--all] [--no-slots | --slots]: the largest relative difference between two checkpoints' variables
 * (or their moving averages), max|a - b| / max|a| per variable, and ||a - b|| / ||a|| over all of
 * them, for the tests of data-parallel training (tests/cli_distributed.sh). Prints "worst REL
 * NAME", "l2 REL" and "identical 0|1"; exits 1
 * when the two hold different variables. A test tool, not a user command. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/core/checkpoint.h"
#include "runtime/core/framed.h"
#include "runtime/core/proto/fn_checkpoint.pb-c.h"

/* an optimiser's slot (passes/optimizer.c names them as TensorFlow does) */
static int is_slot(const char *name) {
    static const char *const slots[] = {"Adam", "Adam_1", "Momentum", "Adagrad", "RMSProp", "RMSProp_1",
                                        "Adadelta", "Adadelta_1", "beta1_power", "beta2_power"};
    const char *last = strrchr(name, '/');
    last = last ? last + 1 : name;
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (!strcmp(last, slots[i])) return 1;
    return 0;
}

static Fn__Checkpoint *load(const char *path) {
    unsigned char *p = NULL;
    size_t len = 0;
    RtStatus st;
    if (rt_framed_read(path, rt_checkpoint_magic, FN_CHECKPOINT_VERSION, "checkpoint", "", &p, &len, &st) < 0) {
        fprintf(stderr, "ckpt_diff: %s\n", st.msg);
        return NULL;
    }
    Fn__Checkpoint *c = fn__checkpoint__unpack(NULL, len, p);
    free(p);
    if (!c) fprintf(stderr, "ckpt_diff: %s: cannot parse\n", path);
    return c;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ckpt_diff A B [--ema] [--all] [--no-slots | --slots]\n");
        return 2;
    }
    /* --all: every variable's difference; --no-slots: the model's alone; --slots: the optimiser's
       alone (after one MOM step its slots are the gradients) */
    int ema = 0, all = 0, no_slots = 0, slots = 0;
    for (int i = 3; i < argc; i++)
        ema |= !strcmp(argv[i], "--ema"), all |= !strcmp(argv[i], "--all"), no_slots |= !strcmp(argv[i], "--no-slots"),
            slots |= !strcmp(argv[i], "--slots");
    Fn__Checkpoint *a = load(argv[1]), *b = load(argv[2]);
    if (!a || !b) return 2;
    size_t na = ema ? a->n_ema : a->n_vars, nb = ema ? b->n_ema : b->n_vars;
    Fn__Tensor **ta = ema ? a->ema : a->vars, **tb = ema ? b->ema : b->vars;
    double worst = 0, d2 = 0, a2 = 0; /* and the relative L2 difference of all of them together */
    const char *where = "";
    int identical = 1, rc = na == nb ? 0 : 1;
    for (size_t i = 0; i < na && !rc; i++) {
        if (strcmp(ta[i]->name, tb[i]->name) || ta[i]->data.len != tb[i]->data.len) {
            fprintf(stderr, "ckpt_diff: variable %zu: %s against %s\n", i, ta[i]->name, tb[i]->name);
            rc = 1;
            break;
        }
        if ((no_slots && is_slot(ta[i]->name)) || (slots && !is_slot(ta[i]->name))) continue;
        const float *x = (const float *)ta[i]->data.data, *y = (const float *)tb[i]->data.data;
        size_t n = ta[i]->data.len / sizeof(float);
        double dmax = 0, amax = 0;
        identical &= memcmp(x, y, ta[i]->data.len) == 0;
        for (size_t j = 0; j < n; j++) {
            double d = fabs((double)x[j] - y[j]), m = fabs((double)x[j]);
            d2 += d * d, a2 += m * m;
            if (d > dmax || d != d) dmax = d != d ? INFINITY : d;
            if (m > amax) amax = m;
        }
        double rel = dmax / (amax > 0 ? amax : 1);
        if (all) printf("%.3e %.3e %s\n", rel, dmax, ta[i]->name);
        if (rel > worst) worst = rel, where = ta[i]->name;
    }
    if (!rc) printf("worst %.3e %s\nl2 %.3e\nidentical %d\n", worst, where, sqrt(d2 / (a2 > 0 ? a2 : 1)), identical);
    fn__checkpoint__free_unpacked(a, NULL);
    fn__checkpoint__free_unpacked(b, NULL);
    return rc;
}

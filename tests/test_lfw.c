/* LFW metrics and pairs parsing: synthetic embeddings with known answers (separable,
 * identical, random), a 20-pair case worked by hand, VAL@FAR across a flat FAR stretch, AUC and
 * EER, pairs files with missing images and with mistakes (errors with the line number), and
 * the real pairs.txt when ../shared/data is present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/eval/lfw.h"
#include "tests/testlib.h"

static RtLfwResult eval(const float *e, int dim, const int *same, int n, int folds, int metric) {
    RtLfwResult r;
    RtStatus st;
    if (rt_lfw_evaluate(e, dim, same, NULL, n, folds, metric, 0, &r, &st) < 0) {
        CHECK(0, "evaluate: %s", st.msg);
        memset(&r, 0, sizeof r);
    }
    return r;
}

static void test_known(void) {
    enum { N = 600, D = 8 };
    static float e[2 * N * D];
    static int same[N];
    uint64_t rng = 3;
    /* separable: same pairs close, different pairs far (spread so FAR rises gradually) */
    for (int k = 0; k < N; k++) {
        same[k] = (k / 30) % 2 == 0;
        double u[D], v[D], n1 = 0;
        test_fill_uniform(u, D, &rng, -1, 1);
        for (int d = 0; d < D; d++) n1 += u[d] * u[d];
        for (int d = 0; d < D; d++) u[d] /= sqrt(n1);
        test_fill_uniform(v, D, &rng, -1, 1);
        double n2 = 0;
        for (int d = 0; d < D; d++) {
            v[d] = same[k] ? u[d] + 0.05 * v[d] : -u[d] + 0.3 * v[d];
            n2 += v[d] * v[d];
        }
        for (int d = 0; d < D; d++) {
            e[(2 * k) * D + d] = (float)u[d];
            e[(2 * k + 1) * D + d] = (float)(v[d] / sqrt(n2));
        }
    }
    for (int metric = 0; metric < 2; metric++) {
        RtLfwResult r = eval(e, D, same, N, 10, metric);
        printf("  separable, metric %d: accuracy %.5f+-%.5f  VAL %.5f+-%.5f @ FAR %.5f  AUC %.15f  EER %.3g\n", metric,
               r.acc_mean, r.acc_std, r.val_mean, r.val_std, r.far_mean, r.auc, r.eer);
        /* FAR: the threshold sits just past the training folds' closest different pair, so a
         * test fold may hold one closer: 1 of its 30 */
        CHECK(fabs(r.acc_mean - 1) < 1e-12 && r.acc_std < 1e-12 && fabs(r.val_mean - 1) < 1e-12 && r.far_mean <= 1.0 / 30 / 10 + 1e-12 &&
                  fabs(r.auc - 1) < 1e-12 && r.eer < 1e-12,
              "separable embeddings: perfect scores (metric %d)", metric);
    }
    /* identical: every distance 0 */
    for (int i = 0; i < 2 * N * D; i++) e[i] = (float)((i % D) == 0);
    RtLfwResult r = eval(e, D, same, N, 10, 0);
    CHECK(fabs(r.acc_mean - 0.5) < 1e-12 && r.acc_std < 1e-12 && fabs(r.auc - 0.5) < 1e-12 && fabs(r.eer - 0.5) < 1e-12,
          "identical embeddings: accuracy 0.5 (%.17g+-%g), AUC 0.5 (%.17g), EER 0.5 (%.17g)", r.acc_mean, r.acc_std,
          r.auc, r.eer);
    /* random: chance */
    double x[2 * N * D];
    test_fill_uniform(x, 2 * N * D, &rng, -1, 1);
    for (int i = 0; i < 2 * N * D; i++) e[i] = (float)x[i];
    r = eval(e, D, same, N, 10, 1);
    printf("  random: accuracy %.5f+-%.5f  AUC %.3f\n", r.acc_mean, r.acc_std, r.auc);
    CHECK(r.acc_mean > 0.4 && r.acc_mean < 0.6 && fabs(r.auc - 0.5) < 0.1, "random embeddings: near chance");
}

/* 20 pairs in 2 folds of 10, 1-D embeddings (0, sqrt(d)) so the squared distance is d. The
 * answers are worked out in the comments. */
static void test_by_hand(void) {
    const double d[20] = {/* fold A */ 0.015, 0.105, 0.205, 0.305, 0.455, 0.255, 0.605, 0.705, 0.805, 0.905,
                          /* fold B */ 0.055, 0.155, 0.355, 0.505, 0.655, 0.405, 0.555, 0.755, 0.855, 0.955};
    int same[20];
    float e[40];
    for (int k = 0; k < 20; k++) {
        same[k] = k % 10 < 5;
        e[2 * k] = 0;
        e[2 * k + 1] = (float)sqrt(d[k]);
    }
    RtLfwResult r = eval(e, 1, same, 20, 2, 0);
    /* train B -> best threshold 0.36 (8 of 10) -> A: 4 TP + 4 TN = 0.8
     * train A -> best threshold 0.46 (9 of 10) -> B: 3 TP + 4 TN = 0.7 */
    CHECK(fabs(r.acc_mean - 0.75) < 1e-12 && fabs(r.acc_std - 0.05) < 1e-12, "accuracy 0.75+-0.05: %.5f+-%.5f",
          r.acc_mean, r.acc_std);
    /* VAL@FAR: train B's FAR jumps 0 -> 0.2 at 0.405 -> threshold 0.405005 -> A: VAL 4/5, FAR 1/5;
     * train A's at 0.255 -> 0.255005 -> B: VAL 2/5, FAR 0 */
    CHECK(fabs(r.val_mean - 0.6) < 1e-12 && fabs(r.val_std - 0.2) < 1e-12 && fabs(r.far_mean - 0.1) < 1e-12,
          "VAL 0.6+-0.2 @ FAR 0.1: %.5f+-%.5f @ %.5f", r.val_mean, r.val_std, r.far_mean);
}

/* FAR flat over a long stretch: 1 of 1000 training different-pairs at 0.3005, the rest at 3.0.
 * FAR is 0 up to 0.300 and exactly 1e-3 from 0.301 to 3.0: the threshold is 0.301. */
static void test_flat_far(void) {
    enum { PER = 2000 };
    static float e[2 * 2 * PER];
    static int same[2 * PER];
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < PER; k++) {
            int i = f * PER + k;
            same[i] = k < PER / 2;
            double dist = same[i] ? (k % 2 ? 0.2 : 0.35) : (k == PER / 2 ? 0.3005 : 3.0);
            e[2 * i] = 0;
            e[2 * i + 1] = (float)sqrt(dist);
        }
    RtLfwResult r = eval(e, 1, same, 2 * PER, 2, 0);
    /* the test fold's same pairs: half at 0.2 (< 0.301), half at 0.35; its FAR: 1 of 1000 */
    CHECK(fabs(r.val_mean - 0.5) < 1e-12 && fabs(r.far_mean - 1e-3) < 1e-12,
          "flat FAR stretch: threshold 0.301, VAL 0.5 (%g) @ FAR 1e-3 (%g)", r.val_mean, r.far_mean);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_pairs(void) {
    char dir[] = "/tmp/fn_test_lfw_XXXXXX", p[512];
    if (!mkdtemp(dir)) return;
    const char *people[] = {"Ann_A", "Bob_B"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, people[i]);
        mkdir(p, 0777);
        for (int j = 1; j <= 2; j++) {
            snprintf(p, sizeof p, "%s/%s/%s_%04d.%s", dir, people[i], people[i], j, j == 1 ? "jpg" : "png");
            write_text(p, "x");
        }
    }
    char pf[600];
    snprintf(pf, sizeof pf, "%s/pairs.txt", dir);
    write_text(pf, "2\t1\nAnn_A\t1\t2\nAnn_A\t1\tBob_B\t2\nBob_B\t1\t3\nAnn_A\t2\tBob_B\t1\n");
    RtLfwPairs pairs;
    RtStatus st;
    CHECK(rt_lfw_read_pairs(pf, dir, &pairs, &st) == 0, "pairs: %s", st.msg);
    CHECK(pairs.n_pairs == 3 && pairs.n_skipped == 1, "3 pairs kept, 1 skipped (Bob_B_0003 missing): %d, %d",
          pairs.n_pairs, pairs.n_skipped);
    CHECK(pairs.n_pairs == 3 && strstr(pairs.paths[1], "Ann_A_0002.png") && strstr(pairs.paths[3], "Bob_B_0002.png") &&
              pairs.issame[0] == 1 && pairs.issame[1] == 0 && pairs.fold[2] == 1,
          "paths (.jpg, else .png), issame and sets");
    rt_lfw_free(&pairs);
    struct { const char *text, *want; } bad[] = {
        {"", "empty pairs file"},
        {"10\n", ":1: the header"},
        {"1\t1\nAnn_A\t1\n", ":2: expected 'name i j'"},
        {"1\t1\nAnn_A\tone\t2\n", ":2: expected"},
        {"1\t1\nAnn_A\t-1\t2\n", ":2: expected"},
        {"1\t1\nAnn_A\t1\tBob_B\t1\nAnn_A\t1\t2\n", ":2: a different-person pair where set 1 expects same-person"},
        {"2\t1\nAnn_A\t1\t2\nAnn_A\t1\tBob_B\t2\n", "announces 2 sets of 1+1 pairs but the file has 2"},
        /* found by tests/fuzz/fuzz_pairs.c: a blank first line was taken for the header (a file of
           blank lines passed with 0 sets; a pair line after it divided by zero) */
        {" \n", "empty pairs file"},
        {"\nAnn_A\t1\t2\n", ":2: the header"},
        {"9999999999\t1\n", ":1: the header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(pf, bad[i].text);
        int rc = rt_lfw_read_pairs(pf, dir, &pairs, &st);
        CHECK(rc < 0 && strstr(st.msg, bad[i].want) && strstr(st.msg, "pairs.txt"), "bad pairs %zu: want '%s', got '%s'",
              i, bad[i].want, rc < 0 ? st.msg : "(accepted)");
        if (rc == 0) rt_lfw_free(&pairs);
    }
    float e[12] = {0};
    int same[3] = {1, 0, 1};
    CHECK(rt_lfw_evaluate(e, 2, same, NULL, 3, 5, 0, 0, &(RtLfwResult){0}, &st) < 0 && strstr(st.msg, "5 folds"),
          "too many folds: %s", st.msg);
    int blocks[4] = {1, 1, 0, 0};
    float e4[16] = {0};
    CHECK(rt_lfw_evaluate(e4, 2, blocks, NULL, 4, 2, 0, 0, &(RtLfwResult){0}, &st) < 0 &&
              strstr(st.msg, "fold 1 of 2 has no different pairs"),
          "a fold without different pairs: %s", st.msg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

static void test_real_pairs(void) {
    const char *data = test_shared_data();
    if (!data) {
        printf("  ../shared/data absent: the real pairs.txt is not checked\n");
        return;
    }
    char pf[512], dir[512];
    snprintf(pf, sizeof pf, "%s/lfw/pairs.txt", data);
    snprintf(dir, sizeof dir, "%s/lfw/lfw-deepfunneled", data);
    RtLfwPairs p;
    RtStatus st;
    CHECK(rt_lfw_read_pairs(pf, dir, &p, &st) == 0, "real pairs: %s", st.msg);
    printf("  real pairs.txt: %d pairs in %d sets of %d+%d, %d skipped\n", p.n_pairs, p.n_sets, p.set_size, p.set_size,
           p.n_skipped);
    CHECK(p.n_pairs == 6000 && p.n_skipped == 0 && p.n_sets == 10, "6000 pairs parse, 0 missing");
    rt_lfw_free(&p);
}

int main(void) {
    test_known();
    test_by_hand();
    test_flat_far();
    test_pairs();
    test_real_pairs();
    return test_summary("test_lfw");
}

/* The SVM of fnrun classifier (runtime/tools/classifier.h) on clustered vectors: it fits and
 * predicts (better than chance), the file round trip keeps its predictions, damaged, truncated,
 * foreign and other-size files are refused with a message; and where /usr/bin/python3 has
 * scikit-learn, tests/python/svm_oracle.py holds the fit (decision values), the predictions and
 * the probabilities to SVC(kernel='linear', probability=True) on the same vectors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/tools/classifier.h"
#include "tests/testlib.h"

enum { K = 4, D = 16, N_TRAIN = 15, N_TEST = 10, PAIRS = K * (K - 1) / 2 };

static double gauss(uint64_t *rng) {
    double u = test_rng_uniform(rng) + 1e-12, v = test_rng_uniform(rng);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* n vectors a class around K fixed centres, class by class */
static void clusters(const double *centre, int n, uint64_t *rng, float *x, int *y) {
    for (int k = 0; k < K; k++)
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < D; j++) x[((size_t)k * n + i) * D + j] = (float)(centre[k * D + j] + 0.8 * gauss(rng));
            y[k * n + i] = k;
        }
}

static void save_rows(const char *path, const float *x, const int *y, int n) {
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++) {
        fprintf(f, "%d", y[i]);
        for (int j = 0; j < D; j++) fprintf(f, " %.9g", x[(size_t)i * D + j]);
        fprintf(f, "\n");
    }
    if (f) fclose(f);
}

static void save_matrix(const char *path, const double *v, int n, int m) {
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++)
        for (int j = 0; j < m; j++) fprintf(f, "%.9f%c", v[(size_t)i * m + j], j + 1 < m ? ' ' : '\n');
    if (f) fclose(f);
}

/* a copy of src with its bytes changed by edit, loaded: must fail with want in the message */
static void refused(const char *src, const char *dst, int cut, int flip_at, int want_dim, const char *want) {
    char *text = test_read_file(src);
    size_t n = text ? strlen(text) : 0;
    if (text && flip_at >= 0 && (size_t)flip_at < n) text[flip_at] ^= 1;
    FILE *f = fopen(dst, "w");
    if (f && text) fwrite(text, 1, n - (size_t)cut, f);
    if (f) fclose(f);
    free(text);
    RtStatus st = {""};
    RtClassifier *c = rt_classifier_load(dst, want_dim, &st);
    CHECK(!c && strstr(st.msg, want), "%s: %s", want, st.msg);
    rt_classifier_free(c);
}

int main(void) {
    char dir[] = "/tmp/fn-svm-XXXXXX", path[4200], other[4200];
    if (!mkdtemp(dir)) return 1;
    uint64_t rng = 11;
    double centre[K * D];
    for (int i = 0; i < K * D; i++) centre[i] = gauss(&rng);
    static float xtr[K * N_TRAIN * D], xte[K * N_TEST * D];
    static int ytr[K * N_TRAIN], yte[K * N_TEST];
    clusters(centre, N_TRAIN, &rng, xtr, ytr);
    clusters(centre, N_TEST, &rng, xte, yte);
    char *names[K] = {"Ann", "Bo", "Cy", "Di"};
    RtStatus st = {""};
    RtClassifier *c = rt_classifier_train(xtr, K * N_TRAIN, D, ytr, K, names, 666, &st);
    if (!CHECK(c != NULL, "train: %s", st.msg)) return test_summary("test_classifier");
    static double p[K * N_TEST * K], p2[K * N_TEST * K], dec[K * N_TEST * PAIRS];
    int hits = 0, same = 1;
    CHECK(rt_classifier_predict(c, xte, K * N_TEST, p, &st) == 0, "predict");
    CHECK(rt_classifier_decision(c, xte, K * N_TEST, dec, &st) == 0, "decision values");
    for (int i = 0; i < K * N_TEST; i++) {
        int best = 0;
        for (int j = 1; j < K; j++) best = p[i * K + j] > p[i * K + best] ? j : best;
        hits += best == yte[i];
    }
    CHECK(hits > K * N_TEST / 2, "better than chance: %d of %d", hits, K * N_TEST);
    snprintf(path, sizeof path, "%s/c.svm", dir);
    CHECK(rt_classifier_save(c, path, &st) == 0, "save: %s", st.msg);
    RtClassifier *back = rt_classifier_load(path, D, &st);
    double worst = 0;
    if (CHECK(back != NULL, "load: %s", st.msg) && rt_classifier_predict(back, xte, K * N_TEST, p2, &st) == 0)
        for (int i = 0; i < K * N_TEST * K; i++) worst = fmax(worst, fabs(p[i] - p2[i]));
    const char *const *got;
    same = back && rt_classifier_classes(back, &got) == K && !strcmp(got[3], "Di");
    CHECK(same && worst < 1e-6, "the file keeps the classes and predictions (|dp| %.2g)", worst);
    rt_classifier_free(back);
    snprintf(other, sizeof other, "%s/d.svm", dir);
    refused(path, other, 5, -1, 0, "truncated");
    refused(path, other, 0, 60, 0, "damaged");
    refused(path, other, 0, -1, 128, "is for embeddings of size 16; this model's are 128");
    FILE *f = fopen(other, "w");
    fputs("hello\nend 00000000\n", f);
    fclose(f);
    refused(other, other, 0, -1, 0, "damaged");
    /* scikit-learn, where Debian's python3-sklearn is installed */
    char cmd[9000];
    snprintf(path, sizeof path, "%s/train.txt", dir), save_rows(path, xtr, ytr, K * N_TRAIN);
    snprintf(path, sizeof path, "%s/test.txt", dir), save_rows(path, xte, yte, K * N_TEST);
    snprintf(path, sizeof path, "%s/fn_prob.txt", dir), save_matrix(path, p, K * N_TEST, K);
    snprintf(path, sizeof path, "%s/fn_dec.txt", dir), save_matrix(path, dec, K * N_TEST, PAIRS);
    if (system("/usr/bin/python3 -c 'import sklearn' 2>/dev/null") == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/python/svm_oracle.py %s", dir);
        CHECK(system(cmd) == 0, "scikit-learn's SVC agrees (the line above)");
    } else {
        printf("skip: scikit-learn comparison (no python3-sklearn)\n");
    }
    rt_classifier_free(c);
    if (getenv("FN_KEEP")) printf("kept %s\n", dir); else {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return test_summary("test_classifier");
}

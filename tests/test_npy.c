/* The MTCNN weight files read as they are (det1/2/3.npy from ../shared/data, skipped when
 * absent): every layer and shape of REFERENCE §4.3, values against NumPy where python3 with
 * numpy is installed; and damaged inputs fail with a message, never a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data/npy.h"
#include "tests/testlib.h"

typedef struct {
    const char *layer, *param;
    int rank;
    int64_t d[4];
} Want;

static void check_file(const char *path, const Want *want, int n_want) {
    RtNpyWeights w;
    RtStatus st;
    if (!CHECK(rt_npy_load_weights(path, &w, &st) == 0, "%s: %s", path, st.msg)) return;
    CHECK(w.n == n_want, "%s: %d arrays, want %d", path, w.n, n_want);
    int bad = 0, finite = 1;
    for (int i = 0; i < n_want; i++) {
        const RtNpyArray *a = rt_npy_find(&w, want[i].layer, want[i].param);
        if (!a || a->rank != want[i].rank || memcmp(a->dims, want[i].d, (size_t)a->rank * 8)) {
            bad++;
            printf("  %s/%s: missing or shaped differently\n", want[i].layer, want[i].param);
            continue;
        }
        for (int64_t j = 0; j < a->n; j++) finite &= isfinite(a->data[j]);
    }
    CHECK(bad == 0 && finite, "%s: every layer with its shape, all values finite", path);
    /* values against NumPy's own reading, where it is installed */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import numpy as np; d=np.load('%s', allow_pickle=True, encoding='latin1').item(); "
             "print(' '.join('%%s/%%s=%%.9g' %% (l, p, float(np.ascontiguousarray(v).ravel()[[0, -1]].sum() + "
             "np.ascontiguousarray(v).ravel()[v.size // 2])) for l in sorted(d) for p, v in sorted(d[l].items())))\" 2>/dev/null",
             path);
    FILE *py = popen(cmd, "r");
    char out[16384] = "";
    size_t got = py ? fread(out, 1, sizeof out - 1, py) : 0;
    if (py) pclose(py);
    out[got] = 0;
    if (got == 0) {
        printf("  numpy not available: values not cross-checked\n");
    } else {
        int mismatch = 0, compared = 0;
        for (char *tok = strtok(out, " \n"); tok; tok = strtok(NULL, " \n")) {
            char *eq = strchr(tok, '='), *slash = strchr(tok, '/');
            if (!eq || !slash) continue;
            *eq = 0, *slash = 0;
            const RtNpyArray *a = rt_npy_find(&w, tok, slash + 1);
            double ref = atof(eq + 1), mine = a ? (double)a->data[0] + a->data[a->n - 1] + a->data[a->n / 2] : NAN;
            mismatch += !(fabs(ref - mine) <= 1e-6 * fmax(1, fabs(ref)));
            compared++;
        }
        CHECK(mismatch == 0 && compared == n_want, "%s: first, middle and last values equal NumPy's (%d arrays, %d differ)",
              path, compared, mismatch);
    }
    rt_npy_free(&w);
}

static void test_damaged(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    static unsigned char buf[1 << 21];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    RtNpyWeights w;
    RtStatus st;
    int errors = 0;
    for (size_t cut = 0; cut < n; cut += n / 97 + 1) errors += rt_npy_parse_weights(buf, cut, "cut", &w, &st) < 0;
    CHECK(errors == (int)((n - 1) / (n / 97 + 1)) + 1, "every truncation is an error (%d)", errors);
    uint64_t rng = 1;
    int ok = 0;
    for (int k = 0; k < 200; k++) { /* random byte flips: an error or a result, never a crash */
        unsigned char save[4];
        size_t at[4];
        for (int j = 0; j < 4; j++) at[j] = test_rng_next(&rng) % n, save[j] = buf[at[j]], buf[at[j]] ^= (unsigned char)(1 + test_rng_next(&rng) % 255);
        if (rt_npy_parse_weights(buf, n, "flipped", &w, &st) == 0) rt_npy_free(&w), ok++;
        for (int j = 3; j >= 0; j--) buf[at[j]] = save[j];
    }
    printf("  200 damaged copies: %d still parse, the rest fail with a message\n", ok);
    CHECK(rt_npy_parse_weights((const unsigned char *)"not npy", 7, "text", &w, &st) < 0 && strstr(st.msg, "text"),
          "a non-npy input: %s", st.msg);
}

int main(void) {
    const char *data = test_shared_data();
    if (!data) {
        printf("  ../shared/data absent: the MTCNN weight files are not checked\n");
        return test_summary("test_npy");
    }
    static const Want pnet[] = {
        {"conv1", "weights", 4, {3, 3, 3, 10}}, {"conv1", "biases", 1, {10}}, {"PReLU1", "alpha", 1, {10}},
        {"conv2", "weights", 4, {3, 3, 10, 16}}, {"conv2", "biases", 1, {16}}, {"PReLU2", "alpha", 1, {16}},
        {"conv3", "weights", 4, {3, 3, 16, 32}}, {"conv3", "biases", 1, {32}}, {"PReLU3", "alpha", 1, {32}},
        {"conv4-1", "weights", 4, {1, 1, 32, 2}}, {"conv4-1", "biases", 1, {2}},
        {"conv4-2", "weights", 4, {1, 1, 32, 4}}, {"conv4-2", "biases", 1, {4}}};
    static const Want rnet[] = {
        {"conv1", "weights", 4, {3, 3, 3, 28}}, {"conv1", "biases", 1, {28}}, {"prelu1", "alpha", 1, {28}},
        {"conv2", "weights", 4, {3, 3, 28, 48}}, {"conv2", "biases", 1, {48}}, {"prelu2", "alpha", 1, {48}},
        {"conv3", "weights", 4, {2, 2, 48, 64}}, {"conv3", "biases", 1, {64}}, {"prelu3", "alpha", 1, {64}},
        {"conv4", "weights", 2, {576, 128}}, {"conv4", "biases", 1, {128}}, {"prelu4", "alpha", 1, {128}},
        {"conv5-1", "weights", 2, {128, 2}}, {"conv5-1", "biases", 1, {2}},
        {"conv5-2", "weights", 2, {128, 4}}, {"conv5-2", "biases", 1, {4}}};
    static const Want onet[] = {
        {"conv1", "weights", 4, {3, 3, 3, 32}}, {"conv1", "biases", 1, {32}}, {"prelu1", "alpha", 1, {32}},
        {"conv2", "weights", 4, {3, 3, 32, 64}}, {"conv2", "biases", 1, {64}}, {"prelu2", "alpha", 1, {64}},
        {"conv3", "weights", 4, {3, 3, 64, 64}}, {"conv3", "biases", 1, {64}}, {"prelu3", "alpha", 1, {64}},
        {"conv4", "weights", 4, {2, 2, 64, 128}}, {"conv4", "biases", 1, {128}}, {"prelu4", "alpha", 1, {128}},
        {"conv5", "weights", 2, {1152, 256}}, {"conv5", "biases", 1, {256}}, {"prelu5", "alpha", 1, {256}},
        {"conv6-1", "weights", 2, {256, 2}}, {"conv6-1", "biases", 1, {2}},
        {"conv6-2", "weights", 2, {256, 4}}, {"conv6-2", "biases", 1, {4}},
        {"conv6-3", "weights", 2, {256, 10}}, {"conv6-3", "biases", 1, {10}}};
    char path[512];
    snprintf(path, sizeof path, "%s/mtcnn/det1.npy", data);
    check_file(path, pnet, 13);
    test_damaged(path);
    snprintf(path, sizeof path, "%s/mtcnn/det2.npy", data);
    check_file(path, rnet, 16);
    snprintf(path, sizeof path, "%s/mtcnn/det3.npy", data);
    check_file(path, onet, 21);
    return test_summary("test_npy");
}

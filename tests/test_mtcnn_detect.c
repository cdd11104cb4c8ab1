/* MTCNN detection on real photos (../shared/data, skipped when absent): the two portraits and
 * 200 LFW images spread over the people. Every image should give a face; the face the aligner
 * picks should be inside the image and over its centre, where LFW's faces sit, with five
 * landmarks inside the box in a face's order. Exactness against the reference's algorithm is
 * tests/cli_mtcnn_oracle.sh; here: that the whole pipeline finds faces, and that corrupted
 * weight files are refused or give sane boxes. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/blas.h"
#include "cli/driver.h"
#include "runtime/face/align.h"
#include "runtime/face/mtcnn.h"
#include "tests/testlib.h"

#if defined(__SANITIZE_ADDRESS__)
#define N_LFW 12 /* the sanitizer build runs ~20x slower */
#else
#define N_LFW 200
#endif

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the first image of n people evenly spread over LFW's sorted people */
static int lfw_images(const char *root, int n, char **out) {
    DIR *d = opendir(root);
    if (!d) return 0;
    char **people = NULL;
    int np = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (np == cap) people = realloc(people, (size_t)(cap = cap ? 2 * cap : 1024) * sizeof *people);
        people[np++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(people, (size_t)np, sizeof *people, cmp_str);
    int k = 0;
    for (int i = 0; i < n && np; i++) {
        const char *who = people[(size_t)i * np / n];
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/%s_0001.jpg", root, who, who);
        out[k++] = strdup(p);
    }
    for (int i = 0; i < np; i++) free(people[i]);
    free(people);
    return k;
}

typedef struct {
    int images, with_face, hist[4], centred, landmarks_ok;
} Tally;

static void detect_one(RtMtcnn *m, const char *path, Tally *t) {
    RtImage img;
    RtStatus st;
    if (!CHECK(rt_image_read(path, &img, &st) == 0, "%s", st.msg)) return;
    RtMtcnnParams p;
    rt_mtcnn_defaults(&p);
    RtFace *f;
    int n;
    if (!CHECK(rt_mtcnn_detect(m, &img, &p, &f, &n, &st) == 0, "%s: %s", path, st.msg)) return;
    t->images++;
    t->hist[n < 3 ? n : 3]++;
    if (n) {
        t->with_face++;
        const RtFace *a = &f[rt_align_pick(f, n, img.w, img.h)];
        double cx = (a->box[0] + a->box[2]) / 2, cy = (a->box[1] + a->box[3]) / 2;
        int inside = a->box[0] > -0.1 * img.w && a->box[1] > -0.1 * img.h && a->box[2] < 1.1 * img.w &&
                     a->box[3] < 1.1 * img.h && a->box[2] > a->box[0] && a->box[3] > a->box[1];
        int over_centre = a->box[0] < img.w / 2.0 && a->box[2] > img.w / 2.0 && a->box[1] < img.h / 2.0 &&
                          a->box[3] > img.h / 2.0 && fabs(cx - img.w / 2.0) < 0.15 * img.w &&
                          fabs(cy - img.h / 2.0) < 0.15 * img.h;
        t->centred += inside && over_centre;
        if (!(inside && over_centre))
            printf("  %s: picked face %.0f %.0f %.0f %.0f is off centre\n", path, a->box[0], a->box[1], a->box[2], a->box[3]);
        /* landmarks inside the box; eyes above the nose above the mouth; left before right */
        const double *q = a->pts;
        int ok = 1;
        for (int k = 0; k < 5; k++)
            ok &= q[2 * k] >= a->box[0] && q[2 * k] <= a->box[2] && q[2 * k + 1] >= a->box[1] && q[2 * k + 1] <= a->box[3];
        ok &= q[1] < q[5] && q[3] < q[5] && q[5] < q[7] && q[5] < q[9] && q[0] < q[2] && q[6] < q[8];
        t->landmarks_ok += ok;
        CHECK(a->score > 0.7 && a->score <= 1, "%s: score %g", path, a->score);
    }
    free(f);
    rt_image_free(&img);
}

/* A copy of the three weight files in a fresh folder (returned in out) whose det<k>.npy has every
 * value of <layer>/<param> replaced by v: the array's bytes are found in the file by content. */
static int corrupt_copy(const char *src_dir, int k, const char *layer, const char *param, float v, char *out) {
    strcpy(out, "/tmp/fn_mtcnn_bad_XXXXXX");
    if (!mkdtemp(out)) return -1;
    for (int d = 1; d <= 3; d++) {
        char from[600], to[600];
        snprintf(from, sizeof from, "%s/det%d.npy", src_dir, d);
        snprintf(to, sizeof to, "%s/det%d.npy", out, d);
        FILE *f = fopen(from, "rb");
        if (!f) return -1;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        unsigned char *buf = malloc((size_t)n);
        int ok = fread(buf, 1, (size_t)n, f) == (size_t)n;
        fclose(f);
        RtNpyWeights w;
        RtStatus st;
        if (ok && d == k && rt_npy_parse_weights(buf, (size_t)n, from, &w, &st) == 0) {
            const RtNpyArray *a = rt_npy_find(&w, layer, param);
            unsigned char *at = a ? memmem(buf, (size_t)n, a->data, (size_t)a->n * sizeof(float)) : NULL;
            for (int64_t i = 0; at && i < a->n; i++) memcpy(at + i * sizeof(float), &v, sizeof v);
            ok = at != NULL;
            rt_npy_free(&w);
        }
        FILE *g = ok ? fopen(to, "wb") : NULL;
        ok = g && fwrite(buf, 1, (size_t)n, g) == (size_t)n;
        if (g) fclose(g);
        free(buf);
        if (!ok) return -1;
    }
    return 0;
}

static void remove_copy(const char *dir) {
    char p[600];
    for (int d = 1; d <= 3; d++) {
        snprintf(p, sizeof p, "%s/det%d.npy", dir, d);
        unlink(p);
    }
    rmdir(dir);
}

/* Corrupted weights: NaN is refused when loaded, naming the file and the array; finite but absurd
 * values (huge regressions, overflowing sums) give no face or sane faces, never undefined box
 * arithmetic (the sanitizer build traps on that). */
static void test_corrupted(IrGraph **g, const char *weights, const char *portrait) {
    char dir[64];
    RtStatus st;
    if (!CHECK(corrupt_copy(weights, 3, "conv6-2", "biases", NAN, dir) == 0, "corrupted copy")) return;
    RtMtcnn *m = rt_mtcnn_new(test_cpu(), g[0], g[1], g[2], dir, &st);
    CHECK(!m && strstr(st.msg, "det3.npy") && strstr(st.msg, "conv6-2/biases") && strstr(st.msg, "non-finite"),
          "NaN weights are an error naming the file and the array: %s", m ? "(loaded)" : st.msg);
    rt_mtcnn_free(m);
    remove_copy(dir);
    static const struct {
        int k;
        const char *layer, *param;
        float v;
    } bad[] = {{1, "conv4-2", "biases", 1e30f}, {1, "conv4-2", "biases", -3e38f}, {2, "conv5-2", "biases", 1e30f},
               {3, "conv6-2", "biases", -1e30f}, {3, "conv6-3", "biases", 3e38f}, {1, "conv1", "biases", 3e38f}};
    RtImage img;
    if (!CHECK(rt_image_read(portrait, &img, &st) == 0, "%s", st.msg)) return;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!CHECK(corrupt_copy(weights, bad[i].k, bad[i].layer, bad[i].param, bad[i].v, dir) == 0, "copy")) continue;
        m = rt_mtcnn_new(test_cpu(), g[0], g[1], g[2], dir, &st);
        RtMtcnnParams p;
        rt_mtcnn_defaults(&p);
        RtFace *f = NULL;
        int n = 0, sane = 1;
        if (CHECK(m != NULL, "finite weights load: %s", st.msg) &&
            CHECK(rt_mtcnn_detect(m, &img, &p, &f, &n, &st) == 0, "detect: %s", st.msg)) {
            for (int j = 0; j < n; j++)
                for (int e = 0; e < 4; e++)
                    sane &= isfinite(f[j].box[e]) && fabs(f[j].box[e]) < 4.0 * (img.w + img.h) && isfinite(f[j].score);
        }
        printf("  det%d %s/%s = %g: %d faces\n", bad[i].k, bad[i].layer, bad[i].param, bad[i].v, n);
        CHECK(sane, "det%d %s/%s = %g: every face finite and near the image", bad[i].k, bad[i].layer, bad[i].param,
              bad[i].v);
        free(f);
        rt_mtcnn_free(m);
        remove_copy(dir);
    }
    rt_image_free(&img);
}

int main(int argc, char **argv) {
    (void)argc;
    cli_blas_select(argv);
    const char *data = test_shared_data();
    if (!data) {
        printf("  ../shared/data absent: skipped\n");
        return test_summary("test_mtcnn_detect");
    }
    rt_blas_threads(1);
    PassCtx ctx = {0};
    IrGraph *g[3] = {drv_build("models/mtcnn/pnet.fn", NULL, 0, 0, &ctx, stderr),
                     drv_build("models/mtcnn/rnet.fn", NULL, 0, 0, &ctx, stderr),
                     drv_build("models/mtcnn/onet.fn", NULL, 0, 0, &ctx, stderr)};
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/mtcnn", data);
    RtStatus st;
    RtMtcnn *m = g[0] && g[1] && g[2] ? rt_mtcnn_new(test_cpu(), g[0], g[1], g[2], dir, &st) : NULL;
    if (!CHECK(m != NULL, "detector: %s", st.msg)) return test_summary("test_mtcnn_detect");

    RtStatus bad;
    CHECK(rt_mtcnn_new(test_cpu(), g[0], g[1], g[2], "/nonexistent", &bad) == NULL && strstr(bad.msg, "det1.npy"),
          "a missing weight folder is an error naming det1.npy: %s", bad.msg);

    snprintf(p, sizeof p, "%s/faces/Anthony_Hopkins_0001.jpg", data);
    test_corrupted(g, dir, p);

    Tally portraits = {0};
    static const char *faces[] = {"Anthony_Hopkins_0001.jpg", "Anthony_Hopkins_0002.jpg"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/faces/%s", data, faces[i]);
        detect_one(m, p, &portraits);
    }
    printf("  portraits: %d images, %d with a face, %d centred, landmarks in order %d\n", portraits.images,
           portraits.with_face, portraits.centred, portraits.landmarks_ok);
    CHECK(portraits.with_face == 2 && portraits.centred == 2 && portraits.landmarks_ok == 2, "both portraits");

    char *paths[N_LFW];
    snprintf(dir, sizeof dir, "%s/lfw/lfw-deepfunneled", data);
    int n = lfw_images(dir, N_LFW, paths);
    Tally lfw = {0};
    double t0 = rt_now();
    for (int i = 0; i < n; i++) detect_one(m, paths[i], &lfw);
    double dt = rt_now() - t0;
    printf("  LFW: %d images (%.1f images/s, one thread): faces per image 0:%d 1:%d 2:%d 3+:%d; picked face "
           "centred %d; landmarks in order %d\n", lfw.images, lfw.images / dt, lfw.hist[0], lfw.hist[1],
           lfw.hist[2], lfw.hist[3], lfw.centred, lfw.landmarks_ok);
    CHECK(n == N_LFW && lfw.images == n, "read %d of %d LFW images", lfw.images, N_LFW);
    CHECK(lfw.with_face >= n * 98 / 100, "%d of %d LFW images with a face", lfw.with_face, n);
    CHECK(lfw.centred >= lfw.with_face * 97 / 100, "%d of %d picked faces centred", lfw.centred, lfw.with_face);
    CHECK(lfw.landmarks_ok >= lfw.with_face * 95 / 100, "%d of %d landmark sets in order", lfw.landmarks_ok, lfw.with_face);
    for (int i = 0; i < n; i++) free(paths[i]);
    rt_mtcnn_free(m);
    for (int i = 0; i < 3; i++) ir_graph_free(g[i]);
    return test_summary("test_mtcnn_detect");
}

/* fnrun embed's library (runtime/tools): the rows equal, bit for bit, the embeddings the LFW
 * evaluation computes for the same images (rt_lfw_embed, what fnrun validate runs), flipped
 * pass included; an unreadable image is left out without shifting the others; inputs expand
 * files, flat folders and class trees in order; OUT.npy holds NumPy's header and the rows.
 * The reduced Inception-ResNet-v1 (seeded weights) on generated 80-pixel images, and, where
 * ../shared/data has LFW, the full network (build/inception_resnet_v1.fnc) on 200 of its. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/eval/embed.h"
#include "runtime/eval/model.h"
#include "runtime/tools/embed_files.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

typedef struct {
    const char *model;
    int batch, size, dim, flip;
} Model;

static void opts(RtEmbedFilesOpts *o, const Model *c) {
    rt_embed_files_defaults(o);
    o->model = c->model;
    o->image_size = c->size;
    o->embedding_size = c->dim;
    o->batch_size = c->batch;
    o->threads = 2;
    o->use_flipped_images = c->flip;
    o->backend = test_cpu();
}

/* what validate computes for these paths: rt_lfw_embed on the model bound as rt_validate binds it */
static float *lfw_rows(const Model *c, char *const *paths, int n) {
    RtModelOpts mo = {c->model, "eval", c->size, c->dim, 0, 666, NULL};
    RtModel m;
    RtStatus st;
    float *all = malloc((size_t)n * 2 * c->dim * sizeof(float));
    const char *want[] = {"embeddings"};
    RtExec *ex = NULL;
    int dim = 0, opened = rt_model_open(&mo, c->batch, &m, &st) == 0;
    if (opened) ex = rt_exec_bind(test_cpu(), m.g, m.vars, m.b, m.nb, want, 1, 0, &st);
    RtEmbedOpts eo = {c->batch, c->size, 2, 0, c->flip, 2, 0, 0, NULL, NULL, NULL, NULL, NULL};
    int ok = ex && rt_lfw_embed(ex, &eo, paths, n, all, &dim, &st) == 0 && dim == c->dim;
    CHECK(ok, "validate's embeddings: %s", ok ? "" : st.msg);
    rt_exec_free(ex);
    if (opened) rt_model_close(&m);
    return ok ? all : (free(all), NULL);
}

/* the inputs' rows against validate's, bit for bit */
static void same_as_validate(const Model *c, RtInputs *in) {
    RtEmbedFilesOpts o;
    opts(&o, c);
    RtEmbeddings e;
    RtStatus st;
    int ok = rt_embed_files(&o, in, &e, &st) == 0;
    if (!CHECK(ok && e.n == in->n && e.dim == (c->flip ? 2 : 1) * c->dim && e.n_unreadable == 0, "embed: %s", ok ? "" : st.msg))
        return;
    float *ref = lfw_rows(c, in->paths, in->n);
    CHECK(ref && memcmp(ref, e.rows, (size_t)in->n * e.dim * sizeof(float)) == 0,
          "%d images: the rows are validate's embeddings, bit for bit", in->n);
    free(ref);
    rt_embeddings_free(&e);
}

static void test_tree(const Model *c, const char *data) {
    RtInputs in = {0};
    RtStatus st;
    const char *args[] = {data};
    if (!CHECK(rt_inputs_add(&in, args, 1, &st) == 0 && in.n == 12, "12 images in the tree: %s", st.msg)) return;
    CHECK(!strcmp(in.classes[0], "c0") && !strcmp(in.classes[11], "c2") && strstr(in.paths[4], "c1/") != NULL,
          "classes in order: %s %s %s", in.classes[0], in.classes[11], in.paths[4]);
    same_as_validate(c, &in);
    rt_inputs_free(&in);
}

#ifndef __SANITIZE_ADDRESS__ /* minutes under ASan; the paths are those of test_tree */
/* 200 LFW images (the first folders, in order) through the full network, seeded */
static void test_lfw(const char *lfw) {
    char model[4096];
    const char *bin = getenv("FN_BIN");
    snprintf(model, sizeof model, "%s/inception_resnet_v1.fnc", bin ? bin : "build");
    RtInputs all = {0}, in = {0};
    RtStatus st;
    const char *args[] = {lfw};
    if (access(model, R_OK) != 0 || rt_inputs_add(&all, args, 1, &st) < 0 || all.n < 200) {
        printf("skip: LFW part (%s or %s missing)\n", model, lfw);
        rt_inputs_free(&all);
        return;
    }
    for (int i = 0; i < 200; i++) rt_inputs_add(&in, (const char *const *)&all.paths[i], 1, &st);
    Model c = {model, 100, 160, 128, 0}; /* the flipped pass: test_tree */
    same_as_validate(&c, &in);
    rt_inputs_free(&in);
    rt_inputs_free(&all);
}
#endif

/* a flat folder with a broken file in the middle: the others' rows are those without it */
static void test_unreadable(const Model *c, const char *data, const char *dir) {
    char flat[4096], path[4200];
    snprintf(flat, sizeof flat, "%s/flat", dir);
    mkdir(flat, 0755);
    const char *pick[] = {"c0/img00.png", "c1/img01.png", "c2/img02.png"};
    const char *names[] = {"a.png", "c.png", "d.png"};
    for (int i = 0; i < 3; i++) {
        char src[4200], cmd[9000];
        snprintf(src, sizeof src, "%s/%s", data, pick[i]);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/%s'", src, flat, names[i]);
        if (system(cmd) != 0) CHECK(0, "%s", cmd);
    }
    snprintf(path, sizeof path, "%s/b.png", flat);
    FILE *f = fopen(path, "w");
    fputs("not an image\n", f);
    fclose(f);
    RtInputs in = {0}, good = {0};
    RtStatus st;
    const char *args[] = {flat};
    char a[4200], cc[4200], d[4200];
    snprintf(a, sizeof a, "%s/a.png", flat);
    snprintf(cc, sizeof cc, "%s/c.png", flat);
    snprintf(d, sizeof d, "%s/d.png", flat);
    const char *good_args[] = {a, cc, d};
    CHECK(rt_inputs_add(&in, args, 1, &st) == 0 && in.n == 4 && !strcmp(in.classes[1], ""), "flat folder: %d", in.n);
    CHECK(rt_inputs_add(&good, good_args, 3, &st) == 0 && good.n == 3, "three files");
    RtEmbedFilesOpts o;
    opts(&o, c);
    o.log = fopen("/dev/null", "w");
    RtEmbeddings e, g;
    int ok = rt_embed_files(&o, &in, &e, &st) == 0 && rt_embed_files(&o, &good, &g, &st) == 0;
    fclose(o.log);
    if (!CHECK(ok, "embed: %s", st.msg)) return;
    CHECK(e.n == 3 && e.n_unreadable == 1 && e.source[0] == 0 && e.source[1] == 2 && e.source[2] == 3,
          "b.png left out: %d rows, %d unreadable", e.n, e.n_unreadable);
    CHECK(memcmp(e.rows, g.rows, (size_t)3 * e.dim * sizeof(float)) == 0, "rows unshifted");
    char out[4200], npy[4300];
    snprintf(out, sizeof out, "%s/emb", dir);
    snprintf(npy, sizeof npy, "%s.npy", out);
    CHECK(rt_embeddings_save(out, &in, &e, &st) == 0, "save: %s", st.msg);
    char *tsv_path = malloc(4300);
    snprintf(tsv_path, 4300, "%s.tsv", out);
    char *tsv = test_read_file(tsv_path);
    CHECK(tsv && !strncmp(tsv, "path\tclass\n", 11) && !strstr(tsv, "b.png") && strstr(tsv, "d.png\t\n"), "tsv: %s", tsv);
    free(tsv);
    free(tsv_path);
    FILE *nf = fopen(npy, "rb");
    unsigned char h[128];
    float row[16];
    ok = nf && fread(h, 1, 128, nf) == 128 && fread(row, sizeof(float), 16, nf) == 16 && e.dim == 16;
    if (nf) fclose(nf);
    CHECK(ok && !memcmp(h, "\x93NUMPY\x01\x00", 8) && h[8] + 256 * h[9] == 118 && h[127] == '\n' &&
              strstr((char *)h + 10, "'shape': (3, 16)") && !memcmp(row, e.rows, sizeof row),
          "npy header and first row");
    rt_embeddings_free(&e);
    rt_embeddings_free(&g);
    rt_inputs_free(&in);
    rt_inputs_free(&good);
}

static void test_bad_inputs(const char *dir) {
    RtInputs in = {0};
    RtStatus st;
    char empty[4096], missing[4096];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    snprintf(missing, sizeof missing, "%s/nothing-here", dir);
    mkdir(empty, 0755);
    const char *a1[] = {empty}, *a2[] = {missing};
    CHECK(rt_inputs_add(&in, a1, 1, &st) < 0 && strstr(st.msg, "no images in this folder"), "empty: %s", st.msg);
    CHECK(rt_inputs_add(&in, a2, 1, &st) < 0 && strstr(st.msg, "No such file"), "missing: %s", st.msg);
    rt_inputs_free(&in);
}

int main(void) {
    char dir[] = "/tmp/fn-embed-XXXXXX", model[4096], data[4096];
    if (!mkdtemp(dir)) return 1;
    snprintf(model, sizeof model, "%s/m.fnc", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    if (CHECK(fx_compile("tests/models/irv1_small.fn", model) == 0, "irv1_small compiles")) {
        fx_make_dataset(data, 3, 4, 80, 5);
        Model c = {model, 5, 75, 8, 1};
        test_tree(&c, data);
        test_unreadable(&c, data, dir);
    }
#ifndef __SANITIZE_ADDRESS__
    const char *shared = test_shared_data();
    char lfw[4096];
    snprintf(lfw, sizeof lfw, "%s/lfw/lfw-deepfunneled", shared ? shared : ".");
    if (shared) test_lfw(lfw);
#endif
    test_bad_inputs(dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_embed_files");
}

/* fnrun import's pipeline (interop/import.c) on tensors built in memory, so no foreign file or
 * framework is needed (the readers have their own tests):
 * - a state dict with every entry facenet-pytorch 2.6 has (tests/interop/facenet_pytorch_keys.tsv,
 *   written by facenet-pytorch itself) imported into Inception-ResNet-v1: every variable taken,
 *   each value where its layout says (OIHW -> HWIO, [out,in] -> [in,out]), the embedding size and
 *   class count read off the shapes;
 * - TensorFlow names with Adam slots and moving-average shadows (the reduced network): the ADAM
 *   graph's slots come along, the averages go to the checkpoint's, --use_moving_averages;
 * - every refusal, each naming the tensor: missing, wrongly shaped, extra, not float32, a batch-
 *   norm scale other than 1, two tensors disagreeing on a dimension; --allow_missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/import.h"
#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"
#include "runtime/core/ema.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static char dir[] = "/tmp/fn_test_import_XXXXXX";

static float value_of(const char *name, int64_t i) {
    return (float)(2 * rt_uniform(rt_hash_str(name), (uint64_t)i) - 1);
}

/* every entry of the key list, with values from value_of (scales 1, variances positive) */
static int torch_tensors(IxTensors *ts) {
    FILE *f = fopen("tests/interop/facenet_pytorch_keys.tsv", "r");
    char line[512], name[256], dtype[32], shape[128];
    RtStatus st;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%255s %31s %127s", name, dtype, shape) < 2) continue;
        int64_t dims[IX_MAX_RANK];
        int rank = 0;
        for (char *p = shape; *p && strcmp(dtype, "int64"); p += strcspn(p, ","), p += *p == ',')
            dims[rank++] = strtoll(p, NULL, 10);
        IxTensor *t = ix_tensors_add(ts, name, dtype, rank, dims, &st);
        if (!t) return -1;
        size_t n = strlen(name);
        int scale = n > 10 && !strcmp(name + n - 10, ".bn.weight"), var = strstr(name, "running_var") != NULL;
        scale |= !strcmp(name, "last_bn.weight");
        for (int64_t i = 0; t->data && i < t->n; i++)
            t->data[i] = scale ? 1.0f : var ? 1.5f + value_of(name, i) : value_of(name, i);
    }
    fclose(f);
    return 0;
}

static IxTensor *find(IxTensors *ts, const char *name) { return (IxTensor *)ix_tensors_find(ts, name); }

static IxImportOpts opts(const char *artifact, const char *out) {
    IxImportOpts o;
    ix_import_defaults(&o);
    o.src = "memory.pt";
    o.artifact = artifact;
    o.out = out;
    o.log = fopen("/dev/null", "w");
    return o;
}

/* the checkpoint's variables of the eval graph (and the ADAM graph's when with_slots), and averages */
static RtVars *load(const char *art_path, const char *ckpt, int with_slots, RtVars **ema, RtCkptInfo *info) {
    RtStatus st;
    RtArtifact art;
    if (rt_checkpoint_info(ckpt, info, &st) < 0 || rt_artifact_load(art_path, &art, &st) < 0) return NULL;
    RtBinding b[] = {{"N", 1}, {"image_size", 160}, {"embedding_size", info->embedding_size}, {"classes", info->classes}};
    RtVars *vars = rt_vars_new(4);
    const char *names[] = {"eval", "train/ADAM"};
    for (int k = 0; k < 1 + with_slots; k++) {
        const IrGraph *g = rt_artifact_graph(&art, names[k]);
        int64_t sym[16];
        if (!g || rt_bind_syms(g, b, 4, sym, &st) < 0 || rt_vars_bind(vars, g, sym, &st) < 0) return NULL;
    }
    *ema = rt_ema_new(vars);
    RtCkptInfo i2;
    int rc = rt_checkpoint_load(ckpt, &i2, vars, *ema, &st);
    rt_artifact_free(&art);
    return rc == 0 ? vars : NULL;
}

/* each fn variable holds its torch tensor's values in fn's layout */
static void check_torch_values(RtVars *vars, IxTensors *src) {
    int wrong = 0, checked = 0;
    for (int i = 0; i < vars->n; i++) {
        RtVar *v = &vars->v[i];
        char s[512];
        IxLayout layout;
        const IxTensor *t = ix_source_name(IX_FMT_TORCH, v->name, s, sizeof s, &layout) ? find(src, s) : NULL;
        if (!t) continue;
        const float *x = v->data;
        checked++;
        for (int64_t k = 0; k < v->n && !wrong; k++) {
            int64_t j = k; /* the source's index of fn's element k */
            if (layout == IX_LAYOUT_OIHW) {    /* fn [h,w,i,o] <- torch [o,i,h,w] */
                int64_t H = v->dims[0], W = v->dims[1], I = v->dims[2], O = v->dims[3];
                int64_t o = k % O, ii = k / O % I, w = k / O / I % W, h = k / O / I / W;
                j = ((o * I + ii) * H + h) * W + w;
                (void)H;
            } else if (layout == IX_LAYOUT_T2) { /* fn [in,out] <- torch [out,in] */
                int64_t IN = v->dims[0], OUT = v->dims[1];
                j = (k % OUT) * IN + k / OUT;
            }
            if (x[k] != t->data[j]) wrong++, CHECK(0, "%s[%lld] is not %s[%lld]", v->name, (long long)k, s, (long long)j);
        }
    }
    CHECK(checked == vars->n - 1 && rt_vars_find(vars, "centers"), "%d of %d variables came from the state dict "
          "(all but the centre-loss state)", checked, vars->n);
    CHECK(wrong == 0, "every value in its place");
}

static void torch_ok(const char *art, IxTensors *src) {
    char out[300];
    snprintf(out, sizeof out, "%s/fp.ckpt", dir);
    IxImportOpts o = opts(art, out);
    RtStatus st;
    int rc = ix_import_tensors(&o, IX_FMT_TORCH, src, &st);
    CHECK(rc == 0, "facenet-pytorch state dict imports: %s", rc ? st.msg : "");
    RtVars *ema = NULL;
    RtCkptInfo info;
    char beside[300];
    snprintf(beside, sizeof beside, "%s/model-fp.fnc", dir);
    RtVars *vars = rc ? NULL : load(beside, out, 0, &ema, &info);
    CHECK(vars != NULL, "the checkpoint and its artifact model-fp.fnc load");
    if (!vars) return;
    CHECK(info.embedding_size == 512 && info.classes == 10, "dimensions from the shapes: %d, %d",
          info.embedding_size, info.classes);
    check_torch_values(vars, src);
    rt_vars_free(vars);
    rt_vars_free(ema);
    fclose(o.log);
}

/* imports src (after edit) and expects an error containing both words */
static void refused(const char *art, IxTensors *src, int allow_missing, const char *w1, const char *w2) {
    char out[300];
    snprintf(out, sizeof out, "%s/bad.ckpt", dir);
    IxImportOpts o = opts(art, out);
    o.allow_missing = allow_missing;
    RtStatus st;
    int rc = ix_import_tensors(&o, IX_FMT_TORCH, src, &st);
    CHECK(rc < 0 && strstr(st.msg, w1) && strstr(st.msg, w2), "refused with '%s' and '%s': %s", w1, w2,
          rc < 0 ? st.msg : "(imported)");
    CHECK(!strchr(st.msg, '\n'), "one line");
    fclose(o.log);
}

static void rename_tensor(IxTensors *ts, const char *from, const char *to) {
    IxTensor *t = find(ts, from);
    free(t->name);
    t->name = strdup(to);
}

static void torch_refusals(const char *art, IxTensors *src) {
    rename_tensor(src, "repeat_2.3.branch1.2.conv.weight", "moved.weight");
    refused(art, src, 0, "Repeat_1/block17_4/Branch_1/Conv2d_0c_7x1/weights", "missing");
    rename_tensor(src, "moved.weight", "repeat_2.3.branch1.2.conv.weight");

    IxTensor *t = find(src, "repeat_1.0.branch0.conv.weight"); /* [32,256,1,1] */
    t->dims[0] = 16, t->dims[1] = 512;
    refused(art, src, 0, "Repeat/block35_1/Branch_0/Conv2d_1x1/weights", "wrong shape");
    t->dims[0] = 32, t->dims[1] = 256;

    RtStatus st;
    int64_t two = 2;
    ix_tensors_add(src, "stray.weight", "float32", 1, &two, &st);
    refused(art, src, 0, "stray.weight", "extra");
    free(src->t[--src->n].name), free(src->t[src->n].data);

    t = find(src, "mixed_6a.branch0.bn.running_var");
    strcpy(t->dtype, "float64");
    refused(art, src, 0, "mixed_6a.branch0.bn.running_var", "float32");
    strcpy(t->dtype, "float32");

    t = find(src, "conv2d_1a.bn.weight");
    t->data[3] = 0.5f;
    refused(art, src, 0, "conv2d_1a.bn.weight", "scale");
    t->data[3] = 1.0f;

    t = find(src, "logits.bias"); /* [10] against logits.weight's 10 classes */
    t->dims[0] = 11;
    refused(art, src, 0, "classes", "11");
    t->dims[0] = 10;

    rename_tensor(src, "last_bn.running_mean", "gone.running_mean");
    refused(art, src, 1, "gone.running_mean", "extra"); /* --allow_missing does not allow extras */
    rename_tensor(src, "gone.running_mean", "last_bn.running_mean");
}

/* --allow_missing: without the classifier, its weights keep their initial values and the class
 * count is 1 */
static void torch_allow_missing(const char *art, IxTensors *src) {
    char out[300];
    snprintf(out, sizeof out, "%s/nologits.ckpt", dir);
    rename_tensor(src, "logits.weight", "x"), rename_tensor(src, "logits.bias", "y");
    IxImportOpts o = opts(art, out);
    o.allow_missing = o.allow_extra = 1;
    RtStatus st;
    int rc = ix_import_tensors(&o, IX_FMT_TORCH, src, &st);
    CHECK(rc == 0, "--allow_missing imports without Logits: %s", rc ? st.msg : "");
    RtCkptInfo info;
    CHECK(rc == 0 && rt_checkpoint_info(out, &info, &st) == 0 && info.classes == 1, "classes then 1");
    o.allow_missing = 0;
    rc = ix_import_tensors(&o, IX_FMT_TORCH, src, &st);
    CHECK(rc < 0 && strstr(st.msg, "Logits/weights") && strstr(st.msg, "missing"), "else refused: %s", st.msg);
    rename_tensor(src, "x", "logits.weight"), rename_tensor(src, "y", "logits.bias");
    fclose(o.log);
}

/* TensorFlow names: every variable of the reduced network's ADAM graph, the shadows of the
 * weights, global_step */
static void tf_case(void) {
    char art[300], out[300], beside[300];
    snprintf(art, sizeof art, "%s/small.fnc", dir);
    snprintf(out, sizeof out, "%s/tf.ckpt", dir);
    snprintf(beside, sizeof beside, "%s/model-tf.fnc", dir);
    if (!CHECK(fx_compile("tests/models/irv1_small.fn", art) == 0, "compile irv1_small")) return;
    RtStatus st;
    RtArtifact a;
    RtVars *vars = rt_vars_new(4);
    RtBinding b[] = {{"N", 1}, {"image_size", 75}, {"embedding_size", 8}, {"classes", 3}};
    int64_t sym[16];
    const IrGraph *g = rt_artifact_load(art, &a, &st) == 0 ? rt_artifact_graph(&a, "train/ADAM") : NULL;
    if (!CHECK(g && rt_bind_syms(g, b, 4, sym, &st) == 0 && rt_vars_bind(vars, g, sym, &st) == 0, "bind")) return;
    IxTensors src = {0};
    for (int i = 0; i < vars->n; i++) {
        RtVar *v = &vars->v[i];
        char shadow[600];
        snprintf(shadow, sizeof shadow, "%s/ExponentialMovingAverage", v->name);
        for (int k = 0; k < 1 + !v->is_state; k++) {
            IxTensor *t = ix_tensors_add(&src, k ? shadow : v->name, "float32", v->rank, v->dims, &st);
            for (int64_t j = 0; j < t->n; j++) t->data[j] = value_of(t->name, j);
        }
    }
    ix_tensors_add(&src, "global_step", "int64", 0, NULL, &st);
    for (int avg = 0; avg < 2; avg++) {
        IxImportOpts o = opts(art, out);
        o.src = "memory.index";
        o.use_moving_averages = avg;
        int rc = ix_import_tensors(&o, IX_FMT_TF_CKPT, &src, &st);
        CHECK(rc == 0, "TensorFlow names import%s: %s", avg ? " with --use_moving_averages" : "", rc ? st.msg : "");
        RtVars *ema = NULL, *got;
        RtCkptInfo info;
        if (rc || !(got = load(beside, out, 1, &ema, &info))) continue;
        CHECK(!strcmp(info.optimizer, "ADAM") && got->n == vars->n, "the ADAM slots came along (%s, %d of %d)",
              info.optimizer, got->n, vars->n);
        int wrong = 0;
        for (int i = 0; i < got->n; i++) {
            RtVar *v = &got->v[i], *e = rt_vars_find(ema, v->name);
            char shadow[600];
            snprintf(shadow, sizeof shadow, "%s/ExponentialMovingAverage", v->name);
            for (int64_t j = 0; j < v->n; j++) {
                float want = value_of(avg && !v->is_state ? shadow : v->name, j);
                float want_e = value_of(v->is_state ? v->name : shadow, j);
                wrong += ((float *)v->data)[j] != want || (e && ((float *)e->data)[j] != want_e);
            }
        }
        CHECK(wrong == 0, "variables and averages in place (%d wrong)", wrong);
        rt_vars_free(got);
        rt_vars_free(ema);
        fclose(o.log);
    }
    ix_tensors_free(&src);
    rt_vars_free(vars);
    rt_artifact_free(&a);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char art[300];
    snprintf(art, sizeof art, "%s/irv1.fnc", dir);
    IxTensors src = {0};
    if (!CHECK(torch_tensors(&src) == 0 && src.n > 700, "the facenet-pytorch key list (%d entries)", src.n) ||
        !CHECK(fx_compile("models/inception_resnet_v1.fn", art) == 0, "compile Inception-ResNet-v1"))
        return test_summary("test_import");
    torch_ok(art, &src);
    torch_refusals(art, &src);
    torch_allow_missing(art, &src);
    ix_tensors_free(&src);
    tf_case();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_import");
}

/* The name tables of `fnrun import`: which source tensor holds each fn variable.
 *
 * TensorFlow (checkpoints and frozen graphs) names variables by the reference's slim scopes,
 * which fn's models keep (models/lib/layers.fn), so its table is the identity; the weights'
 * moving averages are NAME/ExponentialMovingAverage and the optimiser slots NAME/Adam etc., as
 * fn names them. facenet-pytorch (models/inception_resnet_v1.py there) names modules instead:
 * one row per layer below maps an fn scope to the module holding its convolution or matrix and
 * the one holding its batch norm ('#' is a block's number: 1-based in fn, 0-based there).
 * What this is not: a reader or a converter of values (interop/import.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/import.h"

typedef struct {
    const char *scope;  /* fn's, under which weights, biases and BatchNorm/... live */
    const char *weight; /* module of the convolution or matrix: .weight, .bias */
    const char *bn;     /* module of the batch norm: .bias (beta), .running_mean, .running_var,
                           .weight (gamma, must be 1); NULL if the layer has none */
    IxLayout layout;    /* of .weight: a Conv2d's OIHW or a Linear's [out,in] */
} TorchRow;

#define IRV1 "InceptionResnetV1/"
#define BASIC(s, m) {s, m ".conv", m ".bn", IX_LAYOUT_OIHW}
static const TorchRow TORCH_ROWS[] = {
    BASIC(IRV1 "Conv2d_1a_3x3", "conv2d_1a"),
    BASIC(IRV1 "Conv2d_2a_3x3", "conv2d_2a"),
    BASIC(IRV1 "Conv2d_2b_3x3", "conv2d_2b"),
    BASIC(IRV1 "Conv2d_3b_1x1", "conv2d_3b"),
    BASIC(IRV1 "Conv2d_4a_3x3", "conv2d_4a"),
    BASIC(IRV1 "Conv2d_4b_3x3", "conv2d_4b"),
    /* Inception-ResNet-A, B, C: the same towers under repeat_1..3 and the last block8 */
#define BLOCK(s, m)                                                                                \
    BASIC(s "/Branch_0/Conv2d_1x1", m ".branch0"),                                                 \
    BASIC(s "/Branch_1/Conv2d_0a_1x1", m ".branch1.0"),                                            \
    BASIC(s "/Branch_1/Conv2d_0b_3x3", m ".branch1.1"),                                            \
    BASIC(s "/Branch_1/Conv2d_0b_1x7", m ".branch1.1"),                                            \
    BASIC(s "/Branch_1/Conv2d_0b_1x3", m ".branch1.1"),                                            \
    BASIC(s "/Branch_1/Conv2d_0c_7x1", m ".branch1.2"),                                            \
    BASIC(s "/Branch_1/Conv2d_0c_3x1", m ".branch1.2"),                                            \
    BASIC(s "/Branch_2/Conv2d_0a_1x1", m ".branch2.0"),                                            \
    BASIC(s "/Branch_2/Conv2d_0b_3x3", m ".branch2.1"),                                            \
    BASIC(s "/Branch_2/Conv2d_0c_3x3", m ".branch2.2"),                                            \
    {s "/Conv2d_1x1", m ".conv2d", NULL, IX_LAYOUT_OIHW}
    BLOCK(IRV1 "Repeat/block35_#", "repeat_1.#"),
    BLOCK(IRV1 "Repeat_1/block17_#", "repeat_2.#"),
    BLOCK(IRV1 "Repeat_2/block8_#", "repeat_3.#"),
    BLOCK(IRV1 "Block8", "block8"),
#undef BLOCK
    /* Reduction-A and -B */
    BASIC(IRV1 "Mixed_6a/Branch_0/Conv2d_1a_3x3", "mixed_6a.branch0"),
    BASIC(IRV1 "Mixed_6a/Branch_1/Conv2d_0a_1x1", "mixed_6a.branch1.0"),
    BASIC(IRV1 "Mixed_6a/Branch_1/Conv2d_0b_3x3", "mixed_6a.branch1.1"),
    BASIC(IRV1 "Mixed_6a/Branch_1/Conv2d_1a_3x3", "mixed_6a.branch1.2"),
    BASIC(IRV1 "Mixed_7a/Branch_0/Conv2d_0a_1x1", "mixed_7a.branch0.0"),
    BASIC(IRV1 "Mixed_7a/Branch_0/Conv2d_1a_3x3", "mixed_7a.branch0.1"),
    BASIC(IRV1 "Mixed_7a/Branch_1/Conv2d_0a_1x1", "mixed_7a.branch1.0"),
    BASIC(IRV1 "Mixed_7a/Branch_1/Conv2d_1a_3x3", "mixed_7a.branch1.1"),
    BASIC(IRV1 "Mixed_7a/Branch_2/Conv2d_0a_1x1", "mixed_7a.branch2.0"),
    BASIC(IRV1 "Mixed_7a/Branch_2/Conv2d_0b_3x3", "mixed_7a.branch2.1"),
    BASIC(IRV1 "Mixed_7a/Branch_2/Conv2d_1a_3x3", "mixed_7a.branch2.2"),
    /* the embedding layer (fully connected without bias, batch norm) and the classifier */
    {IRV1 "Bottleneck", "last_linear", "last_bn", IX_LAYOUT_T2},
    {"Logits", "logits", NULL, IX_LAYOUT_T2},
};
#undef BASIC
#undef IRV1

/* leaf names under a row's scope: fn's, then the torch module's (w: the weight module, else
 * the batch norm's) */
static const struct {
    const char *fn, *torch;
    int in_bn;
} TORCH_LEAVES[] = {
    {"weights", "weight", 0},
    {"biases", "bias", 0},
    {"BatchNorm/beta", "bias", 1},
    {"BatchNorm/moving_mean", "running_mean", 1},
    {"BatchNorm/moving_variance", "running_var", 1},
};

/* Matches s against pattern p, where '#' stands for a positive number; *num gets it (or -1). */
static const char *match_scope(const char *p, const char *s, int *num) {
    *num = -1;
    while (*p) {
        if (*p == '#') {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 1 || *s == '0') return NULL;
            *num = (int)v;
            s = end;
            p++;
        } else if (*p++ != *s++) {
            return NULL;
        }
    }
    return *s == '/' ? s + 1 : NULL;
}

/* m with '#' replaced by num - 1 */
static void fill_module(const char *m, int num, const char *leaf, char *buf, size_t cap) {
    const char *h = strchr(m, '#');
    if (h) snprintf(buf, cap, "%.*s%d%s.%s", (int)(h - m), m, num - 1, h + 1, leaf);
    else snprintf(buf, cap, "%s.%s", m, leaf);
}

static int torch_name(const char *name, char *buf, size_t cap, IxLayout *layout) {
    for (size_t r = 0; r < sizeof TORCH_ROWS / sizeof TORCH_ROWS[0]; r++) {
        int num;
        const char *leaf = match_scope(TORCH_ROWS[r].scope, name, &num);
        if (!leaf) continue;
        for (size_t k = 0; k < sizeof TORCH_LEAVES / sizeof TORCH_LEAVES[0]; k++) {
            const char *m = TORCH_LEAVES[k].in_bn ? TORCH_ROWS[r].bn : TORCH_ROWS[r].weight;
            if (strcmp(leaf, TORCH_LEAVES[k].fn) != 0 || !m) continue;
            fill_module(m, num, TORCH_LEAVES[k].torch, buf, cap);
            *layout = k == 0 ? TORCH_ROWS[r].layout : IX_LAYOUT_SAME;
            return 1;
        }
    }
    buf[0] = 0;
    return 0;
}

int ix_source_name(IxFormat fmt, const char *name, char *buf, size_t cap, IxLayout *layout) {
    *layout = IX_LAYOUT_SAME;
    if (fmt == IX_FMT_TORCH) return torch_name(name, buf, cap, layout);
    snprintf(buf, cap, "%s", name); /* TensorFlow: the reference's scopes are fn's */
    return 1;
}

int ix_source_average_name(IxFormat fmt, const char *name, char *buf, size_t cap) {
    buf[0] = 0;
    if (fmt != IX_FMT_TF_CKPT) return 0;
    snprintf(buf, cap, "%s/ExponentialMovingAverage", name);
    return 1;
}

int ix_source_bn_scale(IxFormat fmt, const char *beta_name, char *buf, size_t cap) {
    IxLayout layout;
    char src[512];
    buf[0] = 0;
    if (!ix_source_name(fmt, beta_name, src, sizeof src, &layout)) return 0;
    size_t n = strlen(src);
    if (fmt == IX_FMT_TORCH && n > 5 && strcmp(src + n - 5, ".bias") == 0) {
        snprintf(buf, cap, "%.*s.weight", (int)(n - 5), src);
        return 1;
    }
    if (fmt != IX_FMT_TORCH && n > 5 && strcmp(src + n - 5, "/beta") == 0) {
        snprintf(buf, cap, "%.*s/gamma", (int)(n - 5), src);
        return 1;
    }
    return 0;
}

int ix_source_ignorable(IxFormat fmt, const char *s) {
    size_t n = strlen(s);
    if (fmt == IX_FMT_TORCH) return n >= 20 && strcmp(s + n - 20, ".num_batches_tracked") == 0;
    return strcmp(s, "global_step") == 0;
}

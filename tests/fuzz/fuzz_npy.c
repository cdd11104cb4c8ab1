// clang-format off
// fuzz-sources: runtime/face/mtcnn.c runtime/data/npy.c runtime/data/pickle.c runtime/core/status.c ir/status.c ir/alloc.c
// fuzz-libs: -lm
// fuzz-seeds: ../shared/data/mtcnn/det1.npy
// clang-format on
/* libFuzzer target for the MTCNN weight loading: any bytes into rt_npy_parse_weights, and the
 * arrays it gives into rt_mtcnn_load for each of PNet, RNet and ONet (adapted or not, from the
 * input's length), must load or give an error, never a crash, leak or undefined behaviour (the
 * shape checks, the kernel axis swap, the flattened-layer row permutation, the non-finite
 * check). The nets' variables are a fixed table of the reference's shapes, so the IR and the
 * executor are not linked: this file supplies rt_vars_find over it. Not here: the .npy reader
 * alone (fuzz_torch_pt.c), detection (test_mtcnn_detect.c). Seeds: small synthetic .npy files
 * that tests/fuzz/npy_seeds.py writes (det2/det3.npy exceed -max_len) and det1.npy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/face/mtcnn.h"

static const struct {
    const char *name;
    int rank;
    int64_t dims[4];
} shapes[] = {
    {"pnet/PReLU1/alpha", 1, {10}},
    {"pnet/PReLU2/alpha", 1, {16}},
    {"pnet/PReLU3/alpha", 1, {32}},
    {"pnet/conv1/biases", 1, {10}},
    {"pnet/conv1/weights", 4, {3, 3, 3, 10}},
    {"pnet/conv2/biases", 1, {16}},
    {"pnet/conv2/weights", 4, {3, 3, 10, 16}},
    {"pnet/conv3/biases", 1, {32}},
    {"pnet/conv3/weights", 4, {3, 3, 16, 32}},
    {"pnet/conv4-1/biases", 1, {2}},
    {"pnet/conv4-1/weights", 4, {1, 1, 32, 2}},
    {"pnet/conv4-2/biases", 1, {4}},
    {"pnet/conv4-2/weights", 4, {1, 1, 32, 4}},
    {"rnet/conv1/biases", 1, {28}},
    {"rnet/conv1/weights", 4, {3, 3, 3, 28}},
    {"rnet/conv2/biases", 1, {48}},
    {"rnet/conv2/weights", 4, {3, 3, 28, 48}},
    {"rnet/conv3/biases", 1, {64}},
    {"rnet/conv3/weights", 4, {2, 2, 48, 64}},
    {"rnet/conv4/biases", 1, {128}},
    {"rnet/conv4/weights", 2, {576, 128}},
    {"rnet/conv5-1/biases", 1, {2}},
    {"rnet/conv5-1/weights", 2, {128, 2}},
    {"rnet/conv5-2/biases", 1, {4}},
    {"rnet/conv5-2/weights", 2, {128, 4}},
    {"rnet/prelu1/alpha", 1, {28}},
    {"rnet/prelu2/alpha", 1, {48}},
    {"rnet/prelu3/alpha", 1, {64}},
    {"rnet/prelu4/alpha", 1, {128}},
    {"onet/conv1/biases", 1, {32}},
    {"onet/conv1/weights", 4, {3, 3, 3, 32}},
    {"onet/conv2/biases", 1, {64}},
    {"onet/conv2/weights", 4, {3, 3, 32, 64}},
    {"onet/conv3/biases", 1, {64}},
    {"onet/conv3/weights", 4, {3, 3, 64, 64}},
    {"onet/conv4/biases", 1, {128}},
    {"onet/conv4/weights", 4, {2, 2, 64, 128}},
    {"onet/conv5/biases", 1, {256}},
    {"onet/conv5/weights", 2, {1152, 256}},
    {"onet/conv6-1/biases", 1, {2}},
    {"onet/conv6-1/weights", 2, {256, 2}},
    {"onet/conv6-2/biases", 1, {4}},
    {"onet/conv6-2/weights", 2, {256, 4}},
    {"onet/conv6-3/biases", 1, {10}},
    {"onet/conv6-3/weights", 2, {256, 10}},
    {"onet/prelu1/alpha", 1, {32}},
    {"onet/prelu2/alpha", 1, {64}},
    {"onet/prelu3/alpha", 1, {64}},
    {"onet/prelu4/alpha", 1, {128}},
    {"onet/prelu5/alpha", 1, {256}},
};
enum { N_VARS = sizeof shapes / sizeof shapes[0] };

static RtVars *table(void) {
    static RtVars vs;
    static RtVar v[N_VARS];
    if (vs.v) return &vs;
    for (int i = 0; i < N_VARS; i++) {
        v[i].name = (char *)shapes[i].name;
        v[i].rank = shapes[i].rank;
        v[i].n = 1;
        for (int k = 0; k < v[i].rank; k++) v[i].n *= v[i].dims[k] = shapes[i].dims[k];
        v[i].data = calloc((size_t)v[i].n, sizeof(float));
    }
    vs.prec = 4;
    vs.n = vs.cap = N_VARS;
    vs.v = v;
    return &vs;
}

RtVar *rt_vars_find(RtVars *vs, const char *name) {
    for (int i = 0; i < vs->n; i++)
        if (!strcmp(vs->v[i].name, name)) return &vs->v[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    RtNpyWeights w;
    RtStatus st;
    if (rt_npy_parse_weights(data, size, "fuzz.npy", &w, &st) != 0) return 0;
    static const char *const nets[3] = {"pnet", "rnet", "onet"};
    for (int k = 0; k < 3; k++) rt_mtcnn_load(table(), nets[k], &w, (int)(size & 1), &st);
    rt_npy_free(&w);
    return 0;
}

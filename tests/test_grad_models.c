/* Whole-model gradient checks in float64: each model's training graph (a reduced
 * Inception-ResNet-v1 with the same block structure, and the three MTCNN nets) is differentiated
 * by the autodiff pass and the gradient along one random direction over every parameter is
 * compared with a central difference of the loss. */
#include <math.h>
#include <stdio.h>

#include "frontend/fe.h"
#include "tests/gradcheck.h"
#include "tests/testlib.h"

static void check_model(const char *path, const RtBinding *b, int nb, int label_range) {
    FeOptions fo = {path, NULL, 0, 1};
    int nerr = 0;
    IrGraph *g = fe_compile(&fo, stderr, &nerr, NULL);
    if (!CHECK(g != NULL, "%s: %d frontend errors", path, nerr)) return;
    int n_params = 0;
    for (IrId i = 0; i < g->n_nodes; i++) n_params += g->nodes[i].op == IR_OP_PARAM;
    GcOpts o = {b, nb, 0, 1, label_range, 1e-6, 2024}; /* random params: no ReLU kinks at zero */
    double e = gc_check(&g, &o);
    printf("  %-32s %3d parameter tensors  directional rel err %.2e\n", path, n_params, e);
    CHECK(e < 1e-6, "%s: gradient error %g", path, e);
    ir_graph_free(g);
}

int main(void) {
    RtBinding irv1[] = {{"N", 3}, {"classes", 5}};
    check_model("tests/models/irv1_small.fn", irv1, 2, 5);
    RtBinding pnet[] = {{"N", 2}, {"H", 14}, {"W", 17}};
    check_model("models/mtcnn/pnet.fn", pnet, 3, 1);
    RtBinding rnet[] = {{"N", 2}};
    check_model("models/mtcnn/rnet.fn", rnet, 1, 1);
    check_model("models/mtcnn/onet.fn", rnet, 1, 1);
    return test_summary("test_grad_models");
}

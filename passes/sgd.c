/* Plain SGD update: p <- p - lr * grad for every "grad/<name>" output. The other optimisers
 * (ADAGRAD, ADAM, ...) are later passes of the same shape. */
#include "passes/passes.h"

#include <string.h>

int pass_sgd(IrGraph **gp, PassCtx *ctx) {
    IrGraph *g = *gp;
    IrShape scalar;
    memset(&scalar, 0, sizeof scalar);
    IrId lr = IR_NONE;
    int n_out = g->n_outputs;
    for (int i = 0; i < n_out; i++) {
        const char *name = ir_str(g, g->outputs[i].name);
        if (strncmp(name, "grad/", 5) != 0) continue;
        if (lr == IR_NONE)
            lr = ir_leaf(g, IR_OP_INPUT, "learning_rate", IR_DT_FLOAT, &scalar, IR_INIT_ZEROS, 0, 0);
        IrId p = ir_find_leaf(g, IR_OP_PARAM, name + 5);
        IrId grad = g->outputs[i].id;
        IrId upd = ir_binary(g, IR_OP_SUB, p, ir_binary(g, IR_OP_MUL, grad, lr));
        IrId in[2] = {p, upd};
        if (p == IR_NONE || upd == IR_NONE || ir_make(g, IR_OP_ASSIGN, in, 2, NULL) == IR_NONE)
            return -1;
    }
    return 0;
}

// fuzz-sources: frontend/builtins.c frontend/diag.c frontend/lex.c frontend/lower.c frontend/parse.c ir/status.c ir/ir.c ir/rules.c ir/rules_contraction.c ir/rules_elementwise.c ir/rules_movement.c ir/rules_nn.c ir/verify.c ir/print.c ir/alloc.c
// fuzz-libs: -lm
// fuzz-seeds: models/*.fn models/lib/*.fn tests/models/*.fn tests/dsl_errors/*.fn
/* libFuzzer target for the DSL frontend: any bytes, taken as a model file models/fuzz.fn (so
 * that `import "lib/..."` finds the layer library), must parse and lower into a graph that the
 * verifier accepts, or fail with at least one reported error; never crash, hang, leak, overflow
 * the stack or invoke undefined behaviour. Both graphs are built (training 0 and 1), under
 * FeLimits lower than the defaults so that no input takes long.
 * Not here: the passes (autodiff and the rest run on graphs the frontend accepted; tests/). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/fe.h"

static void one(const uint8_t *data, size_t size, int training) {
    char *diag = NULL;
    size_t diag_len = 0;
    FILE *d = open_memstream(&diag, &diag_len);
    if (!d) return;
    /* limits far below the defaults keep every input fast (the real models stay well inside) */
    static const FeLimits lim = {200000, 20000, 4 << 20, 1000};
    FeOptions o = {"models/fuzz.fn", NULL, 0, training};
    int n_errors = -1;
    FnStatus st = {""};
    IrGraph *g = fe_compile_text(&o, &lim, (const char *)data, size, d, &n_errors, &st);
    fclose(d);
    if (g) {
        if (n_errors != 0 || ir_verify(g) != 0 || st.msg[0]) __builtin_trap(); /* accepted: must be sound */
        ir_graph_free(g);
    } else if (n_errors < 1 || !strstr(diag, "error: ") || !strstr(st.msg, "error: ")) {
        __builtin_trap(); /* refused: must say why, in diag and in the status */
    }
    free(diag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size, 0);
    one(data, size, 1);
    return 0;
}

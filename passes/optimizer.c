/* The optimiser update: for every "grad/<name>" output, the TensorFlow 1.x update of the
 * parameter and its slots, as IR (so it is fused and code-generated like the rest of the step).
 * Slots are STATE variables named as TensorFlow names them ("<var>/Adam", "<var>/Adam_1", ...).
 * Every ASSIGN reads the values from before the step; the new slot values are used directly.
 *
 *   SGD       p -= lr g
 *   ADAGRAD   a += g^2 (a0 = 0.1);  p -= lr g / sqrt(a)
 *   ADADELTA  a = rho a + (1-rho) g^2;  u = sqrt(au + eps) / sqrt(a + eps) g;
 *             au = rho au + (1-rho) u^2;  p -= lr u              (rho 0.9, eps 1e-6)
 *   ADAM      lr_t = lr sqrt(1-b2^t) / (1-b1^t);  m += (1-b1)(g - m);  v += (1-b2)(g^2 - v);
 *             p -= lr_t m / (sqrt(v) + eps)                      (b1 0.9, b2 0.999, eps 0.1)
 *   RMSPROP   ms += (1-rho)(g^2 - ms) (ms0 = 1);  mom = mu mom + lr g / sqrt(ms + eps);
 *             p -= mom                                           (rho 0.9, mu 0.9, eps 1.0)
 *   MOM       a = mu a + g;  p -= lr g + lr mu a                 (Nesterov, mu 0.9)
 *
 * g is the mean of the data-parallel replicas' gradients (an ALLREDUCE of group ALWAYS, which
 * a one-process run drops: passes/replicas.c), and "grad/<name>" is set to it.
 */
#include "passes/passes.h"

#include <string.h>

const char *const pass_optimizer_names[PASS_OPT_COUNT] = {"SGD", "ADAGRAD", "ADADELTA",
                                                          "ADAM", "RMSPROP", "MOM"};

int pass_optimizer_parse(const char *name) {
    for (int i = 0; i < PASS_OPT_COUNT; i++)
        if (strcmp(name, pass_optimizer_names[i]) == 0) return i;
    return -1;
}

typedef struct {
    IrGraph *g;
    IrId lr;
    int ok;
} Builder;

static IrId slot(Builder *b, IrId p, const char *suffix, IrInit init, double value) {
    char name[600];
    snprintf(name, sizeof name, "%s/%s", ir_str(b->g, b->g->nodes[p].attr.u.leaf.name), suffix);
    IrShape s = b->g->nodes[p].shape;
    IrId id = ir_leaf(b->g, IR_OP_STATE, name, IR_DT_FLOAT, &s, init, value, 0);
    b->ok &= id != IR_NONE;
    return id;
}

static void assign(Builder *b, IrId var, IrId value) {
    IrId in[2] = {var, value};
    b->ok &= var != IR_NONE && value != IR_NONE && ir_make(b->g, IR_OP_ASSIGN, in, 2, NULL) != IR_NONE;
}

/* shorthands */
static IrId mul(Builder *b, IrId x, IrId y) { return ir_binary(b->g, IR_OP_MUL, x, y); }
static IrId add(Builder *b, IrId x, IrId y) { return ir_binary(b->g, IR_OP_ADD, x, y); }
static IrId sub(Builder *b, IrId x, IrId y) { return ir_binary(b->g, IR_OP_SUB, x, y); }
static IrId scale(Builder *b, IrId x, double f) { return ir_scalar_op(b->g, IR_OP_SCALE, x, f); }
static IrId adds(Builder *b, IrId x, double f) { return ir_scalar_op(b->g, IR_OP_ADDS, x, f); }
static IrId sq(Builder *b, IrId x) { return ir_unary(b->g, IR_OP_SQUARE, x); }

/* x + (1 - decay) (target - x) */
static IrId lerp(Builder *b, IrId x, IrId target, double decay) {
    return add(b, x, scale(b, sub(b, target, x), 1 - decay));
}

static void update(Builder *b, PassOptimizer kind, IrId p, IrId g, IrId adam_lr) {
    IrId lr = b->lr;
    switch (kind) {
    case PASS_OPT_SGD: assign(b, p, sub(b, p, mul(b, g, lr))); break;
    case PASS_OPT_ADAGRAD: {
        IrId a = slot(b, p, "Adagrad", IR_INIT_CONST, 0.1), an = add(b, a, sq(b, g));
        assign(b, a, an);
        assign(b, p, sub(b, p, mul(b, mul(b, g, lr), ir_unary(b->g, IR_OP_RSQRT, an))));
        break;
    }
    case PASS_OPT_ADADELTA: {
        const double rho = 0.9, eps = 1e-6;
        IrId a = slot(b, p, "Adadelta", IR_INIT_ZEROS, 0), au = slot(b, p, "Adadelta_1", IR_INIT_ZEROS, 0);
        IrId an = lerp(b, a, sq(b, g), rho);
        IrId u = mul(b, mul(b, ir_unary(b->g, IR_OP_SQRT, adds(b, au, eps)),
                            ir_unary(b->g, IR_OP_RSQRT, adds(b, an, eps))),
                     g);
        assign(b, a, an);
        assign(b, au, lerp(b, au, sq(b, u), rho));
        assign(b, p, sub(b, p, mul(b, u, lr)));
        break;
    }
    case PASS_OPT_ADAM: {
        const double b1 = 0.9, b2 = 0.999, eps = 0.1;
        IrId m = slot(b, p, "Adam", IR_INIT_ZEROS, 0), v = slot(b, p, "Adam_1", IR_INIT_ZEROS, 0);
        IrId mn = lerp(b, m, g, b1), vn = lerp(b, v, sq(b, g), b2);
        assign(b, m, mn);
        assign(b, v, vn);
        IrId step = ir_binary(b->g, IR_OP_DIV, mul(b, mn, adam_lr), adds(b, ir_unary(b->g, IR_OP_SQRT, vn), eps));
        assign(b, p, sub(b, p, step));
        break;
    }
    case PASS_OPT_RMSPROP: {
        const double rho = 0.9, mu = 0.9, eps = 1.0;
        IrId ms = slot(b, p, "RMSProp", IR_INIT_ONES, 0), mom = slot(b, p, "RMSProp_1", IR_INIT_ZEROS, 0);
        IrId msn = lerp(b, ms, sq(b, g), rho);
        IrId momn = add(b, scale(b, mom, mu), mul(b, mul(b, g, lr), ir_unary(b->g, IR_OP_RSQRT, adds(b, msn, eps))));
        assign(b, ms, msn);
        assign(b, mom, momn);
        assign(b, p, sub(b, p, momn));
        break;
    }
    case PASS_OPT_MOM: {
        const double mu = 0.9;
        IrId a = slot(b, p, "Momentum", IR_INIT_ZEROS, 0), an = add(b, scale(b, a, mu), g);
        assign(b, a, an);
        assign(b, p, sub(b, p, mul(b, add(b, g, scale(b, an, mu)), lr)));
        break;
    }
    default: b->ok = 0;
    }
}

int pass_optimizer(IrGraph **gp, PassOptimizer kind) {
    IrGraph *g = *gp;
    IrShape scalar;
    memset(&scalar, 0, sizeof scalar);
    Builder b = {g, IR_NONE, 1};
    IrId adam_lr = IR_NONE;
    int n_out = g->n_outputs;
    /* the last parameter's update first: simplify orders the graph from the assignments, so the
       updates then follow the backward pass, each where its gradient is ready, and the
       activations and gradients are freed as it goes, not kept until the first layer's gradient
       (Inception-ResNet-v1's step: 12.5 -> 8.8 MiB a image planned, ADAGRAD) */
    for (int o = 0; o < n_out && b.ok; o++) {
        int i = n_out - 1 - o;
        const char *name = ir_str(g, g->outputs[i].name);
        if (strncmp(name, "grad/", 5) != 0) continue;
        if (b.lr == IR_NONE) {
            g->cur_scope = ir_intern(g, pass_optimizer_names[kind]);
            b.lr = ir_leaf(g, IR_OP_INPUT, "learning_rate", IR_DT_FLOAT, &scalar, IR_INIT_ZEROS, 0, 0);
            if (kind == PASS_OPT_ADAM) { /* lr_t, and the powers advanced once per step */
                IrId p1 = ir_leaf(g, IR_OP_STATE, "beta1_power", IR_DT_FLOAT, &scalar, IR_INIT_CONST, 0.9, 0);
                IrId p2 = ir_leaf(g, IR_OP_STATE, "beta2_power", IR_DT_FLOAT, &scalar, IR_INIT_CONST, 0.999, 0);
                IrId num = ir_unary(g, IR_OP_SQRT, adds(&b, ir_unary(g, IR_OP_NEG, p2), 1));
                IrId den = adds(&b, ir_unary(g, IR_OP_NEG, p1), 1);
                adam_lr = mul(&b, b.lr, ir_binary(g, IR_OP_DIV, num, den));
                assign(&b, p1, scale(&b, p1, 0.9));
                assign(&b, p2, scale(&b, p2, 0.999));
            }
        }
        IrId p = ir_find_leaf(g, IR_OP_PARAM, name + 5);
        if (p == IR_NONE) {
            snprintf(g->err, sizeof g->err, "optimizer: no parameter %s", name + 5);
            return -1;
        }
        IrAttr mean;
        memset(&mean, 0, sizeof mean);
        mean.u.replicas = (IrReplicasAttr){IR_REPLICAS_ALWAYS, 1};
        IrId grad = ir_make(g, IR_OP_ALLREDUCE, &g->outputs[i].id, 1, &mean);
        b.ok &= grad != IR_NONE && ir_set_output(g, name, grad) >= 0;
        if (b.ok) update(&b, kind, p, grad, adam_lr);
    }
    if (g->oom) { /* also a failure the builder passed by (an interned scope name) */
        snprintf(g->err, sizeof g->err, "optimizer: out of memory");
        return -1;
    }
    if (!b.ok) {
        if (!g->err[0]) snprintf(g->err, sizeof g->err, "optimizer: cannot build the update");
        return -1;
    }
    return 0;
}

/* The IR text printer. One line per node:
 *   %7 = conv2d(%3, %6) {k=3x3 s=2x2 pad=valid} : f[N,((image_size-3)//2+1),...] @Scope/Name
 * followed by `output name = %id` lines. Symbols come first as `sym name [= default]`.
 * ir_parse_text (parse_text.c) reads the same text back. */
#include "ir/ir.h"

static const char *init_name[] = {"zeros", "ones", "const", "glorot_uniform"};

static void print_attr(const IrGraph *g, const IrNode *n, FILE *f) {
    char buf[1024];
    const IrAttr *a = &n->attr;
    switch (ir_op_info[n->op].attr) {
    case IR_ATTR_LEAF:
        fprintf(f, " {name=\"%s\" init=%s", ir_str(g, a->u.leaf.name), init_name[a->u.leaf.init]);
        if (a->u.leaf.init == IR_INIT_CONST) fprintf(f, " value=%.17g", a->u.leaf.value);
        if (a->u.leaf.flags & IR_LEAF_DECAY) fprintf(f, " decay");
        if (a->u.leaf.flags & IR_LEAF_INT) fprintf(f, " int32");
        break;
    case IR_ATTR_SCALAR: fprintf(f, " {f=%.17g", a->u.scalar.f); break;
    case IR_ATTR_WINDOW:
        fprintf(f, " {k=%dx%d s=%dx%d pad=%s", a->u.window.kh, a->u.window.kw, a->u.window.sh,
                a->u.window.sw, a->u.window.same ? "same" : "valid");
        break;
    case IR_ATTR_AXIS:
        fprintf(f, " {axis=%d start=%d len=%d", a->u.axis.axis, a->u.axis.start, a->u.axis.len);
        break;
    case IR_ATTR_MATMUL: fprintf(f, " {ta=%d tb=%d", a->u.matmul.ta, a->u.matmul.tb); break;
    case IR_ATTR_REDUCE: fprintf(f, " {keep=%d mean=%d", a->u.reduce.keep, a->u.reduce.mean); break;
    case IR_ATTR_REPLICAS: fprintf(f, " {group=%d mean=%d", a->u.replicas.group, a->u.replicas.mean); break;
    case IR_ATTR_NONE: fprintf(f, " {"); break;
    }
    if (a->shape.rank) {
        ir_shape_format(g, &a->shape, buf, sizeof buf);
        fprintf(f, " shape=%s", buf);
    }
    if (a->copy) fprintf(f, "%scopy=%d", ir_op_info[n->op].attr == IR_ATTR_NONE && !a->shape.rank ? "" : " ", a->copy);
    fprintf(f, "}");
}

void ir_print(const IrGraph *g, FILE *f) {
    char buf[1024];
    for (int i = 0; i < g->n_syms; i++) {
        fprintf(f, "sym %s", g->syms[i].name);
        if (g->syms[i].dflt >= 0) fprintf(f, " = %lld", (long long)g->syms[i].dflt);
        fprintf(f, "\n");
    }
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        fprintf(f, "%%%d = %s(", id, ir_op_info[n->op].name);
        for (int i = 0; i < n->n_in; i++) fprintf(f, "%s%%%d", i ? ", " : "", n->in[i]);
        fprintf(f, ")");
        print_attr(g, n, f);
        ir_shape_format(g, &n->shape, buf, sizeof buf);
        fprintf(f, " : %s%s", n->dtype == IR_DT_INT32 ? "i" : "f", buf);
        if (ir_str(g, n->scope)[0]) fprintf(f, " @%s", ir_str(g, n->scope));
        fprintf(f, "\n");
    }
    for (int i = 0; i < g->n_outputs; i++)
        fprintf(f, "output %s = %%%d\n", ir_str(g, g->outputs[i].name), g->outputs[i].id);
}

/* Artifact writing and reading: the header (magic, version, CRC, length) and the protobuf-c
 * conversion of IrGraph. Reading rebuilds each graph through ir_make, so shapes are inferred
 * and checked again: a damaged artifact fails with a message, never a crash. */
#include "runtime/core/artifact.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/core/framed.h"
#include "runtime/core/pb_alloc.h"
#include "runtime/core/proto/fn_artifact.pb-c.h"

static const char MAGIC[8] = {'F', 'N', 'A', 'R', 'T', 'I', 'F', 'C'};

/* the attribute's integers, in struct order */
static int attr_ints(const IrNode *n, int32_t *v) {
    const IrAttr *a = &n->attr;
    switch (ir_op_info[n->op].attr) {
    case IR_ATTR_LEAF: v[0] = a->u.leaf.name; v[1] = a->u.leaf.init; v[2] = a->u.leaf.flags; return 3;
    case IR_ATTR_WINDOW:
        v[0] = a->u.window.kh; v[1] = a->u.window.kw; v[2] = a->u.window.sh;
        v[3] = a->u.window.sw; v[4] = a->u.window.same;
        return 5;
    case IR_ATTR_AXIS: v[0] = a->u.axis.axis; v[1] = a->u.axis.start; v[2] = a->u.axis.len; return 3;
    case IR_ATTR_MATMUL: v[0] = a->u.matmul.ta; v[1] = a->u.matmul.tb; return 2;
    case IR_ATTR_REDUCE: v[0] = a->u.reduce.keep; v[1] = a->u.reduce.mean; return 2;
    case IR_ATTR_REPLICAS: v[0] = a->u.replicas.group; v[1] = a->u.replicas.mean; return 2;
    default: return 0;
    }
}

/* The writer builds a Fn__Graph that borrows g's arrays (strings, inputs, shapes) and owns only
 * its messages and their pointer arrays; each array's count is set once the array exists, and
 * its entries are NULL until made, so graph_proto_free takes a graph built halfway. */

static void graph_proto_free(Fn__Graph *pg) {
    if (!pg) return;
    for (size_t i = 0; i < pg->n_syms; i++) free(pg->syms[i]);
    for (size_t i = 0; i < pg->n_dims; i++) free(pg->dims[i]);
    for (size_t i = 0; i < pg->n_nodes; i++)
        if (pg->nodes[i]) {
            free(pg->nodes[i]->ints);
            free(pg->nodes[i]);
        }
    for (size_t i = 0; i < pg->n_outputs; i++) free(pg->outputs[i]);
    for (size_t i = 0; i < pg->n_marks; i++) free(pg->marks[i]);
    free(pg->syms);
    free(pg->dims);
    free(pg->nodes);
    free(pg->outputs);
    free(pg->marks);
    free(pg);
}

/* g's symbols and dimensions into pg; 0, or -1 when out of memory */
static int syms_dims_to_proto(const IrGraph *g, Fn__Graph *pg) {
    if (!(pg->syms = fn_calloc((size_t)g->n_syms + 1, sizeof *pg->syms))) return -1;
    pg->n_syms = (size_t)g->n_syms;
    for (int i = 0; i < g->n_syms; i++) {
        Fn__Sym *s = fn_calloc(1, sizeof *s);
        if (!s) return -1;
        fn__sym__init(s);
        s->name = g->syms[i].name;
        s->dflt = g->syms[i].dflt;
        pg->syms[i] = s;
    }
    if (!(pg->dims = fn_calloc((size_t)g->n_dims + 1, sizeof *pg->dims))) return -1;
    pg->n_dims = (size_t)g->n_dims;
    for (int i = 0; i < g->n_dims; i++) {
        Fn__Dim *d = fn_calloc(1, sizeof *d);
        if (!d) return -1;
        fn__dim__init(d);
        d->kind = (int32_t)g->dims[i].kind;
        d->a = g->dims[i].a;
        d->b = g->dims[i].b;
        pg->dims[i] = d;
    }
    return 0;
}

/* node n as a message; NULL when out of memory */
static Fn__Node *node_to_proto(const IrNode *n) {
    Fn__Node *pn = fn_calloc(1, sizeof *pn);
    int32_t *ints = fn_calloc(8, sizeof(int32_t));
    if (!pn || !ints) {
        free(pn);
        free(ints);
        return NULL;
    }
    fn__node__init(pn);
    pn->op = (char *)ir_op_info[n->op].name;
    pn->n_inputs = (size_t)n->n_in;
    pn->inputs = (int32_t *)n->in;
    pn->ints = ints;
    pn->n_ints = (size_t)attr_ints(n, pn->ints);
    pn->has_f = 1;
    pn->f = ir_op_info[n->op].attr == IR_ATTR_LEAF ? n->attr.u.leaf.value : n->attr.u.scalar.f;
    pn->n_shape = (size_t)n->attr.shape.rank;
    pn->shape = (int32_t *)n->attr.shape.d;
    pn->has_scope = 1;
    pn->scope = n->scope;
    pn->has_copy = n->attr.copy != 0;
    pn->copy = n->attr.copy;
    return pn;
}

/* a list of named nodes (outputs or marks) into *dst and *n_dst; 0, or -1 when out of memory */
static int named_to_proto(const IrNamed *list, int count, Fn__Named ***dst, size_t *n_dst) {
    if (!(*dst = fn_calloc((size_t)count + 1, sizeof **dst))) return -1;
    *n_dst = (size_t)count;
    for (int i = 0; i < count; i++) {
        Fn__Named *m = fn_calloc(1, sizeof *m);
        if (!m) return -1;
        fn__named__init(m);
        m->name = list[i].name;
        m->id = list[i].id;
        (*dst)[i] = m;
    }
    return 0;
}

/* g as a message named `name`; NULL when out of memory (nothing left allocated) */
static Fn__Graph *graph_to_proto(const IrGraph *g, const char *name) {
    Fn__Graph *pg = fn_calloc(1, sizeof *pg);
    if (!pg) return NULL;
    fn__graph__init(pg);
    pg->name = (char *)name;
    pg->n_strs = (size_t)g->n_strs;
    pg->strs = g->strs;
    int rc = syms_dims_to_proto(g, pg);
    if (rc == 0 && !(pg->nodes = fn_calloc((size_t)g->n_nodes + 1, sizeof *pg->nodes))) rc = -1;
    if (rc == 0) pg->n_nodes = (size_t)g->n_nodes;
    for (int i = 0; rc == 0 && i < g->n_nodes; i++)
        if (!(pg->nodes[i] = node_to_proto(&g->nodes[i]))) rc = -1;
    if (rc == 0) rc = named_to_proto(g->outputs, g->n_outputs, &pg->outputs, &pg->n_outputs);
    if (rc == 0) rc = named_to_proto(g->marks, g->n_marks, &pg->marks, &pg->n_marks);
    if (rc < 0) {
        graph_proto_free(pg);
        return NULL;
    }
    return pg;
}

int rt_artifact_save(const char *path, const char *source, IrGraph *const *graphs,
                     const char *const *names, int n, RtStatus *st) {
    Fn__Artifact art;
    fn__artifact__init(&art);
    art.source = (char *)source;
    art.compiler = "fn " FN_VERSION;
    art.graphs = fn_calloc((size_t)n + 1, sizeof *art.graphs);
    int made = 0, ok = art.graphs != NULL;
    for (; ok && made < n; made++)
        if (!(art.graphs[made] = graph_to_proto(graphs[made], names[made]))) ok = 0;
    art.n_graphs = (size_t)n;
    size_t len = ok ? fn__artifact__get_packed_size(&art) : 0;
    unsigned char *buf = ok ? fn_malloc(len ? len : 1) : NULL;
    if (buf) fn__artifact__pack(&art, buf);
    for (int i = 0; i < made; i++) graph_proto_free(art.graphs[i]);
    free(art.graphs);
    if (!buf) return rt_fail(st, "out of memory writing %s", path);
    int rc = rt_framed_write(path, MAGIC, FN_ARTIFACT_VERSION, buf, len, 0, st);
    free(buf);
    return rc;
}

#define STR(i) ((i) >= 0 && (size_t)(i) < pg->n_strs)

/* the dimensions into g, dmap[i] for the artifact's dimension i; 0, or -1 with st */
static int dims_from_proto(const Fn__Graph *pg, IrGraph *g, IrDim *dmap, RtStatus *st) {
    for (size_t i = 0; i < pg->n_dims; i++) {
        const Fn__Dim *d = pg->dims[i];
        int64_t a = d->a, b = d->b;
        if (d->kind == IR_DIM_CONST) { dmap[i] = ir_dim_const(g, a); continue; }
        if (d->kind == IR_DIM_SYM) {
            if (a < 0 || (size_t)a >= pg->n_syms) return rt_fail(st, "dimension %zu names no symbol", i);
            dmap[i] = ir_dim_sym(g, pg->syms[a]->name, pg->syms[a]->dflt);
            continue;
        }
        if (a < 0 || b < 0 || (size_t)a >= i || (size_t)b >= i) return rt_fail(st, "dimension %zu is malformed", i);
        switch (d->kind) {
        case IR_DIM_ADD: dmap[i] = ir_dim_add(g, dmap[a], dmap[b]); break;
        case IR_DIM_SUB: dmap[i] = ir_dim_sub(g, dmap[a], dmap[b]); break;
        case IR_DIM_MUL: dmap[i] = ir_dim_mul(g, dmap[a], dmap[b]); break;
        case IR_DIM_FLOORDIV: dmap[i] = ir_dim_floordiv(g, dmap[a], dmap[b]); break;
        default: return rt_fail(st, "dimension %zu has unknown kind %d", i, d->kind);
        }
    }
    return 0;
}

/* node i's attribute (of op's kind) into at; strings through smap; 0, or -1 with st */
static int attr_from_proto(const Fn__Graph *pg, size_t i, int op, const int *smap, IrAttr *at, RtStatus *st) {
    const Fn__Node *pn = pg->nodes[i];
    const int32_t *v = pn->ints;
    size_t ni = pn->n_ints;
    memset(at, 0, sizeof *at);
    switch (ir_op_info[op].attr) {
    case IR_ATTR_LEAF:
        if (ni != 3 || !STR(v[0])) return rt_fail(st, "node %zu: bad leaf attribute", i);
        at->u.leaf = (IrLeafAttr){smap[v[0]], (IrInit)v[1], pn->f, v[2]};
        break;
    case IR_ATTR_SCALAR: at->u.scalar.f = pn->f; break;
    case IR_ATTR_WINDOW:
        if (ni != 5) return rt_fail(st, "node %zu: bad window attribute", i);
        at->u.window = (IrWindowAttr){v[0], v[1], v[2], v[3], v[4]};
        break;
    case IR_ATTR_AXIS:
        if (ni != 3) return rt_fail(st, "node %zu: bad axis attribute", i);
        at->u.axis = (IrAxisAttr){v[0], v[1], v[2]};
        break;
    case IR_ATTR_MATMUL:
        if (ni != 2) return rt_fail(st, "node %zu: bad matmul attribute", i);
        at->u.matmul = (IrMatmulAttr){v[0], v[1]};
        break;
    case IR_ATTR_REDUCE:
        if (ni != 2) return rt_fail(st, "node %zu: bad reduce attribute", i);
        at->u.reduce = (IrReduceAttr){v[0], v[1]};
        break;
    case IR_ATTR_REPLICAS:
        if (ni != 2 || v[0] < 0 || v[0] >= IR_REPLICAS_COUNT) return rt_fail(st, "node %zu: bad replicas attribute", i);
        at->u.replicas = (IrReplicasAttr){v[0], v[1]};
        break;
    case IR_ATTR_NONE: break;
    }
    return 0;
}

/* node i into g through ir_make, nmap[i] its id; 0, or -1 with st */
static int node_from_proto(const Fn__Graph *pg, size_t i, IrGraph *g, const int *smap, const IrDim *dmap, IrId *nmap,
                           RtStatus *st) {
    const Fn__Node *pn = pg->nodes[i];
    int op = -1;
    for (int k = 0; k < IR_OP_COUNT; k++)
        if (strcmp(ir_op_info[k].name, pn->op) == 0) op = k;
    if (op < 0) return rt_fail(st, "node %zu uses op '%s', unknown to this fnrun (recompile)", i, pn->op);
    if (pn->n_inputs > IR_MAX_IN || pn->n_shape > IR_MAX_RANK || pn->n_ints > 8)
        return rt_fail(st, "node %zu is malformed", i);
    IrAttr at;
    if (attr_from_proto(pg, i, op, smap, &at, st) < 0) return -1;
    at.copy = pn->has_copy ? pn->copy : 0;
    at.shape.rank = (int)pn->n_shape;
    for (size_t k = 0; k < pn->n_shape; k++) {
        if (pn->shape[k] < 0 || (size_t)pn->shape[k] >= pg->n_dims) return rt_fail(st, "node %zu: bad shape", i);
        at.shape.d[k] = dmap[pn->shape[k]];
    }
    IrId in[IR_MAX_IN];
    for (size_t k = 0; k < pn->n_inputs; k++) {
        if (pn->inputs[k] < 0 || (size_t)pn->inputs[k] >= i) return rt_fail(st, "node %zu: bad input", i);
        in[k] = nmap[pn->inputs[k]];
    }
    g->cur_scope = pn->has_scope && STR(pn->scope) ? smap[pn->scope] : 0;
    nmap[i] = ir_make(g, (IrOp)op, in, (int)pn->n_inputs, &at);
    if (nmap[i] == IR_NONE) return rt_fail(st, "node %zu (%s): %s", i, pn->op, g->err);
    return 0;
}

/* the outputs and marks; 0, or -1 with st */
static int outputs_from_proto(const Fn__Graph *pg, IrGraph *g, const IrId *nmap, RtStatus *st) {
    for (size_t i = 0; i < pg->n_outputs + pg->n_marks; i++) {
        const Fn__Named *m = i < pg->n_outputs ? pg->outputs[i] : pg->marks[i - pg->n_outputs];
        if (!STR(m->name) || m->id < 0 || (size_t)m->id >= pg->n_nodes) return rt_fail(st, "bad output entry");
        if (i < pg->n_outputs) ir_set_output(g, pg->strs[m->name], nmap[m->id]);
        else ir_add_mark(g, pg->strs[m->name], nmap[m->id]);
    }
    return 0;
}
#undef STR

static IrGraph *graph_from_proto(const Fn__Graph *pg, RtStatus *st) {
    IrGraph *g = ir_graph_new();
    int *smap = fn_malloc((pg->n_strs + 1) * sizeof(int));
    IrDim *dmap = fn_malloc((pg->n_dims + 1) * sizeof(IrDim));
    IrId *nmap = fn_malloc((pg->n_nodes + 1) * sizeof(IrId));
    int rc = g && smap && dmap && nmap ? 0 : rt_fail(st, "out of memory");
    for (size_t i = 0; i < pg->n_strs && rc == 0; i++) smap[i] = ir_intern(g, pg->strs[i]);
    for (size_t i = 0; i < pg->n_syms && rc == 0; i++) ir_dim_sym(g, pg->syms[i]->name, pg->syms[i]->dflt);
    if (rc == 0 && g->oom) rc = rt_fail(st, "out of memory");
    if (rc == 0) rc = dims_from_proto(pg, g, dmap, st);
    for (size_t i = 0; i < pg->n_nodes && rc == 0; i++) rc = node_from_proto(pg, i, g, smap, dmap, nmap, st);
    if (rc == 0) rc = outputs_from_proto(pg, g, nmap, st);
    if (rc == 0 && g->oom) rc = rt_fail(st, "out of memory");
    free(smap);
    free(dmap);
    free(nmap);
    if (rc == 0) return g;
    ir_graph_free(g);
    return NULL;
}

/* The payload (fn_artifact.proto) into a; name for messages. protobuf-c allocates through
 * fn_malloc too (rt_pb_allocator: a failure is a failed unpack). */

static int decode(const unsigned char *buf, size_t len, const char *path, RtArtifact *a, RtStatus *st) {
    Fn__Artifact *pa = fn__artifact__unpack(&rt_pb_allocator, len, buf);
    if (!pa) return rt_fail(st, "artifact %s is corrupt (cannot decode, or out of memory)", path);
    a->source = fn_strdup(pa->source);
    a->compiler = fn_strdup(pa->compiler);
    a->n = (int)pa->n_graphs;
    a->names = fn_calloc(pa->n_graphs + 1, sizeof(char *));
    a->graphs = fn_calloc(pa->n_graphs + 1, sizeof(IrGraph *));
    int rc = a->source && a->compiler && a->names && a->graphs ? 0 : rt_fail(st, "out of memory reading %s", path);
    for (size_t i = 0; i < pa->n_graphs && rc == 0; i++) {
        if (!(a->names[i] = fn_strdup(pa->graphs[i]->name))) {
            rc = rt_fail(st, "out of memory reading %s", path);
            break;
        }
        a->graphs[i] = graph_from_proto(pa->graphs[i], st);
        if (!a->graphs[i]) {
            char msg[sizeof st->msg];
            memcpy(msg, st->msg, sizeof msg);
            rc = rt_fail(st, "artifact %s, graph %s: %s", path, pa->graphs[i]->name, msg);
        }
    }
    fn__artifact__free_unpacked(pa, &rt_pb_allocator);
    if (rc) rt_artifact_free(a);
    return rc;
}

int rt_artifact_load(const char *path, RtArtifact *a, RtStatus *st) {
    memset(a, 0, sizeof *a);
    unsigned char *buf;
    size_t len;
    if (rt_framed_read(path, MAGIC, FN_ARTIFACT_VERSION, "artifact",
                       "recompile it with this fn's fnc", &buf, &len, st) < 0)
        return -1;
    int rc = decode(buf, len, path, a, st);
    free(buf);
    return rc;
}

int rt_artifact_copy(const char *from, const char *to, RtStatus *st) {
    unsigned char *buf;
    size_t len;
    if (rt_framed_read(from, MAGIC, FN_ARTIFACT_VERSION, "artifact", "recompile it with this fn's fnc", &buf, &len,
                       st) < 0)
        return -1;
    int rc = rt_framed_write(to, MAGIC, FN_ARTIFACT_VERSION, buf, len, 0, st);
    free(buf);
    return rc;
}

int rt_artifact_from_bytes(const void *data, size_t size, const char *name, RtArtifact *a, RtStatus *st) {
    memset(a, 0, sizeof *a);
    const unsigned char *payload;
    size_t len;
    if (rt_framed_parse(data, size, MAGIC, FN_ARTIFACT_VERSION, "artifact", name, "recompile it with this fn's fnc",
                        &payload, &len, st) < 0)
        return -1;
    return decode(payload, len, name, a, st);
}

IrGraph *rt_artifact_graph(const RtArtifact *a, const char *name) {
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->names[i], name) == 0) return a->graphs[i];
    return NULL;
}

void rt_artifact_free(RtArtifact *a) {
    for (int i = 0; i < a->n; i++) {
        if (a->names) free(a->names[i]);
        if (a->graphs) ir_graph_free(a->graphs[i]);
    }
    free(a->names);
    free(a->graphs);
    free(a->source);
    free(a->compiler);
    memset(a, 0, sizeof *a);
}

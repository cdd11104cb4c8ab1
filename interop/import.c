/* `fnrun import` (see import.h): the pipeline is ix_import, one phase a function below it:
 * read the source, pick the artifact's graphs, infer its free dimensions from the source's
 * shapes, bind and fill the variables, then the moving averages, then write.
 * What this is not: a reader (interop/tf_*.c, torch_pt.c) nor the name tables (names.c).
 */
#include "interop/import.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/core/artifact.h"
#include "runtime/core/checkpoint.h"
#include "runtime/core/ema.h"

void ix_import_defaults(IxImportOpts *o) {
    memset(o, 0, sizeof *o);
    o->format = IX_FMT_AUTO;
    o->seed = 666;
    o->log = stdout;
}

const char *ix_format_name(IxFormat fmt) {
    static const char *const names[] = {"auto", "TensorFlow checkpoint", "TensorFlow frozen graph",
                                        "PyTorch state dict"};
    return names[fmt];
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int ix_detect_format(const char *src, IxFormat *fmt, RtStatus *st) {
    char index[4096];
    snprintf(index, sizeof index, "%s.index", src);
    FILE *f = fopen(src, "rb");
    if (!f && (f = fopen(index, "rb"))) {
        fclose(f);
        *fmt = IX_FMT_TF_CKPT; /* a checkpoint's prefix */
        return 0;
    }
    if (!f) return rt_fail(st, "cannot read %s: %s", src, strerror(errno));
    unsigned char m[4] = {0};
    size_t got = fread(m, 1, 4, f);
    fclose(f);
    if (ends_with(src, ".index") || strstr(src, ".data-0000")) *fmt = IX_FMT_TF_CKPT;
    else if (got >= 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4) *fmt = IX_FMT_TORCH;
    else if (got >= 2 && m[0] == 0x80 && m[1] == 0x02) *fmt = IX_FMT_TORCH; /* legacy torch.save */
    else if (ends_with(src, ".pb")) *fmt = IX_FMT_TF_GRAPH;
    else return rt_fail(st, "%s: not a TensorFlow checkpoint (.index), frozen graph (.pb) or PyTorch "
                            "state dict (.pt); name the format with --format", src);
    return 0;
}

int ix_read_source(const char *src, IxFormat fmt, IxTensors *out, RtStatus *st) {
    switch (fmt) {
    case IX_FMT_TF_CKPT: return ix_tf_checkpoint_read(src, out, st);
    case IX_FMT_TF_GRAPH: return ix_tf_graph_read(src, out, st);
    case IX_FMT_TORCH: return ix_torch_read(src, out, st);
    default: return rt_fail(st, "%s: no format given", src);
    }
}

/* ---- the import's state, shared by its phases ----------------------------------------------- */
typedef struct {
    const IxImportOpts *o;
    IxFormat fmt;
    const IxTensors *src;
    char *used;              /* [src->n] a variable, average or scale took it */
    const IrGraph *g[2];     /* eval, and the training graph whose slots the source holds */
    int n_graphs;
    const char *optimizer;   /* "" or that graph's optimiser */
    RtBinding bind[16];      /* the graphs' dimensions: N, image_size, and what the source fixes */
    int n_bind;
    int problems, kept;      /* listed problems; variables left at their initial values */
    char first[700];         /* the first problem, for the error line */
} Import;

static void problem(Import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(Import *im, const char *fmt, ...) {
    char line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (im->problems++ == 0) snprintf(im->first, sizeof im->first, "%s", line);
    fprintf(im->o->log, "  %s\n", line);
}

/* The source tensor for fn variable name, marked used; NULL if absent. */
static const IxTensor *take(Import *im, const char *src_name) {
    const IxTensor *t = ix_tensors_find(im->src, src_name);
    if (t) im->used[t - im->src->t] = 1;
    return t;
}

/* dims of t in fn's layout; 0 if the layout does not fit its rank */
static int fn_dims(const IxTensor *t, IxLayout layout, int64_t *d) {
    if (layout == IX_LAYOUT_OIHW) {
        if (t->rank != 4) return 0;
        d[0] = t->dims[2], d[1] = t->dims[3], d[2] = t->dims[1], d[3] = t->dims[0];
    } else if (layout == IX_LAYOUT_T2) {
        if (t->rank != 2) return 0;
        d[0] = t->dims[1], d[1] = t->dims[0];
    } else {
        memcpy(d, t->dims, sizeof(int64_t) * (size_t)t->rank);
    }
    return 1;
}

/* t's values in fn's layout into out */
static void convert(const IxTensor *t, IxLayout layout, float *out) {
    const float *in = t->data;
    if (layout == IX_LAYOUT_OIHW) { /* [O,I,H,W] -> [H,W,I,O] */
        int64_t O = t->dims[0], I = t->dims[1], H = t->dims[2], W = t->dims[3];
        for (int64_t o = 0; o < O; o++)
            for (int64_t i = 0; i < I; i++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++)
                        out[((h * W + w) * I + i) * O + o] = in[((o * I + i) * H + h) * W + w];
    } else if (layout == IX_LAYOUT_T2) { /* [R,C] -> [C,R] */
        int64_t R = t->dims[0], C = t->dims[1];
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) out[c * R + r] = in[r * C + c];
    } else {
        memcpy(out, in, (size_t)t->n * sizeof(float));
    }
}

/* ---- phases --------------------------------------------------------------------------------- */

/* eval, and the training graph whose optimiser slots (states eval lacks) the source holds most of */
static int pick_graphs(Import *im, const RtArtifact *art, RtStatus *st) {
    const IrGraph *ev = rt_artifact_graph(art, "eval");
    if (!ev) return rt_fail(st, "artifact %s has no eval graph", im->o->artifact);
    im->g[0] = ev;
    im->n_graphs = 1;
    im->optimizer = "";
    int best = 0;
    for (int i = 0; i < art->n; i++) {
        if (strncmp(art->names[i], "train/", 6) != 0) continue;
        const IrGraph *g = art->graphs[i];
        int found = 0;
        for (IrId id = 0; id < g->n_nodes; id++) {
            const IrNode *n = &g->nodes[id];
            if (n->op != IR_OP_STATE) continue;
            const char *name = ir_str(g, n->attr.u.leaf.name);
            char s[512];
            IxLayout layout;
            if (ir_find_leaf(ev, IR_OP_STATE, name) == IR_NONE &&
                ix_source_name(im->fmt, name, s, sizeof s, &layout) && ix_tensors_find(im->src, s))
                found++;
        }
        if (found > best) {
            best = found;
            im->g[1] = g;
            im->n_graphs = 2;
            im->optimizer = art->names[i] + 6;
        }
    }
    return 0;
}

static int bind_sym(Import *im, const char *name, int64_t v, const char *why, RtStatus *st) {
    for (int i = 0; i < im->n_bind; i++)
        if (strcmp(im->bind[i].name, name) == 0) {
            if (im->bind[i].value == v) return 0;
            return rt_fail(st, "%s: %s gives %s = %lld, another tensor %lld", im->o->src, why, name,
                           (long long)v, (long long)im->bind[i].value);
        }
    if (im->n_bind == (int)(sizeof im->bind / sizeof im->bind[0])) return rt_fail(st, "too many dimensions");
    im->bind[im->n_bind++] = (RtBinding){name, v};
    return 0;
}

/* The dimensions the model leaves free (embedding_size, classes): from the source tensor of
 * every variable whose declared shape has a bare symbol there. */
static int infer_dims(Import *im, RtStatus *st) {
    if (bind_sym(im, "N", 1, "", st) < 0 ||
        (im->o->image_size > 0 && bind_sym(im, "image_size", im->o->image_size, "", st) < 0))
        return -1;
    for (int k = 0; k < im->n_graphs; k++) {
        const IrGraph *g = im->g[k];
        for (IrId id = 0; id < g->n_nodes; id++) {
            const IrNode *n = &g->nodes[id];
            if (n->op != IR_OP_PARAM && n->op != IR_OP_STATE) continue;
            char s[512];
            int64_t d[IX_MAX_RANK];
            IxLayout layout;
            const char *name = ir_str(g, n->attr.u.leaf.name);
            const IxTensor *t = ix_source_name(im->fmt, name, s, sizeof s, &layout) ? ix_tensors_find(im->src, s) : NULL;
            if (!t || t->rank != n->shape.rank || !fn_dims(t, layout, d)) continue; /* reported later */
            for (int a = 0; a < n->shape.rank; a++) {
                const IrDimNode *dn = &g->dims[n->shape.d[a]];
                if (dn->kind == IR_DIM_SYM && bind_sym(im, g->syms[dn->a].name, d[a], s, st) < 0) return -1;
            }
        }
    }
    return 0;
}

/* fn variable v from the source: 1 taken, 0 absent (left to the caller), problems listed */
static int fill_var(Import *im, RtVar *v) {
    char s[512], a[128], b[128];
    IxLayout layout;
    const IxTensor *t = ix_source_name(im->fmt, v->name, s, sizeof s, &layout) ? take(im, s) : NULL;
    if (!t) return 0;
    int64_t d[IX_MAX_RANK];
    if (strcmp(t->dtype, "float32") != 0) {
        problem(im, "%s: %s is %s there; fn's variables are float32", v->name, s, t->dtype);
    } else if (t->rank != v->rank || !fn_dims(t, layout, d) || memcmp(d, v->dims, sizeof(int64_t) * (size_t)v->rank)) {
        ix_shape_str(t->dims, t->rank, a, sizeof a);
        ix_shape_str(v->dims, v->rank, b, sizeof b);
        problem(im, "%s: wrong shape: %s is %s there, the model wants %s%s", v->name, s, a, b,
                layout == IX_LAYOUT_SAME ? "" : " (after the layout change)");
    } else {
        convert(t, layout, v->data);
    }
    return 1;
}

/* Every variable from the source. Weights and batch-norm statistics must be there (unless
 * --allow_missing); other states (optimiser slots, centres) keep their initial values. */
static void fill_vars(Import *im, RtVars *vars) {
    for (int i = 0; i < vars->n; i++) {
        RtVar *v = &vars->v[i];
        if (fill_var(im, v)) continue;
        char s[512];
        IxLayout layout;
        int named = ix_source_name(im->fmt, v->name, s, sizeof s, &layout);
        if (rt_var_is_averaged(v) && !im->o->allow_missing) {
            if (named) problem(im, "%s: missing (no tensor %s there)", v->name, s);
            else problem(im, "%s: missing (a %s has no name for it)", v->name, ix_format_name(im->fmt));
        } else {
            im->kept++;
            fprintf(im->o->log, "  %s: not in the source; keeps its initial value\n", v->name);
        }
    }
}

/* The moving averages: the source's where it keeps them (TF's ExponentialMovingAverage shadows,
 * of the trainable weights only), else the weights' own values, as a run starts. With
 * --use_moving_averages the weights take the averages. */
static void fill_averages(Import *im, RtVars *vars, RtVars *ema) {
    int wanted = im->o->use_moving_averages;
    for (int i = 0; i < ema->n; i++) {
        RtVar *e = &ema->v[i], *v = rt_vars_find(vars, e->name);
        char s[512], a[128], b[128];
        const IxTensor *t = ix_source_average_name(im->fmt, e->name, s, sizeof s) ? take(im, s) : NULL;
        if (!t) {
            if (wanted && !v->is_state) problem(im, "%s: no moving average (no tensor %s there)", e->name, s);
            continue;
        }
        if (strcmp(t->dtype, "float32") != 0 || t->rank != e->rank ||
            memcmp(t->dims, e->dims, sizeof(int64_t) * (size_t)e->rank)) {
            ix_shape_str(t->dims, t->rank, a, sizeof a);
            ix_shape_str(e->dims, e->rank, b, sizeof b);
            problem(im, "%s: wrong moving average: %s is %s %s there, the model wants float32 %s", e->name, s,
                    t->dtype, a, b);
            continue;
        }
        memcpy(e->data, t->data, (size_t)t->n * sizeof(float));
        if (wanted) memcpy(v->data, t->data, (size_t)t->n * sizeof(float));
    }
}

/* A batch norm's scale fn has no variable for (TF scale=False; facenet-pytorch keeps weight = 1):
 * taken only where it is 1, which changes nothing. */
static void check_scales(Import *im, const RtVars *vars) {
    for (int i = 0; i < vars->n; i++) {
        char s[512];
        if (!ends_with(vars->v[i].name, "/BatchNorm/beta") ||
            !ix_source_bn_scale(im->fmt, vars->v[i].name, s, sizeof s))
            continue;
        const IxTensor *t = take(im, s);
        for (int64_t k = 0; t && t->data && k < t->n; k++)
            if (t->data[k] != 1.0f) {
                problem(im, "%s: the batch-norm scale %s is %g at [%lld], not 1: fn's batch norm has no "
                        "scale (the reference's scale=False)", vars->v[i].name, s, t->data[k], (long long)k);
                break;
            }
    }
}

/* Source tensors nothing took. A frozen graph's other constants are its computation's. */
static int list_extras(Import *im) {
    int extra = 0;
    for (int i = 0; i < im->src->n; i++) {
        const IxTensor *t = &im->src->t[i];
        if (im->used[i] || ix_source_ignorable(im->fmt, t->name) || im->fmt == IX_FMT_TF_GRAPH) continue;
        extra++;
        if (im->o->allow_extra) fprintf(im->o->log, "  %s: matches no variable; ignored\n", t->name);
        else problem(im, "%s: extra: matches no variable of the model", t->name);
    }
    return extra;
}

/* The checkpoint, and the artifact beside it as model-RUN.fnc (where fnrun validate looks). */
static int write_out(Import *im, const RtVars *vars, const RtVars *ema, RtStatus *st) {
    RtCkptInfo info;
    memset(&info, 0, sizeof info);
    const char *base = strrchr(im->o->out, '/');
    base = base ? base + 1 : im->o->out;
    snprintf(info.run, sizeof info.run, "%.*s", (int)strcspn(base, "."), base);
    if (!info.run[0]) snprintf(info.run, sizeof info.run, "imported");
    snprintf(info.optimizer, sizeof info.optimizer, "%s", im->optimizer);
    info.seed = im->o->seed;
    int s = ir_sym_index(im->g[0], "image_size");
    info.image_size = im->o->image_size > 0 ? im->o->image_size : s >= 0 ? (int)im->g[0]->syms[s].dflt : 0;
    for (int i = 0; i < im->n_bind; i++) {
        if (!strcmp(im->bind[i].name, "embedding_size")) info.embedding_size = (int)im->bind[i].value;
        if (!strcmp(im->bind[i].name, "classes")) info.classes = (int)im->bind[i].value;
    }
    if (rt_checkpoint_save(im->o->out, &info, vars, ema, 0, st) < 0) return -1;
    char art[4096];
    snprintf(art, sizeof art, "%.*smodel-%s.fnc", (int)(base - im->o->out), im->o->out, info.run);
    if (strcmp(art, im->o->artifact) != 0 && rt_artifact_copy(im->o->artifact, art, st) < 0) return -1;
    fprintf(im->o->log, "wrote %s and its artifact %s\n", im->o->out, art);
    return 0;
}

/* Binds every graph's variables. A dimension no tensor gave (classes, without Logits) is 1: the
 * variables that would have given it are then missing, which is an error without
 * --allow_missing. */
static int bind_vars(Import *im, RtVars *vars, RtStatus *st) {
    for (int k = 0; k < im->n_graphs; k++) {
        const IrGraph *g = im->g[k];
        int64_t sym[64];
        if (g->n_syms > 64) return rt_fail(st, "artifact %s: too many dimensions", im->o->artifact);
        for (int i = 0; i < g->n_syms; i++) {
            int bound = 0;
            for (int j = 0; j < im->n_bind; j++) bound |= !strcmp(im->bind[j].name, g->syms[i].name);
            if (bound || g->syms[i].dflt >= 0) continue;
            fprintf(im->o->log, "  dimension %s: no tensor gives it; 1\n", g->syms[i].name);
            if (bind_sym(im, g->syms[i].name, 1, "", st) < 0) return -1;
        }
        if (rt_bind_syms(g, im->bind, im->n_bind, sym, st) < 0 || rt_vars_bind(vars, g, sym, st) < 0) return -1;
    }
    return 0;
}

static int64_t count_values(const RtVars *vars) {
    int64_t n = 0;
    for (int i = 0; i < vars->n; i++) n += vars->v[i].n;
    return n;
}

int ix_import(const IxImportOpts *o, RtStatus *st) {
    IxFormat fmt = o->format;
    IxTensors src = {0};
    if (fmt == IX_FMT_AUTO && ix_detect_format(o->src, &fmt, st) < 0) return -1;
    if (ix_read_source(o->src, fmt, &src, st) < 0) return -1;
    fprintf(o->log, "%s: %s, %d tensors\n", o->src, ix_format_name(fmt), src.n);
    int rc = ix_import_tensors(o, fmt, &src, st);
    ix_tensors_free(&src);
    return rc;
}

int ix_import_tensors(const IxImportOpts *o, IxFormat fmt, const IxTensors *src, RtStatus *st) {
    Import im = {.o = o, .fmt = fmt, .src = src};
    RtArtifact art;
    memset(&art, 0, sizeof art);
    RtVars *vars = rt_vars_new(4), *ema = NULL;
    int rc = -1;
    im.used = fn_calloc((size_t)src->n + 1, 1);
    if (!vars || !im.used) {
        rt_fail(st, "%s: out of memory", o->src);
        goto done;
    }
    if (rt_artifact_load(o->artifact, &art, st) < 0 || pick_graphs(&im, &art, st) < 0 || infer_dims(&im, st) < 0)
        goto done;
    if (bind_vars(&im, vars, st) < 0) goto done;
    rt_vars_init(vars, o->seed);
    fill_vars(&im, vars);
    check_scales(&im, vars);
    ema = rt_ema_new(vars);
    if (!ema) {
        rt_fail(st, "%s: out of memory for the moving averages", o->src);
        goto done;
    }
    fill_averages(&im, vars, ema);
    list_extras(&im);
    if (im.problems) {
        rt_fail(st, "%s: %s%s", o->src, im.first,
                im.problems > 1 ? " (and more: every problem is listed above)" : "");
        goto done;
    }
    fprintf(o->log, "imported %d variables (%lld values)%s%s%s; %d kept their initial values\n", vars->n - im.kept,
            (long long)count_values(vars), im.optimizer[0] ? " with the " : "", im.optimizer,
            im.optimizer[0] ? " slots" : "", im.kept);
    rc = write_out(&im, vars, ema, st);
done:
    rt_vars_free(vars);
    rt_vars_free(ema);
    rt_artifact_free(&art);
    free(im.used);
    return rc;
}

/* MTCNN detection: the pyramid and PNet, then RNet and ONet on crops (see mtcnn.h and
 * REFERENCE §4.4). Boxes are kept in double, as the reference's float64 NumPy arrays. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/face/mtcnn.h"
#include "runtime/data/resize.h"

#define PNET_CACHE 24 /* PNet executors kept, one per input size (LRU) */
#define MAX_BATCH 64  /* crops per RNet/ONet run; runs use power-of-two batches */
#define LOG_BATCHES 7

typedef struct {
    int h, w;
    uint64_t used;
    RtExec *ex;
} PnetSlot;

struct RtMtcnn {
    const RtBackend *be;
    const IrGraph *g[3];
    RtVars *vars;
    PnetSlot pnet[PNET_CACHE];
    RtExec *crop[2][LOG_BATCHES]; /* RNet, ONet by log2 batch */
    uint64_t tick;
};

typedef struct {
    double x1, y1, x2, y2, score, r[4];
    double pts[10];
    int row, col; /* stage 1: the PNet output cell the box came from */
} Box;

typedef struct {
    Box *b;
    int n, cap;
} Boxes;

/* -1 when out of memory (bs unchanged) */
static int push(Boxes *bs, const Box *b) {
    if (bs->n == bs->cap) {
        int cap = bs->cap ? 2 * bs->cap : 64;
        Box *nb = fn_realloc(bs->b, (size_t)cap * sizeof *bs->b);
        if (!nb) return -1;
        bs->b = nb;
        bs->cap = cap;
    }
    bs->b[bs->n++] = *b;
    return 0;
}

static int oom(RtStatus *st) { return rt_fail(st, "out of memory detecting faces"); }

void rt_mtcnn_defaults(RtMtcnnParams *p) {
    p->minsize = 20;
    p->factor = 0.709;
    p->threshold[0] = 0.6;
    p->threshold[1] = 0.7;
    p->threshold[2] = 0.7;
}

/* ---- nets ----------------------------------------------------------------------------------- */

static RtExec *bind(RtMtcnn *m, int net, int n, int h, int w, RtStatus *st) {
    RtBinding b[] = {{"N", n}, {"H", h}, {"W", w}};
    return rt_exec_bind(m->be, m->g[net], m->vars, b, net == 0 ? 3 : 1, NULL, 0, 0, st);
}

static RtExec *pnet_for(RtMtcnn *m, int h, int w, RtStatus *st) {
    PnetSlot *lru = &m->pnet[0];
    for (int i = 0; i < PNET_CACHE; i++) {
        PnetSlot *s = &m->pnet[i];
        if (s->ex && s->h == h && s->w == w) {
            s->used = ++m->tick;
            return s->ex;
        }
        if (!s->ex || (lru->ex && s->used < lru->used)) lru = s;
    }
    rt_exec_free(lru->ex);
    lru->ex = bind(m, 0, 1, h, w, st);
    lru->h = h;
    lru->w = w;
    lru->used = ++m->tick;
    return lru->ex;
}

RtMtcnn *rt_mtcnn_new(const RtBackend *be, const IrGraph *pnet, const IrGraph *rnet, const IrGraph *onet,
                      const char *weights_dir, RtStatus *st) {
    static const char *const nets[3] = {"pnet", "rnet", "onet"};
    RtMtcnn *m = fn_calloc(1, sizeof *m);
    if (!m) {
        rt_fail(st, "out of memory opening the detector");
        return NULL;
    }
    m->be = be;
    m->g[0] = pnet;
    m->g[1] = rnet;
    m->g[2] = onet;
    m->vars = rt_vars_new(4);
    if (!m->vars) {
        rt_fail(st, "out of memory opening the detector");
        rt_mtcnn_free(m);
        return NULL;
    }
    /* one executor per net binds its variables, which the weights then fill */
    int ok = pnet_for(m, 12, 12, st) && (m->crop[0][0] = bind(m, 1, 1, 0, 0, st)) &&
             (m->crop[1][0] = bind(m, 2, 1, 0, 0, st));
    for (int k = 0; k < 3 && ok; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/det%d.npy", weights_dir, k + 1);
        RtNpyWeights w;
        ok = rt_npy_load_weights(path, &w, st) == 0;
        if (ok) {
            ok = rt_mtcnn_load(m->vars, nets[k], &w, 1, st) == 0;
            rt_npy_free(&w);
            if (!ok) { /* the message names the file */
                char why[sizeof st->msg];
                snprintf(why, sizeof why, "%s", st->msg);
                rt_fail(st, "%s: %s", path, why);
            }
        }
    }
    if (!ok) {
        rt_mtcnn_free(m);
        return NULL;
    }
    return m;
}

int rt_mtcnn_graphs(const char *path, RtArtifact *art, const IrGraph *g[3], RtStatus *st) {
    static const char *const names[3] = {"pnet/eval", "rnet/eval", "onet/eval"};
    if (rt_artifact_load(path, art, st) < 0) return -1;
    for (int k = 0; k < 3; k++)
        if (!(g[k] = rt_artifact_graph(art, names[k]))) {
            rt_artifact_free(art);
            return rt_fail(st, "%s has no graph %s: compile it with `fnc compile models/mtcnn/pnet.fn "
                               "models/mtcnn/rnet.fn models/mtcnn/onet.fn -o %s`", path, names[k], path);
        }
    return 0;
}

RtMtcnn *rt_mtcnn_open(const RtBackend *be, const char *path, const char *weights_dir, RtArtifact *art,
                       RtStatus *st) {
    const IrGraph *g[3];
    if (rt_mtcnn_graphs(path, art, g, st) < 0) return NULL;
    RtMtcnn *m = rt_mtcnn_new(be, g[0], g[1], g[2], weights_dir, st);
    if (!m) rt_artifact_free(art);
    return m;
}

void rt_mtcnn_free(RtMtcnn *m) {
    if (!m) return;
    for (int i = 0; i < PNET_CACHE; i++) rt_exec_free(m->pnet[i].ex);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < LOG_BATCHES; i++) rt_exec_free(m->crop[k][i]);
    rt_vars_free(m->vars);
    free(m);
}

/* ---- the reference's box helpers -------------------------------------------------------------- */

static int by_score(const void *a, const void *b, void *ctx) {
    const Box *bs = ctx;
    double sa = bs[*(const int *)a].score, sb = bs[*(const int *)b].score;
    return sa < sb ? -1 : sa > sb ? 1 : *(const int *)a - *(const int *)b;
}

/* Greedy NMS: repeatedly keep the highest-scoring box and drop those overlapping it by more
 * than thr (intersection over union, or over the smaller area with min_mode). Returns the kept
 * indices in pick order (descending score); -1 when out of memory. */
static int nms(const Box *b, int n, double thr, int min_mode, int *pick) {
    int *order = fn_malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return -1;
    for (int i = 0; i < n; i++) order[i] = i;
    qsort_r(order, (size_t)n, sizeof *order, by_score, (void *)b);
    int m = n, np = 0;
    while (m > 0) {
        const Box *a = &b[order[m - 1]];
        pick[np++] = order[m - 1];
        double area_a = (a->x2 - a->x1 + 1) * (a->y2 - a->y1 + 1);
        int k = 0;
        for (int j = 0; j < m - 1; j++) {
            const Box *c = &b[order[j]];
            double w = fmax(0, fmin(a->x2, c->x2) - fmax(a->x1, c->x1) + 1);
            double h = fmax(0, fmin(a->y2, c->y2) - fmax(a->y1, c->y1) + 1);
            double inter = w * h, area_c = (c->x2 - c->x1 + 1) * (c->y2 - c->y1 + 1);
            double o = min_mode ? inter / fmin(area_a, area_c) : inter / (area_a + area_c - inter);
            if (o <= thr) order[k++] = order[j];
        }
        m = k;
    }
    free(order);
    return np;
}

/* keeps the boxes NMS picks, in pick order; -1 (st) when out of memory */
static int nms_keep(Boxes *bs, double thr, int min_mode, RtStatus *st) {
    if (!bs->n) return 0;
    int *pick = fn_malloc((size_t)bs->n * sizeof *pick);
    int np = pick ? nms(bs->b, bs->n, thr, min_mode, pick) : -1;
    Box *kept = np >= 0 ? fn_malloc((size_t)(np ? np : 1) * sizeof *kept) : NULL;
    if (!kept) {
        free(pick);
        return oom(st);
    }
    for (int i = 0; i < np; i++) kept[i] = bs->b[pick[i]];
    memcpy(bs->b, kept, (size_t)np * sizeof *kept);
    bs->n = np;
    free(kept);
    free(pick);
    return 0;
}

/* bbreg: move the edges by the regression, scaled by the inclusive width and height */
static void bbreg(Box *b) {
    double w = b->x2 - b->x1 + 1, h = b->y2 - b->y1 + 1;
    b->x1 += b->r[0] * w;
    b->y1 += b->r[1] * h;
    b->x2 += b->r[2] * w;
    b->y2 += b->r[3] * h;
}

/* rerec: square up about the centre, side = the longer of x2 - x1 and y2 - y1 */
static void rerec(Box *b) {
    double w = b->x2 - b->x1, h = b->y2 - b->y1, l = fmax(w, h);
    b->x1 += w * 0.5 - l * 0.5;
    b->y1 += h * 0.5 - l * 0.5;
    b->x2 = b->x1 + l;
    b->y2 = b->y1 + l;
}

static void fix_box(Box *b) {
    b->x1 = trunc(b->x1);
    b->y1 = trunc(b->y1);
    b->x2 = trunc(b->x2);
    b->y2 = trunc(b->y2);
}

/* Drops the boxes a corrupted net can give: a non-finite score, or an edge or landmark that is
 * not finite or lies more than one image side outside the image (converting those to int would
 * be undefined, cropping them would allocate absurd windows). Real boxes stay well inside. */
static void keep_sane(Boxes *bs, int iw, int ih) {
    double side = iw > ih ? iw : ih, lo = -side, hi = 2 * side;
    int k = 0;
    for (int i = 0; i < bs->n; i++) {
        const Box *b = &bs->b[i];
        const double e[4] = {b->x1, b->y1, b->x2, b->y2};
        int ok = isfinite(b->score);
        for (int j = 0; j < 4; j++) ok &= e[j] >= lo && e[j] <= hi; /* false for NaN */
        for (int j = 0; j < 10; j++) ok &= b->pts[j] >= lo && b->pts[j] <= hi;
        if (ok) bs->b[k++] = *b;
    }
    bs->n = k;
}

/* ---- stage 1: PNet over the pyramid ---------------------------------------------------------- */

static int stage1(RtMtcnn *m, const RtImage *img, const float *pix, const RtMtcnnParams *p,
                  Boxes *out, RtStatus *st) {
    double mscale = 12.0 / p->minsize, minl = fmin(img->h, img->w) * mscale;
    Boxes scale_boxes = {0};
    int rc = 0;
    for (int k = 0; minl >= 12 && rc == 0; k++, minl *= p->factor) {
        double s = mscale * pow(p->factor, k);
        int hs = (int)ceil(img->h * s), ws = (int)ceil(img->w * s);
        RtExec *ex = pnet_for(m, hs, ws, st);
        if (!ex) {
            rc = -1;
            break;
        }
        float *x = rt_exec_input(ex, "data", NULL);
        if (rt_resize_area(pix, img->w, img->h, 3, x, ws, hs, 1) < 0) {
            rc = oom(st);
            break;
        }
        for (int64_t i = 0; i < (int64_t)hs * ws * 3; i++) x[i] = (x[i] - 127.5f) * 0.0078125f;
        if (rt_exec_run(ex, 0, 0, st) < 0) {
            rc = -1;
            break;
        }
        int64_t dims[IR_MAX_RANK];
        int rank;
        const float *prob = rt_exec_output(ex, "prob", NULL, &rank, dims);
        const float *reg = rt_exec_output(ex, "reg", NULL, NULL, NULL);
        int oh = (int)dims[1], ow = (int)dims[2];
        scale_boxes.n = 0;
        /* cells in the reference's order: column-major over the (transposed) map */
        for (int c = 0; c < ow; c++)
            for (int r = 0; r < oh; r++) {
                double pr = prob[((size_t)r * ow + c) * 2 + 1];
                if (!(pr >= p->threshold[0])) continue; /* NaN too */
                Box b = {trunc((2.0 * c + 1) / s), trunc((2.0 * r + 1) / s), trunc((2.0 * c + 12) / s),
                         trunc((2.0 * r + 12) / s), pr, {0}, {0}, r, c};
                if (rc == 0 && push(&scale_boxes, &b) < 0) rc = oom(st);
            }
        for (int i = 0; i < scale_boxes.n; i++) {
            Box *b = &scale_boxes.b[i];
            int c = b->col, r = b->row;
            if (scale_boxes.n == 1) c = ow - 1 - c; /* the reference's one-cell flip */
            for (int j = 0; j < 4; j++) b->r[j] = reg[((size_t)r * ow + c) * 4 + j];
        }
        if (rc == 0) rc = nms_keep(&scale_boxes, 0.5, 0, st);
        for (int i = 0; i < scale_boxes.n && rc == 0; i++)
            if (push(out, &scale_boxes.b[i]) < 0) rc = oom(st);
    }
    free(scale_boxes.b);
    if (rc || !out->n) return rc;
    if (nms_keep(out, 0.7, 0, st) < 0) return -1;
    for (int i = 0; i < out->n; i++) {
        Box *b = &out->b[i];
        double w = b->x2 - b->x1, h = b->y2 - b->y1; /* no +1 here, as the reference */
        b->x1 += b->r[0] * w;
        b->y1 += b->r[1] * h;
        b->x2 += b->r[2] * w;
        b->y2 += b->r[3] * h;
        rerec(b);
        fix_box(b);
    }
    keep_sane(out, img->w, img->h);
    return 0;
}

/* ---- stages 2 and 3: crops through RNet / ONet --------------------------------------------- */

/* The reference's pad + crop: a zero tmph x tmpw buffer (tmpw = x2 - x1 + 1) holding the part
 * of the image under the box, area-resampled to side x side and normalised into dst. Returns 0
 * for a box without pixels (the reference fails on those), -1 when out of memory. */
static int crop(const float *pix, int iw, int ih, const Box *b, int side, float *dst) {
    int x1 = (int)b->x1, y1 = (int)b->y1, tw = (int)b->x2 - x1 + 1, th = (int)b->y2 - y1 + 1;
    if (tw < 1 || th < 1) return 0;
    /* buffer (i, j) is image pixel (x1 - 1 + j, y1 - 1 + i), 0-based; zero outside the image */
    if (rt_resize_area_window(pix, iw, ih, 3, x1 - 1, y1 - 1, tw, th, dst, side, side, 0) < 0) return -1;
    for (int i = 0; i < side * side * 3; i++) dst[i] = (dst[i] - 127.5f) * 0.0078125f;
    return 1;
}

/* Runs net (1 RNet, 2 ONet) on every box's crop; fills score, r[] and (ONet) pts[] with the
 * raw landmark outputs. Boxes without pixels get score -1. */
static int run_crops(RtMtcnn *m, int net, const float *pix, int iw, int ih, Boxes *bs, RtStatus *st) {
    int side = net == 1 ? 24 : 48;
    for (int first = 0; first < bs->n;) {
        int lb = 0;
        while (lb + 1 < LOG_BATCHES && (1 << (lb + 1)) <= bs->n - first) lb++;
        int nb = 1 << lb;
        RtExec **ex = &m->crop[net - 1][lb];
        if (!*ex && !(*ex = bind(m, net, nb, 0, 0, st))) return -1;
        float *x = rt_exec_input(*ex, "data", NULL);
        int has[MAX_BATCH];
        for (int i = 0; i < nb; i++)
            if ((has[i] = crop(pix, iw, ih, &bs->b[first + i], side, x + (size_t)i * side * side * 3)) < 0)
                return oom(st);
        if (rt_exec_run(*ex, 0, 0, st) < 0) return -1;
        const float *prob = rt_exec_output(*ex, "prob", NULL, NULL, NULL);
        const float *reg = rt_exec_output(*ex, "reg", NULL, NULL, NULL);
        const float *lm = net == 2 ? rt_exec_output(*ex, "landmarks", NULL, NULL, NULL) : NULL;
        for (int i = 0; i < nb; i++) {
            Box *b = &bs->b[first + i];
            b->score = has[i] ? prob[i * 2 + 1] : -1;
            for (int j = 0; j < 4; j++) b->r[j] = reg[i * 4 + j];
            for (int j = 0; lm && j < 10; j++) b->pts[j] = lm[i * 10 + j];
        }
        first += nb;
    }
    return 0;
}

static void keep_above(Boxes *bs, double thr) {
    int k = 0;
    for (int i = 0; i < bs->n; i++)
        if (bs->b[i].score > thr) bs->b[k++] = bs->b[i];
    bs->n = k;
}

int rt_mtcnn_detect(RtMtcnn *m, const RtImage *img, const RtMtcnnParams *p, RtFace **faces,
                    int *n_faces, RtStatus *st) {
    *faces = NULL;
    *n_faces = 0;
    if (img->w < 1 || img->h < 1) return 0;
    size_t npix = (size_t)img->w * img->h * 3;
    float *pix = fn_malloc(npix * sizeof *pix);
    if (!pix) return oom(st);
    for (size_t i = 0; i < npix; i++) pix[i] = img->pix[i];
    Boxes bs = {0};
    int rc = stage1(m, img, pix, p, &bs, st);
    if (rc == 0 && bs.n) { /* RNet */
        rc = run_crops(m, 1, pix, img->w, img->h, &bs, st);
        keep_above(&bs, p->threshold[1]);
        if (rc == 0) rc = nms_keep(&bs, 0.7, 0, st);
        for (int i = 0; i < bs.n; i++) {
            bbreg(&bs.b[i]);
            rerec(&bs.b[i]);
        }
        keep_sane(&bs, img->w, img->h);
    }
    if (rc == 0 && bs.n) { /* ONet */
        for (int i = 0; i < bs.n; i++) fix_box(&bs.b[i]);
        rc = run_crops(m, 2, pix, img->w, img->h, &bs, st);
        keep_above(&bs, p->threshold[2]);
        for (int i = 0; i < bs.n; i++) {
            Box *b = &bs.b[i];
            double w = b->x2 - b->x1 + 1, h = b->y2 - b->y1 + 1, raw[10];
            memcpy(raw, b->pts, sizeof raw);
            for (int k = 0; k < 5; k++) { /* raw: x0..x4, y0..y4 -> (x, y) pairs */
                b->pts[2 * k] = w * raw[k] + b->x1 - 1;
                b->pts[2 * k + 1] = h * raw[k + 5] + b->y1 - 1;
            }
            bbreg(b);
        }
        keep_sane(&bs, img->w, img->h);
        if (rc == 0) rc = nms_keep(&bs, 0.7, 1, st);
    }
    if (rc == 0 && bs.n) {
        if (!(*faces = fn_malloc((size_t)bs.n * sizeof **faces))) rc = oom(st);
        for (int i = 0; *faces && i < bs.n; i++) {
            const Box *b = &bs.b[i];
            RtFace *f = &(*faces)[i];
            f->box[0] = b->x1;
            f->box[1] = b->y1;
            f->box[2] = b->x2;
            f->box[3] = b->y2;
            f->score = b->score;
            memcpy(f->pts, b->pts, sizeof f->pts);
        }
        *n_faces = *faces ? bs.n : 0;
    }
    free(bs.b);
    free(pix);
    return rc;
}

/* See plot.h. One drawing function renders on both surfaces (PNG image, SVG). */
#include "runtime/logs/plot.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/alloc.h"
#include "runtime/core/files.h"
#include "runtime/logs/stats.h"

enum { W = 800, H = 500, ML = 80, MR = 30, MT = 50, MB = 60 };

/* a "nice" tick step giving about n ticks over [lo, hi] */
static double tick_step(double lo, double hi, int n) {
    double raw = (hi - lo) / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* the plot area: the data range it shows and its size in pixels */
typedef struct {
    double x0, x1, y0, y1, pw, ph;
} Frame;

static double px(const Frame *f, double v) { return ML + (v - f->x0) / (f->x1 - f->x0) * f->pw; }
static double py(const Frame *f, double v) { return MT + f->ph - (v - f->y0) / (f->y1 - f->y0) * f->ph; }

/* the finite values' range, widened where empty or flat, y padded by 5% */
static Frame frame_of(const RtSeries *s, int ns) {
    Frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY, W - ML - MR, H - MT - MB};
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].y[i])) continue;
            f.x0 = fmin(f.x0, s[k].x[i]), f.x1 = fmax(f.x1, s[k].x[i]);
            f.y0 = fmin(f.y0, s[k].y[i]), f.y1 = fmax(f.y1, s[k].y[i]);
        }
    if (!isfinite(f.x0)) f.x0 = 0, f.x1 = 1, f.y0 = 0, f.y1 = 1;
    if (f.x1 <= f.x0) f.x1 = f.x0 + 1;
    if (f.y1 <= f.y0) f.y0 -= 0.5, f.y1 += 0.5;
    double pad = (f.y1 - f.y0) * 0.05;
    f.y0 -= pad, f.y1 += pad;
    return f;
}

/* white background, grid lines with their tick labels, the frame */
static void draw_grid(cairo_t *cr, const Frame *f) {
    char buf[64];
    cairo_text_extents_t te;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_line_width(cr, 1);
    cairo_set_font_size(cr, 12);
    double sx = tick_step(f->x0, f->x1, 8), sy = tick_step(f->y0, f->y1, 6);
    for (double v = ceil(f->x0 / sx) * sx; v <= f->x1 + 1e-9 * sx; v += sx) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, px(f, v), MT), cairo_line_to(cr, px(f, v), MT + f->ph), cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-12 * sx ? 0.0 : v);
        cairo_text_extents(cr, buf, &te);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, px(f, v) - te.width / 2, MT + f->ph + 18), cairo_show_text(cr, buf);
    }
    for (double v = ceil(f->y0 / sy) * sy; v <= f->y1 + 1e-9 * sy; v += sy) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, ML, py(f, v)), cairo_line_to(cr, ML + f->pw, py(f, v)), cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-12 * sy ? 0.0 : v);
        cairo_text_extents(cr, buf, &te);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, ML - te.width - 6, py(f, v) + 4), cairo_show_text(cr, buf);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, ML, MT, f->pw, f->ph), cairo_stroke(cr);
}

static void draw_labels(cairo_t *cr, const Frame *f, const char *title, const char *xlabel, const char *ylabel) {
    cairo_text_extents_t te;
    cairo_set_font_size(cr, 14);
    cairo_text_extents(cr, xlabel, &te);
    cairo_move_to(cr, ML + f->pw / 2 - te.width / 2, H - 15), cairo_show_text(cr, xlabel);
    cairo_text_extents(cr, ylabel, &te);
    cairo_save(cr);
    cairo_move_to(cr, 22, MT + f->ph / 2 + te.width / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, ylabel);
    cairo_restore(cr);
    cairo_set_font_size(cr, 16);
    cairo_text_extents(cr, title, &te);
    cairo_move_to(cr, ML + f->pw / 2 - te.width / 2, 30), cairo_show_text(cr, title);
}

/* each series' line (broken at non-finite values) and markers, clipped to the plot area */
static void draw_series(cairo_t *cr, const Frame *f, const RtSeries *s, int ns) {
    cairo_save(cr);
    cairo_rectangle(cr, ML, MT, f->pw, f->ph);
    cairo_clip(cr);
    for (int k = 0; k < ns; k++) {
        cairo_set_source_rgb(cr, s[k].r, s[k].g, s[k].b);
        cairo_set_line_width(cr, 1.8);
        double dash[] = {6, 4};
        cairo_set_dash(cr, dash, s[k].dashed ? 2 : 0, 0);
        int pen = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].y[i])) {
                pen = 0;
                continue;
            }
            if (pen) cairo_line_to(cr, px(f, s[k].x[i]), py(f, s[k].y[i]));
            else cairo_move_to(cr, px(f, s[k].x[i]), py(f, s[k].y[i]));
            pen = 1;
        }
        cairo_stroke(cr);
        cairo_set_dash(cr, dash, 0, 0);
        for (int i = 0; s[k].markers && i < s[k].n; i++)
            if (isfinite(s[k].y[i])) {
                cairo_arc(cr, px(f, s[k].x[i]), py(f, s[k].y[i]), 3, 0, 2 * M_PI);
                cairo_fill(cr);
            }
    }
    cairo_restore(cr);
}

/* the legend, top right: each series' sample line as it is drawn, and its label */
static void draw_legend(cairo_t *cr, const Frame *f, const RtSeries *s, int ns) {
    cairo_set_font_size(cr, 12);
    for (int k = 0; k < ns; k++) {
        double ly = MT + 18 + 18 * k, lx = ML + f->pw - 230;
        cairo_set_source_rgb(cr, s[k].r, s[k].g, s[k].b);
        cairo_set_line_width(cr, 2);
        double dash[] = {6, 4};
        cairo_set_dash(cr, dash, s[k].dashed ? 2 : 0, 0);
        cairo_move_to(cr, lx, ly - 4), cairo_line_to(cr, lx + 24, ly - 4), cairo_stroke(cr);
        cairo_set_dash(cr, dash, 0, 0);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, lx + 30, ly), cairo_show_text(cr, s[k].label);
    }
}

static void draw(cairo_t *cr, const char *title, const char *xlabel, const char *ylabel,
                 const RtSeries *s, int ns) {
    Frame f = frame_of(s, ns);
    draw_grid(cr, &f);
    draw_labels(cr, &f, title, xlabel, ylabel);
    draw_series(cr, &f, s, ns);
    draw_legend(cr, &f, s, ns);
}

/* cairo's stream writer into a FILE, keeping the first errno (cairo itself says only "error
 * while writing to output stream") */
typedef struct {
    FILE *f;
    int err;
} Sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int n) {
    Sink *k = closure;
    if (k->err) return CAIRO_STATUS_WRITE_ERROR;
    if (fwrite(data, 1, n, k->f) != n) {
        k->err = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* Draws one figure into path (svg: SVG, else PNG); on failure the file is removed and the
 * message names it with the reason. */
static int plot_file(const char *path, int svg, const char *title, const char *xlabel, const char *ylabel,
                     const RtSeries *s, int n_series, RtStatus *st) {
    Sink k = {fopen(path, "wb"), 0};
    if (!k.f) return rt_fail(st, "cannot write %s: %s", path, strerror(errno));
    cairo_surface_t *sf = svg ? cairo_svg_surface_create_for_stream(sink_write, &k, W, H)
                              : cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(sf);
    draw(cr, title, xlabel, ylabel, s, n_series);
    cairo_destroy(cr);
    cairo_status_t rc;
    if (svg) {
        cairo_surface_finish(sf);
        rc = cairo_surface_status(sf);
    } else {
        rc = cairo_surface_write_to_png_stream(sf, sink_write, &k);
    }
    cairo_surface_destroy(sf);
    if (fflush(k.f) != 0 && !k.err) k.err = errno;
    if (fclose(k.f) != 0 && !k.err) k.err = errno;
    if (rc == CAIRO_STATUS_SUCCESS && !k.err) return 0;
    unlink(path);
    return rt_fail(st, "cannot write %s: %s", path, k.err ? strerror(k.err) : cairo_status_to_string(rc));
}

int rt_plot(const char *base, const char *title, const char *xlabel, const char *ylabel,
            const RtSeries *s, int n_series, RtStatus *st) {
    char path[4200];
    snprintf(path, sizeof path, "%s.png", base);
    if (plot_file(path, 0, title, xlabel, ylabel, s, n_series, st) < 0) return -1;
    snprintf(path, sizeof path, "%s.svg", base);
    return plot_file(path, 1, title, xlabel, ylabel, s, n_series, st);
}

/* the mean of y[i-w+1..i] (fewer at the start) */
static void smooth(const double *y, double *out, int n, int w) {
    double s = 0;
    for (int i = 0; i < n; i++) {
        s += y[i];
        if (i >= w) s -= y[i - w];
        out[i] = s / (i + 1 < w ? i + 1 : w);
    }
}

static double *to_double(const float *v, int64_t n) {
    double *d = fn_malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
    for (int64_t i = 0; d && i < n; i++) d[i] = v[i];
    return d;
}

int rt_plot_run(const char *log_dir, const char *out_dir, FILE *log, RtStatus *st) {
    char h5[4200], base[4200];
    snprintf(h5, sizeof h5, "%s/stat.h5", log_dir);
    const char *keys[] = {"xent_loss", "accuracy", "val_xent_loss", "val_accuracy", "learning_rate", "loss"};
    float *v[6] = {0};
    int64_t n[6] = {0};
    int rc = 0;
    for (int k = 0; k < 6 && rc == 0; k++)
        if (!(v[k] = rt_stats_read_key(h5, keys[k], &n[k], st))) rc = -1;
    if (rc || (rc = rt_mkdirs(out_dir, NULL, 0, st)) < 0) goto done;
    /* steps run: up to the last non-zero total loss; sizes from the array lengths */
    int64_t steps = n[5];
    while (steps > 0 && v[5][steps - 1] == 0) steps--;
    int64_t max_epochs = n[4], epoch_size = max_epochs ? n[5] / max_epochs : 1;
    int64_t every = n[2] ? (max_epochs + n[2] - 1) / n[2] : 1;
    if (steps == 0) {
        rc = rt_fail(st, "%s: no training steps recorded yet", h5);
        goto done;
    }
    double *x = fn_malloc((size_t)steps * sizeof *x), *xent = to_double(v[0], steps), *acc = to_double(v[1], steps);
    double *sx = fn_malloc((size_t)steps * sizeof *sx), *sa = fn_malloc((size_t)steps * sizeof *sa);
    double *vx = fn_malloc((size_t)(n[2] + 1) * sizeof *vx), *vxe = fn_malloc((size_t)(n[2] + 1) * sizeof *vxe),
           *vac = fn_malloc((size_t)(n[3] + 1) * sizeof *vac);
    if (!x || !xent || !acc || !sx || !sa || !vx || !vxe || !vac) {
        rc = rt_fail(st, "out of memory plotting %s", h5);
        goto out;
    }
    for (int64_t i = 0; i < steps; i++) x[i] = (double)(i + 1);
    int win = steps < 500 ? (int)steps : 500; /* the window the label states */
    char window[48] = "", train_label[64];
    if (win > 1) snprintf(window, sizeof window, " (mean of %d steps)", win);
    snprintf(train_label, sizeof train_label, "training%s", window);
    smooth(xent, sx, (int)steps, win);
    smooth(acc, sa, (int)steps, win);
    /* validations: index i is epoch (i+1)*every (the last clipped to the epochs run) */
    int64_t nv = 0;
    for (int64_t i = 0; i < n[2]; i++) {
        int64_t at = (i + 1) * every * epoch_size;
        if (at > steps) at = steps;
        if (v[2][i] == 0 && v[3][i] == 0) continue; /* not run */
        vx[nv] = (double)at, vxe[nv] = v[2][i], vac[nv++] = v[3][i];
    }
    RtSeries xs[2] = {{x, sx, (int)steps, train_label, 0.12, 0.47, 0.71, 0, 0},
                      {vx, vxe, (int)nv, "validation", 0.84, 0.15, 0.16, 0, 1}};
    snprintf(base, sizeof base, "%s/cross_entropy", out_dir);
    if (rt_plot(base, "Cross-entropy", "step", "cross-entropy", xs, nv ? 2 : 1, st) < 0) rc = -1;
    else fprintf(log, "%s.png, %s.svg: training cross-entropy%s and validation\n", base, base, window);
    RtSeries as[2] = {{x, sa, (int)steps, train_label, 0.12, 0.47, 0.71, 0, 0},
                      {vx, vac, (int)nv, "validation", 0.84, 0.15, 0.16, 0, 1}};
    snprintf(base, sizeof base, "%s/accuracy", out_dir);
    if (rc == 0 && rt_plot(base, "Classification accuracy", "step", "accuracy", as, nv ? 2 : 1, st) < 0) rc = -1;
    else if (rc == 0) fprintf(log, "%s.png, %s.svg: training and validation accuracy\n", base, base);
    /* LFW: lfw_result.txt lines `step accuracy val` */
    char path[4200], line[256];
    snprintf(path, sizeof path, "%s/lfw_result.txt", log_dir);
    FILE *f = fopen(path, "r");
    double lx[4096], ly[4096], mx[2], my[2];
    int nl = 0;
    while (f && nl < 4096 && fgets(line, sizeof line, f)) {
        long long s;
        double a, val;
        if (sscanf(line, "%lld %lf %lf", &s, &a, &val) == 3) lx[nl] = (double)s, ly[nl++] = a;
    }
    if (f) fclose(f);
    if (rc == 0 && nl > 0) {
        double mean = 0;
        int k0 = nl > 10 ? nl - 10 : 0;
        for (int i = k0; i < nl; i++) mean += ly[i] / (nl - k0);
        mx[0] = lx[0], mx[1] = lx[nl - 1], my[0] = my[1] = mean;
        char label[64];
        snprintf(label, sizeof label, "mean of the last %d: %.4f", nl - k0, mean);
        RtSeries ls[2] = {{lx, ly, nl, "LFW accuracy", 0.17, 0.63, 0.17, 0, 1},
                          {mx, my, 2, label, 0.3, 0.3, 0.3, 1, 0}};
        snprintf(base, sizeof base, "%s/lfw_accuracy", out_dir);
        if (rt_plot(base, "LFW accuracy", "step", "accuracy", ls, 2, st) < 0) rc = -1;
        else fprintf(log, "%s.png, %s.svg: LFW accuracy per evaluation, mean of the last %d %.5f\n", base, base,
                     nl - k0, mean);
    } else if (rc == 0) {
        fprintf(log, "no lfw_result.txt in %s (train with --lfw_dir): no LFW figure\n", log_dir);
    }
out:
    free(x), free(xent), free(acc), free(sx), free(sa), free(vx), free(vxe), free(vac);
done:
    for (int k = 0; k < 6; k++) free(v[k]);
    return rc;
}

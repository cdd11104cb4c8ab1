/* Kernel lab: fn's CPU convolutions (codegen/ref: im2col + OpenBLAS sgemm) over every distinct
 * convolution shape of a model, forward, backward-data and backward-filter, each checked
 * against a direct float64 sum at sampled cells before it is timed, in GFLOP/s against this
 * machine's measured sgemm ceiling (a large square sgemm on all threads).
 *
 * Both fn's fast CPU kernels (codegen/cpu: Winograd, direct or tiled im2col, whichever the
 * shape takes; FN_WINOGRAD=0 / FN_DIRECT=0 turn the first two off for a comparison) and the
 * reference's (codegen/ref, one whole im2col matrix) are measured. ceil% is the fast kernels'
 * mean rate over the three passes, counted as direct convolution FLOPs (Winograd does fewer
 * multiplications, so it can pass 100%).
 * Usage: conv_lab [MODEL.fn] [--batch N] [--image_size S] [--reps R] [--layer TEXT] [--fwd]
 * (--fwd: time the forward pass only, as inference runs it, alone / with bias + ReLU after it /
 * with them on its rows as it writes them (CpuEpilogue); FN_CPU_ISA and FN_THREADS apply).
 * Prints a table and, last, the step's convolution time at this batch (sum over layers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "bench/cpu/bench_args.h"
#include "cli/driver.h"
#include "cli/options.h"
#include "codegen/cpu/cpu.h"
#include "codegen/ref/ref.h"
#include "runtime/core/rt.h"

typedef struct {
    RefWindow win;
    int count;
    char scope[96];
} Shape;

static float *randv(size_t n, uint64_t seed) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(2 * rt_uniform(seed, i) - 1);
    return p;
}

static double best_of(int reps, void (*fn)(void *), void *arg) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = rt_now();
        fn(arg);
        double t = rt_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

typedef struct {
    const Shape *s;
    float *x, *w, *y, *dy, *dx, *dw, *scratch;
    int n;    /* sgemm ceiling size */
    int fast; /* codegen/cpu's kernels, else the reference's */
    FnPool *pool; /* the fast kernels' threads (ir/pool.h), as the CPU backend makes it */
    int paths;    /* the fast algorithms allowed (CPU_PATH_*: FN_WINOGRAD=0, FN_DIRECT=0 take theirs out)
                     and the ISA (FN_CPU_ISA) */
} Job;

/* y[p] = max(y[p] + b, 0) over rows p0..p1 of width o: an epilogue as inference runs after
 * each convolution (bias and ReLU), in place */
typedef struct {
    float *y;
    const float *b;
    int o;
} BiasRelu;
static void bias_relu(void *arg, int64_t p0, int64_t p1, int worker) {
    const BiasRelu *e = arg;
    for (int64_t p = p0; p < p1; p++) {
        float *y = e->y + p * e->o;
        for (int i = 0; i < e->o; i++) y[i] = y[i] + e->b[i] > 0 ? y[i] + e->b[i] : 0;
    }
}

static void run_fwd(void *a) {
    Job *j = a;
    if (j->fast) cpu_conv2d_f32(j->x, j->w, j->y, &j->s->win, j->paths, j->scratch, j->pool, NULL);
    else ref_conv2d_f32(j->x, j->w, j->y, &j->s->win, j->scratch);
}
/* the forward, then bias + ReLU: after it over the whole output (epi 1) or on its rows (epi 2) */
static void run_fwd_epi(Job *j, int epi) {
    const RefWindow *v = &j->s->win;
    BiasRelu e = {j->y, j->dy, v->o};
    CpuEpilogue ep = {bias_relu, &e};
    cpu_conv2d_f32(j->x, j->w, j->y, v, j->paths, j->scratch, j->pool, epi == 2 ? &ep : NULL);
    if (epi == 1) cpu_epilogue_all(&ep, (int64_t)v->n * v->oh * v->ow, j->pool);
}
static void run_fwd_after(void *a) { run_fwd_epi(a, 1); }
static void run_fwd_rows(void *a) { run_fwd_epi(a, 2); }
static void run_bwd_data(void *a) {
    Job *j = a;
    if (j->fast) cpu_conv2d_bwd_data_f32(j->dy, j->w, j->dx, &j->s->win, j->paths, j->scratch, j->pool);
    else ref_conv2d_bwd_data_f32(j->dy, j->w, j->dx, &j->s->win, j->scratch);
}
static void run_bwd_filter(void *a) {
    Job *j = a;
    if (j->fast) cpu_conv2d_bwd_filter_f32(j->x, j->dy, j->dw, &j->s->win, j->paths, j->scratch, j->pool);
    else ref_conv2d_bwd_filter_f32(j->x, j->dy, j->dw, &j->s->win, j->scratch);
}
static void run_sgemm(void *a) {
    Job *j = a;
    cpu_sgemm(j->pool, 0, 0, j->n, j->n, j->n, j->x, j->n, j->w, j->n, 0, j->y, j->n);
}

static size_t xi(const RefWindow *v, int b, int iy, int ix, int c) {
    return (((size_t)b * (size_t)v->h + (size_t)iy) * (size_t)v->w + (size_t)ix) * (size_t)v->c + (size_t)c;
}
static size_t yi(const RefWindow *v, int b, int oy, int ox, int o) {
    return (((size_t)b * (size_t)v->oh + (size_t)oy) * (size_t)v->ow + (size_t)ox) * (size_t)v->o + (size_t)o;
}
static size_t wi(const RefWindow *v, int ky, int kx, int c, int o) {
    return (((size_t)ky * (size_t)v->kw + (size_t)kx) * (size_t)v->c + (size_t)c) * (size_t)v->o + (size_t)o;
}

/* Worst relative error of the three results at 24 sampled cells each, against direct sums. */
static double check(const Job *j) {
    const RefWindow *v = &j->s->win;
    double worst = 0;
    for (int t = 0; t < 24; t++) {
        uint64_t k = rt_hash(7, (uint64_t)t, 0);
        int b = (int)(rt_mix(k) % (uint64_t)v->n), o = (int)(rt_mix(k + 1) % (uint64_t)v->o);
        int oy = (int)(rt_mix(k + 2) % (uint64_t)v->oh), ox = (int)(rt_mix(k + 3) % (uint64_t)v->ow);
        int iy = (int)(rt_mix(k + 4) % (uint64_t)v->h), ix = (int)(rt_mix(k + 5) % (uint64_t)v->w);
        int c = (int)(rt_mix(k + 6) % (uint64_t)v->c), ky = (int)(rt_mix(k + 7) % (uint64_t)v->kh);
        int kx = (int)(rt_mix(k + 8) % (uint64_t)v->kw);
        double fwd = 0, fa = 0, bd = 0, ba = 0, bf = 0, bfa = 0;
        for (int p = 0; p < v->kh; p++)
            for (int q = 0; q < v->kw; q++) {
                int y = oy * v->sh - v->pad_t + p, x = ox * v->sw - v->pad_l + q;
                if (y < 0 || y >= v->h || x < 0 || x >= v->w) continue;
                for (int cc = 0; cc < v->c; cc++) {
                    double term = (double)j->x[xi(v, b, y, x, cc)] * j->w[wi(v, p, q, cc, o)];
                    fwd += term, fa += fabs(term);
                }
            }
        for (int p = 0; p < v->kh; p++) /* dx[b,iy,ix,c]: output cells whose window covers it */
            for (int q = 0; q < v->kw; q++) {
                int ny = iy + v->pad_t - p, nx = ix + v->pad_l - q;
                if (ny < 0 || nx < 0 || ny % v->sh || nx % v->sw || ny / v->sh >= v->oh || nx / v->sw >= v->ow) continue;
                for (int oo = 0; oo < v->o; oo++) {
                    double term = (double)j->dy[yi(v, b, ny / v->sh, nx / v->sw, oo)] * j->w[wi(v, p, q, c, oo)];
                    bd += term, ba += fabs(term);
                }
            }
        for (int bb = 0; bb < v->n; bb++) /* dw[ky,kx,c,o] */
            for (int y0 = 0; y0 < v->oh; y0++)
                for (int x0 = 0; x0 < v->ow; x0++) {
                    int y = y0 * v->sh - v->pad_t + ky, x = x0 * v->sw - v->pad_l + kx;
                    if (y < 0 || y >= v->h || x < 0 || x >= v->w) continue;
                    double term = (double)j->x[xi(v, bb, y, x, c)] * j->dy[yi(v, bb, y0, x0, o)];
                    bf += term, bfa += fabs(term);
                }
        double e[3] = {fabs(j->y[yi(v, b, oy, ox, o)] - fwd) / (fa + 1e-30),
                       fabs(j->dx[xi(v, b, iy, ix, c)] - bd) / (ba + 1e-30),
                       fabs(j->dw[wi(v, ky, kx, c, o)] - bf) / (bfa + 1e-30)};
        for (int i = 0; i < 3; i++) worst = e[i] > worst ? e[i] : worst;
    }
    return worst;
}

static const char *group_of(const char *scope) {
    if (strstr(scope, "Repeat_2") || strstr(scope, "Block8")) return "block8";
    if (strstr(scope, "Repeat_1")) return "block17";
    if (strstr(scope, "Repeat")) return "block35";
    if (strstr(scope, "Mixed")) return "reduction";
    return "stem";
}

int main(int argc, char **argv) {
    BenchArgs args = {"models/inception_resnet_v1.fn", 32, 160, 3, NULL, 0, "cpu"};
    int rc;
    IrGraph *g = bench_start(argc, argv, &args, &rc);
    if (!g) return rc;
    const char *model = args.model;
    RtOptions opt; /* FN_WINOGRAD=0 / FN_DIRECT=0 as fnrun reads them */
    cli_options_from_env(&opt);
    const int paths = CPU_PATHS((opt.conv_winograd ? CPU_PATH_WINOGRAD : 0) | (opt.conv_direct ? CPU_PATH_DIRECT : 0),
                                opt.cpu_isa);
    const int threads = opt.threads > 0 ? opt.threads : fn_cpus_available();
    FnPool *pool = threads > 1 ? fn_pool_new(threads, opt.spin_us, rt_blas_one_thread) : NULL;
    rt_blas_one_thread();
    int batch = args.batch, image = args.image, reps = args.reps;
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    for (int i = 0; i < g->n_syms; i++) {
        const char *nm = g->syms[i].name;
        sym[i] = !strcmp(nm, "N") ? batch : !strcmp(nm, "image_size") ? image : g->syms[i].dflt > 0 ? g->syms[i].dflt : 1;
    }
    Shape *sh = calloc((size_t)g->n_nodes, sizeof *sh);
    int ns = 0;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *nd = &g->nodes[id];
        if (nd->op != IR_OP_CONV2D) continue;
        int64_t x[IR_MAX_RANK], o = ir_dim_eval(g, nd->shape.d[3], sym);
        for (int k = 0; k < 4; k++) x[k] = ir_dim_eval(g, g->nodes[nd->in[0]].shape.d[k], sym);
        const IrWindowAttr *a = &nd->attr.u.window;
        RefWindow win;
        ref_window_init(&win, (int)x[0], (int)x[1], (int)x[2], (int)x[3], a->kh, a->kw, a->sh, a->sw, a->same, (int)o);
        int k = 0;
        while (k < ns && memcmp(&sh[k].win, &win, sizeof win) != 0) k++;
        if (k == ns) {
            sh[ns].win = win;
            snprintf(sh[ns++].scope, sizeof sh->scope, "%s", ir_str(g, nd->scope));
        }
        sh[k].count++;
    }
    /* the ceiling */
    Job cj = {.n = 2048, .pool = pool};
    cj.x = randv((size_t)cj.n * (size_t)cj.n, 1), cj.w = randv((size_t)cj.n * (size_t)cj.n, 2);
    cj.y = malloc((size_t)cj.n * (size_t)cj.n * sizeof(float));
    run_sgemm(&cj);
    double ceiling = 2.0 * cj.n * cj.n * cj.n / best_of(reps, run_sgemm, &cj) / 1e9;
    free(cj.x), free(cj.w), free(cj.y);
    printf("model %s, batch %d, %dx%d; %d threads; ISA %s; sgemm %dx%dx%d ceiling: %.1f GFLOP/s\n", model, batch,
           image, image, threads, fn_isa_name(cpu_paths_isa(paths)), cj.n, cj.n, cj.n, ceiling);
    printf("columns: GFLOP/s of forward / backward-data / backward-filter, fast (fn's CPU backend) | reference\n");
    printf("%-9s %-28s %5s %17s %6s %17s %8s\n", "group", "input -> output (k, s)", "count", "fast GF/s", "ceil%",
           "reference GF/s", "rel.err");
    double step_s[2] = {0, 0}, step_flop = 0, worst_all = 0, ep_s[2] = {0, 0};
    for (int k = 0; k < ns; k++) {
        const RefWindow *v = &sh[k].win;
        char desc[64], a[40], b[40];
        snprintf(desc, sizeof desc, "%dx%dx%d->%dx%dx%d (%dx%d,%d)", v->h, v->w, v->c, v->oh, v->ow, v->o, v->kh, v->kw,
                 v->sh);
        if (args.layer && !strstr(desc, args.layer)) continue;
        size_t nx = (size_t)v->n * (size_t)v->h * (size_t)v->w * (size_t)v->c;
        size_t ny = (size_t)v->n * (size_t)v->oh * (size_t)v->ow * (size_t)v->o;
        size_t nw = (size_t)v->kh * (size_t)v->kw * (size_t)v->c * (size_t)v->o;
        Job j = {.s = &sh[k], .pool = pool, .paths = paths};
        j.x = randv(nx, 10 + (uint64_t)k), j.w = randv(nw, 20 + (uint64_t)k), j.dy = randv(ny, 30 + (uint64_t)k);
        j.y = malloc(ny * sizeof(float)), j.dx = malloc(nx * sizeof(float)), j.dw = malloc(nw * sizeof(float));
        size_t s1 = ref_conv_scratch(v), s2 = cpu_conv_scratch(v, j.paths, threads);
        j.scratch = malloc((s1 > s2 ? s1 : s2) * sizeof(float) + sizeof(float));
        double flop = 2.0 * (double)ny * (double)(v->kh * v->kw * v->c), gf[2][3], err = 0;
        for (j.fast = 1; j.fast >= 0; j.fast--) {
            run_fwd(&j), run_bwd_data(&j), run_bwd_filter(&j);
            double e = check(&j);
            err = e > err ? e : err;
            double t[3] = {best_of(reps, run_fwd, &j), 0, 0};
            if (!args.fwd) t[1] = best_of(reps, run_bwd_data, &j), t[2] = best_of(reps, run_bwd_filter, &j);
            if (args.fwd && j.fast) { /* bias + ReLU after the forward, or on its rows: in [1] and [2] */
                t[1] = best_of(reps, run_fwd_after, &j), t[2] = best_of(reps, run_fwd_rows, &j);
                ep_s[0] += sh[k].count * t[1], ep_s[1] += sh[k].count * t[2];
            }
            for (int i = 0; i < 3; i++) gf[!j.fast][i] = t[i] > 0 ? flop / t[i] / 1e9 : 0;
            step_s[!j.fast] += sh[k].count * (args.fwd ? t[0] : t[0] + t[1] + t[2]);
        }
        if (err > worst_all) worst_all = err;
        snprintf(a, sizeof a, "%.0f/%.0f/%.0f", gf[0][0], gf[0][1], gf[0][2]);
        snprintf(b, sizeof b, "%.0f/%.0f/%.0f", gf[1][0], gf[1][1], gf[1][2]);
        double mean = args.fwd ? gf[0][0] : 3 / (1 / gf[0][0] + 1 / gf[0][1] + 1 / gf[0][2]);
        printf("%-9s %-28s %5d %17s %5.0f%% %17s %8.1e\n", group_of(sh[k].scope), desc, sh[k].count, a,
               100 * mean / ceiling, b, err);
        step_flop += sh[k].count * (args.fwd ? 1 : 3) * flop;
        free(j.x), free(j.w), free(j.dy), free(j.y), free(j.dx), free(j.dw), free(j.scratch);
    }
    printf("all convolutions of %s at batch %d: fast %.3f s (%.1f GFLOP/s, %.0f%% of the ceiling), "
           "reference %.3f s (%.1f GFLOP/s); worst relative error %.1e\n",
           args.fwd ? "an inference step" : "a training step", batch, step_s[0], step_flop / step_s[0] / 1e9, 100 * step_flop / step_s[0] / 1e9 / ceiling, step_s[1],
           step_flop / step_s[1] / 1e9, worst_all);
    if (args.fwd)
        printf("with bias + ReLU (--fwd: the middle and last columns): after each convolution %.3f s, on its rows as "
               "they are written (CpuEpilogue) %.3f s\n", ep_s[0], ep_s[1]);
    free(sh);
    free(sym);
    fn_pool_free(pool);
    ir_graph_free(g);
    return worst_all < 1e-4 ? 0 : 1;
}

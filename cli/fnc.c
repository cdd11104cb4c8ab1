/* fnc: the compiler driver. Parses a model (frontend), runs the pass pipeline (passes) and
 * writes the artifact (runtime/artifact), or reports on the model (check, dump, info). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/driver.h"
#include "cli/options.h"
#include "codegen/cpu/cpu.h"
#include "codegen/cuda/cuda_emit.h"
#include "codegen/cuda/nvrtc.h"
#include "runtime/cpu/cpu_exec.h"
#include "runtime/cpu/jit.h"
#include "runtime/core/plan.h"

#ifndef FN_GIT_REVISION
#define FN_GIT_REVISION "unknown" /* the build names it where it can (-DFN_GIT_REVISION=...) */
#endif
#define MAX_DEFINES 32
#define MAX_MODELS 16

typedef struct {
    const char *model, *out, *dump_after, *graph, *optimizer, *nvrtc;
    int time_passes, unfused, bf16;
    FeDefine defines[MAX_DEFINES];
    int n_defines;
} FncOpts;

/* -D name=value pairs are taken out of argv before the flag parser sees it. */
static int take_defines(int *argc, char **argv, FncOpts *o) {
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        const char *d = NULL;
        if (!strcmp(argv[i], "-D") && i + 1 < *argc) d = argv[++i];
        else if (!strncmp(argv[i], "-D", 2) && argv[i][2]) d = argv[i] + 2;
        else if (!strcmp(argv[i], "-D")) {
            fprintf(stderr, "fnc: -D needs name=value\n");
            return -1;
        }
        if (!d) {
            argv[w++] = argv[i];
            continue;
        }
        const char *eq = strchr(d, '=');
        char *end = NULL;
        errno = 0;
        long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
        if (!eq || eq == d || !eq[1] || *end || v < 1) {
            fprintf(stderr, "fnc: -D %s: expected name=positive-integer\n", d);
            return -1;
        }
        if (errno == ERANGE || v > IR_MAX_NUMEL) { /* no dim can exceed a tensor's element limit */
            fprintf(stderr, "fnc: -D %s: value out of range (a dim is at most 2^40 = %lld)\n", d,
                    (long long)IR_MAX_NUMEL);
            return -1;
        }
        if (o->n_defines == MAX_DEFINES) {
            fprintf(stderr, "fnc: too many -D\n");
            return -1;
        }
        o->defines[o->n_defines++] = (FeDefine){strndup(d, (size_t)(eq - d)), v};
    }
    *argc = w;
    return 0;
}

static IrGraph *build(const FncOpts *o, int training, PassCtx *ctx) {
    return drv_build(o->model, o->defines, o->n_defines, training, ctx, stderr);
}

static int64_t eval_dims(const IrGraph *g, const IrShape *s, const int64_t *sym, int64_t *d) {
    for (int k = 0; k < s->rank; k++) d[k] = ir_dim_eval(g, s->d[k], sym);
    return ir_numel(d, s->rank);
}

/* Every node's shape at the bound sizes: positive dims, at most IR_MAX_NUMEL elements. 0, or -1
 * after naming the first node that fails (op and scope) on stderr. */
static int check_bound_shapes(const char *model, const IrGraph *g, const int64_t *sym) {
    int64_t d[IR_MAX_RANK];
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        int64_t cnt = eval_dims(g, &n->shape, sym, d);
        int bad = cnt < 0;
        for (int k = 0; k < n->shape.rank; k++) bad |= d[k] < 1;
        if (!bad) continue;
        char sh[256], val[128] = "";
        ir_shape_format(g, &n->shape, sh, sizeof sh);
        for (int k = 0, m = 0; k < n->shape.rank && m < (int)sizeof val; k++)
            m += snprintf(val + m, sizeof val - (size_t)m, "%s%lld", k ? "x" : "", (long long)d[k]);
        fprintf(stderr, "%s: error: %s in %s: shape %s is %s at these sizes (a dim below 1, or more than 2^40 elements)\n",
                model, ir_op_info[n->op].name, ir_str(g, n->scope)[0] ? ir_str(g, n->scope) : "the top level", sh, val);
        return -1;
    }
    return 0;
}

/* Planned step memory (activations and temporaries, liveness reuse; variables not counted) at
 * N = 1 and N = 17: a sixteenth of the difference is the per-image part (a packed slab does not
 * grow exactly linearly). 0 if the graph cannot be planned. */
static int plan_per_image(const IrGraph *g, const int64_t *sym0, int run_effects, int fuse, double *per_image,
                          double *fixed) {
    int n_idx = ir_sym_index(g, "N");
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    double total[2] = {0, 0};
    int ok = n_idx >= 0;
    for (int k = 0; k < 2 && ok; k++) {
        memcpy(sym, sym0, (size_t)g->n_syms * sizeof *sym);
        sym[n_idx] = k ? 17 : 1;
        RtPlan p;
        RtStatus st;
        ok = rt_plan_build(&p, g, sym, NULL, 0, run_effects, 4, fuse, &st) == 0;
        for (int b = 0; ok && !p.block_off && b < p.n_blocks; b++) total[k] += (double)p.block_bytes[b];
        if (ok && p.block_off) total[k] += (double)p.slab_bytes;
        if (ok) total[k] += (double)rt_cpu_scratch(&p, fuse, CPU_PATHS_ALL, 4, fn_cpus_available()) * 4, rt_plan_free(&p);
    }
    free(sym);
    *per_image = (total[1] - total[0]) / 16;
    *fixed = total[0] - *per_image;
    return ok;
}

/* The LLVM target's kernels for a graph's loops at these sizes (text only: nothing compiled). */
static void llvm_kernels(const IrGraph *g, const int64_t *sym, int run_effects, const char *what) {
    RtPlan p;
    RtStatus st;
    RtJit j;
    if (rt_plan_build(&p, g, sym, NULL, 0, run_effects, 4, 1, &st) < 0) return;
    if (rt_jit_build(&j, &p, 4, 0, NULL, &st) == 0) {
        int covered = 0;
        for (int gi = 0; j.kernel && gi < p.fusion.n_groups; gi++) covered += j.kernel[gi] >= 0;
        printf("LLVM target, %s: %d kernels for %d of %d loops (%s)\n", what, j.n_kernels, covered, p.fusion.n_groups,
               ll_jit_available() ? "fnrun compiles them when a step's loops cover 4M elements or more"
                                   : "this build has no LLVM: the loops run interpreted");
        rt_jit_free(&j);
    }
    rt_plan_free(&p);
}

/* fnc info's sizes: the defaults, the unbound dims (noted) and N as 1; NULL after naming a node
 * whose shape fails at them. */
static int64_t *info_sizes(const char *model, const IrGraph *g) {
    int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
    for (int i = 0; i < g->n_syms; i++) {
        sym[i] = g->syms[i].dflt > 0 ? g->syms[i].dflt : 1;
        if (g->syms[i].dflt <= 0)
            printf("note: dimension %s is unbound; shown as 1\n", g->syms[i].name);
    }
    int n_idx = ir_sym_index(g, "N");
    if (n_idx >= 0) sym[n_idx] = 1;
    if (check_bound_shapes(model, g, sym) < 0) {
        free(sym);
        return NULL;
    }
    return sym;
}

/* The eval graph's parameters, state, forward MACs and values at sym. */
static void info_counts(const FncOpts *o, const IrGraph *g, const int64_t *sym) {
    int64_t params = 0, params_all = 0, states = 0, macs = 0, acts = 0, d[IR_MAX_RANK], d2[IR_MAX_RANK];
    int n_params = 0;
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *n = &g->nodes[id];
        int64_t cnt = eval_dims(g, &n->shape, sym, d);
        if (n->op == IR_OP_PARAM) {
            params_all += cnt;
            n_params++;
            if (strncmp(ir_str(g, n->attr.u.leaf.name), "Logits/", 7) != 0) params += cnt;
        } else if (n->op == IR_OP_STATE) {
            states += cnt;
        } else if (n->op == IR_OP_CONV2D) {
            eval_dims(g, &g->nodes[n->in[0]].shape, sym, d2);
            macs += cnt * n->attr.u.window.kh * n->attr.u.window.kw * d2[3];
        } else if (n->op == IR_OP_MATMUL) {
            eval_dims(g, &g->nodes[n->in[0]].shape, sym, d2);
            macs += cnt * d2[n->attr.u.matmul.ta ? 0 : 1];
        }
        if (ir_op_info[n->op].cls != IR_CLASS_SOURCE) acts += cnt;
    }
    printf("learnable parameters: %lld (%.3f M) excluding Logits; %lld in all, in %d variables\n",
           (long long)params, (double)params / 1e6, (long long)params_all, n_params);
    printf("non-trainable state:  %lld values (batch-norm moving statistics)\n", (long long)states);
    /* -D N=... bakes the batch into the shapes: the MACs are then a batch's, shown per image, and
     * the values (some of them the batch's, some not) are a batch's */
    int64_t batch = 1;
    for (int i = 0; i < o->n_defines; i++)
        if (!strcmp(o->defines[i].name, "N") && o->defines[i].value > 0) batch = o->defines[i].value;
    macs /= batch;
    printf("forward MACs per image: %lld (%.3f G)\n", (long long)macs, (double)macs / 1e9);
    char values_per[64] = "per image";
    if (batch > 1) snprintf(values_per, sizeof values_per, "per batch of %lld", (long long)batch);
    printf("forward values %s (unfused, no reuse): %lld (%.1f MiB in float32)\n", values_per, (long long)acts,
           (double)acts * 4 / (1 << 20));
}

/* Fusion, the LLVM kernels and the planned step memory of the eval graph g and, where the model
 * has a loss, of the train graph. */
static void info_graphs(const FncOpts *o, const IrGraph *g, const int64_t *sym, PassCtx *ctx) {
    IrGraph *train = ir_output(g, "loss") != IR_NONE ? build(o, 1, ctx) : NULL;
    for (int t = 0; t < 2; t++) {
        const IrGraph *gg = t ? train : g;
        char what[64];
        snprintf(what, sizeof what, t ? "train graph (%s)" : "eval graph", pass_optimizer_names[ctx->optimizer]);
        if (!gg) continue;
        PassFusion f;
        pass_fuse(gg, NULL, NULL, &f);
        printf("fusion, %s: %d nodes, %d of them in %d loops (%d with more than one node); %d sums folded in; "
               "%d values written\n",
               what, gg->n_nodes, f.n_fused, f.n_groups, f.n_multi, f.n_terminals, f.n_written);
        pass_fusion_free(&f);
        llvm_kernels(gg, sym, t, what);
        double per, fixed, per0, fixed0;
        if (plan_per_image(gg, sym, t, 1, &per, &fixed) && plan_per_image(gg, sym, t, 0, &per0, &fixed0))
            printf("planned step memory, %s (fused, liveness reuse, variables apart): %.1f MiB per image + %.1f MiB "
                   "(unfused: %.1f + %.1f)\n",
                   what, per / (1 << 20), fixed / (1 << 20), per0 / (1 << 20), fixed0 / (1 << 20));
    }
    ir_graph_free(train);
}

/* The marked layers' output shapes per image (batch norms left out). */
static void info_layers(const IrGraph *g, const int64_t *sym) {
    int64_t d[IR_MAX_RANK];
    printf("\nlayer output shapes (per image):\n");
    for (int i = 0; i < g->n_marks; i++) {
        const char *name = ir_str(g, g->marks[i].name);
        const char *last = strrchr(name, '/');
        if (last && !strcmp(last + 1, "BatchNorm")) continue;
        const IrShape *s = &g->nodes[g->marks[i].id].shape;
        eval_dims(g, s, sym, d);
        char buf[128] = "";
        size_t k = 0;
        for (int j = 1; j < s->rank; j++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", j > 1 ? "x" : "", (long long)d[j]);
        printf("  %-60s %s\n", name, buf);
    }
}

static int cmd_info(const FncOpts *o, PassCtx *ctx) {
    IrGraph *g = build(o, 0, ctx);
    if (!g) return 1;
    int64_t *sym = info_sizes(o->model, g);
    if (!sym) {
        ir_graph_free(g);
        return 1;
    }
    printf("model %s\n", o->model);
    for (int i = 0; i < o->n_defines; i++)
        printf("  dim %-16s = %lld (-D)\n", o->defines[i].name, (long long)o->defines[i].value);
    for (int i = 0; i < g->n_syms; i++) printf("  dim %-16s = %lld\n", g->syms[i].name, (long long)sym[i]);
    info_counts(o, g, sym);
    info_graphs(o, g, sym, ctx);
    info_layers(g, sym);
    RtOptions opt;
    cli_options_from_env(&opt);
    printf("runtime options (fnrun's, from the FN_* variables):\n");
    rt_options_print(&opt, stdout);
    free(sym);
    ir_graph_free(g);
    return 0;
}

/* fnc cuda: the CUDA C module of the train or eval graph (fused, as fnrun runs it, at the model's
 * sizes with N = 90 unless -D N=... says otherwise; or unfused); --nvrtc ARCH also compiles it */
static int cmd_cuda(const FncOpts *o, PassCtx *ctx) {
    int training = strcmp(o->graph, "eval") != 0;
    /* -D N=... is the batch the fused module is planned for, not a constant in the graph: N stays
       symbolic, as in fnrun's artifacts (the bfloat16 values are those that lead with it) */
    FncOpts oc = *o;
    int64_t batch = 0;
    oc.n_defines = 0;
    for (int i = 0; i < o->n_defines; i++) {
        if (!strcmp(o->defines[i].name, "N") && !o->unfused) batch = o->defines[i].value;
        else oc.defines[oc.n_defines++] = o->defines[i];
    }
    IrGraph *g = build(&oc, training, ctx);
    if (!g) return 1;
    if (batch > 0 && ir_sym_index(g, "N") < 0) {
        fprintf(stderr, "%s: error: -D N: the model declares no dim named 'N'\n", o->model);
        ir_graph_free(g);
        return 1;
    }
    CuModule m;
    FnStatus st;
    int half = 0, rc = drv_cuda_module(&g, training, o->unfused ? 0 : o->bf16 ? 2 : 1, batch, &m, &half, &st);
    if (rc < 0) {
        fprintf(stderr, "fnc cuda: %s\n", st.msg);
        ir_graph_free(g);
        return 1;
    }
    int launches, gemms;
    cu_module_counts(g, &m, &launches, &gemms);
    if (o->out) {
        FILE *f = fopen(o->out, "w");
        if (!f || fputs(m.source, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "fnc cuda: cannot write %s\n", o->out);
            rc = 1;
        }
    } else if (!o->nvrtc) {
        fputs(m.source, stdout);
    }
    FILE *info = o->out || o->nvrtc ? stdout : stderr;
    fprintf(info, "%s graph: %d nodes, %d kernels in the module (%s), %d kernel launches and %d GEMMs per step\n",
            training ? "train" : "eval", g->n_nodes, m.n_names, o->unfused ? "unfused" : "fused", launches, gemms);
    if (o->bf16) fprintf(info, "values in bfloat16: %d (those of rank 4 that lead with a symbolic N)\n", half);
    if (rc == 0 && o->nvrtc) {
        void *cubin;
        size_t n;
        char *log;
        double t0 = rt_now();
        RtOptions opt;
        cli_options_from_env(&opt);
        int c = cu_nvrtc_compile(m.source, "fn_module.cu", o->nvrtc, opt.cuda_emulator, &cubin, &n, &log, &st);
        if (c == -2) {
            fprintf(stderr, "fnc cuda: %s\n", st.msg);
            rc = 1;
        } else {
            int warnings = log && strstr(log, "warning") != NULL;
            if (log && log[0]) fprintf(stderr, "%s", log);
            if (c < 0) fprintf(stderr, "fnc cuda: %s\n", st.msg);
            else printf("NVRTC %s: %zu-byte cubin, %s (%.2f s)\n", o->nvrtc, n, warnings ? "with warnings" : "no warnings",
                        rt_now() - t0);
            rc = c < 0 || warnings ? 1 : 0;
        }
        free(cubin);
        free(log);
    }
    cu_module_free(&m);
    ir_graph_free(g);
    return rc;
}

/* --graph and --dump-after name one of their choices: 0, or -1 after saying which not. */
static int check_choices(const char *prog, const FncOpts *o) {
    if (strcmp(o->graph, "train") && strcmp(o->graph, "eval")) {
        fprintf(stderr, "%s: --graph: expected train|eval, got '%s'\n", prog, o->graph);
        return -1;
    }
    if (o->dump_after) {
        int ok = !strcmp(o->dump_after, "all");
        for (int i = 0; pass_names[i]; i++) ok |= !strcmp(o->dump_after, pass_names[i]);
        if (!ok) {
            fprintf(stderr, "%s: --dump-after: unknown pass '%s'\n", prog, o->dump_after);
            return -1;
        }
    }
    return 0;
}

/* fnc alone, --help, --version or an unknown command: the exit code after saying so; -1 when
 * argv[1] is a command. */
static int fnc_top(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: fnc COMMAND MODEL.fn [flags]\n\ncommands:\n"
                "  compile MODEL.fn... [-o OUT] [-D name=value ...]  write an artifact for fnrun\n"
                "      (several models: one artifact, graphs named <stem>/eval)\n"
                "  check MODEL.fn                                 diagnostics only\n"
                "  dump MODEL.fn [--graph train|eval] [--dump-after PASS]  print the IR\n"
                "  info MODEL.fn [-D name=value ...]              parameters, MACs, layer shapes\n"
                "  cuda MODEL.fn [--graph train|eval] [--unfused | --bf16] [-o OUT.cu] [--nvrtc sm_90]  the CUDA C module\n"
                "  --version                                      fn's version and git revision\n"
                "\n`fnc COMMAND --help` lists a command's flags. fn " FN_VERSION "\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("fnc (fn) %s, revision %s\n", FN_VERSION, FN_GIT_REVISION);
        return 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "compile") && strcmp(cmd, "check") && strcmp(cmd, "dump") && strcmp(cmd, "info") &&
        strcmp(cmd, "cuda")) {
        fprintf(stderr, "fnc: unknown command '%s' (see fnc --help)\n", cmd);
        return 2;
    }
    return -1;
}

/* The command's -D, flags and models into o, pos and n_pos, and the pass context; -1 when the
 * command is to run, else the exit code (after --help, or an error named on stderr). */
static int fnc_args(int argc, char **argv, FncOpts *o, const char **pos, int *n_pos, PassCtx *ctx) {
    const char *cmd = argv[1];
    if (take_defines(&argc, argv, o) < 0) return 2;
    const FlagSpec specs[] = {
        {"o", FLAG_STR, &o->out, "output file: compile's artifact (default MODEL with .fnc), cuda's .cu"},
        {"dump-after", FLAG_STR, &o->dump_after, "print the IR after this pass (or 'all')"},
        {"time-passes", FLAG_BOOL, &o->time_passes, "print the time of every pass"},
        {"graph", FLAG_STR, &o->graph, "dump, cuda: which graph, train or eval"},
        {"optimizer", FLAG_STR, &o->optimizer, "dump, cuda: the train graph's optimiser (ADAGRAD, ADADELTA, ADAM, RMSPROP, MOM, SGD)"},
        {"nvrtc", FLAG_STR, &o->nvrtc, "cuda: compile the module with NVRTC for this architecture (e.g. sm_90)"},
        {"unfused", FLAG_BOOL, &o->unfused, "cuda: a kernel per op (one module for every size) instead of the fused module"},
        {"bf16", FLAG_BOOL, &o->bf16, "cuda: the fused module with the activations and their gradients in bfloat16 (FN_GPU_BF16=act)"},
    };
    /* accept -o OUT as well as --o */
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = "--o";
    char usage[64];
    snprintf(usage, sizeof usage, "%s [-D name=value ...] [flags]", strcmp(cmd, "compile") ? "MODEL.fn" : "MODEL.fn...");
    char prog[32];
    snprintf(prog, sizeof prog, "fnc %s", cmd);
    int r = flags_parse(prog, usage, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, MAX_MODELS, n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (*n_pos < 1) {
        fprintf(stderr, "%s: missing MODEL.fn (see %s --help)\n", prog, prog);
        return 2;
    }
    if (*n_pos > 1 && strcmp(cmd, "compile")) {
        fprintf(stderr, "%s: one MODEL.fn at a time (only compile takes several)\n", prog);
        return 2;
    }
    if (*n_pos > 1 && !o->out) {
        fprintf(stderr, "%s: several models go into one artifact: name it with -o\n", prog);
        return 2;
    }
    o->model = pos[0];
    if (check_choices(prog, o) < 0) return 2;
    *ctx = (PassCtx){.dump_after = o->dump_after, .dump = stdout, .time_passes = o->time_passes, .verify = 1,
                     .optimizer = PASS_OPT_ADAGRAD};
    if (o->optimizer) {
        int k = pass_optimizer_parse(o->optimizer);
        if (k < 0) {
            fprintf(stderr, "%s: --optimizer: unknown optimiser '%s'\n", prog, o->optimizer);
            return 2;
        }
        ctx->optimizer = (PassOptimizer)k;
    }
    return -1;
}

/* fnc dump: the IR of the train or eval graph (or, with --dump-after, what the passes print) */
static int cmd_dump(const FncOpts *o, PassCtx *ctx) {
    int training = strcmp(o->graph, "eval") != 0;
    if (o->dump_after) {
        IrGraph *g = build(o, training, ctx);
        ir_graph_free(g);
        return g ? 0 : 1;
    }
    IrGraph *g = build(o, training, ctx);
    if (!g) return 1;
    ir_print(g, stdout);
    ir_graph_free(g);
    return 0;
}

/* fnc compile: the artifact of pos[0..n_pos), to -o or the model's name with .fnc */
static int cmd_compile(FncOpts *o, const char *const *pos, int n_pos, PassCtx *ctx) {
    double t0 = rt_now();
    char def_out[4096];
    if (!o->out) {
        const char *base = strrchr(o->model, '/');
        base = base ? base + 1 : o->model;
        snprintf(def_out, sizeof def_out, "%s", base);
        char *dot = strrchr(def_out, '.');
        if (dot) *dot = 0;
        strncat(def_out, ".fnc", sizeof def_out - strlen(def_out) - 1);
        o->out = def_out;
    }
    if (drv_compile(pos, n_pos, o->defines, o->n_defines, o->out, ctx, stderr) < 0) return 1;
    printf("wrote %s (%.2f s)\n", o->out, rt_now() - t0);
    return 0;
}

/* fnc check: both graphs built, diagnostics only */
static int cmd_check(const FncOpts *o, PassCtx *ctx) {
    IrGraph *train = build(o, 1, ctx);
    IrGraph *eval = train ? build(o, 0, ctx) : NULL;
    if (!train || !eval) {
        ir_graph_free(train);
        return 1;
    }
    printf("%s: ok (train graph %d nodes, eval graph %d nodes)\n", o->model, train->n_nodes,
           eval->n_nodes);
    ir_graph_free(train);
    ir_graph_free(eval);
    return 0;
}

/* main's body; o's -D names are freed by main whatever this returns */
static int fnc_main(int argc, char **argv, FncOpts *o) {
    o->graph = "train";
    int rc = fnc_top(argc, argv);
    if (rc >= 0) return rc;
    const char *pos[MAX_MODELS];
    int n_pos;
    PassCtx ctx;
    if ((rc = fnc_args(argc, argv, o, pos, &n_pos, &ctx)) >= 0) return rc;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "info")) return cmd_info(o, &ctx);
    if (!strcmp(cmd, "cuda")) return cmd_cuda(o, &ctx);
    if (!strcmp(cmd, "dump")) return cmd_dump(o, &ctx);
    if (!strcmp(cmd, "compile")) return cmd_compile(o, pos, n_pos, &ctx);
    return cmd_check(o, &ctx);
}

int main(int argc, char **argv) {
    FncOpts o = {0};
    int rc = fnc_main(argc, argv, &o);
    for (int i = 0; i < o.n_defines; i++) free((char *)o.defines[i].name);
    return rc;
}

/* fnrun export MODEL -o OUT.onnx: a model's eval graph and weights as an ONNX file
 * (interop/onnx_export.c), read back and checked (interop/onnx_check.c) after it is written.
 *
 * What this is: the flags, MODEL resolved as fnrun validate resolves it (an artifact with seeded
 * weights, a checkpoint, or a run's model directory: rt_checkpoint_resolve_model), the graph's
 * symbols bound (all but the batch N), the variables filled (seed, checkpoint, its moving
 * averages, or the MTCNN nets' det1-3.npy as fnrun align loads them), and a one-line summary.
 * What this is not: the code generator (interop/) or a runner of the exported file.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "interop/onnx.h"
#include "runtime/eval/model.h"

#define MAX_OUTPUTS 16

typedef struct {
    const char *model, *out, *graph, *input_layout, *mtcnn_weights;
    int image_size, embedding_size, seed, use_moving_averages;
    const char *outputs[MAX_OUTPUTS];
    int n_outputs;
    char *output_buf[MAX_OUTPUTS]; /* the comma lists, split */
} ExportOpts;

/* "fnrun export: <message>" on stderr; -1 */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fnrun export: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return -1;
}

/* Takes every --output NAME[,NAME...] out of argv (flags.c keeps only a flag's last value);
 * -1 after a one-line error. */
static int take_outputs(int *argc, char **argv, ExportOpts *o) {
    int w = 2;
    for (int i = 2; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--output")) {
            if (i + 1 == *argc) return usage_error("flag --output needs a value");
            v = argv[++i];
        } else if (!strncmp(argv[i], "--output=", 9)) {
            v = argv[i] + 9;
        } else {
            argv[w++] = argv[i];
            continue;
        }
        char *list = strdup(v), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (o->n_outputs == MAX_OUTPUTS) {
                free(list);
                return usage_error("at most %d outputs", MAX_OUTPUTS);
            }
            o->outputs[o->n_outputs++] = t;
        }
        int k = 0;
        while (k < MAX_OUTPUTS && o->output_buf[k])
            k++;
        if (k == MAX_OUTPUTS) {
            free(list);
            return usage_error("at most %d --output flags", MAX_OUTPUTS);
        }
        o->output_buf[k] = list;
    }
    *argc = w;
    return 0;
}

/* 0, 1 after --help, -1 after a one-line error */
static int parse(int argc, char **argv, ExportOpts *o) {
    const char *unused_output = NULL;
    const FlagSpec specs[] = {
        {"o", FLAG_STR, &o->out, "the ONNX file to write (required; also -o OUT.onnx)"},
        {"image_size", FLAG_INT, &o->image_size, "input height and width in pixels (PNet's too)"},
        {"input_layout", FLAG_STR, &o->input_layout,
         "nhwc (fn's, a Transpose added) or nchw: of image inputs and rank-4 outputs"},
        {"use_moving_averages", FLAG_BOOL, &o->use_moving_averages,
         "export the checkpoint's averaged weights"},
        {"output", FLAG_STR, &unused_output,
         "graph output to export, repeatable or a comma list (default embeddings, "
         "or every output of a graph without one)"},
        {"graph", FLAG_STR, &o->graph,
         "the artifact's graph (e.g. pnet/eval, rnet/eval, onet/eval in mtcnn.fnc)"},
        {"mtcnn_weights", FLAG_STR, &o->mtcnn_weights,
         "folder of det1.npy det2.npy det3.npy, for the MTCNN nets"},
        {"embedding_size", FLAG_INT, &o->embedding_size,
         "for an artifact alone (a checkpoint knows its own)"},
        {"seed", FLAG_INT, &o->seed, "initialises an artifact alone"},
    };
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = "--o";
    if (take_outputs(&argc, argv, o) < 0) return -1;
    const char *pos[1];
    int n_pos;
    int r =
        flags_parse("fnrun export",
                    "MODEL -o OUT.onnx [flags]   (MODEL: artifact, checkpoint or run directory)",
                    specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, 1, &n_pos);
    if (r) return r;
    if (n_pos != 1) return usage_error("needs MODEL (see fnrun export --help)");
    if (!o->out) return usage_error("give -o OUT.onnx, the file to write");
    if (strcmp(o->input_layout, "nhwc") && strcmp(o->input_layout, "nchw"))
        return usage_error("--input_layout is nhwc or nchw, not '%s'", o->input_layout);
    if (o->image_size < 1 || o->embedding_size < 1)
        return usage_error("--image_size and --embedding_size must be positive");
    o->model = pos[0];
    return 0;
}

/* The bytes written, read back, checked and summarised. */
static int write_and_check(const ExportOpts *o, const unsigned char *b, size_t n, int64_t params,
                           RtStatus *st) {
    IxOnnxInfo info;
    if (ix_onnx_write(o->out, b, n, st) < 0 || ix_onnx_check_file(o->out, &info, st) < 0) return -1;
    printf("Exported %s of %s to %s: %d nodes, %d initializers, %lld parameters, opset %lld (IR "
           "%lld), %.1f MB\n",
           o->graph, o->model, o->out, info.nodes, info.initializers, (long long)params,
           (long long)info.opset, (long long)info.ir_version, (double)n / 1e6);
    return 0;
}

/* The pipeline: open MODEL (resolve, load its graph, bind, fill the variables), export, write. */
static int run_export(const ExportOpts *o, RtStatus *st) {
    RtModelOpts mo = {o->model, o->graph, o->image_size, o->embedding_size, o->use_moving_averages,
                      (uint64_t)o->seed, o->mtcnn_weights};
    RtModel m;
    if (rt_model_open(&mo, 1 /* N stays symbolic in the file */, &m, st) < 0) return -1;
    int64_t *sym = calloc((size_t)m.g->n_syms + 1, sizeof *sym);
    unsigned char *bytes = NULL;
    size_t len = 0;
    IxOnnxInfo xi;
    IxOnnxSource src = {m.g, m.vars, sym};
    IxOnnxOpts xo = {o->outputs, o->n_outputs, !strcmp(o->input_layout, "nchw"), o->graph};
    int rc = -1;
    if (rt_bind_syms(m.g, m.b, m.nb, sym, st) == 0 && ix_onnx_export(&src, &xo, &bytes, &len, &xi, st) == 0)
        rc = write_and_check(o, bytes, len, xi.parameters, st);
    free(bytes);
    free(sym);
    rt_model_close(&m);
    return rc;
}

int fnrun_export(int argc, char **argv) {
    ExportOpts o;
    memset(&o, 0, sizeof o);
    o.graph = "eval";
    o.input_layout = "nhwc";
    o.image_size = 160;
    o.embedding_size = 128;
    o.seed = 666;
    int r = parse(argc, argv, &o), rc = 0;
    if (r) rc = r < 0 ? 2 : 0;
    RtStatus st;
    if (!r && run_export(&o, &st) < 0) {
        fprintf(stderr, "fnrun export: %s\n", st.msg);
        rc = 1;
    }
    for (int k = 0; k < MAX_OUTPUTS; k++)
        free(o.output_buf[k]);
    return rc;
}

/* fnrun import SRC -o OUT.ckpt: weights written by TensorFlow (a V2 checkpoint or a frozen
 * graph) or facenet-pytorch (a state dict) as an fn checkpoint (interop/import.h). --list
 * prints the source's tensors instead. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "interop/import.h"

static int parse_format(const char *s, IxFormat *fmt) {
    static const struct { const char *name; IxFormat fmt; } names[] = {
        {"auto", IX_FMT_AUTO}, {"tf", IX_FMT_TF_CKPT}, {"pb", IX_FMT_TF_GRAPH}, {"torch", IX_FMT_TORCH}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) return *fmt = names[i].fmt, 0;
    fprintf(stderr, "fnrun import: --format must be auto, tf, pb or torch, not '%s'\n", s);
    return -1;
}

/* name, dtype and shape of every tensor in the source */
static int list_source(const char *src, IxFormat fmt) {
    RtStatus st;
    IxTensors ts = {0};
    if ((fmt == IX_FMT_AUTO && ix_detect_format(src, &fmt, &st) < 0) || ix_read_source(src, fmt, &ts, &st) < 0) {
        fprintf(stderr, "fnrun import: %s\n", st.msg);
        return 1;
    }
    printf("# %s: %s, %d tensors\n", src, ix_format_name(fmt), ts.n);
    for (int i = 0; i < ts.n; i++) {
        char shape[256];
        ix_shape_str(ts.t[i].dims, ts.t[i].rank, shape, sizeof shape);
        printf("%s\t%s\t%s\n", ts.t[i].name, ts.t[i].dtype, shape);
    }
    ix_tensors_free(&ts);
    return 0;
}

int fnrun_import(int argc, char **argv) {
    IxImportOpts o;
    ix_import_defaults(&o);
    char model_buf[4096];
    const char *format = "auto";
    int seed = (int)o.seed, list = 0;
    o.artifact = fnrun_beside_exe("inception_resnet_v1.fnc", model_buf, sizeof model_buf);
    const FlagSpec specs[] = {
        {"o", FLAG_STR, &o.out, "the fn checkpoint to write (its artifact goes beside it as model-NAME.fnc)"},
        {"model", FLAG_STR, &o.artifact, "the artifact the weights are for (default: Inception-ResNet-v1, "
                                         "built beside fnrun)"},
        {"format", FLAG_STR, &format, "auto, tf (checkpoint prefix or .index), pb (frozen graph), torch (.pt)"},
        {"image_size", FLAG_INT, &o.image_size, "recorded for evaluation (0: the model's default)"},
        {"allow_missing", FLAG_BOOL, &o.allow_missing, "weights the source lacks keep their initial values"},
        {"allow_extra", FLAG_BOOL, &o.allow_extra, "source tensors that match no variable are ignored"},
        {"use_moving_averages", FLAG_BOOL, &o.use_moving_averages,
         "the weights take their ExponentialMovingAverage shadows (TensorFlow checkpoints)"},
        {"seed", FLAG_INT, &seed, "initial values of the states the source does not hold"},
        {"list", FLAG_BOOL, &list, "print the source's tensors (name, dtype, shape) and stop"},
    };
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = "--o";
    const char *pos[1];
    int n_pos;
    int r = flags_parse("fnrun import", "SRC -o OUT.ckpt [flags]   (SRC: model-X.ckpt-N[.index], "
                        "frozen .pb, or .pt state dict)", specs, (int)(sizeof specs / sizeof specs[0]),
                        argc, argv, 2, pos, 1, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos != 1 || parse_format(format, &o.format) < 0) {
        if (n_pos != 1) fprintf(stderr, "fnrun import: missing SRC (see fnrun import --help)\n");
        return 2;
    }
    if (list) return list_source(pos[0], o.format);
    if (!o.out) {
        fprintf(stderr, "fnrun import: missing -o OUT.ckpt (see fnrun import --help)\n");
        return 2;
    }
    if (o.image_size < 0) {
        fprintf(stderr, "fnrun import: --image_size must not be negative\n");
        return 2;
    }
    o.src = pos[0];
    o.seed = (uint64_t)seed;
    RtStatus st;
    if (ix_import(&o, &st) < 0) {
        fprintf(stderr, "fnrun import: %s\n", st.msg);
        return 1;
    }
    return 0;
}

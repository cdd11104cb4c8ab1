/* fnrun compare MODEL IMAGE IMAGE...: compare.py. Each image's face found and cropped as fnrun
 * embed --align does (runtime/tools), embedded, and the Euclidean distances between them
 * printed as compare.py prints them (the images, then the matrix), or as TSV or JSON for
 * scripts (--format). An image without a face or unreadable is named and left out, as
 * compare.py removes it. What this is not: a threshold or a verdict on who is who. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "runtime/core/files.h"
#include "runtime/tools/embed_files.h"

typedef struct {
    RtEmbedFilesOpts e;
    RtAlignInputsOpts al;
    const char *device, *format;
    int seed, threads;
    char mtcnn_buf[4096];
} CompareArgs;

static int parse(int argc, char **argv, CompareArgs *a, const char **pos, int *n_pos) {
    RtEmbedFilesOpts *o = &a->e;
    const FlagSpec specs[] = {
        {"image_size", FLAG_INT, &o->image_size, "side of the face crop, pixels"},
        {"margin", FLAG_INT, &a->al.margin, "pixels around the face box, in all"},
        {"format", FLAG_STR, &a->format, "text (compare.py's), tsv or json"},
        {"use_moving_averages", FLAG_BOOL, &o->use_moving_averages, "the checkpoint's averaged weights"},
        {"embedding_size", FLAG_INT, &o->embedding_size, "for an artifact alone (a checkpoint knows its own)"},
        {"seed", FLAG_INT, &a->seed, "initialises an artifact alone"},
        {"mtcnn_model", FLAG_STR, &a->al.mtcnn_model, "the nets' artifact, built beside fnrun"},
        {"mtcnn_weights", FLAG_STR, &a->al.mtcnn_weights, "folder of det1-3.npy (default $FN_MTCNN_WEIGHTS)"},
        {"device", FLAG_STR, &a->device, "where the embeddings are computed: cpu, gpu, or auto"},
        {"threads", FLAG_INT, &a->threads, "CPU threads (default: the CPUs this process may use; FN_THREADS)"},
    };
    int r = flags_parse("fnrun compare", "MODEL IMAGE IMAGE... [flags]   (as compare.py)", specs,
                        (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, argc, n_pos);
    if (r) return r;
    const char *why = *n_pos < 3 ? "needs MODEL and at least two images (see fnrun compare --help)"
                      : strcmp(a->format, "text") && strcmp(a->format, "tsv") && strcmp(a->format, "json")
                          ? "--format is text, tsv or json"
                      : o->image_size < 1 || o->embedding_size < 1 || a->al.margin < 0
                          ? "--image_size and --embedding_size must be positive, --margin 0 or more"
                      : !a->al.mtcnn_weights
                          ? "give --mtcnn_weights DIR (the folder of det1.npy, det2.npy, det3.npy) or set FN_MTCNN_WEIGHTS"
                          : NULL;
    if (why) fprintf(stderr, "fnrun compare: %s\n", why);
    return why ? -1 : 0;
}

static double dist(const RtEmbeddings *e, int i, int j) {
    double s = 0;
    for (int k = 0; k < e->dim; k++) {
        double d = (double)e->rows[(size_t)i * e->dim + k] - e->rows[(size_t)j * e->dim + k];
        s += d * d;
    }
    return sqrt(s);
}

/* compare.py's print-out */
static void print_text(const RtInputs *in, const RtEmbeddings *e) {
    printf("Images:\n");
    for (int i = 0; i < e->n; i++) printf("%1d: %s\n", i, in->paths[e->source[i]]);
    printf("\nDistance matrix\n    ");
    for (int i = 0; i < e->n; i++) printf("    %1d     ", i);
    printf("\n");
    for (int i = 0; i < e->n; i++) {
        printf("%1d  ", i);
        for (int j = 0; j < e->n; j++) printf("  %1.4f  ", dist(e, i, j));
        printf("\n");
    }
}

/* a header of the paths, then one row per image: its path and its distances */
static void print_tsv(const RtInputs *in, const RtEmbeddings *e) {
    printf("image");
    for (int i = 0; i < e->n; i++) printf("\t%s", in->paths[e->source[i]]);
    printf("\n");
    for (int i = 0; i < e->n; i++) {
        printf("%s", in->paths[e->source[i]]);
        for (int j = 0; j < e->n; j++) printf("\t%.6f", dist(e, i, j));
        printf("\n");
    }
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* {"images": [...], "distances": [[...], ...]} */
static void print_json(const RtInputs *in, const RtEmbeddings *e) {
    printf("{\"images\": [");
    for (int i = 0; i < e->n; i++) {
        if (i) printf(", ");
        json_string(in->paths[e->source[i]]);
    }
    printf("], \"distances\": [");
    for (int i = 0; i < e->n; i++) {
        printf("%s[", i ? ", " : "");
        for (int j = 0; j < e->n; j++) printf("%s%.6f", j ? ", " : "", dist(e, i, j));
        printf("]");
    }
    printf("]}\n");
}

static int run(CompareArgs *a, const char **pos, int n_pos) {
    RtInputs in = {0};
    RtEmbeddings e = {0};
    RtStatus st;
    CliBackends b;
    char work[4096] = "";
    int backends = 0, rc = 1;
    for (int i = 1; i < n_pos; i++) /* files only: compare.py takes images */
        if (rt_is_dir(pos[i]) ? rt_fail(&st, "%s: a folder; compare takes image files", pos[i])
                              : rt_inputs_add(&in, &pos[i], 1, &st))
            goto fail;
    if (fnrun_backends("fnrun compare", a->device, a->threads, 1.0, NULL, 0, "the embeddings", strcmp(a->format, "text") ? stderr : stdout, &b) < 0) goto done;
    backends = 1;
    a->e.model = pos[0];
    a->e.seed = (uint64_t)a->seed;
    a->e.backend = b.chosen;
    a->e.batch_size = in.n < 100 ? in.n : 100;
    a->e.stop = &fnrun_stop_requested;
    if (fnrun_align_setup(&a->al, &b, a->e.image_size, work, &st) < 0) goto fail;
    if (rt_embed_inputs(&a->e, &a->al, &in, &e, &st) < 0) goto fail;
    if (!strcmp(a->format, "json")) print_json(&in, &e);
    else if (!strcmp(a->format, "tsv")) print_tsv(&in, &e);
    else print_text(&in, &e);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fnrun compare: %s\n", st.msg);
done:
    if (work[0]) rmdir(work);
    if (backends) cli_backends_close(&b);
    rt_embeddings_free(&e);
    rt_inputs_free(&in);
    return rc;
}

int fnrun_compare(int argc, char **argv) {
    CompareArgs a;
    memset(&a, 0, sizeof a);
    fnrun_face_defaults(&a.e, &a.al, &a.seed, a.mtcnn_buf, sizeof a.mtcnn_buf);
    a.device = "cpu";
    a.format = "text";
    const char **pos = calloc((size_t)argc, sizeof *pos);
    int n_pos = 0, r = pos ? parse(argc, argv, &a, pos, &n_pos) : -1;
    int rc = r ? (r < 0 ? 2 : 0) : run(&a, pos, n_pos);
    free(pos);
    return rc;
}

/* fnrun embed MODEL INPUT... -o OUT: the embeddings of images (files, folders, class-per-folder
 * trees) to OUT.npy and OUT.tsv (runtime/tools/embed_files.h); with --align, of the faces MTCNN
 * finds in them first (runtime/tools/align_inputs.h), as compare.py. Flags in the reference's
 * spelling; --device picks the backend. What this is not: evaluation (fnrun validate). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "runtime/tools/align_inputs.h"
#include "runtime/tools/embed_files.h"

typedef struct {
    RtEmbedFilesOpts e;
    RtAlignInputsOpts al;
    const char *out, *device;
    int seed, verbose, align, threads;
    char mtcnn_buf[4096];
} EmbedArgs;

/* 0, 1 after --help, -1 after a message; *first_input: pos index of the first INPUT */
static int parse(int argc, char **argv, EmbedArgs *a, const char **pos, int *n_pos) {
    RtEmbedFilesOpts *o = &a->e;
    const FlagSpec specs[] = {
        {"o", FLAG_STR, &a->out, "OUT: writes OUT.npy (float32 [n, d]) and OUT.tsv (path, class)"},
        {"batch_size", FLAG_INT, &o->batch_size, "images per forward pass (validate's default: same rows)"},
        {"image_size", FLAG_INT, &o->image_size, "input height and width in pixels"},
        {"use_flipped_images", FLAG_BOOL, &o->use_flipped_images, "rows [embedding | flipped image's embedding]"},
        {"use_fixed_image_standardization", FLAG_BOOL, &o->use_fixed_image_standardization,
         "(x - 127.5) / 128 instead of per-image prewhitening"},
        {"use_moving_averages", FLAG_BOOL, &o->use_moving_averages, "the checkpoint's averaged weights"},
        {"embedding_size", FLAG_INT, &o->embedding_size, "for an artifact alone (a checkpoint knows its own)"},
        {"seed", FLAG_INT, &a->seed, "initialises an artifact alone"},
        {"nrof_preprocess_threads", FLAG_INT, &o->threads, "decoding threads"},
        {"device", FLAG_STR, &a->device, "where the forward passes run: cpu, gpu, or auto"},
        {"threads", FLAG_INT, &a->threads, "CPU threads (default: the CPUs this process may use; FN_THREADS)"},
        {"verbose", FLAG_BOOL, &a->verbose, "print the runtime's options first"},
        {"align", FLAG_BOOL, &a->align, "find each image's face with MTCNN and embed its crop (as compare.py)"},
        {"margin", FLAG_INT, &a->al.margin, "with --align: pixels around the face box, in all"},
        {"mtcnn_model", FLAG_STR, &a->al.mtcnn_model, "with --align: the nets' artifact, built beside fnrun"},
        {"mtcnn_weights", FLAG_STR, &a->al.mtcnn_weights, "with --align: folder of det1-3.npy (default $FN_MTCNN_WEIGHTS)"},
    };
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = "--o";
    int r = flags_parse("fnrun embed", "MODEL INPUT... -o OUT [flags]   (INPUT: image, folder or class tree)",
                        specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, argc, n_pos);
    if (r) return r;
    const char *why = *n_pos < 2 ? "needs MODEL and at least one INPUT (see fnrun embed --help)"
                      : !a->out  ? "give -o OUT (OUT.npy and OUT.tsv are written)"
                      : o->batch_size < 1 || o->image_size < 1 || o->embedding_size < 1 || o->threads < 1
                          ? "--batch_size, --image_size, --embedding_size and --nrof_preprocess_threads must be positive"
                      : a->al.margin < 0 ? "--margin must be 0 or more"
                      : a->align && !a->al.mtcnn_weights
                          ? "--align needs --mtcnn_weights DIR (the folder of det1.npy, det2.npy, det3.npy) or FN_MTCNN_WEIGHTS"
                          : NULL;
    if (why) fprintf(stderr, "fnrun embed: %s\n", why);
    return why ? -1 : 0;
}

void fnrun_face_defaults(RtEmbedFilesOpts *e, RtAlignInputsOpts *al, int *seed, char *mtcnn_buf, size_t cap) {
    rt_embed_files_defaults(e);
    *seed = (int)e->seed;
    memset(al, 0, sizeof *al);
    al->margin = 44; /* compare.py's */
    al->mtcnn_model = fnrun_beside_exe("mtcnn.fnc", mtcnn_buf, cap);
    al->mtcnn_weights = getenv("FN_MTCNN_WEIGHTS");
}

int fnrun_align_setup(RtAlignInputsOpts *al, CliBackends *b, int image_size, char *work, RtStatus *st) {
    const char *tmp = getenv("TMPDIR");
    snprintf(work, 4096, "%s/fn-faces-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        work[0] = 0;
        return rt_fail(st, "cannot make a folder for the aligned faces: %s", strerror(errno));
    }
    al->backend = &b->cpu; /* per-image nets */
    al->image_size = image_size;
    al->work_dir = work;
    al->stop = &fnrun_stop_requested;
    return 0;
}

static void report(const EmbedArgs *a, const RtInputs *in, const RtEmbeddings *e, double s) {
    printf("Embedded %d of %d images in %.1f s (%.1f images/s): %s.npy [%d, %d], %s.tsv\n", e->n, in->n, s,
           s > 0 ? in->n / s : 0.0, a->out, e->n, e->dim, a->out);
    if (e->n_unreadable) printf("Left out %d unreadable images (named above)\n", e->n_unreadable);
    if (e->n_no_face) printf("Left out %d images without a face (named above)\n", e->n_no_face);
}

static int run(EmbedArgs *a, const char **pos, int n_pos) {
    RtInputs in = {0};
    RtEmbeddings e = {0};
    RtStatus st;
    CliBackends b;
    char work[4096] = "";
    int backends = 0, rc = 1;
    if (rt_inputs_add(&in, pos + 1, n_pos - 1, &st) < 0) goto fail;
    if (fnrun_backends("fnrun embed", a->device, a->threads, 1.0, NULL, a->verbose, "the embeddings", stdout, &b) < 0) goto done;
    backends = 1;
    a->e.model = pos[0];
    a->e.seed = (uint64_t)a->seed;
    a->e.backend = b.chosen;
    a->e.progress = stderr;
    a->e.stop = &fnrun_stop_requested;
    double t0 = rt_now();
    if (a->align && fnrun_align_setup(&a->al, &b, a->e.image_size, work, &st) < 0) goto fail;
    if (rt_embed_inputs(&a->e, a->align ? &a->al : NULL, &in, &e, &st) < 0) goto fail;
    if (rt_embeddings_save(a->out, &in, &e, &st) < 0) goto fail;
    report(a, &in, &e, rt_now() - t0);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fnrun embed: %s\n", st.msg);
done:
    if (work[0]) rmdir(work);
    if (backends) cli_backends_close(&b);
    rt_embeddings_free(&e);
    rt_inputs_free(&in);
    return rc;
}

int fnrun_embed(int argc, char **argv) {
    EmbedArgs a;
    memset(&a, 0, sizeof a);
    fnrun_face_defaults(&a.e, &a.al, &a.seed, a.mtcnn_buf, sizeof a.mtcnn_buf);
    a.device = "cpu";
    const char **pos = calloc((size_t)argc, sizeof *pos);
    int n_pos = 0, r = pos ? parse(argc, argv, &a, pos, &n_pos) : -1;
    int rc = r ? (r < 0 ? 2 : 0) : run(&a, pos, n_pos);
    free(pos);
    return rc;
}

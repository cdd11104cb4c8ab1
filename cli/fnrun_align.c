/* fnrun align and fnrun detect: MTCNN on images (runtime/face/align.h, runtime/face/mtcnn.h). The nets
 * come from an artifact compiled from models/mtcnn/ (the build puts mtcnn.fnc beside fnrun);
 * the weights are the reference's det1/2/3.npy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "runtime/face/align.h"
#include "runtime/core/artifact.h"
#include "runtime/face/mtcnn.h"
#include "runtime/core/files.h"

static int check_weights(const char *prog, const char *dir) {
    if (dir) return 0;
    fprintf(stderr, "%s: give --mtcnn_weights DIR (the folder of the reference's det1.npy, det2.npy, "
                    "det3.npy) or set FN_MTCNN_WEIGHTS\n", prog);
    return -1;
}

int fnrun_align(int argc, char **argv) {
    RtAlignOpts o;
    rt_align_defaults(&o);
    char model_buf[4096];
    double gpu_memory_fraction = 1.0;
    o.model = fnrun_beside_exe("mtcnn.fnc", model_buf, sizeof model_buf);
    o.weights_dir = getenv("FN_MTCNN_WEIGHTS");
    const FlagSpec specs[] = {
        {"image_size", FLAG_INT, &o.image_size, "side of the saved face, pixels"},
        {"margin", FLAG_INT, &o.margin, "pixels added around the box in all (half per side), in the input image"},
        {"random_order", FLAG_BOOL, &o.random_order, "shuffle the classes (helps several processes share one output)"},
        {"detect_multiple_faces", FLAG_BOOL, &o.detect_multiple_faces, "save every face as NAME_<i>.png"},
        {"gpu_memory_fraction", FLAG_REAL, &gpu_memory_fraction, "accepted for compatibility: alignment runs on the CPU"},
        {"threads", FLAG_INT, &o.threads, "worker threads, one per core"},
        {"png_compression", FLAG_INT, &o.png_level, "zlib level of the PNGs, 0-9 (6 is PIL's default: ~9% smaller, 3x slower to write)"},
        {"mtcnn_model", FLAG_STR, &o.model, "artifact of the three nets, built beside fnrun"},
        {"mtcnn_weights", FLAG_STR, &o.weights_dir, "folder of det1.npy det2.npy det3.npy (default $FN_MTCNN_WEIGHTS)"},
    };
    const char *pos[2];
    int n_pos;
    int r = flags_parse("fnrun align", "INPUT_DIR OUTPUT_DIR [flags]", specs, (int)(sizeof specs / sizeof specs[0]),
                        argc, argv, 2, pos, 2, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos != 2) {
        fprintf(stderr, "fnrun align: needs INPUT_DIR and OUTPUT_DIR (see fnrun align --help)\n");
        return 2;
    }
    if (o.image_size < 1 || o.margin < 0 || o.threads < 1 || o.threads > 256 || o.png_level < 0 || o.png_level > 9) {
        fprintf(stderr, "fnrun align: --image_size and --threads must be positive, --margin not negative, "
                        "--png_compression 0..9\n");
        return 2;
    }
    if (check_weights("fnrun align", o.weights_dir) < 0) return 2;
    o.input_dir = pos[0];
    char out[4096];
    o.output_dir = cli_path(pos[1], out, sizeof out);
    RtBackend cpu;
    RtStatus st;
    if (cli_backend_cpu(&cpu, 1, &st) < 0) { /* one thread each: the workers are the parallelism */
        fprintf(stderr, "fnrun align: %s\n", st.msg);
        return 1;
    }
    o.backend = &cpu;
    o.command_line = flags_join(argc, argv);
    o.stop = &fnrun_stop_requested;
    RtAlignTotals t;
    int rc = rt_align(&o, &t, &st);
    free((char *)o.command_line);
    rt_backend_close(&cpu);
    if (rc < 0) {
        fprintf(stderr, "fnrun align: %s\n", st.msg);
        return 1;
    }
    int processed = t.total - t.skipped - t.claimed;
    printf("Total number of images: %d\n", t.total);
    printf("Number of successfully aligned images: %d\n", t.aligned);
    printf("skipped (done before): %d; being aligned by another process: %d; unreadable: %d; "
           "no face: %d\n", t.skipped, t.claimed, t.unreadable, t.no_face);
    printf("time: %.1f s, %.1f images/s\n", t.seconds, t.seconds > 0 ? processed / t.seconds : 0);
    if (fnrun_stop_requested) {
        printf("stopped early: run the same command again to finish\n");
        return 130;
    }
    return 0;
}

/* a w-pixel rectangle outline and 5x5 landmark dots */
static void draw(RtImage *img, const RtFace *f) {
    static const unsigned char green[3] = {0, 255, 0}, red[3] = {255, 0, 0};
    int x1 = (int)f->box[0], y1 = (int)f->box[1], x2 = (int)f->box[2], y2 = (int)f->box[3];
    int lw = img->w > 400 ? 3 : 2;
    for (int y = y1 - lw / 2; y <= y2 + lw / 2; y++)
        for (int x = x1 - lw / 2; x <= x2 + lw / 2; x++) {
            int edge = abs(x - x1) <= lw / 2 || abs(x - x2) <= lw / 2 || abs(y - y1) <= lw / 2 || abs(y - y2) <= lw / 2;
            if (edge && x >= 0 && y >= 0 && x < img->w && y < img->h) memcpy(img->pix + ((size_t)y * img->w + x) * 3, green, 3);
        }
    for (int k = 0; k < 5; k++)
        for (int dy = -2; dy <= 2; dy++)
            for (int dx = -2; dx <= 2; dx++) {
                int x = (int)f->pts[2 * k] + dx, y = (int)f->pts[2 * k + 1] + dy;
                if (x >= 0 && y >= 0 && x < img->w && y < img->h) memcpy(img->pix + ((size_t)y * img->w + x) * 3, red, 3);
            }
}

/* The annotated copy's name for image i: ANNOTATE/<stem>.png, or <stem>_2.png, _3... when an
 * earlier image of this run (another folder, another extension) took that name. */
static void annotated_name(const char *dir, const char *path, char (*taken)[1024], int n_taken, char *out,
                           size_t cap) {
    char stem[1024], name[1024];
    const char *base = strrchr(path, '/');
    snprintf(stem, sizeof stem, "%s", base ? base + 1 : path);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    snprintf(name, sizeof name, "%s", stem);
    for (int k = 2, clash = 1; clash; k++) {
        clash = 0;
        for (int j = 0; j < n_taken && !clash; j++) clash = !strcmp(taken[j], name);
        if (clash) snprintf(name, sizeof name, "%.1000s_%d", stem, k);
    }
    snprintf(taken[n_taken], sizeof taken[n_taken], "%s", name);
    snprintf(out, cap, "%s/%s.png", dir, name);
}

enum { MAX_ERRORS_SAID = 20 }; /* unreadable images listed; the rest are counted */

/* The three nets of the artifact `model` with the weights of `weights` on cpu, and the folder
 * `annotate` (when given) made; NULL after saying why on stderr. */
static RtMtcnn *detect_open(RtBackend *cpu, const char *model, const char *weights, const char *annotate,
                            RtArtifact *art) {
    RtStatus st;
    RtMtcnn *m = rt_mtcnn_open(cpu, model, weights, art, &st);
    if (!m) {
        fprintf(stderr, "fnrun detect: %s\n", st.msg);
        return NULL;
    }
    if (annotate && rt_mkdirs(annotate, NULL, 0, &st) < 0) {
        fprintf(stderr, "fnrun detect: %s\n", st.msg);
        rt_mtcnn_free(m);
        rt_artifact_free(art);
        return NULL;
    }
    return m;
}

/* fnrun detect's run over its images: the nets, the parameters, the annotation folder and the
 * names written there, and the counts. */
typedef struct {
    RtMtcnn *m;
    const RtMtcnnParams *p;
    const char *annotate;
    char (*taken)[1024];
    int n_annotated, total, unreadable, rc;
} Detect;

/* One image's faces as rows on stdout (and drawn into the annotation folder); 0 to go on, -1 to
 * stop (the detector failed). */
static int detect_image(Detect *d, const char *path) {
    RtStatus st;
    RtImage img;
    RtFace *faces = NULL;
    int n = 0;
    if (rt_image_read(path, &img, &st) < 0) {
        if (++d->unreadable <= MAX_ERRORS_SAID) fprintf(stderr, "fnrun detect: %s\n", st.msg);
        d->rc = 1;
        return 0;
    }
    if (rt_mtcnn_detect(d->m, &img, d->p, &faces, &n, &st) < 0) {
        fprintf(stderr, "fnrun detect: %s: %s\n", path, st.msg);
        rt_image_free(&img);
        d->rc = 1;
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const RtFace *f = &faces[k];
        printf("%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.6f", path, k, f->box[0], f->box[1], f->box[2], f->box[3], f->score);
        for (int j = 0; j < 10; j++) printf("\t%.4f", f->pts[j]);
        printf("\n");
        if (d->annotate) draw(&img, f);
    }
    d->total += n;
    char out[4096] = "";
    if (d->annotate) {
        annotated_name(d->annotate, path, d->taken, d->n_annotated++, out, sizeof out);
        if (rt_image_write_png(out, &img, &st) < 0) {
            fprintf(stderr, "fnrun detect: %s\n", st.msg);
            d->rc = 1;
        }
    }
    fprintf(stderr, "%s: %d face%s%s%s\n", path, n, n == 1 ? "" : "s", out[0] ? " -> " : "", out);
    free(faces);
    rt_image_free(&img);
    return 0;
}

int fnrun_detect(int argc, char **argv) {
    char model_buf[4096];
    const char *model = fnrun_beside_exe("mtcnn.fnc", model_buf, sizeof model_buf), *weights = getenv("FN_MTCNN_WEIGHTS");
    const char *annotate = NULL;
    RtMtcnnParams p;
    rt_mtcnn_defaults(&p);
    const FlagSpec specs[] = {
        {"minsize", FLAG_REAL, &p.minsize, "smallest face searched, pixels"},
        {"annotate", FLAG_STR, &annotate, "write each image with its boxes and landmarks drawn into this folder"},
        {"mtcnn_model", FLAG_STR, &model, "artifact of the three nets, built beside fnrun"},
        {"mtcnn_weights", FLAG_STR, &weights, "folder of det1.npy det2.npy det3.npy (default $FN_MTCNN_WEIGHTS)"},
    };
    enum { MAX_IMAGES = 4096 };
    static const char *pos[MAX_IMAGES];
    int n_pos;
    int r = flags_parse("fnrun detect", "IMAGE... [flags]", specs, (int)(sizeof specs / sizeof specs[0]), argc,
                        argv, 2, pos, MAX_IMAGES, &n_pos);
    if (r) return r < 0 ? 2 : 0;
    if (n_pos < 1) {
        fprintf(stderr, "fnrun detect: needs at least one IMAGE (see fnrun detect --help)\n");
        return 2;
    }
    if (p.minsize < 12) {
        fprintf(stderr, "fnrun detect: --minsize must be at least 12 (PNet's window)\n");
        return 2;
    }
    if (check_weights("fnrun detect", weights) < 0) return 2;
    RtBackend cpu;
    RtStatus st;
    if (cli_backend_cpu(&cpu, 1, &st) < 0) { /* small GEMMs: a second thread costs more than it gives */
        fprintf(stderr, "fnrun detect: %s\n", st.msg);
        return 1;
    }
    char dir[4096];
    annotate = cli_path(annotate, dir, sizeof dir);
    RtArtifact art;
    RtMtcnn *m = detect_open(&cpu, model, weights, annotate, &art);
    if (!m) {
        rt_backend_close(&cpu);
        return 1;
    }
    Detect d = {m, &p, annotate, annotate ? malloc((size_t)n_pos * sizeof *d.taken) : NULL, 0, 0, 0, 0};
    printf("# image\tface\tx1\ty1\tx2\ty2\tscore\tleft_eye_x\tleft_eye_y\tright_eye_x\tright_eye_y\tnose_x\tnose_y"
           "\tmouth_left_x\tmouth_left_y\tmouth_right_x\tmouth_right_y\n");
    for (int i = 0; i < n_pos; i++)
        if (detect_image(&d, pos[i]) < 0) break;
    fflush(stdout);
    if (d.unreadable > MAX_ERRORS_SAID)
        fprintf(stderr, "fnrun detect: %d more unreadable images not listed\n", d.unreadable - MAX_ERRORS_SAID);
    fprintf(stderr, "%d face%s in %d image%s", d.total, d.total == 1 ? "" : "s", n_pos, n_pos == 1 ? "" : "s");
    if (d.unreadable) fprintf(stderr, ", %d unreadable", d.unreadable);
    fprintf(stderr, "\n");
    free(d.taken);
    rt_mtcnn_free(m);
    rt_artifact_free(&art);
    rt_backend_close(&cpu);
    return d.rc;
}

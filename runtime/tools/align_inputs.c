/* See align_inputs.h. */
#include "runtime/tools/align_inputs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/alloc.h"
#include "runtime/data/image.h"
#include "runtime/face/align.h"
#include "runtime/logs/progress.h"

enum { FACE, UNREADABLE, NO_FACE };

/* input i: FACE with its crop written to path, or why not (said on log) */
static int align_one(RtMtcnn *m, const RtAlignInputsOpts *o, const char *input, const char *path, FILE *log,
                     RtStatus *st) {
    RtImage img = {0}, crop = {0};
    RtStatus why;
    if (rt_image_read(input, &img, &why) < 0) {
        fprintf(log, "left out: %s\n", why.msg);
        return UNREADABLE;
    }
    RtMtcnnParams p;
    rt_mtcnn_defaults(&p);
    RtFace *faces = NULL;
    int n = 0, rc = rt_mtcnn_detect(m, &img, &p, &faces, &n, st);
    if (rc == 0 && n == 0) {
        fprintf(log, "left out: no face found in %s\n", input);
        rc = NO_FACE;
    } else if (rc == 0) {
        int bb[4];
        const RtFace *f = &faces[rt_align_pick(faces, n, img.w, img.h)];
        rc = rt_align_crop(&img, f, o->margin, o->image_size, &crop, bb, st) < 0 ||
                     rt_image_write_png_level(path, &crop, 1, st) < 0
                 ? -1
                 : FACE;
    }
    free(faces);
    rt_image_free(&crop);
    rt_image_free(&img);
    return rc;
}

static int add_crop(RtAligned *a, const char *path, const char *cls, int src, int n_in, RtStatus *st) {
    if (!a->source && !(a->source = fn_malloc((size_t)n_in * sizeof(int))))
        return rt_fail(st, "out of memory aligning %d images", n_in);
    const char *args[] = {path};
    if (rt_inputs_add(&a->crops, args, 1, st) < 0) return -1;
    char *c = fn_strdup(cls);
    if (!c) return rt_fail(st, "out of memory aligning %d images", n_in);
    free(a->crops.classes[a->crops.n - 1]);
    a->crops.classes[a->crops.n - 1] = c;
    a->source[a->crops.n - 1] = src;
    return 0;
}

int rt_align_inputs(const RtAlignInputsOpts *o, const RtInputs *in, RtAligned *a, RtStatus *st) {
    memset(a, 0, sizeof *a);
    FILE *log = o->log ? o->log : stderr;
    RtArtifact art;
    RtMtcnn *m = rt_mtcnn_open(o->backend, o->mtcnn_model, o->mtcnn_weights, &art, st);
    if (!m) return -1;
    RtProgress pr;
    rt_progress_start(&pr, log, "faces", in->n);
    int rc = 0, i = 0;
    for (; i < in->n && rc >= 0; i++) {
        rt_progress_update(&pr, i);
        if (o->stop && *o->stop) {
            rc = rt_fail(st, "stopped on request after aligning %d of %d images", i, in->n);
            break;
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/%06d.png", o->work_dir, i);
        rc = align_one(m, o, in->paths[i], path, log, st);
        if (rc == FACE) rc = add_crop(a, path, in->classes[i], i, in->n, st);
        else if (rc == UNREADABLE) a->n_unreadable++;
        else if (rc == NO_FACE) a->n_no_face++;
    }
    rt_progress_update(&pr, in->n);
    rt_progress_end(&pr);
    rt_mtcnn_free(m);
    rt_artifact_free(&art);
    if (rc < 0) { /* no crop left behind: those listed, and one written but not yet listed */
        for (int j = 0; j <= i && j < in->n; j++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%06d.png", o->work_dir, j);
            unlink(path);
        }
        rt_aligned_free(a);
    }
    return rc < 0 ? -1 : 0;
}

void rt_aligned_free(RtAligned *a) {
    rt_inputs_free(&a->crops);
    free(a->source);
    a->source = NULL;
}

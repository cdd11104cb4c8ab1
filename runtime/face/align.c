/* See align.h. */
#include "runtime/face/align.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ir/alloc.h"
#include "ir/pool.h"
#include "runtime/core/artifact.h"
#include "runtime/data/data.h"
#include "runtime/face/mtcnn.h"
#include "runtime/logs/progress.h"
#include "runtime/data/resize.h"
#include "runtime/core/files.h"

#ifndef FN_GIT_REVISION
#define FN_GIT_REVISION "unknown"
#endif

#define LOCK_DIR ".fn-align" /* dot folders are not classes to the dataset scan */

void rt_align_defaults(RtAlignOpts *o) {
    memset(o, 0, sizeof *o);
    o->image_size = 182;
    o->margin = 44;
    o->png_level = 1;
    o->threads = fn_cpus_available();
    o->out = stdout;
}

int rt_align_pick(const RtFace *f, int n, int w, int h) {
    int best = 0;
    double best_v = 0;
    for (int i = 0; i < n; i++) {
        double area = (f[i].box[2] - f[i].box[0]) * (f[i].box[3] - f[i].box[1]);
        double dx = (f[i].box[0] + f[i].box[2]) / 2 - w / 2.0, dy = (f[i].box[1] + f[i].box[3]) / 2 - h / 2.0;
        double v = area - 2 * (dx * dx + dy * dy);
        if (i == 0 || v > best_v) best = i, best_v = v;
    }
    return best;
}

typedef struct {
    int cls, img;
} Job;

typedef struct {
    const RtAlignOpts *o;
    const RtDataset *ds;
    const IrGraph *g[3];
    Job *jobs;
    int n_jobs, next;
    FILE *bbox;
    const char *bbox_path;
    int unreadable_said; /* messages printed about unreadable images (capped) */
    pthread_mutex_t mu;
    RtAlignTotals t;
    RtProgress pr;
    int done, failed;
    RtStatus st; /* the first worker error */
} Shared;

static void stem_of(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

static int exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

int rt_align_crop(const RtImage *img, const RtFace *f, int margin, int size, RtImage *crop, int bb[4],
                  RtStatus *st) {
    double half = margin / 2.0;
    bb[0] = (int)fmax(f->box[0] - half, 0);
    bb[1] = (int)fmax(f->box[1] - half, 0);
    bb[2] = (int)fmin(f->box[2] + half, img->w);
    bb[3] = (int)fmin(f->box[3] + half, img->h);
    *crop = (RtImage){size, size, NULL};
    if (bb[2] <= bb[0] || bb[3] <= bb[1]) return rt_fail(st, "empty face box");
    if (!(crop->pix = fn_malloc((size_t)size * size * 3))) return rt_fail(st, "out of memory cropping a face");
    if (rt_resize_bilinear(img, bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1], crop->pix, size, size) != 0) {
        rt_image_free(crop);
        return rt_fail(st, "out of memory resizing a face");
    }
    return 0;
}

/* Crops face f with the margin and writes it via a temporary file in the lock folder. */
static int save_face(Shared *sh, const RtImage *img, const RtFace *f, const char *tmp,
                     const char *out, int bb[4], RtStatus *st) {
    const RtAlignOpts *o = sh->o;
    RtImage face;
    if (rt_align_crop(img, f, o->margin, o->image_size, &face, bb, st) < 0) return -1;
    int rc = rt_image_write_png_level(tmp, &face, o->png_level, st);
    rt_image_free(&face);
    if (rc == 0 && rename(tmp, out) < 0) {
        rc = rt_fail(st, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

enum { MAX_UNREADABLE_SAID = 20 }; /* then counted, not listed: random files give one line each */

/* the mark of an image done without an output (unreadable, no face): later claims skip it. A
 * mark that cannot be written (disk full) is an error: the run must not look finished. */
static int touch(const char *path, const char *why, RtStatus *st) {
    FILE *f = fopen(path, "w");
    int err = !f ? errno : fprintf(f, "%s\n", why) < 0 || fflush(f) != 0 ? (errno ? errno : EIO) : 0;
    if (f && fclose(f) != 0 && !err) err = errno;
    if (!err) return 0;
    if (f) unlink(path);
    return rt_fail(st, "cannot write %s: %s", path, strerror(err));
}

/* one line of the bounding-box log, under sh->mu; a lost line is an error */
static int log_box(Shared *sh, const char *out, const int *bb, RtStatus *st) {
    int n = bb ? fprintf(sh->bbox, "%s %d %d %d %d\n", out, bb[0], bb[1], bb[2], bb[3])
               : fprintf(sh->bbox, "%s\n", out);
    if (n < 0 || fflush(sh->bbox) != 0)
        return rt_fail(st, "cannot write %s: %s", sh->bbox_path, strerror(errno ? errno : EIO));
    return 0;
}

enum { DONE_ALIGNED, DONE_SKIPPED, DONE_CLAIMED, DONE_UNREADABLE, DONE_NO_FACE };

/* One image: claim, read, detect, save, log. Returns a DONE_* or -1 on a hard error. */
static int align_one(Shared *sh, RtMtcnn *m, const Job *j, int *n_saved, RtStatus *st) {
    const RtAlignOpts *o = sh->o;
    const char *cls = sh->ds->classes[j->cls].name, *path = sh->ds->paths[j->img];
    char stem[1024], out[4096], lock[4096], mark[4096], tmp[4200];
    stem_of(path, stem, sizeof stem);
    snprintf(out, sizeof out, "%s/%s/%s%s.png", o->output_dir, cls, stem, o->detect_multiple_faces ? "_0" : "");
    snprintf(lock, sizeof lock, "%s/" LOCK_DIR "/%s/%s.lock", o->output_dir, cls, stem);
    snprintf(mark, sizeof mark, "%s/" LOCK_DIR "/%s/%s.nooutput", o->output_dir, cls, stem);
    if (exists(out) || exists(mark)) return DONE_SKIPPED;
    int fd = open(lock, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return rt_fail(st, "cannot create %s: %s", lock, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return DONE_CLAIMED;
    }
    int rc = DONE_SKIPPED;
    if (exists(out) || exists(mark)) goto release; /* done by another process since the first look */
    RtImage img = {0};
    RtStatus est;
    if (rt_image_read(path, &img, &est) < 0) {
        pthread_mutex_lock(&sh->mu);
        int said = ++sh->unreadable_said;
        if (said <= MAX_UNREADABLE_SAID) fprintf(o->out, "%s\n", est.msg);
        if (said == MAX_UNREADABLE_SAID + 1)
            fprintf(o->out, "(more unreadable images: counted in the totals, not listed)\n");
        pthread_mutex_unlock(&sh->mu);
        rc = touch(mark, est.msg, st) < 0 ? -1 : DONE_UNREADABLE;
        goto release;
    }
    RtMtcnnParams p;
    rt_mtcnn_defaults(&p);
    RtFace *faces;
    int n;
    if (rt_mtcnn_detect(m, &img, &p, &faces, &n, st) < 0) {
        rt_image_free(&img);
        rc = -1;
        goto release;
    }
    snprintf(out, sizeof out, "%s/%s/%s.png", o->output_dir, cls, stem);
    if (n == 0) {
        pthread_mutex_lock(&sh->mu);
        fprintf(o->out, "Unable to align \"%s\"\n", path);
        rc = log_box(sh, out, NULL, st) < 0 ? -1 : DONE_NO_FACE;
        pthread_mutex_unlock(&sh->mu);
        if (rc == DONE_NO_FACE && touch(mark, "no face", st) < 0) rc = -1;
    } else {
        int only = o->detect_multiple_faces ? -1 : rt_align_pick(faces, n, img.w, img.h);
        rc = DONE_ALIGNED;
        /* the first file last: with several faces, its presence marks the image done */
        for (int i = n - 1; i >= 0 && rc == DONE_ALIGNED; i--) {
            if (only >= 0 && i != only) continue;
            int bb[4];
            if (o->detect_multiple_faces) snprintf(out, sizeof out, "%s/%s/%s_%d.png", o->output_dir, cls, stem, i);
            snprintf(tmp, sizeof tmp, "%s.%d.png", lock, i);
            if (save_face(sh, &img, &faces[i], tmp, out, bb, st) < 0) {
                rc = -1;
                break;
            }
            pthread_mutex_lock(&sh->mu);
            if (log_box(sh, out, bb, st) < 0) rc = -1;
            pthread_mutex_unlock(&sh->mu);
            (*n_saved)++;
        }
    }
    free(faces);
    rt_image_free(&img);
release:
    unlink(lock); /* a process that opened it before still holds its own claim check */
    close(fd);
    return rc;
}

static void *worker(void *arg) {
    Shared *sh = arg;
    RtStatus st;
    RtMtcnn *m = rt_mtcnn_new(sh->o->backend, sh->g[0], sh->g[1], sh->g[2], sh->o->weights_dir, &st);
    for (;;) {
        pthread_mutex_lock(&sh->mu);
        int i = sh->failed || !m || (sh->o->stop && *sh->o->stop) ? sh->n_jobs : sh->next++;
        if (!m && !sh->failed) {
            sh->failed = 1;
            sh->st = st;
        }
        pthread_mutex_unlock(&sh->mu);
        if (i >= sh->n_jobs) break;
        int saved = 0;
        int r = align_one(sh, m, &sh->jobs[i], &saved, &st);
        pthread_mutex_lock(&sh->mu);
        sh->t.aligned += saved;
        if (r == DONE_SKIPPED) sh->t.skipped++;
        else if (r == DONE_CLAIMED) sh->t.claimed++;
        else if (r == DONE_UNREADABLE) sh->t.unreadable++;
        else if (r == DONE_NO_FACE) sh->t.no_face++;
        else if (r < 0 && !sh->failed) {
            sh->failed = 1;
            sh->st = st;
        }
        rt_progress_update(&sh->pr, ++sh->done);
        pthread_mutex_unlock(&sh->mu);
    }
    rt_mtcnn_free(m);
    return NULL;
}

/* bounding_boxes_<nnnnn>.txt with a number no other process has taken */
static FILE *open_bbox_log(const char *dir, uint64_t key, char *path, size_t cap, RtStatus *st) {
    for (uint64_t k = 0; k < 1000; k++) {
        snprintf(path, cap, "%s/bounding_boxes_%05d.txt", dir, (int)(rt_uniform(key, k) * 99999));
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) return fdopen(fd, "w");
        if (errno != EEXIST) break;
    }
    rt_fail(st, "cannot create %s: %s", path, strerror(errno));
    return NULL;
}

/* the three MTCNN graphs of o->model into sh->g, art holding them; 0, or -1 with st and nothing held */
static int load_nets(const RtAlignOpts *o, RtArtifact *art, Shared *sh, RtStatus *st) {
    return rt_mtcnn_graphs(o->model, art, sh->g, st);
}

/* the output folder's lock folder and revision_info.txt */
static int start_output(const RtAlignOpts *o, RtStatus *st) {
    char path[4200], text[8192];
    snprintf(path, sizeof path, "%s/" LOCK_DIR, o->output_dir);
    if (rt_mkdirs(path, NULL, 0, st) < 0) return -1;
    snprintf(path, sizeof path, "%s/revision_info.txt", o->output_dir);
    snprintf(text, sizeof text, "arguments: %s\nfn version: %s\ngit revision: %s\n",
             o->command_line ? o->command_line : "", FN_VERSION, FN_GIT_REVISION);
    return rt_write_text(path, text, 0, st);
}

/* the jobs, class by class (in random order, and a new class's images too, for random_order),
 * each class's output and lock folders made; -1 with st */
static int list_jobs(Shared *sh, const RtDataset *ds, uint64_t key, RtStatus *st) {
    const RtAlignOpts *o = sh->o;
    char path[4200];
    int *order = fn_malloc((size_t)(ds->n_classes ? ds->n_classes : 1) * sizeof *order);
    sh->jobs = fn_malloc((size_t)(ds->n_images ? ds->n_images : 1) * sizeof *sh->jobs);
    if (!order || !sh->jobs) {
        free(order);
        return rt_fail(st, "out of memory listing the images");
    }
    for (int c = 0; c < ds->n_classes; c++) order[c] = c;
    if (o->random_order) rt_shuffle(order, ds->n_classes, rt_hash(key, 1, 0));
    for (int k = 0; k < ds->n_classes; k++) {
        const RtClass *c = &ds->classes[order[k]];
        snprintf(path, sizeof path, "%s/%s", o->output_dir, c->name);
        int created = mkdir(path, 0755) == 0;
        if (!created && errno != EEXIST) {
            rt_fail(st, "cannot create %s: %s", path, strerror(errno));
            free(order);
            return -1;
        }
        snprintf(path, sizeof path, "%s/" LOCK_DIR "/%s", o->output_dir, c->name);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
            rt_fail(st, "cannot create %s: %s", path, strerror(errno));
            free(order);
            return -1;
        }
        int *imgs = fn_malloc((size_t)(c->count ? c->count : 1) * sizeof *imgs);
        if (!imgs) {
            free(order);
            return rt_fail(st, "out of memory listing the images");
        }
        for (int i = 0; i < c->count; i++) imgs[i] = c->first + i;
        if (o->random_order && created) rt_shuffle(imgs, c->count, rt_hash(key, 2, (uint64_t)order[k]));
        for (int i = 0; i < c->count; i++) sh->jobs[sh->n_jobs++] = (Job){order[k], imgs[i]};
        free(imgs);
    }
    free(order);
    return 0;
}

/* the jobs on o->threads workers; sh->t the totals (total already set), sh->failed on an error */
static void run_workers(Shared *sh) {
    const RtAlignOpts *o = sh->o;
    pthread_mutex_init(&sh->mu, NULL);
    rt_progress_start(&sh->pr, o->out, "images", sh->n_jobs);
    double t0 = rt_now();
    pthread_t *th = fn_calloc((size_t)o->threads, sizeof *th);
    if (!th) {
        sh->failed = 1;
        rt_fail(&sh->st, "out of memory starting %d workers", o->threads);
    }
    for (int i = 0; th && i < o->threads; i++) pthread_create(&th[i], NULL, worker, sh);
    for (int i = 0; th && i < o->threads; i++) pthread_join(th[i], NULL);
    free(th);
    rt_progress_end(&sh->pr);
    pthread_mutex_destroy(&sh->mu);
    sh->t.seconds = rt_now() - t0;
}

int rt_align(const RtAlignOpts *o, RtAlignTotals *t, RtStatus *st) {
    memset(t, 0, sizeof *t);
    if (o->image_size < 1 || o->margin < 0 || o->threads < 1 || o->png_level < 0 || o->png_level > 9)
        return rt_fail(st, "image size and threads must be positive, the margin not negative, the PNG level 0..9");
    RtArtifact art;
    Shared sh;
    memset(&sh, 0, sizeof sh);
    sh.o = o;
    if (load_nets(o, &art, &sh, st) < 0) return -1;
    RtDataset ds;
    uint64_t key = rt_hash((uint64_t)getpid(), (uint64_t)(rt_now() * 1e9), (uint64_t)time(NULL));
    int rc = -1;
    usleep((useconds_t)(rt_uniform(key, 1 << 20) * 1e6)); /* de-synchronise parallel starts */
    if (rt_dataset_scan_ex(o->input_dir, 1, &ds, st) < 0) {
        rt_artifact_free(&art);
        return -1;
    }
    sh.ds = &ds;
    if (start_output(o, st) < 0 || list_jobs(&sh, &ds, key, st) < 0) goto done;
    t->total = sh.n_jobs;
    char bbox_path[4200];
    if (!(sh.bbox = open_bbox_log(o->output_dir, key, bbox_path, sizeof bbox_path, st))) goto done;
    sh.bbox_path = bbox_path;
    run_workers(&sh);
    sh.t.total = t->total;
    *t = sh.t;
    if (fclose(sh.bbox) != 0 && !sh.failed) {
        sh.failed = 1;
        rt_fail(&sh.st, "cannot write %s: %s", bbox_path, strerror(errno));
    }
    if (sh.failed) {
        *st = sh.st;
        goto done;
    }
    rc = 0;
done:
    free(sh.jobs);
    rt_dataset_free(&ds);
    rt_artifact_free(&art);
    return rc;
}

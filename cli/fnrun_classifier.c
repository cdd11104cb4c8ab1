/* fnrun classifier TRAIN|CLASSIFY DATA_DIR MODEL CLASSIFIER_FILE: classifier.py. The images of a
 * class-per-folder dataset embedded (runtime/tools/embed_files.h), then an SVM fitted on them
 * and saved (TRAIN) or loaded and asked for each image's most probable class (CLASSIFY), with
 * classifier.py's flags and print-out. --use_split_dataset splits each class as classifier.py
 * does (classes below --min_nrof_images_per_class left out, said on stderr; the first
 * --nrof_train_images_per_class of a seeded shuffle train, the rest test), with fn's own
 * seeded shuffle, not NumPy's. What this is not: the SVM (runtime/tools/classifier.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "cli/fnrun_cmds.h"
#include "ir/alloc.h"
#include "runtime/data/data.h"
#include "runtime/tools/classifier.h"
#include "runtime/tools/embed_files.h"

typedef struct {
    RtEmbedFilesOpts e;
    const char *mode, *data_dir, *model, *file, *device, *test_data_dir, *save_embeddings;
    int use_split_dataset, seed, min_nrof_images_per_class, nrof_train_images_per_class, threads;
} ClsArgs;

static int parse(int argc, char **argv, ClsArgs *a) {
    const FlagSpec specs[] = {
        {"use_split_dataset", FLAG_BOOL, &a->use_split_dataset,
         "split DATA_DIR's classes into training and test images (classifier.py's split)"},
        {"test_data_dir", FLAG_STR, &a->test_data_dir, "accepted for compatibility (classifier.py ignores it too)"},
        {"batch_size", FLAG_INT, &a->e.batch_size, "images per forward pass"},
        {"image_size", FLAG_INT, &a->e.image_size, "input height and width in pixels"},
        {"seed", FLAG_INT, &a->seed, "the split's shuffle, libsvm's folds, an artifact's weights"},
        {"min_nrof_images_per_class", FLAG_INT, &a->min_nrof_images_per_class,
         "with --use_split_dataset: classes with fewer images are left out"},
        {"nrof_train_images_per_class", FLAG_INT, &a->nrof_train_images_per_class,
         "with --use_split_dataset: training images per class (the rest test)"},
        {"use_fixed_image_standardization", FLAG_BOOL, &a->e.use_fixed_image_standardization,
         "(x - 127.5) / 128 instead of per-image prewhitening"},
        {"use_moving_averages", FLAG_BOOL, &a->e.use_moving_averages, "the checkpoint's averaged weights"},
        {"embedding_size", FLAG_INT, &a->e.embedding_size, "for an artifact alone (a checkpoint knows its own)"},
        {"nrof_preprocess_threads", FLAG_INT, &a->e.threads, "decoding threads"},
        {"device", FLAG_STR, &a->device, "where the embeddings are computed: cpu, gpu, or auto"},
        {"threads", FLAG_INT, &a->threads, "CPU threads (default: the CPUs this process may use; FN_THREADS)"},
        {"save_embeddings", FLAG_STR, &a->save_embeddings,
         "OUT: also write the images' embeddings as OUT.npy and OUT.tsv (path, class), as fnrun embed"},
    };
    const char *pos[4];
    int n_pos;
    int r = flags_parse("fnrun classifier", "TRAIN|CLASSIFY DATA_DIR MODEL CLASSIFIER_FILE [flags]", specs,
                        (int)(sizeof specs / sizeof specs[0]), argc, argv, 2, pos, 4, &n_pos);
    if (r) return r;
    const char *why = n_pos != 4 ? "needs TRAIN or CLASSIFY, DATA_DIR, MODEL and CLASSIFIER_FILE"
                      : strcmp(pos[0], "TRAIN") && strcmp(pos[0], "CLASSIFY") ? "the mode is TRAIN or CLASSIFY"
                      : a->e.batch_size < 1 || a->e.image_size < 1 || a->min_nrof_images_per_class < 1 ||
                              a->nrof_train_images_per_class < 1
                          ? "--batch_size, --image_size and the per-class counts must be positive"
                          : NULL;
    if (why) {
        fprintf(stderr, "fnrun classifier: %s\n", why);
        return -1;
    }
    a->mode = pos[0], a->data_dir = pos[1], a->model = pos[2], a->file = pos[3];
    return 0;
}

/* classifier.py's display name: '_' as ' ' */
static char *display_name(const char *folder) {
    char *s = fn_strdup(folder);
    for (char *p = s; p && *p; p++)
        if (*p == '_') *p = ' ';
    return s;
}

/* the images this mode uses, as inputs with their classes' display names; *labels per input */
static int pick_images(const ClsArgs *a, const RtDataset *ds, RtInputs *in, RtStatus *st) {
    int train = !strcmp(a->mode, "TRAIN");
    for (int c = 0; c < ds->n_classes; c++) {
        const RtClass *k = &ds->classes[c];
        int first = 0, count = k->count, *order = fn_malloc((size_t)(count ? count : 1) * sizeof(int));
        char *name = display_name(k->name);
        if (!order || !name) {
            free(order), free(name);
            return rt_fail(st, "out of memory listing %s", a->data_dir);
        }
        for (int i = 0; i < count; i++) order[i] = k->first + i;
        if (a->use_split_dataset && count < a->min_nrof_images_per_class) {
            fprintf(stderr, "left out class %s: %d images, fewer than --min_nrof_images_per_class %d\n", k->name,
                    count, a->min_nrof_images_per_class);
            count = 0;
        } else if (a->use_split_dataset) {
            rt_shuffle(order, count, rt_hash((uint64_t)a->seed, (uint64_t)c, rt_hash_str(k->name)));
            int n_train = count < a->nrof_train_images_per_class ? count : a->nrof_train_images_per_class;
            first = train ? 0 : n_train;
            count = train ? n_train : count - n_train;
        }
        int rc = 0;
        for (int i = first; i < first + count && rc == 0; i++) {
            rc = rt_inputs_add(in, (const char *const *)&ds->paths[order[i]], 1, st);
            if (rc == 0) {
                free(in->classes[in->n - 1]);
                in->classes[in->n - 1] = fn_strdup(name);
                if (!in->classes[in->n - 1]) rc = rt_fail(st, "out of memory listing %s", a->data_dir);
            }
        }
        free(order);
        free(name);
        if (rc < 0) return -1;
    }
    if (in->n == 0) return rt_fail(st, "%s: no images to %s", a->data_dir, train ? "train on" : "classify");
    return 0;
}

/* the distinct class names of the inputs, in order; each input's index among them, and each
 * embedded row's */
typedef struct {
    char **names;
    int n;
    int *label; /* [inputs] */
    int *row;   /* [rows] */
} Classes;

static int classes_of(const RtInputs *in, Classes *c, RtStatus *st) {
    c->names = fn_malloc((size_t)in->n * sizeof *c->names);
    c->label = fn_malloc((size_t)in->n * sizeof *c->label);
    c->row = fn_malloc((size_t)in->n * sizeof *c->row);
    if (!c->names || !c->label || !c->row) return rt_fail(st, "out of memory");
    for (int i = 0; i < in->n; i++) { /* inputs come class by class */
        if (c->n == 0 || strcmp(c->names[c->n - 1], in->classes[i])) c->names[c->n++] = in->classes[i];
        c->label[i] = c->n - 1;
    }
    return 0;
}

static int train(const ClsArgs *a, const RtEmbeddings *e, const Classes *c, RtStatus *st) {
    printf("Training classifier\n");
    RtClassifier *m = rt_classifier_train(e->rows, e->n, e->dim, c->row, c->n, c->names, (unsigned)a->seed, st);
    int rc = m ? rt_classifier_save(m, a->file, st) : -1;
    rt_classifier_free(m);
    if (rc == 0) printf("Saved classifier model to file \"%s\"\n", a->file);
    return rc;
}

/* the classifier's index of each of c's classes; -1 after naming one it does not know */
static int match_classes(const RtClassifier *m, const Classes *c, int *to, RtStatus *st) {
    const char *const *names;
    int k = rt_classifier_classes(m, &names);
    for (int j = 0; j < c->n; j++) {
        to[j] = -1;
        for (int i = 0; i < k && to[j] < 0; i++)
            if (!strcmp(names[i], c->names[j])) to[j] = i;
        if (to[j] < 0)
            return rt_fail(st, "class \"%s\" is not one the classifier was trained on (it knows %d: \"%s\"%s)",
                           c->names[j], k, names[0], k > 1 ? ", ..." : "");
    }
    return 0;
}

/* to[j]: the classifier's index of the dataset's class j (match_classes) */
static int classify(const ClsArgs *a, RtClassifier *m, const RtEmbeddings *e, const Classes *c, const int *to,
                    RtStatus *st) {
    printf("Testing classifier\n");
    if (rt_classifier_dim(m) != e->dim)
        return rt_fail(st, "%s is for embeddings of size %d; this model's are %d", a->file, rt_classifier_dim(m),
                       e->dim);
    printf("Loaded classifier model from file \"%s\"\n", a->file);
    const char *const *names;
    int k = rt_classifier_classes(m, &names), hits = 0;
    double *p = fn_malloc((size_t)(e->n ? e->n : 1) * (size_t)k * sizeof *p);
    int rc = p ? rt_classifier_predict(m, e->rows, e->n, p, st) : rt_fail(st, "out of memory");
    for (int i = 0; rc == 0 && i < e->n; i++) {
        const double *pi = p + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (pi[j] > pi[best]) best = j; /* the first of equals, as numpy.argmax */
        printf("%4d  %s: %.3f\n", i, names[best], pi[best]);
        hits += best == to[c->row[i]];
    }
    if (rc == 0) printf("Accuracy: %.3f\n", e->n ? (double)hits / e->n : 0.0);
    free(p);
    return rc;
}

static int run(ClsArgs *a) {
    RtDataset ds;
    RtInputs in = {0};
    RtEmbeddings e = {0};
    Classes c = {0};
    RtClassifier *m = NULL;
    CliBackends b;
    RtStatus st;
    int scanned = 0, backends = 0, rc = -1, is_train = !strcmp(a->mode, "TRAIN"), *to = NULL;
    if (!is_train && !(m = rt_classifier_load(a->file, 0, &st))) goto out; /* a bad file: before the work */
    if (rt_dataset_scan(a->data_dir, &ds, &st) < 0) goto out;
    scanned = 1;
    if (pick_images(a, &ds, &in, &st) < 0 || classes_of(&in, &c, &st) < 0) goto out;
    if (!is_train && (!(to = fn_malloc((size_t)c.n * sizeof *to)) ? rt_fail(&st, "out of memory")
                                                                    : match_classes(m, &c, to, &st)) < 0)
        goto out; /* a class it never saw: before the work */
    if (fnrun_backends("fnrun classifier", a->device, a->threads, 1.0, NULL, 0, "the embeddings", stdout, &b) < 0) {
        rc = -2;
        goto out;
    }
    backends = 1;
    a->e.model = a->model;
    a->e.seed = (uint64_t)a->seed;
    a->e.backend = b.chosen;
    a->e.stop = &fnrun_stop_requested;
    printf("Number of classes: %d\nNumber of images: %d\n", c.n, in.n);
    printf("Loading feature extraction model\nCalculating features for images\n");
    if (rt_embed_files(&a->e, &in, &e, &st) < 0) goto out;
    for (int i = 0; i < e.n; i++) c.row[i] = c.label[e.source[i]]; /* an unreadable image has no row */
    if (a->save_embeddings && rt_embeddings_save(a->save_embeddings, &in, &e, &st) < 0) goto out;
    rc = is_train ? train(a, &e, &c, &st) : classify(a, m, &e, &c, to, &st);
out:
    if (rc == -1) fprintf(stderr, "fnrun classifier: %s\n", st.msg);
    rt_classifier_free(m);
    free(c.names);
    free(c.label);
    free(c.row);
    free(to);
    rt_embeddings_free(&e);
    rt_inputs_free(&in);
    if (scanned) rt_dataset_free(&ds);
    if (backends) cli_backends_close(&b);
    return rc == 0 ? 0 : 1;
}

int fnrun_classifier(int argc, char **argv) {
    ClsArgs a;
    memset(&a, 0, sizeof a);
    rt_embed_files_defaults(&a.e);
    a.e.batch_size = 90;
    a.seed = 666;
    a.min_nrof_images_per_class = 20;
    a.nrof_train_images_per_class = 10;
    a.device = "cpu";
    int r = parse(argc, argv, &a);
    return r ? (r < 0 ? 2 : 0) : run(&a);
}

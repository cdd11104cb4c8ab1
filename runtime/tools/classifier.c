/* See classifier.h. libsvm keeps a trained model's support vectors as pointers into the
 * problem's nodes, so a classifier owns its nodes for its life. libsvm reads and writes models
 * only by path: the model text goes through an anonymous memory file (memfd). */
#include "runtime/tools/classifier.h"

#include <errno.h>
#include <libsvm/svm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "ir/alloc.h"

struct RtClassifier {
    struct svm_model *m;
    struct svm_node *nodes; /* the training problem's, which m points into; NULL when loaded */
    int d, k;
    char **names;   /* [k] */
    int *label;     /* [m's classes]: the class index of each of libsvm's probability slots */
};

static void quiet(const char *s) { (void)s; }

void rt_classifier_free(RtClassifier *c) {
    if (!c) return;
    if (c->m) svm_free_and_destroy_model(&c->m);
    for (int i = 0; c->names && i < c->k; i++) free(c->names[i]);
    free(c->names);
    free(c->nodes);
    free(c->label);
    free(c);
}

static RtClassifier *classifier_new(int d, int k, char *const *names, RtStatus *st) {
    RtClassifier *c = fn_calloc(1, sizeof *c);
    if (c) c->names = fn_calloc((size_t)k, sizeof *c->names);
    for (int i = 0; c && c->names && i < k; i++)
        if (!(c->names[i] = fn_strdup(names[i]))) break;
    if (!c || !c->names || (k > 0 && !c->names[k - 1])) {
        if (c) c->k = k;
        rt_classifier_free(c);
        rt_fail(st, "out of memory for a classifier of %d classes", k);
        return NULL;
    }
    c->d = d;
    c->k = k;
    return c;
}

/* row x [d] as libsvm's sparse nodes, 1-based, ended by index -1 */
static void to_nodes(const float *x, int d, struct svm_node *out) {
    for (int j = 0; j < d; j++) out[j] = (struct svm_node){j + 1, x[j]};
    out[d] = (struct svm_node){-1, 0};
}

/* the class of each of libsvm's slots (its labels are the class indices it was trained on) */
static int map_labels(RtClassifier *c, RtStatus *st) {
    int nr = svm_get_nr_class(c->m);
    if (!(c->label = fn_malloc((size_t)nr * sizeof(int)))) return rt_fail(st, "out of memory");
    svm_get_labels(c->m, c->label);
    for (int s = 0; s < nr; s++)
        if (c->label[s] < 0 || c->label[s] >= c->k)
            return rt_fail(st, "the SVM has a class %d, not one of the %d names", c->label[s], c->k);
    return 0;
}

RtClassifier *rt_classifier_train(const float *x, int n, int d, const int *labels, int n_classes,
                                  char *const *names, unsigned seed, RtStatus *st) {
    RtClassifier *c = classifier_new(d, n_classes, names, st);
    if (!c) return NULL;
    double *y = fn_malloc((size_t)(n ? n : 1) * sizeof *y);
    struct svm_node **rows = fn_malloc((size_t)(n ? n : 1) * sizeof *rows);
    c->nodes = fn_malloc((size_t)(n ? n : 1) * (size_t)(d + 1) * sizeof *c->nodes);
    int rc = y && rows && c->nodes ? 0 : rt_fail(st, "out of memory for %d training vectors", n);
    for (int i = 0; rc == 0 && i < n; i++) {
        rows[i] = c->nodes + (size_t)i * (d + 1);
        to_nodes(x + (size_t)i * d, d, rows[i]);
        y[i] = labels[i];
    }
    struct svm_problem prob = {n, y, rows};
    /* scikit-learn's SVC(kernel='linear', probability=True): C 1, tol 1e-3, shrinking, 200 MB */
    struct svm_parameter p = {C_SVC, LINEAR, 3, 1.0 / d, 0, 200, 1e-3, 1, 0, NULL, NULL, 0.5, 0.1, 1, 1};
    const char *why = rc == 0 ? svm_check_parameter(&prob, &p) : NULL;
    if (why) rc = rt_fail(st, "the SVM's parameters: %s", why);
    if (rc == 0) {
        svm_set_print_string_function(quiet);
        srand(seed); /* libsvm shuffles the probability folds with rand() */
        c->m = svm_train(&prob, &p);
        rc = c->m ? map_labels(c, st) : rt_fail(st, "libsvm could not train the classifier");
    }
    free(y);
    free(rows);
    if (rc < 0) {
        rt_classifier_free(c);
        return NULL;
    }
    return c;
}

int rt_classifier_predict(const RtClassifier *c, const float *x, int n, double *probs, RtStatus *st) {
    int nr = svm_get_nr_class(c->m);
    struct svm_node *row = fn_malloc((size_t)(c->d + 1) * sizeof *row);
    double *est = fn_malloc((size_t)nr * sizeof *est);
    if (!row || !est) {
        free(row);
        free(est);
        return rt_fail(st, "out of memory classifying");
    }
    for (int i = 0; i < n; i++) {
        to_nodes(x + (size_t)i * c->d, c->d, row);
        svm_predict_probability(c->m, row, est);
        double *p = probs + (size_t)i * c->k;
        for (int j = 0; j < c->k; j++) p[j] = 0; /* a class without training vectors: 0 */
        for (int s = 0; s < nr; s++) p[c->label[s]] = est[s];
    }
    free(row);
    free(est);
    return 0;
}

int rt_classifier_decision(const RtClassifier *c, const float *x, int n, double *dec, RtStatus *st) {
    int nr = svm_get_nr_class(c->m), pairs = nr * (nr - 1) / 2;
    struct svm_node *row = fn_malloc((size_t)(c->d + 1) * sizeof *row);
    if (!row) return rt_fail(st, "out of memory classifying");
    for (int i = 0; i < n; i++) {
        to_nodes(x + (size_t)i * c->d, c->d, row);
        svm_predict_values(c->m, row, dec + (size_t)i * pairs);
    }
    free(row);
    return 0;
}

int rt_classifier_classes(const RtClassifier *c, const char *const **names) {
    *names = (const char *const *)c->names;
    return c->k;
}

int rt_classifier_dim(const RtClassifier *c) { return c->d; }

/* ---- the file -------------------------------------------------------------------------------- */

/* libsvm's model text (it writes only to a path: an anonymous memory file's); malloc'ed */
static char *svm_text(const struct svm_model *m, RtStatus *st) {
    int fd = memfd_create("fn-svm", MFD_CLOEXEC);
    if (fd < 0) return rt_fail(st, "cannot make a memory file: %s", strerror(errno)), NULL;
    char path[64], *text = NULL;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    off_t n = svm_save_model(path, m) == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (n >= 0 && (text = fn_malloc((size_t)n + 1)) && pread(fd, text, (size_t)n, 0) == n) text[n] = 0;
    else if (text) free(text), text = NULL;
    close(fd);
    if (!text) rt_fail(st, "libsvm could not write the model");
    return text;
}

static struct svm_model *svm_from_text(const char *text, size_t n, RtStatus *st) {
    int fd = memfd_create("fn-svm", MFD_CLOEXEC);
    if (fd < 0) return rt_fail(st, "cannot make a memory file: %s", strerror(errno)), NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct svm_model *m = write(fd, text, n) == (ssize_t)n ? svm_load_model(path) : NULL;
    close(fd);
    if (!m) rt_fail(st, "its SVM model does not load");
    return m;
}

int rt_classifier_save(const RtClassifier *c, const char *path, RtStatus *st) {
    for (int i = 0; i < c->k; i++)
        if (strchr(c->names[i], '\n')) return rt_fail(st, "class name with a line break: %s", c->names[i]);
    char *svm = svm_text(c->m, st);
    if (!svm) return -1;
    size_t cap = strlen(svm) + 128;
    for (int i = 0; i < c->k; i++) cap += strlen(c->names[i]) + 1;
    char *buf = fn_malloc(cap);
    if (!buf) {
        free(svm);
        return rt_fail(st, "out of memory writing %s", path);
    }
    size_t n = (size_t)snprintf(buf, cap, "fn-classifier 1\nembedding_size %d\nclasses %d\n", c->d, c->k);
    for (int i = 0; i < c->k; i++) n += (size_t)snprintf(buf + n, cap - n, "%s\n", c->names[i]);
    n += (size_t)snprintf(buf + n, cap - n, "libsvm\n%s", svm);
    uLong crc = crc32(0, (const Bytef *)buf, (uInt)n);
    n += (size_t)snprintf(buf + n, cap - n, "end %08lx\n", crc);
    free(svm);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    int err = !f ? errno : fwrite(buf, 1, n, f) != n || fflush(f) != 0 ? (errno ? errno : EIO) : 0;
    if (f && fclose(f) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0) err = errno;
    free(buf);
    if (!err) return 0;
    unlink(tmp);
    return rt_fail(st, "cannot write %s: %s", path, strerror(err));
}

/* the whole file, NUL-ended (malloc'ed) */
static char *read_all(const char *path, size_t *n, RtStatus *st) {
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "cannot open %s: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n + 65536 + 1 > cap) {
            cap = 2 * cap + 65536 + 1;
            char *b = fn_realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        size_t got = fread(buf + *n, 1, cap - *n - 1, f);
        *n += got;
        if (got == 0) break;
    }
    int bad = ferror(f) || !buf || *n + 1 > cap;
    fclose(f);
    if (bad) {
        free(buf);
        return rt_fail(st, "cannot read %s", path), NULL;
    }
    buf[*n] = 0;
    return buf;
}

/* the line at *p (its '\n' made a NUL), *p moved past it; NULL at the end */
static char *next_line(char **p, const char *end) {
    char *s = *p, *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
    if (!nl) return NULL;
    *nl = 0;
    *p = nl + 1;
    return s;
}

/* header lines into c (its names), *svm the model text's start; -1 with a reason */
static int parse_header(char **p, const char *end, RtClassifier **out, const char *path, RtStatus *st) {
    char *l = next_line(p, end);
    int d = 0, k = 0;
    if (!l || strcmp(l, "fn-classifier 1") != 0)
        return rt_fail(st, "%s is not an fn classifier file (fnrun classifier TRAIN writes one)", path);
    if (!(l = next_line(p, end)) || sscanf(l, "embedding_size %d", &d) != 1 || d < 1 || !(l = next_line(p, end)) ||
        sscanf(l, "classes %d", &k) != 1 || k < 1 || k > 1000000)
        return rt_fail(st, "%s: a damaged header", path);
    char **names = fn_calloc((size_t)k, sizeof *names);
    if (!names) return rt_fail(st, "out of memory reading %s", path);
    for (int i = 0; i < k; i++)
        if (!(names[i] = next_line(p, end))) {
            free(names);
            return rt_fail(st, "%s: a damaged header", path);
        }
    *out = classifier_new(d, k, names, st);
    free(names);
    if (!*out) return -1;
    if (!(l = next_line(p, end)) || strcmp(l, "libsvm") != 0) return rt_fail(st, "%s: a damaged header", path);
    return 0;
}

RtClassifier *rt_classifier_load(const char *path, int want_dim, RtStatus *st) {
    size_t n;
    char *buf = read_all(path, &n, st);
    if (!buf) return NULL;
    /* the last line: "end CRC" over all before it */
    char *end = n >= 13 ? buf + n - 13 : NULL;
    unsigned long crc = 0;
    RtClassifier *c = NULL;
    int rc = 0;
    if (!end || (end > buf && end[-1] != '\n') || sscanf(end, "end %8lx\n", &crc) != 1 || buf[n - 1] != '\n')
        rc = rt_fail(st, "%s is truncated or not an fn classifier file (no end line)", path);
    else if (crc32(0, (const Bytef *)buf, (uInt)(end - buf)) != crc)
        rc = rt_fail(st, "%s is damaged (its checksum does not match)", path);
    char *p = buf;
    if (rc == 0) rc = parse_header(&p, end, &c, path, st);
    if (rc == 0 && want_dim > 0 && c->d != want_dim)
        rc = rt_fail(st, "%s is for embeddings of size %d; this model's are %d", path, c->d, want_dim);
    if (rc == 0 && !(c->m = svm_from_text(p, (size_t)(end - p), st))) rc = -1;
    if (rc == 0) rc = map_labels(c, st);
    if (rc == 0 && svm_check_probability_model(c->m) == 0) rc = rt_fail(st, "%s: the SVM has no probability model", path);
    free(buf);
    if (rc < 0) {
        rt_classifier_free(c);
        return NULL;
    }
    return c;
}

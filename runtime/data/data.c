/* Dataset scanning and the plain PNG image path (see data.h). */
#include "runtime/data/data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/alloc.h"

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Sorted names of the entries of dir that are directories (want_dirs) or regular files. */
static int list_dir(const char *dir, int want_dirs, char ***out, int *n, RtStatus *st) {
    DIR *d = opendir(dir);
    if (!d) return rt_fail(st, "cannot read directory %s: %s", dir, strerror(errno));
    int cap = 16, ok = 1;
    char **v = fn_malloc((size_t)cap * sizeof *v);
    *n = 0;
    struct dirent *e;
    while (v && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (want_dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) continue;
        if (*n == cap) {
            char **nv = fn_realloc(v, (size_t)(cap * 2) * sizeof *v);
            if (!(ok = nv != NULL)) break;
            v = nv;
            cap *= 2;
        }
        if (!(ok = (v[*n] = fn_strdup(e->d_name)) != NULL)) break;
        (*n)++;
    }
    closedir(d);
    if (!v || !ok) {
        free_names(v, *n);
        *n = 0;
        return rt_fail(st, "out of memory listing %s", dir);
    }
    qsort(v, (size_t)*n, sizeof *v, cmp_str);
    *out = v;
    return 0;
}

/* -1 when out of memory (ds unchanged). */
static int ds_add_class(RtDataset *ds, const char *name) {
    RtClass *c = fn_realloc(ds->classes, (size_t)(ds->n_classes + 1) * sizeof *ds->classes);
    if (!c) return -1;
    ds->classes = c;
    char *nm = fn_strdup(name);
    if (!nm) return -1;
    ds->classes[ds->n_classes++] = (RtClass){nm, ds->n_images, 0};
    return 0;
}

/* Adds an image to the last class; -1 when out of memory (ds still consistent). */
static int ds_add_image(RtDataset *ds, const char *path) {
    if ((ds->n_images & (ds->n_images - 1)) == 0) { /* grow at powers of two */
        size_t cap = ds->n_images ? 2 * (size_t)ds->n_images : 1;
        char **p = fn_realloc(ds->paths, cap * sizeof *ds->paths);
        if (!p) return -1;
        ds->paths = p;
        int *l = fn_realloc(ds->labels, cap * sizeof *ds->labels);
        if (!l) return -1;
        ds->labels = l;
    }
    char *dup = fn_strdup(path);
    if (!dup) return -1;
    ds->paths[ds->n_images] = dup;
    ds->labels[ds->n_images++] = ds->n_classes - 1;
    ds->classes[ds->n_classes - 1].count++;
    return 0;
}

typedef struct {
    char *name;
    int root;
} ClassDir;

static int cmp_class_dir(const void *a, const void *b) {
    const ClassDir *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->root - y->root;
}

/* Appends the sorted files of root/name to the last class. */
static int add_class_files(RtDataset *ds, const char *root, const char *name, RtStatus *st) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    char **files = NULL;
    int nf = 0;
    if (list_dir(dir, 0, &files, &nf, st) < 0) return -1;
    int rc = 0;
    for (int i = 0; i < nf && rc == 0; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (ds_add_image(ds, path) < 0) rc = rt_fail(st, "out of memory scanning %s", dir);
    }
    free_names(files, nf);
    return rc;
}

/* Without allow_empty, a last class without images is taken back and counted (the reference
 * skips such a folder too). */
static void drop_if_empty(RtDataset *ds, const char *root, int allow_empty) {
    RtClass *c = &ds->classes[ds->n_classes - 1];
    if (allow_empty || c->count > 0) return;
    if (ds->n_empty_classes++ == 0) snprintf(ds->first_empty, sizeof ds->first_empty, "%s/%s", root, c->name);
    free(c->name);
    ds->n_classes--;
}

int rt_dataset_scan(const char *data_dir, RtDataset *ds, RtStatus *st) {
    return rt_dataset_scan_ex(data_dir, 0, ds, st);
}

int rt_dataset_scan_ex(const char *data_dir, int allow_empty, RtDataset *ds, RtStatus *st) {
    memset(ds, 0, sizeof *ds);
    char *spec = fn_strdup(data_dir), *save = NULL;
    char *roots[64];
    int n_roots = 0, rc = spec ? 0 : rt_fail(st, "out of memory scanning %s", data_dir);
    for (char *r = rc ? NULL : strtok_r(spec, ":", &save); r && rc == 0; r = strtok_r(NULL, ":", &save)) {
        struct stat sb;
        if (n_roots == 64) rc = rt_fail(st, "%s: more than 64 roots", data_dir);
        else if (stat(r, &sb) != 0)
            rc = rt_fail(st, "%s: no such directory", r);
        else if (!S_ISDIR(sb.st_mode))
            rc = rt_fail(st, "%s: is a file, not a directory", r);
        else roots[n_roots++] = r;
    }
    if (rc == 0 && n_roots == 0) rc = rt_fail(st, "no dataset folder given");
    /* every (class, root) pair, sorted by class name then root order */
    ClassDir *all = NULL;
    int n_all = 0;
    for (int r = 0; r < n_roots && rc == 0; r++) {
        char **cls = NULL;
        int nc = 0;
        if (list_dir(roots[r], 1, &cls, &nc, st) < 0) {
            rc = -1;
            break;
        }
        ClassDir *na = fn_realloc(all, (size_t)(n_all + nc + 1) * sizeof *all);
        if (!na) {
            free_names(cls, nc);
            rc = rt_fail(st, "out of memory scanning %s", data_dir);
            break;
        }
        all = na;
        for (int c = 0; c < nc; c++) all[n_all++] = (ClassDir){cls[c], r};
        free(cls);
    }
    if (n_all > 1) qsort(all, (size_t)n_all, sizeof *all, cmp_class_dir);
    if (rc == 0 && n_all == 0) rc = rt_fail(st, "%s: no class folders in it", data_dir);
    for (int i = 0; i < n_all && rc == 0; i++) {
        if ((i == 0 || strcmp(all[i].name, all[i - 1].name) != 0) && ds_add_class(ds, all[i].name) < 0) {
            rc = rt_fail(st, "out of memory scanning %s", data_dir);
            break;
        }
        rc = add_class_files(ds, roots[all[i].root], all[i].name, st);
        if (rc == 0 && (i + 1 == n_all || strcmp(all[i].name, all[i + 1].name) != 0))
            drop_if_empty(ds, roots[all[i].root], allow_empty);
    }
    if (rc == 0 && n_all > 0 && ds->n_classes == 0) rc = rt_fail(st, "%s: every class folder is empty", data_dir);
    for (int i = 0; i < n_all; i++) free(all[i].name);
    free(all);
    free(spec);
    if (rc) rt_dataset_free(ds);
    return rc;
}

void rt_split_sizes(int n, double ratio, int *n_train, int *n_val) {
    int split = (int)floor((double)n * (1 - ratio));
    if (split == n) split = n - 1;
    *n_train = split;
    *n_val = n - split;
}

int rt_dataset_split(const RtDataset *all, double ratio, int min_nrof, uint64_t seed,
                     RtDataset *train, RtDataset *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    int *order = fn_malloc(((size_t)all->n_images + 1) * sizeof *order);
    int rc = order ? 0 : -1;
    for (int c = 0; c < all->n_classes && rc == 0; c++) {
        const RtClass *k = &all->classes[c];
        if (ratio <= 0) { /* no validation set: the training set is everything */
            rc = ds_add_class(train, k->name);
            for (int i = 0; i < k->count && rc == 0; i++) rc = ds_add_image(train, all->paths[k->first + i]);
            continue;
        }
        int n_train, n_val;
        rt_split_sizes(k->count, ratio, &n_train, &n_val);
        if (n_train < min_nrof || n_val < 1) continue; /* dropped from both sets */
        for (int i = 0; i < k->count; i++) order[i] = k->first + i;
        rt_shuffle(order, k->count, rt_hash(seed, (uint64_t)c, 0x5b117));
        rc = ds_add_class(train, k->name);
        if (rc == 0) rc = ds_add_class(val, k->name);
        for (int i = 0; i < k->count && rc == 0; i++) rc = ds_add_image(i < n_train ? train : val, all->paths[order[i]]);
    }
    free(order);
    if (rc) {
        rt_dataset_free(train);
        rt_dataset_free(val);
    }
    return rc;
}

void rt_dataset_free(RtDataset *ds) {
    for (int c = 0; c < ds->n_classes; c++) free(ds->classes[c].name);
    for (int i = 0; i < ds->n_images; i++) free(ds->paths[i]);
    free(ds->classes);
    free(ds->paths);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

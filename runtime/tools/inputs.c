/* See inputs.h. */
#include "runtime/tools/inputs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/alloc.h"
#include "runtime/data/data.h"

static int push(RtInputs *in, const char *path, const char *cls, RtStatus *st) {
    if (in->n == in->cap) {
        int cap = in->cap ? 2 * in->cap : 64;
        char **p = fn_realloc(in->paths, (size_t)cap * sizeof *p);
        if (p) in->paths = p;
        char **c = p ? fn_realloc(in->classes, (size_t)cap * sizeof *c) : NULL;
        if (c) in->classes = c;
        if (!p || !c) return rt_fail(st, "out of memory listing %s", path);
        in->cap = cap;
    }
    in->paths[in->n] = fn_strdup(path);
    in->classes[in->n] = fn_strdup(cls);
    if (!in->paths[in->n] || !in->classes[in->n]) {
        free(in->paths[in->n]);
        free(in->classes[in->n]);
        return rt_fail(st, "out of memory listing %s", path);
    }
    in->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir's entries: *n_dirs subfolders and, in names, its files (hidden ones left out), sorted */
static int scan_flat(const char *dir, char ***names, int *n, int *n_dirs, RtStatus *st) {
    DIR *d = opendir(dir);
    if (!d) return rt_fail(st, "cannot open folder %s: %s", dir, strerror(errno));
    *names = NULL;
    *n = *n_dirs = 0;
    int cap = 0, rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) (*n_dirs)++;
        if (!S_ISREG(sb.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = fn_realloc(*names, (size_t)cap * sizeof *v);
            if (!v) { rc = rt_fail(st, "out of memory listing %s", dir); break; }
            *names = v;
        }
        if (!((*names)[*n] = fn_strdup(path))) rc = rt_fail(st, "out of memory listing %s", dir);
        else (*n)++;
    }
    closedir(d);
    if (rc == 0 && *n > 1) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return rc;
}

static int add_tree(RtInputs *in, const char *dir, RtStatus *st) {
    RtDataset ds;
    if (rt_dataset_scan(dir, &ds, st) < 0) return -1;
    int rc = 0;
    for (int c = 0; c < ds.n_classes && rc == 0; c++)
        for (int i = ds.classes[c].first; i < ds.classes[c].first + ds.classes[c].count && rc == 0; i++)
            rc = push(in, ds.paths[i], ds.classes[c].name, st);
    rt_dataset_free(&ds);
    return rc;
}

static int add_folder(RtInputs *in, const char *dir, RtStatus *st) {
    char **names = NULL;
    int n = 0, n_dirs = 0;
    int rc = scan_flat(dir, &names, &n, &n_dirs, st);
    if (rc == 0 && n_dirs > 0) rc = add_tree(in, dir, st);
    else if (rc == 0 && n == 0) rc = rt_fail(st, "%s: no images in this folder", dir);
    for (int i = 0; i < n; i++) {
        if (rc == 0 && n_dirs == 0) rc = push(in, names[i], "", st);
        free(names[i]);
    }
    free(names);
    return rc;
}

int rt_inputs_add(RtInputs *in, const char *const *args, int n_args, RtStatus *st) {
    for (int a = 0; a < n_args; a++) {
        struct stat sb;
        if (stat(args[a], &sb) != 0) return rt_fail(st, "%s: %s", args[a], strerror(errno));
        char dir[4096];
        size_t len = strlen(args[a]);
        while (len > 1 && args[a][len - 1] == '/') len--; /* "faces/" lists faces/x.jpg */
        snprintf(dir, sizeof dir, "%.*s", (int)len, args[a]);
        int rc = S_ISDIR(sb.st_mode) ? add_folder(in, dir, st) : push(in, args[a], "", st);
        if (rc < 0) return -1;
    }
    return 0;
}

void rt_inputs_free(RtInputs *in) {
    for (int i = 0; i < in->n; i++) {
        free(in->paths[i]);
        free(in->classes[i]);
    }
    free(in->paths);
    free(in->classes);
    memset(in, 0, sizeof *in);
}

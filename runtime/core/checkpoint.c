/* See checkpoint.h. */
#include "runtime/core/checkpoint.h"
#include "runtime/core/ema.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir/alloc.h"
#include "runtime/core/framed.h"
#include "runtime/core/pb_alloc.h"
#include "runtime/core/proto/fn_checkpoint.pb-c.h"

const char rt_checkpoint_magic[8] = {'F', 'N', 'C', 'K', 'P', 'T', '0', '1'};

static void free_tensors(Fn__Tensor **t, size_t n) {
    for (size_t i = 0; t && i < n; i++) free(t[i]);
    free(t);
}

/* vs's variables as tensors pointing at their data; NULL when out of memory. */
static Fn__Tensor **tensors(const RtVars *vs, size_t *n) {
    *n = vs ? (size_t)vs->n : 0;
    Fn__Tensor **t = fn_calloc(*n + 1, sizeof *t);
    for (size_t i = 0; t && i < *n; i++) {
        const RtVar *v = &vs->v[i];
        if (!(t[i] = fn_calloc(1, sizeof **t))) {
            free_tensors(t, i);
            return NULL;
        }
        fn__tensor__init(t[i]);
        t[i]->name = v->name;
        t[i]->n_dims = (size_t)v->rank;
        t[i]->dims = (int64_t *)v->dims;
        t[i]->data.len = (size_t)v->n * sizeof(float);
        t[i]->data.data = v->data;
    }
    return t;
}

int rt_checkpoint_save(const char *path, const RtCkptInfo *info, const RtVars *vars, const RtVars *ema,
                       int kill_midwrite, RtStatus *st) {
    if (vars->prec != 4) return rt_fail(st, "checkpoints hold float32 variables");
    Fn__Checkpoint c;
    fn__checkpoint__init(&c);
    c.run = (char *)info->run;
    c.step = info->step;
    c.seed = info->seed;
    c.optimizer = (char *)info->optimizer;
    c.epoch_size = info->epoch_size;
    c.batch_size = info->batch_size;
    c.has_image_size = c.has_embedding_size = c.has_classes = 1;
    c.image_size = info->image_size;
    c.embedding_size = info->embedding_size;
    c.classes = info->classes;
    c.vars = tensors(vars, &c.n_vars);
    c.ema = tensors(ema, &c.n_ema);
    size_t len = c.vars && c.ema ? fn__checkpoint__get_packed_size(&c) : 0;
    unsigned char *buf = c.vars && c.ema ? fn_malloc(len ? len : 1) : NULL;
    int rc = buf ? 0 : rt_fail(st, "out of memory writing %s", path);
    if (buf) fn__checkpoint__pack(&c, buf);
    free_tensors(c.vars, c.n_vars);
    free_tensors(c.ema, c.n_ema);
    if (rc == 0) rc = rt_framed_write(path, rt_checkpoint_magic, FN_CHECKPOINT_VERSION, buf, len, kill_midwrite, st);
    free(buf);
    return rc;
}

static Fn__Checkpoint *read_ckpt(const char *path, RtStatus *st) {
    unsigned char *buf;
    size_t len;
    if (rt_framed_read(path, rt_checkpoint_magic, FN_CHECKPOINT_VERSION, "checkpoint",
                       "it was written by another fn version", &buf, &len, st) < 0)
        return NULL;
    int oom;
    ProtobufCAllocator al = rt_pb_allocator_noting(&oom);
    Fn__Checkpoint *c = fn__checkpoint__unpack(&al, len, buf);
    free(buf);
    if (!c) rt_fail(st, oom ? "out of memory reading checkpoint %s" : "checkpoint %s is corrupt (cannot decode)", path);
    return c;
}

static const Fn__Tensor *find(Fn__Tensor **t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i]->name, name) == 0) return t[i];
    return NULL;
}

static int same_shape(const Fn__Tensor *t, const RtVar *v) {
    if (t->n_dims != (size_t)v->rank || t->data.len != (size_t)v->n * sizeof(float)) return 0;
    for (int k = 0; k < v->rank; k++)
        if (t->dims[k] != v->dims[k]) return 0;
    return 1;
}

static void shape_str(const int64_t *d, int rank, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)d[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* Copies every variable of vs from t; all must be there with the same shape. */
static int load_all(const char *path, Fn__Tensor **t, size_t n, RtVars *vs, const char *what,
                    RtStatus *st) {
    for (int i = 0; vs && i < vs->n; i++) {
        RtVar *v = &vs->v[i];
        if (strcmp(what, "moving average") == 0 && !rt_var_is_averaged(v)) continue;
        const Fn__Tensor *x = find(t, n, v->name);
        if (!x) return rt_fail(st, "checkpoint %s has no %s of %s", path, what, v->name);
        if (!same_shape(x, v)) {
            char a[128], b[128];
            shape_str(x->dims, (int)x->n_dims, a, sizeof a);
            shape_str(v->dims, v->rank, b, sizeof b);
            return rt_fail(st, "checkpoint %s: %s is %s there but %s here", path, v->name, a, b);
        }
        memcpy(v->data, x->data.data, x->data.len);
    }
    return 0;
}

static void fill_info(const Fn__Checkpoint *c, RtCkptInfo *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->run, sizeof info->run, "%s", c->run);
    snprintf(info->optimizer, sizeof info->optimizer, "%s", c->optimizer);
    info->step = c->step;
    info->seed = c->seed;
    info->epoch_size = c->epoch_size;
    info->batch_size = c->batch_size;
    info->image_size = c->image_size;
    info->embedding_size = c->embedding_size;
    info->classes = c->classes;
}

int rt_checkpoint_info_from_bytes(const void *data, size_t size, const char *name, RtCkptInfo *info,
                                  RtStatus *st) {
    const unsigned char *payload;
    size_t len;
    if (rt_framed_parse(data, size, rt_checkpoint_magic, FN_CHECKPOINT_VERSION, "checkpoint", name,
                        "it was written by another fn version", &payload, &len, st) < 0)
        return -1;
    int oom;
    ProtobufCAllocator al = rt_pb_allocator_noting(&oom);
    Fn__Checkpoint *c = fn__checkpoint__unpack(&al, len, payload);
    if (!c) return rt_fail(st, oom ? "out of memory reading checkpoint %s" : "checkpoint %s is corrupt (cannot decode)", name);
    fill_info(c, info);
    fn__checkpoint__free_unpacked(c, &rt_pb_allocator);
    return 0;
}

int rt_checkpoint_info(const char *path, RtCkptInfo *info, RtStatus *st) {
    Fn__Checkpoint *c = read_ckpt(path, st);
    if (!c) return -1;
    fill_info(c, info);
    fn__checkpoint__free_unpacked(c, &rt_pb_allocator);
    return 0;
}

int rt_checkpoint_load_averages(const char *path, RtVars *vars, RtStatus *st) {
    Fn__Checkpoint *c = read_ckpt(path, st);
    if (!c) return -1;
    int rc = 0;
    for (int i = 0; i < vars->n && rc == 0; i++) {
        RtVar *v = &vars->v[i];
        if (!rt_var_is_averaged(v)) continue;
        const Fn__Tensor *x = find(c->ema, c->n_ema, v->name);
        if (!x || !same_shape(x, v)) rc = rt_fail(st, "checkpoint %s has no moving average of %s", path, v->name);
        else memcpy(v->data, x->data.data, x->data.len);
    }
    fn__checkpoint__free_unpacked(c, &rt_pb_allocator);
    return rc;
}

int rt_checkpoint_load(const char *path, RtCkptInfo *info, RtVars *vars, RtVars *ema,
                       RtStatus *st) {
    Fn__Checkpoint *c = read_ckpt(path, st);
    if (!c) return -1;
    fill_info(c, info);
    int rc = load_all(path, c->vars, c->n_vars, vars, "variable", st);
    if (rc == 0) rc = load_all(path, c->ema, c->n_ema, ema, "moving average", st);
    fn__checkpoint__free_unpacked(c, &rt_pb_allocator);
    return rc;
}

int rt_checkpoint_restore_weights(const char *path, RtVars *vars, FILE *log, RtStatus *st) {
    Fn__Checkpoint *c = read_ckpt(path, st);
    if (!c) return -1;
    int restored = 0, rc = 0;
    for (int i = 0; i < vars->n && rc == 0; i++) {
        RtVar *v = &vars->v[i];
        if (!rt_var_is_averaged(v)) continue; /* weights and BN statistics only */
        const Fn__Tensor *x = find(c->vars, c->n_vars, v->name);
        if (x && same_shape(x, v)) {
            memcpy(v->data, x->data.data, x->data.len);
            restored++;
        } else if (strncmp(v->name, "Logits/", 7) == 0) {
            fprintf(log, "Pre-trained model: %s not restored (%s)\n", v->name,
                    x ? "another number of classes" : "not in the checkpoint");
        } else {
            char a[128] = "absent", b[128];
            if (x) shape_str(x->dims, (int)x->n_dims, a, sizeof a);
            shape_str(v->dims, v->rank, b, sizeof b);
            rc = rt_fail(st, "--pretrained_model %s: %s is %s there but %s here", path, v->name, a, b);
        }
    }
    if (rc == 0) fprintf(log, "Pre-trained model: restored %d variables from %s\n", restored, path);
    fn__checkpoint__free_unpacked(c, &rt_pb_allocator);
    return rc;
}

enum { MAX_CKPTS = 4096 };
typedef struct {
    long epoch;
    char name[256];
} CkptName;

/* dir's checkpoints (model-*.ckpt-<epoch>) into a malloc'ed list; its length, or -1. */
static int list_ckpts(const char *dir, CkptName **out, RtStatus *st) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return rt_fail(st, "cannot read run directory %s: %s", dir, strerror(errno));
    CkptName *v = fn_malloc(MAX_CKPTS * sizeof *v);
    if (!v) {
        closedir(d);
        return rt_fail(st, "out of memory listing %s", dir);
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CKPTS) {
        const char *p = strstr(e->d_name, ".ckpt-");
        if (strncmp(e->d_name, "model-", 6) != 0 || !p || strlen(e->d_name) >= sizeof v->name) continue;
        char *end;
        long ep = strtol(p + 6, &end, 10);
        if (*end || end == p + 6 || ep < 0) continue; /* e.g. a leftover .tmp file */
        v[n].epoch = ep;
        snprintf(v[n++].name, sizeof v->name, "%s", e->d_name);
    }
    closedir(d);
    if (n == 0) {
        free(v);
        return rt_fail(st, "no checkpoint (model-*.ckpt-N) in %s", dir);
    }
    *out = v;
    return n;
}

/* The index of the largest epoch not yet taken (epoch -1), or -1. */
static int newest(const CkptName *v, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (v[i].epoch >= 0 && (best < 0 || v[i].epoch > v[best].epoch)) best = i;
    return best;
}

int rt_checkpoint_latest(const char *dir, char *path, size_t cap, RtStatus *st) {
    CkptName *v;
    int n = list_ckpts(dir, &v, st);
    if (n < 0) return -1;
    snprintf(path, cap, "%s/%s", dir, v[newest(v, n)].name);
    free(v);
    return 0;
}

int rt_checkpoint_latest_intact(const char *dir, FILE *log, char *path, size_t cap, RtCkptInfo *info,
                                RtStatus *st) {
    CkptName *v;
    char first_err[sizeof st->msg] = "";
    int n = list_ckpts(dir, &v, st);
    if (n < 0) return -1;
    for (int best = newest(v, n); best >= 0; best = newest(v, n)) {
        snprintf(path, cap, "%s/%s", dir, v[best].name);
        v[best].epoch = -1;
        Fn__Checkpoint *c = read_ckpt(path, st); /* the whole payload, checksum included */
        if (c) {
            fill_info(c, info);
            fn__checkpoint__free_unpacked(c, &rt_pb_allocator);
            if (first_err[0] && log) fprintf(log, "note: %s; using the newest intact one, %s\n", first_err, path);
            free(v);
            return 0;
        }
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", st->msg);
    }
    free(v);
    return rt_fail(st, "no intact checkpoint in %s (the newest: %s)", dir, first_err);
}

/* A run folder renamed and resumed holds checkpoints of the new name beside the artifact of the
 * old: the only model-*.fnc in dir, if there is exactly one. */
static int any_artifact(const char *dir, char *art, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "model-", 6) == 0 && len > 10 && strcmp(e->d_name + len - 4, ".fnc") == 0 &&
            n++ == 0)
            snprintf(art, cap, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n == 1;
}

/* See checkpoint.h. */
int rt_checkpoint_resolve_model(const char *model, char *art, char *ckpt, size_t cap, RtCkptInfo *info, RtStatus *st) {
    struct stat sb;
    ckpt[0] = 0;
    if (stat(model, &sb) != 0) return rt_fail(st, "%s: no such file or directory", model);
    if (S_ISDIR(sb.st_mode)) {
        if (rt_checkpoint_latest(model, ckpt, cap, st) < 0) return -1;
    } else {
        FILE *f = fopen(model, "rb");
        char magic[8] = {0};
        size_t got = f ? fread(magic, 1, 8, f) : 0;
        if (f) fclose(f);
        if (got == 8 && memcmp(magic, "FNARTIFC", 8) == 0) {
            snprintf(art, cap, "%s", model);
            return 0;
        }
        snprintf(ckpt, cap, "%s", model);
    }
    if (rt_checkpoint_info(ckpt, info, st) < 0) return -1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ckpt);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    snprintf(art, cap, "%s/model-%s.fnc", dir, info->run);
    if (stat(art, &sb) == 0 || any_artifact(dir, art, cap)) return 0;
    snprintf(art, cap, "%s/model-%s.fnc", dir, info->run);
    return rt_fail(st, "checkpoint %s: its artifact %s is missing", ckpt, art);
}

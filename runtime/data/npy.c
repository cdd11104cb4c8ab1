/* See npy.h: the .npy header and the ndarrays; the pickle inside is read by runtime/data/pickle.c
 * with the NumPy globals these files name as its allow-list. */
#include "runtime/data/npy.h"

#include "runtime/data/pickle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

/* the globals an object array of ndarrays names: numpy.core is NumPy 1's module, numpy._core
 * NumPy 2's name for the same function */
static const char *const npy_globals[] = {"numpy.core.multiarray _reconstruct",
                                          "numpy._core.multiarray _reconstruct", "numpy ndarray",
                                          "numpy dtype"};

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An ndarray object: state (version, shape, dtype, fortran, data) with dtype float32 LE. */
static int to_array(const char *name, RtStatus *st, const PkValue *o, RtNpyArray *out) {
    const PkValue *s = o && o->k == PK_OBJ ? o->state : NULL;
    if (!s || s->k != PK_TUPLE || s->n != 5)
        return rt_fail(st, "%s: an entry is not an ndarray", name);
    const PkValue *shape = s->items[1], *dt = s->items[2], *fortran = s->items[3],
                  *data = s->items[4];
    if (shape->k != PK_TUPLE || shape->n > 8 || dt->k != PK_OBJ || !dt->args || dt->args->n < 1 ||
        !pk_str_is(dt->args->items[0], "f4") || data->k != PK_STR)
        return rt_fail(st, "%s: an array is not float32", name);
    if (dt->state && dt->state->k == PK_TUPLE && dt->state->n > 1 &&
        !pk_str_is(dt->state->items[1], "<") && !pk_str_is(dt->state->items[1], "|"))
        return rt_fail(st, "%s: a big-endian array", name);
    out->rank = shape->n;
    out->n = 1;
    for (int i = 0; i < shape->n; i++) {
        if (shape->items[i]->k != PK_INT || shape->items[i]->i < 0 ||
            shape->items[i]->i > (1 << 28))
            return rt_fail(st, "%s: a bad array shape", name);
        out->dims[i] = shape->items[i]->i;
        if (out->dims[i] && out->n > (int64_t)(data->len / 4) / out->dims[i])
            return rt_fail(st, "%s: an array's shape is larger than its %zu bytes", name,
                           data->len);
        out->n *= out->dims[i];
    }
    if ((size_t)out->n * 4 != data->len)
        return rt_fail(st, "%s: an array holds %zu bytes for %lld floats", name, data->len,
                       (long long)out->n);
    out->data = fn_malloc((size_t)(out->n ? out->n : 1) * sizeof(float));
    if (!out->data) return rt_fail(st, "%s: out of memory", name);
    if (!(fortran->k == PK_BOOL && fortran->i)) {
        memcpy(out->data, data->s, data->len); /* little-endian file, little-endian host */
        return 0;
    }
    /* Fortran (column-major) order: element i (row-major index) is at its column-major offset */
    int64_t idx[8] = {0};
    for (int64_t i = 0; i < out->n; i++) {
        int64_t off = 0, stride = 1;
        for (int k = 0; k < out->rank; k++)
            off += idx[k] * stride, stride *= out->dims[k];
        memcpy(&out->data[i], data->s + off * 4, 4);
        for (int k = out->rank - 1; k >= 0 && ++idx[k] == out->dims[k]; k--)
            idx[k] = 0;
    }
    return 0;
}

/* the string's bytes up to its first NUL, as strndup; NULL when out of memory */
static char *dup_str(const PkValue *v) {
    if (v->k != PK_STR) return NULL;
    const char *p = (const char *)v->s;
    size_t len = 0;
    while (len < v->len && p[len]) len++;
    char *d = fn_malloc(len + 1);
    if (d) memcpy(d, p, len), d[len] = 0;
    return d;
}

/* The object array's state holds a list whose one item is the dict of layers. */
static const PkValue *layer_dict(const PkValue *root) {
    if (!root || root->k != PK_OBJ || !root->state || root->state->k != PK_TUPLE) return NULL;
    for (int i = 0; i < root->state->n; i++) {
        const PkValue *x = root->state->items[i];
        if (x->k == PK_LIST && x->n == 1 && x->items[0]->k == PK_DICT) return x->items[0];
    }
    return NULL;
}

/* Every {layer: {param: ndarray}} entry into w. */
static int collect(const PkValue *dict, const char *name, RtNpyWeights *w, RtStatus *st) {
    for (int i = 0; i + 1 < dict->n; i += 2) {
        const PkValue *layer = dict->items[i], *params = dict->items[i + 1];
        if (layer->k != PK_STR || params->k != PK_DICT)
            return rt_fail(st, "%s: layer entry %d is not name -> dict", name, i / 2);
        for (int j = 0; j + 1 < params->n; j += 2) {
            if (params->items[j]->k != PK_STR)
                return rt_fail(st, "%s: a parameter name is not a string", name);
            RtNpyArray *a = fn_realloc(w->a, (size_t)(w->n + 1) * sizeof *w->a);
            if (!a) return rt_fail(st, "%s: out of memory", name);
            w->a = a;
            a = &w->a[w->n];
            memset(a, 0, sizeof *a);
            a->layer = dup_str(layer);
            a->param = dup_str(params->items[j]);
            w->n++;
            if (!a->layer || !a->param) return rt_fail(st, "%s: out of memory", name);
            if (to_array(name, st, params->items[j + 1], a) < 0) return -1;
        }
    }
    return 0;
}

int rt_npy_parse_weights(const unsigned char *d, size_t n, const char *name, RtNpyWeights *w,
                         RtStatus *st) {
    memset(w, 0, sizeof *w);
    if (n < 10 || memcmp(d, "\x93NUMPY", 6) != 0) return rt_fail(st, "%s is not a .npy file", name);
    size_t hl = d[6] == 1 ? (size_t)(d[8] | d[9] << 8) : (n >= 12 ? le32(d + 8) : n);
    size_t off = d[6] == 1 ? 10 : 12;
    if (off + hl > n) return rt_fail(st, "%s: truncated .npy header", name);
    if (!memmem(d + off, hl, "'|O'", 4))
        return rt_fail(st, "%s: not an object array (the MTCNN weight format)", name);
    PkOptions opt = {npy_globals, (int)(sizeof npy_globals / sizeof *npy_globals)};
    PkPickle pk;
    if (pk_load(d + off + hl, n - off - hl, name, &opt, &pk, st) < 0) return -1;
    const PkValue *dict = layer_dict(pk.root);
    int rc = dict ? collect(dict, name, w, st)
                  : rt_fail(st, "%s: no pickled dict of layers inside", name);
    pk_free(&pk);
    if (rc) rt_npy_free(w);
    return rc;
}

int rt_npy_load_weights(const char *path, RtNpyWeights *w, RtStatus *st) {
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = fn_malloc(n > 0 ? (size_t)n : 1);
    if (!buf) {
        fclose(f);
        return rt_fail(st, "out of memory reading %s", path);
    }
    size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    int rc = rt_npy_parse_weights(buf, got, path, w, st);
    free(buf);
    return rc;
}

const RtNpyArray *rt_npy_find(const RtNpyWeights *w, const char *layer, const char *param) {
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->a[i].layer, layer) && !strcmp(w->a[i].param, param)) return &w->a[i];
    return NULL;
}

void rt_npy_free(RtNpyWeights *w) {
    for (int i = 0; i < w->n; i++) {
        free(w->a[i].layer);
        free(w->a[i].param);
        free(w->a[i].data);
    }
    free(w->a);
    memset(w, 0, sizeof *w);
}

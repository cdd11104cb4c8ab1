/* PyTorch state dicts as torch.save writes them, read into IxTensors (see interop.h).
 *
 * What this is: both of torch.save's formats. The zip format (torch >= 1.6): an archive whose
 * entries sit under one top folder, "<top>/data.pkl" the pickled dict and "<top>/data/<key>"
 * each storage's bytes, opened with libzip from memory, every entry's size checked against the
 * file before it is read. The legacy format (torch < 1.6, or _use_new_zipfile_serialization=
 * False): five pickles in a row (magic number, protocol version, system info, the dict, the
 * storage keys), then each storage as an int64 element count and its bytes, in the keys' order.
 *
 * The pickles are read by runtime/data/pickle.c, which records only the globals of torch_globals
 * below. A tensor is _rebuild_tensor_v2(persistent id of its storage, offset, size, stride, ...),
 * possibly wrapped in _rebuild_parameter; its element type is its storage's (FloatStorage ->
 * "float32", ...); the offset and strides are checked against the storage, and float32 values
 * gathered through them (other types are listed with data NULL).
 *
 * The dict read: the top-level dict (OrderedDict or dict), or its "state_dict" value when that is
 * a dict. A value that is a dict is walked too, its tensors named "outer.inner" (8 levels at
 * most); a value that is neither tensor nor dict (an epoch, a list) is skipped.
 *
 * What this is not: torch.load. Nothing is imported or run; little-endian files only; no
 * quantized, sparse or nested tensors, no TorchScript archives.
 */
#include "interop/interop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "ir/alloc.h"
#include "runtime/data/pickle.h"

static const char *const torch_globals[] = {"collections OrderedDict",
                                            "torch._utils _rebuild_tensor_v2",
                                            "torch._utils _rebuild_parameter",
                                            "torch FloatStorage",
                                            "torch LongStorage",
                                            "torch IntStorage",
                                            "torch DoubleStorage",
                                            "torch HalfStorage",
                                            "torch BFloat16Storage",
                                            "torch ByteStorage",
                                            "torch BoolStorage"};

typedef struct {
    const char *type, *dtype;
    int size;
} StorageType;

static const StorageType storage_types[] = {
    {"FloatStorage", "float32", 4}, {"DoubleStorage", "float64", 8},
    {"HalfStorage", "float16", 2},  {"BFloat16Storage", "bfloat16", 2},
    {"LongStorage", "int64", 8},    {"IntStorage", "int32", 4},
    {"ByteStorage", "uint8", 1},    {"BoolStorage", "bool", 1}};

#define MAX_DEPTH 8

/* One storage named by the persistent ids: its type and element count, then its bytes. */
typedef struct {
    const unsigned char *key;
    size_t key_len;
    const StorageType *type;
    int64_t numel;
    const unsigned char *bytes; /* NULL until found in the file */
    unsigned char *owned;       /* the zip entry's copy */
} Storage;

typedef struct {
    const char *name; /* the file, in messages */
    size_t file_size;
    RtStatus *st;
    IxTensors *out;
    Storage *s;
    int ns, cap;
    int *hash; /* open addressing over s, -1 empty; hcap a power of two >= 2 * cap */
    int hcap;
    zip_t *za; /* the zip format's archive, else NULL */
    char prefix[256];
    uint64_t zip_bytes; /* entry bytes read so far: never more than the file */
    int64_t budget;     /* dict entries the walk may still visit */
} Reader;

/* ---- the storage table ----------------------------------------------------------------------- */
static uint64_t key_hash(const unsigned char *k, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001b3ULL;
    return h;
}

static Storage *storage_find(const Reader *r, const unsigned char *key, size_t len) {
    if (!r->hcap) return NULL;
    for (uint64_t h = key_hash(key, len);; h++) {
        int i = r->hash[h & (uint64_t)(r->hcap - 1)];
        if (i < 0) return NULL;
        if (r->s[i].key_len == len && memcmp(r->s[i].key, key, len) == 0) return &r->s[i];
    }
}

static int storage_rehash(Reader *r) {
    int hcap = r->hcap ? 2 * r->hcap : 64;
    int *h = fn_malloc((size_t)hcap * sizeof *h);
    if (!h) return rt_fail(r->st, "%s: out of memory", r->name);
    memset(h, 0xff, (size_t)hcap * sizeof *h);
    for (int i = 0; i < r->ns; i++) {
        uint64_t k = key_hash(r->s[i].key, r->s[i].key_len);
        while (h[k & (uint64_t)(hcap - 1)] >= 0)
            k++;
        h[k & (uint64_t)(hcap - 1)] = i;
    }
    free(r->hash);
    r->hash = h;
    r->hcap = hcap;
    return 0;
}

static Storage *storage_add(Reader *r, const unsigned char *key, size_t len) {
    if (r->ns == r->cap) {
        int cap = r->cap ? 2 * r->cap : 32;
        Storage *s = fn_realloc(r->s, (size_t)cap * sizeof *s);
        if (!s) return rt_fail(r->st, "%s: out of memory", r->name), NULL;
        r->s = s;
        r->cap = cap;
    }
    Storage *s = &r->s[r->ns++];
    memset(s, 0, sizeof *s);
    s->key = key, s->key_len = len;
    if (2 * r->ns > r->hcap) return storage_rehash(r) < 0 ? NULL : s;
    uint64_t k = key_hash(key, len);
    while (r->hash[k & (uint64_t)(r->hcap - 1)] >= 0)
        k++;
    r->hash[k & (uint64_t)(r->hcap - 1)] = r->ns - 1;
    return s;
}

/* A key for messages: printable, at most 64 characters. */
static const char *key_str(const unsigned char *k, size_t n, char *buf, size_t cap) {
    size_t i = 0;
    for (; i < n && i + 1 < cap && i < 64; i++)
        buf[i] = k[i] >= 0x20 && k[i] < 0x7f ? (char)k[i] : '?';
    buf[i] = 0;
    return buf;
}

/* A persistent id ('storage', torch.XStorage, key, location, numel[, view_metadata]) into the
 * table: the same key must always name the same type and count. */
static int storage_register(Reader *r, const PkValue *pid) {
    char kb[80];
    const PkValue *t = pid->args;
    if (!t || t->k != PK_TUPLE || t->n < 5 || !pk_str_is(t->items[0], "storage") ||
        t->items[1]->k != PK_GLOBAL || t->items[2]->k != PK_STR || t->items[4]->k != PK_INT ||
        t->items[4]->big)
        return rt_fail(r->st, "%s: a persistent id is not ('storage', type, key, location, numel)",
                       r->name);
    const StorageType *type = NULL;
    for (size_t i = 0; i < sizeof storage_types / sizeof *storage_types; i++)
        if (pk_global_is(t->items[1], "torch", storage_types[i].type)) type = &storage_types[i];
    const PkValue *key = t->items[2];
    int64_t numel = t->items[4]->i;
    key_str(key->s, key->len, kb, sizeof kb);
    if (!type) return rt_fail(r->st, "%s: storage %s has an unknown type", r->name, kb);
    if (numel < 0 || (uint64_t)numel > r->file_size / (uint64_t)type->size)
        return rt_fail(r->st, "%s: storage %s claims %lld elements, more than the file holds",
                       r->name, kb, (long long)numel);
    Storage *s = storage_find(r, key->s, key->len);
    if (s && (s->type != type || s->numel != numel))
        return rt_fail(r->st, "%s: storage %s is named with two types or sizes", r->name, kb);
    if (!s && !(s = storage_add(r, key->s, key->len))) return -1;
    s->type = type;
    s->numel = numel;
    return 0;
}

/* Every persistent id anywhere in the pickle (the arena lists every value once). */
static int storages_collect(Reader *r, const PkPickle *pk) {
    for (const PkValue *v = pk->all; v; v = v->next_alloc) {
        r->budget++;
        if (v->k == PK_PID && storage_register(r, v) < 0) return -1;
    }
    return 0;
}

/* ---- the zip format -------------------------------------------------------------------------- */
/* The entry "<prefix>/<rel>" read whole into *buf (malloc'ed); *len its size. 1 if absent. */
static int zip_entry(Reader *r, const char *rel, unsigned char **buf, size_t *len) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", r->prefix, rel);
    zip_int64_t idx = zip_name_locate(r->za, path, 0);
    if (idx < 0) return 1;
    zip_stat_t zs;
    if (zip_stat_index(r->za, (zip_uint64_t)idx, 0, &zs) < 0 || !(zs.valid & ZIP_STAT_SIZE))
        return rt_fail(r->st, "%s: cannot stat zip entry %s", r->name, path);
    if (zs.size > r->file_size)
        return rt_fail(r->st, "%s: zip entry %s claims %llu bytes, more than the file's %zu",
                       r->name, path, (unsigned long long)zs.size, r->file_size);
    if (zs.size > r->file_size - r->zip_bytes)
        return rt_fail(r->st, "%s: zip entry %s: the entries read hold more bytes than the file",
                       r->name, path);
    r->zip_bytes += zs.size;
    *len = (size_t)zs.size;
    *buf = fn_malloc(*len ? *len : 1);
    if (!*buf)
        return rt_fail(r->st, "%s: out of memory for zip entry %s (%zu bytes)", r->name, path, *len);
    zip_file_t *f = zip_fopen_index(r->za, (zip_uint64_t)idx, 0);
    size_t got = 0;
    for (zip_int64_t k = 1; f && got < *len && k > 0; got += k > 0 ? (size_t)k : 0)
        k = zip_fread(f, *buf + got, *len - got);
    if (f) zip_fclose(f);
    if (!f || got != *len) {
        free(*buf);
        *buf = NULL;
        return rt_fail(r->st, "%s: zip entry %s cannot be read (%zu of %zu bytes)", r->name, path,
                       got, *len);
    }
    return 0;
}

/* A storage's bytes: the legacy format found them already; the zip format reads its entry. */
static int storage_bytes(Reader *r, Storage *s, const char *tensor) {
    if (s->bytes) return 0;
    char kb[80], rel[128];
    key_str(s->key, s->key_len, kb, sizeof kb);
    if (!r->za)
        return rt_fail(r->st, "%s: tensor %s: storage %s has no data in the file", r->name, tensor,
                       kb);
    if (s->key_len > 64 || memchr(s->key, 0, s->key_len))
        return rt_fail(r->st, "%s: tensor %s: storage key %s is not a file name", r->name, tensor,
                       kb);
    snprintf(rel, sizeof rel, "data/%.*s", (int)s->key_len, (const char *)s->key);
    size_t len = 0;
    int rc = zip_entry(r, rel, &s->owned, &len);
    if (rc)
        return rc < 0 ? -1
                      : rt_fail(r->st, "%s: tensor %s: no zip entry %s/%s", r->name, tensor,
                                r->prefix, rel);
    if ((uint64_t)s->numel * (uint64_t)s->type->size > len)
        return rt_fail(r->st,
                       "%s: tensor %s: storage %s holds %zu bytes, its %lld %s elements need %llu",
                       r->name, tensor, kb, len, (long long)s->numel, s->type->dtype,
                       (unsigned long long)s->numel * (uint64_t)s->type->size);
    s->bytes = s->owned;
    return 0;
}

/* ---- tensors --------------------------------------------------------------------------------- */
/* The bytes, element count and type of the storage a tensor's persistent id names (narrowed by
 * a legacy file's view_metadata (view_key, offset, size) when there is one). */
static int tensor_storage(Reader *r, const PkValue *pid, const char *tensor,
                          const unsigned char **bytes, int64_t *numel, const StorageType **type) {
    if (!pid || pid->k != PK_PID)
        return rt_fail(r->st, "%s: tensor %s: its storage is not a persistent id", r->name, tensor);
    const PkValue *t = pid->args; /* checked by storage_register */
    Storage *s = storage_find(r, t->items[2]->s, t->items[2]->len);
    if (!s || storage_bytes(r, s, tensor) < 0)
        return s ? -1 : rt_fail(r->st, "%s: tensor %s: unknown storage", r->name, tensor);
    *bytes = s->bytes, *numel = s->numel, *type = s->type;
    const PkValue *view = t->n >= 6 ? t->items[5] : NULL;
    if (!view || view->k == PK_NONE) return 0;
    if (view->k != PK_TUPLE || view->n != 3 || view->items[1]->k != PK_INT ||
        view->items[2]->k != PK_INT || view->items[1]->big || view->items[2]->big)
        return rt_fail(r->st, "%s: tensor %s: bad storage view", r->name, tensor);
    int64_t off = view->items[1]->i, len = view->items[2]->i;
    if (off < 0 || len < 0 || off > s->numel || len > s->numel - off)
        return rt_fail(r->st, "%s: tensor %s: a storage view outside its storage", r->name, tensor);
    *bytes += off * s->type->size;
    *numel = len;
    return 0;
}

static int int_items(const PkValue *t, int64_t *v) {
    for (int k = 0; k < t->n; k++) {
        if (t->items[k]->k != PK_INT || t->items[k]->big || t->items[k]->i < 0) return -1;
        v[k] = t->items[k]->i;
    }
    return 0;
}

/* size and stride into dims and strides; every element the tensor reaches, from offset, must lie
 * inside the storage's numel elements. */
static int tensor_layout(Reader *r, const char *tensor, const PkValue *size, const PkValue *stride,
                         int64_t offset, int64_t numel, int *rank, int64_t *dims,
                         int64_t *strides) {
    if (size->k != PK_TUPLE || stride->k != PK_TUPLE || size->n != stride->n ||
        size->n > IX_MAX_RANK || int_items(size, dims) < 0 || int_items(stride, strides) < 0)
        return rt_fail(r->st,
                       "%s: tensor %s: size and stride are not tuples of rank <= %d of counts",
                       r->name, tensor, IX_MAX_RANK);
    *rank = size->n;
    char sz[160], sd[160];
    ix_shape_str(dims, *rank, sz, sizeof sz);
    ix_shape_str(strides, *rank, sd, sizeof sd);
    int empty = 0;
    for (int k = 0; k < *rank; k++) {
        empty |= dims[k] == 0;
        if (dims[k] <= 1) strides[k] = 0; /* never stepped along */
    }
    int64_t room = numel - 1 - offset; /* how far past offset the last element may lie */
    if (offset < 0 || offset > numel || (!empty && room < 0))
        return rt_fail(r->st, "%s: tensor %s: offset %lld outside its storage of %lld elements",
                       r->name, tensor, (long long)offset, (long long)numel);
    for (int k = 0; k < *rank && !empty; k++) {
        if (strides[k] && dims[k] - 1 > room / strides[k])
            return rt_fail(r->st,
                           "%s: tensor %s: size %s, stride %s from offset %lld reach past its "
                           "storage of %lld elements",
                           r->name, tensor, sz, sd, (long long)offset, (long long)numel);
        room -= (dims[k] - 1) * strides[k];
    }
    return 0;
}

/* The n float32 values of a strided view, row-major. */
static void gather(float *dst, const unsigned char *src, int rank, const int64_t *dims,
                   const int64_t *strides, int64_t offset, int64_t n) {
    int64_t idx[IX_MAX_RANK] = {0}, off = offset;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = src + off * 4;
        uint32_t u =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&dst[i], &u, sizeof u);
        for (int k = rank - 1; k >= 0; k--) {
            off += strides[k];
            if (++idx[k] < dims[k]) break;
            off -= strides[k] * dims[k];
            idx[k] = 0;
        }
    }
}

static int is_tensor(const PkValue *v) {
    return v->k == PK_OBJ && (pk_global_is(v->fn, "torch._utils", "_rebuild_tensor_v2") ||
                              pk_global_is(v->fn, "torch._utils", "_rebuild_parameter"));
}

/* _rebuild_tensor_v2(pid, offset, size, stride, ...), or _rebuild_parameter(that, ...), into out.
 */
static int add_tensor(Reader *r, const char *tensor, const PkValue *obj) {
    if (pk_global_is(obj->fn, "torch._utils", "_rebuild_parameter"))
        obj = obj->args->n >= 1 ? obj->args->items[0] : obj;
    const PkValue *a = obj->args;
    if (obj->k != PK_OBJ || !pk_global_is(obj->fn, "torch._utils", "_rebuild_tensor_v2") ||
        a->n < 4 || a->items[1]->k != PK_INT || a->items[1]->big)
        return rt_fail(
            r->st, "%s: tensor %s is not _rebuild_tensor_v2(storage, offset, size, stride, ...)",
            r->name, tensor);
    const unsigned char *bytes = NULL;
    int64_t numel = 0, dims[IX_MAX_RANK], strides[IX_MAX_RANK], offset = a->items[1]->i;
    const StorageType *type = NULL;
    int rank = 0;
    if (tensor_storage(r, a->items[0], tensor, &bytes, &numel, &type) < 0 ||
        tensor_layout(r, tensor, a->items[2], a->items[3], offset, numel, &rank, dims, strides) < 0)
        return -1;
    if (ix_tensors_find(r->out, tensor))
        return rt_fail(r->st, "%s: tensor %s is named twice", r->name, tensor);
    IxTensor *t = ix_tensors_add(r->out, tensor, type->dtype, rank, dims, r->st);
    if (!t) {
        char msg[sizeof r->st->msg];
        snprintf(msg, sizeof msg, "%s", r->st->msg);
        return rt_fail(r->st, "%s: %s", r->name, msg);
    }
    if (t->data) gather(t->data, bytes, rank, dims, strides, offset, t->n);
    return 0;
}

#define NAME_CAP 1024

/* A dict's tensors, named name[0..len) + key; dicts inside it walked too, their keys joined with
 * ".". */
static int walk(Reader *r, const PkValue *dict, char *name, size_t len, int depth) {
    for (int i = 0; i + 1 < dict->n; i += 2) {
        const PkValue *key = dict->items[i], *v = dict->items[i + 1];
        if (--r->budget < 0)
            return rt_fail(r->st, "%s: the dicts are walked more often than they have entries",
                           r->name);
        if (key->k != PK_STR || !(is_tensor(v) || (v->k == PK_DICT && depth < MAX_DEPTH))) continue;
        if (len + key->len + 2 > NAME_CAP || memchr(key->s, 0, key->len))
            return rt_fail(r->st, "%s: a key longer than %d bytes or holding a NUL byte", r->name,
                           NAME_CAP);
        memcpy(name + len, key->s, key->len);
        name[len + key->len] = 0;
        int rc;
        if (is_tensor(v)) {
            rc = add_tensor(r, name, v);
        } else {
            name[len + key->len] = '.';
            rc = walk(r, v, name, len + key->len + 1, depth + 1);
        }
        if (rc < 0) return -1;
    }
    return 0;
}

/* The pickled object's dict of tensors: root, or root["state_dict"] when that is a dict. */
static int walk_root(Reader *r, const PkValue *root) {
    const PkValue *sd = pk_dict_get(root, "state_dict");
    const PkValue *dict = sd && sd->k == PK_DICT ? sd : root;
    if (!dict || dict->k != PK_DICT)
        return rt_fail(r->st, "%s: the pickled object is not a dict of tensors", r->name);
    char name[NAME_CAP];
    name[0] = 0;
    return walk(r, dict, name, 0, 0);
}

static int load_pickle(Reader *r, const unsigned char *d, size_t n, PkPickle *pk) {
    PkOptions opt = {torch_globals, (int)(sizeof torch_globals / sizeof *torch_globals)};
    return pk_load(d, n, r->name, &opt, pk, r->st);
}

/* data.pkl, its storages and tensors, once the archive is open. */
static int read_zip_entries(Reader *r) {
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = zip_entry(r, "byteorder", &buf, &len);
    if (rc == 0 && !(len == 6 && memcmp(buf, "little", 6) == 0))
        rc = rt_fail(r->st, "%s: a big-endian file (byteorder is not \"little\")", r->name);
    free(buf);
    buf = NULL;
    if (rc < 0) return -1;
    if ((rc = zip_entry(r, "data.pkl", &buf, &len)) != 0)
        return rc < 0 ? -1
                      : rt_fail(r->st, "%s: no %s/data.pkl in the archive", r->name, r->prefix);
    PkPickle pk;
    rc = load_pickle(r, buf, len, &pk);
    if (rc == 0) {
        rc = storages_collect(r, &pk) < 0 || walk_root(r, pk.root) < 0 ? -1 : 0;
        pk_free(&pk);
    }
    free(buf);
    return rc;
}

static int read_zip(Reader *r, const unsigned char *d, size_t n) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(d, n, 0, &ze);
    if (src && !(r->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze)))
        zip_source_free(src);
    if (!r->za) {
        rt_fail(r->st, "%s: not a readable zip archive: %s", r->name, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_error_fini(&ze);
    const char *first = zip_get_name(r->za, 0, 0);
    const char *slash = first ? strchr(first, '/') : NULL;
    if (!slash || slash == first || (size_t)(slash - first) >= sizeof r->prefix)
        return rt_fail(r->st, "%s: the archive's first entry is not inside a top folder", r->name);
    memcpy(r->prefix, first, (size_t)(slash - first));
    r->prefix[slash - first] = 0;
    return read_zip_entries(r);
}

/* ---- the legacy format ----------------------------------------------------------------------- */
/* The next pickle at d[*pos..n): its root checked by want (1 if fine); *pos moves past it. */
static int legacy_small(Reader *r, const unsigned char *d, size_t n, size_t *pos, const char *what,
                        int (*want)(const PkValue *)) {
    PkPickle pk;
    if (load_pickle(r, d + *pos, n - *pos, &pk) < 0) return -1;
    *pos += pk.used;
    int ok = want(pk.root);
    pk_free(&pk);
    return ok ? 0 : rt_fail(r->st, "%s: %s", r->name, what);
}

static int is_magic(const PkValue *v) { /* 0x1950a86a20f9469cfc6c, little-endian */
    return v->k == PK_INT && v->raw_len == 10 &&
           memcmp(v->raw, "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10) == 0;
}
static int is_protocol(const PkValue *v) {
    return v->k == PK_INT && !v->big && v->i == 1001;
}
static int is_little(const PkValue *v) {
    const PkValue *le = pk_dict_get(v, "little_endian");
    return le && le->k == PK_BOOL && le->i;
}

/* After the keys' list: each storage's int64 element count and bytes, in the list's order. */
static int legacy_storages(Reader *r, const PkValue *keys, const unsigned char *d, size_t n,
                           size_t pos) {
    if (keys->k != PK_LIST) return rt_fail(r->st, "%s: the storage keys are not a list", r->name);
    for (int i = 0; i < keys->n; i++) {
        const PkValue *k = keys->items[i];
        char kb[80];
        Storage *s = k->k == PK_STR ? storage_find(r, k->s, k->len) : NULL;
        if (!s || s->bytes)
            return rt_fail(r->st,
                           "%s: storage key %d is not one the tensors name, or is listed twice",
                           r->name, i);
        key_str(s->key, s->key_len, kb, sizeof kb);
        if (n - pos < 8) return rt_fail(r->st, "%s: storage %s truncated", r->name, kb);
        uint64_t cnt = 0;
        for (int b = 7; b >= 0; b--)
            cnt = cnt << 8 | d[pos + (size_t)b];
        pos += 8;
        if (cnt != (uint64_t)s->numel)
            return rt_fail(r->st, "%s: storage %s holds %llu elements, its tensors say %lld",
                           r->name, kb, (unsigned long long)cnt, (long long)s->numel);
        size_t bytes =
            (size_t)s->numel * (size_t)s->type->size; /* <= the file's size: storage_register */
        if (n - pos < bytes) return rt_fail(r->st, "%s: storage %s truncated", r->name, kb);
        s->bytes = d + pos;
        pos += bytes;
    }
    return 0;
}

static int read_legacy(Reader *r, const unsigned char *d, size_t n) {
    size_t pos = 0;
    if (legacy_small(r, d, n, &pos, "not a PyTorch file (no magic number)", is_magic) < 0 ||
        legacy_small(r, d, n, &pos, "not a PyTorch file of protocol 1001", is_protocol) < 0 ||
        legacy_small(r, d, n, &pos, "a big-endian file (little_endian is not True)", is_little) < 0)
        return -1;
    PkPickle main, keys;
    if (load_pickle(r, d + pos, n - pos, &main) < 0) return -1;
    pos += main.used;
    int rc = storages_collect(r, &main);
    if (rc == 0 && (rc = load_pickle(r, d + pos, n - pos, &keys)) == 0) {
        pos += keys.used;
        rc = legacy_storages(r, keys.root, d, n, pos);
        pk_free(&keys);
    }
    if (rc == 0) rc = walk_root(r, main.root);
    pk_free(&main);
    return rc;
}

/* ---- entry points ---------------------------------------------------------------------------- */
int ix_torch_parse(const unsigned char *d, size_t n, const char *name, IxTensors *out,
                   RtStatus *st) {
    memset(out, 0, sizeof *out);
    Reader r = {.name = name, .file_size = n, .st = st, .out = out};
    int rc;
    if (n >= 4 && memcmp(d, "PK\x03\x04", 4) == 0)
        rc = read_zip(&r, d, n);
    else if (n >= 2 && d[0] == 0x80 && d[1] == 2)
        rc = read_legacy(&r, d, n);
    else
        rc = rt_fail(st, "%s: not a PyTorch file (neither a zip archive nor a pickle)", name);
    if (r.za) zip_discard(r.za);
    for (int i = 0; i < r.ns; i++)
        free(r.s[i].owned);
    free(r.s);
    free(r.hash);
    if (rc < 0) ix_tensors_free(out);
    return rc;
}

int ix_torch_read(const char *path, IxTensors *out, RtStatus *st) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "cannot read %s: %s", path, strerror(errno));
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return rt_fail(st, "cannot read %s: not a regular file", path);
    }
    unsigned char *buf = fn_malloc(n > 0 ? (size_t)n : 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf) return rt_fail(st, "%s: out of memory for its %ld bytes", path, n);
    if (got != (size_t)n) {
        free(buf);
        return rt_fail(st, "cannot read %s: short read", path);
    }
    int rc = ix_torch_parse(buf, (size_t)n, path, out, st);
    free(buf);
    return rc;
}

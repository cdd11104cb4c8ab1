/* See npy.h. */
#include "runtime/npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PV_NONE, PV_BOOL, PV_INT, PV_STR, PV_LIST, PV_TUPLE, PV_DICT, PV_GLOBAL, PV_OBJ, PV_MARK } PvKind;

typedef struct Pv {
    PvKind k;
    int64_t i;
    const unsigned char *s; /* PV_STR / PV_GLOBAL: bytes inside the file */
    size_t len;
    struct Pv **items; /* list/tuple items; dict: key, value, key, value ... */
    int n, cap;
    struct Pv *fn, *args, *state; /* PV_OBJ: fn(*args), then BUILD state */
    struct Pv *next_alloc;
} Pv;

typedef struct {
    const unsigned char *p, *end;
    Pv *all; /* every value, for freeing */
    Pv **stack;
    int sp, stack_cap;
    Pv **memo;
    int memo_cap;
    const char *name;
    RtStatus *st;
} Vm;

static Pv *pv_new(Vm *vm, PvKind k) {
    Pv *v = calloc(1, sizeof *v);
    v->k = k;
    v->next_alloc = vm->all;
    vm->all = v;
    return v;
}

static void pv_push_item(Pv *c, Pv *x) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->items = realloc(c->items, (size_t)c->cap * sizeof *c->items);
    }
    c->items[c->n++] = x;
}

static int push(Vm *vm, Pv *v) {
    if (vm->sp == vm->stack_cap) {
        if (vm->stack_cap > 1 << 20) return rt_fail(vm->st, "%s: pickle stack too deep", vm->name);
        vm->stack_cap = vm->stack_cap ? 2 * vm->stack_cap : 64;
        vm->stack = realloc(vm->stack, (size_t)vm->stack_cap * sizeof *vm->stack);
    }
    vm->stack[vm->sp++] = v;
    return 0;
}

static Pv *pop(Vm *vm) { return vm->sp > 0 ? vm->stack[--vm->sp] : NULL; }

static int need(Vm *vm, size_t n) {
    return (size_t)(vm->end - vm->p) >= n ? 0 : rt_fail(vm->st, "%s: pickle truncated", vm->name);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* index of the topmost MARK, or -1 */
static int mark_at(Vm *vm) {
    for (int i = vm->sp - 1; i >= 0; i--)
        if (vm->stack[i]->k == PV_MARK) return i;
    return -1;
}

static int memo_put(Vm *vm, uint32_t idx) {
    if (vm->sp == 0 || idx > (1u << 20)) return rt_fail(vm->st, "%s: bad pickle memo", vm->name);
    if ((int)idx >= vm->memo_cap) {
        int cap = (int)idx + 64;
        vm->memo = realloc(vm->memo, (size_t)cap * sizeof *vm->memo);
        memset(vm->memo + vm->memo_cap, 0, (size_t)(cap - vm->memo_cap) * sizeof *vm->memo);
        vm->memo_cap = cap;
    }
    vm->memo[idx] = vm->stack[vm->sp - 1];
    return 0;
}

static int memo_get(Vm *vm, uint32_t idx) {
    if ((int)idx >= vm->memo_cap || !vm->memo[idx]) return rt_fail(vm->st, "%s: bad pickle memo", vm->name);
    return push(vm, vm->memo[idx]);
}

/* Runs the pickle; the result is the value left by STOP. */
static Pv *run(Vm *vm) {
    for (;;) {
        if (need(vm, 1) < 0) return NULL;
        unsigned char op = *vm->p++;
        Pv *v, *a, *b, *c;
        int m, rc = 0;
        uint32_t len;
        switch (op) {
        case 0x80: rc = need(vm, 1); vm->p += rc == 0; break; /* PROTO */
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *nl1 = memchr(vm->p, '\n', (size_t)(vm->end - vm->p));
            const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(vm->end - nl1 - 1)) : NULL;
            if (!nl2) return rt_fail(vm->st, "%s: bad pickle GLOBAL", vm->name), NULL;
            v = pv_new(vm, PV_GLOBAL);
            v->s = vm->p;
            v->len = (size_t)(nl2 - vm->p);
            vm->p = nl2 + 1;
            rc = push(vm, v);
            break;
        }
        case 'q': rc = need(vm, 1); if (!rc) rc = memo_put(vm, *vm->p++); break;         /* BINPUT */
        case 'r': rc = need(vm, 4); if (!rc) rc = memo_put(vm, le32(vm->p)), vm->p += 4; break;
        case 'h': rc = need(vm, 1); if (!rc) rc = memo_get(vm, *vm->p++); break;         /* BINGET */
        case 'j': rc = need(vm, 4); if (!rc) rc = memo_get(vm, le32(vm->p)), vm->p += 4; break;
        case '(': rc = push(vm, pv_new(vm, PV_MARK)); break;
        case '}': rc = push(vm, pv_new(vm, PV_DICT)); break;
        case ']': rc = push(vm, pv_new(vm, PV_LIST)); break;
        case ')': rc = push(vm, pv_new(vm, PV_TUPLE)); break;
        case 'N': rc = push(vm, pv_new(vm, PV_NONE)); break;
        case 0x88: case 0x89: v = pv_new(vm, PV_BOOL), v->i = op == 0x88, rc = push(vm, v); break;
        case 'K': rc = need(vm, 1); if (!rc) v = pv_new(vm, PV_INT), v->i = *vm->p++, rc = push(vm, v); break;
        case 'M': rc = need(vm, 2); if (!rc) v = pv_new(vm, PV_INT), v->i = vm->p[0] | vm->p[1] << 8, vm->p += 2, rc = push(vm, v); break;
        case 'J': rc = need(vm, 4); if (!rc) v = pv_new(vm, PV_INT), v->i = (int32_t)le32(vm->p), vm->p += 4, rc = push(vm, v); break;
        case 'U': case 'T': case 'X': case 'B': case 'C': /* SHORT_BINSTRING BINSTRING BINUNICODE BINBYTES SHORT_BINBYTES */
            rc = need(vm, op == 'U' || op == 'C' ? 1 : 4);
            if (rc) break;
            len = op == 'U' || op == 'C' ? *vm->p++ : le32(vm->p);
            if (op != 'U' && op != 'C') vm->p += 4;
            if ((rc = need(vm, len)) < 0) break;
            v = pv_new(vm, PV_STR);
            v->s = vm->p;
            v->len = len;
            vm->p += len;
            rc = push(vm, v);
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
            m = op - 0x84;
            if (vm->sp < m) return rt_fail(vm->st, "%s: pickle stack underflow", vm->name), NULL;
            v = pv_new(vm, PV_TUPLE);
            for (int i = vm->sp - m; i < vm->sp; i++) pv_push_item(v, vm->stack[i]);
            vm->sp -= m;
            rc = push(vm, v);
            break;
        case 't': case 'e': case 'u': /* TUPLE, APPENDS, SETITEMS: the items above the mark */
            if ((m = mark_at(vm)) < 0) return rt_fail(vm->st, "%s: pickle MARK missing", vm->name), NULL;
            if (op == 't') v = pv_new(vm, PV_TUPLE);
            else if (m == 0 || vm->stack[m - 1]->k != (op == 'e' ? PV_LIST : PV_DICT))
                return rt_fail(vm->st, "%s: pickle %s on a wrong object", vm->name, op == 'e' ? "APPENDS" : "SETITEMS"), NULL;
            else v = vm->stack[m - 1];
            if (op == 'u' && (vm->sp - m - 1) % 2) return rt_fail(vm->st, "%s: odd SETITEMS", vm->name), NULL;
            for (int i = m + 1; i < vm->sp; i++) pv_push_item(v, vm->stack[i]);
            vm->sp = m;
            if (op == 't') rc = push(vm, v);
            break;
        case 'a': case 's': /* APPEND, SETITEM */
            b = pop(vm);
            a = op == 's' ? pop(vm) : NULL;
            c = vm->sp > 0 ? vm->stack[vm->sp - 1] : NULL;
            if (!b || (op == 's' && !a) || !c || c->k != (op == 'a' ? PV_LIST : PV_DICT))
                return rt_fail(vm->st, "%s: pickle %s on a wrong object", vm->name, op == 'a' ? "APPEND" : "SETITEM"), NULL;
            if (a) pv_push_item(c, a);
            pv_push_item(c, b);
            break;
        case 'R': /* REDUCE */
            a = pop(vm);
            b = pop(vm);
            if (!a || !b || a->k != PV_TUPLE) return rt_fail(vm->st, "%s: bad pickle REDUCE", vm->name), NULL;
            v = pv_new(vm, PV_OBJ);
            v->fn = b;
            v->args = a;
            rc = push(vm, v);
            break;
        case 'b': /* BUILD */
            a = pop(vm);
            c = vm->sp > 0 ? vm->stack[vm->sp - 1] : NULL;
            if (!a || !c || c->k != PV_OBJ) return rt_fail(vm->st, "%s: bad pickle BUILD", vm->name), NULL;
            c->state = a;
            break;
        case '.': return pop(vm); /* STOP */
        default: return rt_fail(vm->st, "%s: unsupported pickle opcode 0x%02x", vm->name, op), NULL;
        }
        if (rc < 0) return NULL;
    }
}

static int str_is(const Pv *v, const char *s) {
    return v && v->k == PV_STR && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

/* An ndarray object: state (version, shape, dtype, fortran, data) with dtype float32 LE. */
static int to_array(Vm *vm, const Pv *o, RtNpyArray *out) {
    const Pv *s = o && o->k == PV_OBJ ? o->state : NULL;
    if (!s || s->k != PV_TUPLE || s->n != 5) return rt_fail(vm->st, "%s: an entry is not an ndarray", vm->name);
    const Pv *shape = s->items[1], *dt = s->items[2], *fortran = s->items[3], *data = s->items[4];
    if (shape->k != PV_TUPLE || shape->n > 8 || dt->k != PV_OBJ || !dt->args || dt->args->n < 1 ||
        !str_is(dt->args->items[0], "f4") || data->k != PV_STR)
        return rt_fail(vm->st, "%s: an array is not float32", vm->name);
    if (dt->state && dt->state->k == PV_TUPLE && dt->state->n > 1 && !str_is(dt->state->items[1], "<") &&
        !str_is(dt->state->items[1], "|"))
        return rt_fail(vm->st, "%s: a big-endian array", vm->name);
    out->rank = shape->n;
    out->n = 1;
    for (int i = 0; i < shape->n; i++) {
        if (shape->items[i]->k != PV_INT || shape->items[i]->i < 0 || shape->items[i]->i > (1 << 28))
            return rt_fail(vm->st, "%s: a bad array shape", vm->name);
        out->dims[i] = shape->items[i]->i;
        out->n *= out->dims[i];
    }
    if ((size_t)out->n * 4 != data->len)
        return rt_fail(vm->st, "%s: an array holds %zu bytes for %lld floats", vm->name, data->len, (long long)out->n);
    out->data = malloc((size_t)(out->n ? out->n : 1) * sizeof(float));
    if (!(fortran->k == PV_BOOL && fortran->i)) {
        memcpy(out->data, data->s, data->len); /* little-endian file, little-endian host */
        return 0;
    }
    /* Fortran (column-major) order: element i (row-major index) is at its column-major offset */
    int64_t idx[8] = {0};
    for (int64_t i = 0; i < out->n; i++) {
        int64_t off = 0, stride = 1;
        for (int k = 0; k < out->rank; k++) off += idx[k] * stride, stride *= out->dims[k];
        memcpy(&out->data[i], data->s + off * 4, 4);
        for (int k = out->rank - 1; k >= 0 && ++idx[k] == out->dims[k]; k--) idx[k] = 0;
    }
    return 0;
}

static char *dup_str(const Pv *v) { return v->k == PV_STR ? strndup((const char *)v->s, v->len) : NULL; }

int rt_npy_parse_weights(const unsigned char *d, size_t n, const char *name, RtNpyWeights *w, RtStatus *st) {
    memset(w, 0, sizeof *w);
    if (n < 10 || memcmp(d, "\x93NUMPY", 6) != 0) return rt_fail(st, "%s is not a .npy file", name);
    size_t hl = d[6] == 1 ? (size_t)(d[8] | d[9] << 8) : (n >= 12 ? le32(d + 8) : n);
    size_t off = d[6] == 1 ? 10 : 12;
    if (off + hl > n) return rt_fail(st, "%s: truncated .npy header", name);
    if (!memmem(d + off, hl, "'|O'", 4)) return rt_fail(st, "%s: not an object array (the MTCNN weight format)", name);
    Vm vm = {d + off + hl, d + n, NULL, NULL, 0, 0, NULL, 0, name, st};
    Pv *root = run(&vm);
    int rc = root ? 0 : -1;
    /* the object array's state holds a list whose first item is the dict */
    const Pv *dict = NULL;
    if (root && root->k == PV_OBJ && root->state && root->state->k == PV_TUPLE)
        for (int i = 0; i < root->state->n && !dict; i++) {
            const Pv *x = root->state->items[i];
            if (x->k == PV_LIST && x->n == 1 && x->items[0]->k == PV_DICT) dict = x->items[0];
        }
    if (rc == 0 && !dict) rc = rt_fail(st, "%s: no pickled dict of layers inside", name);
    for (int i = 0; rc == 0 && i + 1 < dict->n; i += 2) {
        const Pv *layer = dict->items[i], *params = dict->items[i + 1];
        if (layer->k != PV_STR || params->k != PV_DICT) {
            rc = rt_fail(st, "%s: layer entry %d is not name -> dict", name, i / 2);
            break;
        }
        for (int j = 0; rc == 0 && j + 1 < params->n; j += 2) {
            if (params->items[j]->k != PV_STR) {
                rc = rt_fail(st, "%s: a parameter name is not a string", name);
                break;
            }
            w->a = realloc(w->a, (size_t)(w->n + 1) * sizeof *w->a);
            RtNpyArray *a = &w->a[w->n];
            memset(a, 0, sizeof *a);
            if ((rc = to_array(&vm, params->items[j + 1], a)) < 0) break;
            a->layer = dup_str(layer);
            a->param = dup_str(params->items[j]);
            w->n++;
        }
    }
    for (Pv *v = vm.all, *nx; v; v = nx) {
        nx = v->next_alloc;
        free(v->items);
        free(v);
    }
    free(vm.stack);
    free(vm.memo);
    if (rc) rt_npy_free(w);
    return rc;
}

int rt_npy_load_weights(const char *path, RtNpyWeights *w, RtStatus *st) {
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(st, "cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
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

/* The bounded pickle reader (see pickle.h): a stack machine over the input bytes that builds
 * PkValues in an arena. Marks live on their own stack, as in Python's unpickler, so no opcode can
 * pop below the innermost MARK. No recursion anywhere: a cyclic tree (memo tricks) is harmless
 * here, and callers walk it with bounds of their own. */
#include "runtime/data/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

typedef struct {
    const unsigned char *start, *p, *end;
    PkValue *all;
    PkValue **stack;
    int sp, stack_cap;
    int *marks;
    int n_marks, marks_cap;
    PkValue **memo;
    size_t memo_cap, memo_n;
    const char *name;
    const PkOptions *opt;
    RtStatus *st;
} Vm;

static int oom(Vm *vm) {
    return rt_fail(vm->st, "%s: out of memory reading a pickle", vm->name);
}

static PkValue *pk_new(Vm *vm, PkKind k) {
    PkValue *v = fn_calloc(1, sizeof *v);
    if (!v) return oom(vm), NULL;
    v->k = k;
    v->next_alloc = vm->all;
    vm->all = v;
    return v;
}

static int grow(Vm *vm, void **arr, int *cap, size_t elem) {
    if (*cap >= (1 << 28)) return rt_fail(vm->st, "%s: pickle too large", vm->name);
    int nc = *cap ? 2 * *cap : 16;
    void *a = fn_realloc(*arr, (size_t)nc * elem);
    if (!a) return oom(vm);
    *arr = a;
    *cap = nc;
    return 0;
}

static int item_add(Vm *vm, PkValue *c, PkValue *x) {
    if (c->n == c->cap && grow(vm, (void **)&c->items, &c->cap, sizeof *c->items) < 0) return -1;
    c->items[c->n++] = x;
    return 0;
}

static int push(Vm *vm, PkValue *v) {
    if (!v) return -1;
    if (vm->sp == vm->stack_cap &&
        grow(vm, (void **)&vm->stack, &vm->stack_cap, sizeof *vm->stack) < 0)
        return -1;
    vm->stack[vm->sp++] = v;
    return 0;
}

/* the stack's bottom for pops: the innermost MARK */
static int base(const Vm *vm) {
    return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
}

static PkValue *pop(Vm *vm) {
    if (vm->sp <= base(vm)) return rt_fail(vm->st, "%s: pickle stack underflow", vm->name), NULL;
    return vm->stack[--vm->sp];
}

static PkValue *top(Vm *vm) {
    if (vm->sp <= base(vm)) return rt_fail(vm->st, "%s: pickle stack underflow", vm->name), NULL;
    return vm->stack[vm->sp - 1];
}

/* Ends the innermost MARK: *at is where its items start. */
static int pop_mark(Vm *vm, int *at) {
    if (!vm->n_marks) return rt_fail(vm->st, "%s: pickle MARK missing", vm->name);
    *at = vm->marks[--vm->n_marks];
    return 0;
}

static int need(Vm *vm, uint64_t n) {
    return (uint64_t)(vm->end - vm->p) >= n ? 0 : rt_fail(vm->st, "%s: pickle truncated", vm->name);
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t x = 0;
    for (int k = n - 1; k >= 0; k--)
        x = x << 8 | p[k];
    return x;
}

/* ---- memo: an index is never more than the bytes read so far (each PUT takes 2 or more) ------ */
static int memo_put(Vm *vm, uint64_t idx) {
    PkValue *v = top(vm);
    if (!v) return -1;
    if (idx > (uint64_t)(vm->p - vm->start))
        return rt_fail(vm->st, "%s: bad pickle memo index %llu", vm->name, (unsigned long long)idx);
    if (idx >= vm->memo_cap) {
        size_t cap = vm->memo_cap ? 2 * vm->memo_cap : 64;
        while (cap <= idx)
            cap *= 2;
        PkValue **m = fn_realloc(vm->memo, cap * sizeof *m);
        if (!m) return oom(vm);
        memset(m + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *m);
        vm->memo = m;
        vm->memo_cap = cap;
    }
    vm->memo_n += !vm->memo[idx];
    vm->memo[idx] = v;
    return 0;
}

static int memo_get(Vm *vm, uint64_t idx) {
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return rt_fail(vm->st, "%s: bad pickle memo index %llu", vm->name, (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* ---- globals: recorded only when the allow-list names them ----------------------------------- */
static void printable(char *buf, size_t cap, const unsigned char *s, size_t len) {
    size_t k = 0;
    for (; k < len && k + 1 < cap; k++)
        buf[k] = s[k] >= 0x20 && s[k] < 0x7f ? (char)s[k] : '?';
    buf[k] = 0;
}

static int global_push(Vm *vm, const unsigned char *mod, size_t mod_len, const unsigned char *nm,
                       size_t nm_len) {
    for (int i = 0; vm->opt && i < vm->opt->n_allow; i++) {
        const char *a = vm->opt->allow[i], *sp = strchr(a, ' ');
        if (sp && (size_t)(sp - a) == mod_len && strlen(sp + 1) == nm_len &&
            memcmp(a, mod, mod_len) == 0 && memcmp(sp + 1, nm, nm_len) == 0) {
            PkValue *v = pk_new(vm, PK_GLOBAL);
            if (!v) return -1;
            v->s = mod, v->len = mod_len, v->name = nm, v->name_len = nm_len;
            return push(vm, v);
        }
    }
    char m[96], n[96];
    printable(m, sizeof m, mod, mod_len);
    printable(n, sizeof n, nm, nm_len);
    return rt_fail(vm->st, "%s: pickle names the global %s.%s, which is not allowed", vm->name, m,
                   n);
}

static int op_global(Vm *vm) { /* GLOBAL: "module\nname\n" */
    const unsigned char *nl1 = memchr(vm->p, '\n', (size_t)(vm->end - vm->p));
    const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(vm->end - nl1 - 1)) : NULL;
    if (!nl2) return rt_fail(vm->st, "%s: bad pickle GLOBAL", vm->name);
    const unsigned char *mod = vm->p;
    vm->p = nl2 + 1;
    return global_push(vm, mod, (size_t)(nl1 - mod), nl1 + 1, (size_t)(nl2 - nl1 - 1));
}

static int op_stack_global(Vm *vm) { /* STACK_GLOBAL: module and name strings on the stack */
    PkValue *nm = pop(vm), *mod = nm ? pop(vm) : NULL;
    if (!mod) return -1;
    if (mod->k != PK_STR || nm->k != PK_STR)
        return rt_fail(vm->st, "%s: bad pickle STACK_GLOBAL", vm->name);
    return global_push(vm, mod->s, mod->len, nm->s, nm->len);
}

/* ---- scalars --------------------------------------------------------------------------------- */
static int op_string(Vm *vm, int len_bytes) {
    if (need(vm, (uint64_t)len_bytes) < 0) return -1;
    uint64_t len = le(vm->p, len_bytes);
    vm->p += len_bytes;
    if (need(vm, len) < 0) return -1;
    PkValue *v = pk_new(vm, PK_STR);
    if (!v) return -1;
    v->s = vm->p;
    v->len = (size_t)len;
    vm->p += len;
    return push(vm, v);
}

static int op_int(Vm *vm, int bytes, int is_signed) {
    if (need(vm, (uint64_t)bytes) < 0) return -1;
    PkValue *v = pk_new(vm, PK_INT);
    if (!v) return -1;
    uint64_t x = le(vm->p, bytes);
    v->i = is_signed ? (int64_t)(int32_t)(uint32_t)x : (int64_t)x;
    vm->p += bytes;
    return push(vm, v);
}

static int op_long1(Vm *vm) { /* n bytes of little-endian two's complement */
    if (need(vm, 1) < 0) return -1;
    int n = *vm->p++;
    if (need(vm, (uint64_t)n) < 0) return -1;
    PkValue *v = pk_new(vm, PK_INT);
    if (!v) return -1;
    v->raw = vm->p, v->raw_len = (size_t)n;
    if (n > 8) {
        v->big = 1;
    } else if (n > 0) {
        uint64_t x = le(vm->p, n);
        if (n < 8 && (vm->p[n - 1] & 0x80)) x |= ~UINT64_C(0) << (8 * n);
        memcpy(&v->i, &x, sizeof x);
    }
    vm->p += n;
    return push(vm, v);
}

static int op_float(Vm *vm) { /* BINFLOAT: big-endian double */
    if (need(vm, 8) < 0) return -1;
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x = x << 8 | vm->p[k];
    vm->p += 8;
    PkValue *v = pk_new(vm, PK_FLOAT);
    if (!v) return -1;
    memcpy(&v->f, &x, sizeof x);
    return push(vm, v);
}

static int op_simple(Vm *vm, PkKind k, int64_t i) {
    PkValue *v = pk_new(vm, k);
    if (!v) return -1;
    v->i = i;
    return push(vm, v);
}

/* ---- containers ------------------------------------------------------------------------------ */
static int op_tuple_n(Vm *vm, int m) { /* TUPLE1..3 */
    if (vm->sp - base(vm) < m) return rt_fail(vm->st, "%s: pickle stack underflow", vm->name);
    PkValue *v = pk_new(vm, PK_TUPLE);
    if (!v) return -1;
    for (int i = vm->sp - m; i < vm->sp; i++)
        if (item_add(vm, v, vm->stack[i]) < 0) return -1;
    vm->sp -= m;
    return push(vm, v);
}

/* TUPLE, APPENDS, SETITEMS: the items above the innermost MARK */
static int op_marked(Vm *vm, unsigned char op) {
    int m = 0;
    if (pop_mark(vm, &m) < 0) return -1;
    PkValue *v;
    if (op == 't') {
        if (!(v = pk_new(vm, PK_TUPLE))) return -1;
    } else { /* the list or dict just below the mark */
        if (m <= base(vm)) return rt_fail(vm->st, "%s: pickle stack underflow", vm->name);
        v = vm->stack[m - 1];
        if (v->k != (op == 'e' ? PK_LIST : PK_DICT))
            return rt_fail(vm->st, "%s: pickle %s on a wrong object", vm->name,
                           op == 'e' ? "APPENDS" : "SETITEMS");
    }
    if (op == 'u' && (vm->sp - m) % 2) return rt_fail(vm->st, "%s: odd pickle SETITEMS", vm->name);
    for (int i = m; i < vm->sp; i++)
        if (item_add(vm, v, vm->stack[i]) < 0) return -1;
    vm->sp = m;
    return op == 't' ? push(vm, v) : 0;
}

static int op_append(Vm *vm, unsigned char op) { /* APPEND x, SETITEM key value */
    PkValue *x = pop(vm), *key = NULL, *c = NULL;
    if (!x || (op == 's' && !(key = pop(vm))) || !(c = top(vm))) return -1;
    if (c->k != (op == 'a' ? PK_LIST : PK_DICT))
        return rt_fail(vm->st, "%s: pickle %s on a wrong object", vm->name,
                       op == 'a' ? "APPEND" : "SETITEM");
    if (key && item_add(vm, c, key) < 0) return -1;
    return item_add(vm, c, x);
}

/* REDUCE: recorded as fn(*args); collections.OrderedDict() becomes a dict. */
static int op_reduce(Vm *vm) {
    PkValue *args = pop(vm), *fn = args ? pop(vm) : NULL;
    if (!fn) return -1;
    if (args->k != PK_TUPLE)
        return rt_fail(vm->st, "%s: bad pickle REDUCE (arguments not a tuple)", vm->name);
    int odict = pk_global_is(fn, "collections", "OrderedDict") && args->n == 0;
    PkValue *v = pk_new(vm, odict ? PK_DICT : PK_OBJ);
    if (!v) return -1;
    v->fn = fn;
    v->args = odict ? NULL : args;
    return push(vm, v);
}

static int op_build(Vm *vm) {
    PkValue *state = pop(vm), *c = state ? top(vm) : NULL;
    if (!c) return -1;
    if (c->k != PK_OBJ && !(c->k == PK_DICT && c->fn))
        return rt_fail(vm->st, "%s: bad pickle BUILD", vm->name);
    c->state = state;
    return 0;
}

static int op_persid(Vm *vm) {
    PkValue *pid = pop(vm);
    PkValue *v = pid ? pk_new(vm, PK_PID) : NULL;
    if (!v) return -1;
    v->args = pid;
    return push(vm, v);
}

/* ---- the loop -------------------------------------------------------------------------------- */
static int op_memo(Vm *vm, unsigned char op) {
    int nb = op == 'q' || op == 'h' ? 1 : 4;
    if (need(vm, (uint64_t)nb) < 0) return -1;
    uint64_t idx = le(vm->p, nb);
    vm->p += nb;
    return op == 'q' || op == 'r' ? memo_put(vm, idx) : memo_get(vm, idx);
}

/* One opcode other than STOP. */
static int step(Vm *vm, unsigned char op) {
    switch (op) {
    case 0x80: return need(vm, 1) < 0 ? -1 : (vm->p++, 0);    /* PROTO */
    case 0x95: return need(vm, 8) < 0 ? -1 : (vm->p += 8, 0); /* FRAME: a hint only */
    case 'c': return op_global(vm);
    case 0x93: return op_stack_global(vm);
    case 'q':
    case 'r':
    case 'h':
    case 'j': return op_memo(vm, op);
    case 0x94: return memo_put(vm, vm->memo_n); /* MEMOIZE */
    case '(':
        if (vm->n_marks == vm->marks_cap &&
            grow(vm, (void **)&vm->marks, &vm->marks_cap, sizeof *vm->marks) < 0)
            return -1;
        vm->marks[vm->n_marks++] = vm->sp;
        return 0;
    case '}': return op_simple(vm, PK_DICT, 0);
    case ']': return op_simple(vm, PK_LIST, 0);
    case ')': return op_simple(vm, PK_TUPLE, 0);
    case 'N': return op_simple(vm, PK_NONE, 0);
    case 0x88:
    case 0x89: return op_simple(vm, PK_BOOL, op == 0x88);
    case 'K': return op_int(vm, 1, 0);
    case 'M': return op_int(vm, 2, 0);
    case 'J': return op_int(vm, 4, 1);
    case 0x8a: return op_long1(vm);
    case 'G': return op_float(vm);
    case 'U':
    case 'C':
    case 0x8c: return op_string(vm, 1); /* SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE */
    case 'T':
    case 'X':
    case 'B': return op_string(vm, 4); /* BINSTRING, BINUNICODE, BINBYTES */
    case 0x8d:
    case 0x8e: return op_string(vm, 8); /* BINUNICODE8, BINBYTES8 */
    case 0x85:
    case 0x86:
    case 0x87: return op_tuple_n(vm, op - 0x84);
    case 't':
    case 'e':
    case 'u': return op_marked(vm, op);
    case 'a':
    case 's': return op_append(vm, op);
    case 'R': return op_reduce(vm);
    case 'b': return op_build(vm);
    case 'Q': return op_persid(vm);
    default:
        return rt_fail(vm->st, "%s: unsupported pickle opcode 0x%02x at byte %zu", vm->name, op,
                       (size_t)(vm->p - 1 - vm->start));
    }
}

int pk_load(const unsigned char *d, size_t n, const char *name, const PkOptions *opt, PkPickle *out,
            RtStatus *st) {
    memset(out, 0, sizeof *out);
    Vm vm = {.start = d, .p = d, .end = d + n, .name = name, .opt = opt, .st = st};
    PkValue *root = NULL;
    int rc = 0;
    while (rc == 0 && !root) {
        if ((rc = need(&vm, 1)) < 0) break;
        unsigned char op = *vm.p++;
        if (op == '.')
            rc = (root = pop(&vm)) ? 0 : -1; /* STOP */
        else
            rc = step(&vm, op);
    }
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    out->all = vm.all;
    if (rc < 0) {
        pk_free(out);
        return -1;
    }
    out->root = root;
    out->used = (size_t)(vm.p - d);
    return 0;
}

void pk_free(PkPickle *p) {
    for (PkValue *v = p->all, *nx; v; v = nx) {
        nx = v->next_alloc;
        free(v->items);
        free(v);
    }
    memset(p, 0, sizeof *p);
}

int pk_str_is(const PkValue *v, const char *s) {
    return v && v->k == PK_STR && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

int pk_global_is(const PkValue *v, const char *module, const char *name) {
    return v && v->k == PK_GLOBAL && v->len == strlen(module) &&
           memcmp(v->s, module, v->len) == 0 && v->name_len == strlen(name) &&
           memcmp(v->name, name, v->name_len) == 0;
}

const PkValue *pk_dict_get(const PkValue *dict, const char *key) {
    if (!dict || dict->k != PK_DICT) return NULL;
    const PkValue *found = NULL;
    for (int i = 0; i + 1 < dict->n; i += 2)
        if (pk_str_is(dict->items[i], key))
            found = dict->items[i + 1]; /* the last one wins, as in Python */
    return found;
}

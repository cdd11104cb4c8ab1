/* A bounded pickle reader: runs a Python pickle's opcodes as a stack machine that only builds a
 * tree of values (PkValue), so callers can read the .npy object arrays and torch.save files.
 *
 * What this is: the opcodes of protocols 2 (and the few of 4 a pickler adds: FRAME, MEMOIZE,
 * SHORT_BINUNICODE, STACK_GLOBAL) that NumPy and PyTorch write for arrays and state dicts. Every
 * length is checked against the input, the memo index against the bytes read so far, every pop
 * against the stack. A GLOBAL is only recorded, never resolved, and only when its "module name"
 * is on the caller's allow-list: anything else ("os system", "builtins eval") ends the run at
 * once with "NAME: pickle names the global os.system, which is not allowed".
 * What this is not: an unpickler. Nothing is called or imported; REDUCE records (callable, args),
 * BUILD records the state, BINPERSID records the persistent id. The one construction it knows is
 * collections.OrderedDict() (REDUCE with an empty tuple), which it turns into a dict (PK_DICT,
 * with fn naming OrderedDict) so SETITEM(S) fill it as Python's would.
 */
#ifndef FN_RT_PICKLE_H
#define FN_RT_PICKLE_H

#include "runtime/core/rt.h"

typedef enum {
    PK_NONE,
    PK_BOOL,   /* i: 0 or 1 */
    PK_INT,    /* i; from LONG1 also raw/raw_len: the little-endian two's complement bytes */
    PK_FLOAT,  /* f */
    PK_STR,    /* s, len: bytes inside the input (str is UTF-8, bytes/latin-1 strings as stored) */
    PK_LIST,   /* items */
    PK_TUPLE,  /* items */
    PK_DICT,   /* items: key, value, key, value ... in insertion order; fn set for an OrderedDict */
    PK_GLOBAL, /* s, len: module; name, name_len: the name */
    PK_OBJ,    /* fn(*args) as REDUCE wrote it; state from BUILD (or NULL) */
    PK_PID,    /* a persistent id: args is the value BINPERSID popped */
} PkKind;

typedef struct PkValue {
    PkKind k;
    int64_t i;
    int big; /* PK_INT from LONG1 that does not fit in i */
    double f;
    const unsigned char *s; /* PK_STR, PK_GLOBAL (module); points into the input */
    size_t len;
    const unsigned char *name, *raw; /* PK_GLOBAL name; PK_INT from LONG1: its bytes */
    size_t name_len, raw_len;
    struct PkValue **items;
    int n, cap;
    struct PkValue *fn, *args, *state;
    struct PkValue *next_alloc; /* the arena's list, for pk_free */
} PkValue;

typedef struct {
    const char *const *allow; /* "module name" strings, e.g. "collections OrderedDict" */
    int n_allow;
} PkOptions;

/* One pickle's values; root is what STOP returned. */
typedef struct {
    PkValue *root;
    PkValue *all;
    size_t used; /* bytes read, up to and including STOP */
} PkPickle;

/* Runs the pickle at d[0..n) up to its STOP (bytes after it are left alone: see used). name is
 * the file named in messages. 0, or -1 with st filled and out empty. */
int pk_load(const unsigned char *d, size_t n, const char *name, const PkOptions *opt, PkPickle *out,
            RtStatus *st);
void pk_free(PkPickle *p);

/* Helpers for walking a tree (each safe on NULL). */
int pk_str_is(const PkValue *v, const char *s);
int pk_global_is(const PkValue *v, const char *module, const char *name);
/* A dict's value for a string key, or NULL. */
const PkValue *pk_dict_get(const PkValue *dict, const char *key);

#endif

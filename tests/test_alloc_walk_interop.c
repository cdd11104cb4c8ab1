/* The allocation-failure walk of interop/ (test_alloc_walk_io.c does the readers and writers of
 * the runtime's layers): a TensorFlow V2 checkpoint and a frozen GraphDef (tests/interop/tf/),
 * PyTorch state dicts in the zip and the legacy formats and one nested in a training checkpoint
 * (tests/interop/torch/), an ONNX export of tests/models/tiny_conv.fn written to a temporary
 * file and read back by the checker, the checker on the fixture tiny.onnx, and `fnrun import`'s
 * pipeline (import_tiny.pt into tests/models/import_tiny.fn, its checkpoint written).
 * Each phase runs with allocation number k failing (ir/alloc.h's test hook), for k = 1, 2, ...
 * until a run makes fewer than k allocations: every failure must come back as a clean error (-1
 * and a message; a reader's tensors empty again), never a crash; the run past the last
 * allocation must give what a run without failures gives. Under the ASan build, LeakSanitizer
 * finds what a failure path forgot to free. protobuf-c's unpacks allocate through the same
 * counter (runtime/core/pb_alloc.c); libzip's own allocations are not counted. The walk itself:
 * tests/alloc_walk.c.
 * What this is not: a test of the formats themselves (test_interop_tf, test_interop_torch,
 * test_onnx_export, test_import). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/driver.h"
#include "interop/import.h"
#include "interop/interop.h"
#include "interop/onnx.h"
#include "runtime/core/checkpoint.h"
#include "tests/alloc_walk.h"
#include "tests/fixtures.h"
#include "tests/testlib.h"

static char dir[] = "/tmp/fn_alloc_walk_interop_XXXXXX";

/* Each phase is an AwRun (tests/alloc_walk.h), walked at every allocation: 0 with res->value (a
 * digest of what it read), or -1 with st filled. Frees all it made. */

/* ---- the readers ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    int (*read)(const char *path, IxTensors *out, RtStatus *st);
    int not_empty; /* failed reads that left tensors behind */
} Reader;

static double tensors_digest(const IxTensors *ts) {
    double s = ts->n * 1e6;
    for (int i = 0; i < ts->n; i++) {
        const IxTensor *t = &ts->t[i];
        s += (double)strlen(t->name) * 1e3 + (double)t->n + t->rank;
        for (int64_t j = 0; t->data && j < t->n; j++) s += t->data[j] * (double)(1 + (j % 7));
    }
    return s;
}

static int reader_phase(void *ctx, AwResult *res, RtStatus *st) {
    Reader *r = ctx;
    IxTensors out = {0};
    if (r->read(r->path, &out, st) < 0) {
        r->not_empty += out.n != 0 || out.t != NULL;
        ix_tensors_free(&out);
        return -1;
    }
    res->value = tensors_digest(&out);
    ix_tensors_free(&out);
    return 0;
}

/* ---- ONNX: an export written and read back; the checker on the fixture ------------------------ */

typedef struct {
    IrGraph *g;
    RtVars *vars;
    int64_t sym[64];
    char path[600];
} Onnx;

static double info_digest(const IxOnnxInfo *info) {
    return info->nodes * 1e6 + info->initializers * 1e4 + info->inputs * 1e2 + info->outputs +
           (double)info->parameters * 1e-3 + info->n_ops * 1e-1;
}

static int export_phase(void *ctx, AwResult *res, RtStatus *st) {
    Onnx *x = ctx;
    IxOnnxSource src = {x->g, x->vars, x->sym};
    IxOnnxInfo info, back;
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (ix_onnx_export(&src, NULL, &bytes, &len, &info, st) < 0) return bytes ? rt_fail(st, "bytes left") : -1;
    int rc = ix_onnx_write(x->path, bytes, len, st);
    free(bytes);
    if (rc == 0) rc = ix_onnx_check_file(x->path, &back, st);
    unlink(x->path);
    if (rc == 0) res->value = (double)len + info_digest(&info) + info_digest(&back);
    return rc;
}

static int check_phase(void *ctx, AwResult *res, RtStatus *st) {
    IxOnnxInfo info;
    if (ix_onnx_check_file(ctx, &info, st) < 0) return -1;
    res->value = info_digest(&info);
    return 0;
}

/* ---- fnrun import's pipeline ------------------------------------------------------------------ */

typedef struct {
    char artifact[600], out[600];
    FILE *log;
} Import;

static int import_phase(void *ctx, AwResult *res, RtStatus *st) {
    Import *im = ctx;
    IxImportOpts o;
    ix_import_defaults(&o);
    o.src = "tests/interop/torch/import_tiny.pt";
    o.artifact = im->artifact;
    o.out = im->out;
    o.log = im->log;
    if (ix_import(&o, st) < 0) return -1;
    RtCkptInfo info;
    if (rt_checkpoint_info(im->out, &info, st) < 0) return -1;
    res->value = info.embedding_size * 1e3 + info.classes + info.image_size * 1e-2 + (double)strlen(info.run);
    return 0;
}

/* ---- the walk --------------------------------------------------------------------------------- */

/* Every allocation of the phase made to fail in turn, each error saying "out of memory"; the
 * count of allocations of a run. */
static int64_t walk(const char *name, AwRun run, void *ctx, AwSites *all) {
    return aw_walk(&(AwCase){name, 34, run, ctx, .says = "out of memory", .all = all}, NULL).total;
}

static int onnx_setup(Onnx *x) {
    RtStatus st;
    PassCtx pc = {0};
    x->g = drv_build("tests/models/tiny_conv.fn", NULL, 0, 0, &pc, stderr);
    x->vars = rt_vars_new(4);
    RtBinding b[] = {{"N", 1}};
    snprintf(x->path, sizeof x->path, "%s/tiny.onnx", dir);
    if (!CHECK(x->g && x->vars && x->g->n_syms < 64 && rt_bind_syms(x->g, b, 1, x->sym, &st) == 0 &&
                   rt_vars_bind(x->vars, x->g, x->sym, &st) == 0,
               "tiny_conv builds and binds"))
        return -1;
    rt_vars_init(x->vars, 1);
    return 0;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    static AwSites all; /* the call sites seen by every walk together */
    int64_t allocations = 0;
    Reader readers[] = {
        {"tests/interop/tf/model-20180402-114759.ckpt-7", ix_tf_checkpoint_read, 0},
        {"tests/interop/tf/frozen.pb", ix_tf_graph_read, 0},
        {"tests/interop/torch/tiny.pt", ix_torch_read, 0},
        {"tests/interop/torch/tiny_legacy.pt", ix_torch_read, 0},
        {"tests/interop/torch/tiny_ckpt.pt", ix_torch_read, 0},
        {"tests/interop/torch/facenet_pnet.pt", ix_torch_read, 0},
    };
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        const char *base = strrchr(readers[i].path, '/') + 1;
        char name[80];
        snprintf(name, sizeof name, "read %.60s", base);
        allocations += walk(name, reader_phase, &readers[i], &all);
        CHECK(readers[i].not_empty == 0, "%s: a failed read leaves no tensors (%d did)", base, readers[i].not_empty);
    }

    Onnx x = {0};
    if (onnx_setup(&x) == 0) allocations += walk("ONNX export+write+check tiny_conv", export_phase, &x, &all);
    allocations += walk("ONNX check (tiny.onnx)", check_phase, "tests/interop/onnx/tiny.onnx", &all);

    Import im;
    snprintf(im.artifact, sizeof im.artifact, "%s/tiny.fnc", dir);
    snprintf(im.out, sizeof im.out, "%s/tiny.ckpt", dir);
    im.log = fopen("/dev/null", "w");
    if (CHECK(im.log && fx_compile("tests/models/import_tiny.fn", im.artifact) == 0, "import_tiny compiles"))
        allocations += walk("import (import_tiny.pt)", import_phase, &im, &all);
    if (im.log) fclose(im.log);
    printf("  in all: %lld allocations a run, from %d distinct call sites\n", (long long)allocations, all.n);

    if (x.g) ir_graph_free(x.g);
    rt_vars_free(x.vars);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary("test_alloc_walk_interop");
}

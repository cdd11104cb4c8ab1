/* See fixtures.h. */
#include "tests/fixtures.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/driver.h"
#include "runtime/data/image.h"
#include "tests/testlib.h"

void fx_make_dataset(const char *dir, int classes, int per_class, int size, unsigned seed) {
    mkdir(dir, 0777);
    unsigned char *pix = malloc((size_t)size * (size_t)size * 3);
    uint64_t rng = seed;
    RtStatus st;
    for (int c = 0; c < classes; c++) {
        char cdir[600];
        snprintf(cdir, sizeof cdir, "%s/c%d", dir, c);
        mkdir(cdir, 0777);
        for (int i = 0; i < per_class; i++) {
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    for (int ch = 0; ch < 3; ch++) {
                        int q = (y >= size / 2) * 2 + (x >= size / 2);
                        int base = ((c * 7 + q * 3 + ch * 5) % 8) * 32;
                        int v = base + (int)(test_rng_uniform(&rng) * 40) - 20;
                        pix[((size_t)y * size + x) * 3 + ch] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
            char path[700];
            snprintf(path, sizeof path, "%s/img%02d.png", cdir, i);
            RtImage img = {size, size, pix};
            rt_image_write_png(path, &img, &st);
        }
    }
    free(pix);
}

int fx_compile(const char *model, const char *out) {
    PassCtx ctx = {0};
    ctx.verify = 1;
    return drv_compile(&model, 1, NULL, 0, out, &ctx, stderr);
}

int fx_only_subdir(const char *dir, char *out, unsigned cap) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(out, cap, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    return n == 1 ? 0 : -1;
}

void fx_random_inputs(const IrGraph *g, RtExec *ex, int prec, uint64_t *rng, FxInputCopy copy, void *ctx) {
    for (IrId id = 0; id < g->n_nodes; id++) {
        const IrNode *nd = &g->nodes[id];
        if (nd->op != IR_OP_INPUT) continue;
        const char *name = ir_str(g, nd->attr.u.leaf.name);
        int64_t n;
        void *x = rt_exec_input(ex, name, &n);
        if (!x) continue;
        for (int64_t i = 0; i < n; i++) {
            if (nd->dtype == IR_DT_INT32) {
                ((int32_t *)x)[i] = (int32_t)(test_rng_next(rng) % 3);
                continue;
            }
            double v = nd->shape.rank == 0 ? (strstr(name, "keep") ? 0.8 : strstr(name, "_p") ? 1 : 0.01)
                                           : test_rng_uniform(rng) * 2 - 1;
            if (prec == 4) ((float *)x)[i] = (float)v;
            else ((double *)x)[i] = v;
        }
        if (copy) copy(ctx, name, x, (size_t)n * (nd->dtype == IR_DT_INT32 ? 4 : (size_t)prec));
    }
}

void fx_copy_to_exec(void *ctx, const char *name, const void *data, size_t bytes) {
    void *y = rt_exec_input(ctx, name, NULL);
    if (y) memcpy(y, data, bytes);
}

IrGraph *fx_build_case(const FxCase *c) {
    PassCtx ctx = {0};
    ctx.optimizer = c->opt;
    return drv_build(c->model, NULL, 0, c->training, &ctx, stderr);
}

IrGraph *fx_build_one_process(const FxCase *c) {
    IrGraph *g = fx_build_case(c);
    if (g && pass_replicas(&g, 0) < 0) {
        fprintf(stderr, "%s\n", g->err);
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

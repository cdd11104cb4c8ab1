/* See model.h. */
#include "runtime/eval/model.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "runtime/face/mtcnn.h"

/* "pnet" for "pnet/eval" (k = 1: det1.npy); NULL for a graph of no MTCNN net */
static const char *mtcnn_net(const char *graph, int *k) {
    static const char *const nets[3] = {"pnet", "rnet", "onet"};
    for (int i = 0; i < 3; i++)
        if (!strncmp(graph, nets[i], 4) && graph[4] == '/') return *k = i + 1, nets[i];
    return NULL;
}

/* seeded, then the checkpoint's (or its averages), or an MTCNN net's weights */
static int fill_vars(const RtModelOpts *o, RtModel *m, RtStatus *st) {
    rt_vars_init(m->vars, o->seed);
    int k = 0;
    const char *net = mtcnn_net(o->graph, &k);
    if (net && !o->mtcnn_weights)
        return rt_fail(st, "graph %s is an MTCNN net: give --mtcnn_weights DIR (det1.npy det2.npy det3.npy)", o->graph);
    if (!net && o->mtcnn_weights) return rt_fail(st, "--mtcnn_weights is for the MTCNN graphs, not %s", o->graph);
    if (o->use_moving_averages && !m->ckpt[0])
        return rt_fail(st, "--use_moving_averages needs a checkpoint, not an artifact alone");
    if (m->ckpt[0]) {
        RtCkptInfo info;
        if (rt_checkpoint_load(m->ckpt, &info, m->vars, NULL, st) < 0) return -1;
        return o->use_moving_averages ? rt_checkpoint_load_averages(m->ckpt, m->vars, st) : 0;
    }
    if (!net) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/det%d.npy", o->mtcnn_weights, k);
    RtNpyWeights w;
    if (rt_npy_load_weights(path, &w, st) < 0) return -1;
    int rc = rt_mtcnn_load(m->vars, net, &w, 1, st);
    rt_npy_free(&w);
    return rc;
}

int rt_model_open(const RtModelOpts *o, int64_t batch, RtModel *m, RtStatus *st) {
    memset(m, 0, sizeof *m);
    m->vars = rt_vars_new(4);
    if (rt_checkpoint_resolve_model(o->model, m->artifact, m->ckpt, sizeof m->ckpt, &m->info, st) < 0 ||
        rt_artifact_load(m->artifact, &m->art, st) < 0) {
        rt_model_close(m);
        return -1;
    }
    const RtBinding b[] = {{"N", batch},
                           {"image_size", o->image_size},
                           {"H", o->image_size},
                           {"W", o->image_size},
                           {"embedding_size", m->info.embedding_size ? m->info.embedding_size : o->embedding_size},
                           {"classes", m->info.classes ? m->info.classes : 1}};
    memcpy(m->b, b, sizeof b);
    m->nb = (int)(sizeof b / sizeof b[0]);
    m->g = rt_artifact_graph(&m->art, o->graph);
    int64_t *sym = fn_calloc((size_t)(m->g ? m->g->n_syms : 0) + 1, sizeof *sym);
    int rc = -1;
    if (!m->g) rt_fail(st, "artifact %s has no graph \"%s\"", m->artifact, o->graph);
    else if (!sym) rt_fail(st, "out of memory opening %s", m->artifact);
    else if (rt_bind_syms(m->g, m->b, m->nb, sym, st) == 0 && rt_vars_bind(m->vars, m->g, sym, st) == 0)
        rc = fill_vars(o, m, st);
    free(sym);
    if (rc < 0) rt_model_close(m);
    return rc;
}

void rt_model_close(RtModel *m) {
    rt_vars_free(m->vars);
    rt_artifact_free(&m->art);
    memset(m, 0, sizeof *m);
}

/* The executor's per-node dispatch, written once for both precisions: included by exec.c with
 * `real` = float / double and SFX(name) = name##_f32 / name##_f64. Elementwise, reduction and
 * movement ops are short loops here; contractions, pools and the softmax family call the
 * reference kernels (codegen/ref). */

#define K(name) SFX(ref_##name)
#define BINARY(OP)                                                                                 \
    do {                                                                                           \
        if (na == ny && nb == ny)                                                                  \
            for (int64_t i = 0; i < ny; i++) y[i] = a[i] OP b[i];                                  \
        else if (nb == 1)                                                                          \
            for (int64_t i = 0; i < ny; i++) y[i] = a[i] OP b[0];                                  \
        else if (na == 1)                                                                          \
            for (int64_t i = 0; i < ny; i++) y[i] = a[0] OP b[i];                                  \
        else if (na == ny)                                                                         \
            for (int64_t o = 0; o < ny; o += nb)                                                   \
                for (int64_t j = 0; j < nb; j++) y[o + j] = a[o + j] OP b[j];                      \
        else                                                                                       \
            for (int64_t o = 0; o < ny; o += na)                                                   \
                for (int64_t j = 0; j < na; j++) y[o + j] = a[j] OP b[o + j];                      \
    } while (0)

static void SFX(run_node)(CpuExec *ex, IrId id) {
    const IrNode *n = &ex->g->nodes[id];
    real *y = ex->buf[id];
    const int64_t *yd = ex->dims[id];
    const int yr = ex->rank[id];
    const int64_t ny = ex->numel[id];
    const real *a = n->n_in > 0 ? ex->buf[n->in[0]] : NULL;
    const real *b = n->n_in > 1 ? ex->buf[n->in[1]] : NULL;
    const int64_t na = n->n_in > 0 ? ex->numel[n->in[0]] : 0;
    const int64_t nb = n->n_in > 1 ? ex->numel[n->in[1]] : 0;
    const double f = n->attr.u.scalar.f;
    const IrReduceAttr *ra = &n->attr.u.reduce;
    RefWindow win;
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_PARAM:
    case IR_OP_STATE:
    case IR_OP_CONST: break; /* filled at bind time or by the caller */
    /* binary: the shorter operand is a suffix, so it repeats every (its size) elements */
    case IR_OP_ADD: BINARY(+); break;
    case IR_OP_SUB: BINARY(-); break;
    case IR_OP_MUL: BINARY(*); break;
    case IR_OP_DIV: BINARY(/); break;
    case IR_OP_PRELU: /* alpha repeats every nb elements */
        for (int64_t o = 0; o < ny; o += nb)
            for (int64_t j = 0; j < nb; j++) {
                real v = a[o + j], m = b[j] * v; /* both sides, then a select: vectorises */
                y[o + j] = v > 0 ? v : m;
            }
        break;
    case IR_OP_NEG: for (int64_t i = 0; i < ny; i++) y[i] = -a[i]; break;
    case IR_OP_RELU: for (int64_t i = 0; i < ny; i++) y[i] = a[i] < 0 ? 0 : a[i]; break;
    case IR_OP_STEP: for (int64_t i = 0; i < ny; i++) y[i] = a[i] > 0 ? 1 : 0; break;
    case IR_OP_SQUARE: for (int64_t i = 0; i < ny; i++) y[i] = a[i] * a[i]; break;
    case IR_OP_SQRT: for (int64_t i = 0; i < ny; i++) y[i] = (real)sqrt(a[i]); break;
    case IR_OP_RSQRT: for (int64_t i = 0; i < ny; i++) y[i] = (real)(1 / sqrt(a[i])); break;
    case IR_OP_EXP: for (int64_t i = 0; i < ny; i++) y[i] = (real)exp(a[i]); break;
    case IR_OP_LOG: for (int64_t i = 0; i < ny; i++) y[i] = (real)log(a[i]); break;
    case IR_OP_ABS: for (int64_t i = 0; i < ny; i++) y[i] = (real)fabs(a[i]); break;
    case IR_OP_SIGN: for (int64_t i = 0; i < ny; i++) y[i] = (real)((a[i] > 0) - (a[i] < 0)); break;
    case IR_OP_SCALE: for (int64_t i = 0; i < ny; i++) y[i] = a[i] * (real)f; break;
    case IR_OP_ADDS: for (int64_t i = 0; i < ny; i++) y[i] = a[i] + (real)f; break;
    case IR_OP_POWS: for (int64_t i = 0; i < ny; i++) y[i] = (real)pow(a[i], f); break;
    case IR_OP_SUM: { /* y[j] = sum_i a[i*ny + j] */
        int64_t k = na / ny;
        for (int64_t j = 0; j < ny; j++) y[j] = 0;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < ny; j++) y[j] += a[i * ny + j];
        if (ra->mean)
            for (int64_t j = 0; j < ny; j++) y[j] /= (real)k;
        break;
    }
    case IR_OP_BCAST: {
        real s = ra->mean ? (real)na / (real)ny : 1;
        for (int64_t i = 0; i < ny; i++) y[i] = a[i % na] * s;
        break;
    }
    case IR_OP_SUMLAST: {
        int64_t c = na / (ny ? ny : 1);
        for (int64_t r = 0; r < ny; r++) {
            real s = 0;
            for (int64_t j = 0; j < c; j++) s += a[r * c + j];
            y[r] = ra->mean ? s / (real)c : s;
        }
        break;
    }
    case IR_OP_BCASTLAST: {
        int64_t c = yd[yr - 1];
        for (int64_t r = 0; r < na; r++)
            for (int64_t j = 0; j < c; j++) y[r * c + j] = ra->mean ? a[r] / (real)c : a[r];
        break;
    }
    case IR_OP_RESHAPE: /* shares its input's block when the plan fuses */
        if (y != a) memcpy(y, a, (size_t)ny * ex->esize[id]);
        break;
    case IR_OP_CONCAT:
    case IR_OP_SLICE: {
        int ax = n->attr.u.axis.axis;
        int64_t outer, inner;
        rt_plan_axis(&ex->plan, id, ax, &outer, &inner);
        /* rows of a channel concat or slice are short (32-384 floats): both threads copy */
        if (n->op == IR_OP_SLICE) {
            int64_t src_ax = ex->dims[n->in[0]][ax], len = yd[ax], st = n->attr.u.axis.start;
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (ny > (1 << 16))
            for (int64_t o = 0; o < outer; o++)
                memcpy(y + o * len * inner, a + (o * src_ax + st) * inner,
                       (size_t)(len * inner) * sizeof(real));
            break;
        }
        int64_t off = 0;
        for (int k = 0; k < n->n_in; k++) {
            const real *x = ex->buf[n->in[k]];
            int64_t len = ex->dims[n->in[k]][ax];
#pragma omp parallel for schedule(static) num_threads(ex->threads) if (ny > (1 << 16))
            for (int64_t o = 0; o < outer; o++)
                memcpy(y + (o * yd[ax] + off) * inner, x + o * len * inner,
                       (size_t)(len * inner) * sizeof(real));
            off += len;
        }
        break;
    }
    case IR_OP_MATMUL: {
        const IrMatmulAttr *m = &n->attr.u.matmul;
        const int64_t *ad = ex->dims[n->in[0]];
        K(matmul)(a, b, y, (int)yd[0], (int)yd[1], (int)(m->ta ? ad[0] : ad[1]), m->ta, m->tb);
        break;
    }
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BWD_DATA:
    case IR_OP_CONV2D_BWD_FILTER:
    case IR_OP_MAXPOOL:
    case IR_OP_MAXPOOL_GRAD:
    case IR_OP_AVGPOOL:
    case IR_OP_AVGPOOL_GRAD:
        rt_plan_window(&ex->plan, id, &win);
        switch (n->op) {
#if EXEC_FAST_F32 /* float32 with the fast backend on: codegen/cpu's convolutions and max pools */
        case IR_OP_CONV2D:
            if (ex->fast) cpu_conv2d_f32(a, b, y, &win, ex->paths, ex->scratch, ex->threads);
            else K(conv2d)(a, b, y, &win, ex->scratch);
            break;
        case IR_OP_CONV2D_BWD_DATA:
            if (ex->fast) cpu_conv2d_bwd_data_f32(a, b, y, &win, ex->paths, ex->scratch, ex->threads);
            else K(conv2d_bwd_data)(a, b, y, &win, ex->scratch);
            break;
        case IR_OP_CONV2D_BWD_FILTER:
            if (ex->fast) cpu_conv2d_bwd_filter_f32(a, b, y, &win, ex->paths, ex->scratch, ex->threads);
            else K(conv2d_bwd_filter)(a, b, y, &win, ex->scratch);
            break;
        case IR_OP_MAXPOOL:
            if (ex->fast) cpu_maxpool_f32(a, y, &win, ex->threads);
            else K(maxpool)(a, y, &win);
            break;
        case IR_OP_MAXPOOL_GRAD:
            if (ex->fast) cpu_maxpool_grad_f32(a, b, y, &win, ex->threads);
            else K(maxpool_grad)(a, b, y, &win);
            break;
#else
        case IR_OP_MAXPOOL: K(maxpool)(a, y, &win); break;
        case IR_OP_MAXPOOL_GRAD: K(maxpool_grad)(a, b, y, &win); break;
        case IR_OP_CONV2D: K(conv2d)(a, b, y, &win, ex->scratch); break;
        case IR_OP_CONV2D_BWD_DATA: K(conv2d_bwd_data)(a, b, y, &win, ex->scratch); break;
        case IR_OP_CONV2D_BWD_FILTER: K(conv2d_bwd_filter)(a, b, y, &win, ex->scratch); break;
#endif
        case IR_OP_AVGPOOL: K(avgpool)(a, y, &win); break;
        default: K(avgpool_grad)(a, y, &win); break;
        }
        break;
    case IR_OP_SOFTMAX: K(softmax)(a, y, (int)(ny / yd[yr - 1]), (int)yd[yr - 1]); break;
    case IR_OP_SOFTMAX_XENT: {
        const int64_t *ad = ex->dims[n->in[0]];
        K(softmax_xent)(a, ex->buf[n->in[1]], y, (int)ad[0], (int)ad[1]);
        break;
    }
    case IR_OP_SOFTMAX_XENT_GRAD:
        K(softmax_xent_grad)(a, ex->buf[n->in[1]], ex->buf[n->in[2]], y, (int)yd[0], (int)yd[1]);
        break;
    case IR_OP_L2NORM: K(l2norm)(a, y, (int)(ny / yd[yr - 1]), (int)yd[yr - 1], f); break;
    case IR_OP_L2NORM_GRAD: K(l2norm_grad)(a, b, y, (int)(ny / yd[yr - 1]), (int)yd[yr - 1], f); break;
    case IR_OP_ACCURACY: {
        const int64_t *ad = ex->dims[n->in[0]];
        y[0] = K(accuracy)(a, ex->buf[n->in[1]], (int)ad[0], (int)ad[1]);
        break;
    }
    case IR_OP_DROPOUT_MASK: {
        real keep = b[0];
        uint64_t key = rt_hash(ex->seed, ex->step, 0xd50u + (uint64_t)id);
        for (int64_t i = 0; i < ny; i++)
            y[i] = rt_uniform(key, (uint64_t)i) < (double)keep ? 1 / keep : 0;
        break;
    }
    case IR_OP_GATHER: { /* out-of-range indices give zero rows */
        const int32_t *idx = ex->buf[n->in[1]];
        int64_t rows = ex->dims[n->in[0]][0], e = yd[1];
        for (int64_t i = 0; i < yd[0]; i++) {
            if (idx[i] < 0 || idx[i] >= rows) memset(y + i * e, 0, (size_t)e * sizeof(real));
            else memcpy(y + i * e, a + idx[i] * e, (size_t)e * sizeof(real));
        }
        break;
    }
    case IR_OP_SCATTER_ADD: { /* duplicates accumulate; out-of-range indices are dropped */
        const int32_t *idx = ex->buf[n->in[1]];
        int64_t e = yd[1];
        memset(y, 0, (size_t)ny * sizeof(real));
        for (int64_t i = 0; i < ex->dims[n->in[0]][0]; i++)
            if (idx[i] >= 0 && idx[i] < yd[0])
                for (int64_t j = 0; j < e; j++) y[idx[i] * e + j] += a[i * e + j];
        break;
    }
    case IR_OP_ASSIGN: break; /* performed after the step */
    case IR_OP_COUNT: break;
    }
}

#undef K
#undef BINARY

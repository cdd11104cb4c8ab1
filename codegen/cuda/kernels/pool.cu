/* Fixed CUDA kernels of cuda_emit.c: max and average pooling and their gradients.
 * Each text is the kernel's helpers, then the kernel; cu_fixed has them in this order, after
 * the files listed before this one in CMakeLists.txt (FN_CUDA_KERNELS).
 * Not a translation unit but CUDA C texts: embed.cmake cuts the file at its `//@ NAME` lines
 * into arrays in the build tree's cuda_kernels_src.h, each text running to the next `//@` line,
 * blank lines at its end dropped; this comment, before the first, is left out. */

//@ fn_maxpool
extern "C" __global__ void fn_maxpool(FN_TY *y, const FN_TA *x, FnWin w) {
    FN_LOOP(i, (fn_i64)w.n * w.oh * w.ow * w.c) {
        int b, oy, ox, ci;
        fn_nhwc_d(i, w.doh, w.dow, w.dc, &b, &oy, &ox, &ci);
        int by, bx;
        y[i] = fn_argmax(x, w, b, oy, ox, ci, &by, &bx);
    }
}

//@ fn_maxpool_code
/* code[o] = where in its window output o's first maximal in-bounds cell is (ky*kw + kx), for
 * fn_maxpool_grad: each window is searched once instead of once per cell it covers */
extern "C" __global__ void fn_maxpool_code(int *code, const FN_TA *x, FnWin w) {
    FN_LOOP(i, (fn_i64)w.n * w.oh * w.ow * w.c) {
        int b, oy, ox, ci;
        fn_nhwc_d(i, w.doh, w.dow, w.dc, &b, &oy, &ox, &ci);
        int iy, ix;
        fn_argmax(x, w, b, oy, ox, ci, &iy, &ix);
        code[i] = (iy - (oy * w.sh - w.pad_t)) * w.kw + ix - (ox * w.sw - w.pad_l);
    }
}

//@ fn_maxpool_grad
/* dx: each output's gradient to the first maximal cell of its window (code, fn_maxpool_code), the
 * covering outputs added in order as the CPU. Where at most 2 x 2 outputs cover a cell (windows
 * of up to twice the stride: 3x3/2), every code and gradient is loaded before any is compared, so
 * that a thread waits for memory once, not once per covering output */
extern "C" __global__ void fn_maxpool_grad(FN_TY *dx, const int *code, const FN_TB *dy, FnWin w) {
    FN_LOOP(i, (fn_i64)w.n * w.h * w.w * w.c) {
        int b, iy, ix, ci, oy0, oy1, ox0, ox1;
        fn_covered(i, w, &b, &iy, &ix, &ci, &oy0, &oy1, &ox0, &ox1);
        float s = 0.f;
        if (oy1 - oy0 <= 2 && ox1 - ox0 <= 2) {
            int cd[4];
            float g[4];
            for (int k = 0; k < 4; k++) {
                int oy = oy0 + (k >> 1), ox = ox0 + (k & 1);
                fn_i64 o = (((fn_i64)b * w.oh + oy) * w.ow + ox) * w.c + ci;
                bool in = oy < oy1 && ox < ox1;
                cd[k] = in ? code[o] : 0;
                g[k] = in ? (float)dy[o] : 0.f;
            }
            for (int k = 0; k < 4; k++) {
                int oy = oy0 + (k >> 1), ox = ox0 + (k & 1);
                if (oy < oy1 && ox < ox1 && cd[k] == (iy - (oy * w.sh - w.pad_t)) * w.kw + ix - (ox * w.sw - w.pad_l))
                    s += g[k];
            }
        } else {
            for (int oy = oy0; oy < oy1; oy++)
                for (int ox = ox0; ox < ox1; ox++) {
                    fn_i64 o = (((fn_i64)b * w.oh + oy) * w.ow + ox) * w.c + ci;
                    if (code[o] == (iy - (oy * w.sh - w.pad_t)) * w.kw + ix - (ox * w.sw - w.pad_l)) s += dy[o];
                }
        }
        dx[i] = s;
    }
}

//@ fn_avgpool
/* the mean over the window's in-bounds cells, summed in double as the CPU */
extern "C" __global__ void fn_avgpool(FN_TY *y, const FN_TA *x, FnWin w) {
    FN_LOOP(i, (fn_i64)w.n * w.oh * w.ow * w.c) {
        int b, oy, ox, ci;
        fn_nhwc_d(i, w.doh, w.dow, w.dc, &b, &oy, &ox, &ci);
        int y0, y1, x0, x1;
        fn_clip(oy * w.sh - w.pad_t, w.kh, w.h, &y0, &y1);
        fn_clip(ox * w.sw - w.pad_l, w.kw, w.w, &x0, &x1);
        double s = 0;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) s += (float)x[fn_pix(w, b, iy, ix) + ci];
        y[i] = (float)(s / ((y1 - y0) * (x1 - x0)));
    }
}

//@ fn_avgpool_grad
extern "C" __global__ void fn_avgpool_grad(FN_TY *dx, const FN_TA *dy, FnWin w) {
    FN_LOOP(i, (fn_i64)w.n * w.h * w.w * w.c) {
        int b, iy, ix, ci, oy0, oy1, ox0, ox1;
        fn_covered(i, w, &b, &iy, &ix, &ci, &oy0, &oy1, &ox0, &ox1);
        float s = 0.f;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = ox0; ox < ox1; ox++) {
                int y0, y1, x0, x1;
                fn_clip(oy * w.sh - w.pad_t, w.kh, w.h, &y0, &y1);
                fn_clip(ox * w.sw - w.pad_l, w.kw, w.w, &x0, &x1);
                s += (float)dy[(((fn_i64)b * w.oh + oy) * w.ow + ox) * w.c + ci] / (float)((y1 - y0) * (x1 - x0));
            }
        dx[i] = s;
    }
}

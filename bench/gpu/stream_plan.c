/* How the GPU step's work spreads over streams (runtime/gpu/streams.h), without a GPU: the
 * Inception-ResNet-v1 training step (ADAM, 160x160, embedding 512) is bound at each batch size on
 * the host emulation (FN_CUDA_EMULATOR=build/libfn_hostcuda.so, tests/hostcuda) and the executor
 * says how many streams it uses, the waits between them and the modelled step length on them
 * over one stream's (3 TB/s, 200 TFLOP/s, 3 us a launch; streams as separate machines, so an
 * upper bound on the overlap), and the step's two floors: its GEMMs' operations and the bytes its
 * work moves (rt_gpu_exec_floor). FN_GPU_STREAMS sets the streams, FN_GPU_PLAN_SLACK the memory
 * plan's slack, FN_GPU_BF16=act stores the activations in bfloat16, FN_HOSTCUDA_GIB sets the
 * emulated card's memory (141 for an H200's: the slack is dropped where the slab would take over a
 * quarter of it).
 *   cmake --build build --target stream_plan &&
 *   FN_HOSTCUDA_GIB=141 FN_CUDA_EMULATOR=build/libfn_hostcuda.so build/stream_plan 90 256 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/driver.h"
#include "cli/options.h"
#include "runtime/gpu/gpu_exec.h"
#include "tests/fixtures.h"

int main(int argc, char **argv) {
    RtStatus st;
    RtOptions o;
    cli_options_from_env(&o);
    RtGpu *gpu = rt_gpu_open(&o, &st);
    if (!gpu) {
        fprintf(stderr, "stream_plan: %s (set FN_CUDA_EMULATOR=build/libfn_hostcuda.so)\n", st.msg);
        return 1;
    }
    FxCase c = {"models/inception_resnet_v1.fn", 1, PASS_OPT_ADAM, {{"N", 90}, {"classes", 10575}, {"embedding_size", 512}}, 3};
    IrGraph *g = fx_build_one_process(&c); /* its reductions over replicas dropped */
    if (!g) return 1;
    for (int a = 1; a < (argc > 1 ? argc : 2); a++) {
        c.b[0].value = argc > 1 ? atoll(argv[a]) : 90;
        int64_t *sym = calloc((size_t)g->n_syms + 1, sizeof *sym);
        RtVars *v = rt_vars_new(4);
        RtGpuExec *ex = NULL;
        if (rt_bind_syms(g, c.b, c.nb, sym, &st) == 0 && rt_vars_bind(v, g, sym, &st) == 0)
            ex = rt_gpu_exec_new(gpu, &o, g, v, sym, NULL, 0, 1, &st);
        if (!ex) {
            fprintf(stderr, "stream_plan: batch %lld: %s\n", (long long)c.b[0].value, st.msg);
            return 1;
        }
        RtStreams ss = rt_gpu_exec_streams(ex);
        int waits = ss.waits, streams = ss.streams;
        double overlap = ss.overlap;
        double flops, bytes, col;
        rt_gpu_exec_floor(ex, &flops, &bytes, &col);
        printf("batch %4lld: %d streams, %5d waits, modelled step %.3f of one stream's, %.2f GB on the device\n"
               "            floors: %.3f TFLOP of GEMMs, %.1f GB moved once (+ %.1f GB if every window built its im2col columns)\n"
               "            %d items, %d views, %d bfloat16 values\n",
               (long long)c.b[0].value, streams, waits, overlap, rt_gpu_exec_bytes(ex) / 1e9, flops / 1e12, bytes / 1e9,
               col / 1e9, ss.items, rt_gpu_exec_views(ex), rt_gpu_exec_half_values(ex));
        rt_gpu_exec_free(ex);
        rt_vars_free(v);
        free(sym);
    }
    ir_graph_free(g);
    rt_gpu_close(gpu);
    return 0;
}

// fuzz-sources: interop/onnx_check.c runtime/core/status.c ir/status.c ir/alloc.c runtime/core/pb_alloc.c
// fuzz-libs: -lprotobuf-c -lm
// fuzz-protos: onnx
// fuzz-seeds: tests/interop/onnx/*.onnx
/* libFuzzer target for the ONNX reader: any bytes into ix_onnx_check must give a verdict, never a
 * crash, hang, leak or undefined behaviour. What it accepts must be consistent: as many op-type
 * counts as nodes (while fewer than 64 types), at least one output, an opset. Seeds: the
 * fixtures under tests/interop/onnx/ (tests/test_onnx_export.c writes tiny.onnx). */
#include <stdint.h>
#include <stdlib.h>

#include "interop/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    IxOnnxInfo info;
    RtStatus st;
    if (ix_onnx_check(data, size, &info, &st) == 0) {
        int counted = 0;
        for (int i = 0; i < info.n_ops; i++)
            counted += info.ops[i].count;
        if (info.opset <= 0 || info.nodes < 0 || info.parameters < 0) __builtin_trap();
        if (info.n_ops < 64 && counted != info.nodes) __builtin_trap();
        if (ix_onnx_op_count(&info, "Conv") < 0) __builtin_trap();
    }
    return 0;
}

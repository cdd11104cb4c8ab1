// clang-format off
// fuzz-sources: interop/torch_pt.c interop/tensors.c runtime/data/pickle.c runtime/data/npy.c runtime/core/status.c ir/status.c ir/alloc.c
// fuzz-libs: -lzip -lm
// fuzz-seeds: tests/interop/torch/*.pt ../shared/data/mtcnn/det1.npy
// clang-format on
/* libFuzzer target for the PyTorch reader and the pickle reader under it: any bytes into
 * ix_torch_parse (a zip archive or a legacy pickle stream) must give tensors or an error, never a
 * crash, hang, leak or undefined behaviour. The same bytes also go to rt_npy_parse_weights (the
 * .npy reader on the same pickle machine; det1.npy is a seed), and, after a fixed .npy header, as
 * a bare pickle, so both allow-lists and the .npy walk are exercised. What this is not: a check
 * of values (tests/test_interop_torch.c and tests/test_npy.c do that). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data/npy.h"
#include "tests/fuzz/ix_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    IxTensors ts;
    RtStatus st = {{0}};
    ix_fuzz_check(ix_torch_parse(data, size, "fuzz.pt", &ts, &st), &ts, &st);

    RtNpyWeights w;
    if (rt_npy_parse_weights(data, size, "fuzz.npy", &w, &st) == 0) rt_npy_free(&w);
    static const char hdr[] = "\x93NUMPY\x01\x00\x15\x00{'descr': '|O'}     \n";
    unsigned char *npy = malloc(sizeof hdr - 1 + size);
    if (!npy) return 0;
    memcpy(npy, hdr, sizeof hdr - 1);
    if (size) memcpy(npy + sizeof hdr - 1, data, size);
    if (rt_npy_parse_weights(npy, sizeof hdr - 1 + size, "fuzz.npy", &w, &st) == 0) rt_npy_free(&w);
    free(npy);
    return 0;
}

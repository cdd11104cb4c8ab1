// fuzz-sources: interop/tf_table.c interop/tf_checkpoint.c interop/crc32c.c interop/tensors.c runtime/core/status.c ir/status.c ir/alloc.c runtime/core/pb_alloc.c
// fuzz-libs: -lprotobuf-c -lm
// fuzz-protos: tf
// fuzz-seeds: tests/interop/tf/*
/* libFuzzer target for TensorFlow V2 checkpoints: any bytes into ix_tf_checkpoint_parse must give
 * tensors or a one-line error, never a crash, hang, leak or undefined behaviour. The input is the
 * .index then the .data: its first 4 bytes (little-endian) give the .index's length, clamped to
 * what follows (so a bare .index seed is all index and no data). A result must be consistent:
 * float32 tensors carry n values, others none.
 * Not a test of the values (tests/test_interop_tf.c compares them with TensorFlow's). */
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/ix_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
                   (size_t)data[3] << 24;
    if (split > size - 4) split = size - 4;
    IxTensors ts = {0};
    RtStatus st = {{0}};
    const uint8_t *rest = data + 4 + split;
    ix_fuzz_check(ix_tf_checkpoint_parse(data + 4, split, rest, size - 4 - split, "fuzz", &ts, &st), &ts, &st);
    return 0;
}

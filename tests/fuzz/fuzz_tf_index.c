// fuzz-sources: interop/tf_table.c interop/tf_checkpoint.c interop/crc32c.c interop/tensors.c runtime/status.c
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

#include "interop/interop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
                   (size_t)data[3] << 24;
    if (split > size - 4) split = size - 4;
    IxTensors ts = {0};
    RtStatus st;
    const uint8_t *rest = data + 4 + split;
    if (ix_tf_checkpoint_parse(data + 4, split, rest, size - 4 - split, "fuzz", &ts, &st) == 0) {
        for (int i = 0; i < ts.n; i++) {
            const IxTensor *t = &ts.t[i];
            if ((strcmp(t->dtype, "float32") == 0) != (t->data != NULL) || t->n < 0)
                __builtin_trap();
            volatile float sink = 0;
            for (int64_t k = 0; t->data && k < t->n; k++) sink += t->data[k];
            (void)sink;
        }
    } else if (ts.n != 0 || !st.msg[0]) {
        __builtin_trap(); /* an error leaves no tensors and says something */
    }
    ix_tensors_free(&ts);
    return 0;
}

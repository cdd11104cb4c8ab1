// fuzz-sources: interop/tf_graph.c interop/tf_checkpoint.c interop/tf_table.c interop/crc32c.c interop/tensors.c runtime/core/status.c ir/status.c ir/alloc.c runtime/core/pb_alloc.c
// fuzz-libs: -lprotobuf-c -lm
// fuzz-protos: tf
// fuzz-seeds: tests/interop/tf/*
/* libFuzzer target for frozen TensorFlow GraphDefs: any bytes into ix_tf_graph_parse must give
 * the Const tensors or a one-line error, never a crash, hang, leak, undefined behaviour or an
 * allocation the bytes do not pay for (a one-value fill is bounded). A float32 result carries n
 * values, any other dtype none. Not a test of the values (tests/test_interop_tf.c). */
#include <stdint.h>

#include "tests/fuzz/ix_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    IxTensors ts = {0};
    RtStatus st = {{0}};
    ix_fuzz_check(ix_tf_graph_parse(data, size, "fuzz.pb", &ts, &st), &ts, &st);
    return 0;
}

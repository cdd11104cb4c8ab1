// fuzz-sources: runtime/eval/lfw.c runtime/core/files.c runtime/core/status.c ir/status.c ir/alloc.c
// fuzz-libs: -lm
// fuzz-seeds: ../shared/data/lfw/pairs.txt
/* libFuzzer target for the LFW pairs reader (runtime/eval/lfw.c): any bytes as a pairs file must give
 * pairs or a one-line error, never a crash, hang, leak or undefined behaviour. The LFW folder
 * does not exist, so every pair is counted as skipped: the parsing and the set checks are what
 * runs. An accepted file's counts must agree with its header. Not here: the evaluation. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/eval/lfw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0; /* fmemopen takes no empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) return 0;
    RtLfwPairs p;
    RtStatus st;
    if (rt_lfw_parse_pairs(f, "fuzz", "/nonexistent-lfw", &p, &st) == 0) {
        if (p.n_pairs != 0 || p.n_sets < 1 || p.set_size < 1 ||
            (long long)p.n_skipped != 2LL * p.n_sets * p.set_size)
            __builtin_trap();
        rt_lfw_free(&p);
    } else if (!memchr(st.msg, 0, sizeof st.msg) || strchr(st.msg, '\n')) {
        __builtin_trap();
    }
    fclose(f);
    return 0;
}

// fuzz-sources: runtime/train/schedule.c runtime/core/files.c runtime/core/status.c ir/status.c ir/alloc.c
// fuzz-libs: -lm
// fuzz-seeds: ../shared/data/schedules/*.txt
/* libFuzzer target for the learning-rate schedule reader (runtime/train/schedule.c): any bytes as a
 * schedule file must give a schedule or a one-line error, never a crash, hang, leak or undefined
 * behaviour. An accepted schedule must have increasing epochs from 0 or 1 and finite rates, and
 * rt_schedule_rate must answer for any epoch. Not here: training. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime/train/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0; /* fmemopen takes no empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) return 0;
    RtSchedule s;
    RtStatus st;
    if (rt_schedule_parse(f, "fuzz", &s, &st) == 0) {
        if (s.n < 1 || s.epoch[0] > 1) __builtin_trap();
        for (int i = 0; i < s.n; i++)
            if (!isfinite(s.rate[i]) || (i && s.epoch[i] <= s.epoch[i - 1])) __builtin_trap();
        int probes[] = {0, 1, s.epoch[s.n - 1], s.epoch[s.n - 1] + 1, 1 << 30};
        for (int i = 0; i < 5; i++)
            if (!isfinite(rt_schedule_rate(&s, probes[i]))) __builtin_trap();
        rt_schedule_free(&s);
    } else if (!memchr(st.msg, 0, sizeof st.msg) || strchr(st.msg, '\n')) {
        __builtin_trap();
    }
    fclose(f);
    return 0;
}

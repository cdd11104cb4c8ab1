/* Which stream each piece of a step's GPU work runs on, and which earlier work it must wait for.
 *
 * A step is a list of items (a kernel, a GEMM, a fused group), in the order one stream would
 * run them. Each item reads and writes spans of device memory. Two items
 * conflict when one writes a span the other reads or writes (the memory plan reuses blocks, so
 * this covers the data flow and the reuse alike). gpu_schedule keeps every conflicting pair in
 * order: an item continues the stream whose last item it conflicts with (the latest such), or
 * takes the stream that has been idle longest, and waits (an event) for the latest conflicting
 * item of each other stream it has not waited for already. Independent branches of a network
 * (an Inception block's towers, and their gradients) then run side by side. Per-stream scratch
 * (im2col columns, partial sums) is not a span: each stream has its own. Items may be pinned to
 * a stream of their own (the reductions over the replicas, which must go in one order on every
 * rank): no other item takes it, and they wait for their operands like any item.
 *
 * gpu_schedule_estimate replays the schedule with a cost per item (streams as separate
 * machines), to say how much of the step could overlap. */
#ifndef FN_RT_GPU_STREAMS_H
#define FN_RT_GPU_STREAMS_H

#include <stdint.h>

typedef struct {
    uintptr_t lo, hi; /* [lo, hi) */
    int writes;
} GpuSpan;

typedef struct {
    int n_items, n_streams;
    int *stream;           /* per item */
    int *wait_start;       /* item i waits for the events of wait_item[wait_start[i] .. wait_start[i + 1]) */
    int *wait_item;
    char *record;          /* per item: later items wait for it (an event is recorded after it) */
    int *stream_items;     /* per stream: items on it */
} GpuSchedule;

/* items' spans: spans[span_start[i] .. span_start[i + 1]). n_streams >= 1. pin (NULL: none): per
 * item its stream, or -1 to choose; a stream some item is pinned to takes no other. 0, or -1
 * when out of memory. */
int gpu_schedule(GpuSchedule *s, int n_items, const int *span_start, const GpuSpan *spans, int n_streams,
                 const int *pin);
/* The step's length with item i taking cost[i] and every stream its own machine, over the sum of
 * the costs (1 when nothing overlaps). */
double gpu_schedule_estimate(const GpuSchedule *s, const double *cost);
void gpu_schedule_free(GpuSchedule *s);
/* Runs of consecutive items that may go in one launch whose blocks take them in any order (the
 * assignments' copies at the step's end): an item starts a new run when it conflicts with one
 * of the current run. start[r] is run r's first item, start[n_runs] = n_items; returns n_runs. */
int gpu_batch_runs(int n_items, const int *span_start, const GpuSpan *spans, int *start);

#endif

/* TensorBoard event files: TFRecord framing (length, masked CRC32C of the length, payload,
 * masked CRC32C of the payload) around serialized Event protos, in
 * <dir>/events.out.tfevents.<10-digit time>.<host>, the first record being
 * file_version "brain.Event:2". */
#ifndef FN_RT_EVENTS_H
#define FN_RT_EVENTS_H

#include "runtime/core/rt.h"

/* CRC-32C (Castagnoli), with the SSE4.2 instruction where the CPU has it. */
uint32_t rt_crc32c(const void *data, size_t n);
uint32_t rt_crc32c_masked(const void *data, size_t n); /* TFRecord's mask */

typedef struct RtEvents RtEvents;

/* wall_time < 0: the current time. The first record is written through: a folder that cannot
 * take it (full, read-only) is an error here, naming the file and the reason, with no file left.
 * A later write that fails is said once on stderr (file and reason); the records after it are
 * dropped and the writers below return -1. */
RtEvents *rt_events_open(const char *dir, double wall_time, RtStatus *st);
int rt_events_scalar(RtEvents *e, const char *tag, int64_t step, double value);
/* A histogram of values[0..n) with TensorFlow's default bucket edges. */
int rt_events_histogram(RtEvents *e, const char *tag, int64_t step, const float *values, int64_t n);
/* An image summary of RGB pixels (PNG-encoded). */
int rt_events_image(RtEvents *e, const char *tag, int64_t step, const unsigned char *rgb, int w, int h);
const char *rt_events_path(const RtEvents *e);
int rt_events_flush(RtEvents *e); /* -1 once a write has failed */
void rt_events_close(RtEvents *e);
/* For tests: a fixed wall time for every record written after this call. */
void rt_events_set_time(RtEvents *e, double wall_time);

#endif

/* Framed files: every binary file fn writes (artifacts, checkpoints) is a 24-byte header —
 * an 8-byte magic, u32 format version, u32 CRC-32 of the payload, u64 payload length, all
 * little-endian — then the payload. Writes go to a temporary file that is renamed over the
 * target, so a crash mid-write leaves any previous file whole. */
#ifndef FN_RT_FRAMED_H
#define FN_RT_FRAMED_H

#include "runtime/core/rt.h"

/* `what` names the kind of file in messages ("artifact", "checkpoint"). */
/* kill_midwrite: the crash test of checkpoints: the writer kills its own process (SIGKILL)
 * halfway through the temporary file. */
int rt_framed_write(const char *path, const char magic[8], uint32_t version, const void *payload,
                    size_t len, int kill_midwrite, RtStatus *st);
/* On success *payload is malloc'ed. Errors say what is wrong: not this kind of file, another
 * format version (with `hint`), truncated, corrupt. */
int rt_framed_read(const char *path, const char magic[8], uint32_t version, const char *what,
                   const char *hint, unsigned char **payload, size_t *len, RtStatus *st);
/* The same checks on a file's bytes in memory (name for messages): *payload points into data. */
int rt_framed_parse(const unsigned char *data, size_t size, const char magic[8], uint32_t version,
                    const char *what, const char *name, const char *hint, const unsigned char **payload,
                    size_t *len, RtStatus *st);

#endif

/* The one error convention of every layer: a function that fails returns -1 (or NULL) and
 * writes one message into the FnStatus its caller handed it (NULL: no message is wanted).
 * Codegen, the runtime (RtStatus is this type) and the frontend's callers share it, so a
 * message travels up the layers without being copied. What this is not: a diagnostics list
 * (the frontend prints every error it finds; this holds one) or a log (NVRTC's is data).
 */
#ifndef FN_IR_STATUS_H
#define FN_IR_STATUS_H

#include <stdarg.h>

typedef struct {
    char msg[1024];
} FnStatus;

/* Writes the message into st (when st is not NULL) and returns -1. An argument may be st->msg
 * itself, to add context to a message from a layer below. */
int fn_fail(FnStatus *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fn_fail with the arguments as a va_list (for wrappers of their own, like rt_fail). */
int fn_vfail(FnStatus *st, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The same, prefixed with its place in a source: "file:line:col: msg". */
int fn_fail_at(FnStatus *st, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif

/* See status.h: filling an FnStatus. Nothing else. */
#include "ir/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Formats into a copy first, so that an argument may be st->msg itself (adding context to a
 * message from below: fn_fail(st, "compiling: %s", st->msg)). */
int fn_vfail(FnStatus *st, const char *fmt, va_list ap) {
    if (!st) return -1;
    char m[sizeof st->msg];
    vsnprintf(m, sizeof m, fmt, ap);
    memcpy(st->msg, m, sizeof m);
    return -1;
}

int fn_fail(FnStatus *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fn_vfail(st, fmt, ap);
    va_end(ap);
    return -1;
}

int fn_fail_at(FnStatus *st, const char *file, int line, int col, const char *fmt, ...) {
    if (!st) return -1;
    FnStatus tail;
    va_list ap;
    va_start(ap, fmt);
    fn_vfail(&tail, fmt, ap);
    va_end(ap);
    return fn_fail(st, "%s:%d:%d: %s", file ? file : "<input>", line, col, tail.msg);
}

/* A growing text (the CUDA and LLVM renderers' sources): printf-style appends, memory through
 * ir/alloc.h. An append that finds no memory sets oom and leaves the text as it was; later
 * appends do nothing, so a builder checks oom once, at the end. What this is not: a string
 * library or a stream. */
#ifndef FN_IR_TEXT_H
#define FN_IR_TEXT_H

#include <stddef.h>

typedef struct {
    char *s; /* NUL-terminated once anything is appended */
    size_t len, cap;
    int oom;
} FnText;

void fn_text_printf(FnText *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fn_text_free(FnText *t);

#endif

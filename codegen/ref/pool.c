/* Reference pooling in float and double: instantiates pool_impl.h twice (instantiate.h).
 * What this is not: fast; see pool_impl.h for the semantics.
 */
#include <string.h>

#include "codegen/ref/ref.h"

/* The in-bounds part [*lo, *hi) of a window starting at `start` with size k over [0, in). */
static void pool_clip(int start, int k, int in, int *lo, int *hi) {
    *lo = start < 0 ? 0 : start;
    *hi = start + k > in ? in : start + k;
    if (*hi < *lo) *hi = *lo;
}

/* Flat index of x[b, iy, ix, ci] in an [n,h,w,c] tensor. */
static size_t pool_index(const RefWindow *win, int b, int iy, int ix, int ci) {
    return (((size_t)b * (size_t)win->h + (size_t)iy) * (size_t)win->w + (size_t)ix) *
               (size_t)win->c +
           (size_t)ci;
}

static size_t pool_input_size(const RefWindow *win) {
    return (size_t)win->n * (size_t)win->h * (size_t)win->w * (size_t)win->c;
}

#define REF_IMPL "codegen/ref/pool_impl.h"
#include "codegen/ref/instantiate.h"

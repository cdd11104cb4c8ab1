/* Reference convolutions in float and double: instantiates conv_impl.h twice (instantiate.h).
 * What this is not: a fast convolution; see conv_impl.h for the im2col + gemm scheme.
 */
#include <string.h>

#include "codegen/ref/ref.h"

/* Flat index of x[b, iy, ix, 0] in an [n,h,w,c] tensor. */
static size_t conv_pixel(const RefWindow *win, int b, int iy, int ix) {
    return (((size_t)b * (size_t)win->h + (size_t)iy) * (size_t)win->w + (size_t)ix) *
           (size_t)win->c;
}

#define REF_IMPL "codegen/ref/conv_impl.h"
#include "codegen/ref/instantiate.h"

/* See pb_alloc.h: protobuf-c's allocator on fn_malloc and free. Not a pool. */
#include "runtime/core/pb_alloc.h"

#include <stdlib.h>

#include "ir/alloc.h"

static void *pb_alloc(void *data, size_t n) {
    void *p = fn_malloc(n);
    if (!p && data) *(int *)data = 1;
    return p;
}

static void pb_free(void *data, void *p) {
    (void)data;
    free(p);
}

ProtobufCAllocator rt_pb_allocator = {pb_alloc, pb_free, NULL};

ProtobufCAllocator rt_pb_allocator_noting(int *oom) {
    *oom = 0;
    return (ProtobufCAllocator){pb_alloc, pb_free, oom};
}

/* The protobuf-c allocator of fn's readers: its unpack allocates through ir/alloc.h's fn_malloc,
 * so an allocation failure is a failed unpack (reported as such by the caller) and the
 * allocation walk reaches it. Pass &rt_pb_allocator to *__unpack and *__free_unpacked alike.
 * Not here: packing (the writers pack into buffers they allocate themselves). */
#ifndef FN_RT_PB_ALLOC_H
#define FN_RT_PB_ALLOC_H

#include <protobuf-c/protobuf-c.h>

extern ProtobufCAllocator rt_pb_allocator;
/* The same allocator, setting *oom to 1 when an allocation fails: a reader can then tell "out
 * of memory" from "corrupt" after a failed unpack. */
ProtobufCAllocator rt_pb_allocator_noting(int *oom);

#endif

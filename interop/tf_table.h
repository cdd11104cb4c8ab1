/* The sorted string table (LevelDB's SSTable format) that holds a TensorFlow V2 checkpoint's
 * .index file.
 *
 * What this is: a checked reader of a whole table held in memory: the 48-byte footer, the
 * metaindex and index blocks, and every data block in the index's order, each block's masked
 * CRC-32C verified and every varint, length and offset checked against the buffer; entries are
 * handed to a visitor in key order. What this is not: a general LevelDB reader: no compression
 * (a Snappy block is an error naming it; TensorFlow writes its .index uncompressed), no filter
 * blocks, no lookup by key, no writer. Also declares the few helpers both TensorFlow readers
 * share (dtype names, whole-file mapping), defined in tf_checkpoint.c.
 */
#ifndef FN_INTEROP_TF_TABLE_H
#define FN_INTEROP_TF_TABLE_H

#include <stddef.h>

#include "runtime/core/rt.h"

/* One entry: key[0..nkey) with a NUL after it (a key may itself hold NULs), and its value,
 * which points into the table's buffer. Returns 0 to go on, or -1 with st filled to stop. */
typedef int (*IxTableVisit)(void *ctx, const char *key, size_t nkey, const unsigned char *val,
                            size_t nval, RtStatus *st);

/* Visits every entry of the table d[0..n) in order; keys must be strictly increasing. Returns 0,
 * or -1 with a one-line message naming the file `name` (and the block's offset) or the
 * visitor's own message. */
int ix_tf_table_scan(const unsigned char *d, size_t n, const char *name, IxTableVisit visit,
                     void *ctx, RtStatus *st);

/* ---- shared by tf_checkpoint.c and tf_graph.c (defined in tf_checkpoint.c) ---- */

/* TensorFlow's DataType as fn names it: "float32", "float64", "int32", "uint8", "int16", "int8",
 * "string", "complex64", "int64", "bool", "qint8", "quint8", "qint32", "bfloat16", "qint16",
 * "quint16", "uint16", "complex128", "float16", "resource", "variant", "uint32", "uint64"
 * (a reference type, value + 100, as its base), else "dtype<N>". Writes into buf[16]. */
const char *ix_tf_dtype_name(int dtype, char *buf);
/* Bytes per element of a fixed-width DataType (a reference type as its base), 0 for string,
 * resource, variant and unknown types. */
int ix_tf_dtype_size(int dtype);

/* A whole file, read-only (mmap'ed; an empty file gives n = 0). -1 with st naming path. */
typedef struct {
    const unsigned char *d;
    size_t n;
    void *map;
} IxTfFile;
int ix_tf_file_open(const char *path, IxTfFile *f, RtStatus *st);
void ix_tf_file_close(IxTfFile *f);

#endif

/* CRC-32C (Castagnoli), as LevelDB and TensorFlow's checkpoints use it.
 *
 * What this is: the plain checksum (reflected polynomial 0x82f63b78, initial and final value
 * inverted; "123456789" gives 0xe3069283), extendable over pieces, and LevelDB's mask/unmask of a
 * stored checksum. What this is not: a fast (hardware or slicing-by-8) implementation; one table
 * lookup per byte.
 */
#ifndef FN_INTEROP_CRC32C_H
#define FN_INTEROP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of data[0..n) continued from crc, the CRC-32C of what came before (0 to start). */
uint32_t ix_crc32c_extend(uint32_t crc, const void *data, size_t n);
static inline uint32_t ix_crc32c(const void *data, size_t n) {
    return ix_crc32c_extend(0, data, n);
}

/* LevelDB stores rotate-right-15 plus a constant, so a checksum of bytes holding checksums
 * does not degenerate. */
static inline uint32_t ix_crc32c_mask(uint32_t crc) {
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
static inline uint32_t ix_crc32c_unmask(uint32_t m) {
    uint32_t r = m - 0xa282ead8u;
    return (r >> 17) | (r << 15);
}

#endif

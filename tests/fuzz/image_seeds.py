"""Seeds for the image fuzz target: tiny valid PNGs of each colour type (tests/fuzz/run.sh)."""
import struct, sys, zlib
out = sys.argv[1]
def png(w, h, ctype, bpp, name):
    raw = b"".join(b"\0" + bytes((x * 37 + y * 11 + c) & 255 for x in range(w) for c in range(bpp)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(f"{out}/{name}", "wb").write(data)
png(5, 4, 2, 3, "rgb.png"); png(3, 3, 0, 1, "grey.png"); png(4, 2, 6, 4, "rgba.png"); png(30, 26, 2, 3, "big.png")

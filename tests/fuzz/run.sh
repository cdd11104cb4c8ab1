#!/usr/bin/env bash
# Builds the image-decoding fuzz target with clang (libFuzzer + ASan + UBSan) and runs it.
# Usage: tests/fuzz/run.sh SECONDS [WORKDIR]. Seeds: generated PNG/JPEG files, plus LFW JPEGs
# when ../shared/data is present. Exits non-zero on any crash; prints the execution count.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
work=${2:-$(mktemp -d)}
command -v clang >/dev/null || { echo "skip: clang not installed"; exit 77; }
mkdir -p "$work/corpus"
clang -g -O1 -std=c11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  tests/fuzz/fuzz_image.c runtime/image.c runtime/augment.c runtime/status.c \
  -ljpeg -lpng -lz -lm -o "$work/fuzz_image"
# seeds: tiny valid images of each kind
python3 - "$work/corpus" <<'PY'
import struct, sys, zlib
out = sys.argv[1]
def png(w, h, ctype, bpp, name):
    raw = b"".join(b"\0" + bytes((x * 37 + y * 11 + c) & 255 for x in range(w) for c in range(bpp)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(f"{out}/{name}", "wb").write(data)
png(5, 4, 2, 3, "rgb.png"); png(3, 3, 0, 1, "grey.png"); png(4, 2, 6, 4, "rgba.png"); png(30, 26, 2, 3, "big.png")
PY
if [ -d ../shared/data/lfw/lfw-deepfunneled ]; then
  find ../shared/data/lfw/lfw-deepfunneled -name '*.jpg' | sort | sed -n '1,8p' | xargs -I{} cp {} "$work/corpus/"
fi
cp ../shared/data/faces/*.jpg "$work/corpus/" 2>/dev/null || true
"$work/fuzz_image" "$work/corpus" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 2>"$work/log" || { tail -40 "$work/log"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log"
echo "fuzz_image: no crash in ${secs} s"

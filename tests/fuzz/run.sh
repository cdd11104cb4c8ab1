#!/usr/bin/env bash
# Builds one libFuzzer target (clang, ASan + UBSan) and runs it.
# Usage: tests/fuzz/run.sh TARGET SECONDS [WORKDIR], TARGET one of tests/fuzz/fuzz_*.c without
# "fuzz_" and ".c" (ls tests/fuzz/fuzz_*.c). A target lists what it links in
# its own header lines: "// fuzz-sources: FILES", "// fuzz-libs: FLAGS", "// fuzz-protos: NAMES"
# (protobuf-c schemas under runtime/*/proto or interop/proto, compiled here) and
# "// fuzz-seeds: GLOBS" (seed files, relative to the repository). Exits non-zero on any crash;
# prints the execution count.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tests/fuzz/run.sh TARGET SECONDS [WORKDIR]}
secs=${2:-60}
work=${3:-$(mktemp -d)}
src=tests/fuzz/fuzz_$target.c
[ -f "$src" ] || { echo "no fuzz target $src" >&2; exit 2; }
command -v clang >/dev/null || { echo "skip: clang not installed"; exit 77; }
field() { sed -n "s|^// $1: ||p" "$src" | head -1; }
mkdir -p "$work/corpus" "$work/gen"
protos=""
for p in $(field fuzz-protos); do
  f=$(ls runtime/*/proto/$p.proto interop/proto/$p.proto 2>/dev/null | head -1 || true)
  protoc-c --proto_path=. --c_out="$work/gen" "$f"
  protos="$protos $work/gen/${f%.proto}.pb-c.c"
done
# shellcheck disable=SC2046
clang -g -O1 -std=c11 -D_GNU_SOURCE -I. -I"$work/gen" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  "$src" $(field fuzz-sources) $protos $(field fuzz-libs) -o "$work/fuzz_$target"
for g in $(field fuzz-seeds); do cp $g "$work/corpus/" 2>/dev/null || true; done
# generated seeds: tests/fuzz/<target>_seeds.py OUT_DIR, where a target has one
if [ -f "tests/fuzz/${target}_seeds.py" ]; then python3 "tests/fuzz/${target}_seeds.py" "$work/corpus"; fi
if [ "$target" = image ]; then
  if [ -d ../shared/data/lfw/lfw-deepfunneled ]; then
    find ../shared/data/lfw/lfw-deepfunneled -name '*.jpg' | sort | sed -n '1,8p' | xargs -I{} cp {} "$work/corpus/"
  fi
  cp ../shared/data/faces/*.jpg "$work/corpus/" 2>/dev/null || true
fi
"$work/fuzz_$target" "$work/corpus" -artifact_prefix="$work/" -max_total_time="$secs" -max_len=${FN_FUZZ_MAX_LEN:-65536} -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>"$work/log" || {
  # the report's head (what and where: the stack) and its tail (the input, as base64)
  grep -m1 -A32 -E "ERROR: [A-Za-z]+Sanitizer|runtime error|deadly signal" "$work/log" || true
  echo "..."; tail -8 "$work/log"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log"
echo "fuzz_$target: no crash in ${secs} s"

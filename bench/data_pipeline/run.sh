#!/usr/bin/env bash
# Data-pipeline benchmark: fn (C, libjpeg-turbo) against PIL + NumPy, same images, same work,
# one core each, in one run. Usage: bench/data_pipeline/run.sh [BUILD_DIR] [N_IMAGES]
# Appends a CSV row to bench/data_pipeline/results.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
n=${2:-3000}
lfw=../shared/data/lfw/lfw-deepfunneled
[ -d "$lfw" ] || { echo "skip: $lfw not present"; exit 0; }
python3 -c "import PIL, numpy" 2>/dev/null || pip install -q pillow numpy
cmake --build "$build" --target bench_pipeline >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$lfw" -name '*.jpg' | sort | awk -v n="$n" 'NR % 4 == 1 && c < n { print; c++ }' >"$tmp/list"
OPENBLAS_NUM_THREADS=1 taskset -c 0 "$build/bench_pipeline" "$tmp/list" "$n" --dump "$tmp/dump.bin" 20 | tee "$tmp/fn.txt"
taskset -c 0 python3 bench/data_pipeline/pil_pipeline.py "$tmp/list" "$n" --check "$tmp/dump.bin" 20 | tee "$tmp/pil.txt"
fn=$(sed -n 's/^fn images\/s per core: \([0-9.]*\).*/\1/p' "$tmp/fn.txt")
pil=$(sed -n 's/^PIL images\/s per core: \([0-9.]*\).*/\1/p' "$tmp/pil.txt")
ratio=$(python3 -c "print(f'{$fn / $pil:.2f}')")
echo "fn / PIL per core: ${ratio}x (goal >= 3x; fn goal >= 1000 images/s per core)"
csv=bench/data_pipeline/results.csv
[ -f "$csv" ] || echo "date,machine,commit,images,fn_per_core,pil_per_core,ratio" >"$csv"
echo "$(date -u +%FT%TZ),$(uname -m) $(nproc)cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs),$(git rev-parse --short HEAD),$n,$fn,$pil,$ratio" >>"$csv"

#!/usr/bin/env bash
# Alignment benchmark: `fnrun align` (C, MTCNN nets compiled from models/mtcnn) against
# facenet-pytorch's MTCNN on the CPU (bench/align/pytorch_align.py), same LFW images, same
# work (detect, choose the face, margin crop, bilinear resize to 160, PNG), all cores each.
# Usage: bench/align/run.sh [BUILD_DIR] [N_IMAGES]     (defaults: build, 1000)
# Env: PT_BATCH (images per facenet-pytorch call in its batched run; default 16, 0 = skip it).
# Appends a CSV row to bench/align/results.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
n=${2:-1000}
pt_batch=${PT_BATCH:-16}
lfw=../shared/data/lfw/lfw-deepfunneled
weights=../shared/data/mtcnn
[ -d "$lfw" ] || { echo "skip: $lfw not present"; exit 0; }
[ -f "$weights/det1.npy" ] || { echo "skip: $weights/det1.npy not present"; exit 0; }

# The peer: torch (CPU build first, then PyPI's), torchvision (its NMS), facenet-pytorch (with
# --no-deps: its pinned torch range is older than the torch we get), and what it imports.
python3 -c "import torch" 2>/dev/null ||
  pip install -q --retries 1 torch torchvision --index-url https://download.pytorch.org/whl/cpu ||
  pip install -q torch torchvision
python3 -c "import torchvision" 2>/dev/null || pip install -q torchvision
python3 -c "import facenet_pytorch" 2>/dev/null || pip install -q --no-deps facenet-pytorch
python3 -c "import PIL, numpy, requests, tqdm" 2>/dev/null || pip install -q pillow numpy requests tqdm
python3 -c "from facenet_pytorch import MTCNN"

# A CMake build dir is brought up to date; any other dir must hold a built fnrun.
if [ -f "$build/CMakeCache.txt" ]; then cmake --build "$build" --target fnrun >/dev/null; fi
[ -x "$build/fnrun" ] || { echo "no $build/fnrun"; exit 1; }
cores=$(nproc)
load=$(cut -d" " -f1 /proc/loadavg)
if python3 -c "import sys; sys.exit(not $load > 0.5)"; then
  echo "warning: load average $load: other work on the machine slows both sides (OpenMP waits on busy cores)"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# N images, deterministic: the first N files in (class, file) byte order, linked into
# TMP/in/<class>/.
find "$lfw" -mindepth 2 -maxdepth 2 -name '*.jpg' | LC_ALL=C sort | awk -v n="$n" 'NR <= n' >"$tmp/list"
while read -r f; do
  c=$(basename "$(dirname "$f")")
  mkdir -p "$tmp/in/$c"
  ln -s "$(realpath "$f")" "$tmp/in/$c/"
done <"$tmp/list"
n=$(wc -l <"$tmp/list")

# fn: its own thread count (all cores by default). Its throughput is the `time:` line it prints;
# wall time around the whole command (model build and load included) is the fallback.
echo "== fn"
t0=$(date +%s.%N)
"$build/fnrun" align "$tmp/in" "$tmp/fn" --image_size 160 --margin 32 \
  --mtcnn_weights "$weights" >"$tmp/fn.txt" 2>"$tmp/fn.err" || {
  tail -n 20 "$tmp/fn.err" "$tmp/fn.txt"; echo "fnrun align failed"; exit 1; }
t1=$(date +%s.%N)
cat "$tmp/fn.txt" "$tmp/fn.err" | tr '\r' '\n' >"$tmp/fn.all"  # the summary may be on either stream
grep -E '^(Total number|Number of successfully|time:)' "$tmp/fn.all" || true
fn=$(sed -n 's/^time: .*, \([0-9.]*\) images\/s.*/\1/p' "$tmp/fn.all" | tail -n 1)
fn_wall=$(python3 -c "print(f'{$n / ($t1 - $t0):.2f}')")
if [ -z "$fn" ]; then
  echo "(no 'time: X s, Y images/s' line from fnrun; using the wall time, load included)"
  fn=$fn_wall
fi

# fn again writing PNGs at zlib level 6, PIL's default, which the peer uses: the same bytes of work
echo "== fn, --png_compression 6"
"$build/fnrun" align "$tmp/in" "$tmp/fn6" --image_size 160 --margin 32 --png_compression 6 \
  --mtcnn_weights "$weights" >"$tmp/fn6.txt" 2>&1 || { tail -n 20 "$tmp/fn6.txt"; exit 1; }
fn6=$(tr '\r' '\n' <"$tmp/fn6.txt" | sed -n 's/^time: .*, \([0-9.]*\) images\/s.*/\1/p' | tail -n 1)
echo "images/s: $fn6"

# PyTorch: one image at a time (as the reference), then batched; the faster is the headline.
echo "== facenet-pytorch, one image at a time"
OMP_NUM_THREADS=$cores python3 bench/align/pytorch_align.py "$tmp/in" "$tmp/pt" \
  --image_size 160 --margin 32 --threads "$cores" >"$tmp/pt.txt" 2>"$tmp/pt.err" || {
  tail -n 20 "$tmp/pt.err"; echo "pytorch_align.py failed"; exit 1; }
grep -E '^(Total number|Number of successfully|time:|images/s:)' "$tmp/pt.txt"
pt1=$(sed -n 's/^images\/s: \([0-9.]*\)/\1/p' "$tmp/pt.txt")
pt=$pt1 pt_mode=single ptb=
if [ "$pt_batch" -gt 1 ]; then
  echo "== facenet-pytorch, batches of $pt_batch"
  OMP_NUM_THREADS=$cores python3 bench/align/pytorch_align.py "$tmp/in" "$tmp/ptb" \
    --image_size 160 --margin 32 --threads "$cores" --batch "$pt_batch" >"$tmp/ptb.txt" 2>"$tmp/ptb.err" || {
    tail -n 20 "$tmp/ptb.err"; echo "pytorch_align.py --batch failed"; exit 1; }
  grep -E '^(Number of successfully|images/s:)' "$tmp/ptb.txt"
  ptb=$(sed -n 's/^images\/s: \([0-9.]*\)/\1/p' "$tmp/ptb.txt")
  if python3 -c "import sys; sys.exit(not $ptb > $pt1)"; then pt=$ptb pt_mode=batch$pt_batch; fi
fi

echo "== boxes, fn against facenet-pytorch (one at a time)"
python3 bench/align/compare_boxes.py "$tmp/fn" "$tmp/pt" | tee "$tmp/cmp.txt"
read -r fn_aligned pt_aligned both miou fiou < <(tail -n 1 "$tmp/cmp.txt")

ratio=$(python3 -c "print(f'{$fn / $pt:.2f}')")
ratio6=$(python3 -c "print(f'{$fn6 / $pt:.2f}')")
echo
echo "| $n LFW images, $cores cores | fn | facenet-pytorch |"
echo "|---|---|---|"
echo "| images/s | $fn (PNG level 1, the default); $fn6 (level 6, as PIL) | $pt ($pt_mode; one at a time $pt1${ptb:+, batch $pt_batch $ptb}) |"
echo "| aligned | $fn_aligned | $pt_aligned |"
echo "| fn / PyTorch | ${ratio}x (at PNG level 6: ${ratio6}x) | |"
echo "| boxes both aligned ($both) | mean IoU $miou | IoU >= 0.9: $fiou |"
echo "(fn wall time incl. load: $fn_wall images/s)"

csv=bench/align/results.csv
[ -f "$csv" ] || echo "date,machine,cores,commit,images,fn_img_s,fn_png6_img_s,pt_img_s,pt_mode,ratio,ratio_png6,fn_aligned,pt_aligned,mean_iou,frac_iou_ge_0.9" >"$csv"
echo "$(date -u +%FT%TZ),$(uname -m) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs),$cores,$(git rev-parse --short HEAD),$n,$fn,$fn6,$pt,$pt_mode,$ratio,$ratio6,$fn_aligned,$pt_aligned,$miou,$fiou" >>"$csv"

#!/usr/bin/env bash
# CPU throughput against PyTorch on the CPU running the same network (bench/ref), in one run on
# this machine, all cores each:
# - training: fn's Inception-ResNet-v1 step (fnrun train, ADAM, 160x160, batch 32 by default),
#   its rate from the per-step "Time" lines after the first step (warm-up), and peak RSS;
#   PyTorch's from bench/ref/train_step.py (fp32, the same warm-up rule);
# - embeddings: the eval graph at batch 100 (bench/cpu/embed_bench against train_step.py --embed).
# Usage: bench/cpu/run.sh [BUILD_DIR] [BATCH] [STEPS] [ROUNDS]   Appends a row to bench/cpu/results.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
batch=${2:-32}
steps=${3:-4}
rounds=${4:-3}
python3 -c "import torch" 2>/dev/null || pip install -q torch
cmake --build "$build" --target fnrun fnc fn_gendata embed_bench >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/fn_gendata" "$tmp/data" 16 16 182 1 >/dev/null
"$build/fnc" compile models/inception_resnet_v1.fn -o "$tmp/irv1.fnc" >/dev/null
# Each side runs ROUNDS times, alternating (this machine's speed drifts by 10-20% over minutes);
# the rates are the medians, peak RSS the largest.
median() { python3 -c "import sys, statistics; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
fns=() pts=() fes=() pes=() fn_rss=0 pt_rss=0
for r in $(seq "$rounds"); do
  rm -rf "$tmp/logs" "$tmp/models"
  /usr/bin/time -v "$build/fnrun" train "$tmp/irv1.fnc" --data_dir "$tmp/data" --logs_base_dir "$tmp/logs" \
    --models_base_dir "$tmp/models" --image_size 160 --batch_size "$batch" --epoch_size "$((steps + 1))" \
    --max_nrof_epochs 1 --optimizer ADAM --learning_rate 0.01 --embedding_size 512 \
    --use_fixed_image_standardization --validate_every_n_epochs 100 >"$tmp/fn.txt" 2>"$tmp/fn.time"
  fns+=("$(awk -v b="$batch" '/^Epoch: \[1\]/ { n++; if (n > 1) { t += $4 } } END { printf "%.2f", b * (n - 1) / t }' \
    FS='\t| ' "$tmp/fn.txt")")
  rss=$(awk '/Maximum resident/ { printf "%.0f", $6 / 1024 }' "$tmp/fn.time")
  [ "$rss" -gt "$fn_rss" ] && fn_rss=$rss
  /usr/bin/time -v python3 bench/ref/train_step.py --device cpu --batch "$batch" --mode fp32 --steps "$steps" \
    --warmup 1 --rounds 1 --classes 16 >"$tmp/pt.txt" 2>"$tmp/pt.time"
  pts+=("$(sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p' "$tmp/pt.txt")")
  rss=$(awk '/Maximum resident/ { printf "%.0f", $6 / 1024 }' "$tmp/pt.time")
  [ "$rss" -gt "$pt_rss" ] && pt_rss=$rss
  fes+=("$("$build/embed_bench" --batch 100 --reps 3 | sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p')")
  pes+=("$(python3 bench/ref/train_step.py --device cpu --batch 100 --mode fp32 --steps 3 --warmup 1 --rounds 1 --classes 16 \
    --embed | sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p')")
  echo "round $r: training fn ${fns[-1]} PyTorch ${pts[-1]}; embeddings fn ${fes[-1]} PyTorch ${pes[-1]} images/s"
done
fn=$(median "${fns[@]}") pt=$(median "${pts[@]}") fe=$(median "${fes[@]}") pe=$(median "${pes[@]}")
ratio=$(python3 -c "print(f'{$fn / $pt:.2f}')")
eratio=$(python3 -c "print(f'{$fe / $pe:.2f}')")
echo "| Inception-ResNet-v1, 160x160, $(nproc) cores, median of $rounds | fn | PyTorch CPU | fn / PyTorch |"
echo "|---|---|---|---|"
echo "| training images/s, batch $batch | $fn | $pt | ${ratio}x |"
echo "| training peak RSS (MiB) | $fn_rss | $pt_rss | |"
echo "| embedding images/s, batch 100 | $fe | $pe | ${eratio}x |"
csv=bench/cpu/results.csv
[ -f "$csv" ] || echo "date,commit,cores,batch,fn_img_s,pt_img_s,ratio,fn_rss_mib,pt_rss_mib,fn_embed_img_s,pt_embed_img_s" >"$csv"
echo "$(date -u +%FT%TZ),$(git rev-parse --short HEAD),$(nproc),$batch,$fn,$pt,$ratio,$fn_rss,$pt_rss,$fe,$pe" >>"$csv"

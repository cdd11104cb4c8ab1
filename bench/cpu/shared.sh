#!/usr/bin/env bash
# fn's training step when it shares the machine (issue 27): the same run alone, beside a PyTorch
# training (bench/ref/train_step.py, all cores) and beside a second fn training, in one run on
# this machine. Real data: LFW people with at least 20 images (../shared/data), else a dataset
# fn_gendata makes; Inception-ResNet-v1 at 96x96, batch 32, ADAM, steps 2..STEPS+1 timed (the
# "Time" column of fnrun's log). Prints the median step of each and the slowdowns; the goal is
# about the share of cores lost (<= 2.5x on 2 cores with one competitor).
# Usage: bench/cpu/shared.sh [BUILD_DIR] [STEPS]   (PyTorch: python3 with torch on PATH, e.g. the
# venv of bench/interop/setup.sh; without it that row is skipped)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
steps=${2:-8}
cmake --build "$build" --target fnrun fnc fn_gendata >/dev/null
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
lfw=../shared/data/lfw/lfw-deepfunneled
if [ -d "$lfw" ]; then
  mkdir "$tmp/data"
  for d in "$lfw"/*/; do
    [ "$(ls "$d" | wc -l)" -ge 20 ] && ln -s "$(cd "$d" && pwd)" "$tmp/data/$(basename "$d")"
  done
  what="LFW, $(ls "$tmp/data" | wc -l) people with 20+ images"
else
  "$build/fn_gendata" "$tmp/data" 62 20 250 1 >/dev/null
  what="generated, 62 classes"
fi
"$build/fnc" compile models/inception_resnet_v1.fn -o "$tmp/irv1.fnc" >/dev/null
# fn_train RUN STEPS: one fnrun training of STEPS steps, its log on stdout
fn_train() {
  exec "$build/fnrun" train "$tmp/irv1.fnc" --data_dir "$tmp/data" --logs_base_dir "$tmp/$1/logs" \
    --models_base_dir "$tmp/$1/models" --image_size 96 --batch_size 32 --epoch_size "$2" --max_nrof_epochs 1 \
    --optimizer ADAM --learning_rate 0.01 --embedding_size 128 --use_fixed_image_standardization \
    --validate_every_n_epochs 100 --nrof_preprocess_threads 2 2>&1
}
# train RUN STEPS: the per-step times after the first
train() { (fn_train "$1" "$2") | awk -F'\t| ' '/^Epoch: \[1\]/ { n++; if (n > 1) print $4 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
isa=$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || (grep -qw avx2 /proc/cpuinfo && echo AVX2 || echo SSE))
alone=$(train alone $((steps + 1)) | median)
rows=("| alone | $alone | 1.00x |")
if python3 -c "import torch" 2>/dev/null; then
  python3 bench/ref/train_step.py --device cpu --batch 32 --image_size 96 --mode fp32 --steps 100000 --warmup 1 \
    --rounds 1 --classes 62 >/dev/null 2>&1 &
  pids+=($!)
  sleep 20 # its model built and stepping
  t=$(train torch $((steps + 1)) | median)
  rows+=("| beside a PyTorch training | $t | $(python3 -c "print(f'{$t / $alone:.2f}')")x |")
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
fi
(fn_train other 1000) >/dev/null &
pids+=($!)
sleep 20 # past its compile and first steps
t=$(train fn $((steps + 1)) | median)
rows+=("| beside a second fn training | $t | $(python3 -c "print(f'{$t / $alone:.2f}')")x |")
echo "| fn training step, $what, 96x96, batch 32; $cpu ($isa), $(nproc) CPUs, $(git rev-parse --short HEAD) | seconds (median) | slowdown |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"

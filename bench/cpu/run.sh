#!/usr/bin/env bash
# CPU throughput against the peers running the same network on this machine, in one run, all
# cores each, rounds alternating (this machine's speed drifts by 10-20% over minutes):
# - training: fn's Inception-ResNet-v1 step (fnrun train, ADAM, 160x160, batch 32 by default),
#   its rate from the per-step "Time" lines after the first step (warm-up), and peak RSS;
#   PyTorch's from bench/ref/train_step.py (float32, the same warm-up rule) in NCHW and
#   channels_last (and under torch.compile with PT_COMPILE=1: minutes of compiling per round);
# - embeddings: the eval graph at batch 100 (bench/cpu/embed_bench) against PyTorch
#   (train_step.py --embed, the same modes) and ONNX Runtime on fn's own export of the same
#   network (bench/cpu/ort_embed.py; skipped when onnxruntime is not importable).
# The ratios are against the fastest PyTorch mode measured. Every row names the CPU and the
# instruction set fn's kernels ran (FN_CPU_ISA=avx2 forces the AVX2 ones on an AVX-512 machine).
# Usage: bench/cpu/run.sh [BUILD_DIR] [BATCH] [STEPS] [ROUNDS]   Appends a row to bench/cpu/results.csv.
# Python: the first python3 on PATH (PATH=~/.cache/fn-interop/bin:$PATH has torch and onnxruntime).
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
ort=0
if python3 -c "import onnxruntime" 2>/dev/null; then
  "$build/fnrun" export "$tmp/irv1.fnc" -o "$tmp/irv1.onnx" >/dev/null && ort=1
fi
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
isa=$("$build/fnc" info models/inception_resnet_v1.fn 2>/dev/null | sed -n 's/^ *cpu_isa = //p' | head -1)
modes=(fp32 cl)
[ "${PT_COMPILE:-0}" = 1 ] && modes+=(cl-compile)
median() { python3 -c "import sys, statistics; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
rate() { sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p' "$1"; }
declare -A pt pe
fns=() fes=() ors=() fn_rss=0 pt_rss=0
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
  fes+=("$("$build/embed_bench" --batch 100 --reps 3 | sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p')")
  line="round $r: fn training ${fns[-1]}, embeddings ${fes[-1]}"
  for m in "${modes[@]}"; do
    /usr/bin/time -v python3 bench/ref/train_step.py --device cpu --batch "$batch" --mode "$m" --steps "$steps" \
      --warmup 1 --rounds 1 --classes 16 >"$tmp/pt.txt" 2>"$tmp/pt.time"
    pt[$m]="${pt[$m]:-} $(rate "$tmp/pt.txt")"
    rss=$(awk '/Maximum resident/ { printf "%.0f", $6 / 1024 }' "$tmp/pt.time")
    [ "$rss" -gt "$pt_rss" ] && pt_rss=$rss
    python3 bench/ref/train_step.py --device cpu --batch 100 --mode "$m" --steps 3 --warmup 1 --rounds 1 --classes 16 \
      --embed >"$tmp/pe.txt"
    pe[$m]="${pe[$m]:-} $(rate "$tmp/pe.txt")"
    line+="; PyTorch $m training $(rate "$tmp/pt.txt"), embeddings $(rate "$tmp/pe.txt")"
  done
  if [ "$ort" = 1 ]; then
    ors+=("$(python3 bench/cpu/ort_embed.py "$tmp/irv1.onnx" --batch 100 --runs 3 | sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p')")
    line+="; ONNX Runtime embeddings ${ors[-1]}"
  fi
  echo "$line images/s"
done
fn=$(median "${fns[@]}") fe=$(median "${fes[@]}")
best_pt=0 best_pe=0 best_m="" best_em=""
for m in "${modes[@]}"; do
  # shellcheck disable=SC2086
  t=$(median ${pt[$m]}) e=$(median ${pe[$m]})
  if python3 -c "import sys; sys.exit(not $t > $best_pt)"; then best_pt=$t best_m=$m; fi
  if python3 -c "import sys; sys.exit(not $e > $best_pe)"; then best_pe=$e best_em=$m; fi
done
or=$([ "$ort" = 1 ] && median "${ors[@]}" || echo 0)
ratio=$(python3 -c "print(f'{$fn / $best_pt:.2f}')")
eratio=$(python3 -c "print(f'{$fe / $best_pe:.2f}')")
oratio=$(python3 -c "print(f'{$fe / $or:.2f}' if $or > 0 else '-')")
echo "| Inception-ResNet-v1, 160x160; $cpu, $(nproc) cores; fn's ISA $isa; median of $rounds | fn | fastest PyTorch CPU mode | fn / PyTorch | ONNX Runtime | fn / ORT |"
echo "|---|---|---|---|---|---|"
echo "| training images/s, batch $batch | $fn | $best_pt ($best_m) | ${ratio}x | | |"
echo "| training peak RSS (MiB) | $fn_rss | $pt_rss | | | |"
echo "| embedding images/s, batch 100 | $fe | $best_pe ($best_em) | ${eratio}x | $or | ${oratio}x |"
csv=bench/cpu/results.csv
head=$(head -1 "$csv" 2>/dev/null || true)
if [ "$head" != "${head%pt_rss_mib,fn_embed_img_s,pt_embed_img_s}" ]; then # the old header: a new file
  mv "$csv" bench/cpu/results_until_issue27.csv
fi
[ -f "$csv" ] || echo "date,commit,cpu,isa,cores,batch,fn_img_s,pt_img_s,pt_mode,ratio,fn_rss_mib,pt_rss_mib,fn_embed_img_s,pt_embed_img_s,pt_embed_mode,ort_embed_img_s" >"$csv"
echo "$(date -u +%FT%TZ),$(git rev-parse --short HEAD),\"$cpu\",\"$isa\",$(nproc),$batch,$fn,$best_pt,$best_m,$ratio,$fn_rss,$pt_rss,$fe,$best_pe,$best_em,$or" >>"$csv"

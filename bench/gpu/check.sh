#!/usr/bin/env bash
# The one script for a lent GPU machine. Here first: bench/gpu/bundle.sh (packs fnc, the GPU test
# programs and their libraries into bench/gpu/bundle/); then, through the device tool, from the
# repository root with carry ["bench/gpu/bundle"]:  bash bench/gpu/check.sh [STEPS]
# Stages, printed as one table at the end (full logs under $OUT):
#   1. the card;
#   2. test_cuda_codegen: the golden CUDA text, and the Inception-ResNet-v1 step's kernels and all
#      templates compiled by the machine's NVRTC for sm_90;
#   3. test_gpu_exec: fn's GPU executor against its CPU executor (three steps of four graphs:
#      outputs and trained variables within 1e-4 relative);
#   4. fn's CUDA module for the card's own architecture;
#   5. the PyTorch peer's training step (bench/ref/train_step.py): fp32, channels_last + bf16
#      autocast, and torch.compile, batch 90 and 256, 160x160.
# fn's whole training step on the GPU (fnrun train --device gpu) joins this table when it lands.
set -uo pipefail
steps=${1:-30}
out=${OUT:-/tmp/fn_gpu_out}
mkdir -p "$out"
b=bench/gpu/bundle
export LD_LIBRARY_PATH="$PWD/$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export FN_KERNEL_CACHE="$out/kernels"
rows=()
row() { rows+=("$1"); echo "$1" >>"$out/table.txt"; }
last() { tail -n "$1" "$2" | tr '\n' ' ' | cut -c1-400; }

card=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
row "| card | ${card:-no nvidia-smi} |"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '.')
arch=sm_${arch:-90}

if [ -x "$b/bin/test_gpu_exec" ]; then
    timeout 300 "$b/bin/test_cuda_codegen" >"$out/cuda_codegen.txt" 2>&1
    row "| test_cuda_codegen (rc $?) | $(grep -E 'NVRTC [0-9]|train/ADAM: comp|checks passed' "$out/cuda_codegen.txt" | tr '\n' ' ' | cut -c1-400) |"
    timeout 300 "$b/bin/test_gpu_exec" >"$out/gpu_exec.txt" 2>&1
    row "| test_gpu_exec (rc $?) | $(last 6 "$out/gpu_exec.txt") |"
    timeout 120 "$b/bin/fnc" cuda models/inception_resnet_v1.fn --optimizer ADAM --nvrtc "$arch" >"$out/fnc_cuda.txt" 2>&1
    row "| fnc cuda --nvrtc $arch (rc $?) | $(last 2 "$out/fnc_cuda.txt") |"
else
    row "| fn | not checked: run bench/gpu/bundle.sh here and carry bench/gpu/bundle |"
fi

if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    for batch in 90 256; do
        for mode in fp32 amp compile; do
            r=$(timeout 240 python3 bench/ref/train_step.py --device cuda --batch "$batch" --mode "$mode" \
                --steps "$steps" 2>"$out/peer_${mode}_$batch.err" | tail -n 1)
            row "| PyTorch $mode, batch $batch, 160x160 | ${r:-FAILED: $(last 2 "$out/peer_${mode}_$batch.err")} |"
        done
    done
else
    row "| PyTorch peer | torch with CUDA not available |"
fi

echo
echo "| what | result |"
echo "|---|---|"
printf '%s\n' "${rows[@]}"

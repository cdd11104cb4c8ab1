#!/usr/bin/env bash
# The one script for a lent GPU machine (run through the device tool; it starts in the repository
# root, with $OUT for results). Stages, each printed as rows of one table at the end:
#   1. the card (nvidia-smi), NVRTC and the driver found there;
#   2. fn's CUDA module of the Inception-ResNet-v1 training step generated here (build/fnc, carried)
#      and compiled there for the card's architecture, if the bundle was carried;
#   3. the PyTorch peer's training step (bench/ref/train_step.py): fp32, channels_last + bf16
#      autocast, and torch.compile, at batch 90 and 256, 160x160;
# fn's own GPU training step joins when the driver-API runtime lands (issue 8); until then the table
# says so rather than printing a number.
# Usage (device tool): bash bench/gpu/check.sh [STEPS]     carry: build/fnc (stage 2; it needs libprotobuf-c and zlib there)
set -uo pipefail
steps=${1:-30}
out=${OUT:-/tmp/fn_gpu_out}
mkdir -p "$out"
rows=()
row() { rows+=("$1"); echo "$1" >>"$out/table.txt"; }

card=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
row "| card | ${card:-no nvidia-smi} |"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '.')
arch=sm_${arch:-90}

if [ -x build/fnc ] && ldd build/fnc | grep -q "not found"; then
    row "| fn CUDA module | not checked: build/fnc misses $(ldd build/fnc | grep 'not found' | awk '{print $1}' | tr '\n' ' ')there |"
elif [ -x build/fnc ]; then
    t0=$(date +%s.%N)
    if build/fnc cuda models/inception_resnet_v1.fn --optimizer ADAM --nvrtc "$arch" >"$out/fnc_cuda.txt" 2>&1; then
        row "| fn CUDA module, train/ADAM, NVRTC $arch | $(tail -n 2 "$out/fnc_cuda.txt" | tr '\n' ' ') |"
    else
        row "| fn CUDA module, NVRTC $arch | FAILED: $(tail -n 3 "$out/fnc_cuda.txt" | tr '\n' ' ') |"
    fi
else
    row "| fn CUDA module | not checked (carry build/fnc) |"
fi
row "| fn training step on the GPU | not yet: the driver-API runtime is the next step of issue 8 |"

if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    for batch in 90 256; do
        for mode in fp32 amp compile; do
            r=$(timeout 240 python3 bench/ref/train_step.py --device cuda --batch "$batch" --mode "$mode" \
                --steps "$steps" 2>"$out/peer_${mode}_$batch.err" | tail -n 1)
            row "| PyTorch $mode, batch $batch, 160x160 | ${r:-FAILED: $(tail -n 2 "$out/peer_${mode}_$batch.err" | tr '\n' ' ')} |"
        done
    done
else
    row "| PyTorch peer | torch with CUDA not available |"
fi

echo
echo "| what | result |"
echo "|---|---|"
printf '%s\n' "${rows[@]}"

#!/usr/bin/env bash
# fnrun train --device gpu|auto end to end on tests/hostcuda, the host emulation of the CUDA driver,
# NVRTC and cuBLAS (FN_CUDA_EMULATOR): the GPU executor's training step, validation with the
# moving averages kept on the device, checkpoints and resuming, against the same run on the CPU.
# Skips without the emulator library or a C++ compiler (the emulator compiles kernels with `c++`).
source "$(dirname "$0")/lib_cli.sh"

emu=$(cd "$bin" && pwd)/libfn_hostcuda.so
[ -f "$emu" ] && command -v c++ >/dev/null || { echo "no $emu or no c++: skipped"; exit 77; }
# float32 values unless a check says otherwise (the default, bfloat16 activations, is checked below)
export FN_KERNEL_CACHE="$tmp/kernels" FN_HOSTCUDA_SHUFFLE=${FN_HOSTCUDA_SHUFFLE:-5} FN_GPU_BF16=0

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 6 8 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
train() { "$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 8 --embedding_size 8 \
    --epoch_size 4 --logs_base_dir "$tmp/logs" --optimizer ADAM --learning_rate 0.01 --nrof_preprocess_threads 2 \
    --validation_set_split_ratio 0.25 --validate_every_n_epochs 1 --lfw_batch_size 4 --eval_with_moving_averages --seed 3 "$@"; }
losses() { grep '^Epoch' "$1" | awk -F'\t' '{ split($3, f, " "); print f[2] }'; }

train --device cpu --max_nrof_epochs 2 --models_base_dir "$tmp/cpu" >"$tmp/cpu.txt" 2>&1 || bad "CPU run: $(tail -1 "$tmp/cpu.txt")"
FN_CUDA_EMULATOR=$emu train --device gpu --max_nrof_epochs 2 --models_base_dir "$tmp/gpu" >"$tmp/gpu.txt" 2>&1 ||
    bad "emulated GPU run: $(tail -3 "$tmp/gpu.txt")"
grep -q '^Device: fn host emulator' "$tmp/gpu.txt" && ok "the step ran on the emulated GPU" || bad "no emulated device: $(grep -m1 Device "$tmp/gpu.txt")"
n_cpu=$(losses "$tmp/cpu.txt" | wc -l) n_gpu=$(losses "$tmp/gpu.txt" | wc -l)
[ "$n_cpu" -eq 8 ] && [ "$n_gpu" -eq 8 ] && ok "8 steps on each" || bad "steps: CPU $n_cpu, GPU $n_gpu"
# float32 sums in another order: the first steps agree to the printed 3 decimals, later ones drift
# as two CPU paths do (ADAM on batch norm over 8 images)
first=$(paste <(losses "$tmp/cpu.txt" | head -n 3) <(losses "$tmp/gpu.txt" | head -n 3) | awk '$1 != $2' | wc -l)
[ "$first" -eq 0 ] && ok "the first 3 losses equal the CPU's: $(losses "$tmp/gpu.txt" | head -n 3 | tr '\n' ' ')" ||
    bad "losses differ: $(paste <(losses "$tmp/cpu.txt") <(losses "$tmp/gpu.txt") | tr '\n\t' '; ')"
worst=$(paste <(losses "$tmp/cpu.txt") <(losses "$tmp/gpu.txt") |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d / $1 > w) w = d / $1 } END { printf "%.4f", w }')
awk -v w="$worst" 'BEGIN { exit !(w < 0.05) }' && ok "all 8 losses within 5% (worst $worst)" || bad "losses apart by $worst"
v_cpu=$(grep -c '^Validation' "$tmp/cpu.txt") v_gpu=$(grep -c '^Validation' "$tmp/gpu.txt")
[ "$v_gpu" -ge 1 ] && [ "$v_gpu" -eq "$v_cpu" ] && ok "validation with the moving averages ran $v_gpu times on the GPU" ||
    bad "validation passes: CPU $v_cpu, GPU $v_gpu"
vlosses() { grep '^Validation' "$1" | awk -F'\t' '{ split($3, f, " "); print f[2] }'; }
# after 4 and 8 steps: within 0.5 % (the training losses drift that far by step 8)
vfar=$(paste <(vlosses "$tmp/cpu.txt") <(vlosses "$tmp/gpu.txt") |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 0.005 * $1) far++ } END { print far + 0 }')
[ "$v_gpu" -ge 1 ] && [ "$vfar" -eq 0 ] && ok "validation losses within 0.5 % of the CPU's: $(vlosses "$tmp/gpu.txt" | tr '\n' ' ')" ||
    bad "validation losses: CPU $(vlosses "$tmp/cpu.txt" | tr '\n' ' '), GPU $(vlosses "$tmp/gpu.txt" | tr '\n' ' ')"

run=$(ls -d "$tmp"/gpu/*/ | head -n 1)
run=${run%/}
[ -f "$run/model-$(basename "$run").ckpt-2" ] && ok "the GPU run wrote its epoch 2 checkpoint" || bad "no checkpoint in $run: $(ls "$run")"
FN_CUDA_EMULATOR=$emu train --device auto --resume "$run" --max_nrof_epochs 3 --models_base_dir "$tmp/gpu" >"$tmp/resume.txt" 2>&1 &&
    grep -q "Resuming from .*ckpt-2 at step 8" "$tmp/resume.txt" && grep -q '^Device: fn host emulator' "$tmp/resume.txt" &&
    [ "$(losses "$tmp/resume.txt" | wc -l)" -eq 4 ] && ok "--device auto resumed on the GPU and trained epoch 3" ||
    bad "resume: $(grep -E 'Resuming|Device|fnrun' "$tmp/resume.txt" | tr '\n' ' ')"

# --gpu_memory_fraction: 0.003 of the emulated 16 GiB holds the step but not the further streams'
# scratch (one stream, the same losses); 1e-6 not even the step (a clear failure)
FN_CUDA_EMULATOR=$emu train --device gpu --max_nrof_epochs 1 --models_base_dir "$tmp/f1" --gpu_memory_fraction 0.003 \
    >"$tmp/frac.txt" 2>&1 && grep -q "the step runs on one stream" "$tmp/frac.txt" &&
    [ "$(losses "$tmp/frac.txt" | head -n 3)" = "$(losses "$tmp/cpu.txt" | head -n 3)" ] &&
    ok "a tight --gpu_memory_fraction runs the step on one stream, same losses" ||
    bad "tight fraction: $(grep -m2 -E 'stream|fnrun' "$tmp/frac.txt" | tr '\n' ' ')"
# FN_GPU_BF16=1 with every window by columns: the first loss (the forward pass on bfloat16 GEMM
# operands) within 2 % of the CPU's; the next ones finite (ADAM on 8 images magnifies any
# difference, as between two CPU paths, only faster)
FN_GPU_BF16=1 FN_GPU_IMPLICIT=0 FN_CUDA_EMULATOR=$emu train --device gpu --max_nrof_epochs 1 --models_base_dir "$tmp/h" \
    >"$tmp/bf16.txt" 2>&1 || bad "bfloat16 run: $(tail -3 "$tmp/bf16.txt")"
first=$(paste <(losses "$tmp/cpu.txt" | head -n 1) <(losses "$tmp/bf16.txt" | head -n 1) |
    awk '{ d = $1 - $2; if (d < 0) d = -d; printf "%.4f", d / $1 }')
grep -q '^Device: .*BF16 GEMMs' "$tmp/bf16.txt" && [ "$(losses "$tmp/bf16.txt" | grep -cE '^[0-9]+\.[0-9]+$')" -eq 4 ] &&
    awk -v r="$first" 'BEGIN { exit !(r != "" && r < 0.02) }' &&
    ok "FN_GPU_BF16=1: the first loss $first from the CPU's, 4 finite: $(losses "$tmp/bf16.txt" | tr '\n' ' ')" ||
    bad "bfloat16 run: first loss apart by $first; $(losses "$tmp/bf16.txt" | tr '\n' ' '); $(grep -m1 '^Device' "$tmp/bf16.txt")"
# FN_GPU_BF16=act: the activations and their gradients stored in bfloat16 as well, the same checks
# (the profile says how many values are)
FN_GPU_BF16=act FN_PROFILE=1 FN_CUDA_EMULATOR=$emu train --device gpu --max_nrof_epochs 1 --models_base_dir "$tmp/a" \
    >"$tmp/act.txt" 2>&1 || bad "bfloat16 values run: $(tail -3 "$tmp/act.txt")"
first=$(paste <(losses "$tmp/cpu.txt" | head -n 1) <(losses "$tmp/act.txt" | head -n 1) |
    awk '{ d = $1 - $2; if (d < 0) d = -d; printf "%.4f", d / $1 }')
halves=$(grep -m1 '^bfloat16 values: ' "$tmp/act.txt" | awk '{ print $3 + 0 }')
grep -q '^Device: .*BF16 activations' "$tmp/act.txt" && [ "$(losses "$tmp/act.txt" | grep -cE '^[0-9]+\.[0-9]+$')" -eq 4 ] &&
    [ "${halves:-0}" -gt 100 ] && awk -v r="$first" 'BEGIN { exit !(r != "" && r < 0.02) }' &&
    ok "FN_GPU_BF16=act ($halves values in bfloat16): the first loss $first from the CPU's, 4 finite: $(losses "$tmp/act.txt" | tr '\n' ' ')" ||
    bad "bfloat16 values run: first loss apart by $first, $halves values; $(losses "$tmp/act.txt" | tr '\n' ' '); $(grep -m1 '^Device' "$tmp/act.txt")"
# bfloat16 activations are the default; FN_GPU_BF16 chooses, and a value it does not know says so
env -u FN_GPU_BF16 "$bin/fnc" info tests/models/tiny_mlp.fn 2>&1 | grep -q '^  gpu_bf16 = act$' &&
    FN_GPU_BF16=0 "$bin/fnc" info tests/models/tiny_mlp.fn 2>&1 | grep -q '^  gpu_bf16 = 0$' &&
    FN_GPU_BF16=half "$bin/fnc" info tests/models/tiny_mlp.fn 2>&1 | grep -q 'FN_GPU_BF16=half: one of 0, 1, columns, act' &&
    ok "the default is act, FN_GPU_BF16=0 float32, an unknown value named" || bad "FN_GPU_BF16's default or parsing"
# FN_PROFILE: the training step by kind of work (the first table), whose shares add up to the whole
FN_PROFILE=1 FN_CUDA_EMULATOR=$emu train --device gpu --max_nrof_epochs 1 --models_base_dir "$tmp/p" >"$tmp/prof.txt" 2>&1
share=$(awk '/^GPU step by kind/ { t++; next } t == 1 && /^  / && / items / {
    for (i = 1; i <= NF; i++) if ($i ~ /%$/) s += $i + 0; n++ } END { printf "%d %.1f", n, s }' "$tmp/prof.txt")
grep -q '^  fused, with sums ' "$tmp/prof.txt" && grep -q '^  implicit-GEMM convolutions ' "$tmp/prof.txt" &&
    awk -v n="${share% *}" -v s="${share#* }" 'BEGIN { exit !(n >= 5 && s > 99 && s < 101) }' &&
    ok "FN_PROFILE: the step in ${share% *} kinds of work, shares adding to ${share#* }%" ||
    bad "FN_PROFILE by kind: $share; $(grep -A3 '^GPU step by kind' "$tmp/prof.txt" | tr '\n' ' ')"
FN_CUDA_EMULATOR=$emu train --device gpu --max_nrof_epochs 1 --models_base_dir "$tmp/f2" --gpu_memory_fraction 0.000001 \
    >"$tmp/frac2.txt" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "gpu_memory_fraction 1e-06 allows 0.0 MB" "$tmp/frac2.txt" &&
    ok "a fraction too small for the step fails: $(grep -m1 'fnrun' "$tmp/frac2.txt" | cut -c1-150)" ||
    bad "expected a failure naming the fraction (status $rc): $(grep -m1 -E 'fnrun|Epoch' "$tmp/frac2.txt")"

# a missing library: --device gpu fails saying so, --device auto falls back to the CPU
FN_CUDA_EMULATOR=$tmp/none.so train --device gpu --max_nrof_epochs 1 --models_base_dir "$tmp/x" >"$tmp/bad.txt" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "none.so" "$tmp/bad.txt" && ok "--device gpu without the library fails: $(grep -m1 'fnrun' "$tmp/bad.txt")" ||
    bad "expected a failure naming the library (status $rc): $(head -2 "$tmp/bad.txt")"
FN_CUDA_EMULATOR=$tmp/none.so train --device auto --max_nrof_epochs 1 --models_base_dir "$tmp/y" >"$tmp/auto.txt" 2>&1 &&
    grep -q '^Device: CPU (FN_CUDA_EMULATOR' "$tmp/auto.txt" && ok "--device auto falls back: $(grep -m1 '^Device' "$tmp/auto.txt")" ||
    bad "auto fallback: $(grep -m1 -E 'Device|fnrun' "$tmp/auto.txt")"
finish

#!/usr/bin/env bash
# The one script for a lent GPU machine. Here first: bench/gpu/bundle.sh (packs fnc, fnrun, the GPU
# test programs and their libraries into bench/gpu/bundle.tar.xz); then, through the device tool,
# from the repository root with carry ["bench/gpu/bundle.tar.xz"]:  bash bench/gpu/check.sh [STEPS]
# Stages, printed as one table at the end (full logs under $OUT):
#   1. the card;
#   2. test_cuda_codegen: the golden CUDA text, and the Inception-ResNet-v1 step's kernels and all
#      templates compiled by the machine's NVRTC for sm_90;
#   3. test_gpu_exec: fn's GPU executor against its CPU executor (three steps of four graphs,
#      fused and a kernel per op: outputs and trained variables within 1e-3 relative; the
#      device's moving averages); test_gpu_ops: every op (forward and gradients) in float32 on
#      the GPU against float64 on the CPU, < 1e-5 with float32 GEMMs and < 3e-3 with TF32;
#   4. fn's CUDA module for the card's own architecture;
#   4b. fnrun train --device gpu against --device cpu: 20 steps of the reduced Inception-ResNet-v1,
#      same seed, the printed losses side by side (float32 values, FN_GPU_BF16=0, and again with
#      the default, bfloat16 activations); the loss check: the full network's default mode against
#      float32 over 200 steps on real images (bench/gpu/lfw.tar, carried beside the bundle; a third
#      float32 run says how far two float32 roundings part; bench/gpu/loss_compare.py); then the full network at batch 256 and 90,
#      160x160, images/s from the step times after the first two, with the defaults, and at 256
#      with one setting changed at a time (float32 values, views, tails, implicit GEMMs, im2col
#      chunks, streams, CUDA graph, bfloat16 GEMM operands, the memory plan's slack);
#   4b'. NCCL (from PyTorch's nvidia-nccl-cu13 there): the same 20 steps with the data-parallel path
#      whole on one replica (FN_COMM=self: every reduction an ncclAllReduce, in buckets on their
#      own stream), losses against the plain GPU run's; and run 256n below;
#   4c. FN_PROFILE (once per entry of CHECK_PROFILE_ENV, settings apart by ';', e.g.
#      "FN_GPU_BF16=act;FN_GPU_BF16=act FN_GPU_IMPLICIT=0"): the batch-256 step
#      with every node synchronised, seconds per op after a
#      warm-up step, the step by kind of work (fused loops, each way of convolving, pooling, ...),
#      and each convolution shape's im2col, GEMM and col2im (the whole table is in logs.txt);
#      then the step's timeline with one replica's NCCL reductions ($OUT/timeline.tsv), read by
#      bench/distributed/model.py --timeline: the scaling model on the card's own step;
#   4d. embeddings: embed_bench --device gpu, the eval graph at batch 256 (default and
#      FN_GPU_BF16=act), checked against the CPU's embeddings first;
#   5. the PyTorch peer's training step (bench/ref/train_step.py): channels_last + bf16 autocast,
#      and torch.compile of it, batch 256 and 90, 160x160, the median of 3 rounds of STEPS steps,
#      each round listed (torch.compile's rate moved 25 % between two runs of one lease); fp32
#      eager with CHECK_FP32=1; CHECK_PEER_MODES and CHECK_PEER_BATCHES choose others;
#      CHECK_COMPILE_LIMIT, default 240, the seconds torch.compile's run may take; then its
#      embeddings (--embed) at batch 256, amp and compile (CHECK_PEER_EMBED_MODES).
# The lease is short (15 device minutes for an issue), so stages run in that order under one budget:
# CHECK_BUDGET seconds (default 420); a stage whose time limit would overrun what is left is skipped
# and says so (fn's comparison runs and profile can leave CHECK_PEER_SECONDS, default 0, to the
# peer). CHECK_FN=0 or CHECK_PEER=0 leave out fn's stages or the peer's. A rehearsal here, on the
# host emulation (tests/hostcuda): bench/gpu/bundle.sh, then
#   FN_CUDA_EMULATOR=$PWD/build/libfn_hostcuda.so CHECK_DRY=1 CHECK_PEER=0 bash bench/gpu/check.sh
set -uo pipefail
steps=${1:-30}
start=$SECONDS
budget=${CHECK_BUDGET:-420}
# logs are written under a scratch folder and gathered into $OUT/logs.txt at the end (the device tool
# brings back at most 8 files); the table is also $OUT/table.txt
res=${OUT:-/tmp/fn_gpu_out}
out=$(mktemp -d)
mkdir -p "$res"
b=$(mktemp -d)/bundle
[ -f bench/gpu/bundle.tar.xz ] && tar -C "$(dirname "$b")" -xJf bench/gpu/bundle.tar.xz
export LD_LIBRARY_PATH="$b/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export FN_KERNEL_CACHE="$out/kernels"
rows=()
row() { rows+=("$1"); echo "$1" >>"$res/table.txt"; }
last() { tail -n "$1" "$2" | tr '\n' ' ' | cut -c1-400; }
# fits SECS: true when a stage limited to SECS still ends inside the budget
fits() { [ $((SECONDS - start + $1)) -le "$budget" ]; }

card=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
row "| card | ${card:-no nvidia-smi} |"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '.')
arch=sm_${arch:-90}

if [ "${CHECK_FN:-1}" = 0 ]; then
    row "| fn | left out (CHECK_FN=0) |"
elif [ -x "$b/bin/test_gpu_exec" ]; then
    timeout 90 "$b/bin/test_cuda_codegen" >"$out/cuda_codegen.txt" 2>&1
    row "| test_cuda_codegen (rc $?) | $(grep -E 'NVRTC [0-9]|train/ADAM: comp|checks passed' "$out/cuda_codegen.txt" | tr '\n' ' ' | cut -c1-400) |"
    timeout 90 "$b/bin/test_gpu_exec" >"$out/gpu_exec.txt" 2>&1
    row "| test_gpu_exec (rc $?) | $(tail -n 11 "$out/gpu_exec.txt" | tr -s " " | tr "\n" " " | cut -c1-900) |"
    # again with im2col one image at a time and 8 streams (the test models fit one chunk by default)
    FN_GPU_COL_MB=0.1 FN_GPU_STREAMS=8 timeout 90 "$b/bin/test_gpu_exec" >"$out/gpu_exec_chunks.txt" 2>&1
    row "| test_gpu_exec, FN_GPU_COL_MB=0.1 FN_GPU_STREAMS=8 (rc $?) | $(tail -n 1 "$out/gpu_exec_chunks.txt") |"
    timeout 90 "$b/bin/test_gpu_ops" >"$out/gpu_ops.txt" 2>&1
    row "| test_gpu_ops (rc $?) | $(grep -E 'every op|checks passed' "$out/gpu_ops.txt" | tr -s " " | tr "\n" " " | cut -c1-600) |"
    timeout 60 "$b/bin/fnc" cuda models/inception_resnet_v1.fn --optimizer ADAM --nvrtc "$arch" >"$out/fnc_cuda.txt" 2>&1
    row "| fnc cuda --nvrtc $arch (rc $?) | $(last 2 "$out/fnc_cuda.txt") |"
    t=$out/train
    mkdir -p "$t"
    "$b/bin/fn_gendata" "$t/data" 32 12 182 1 >/dev/null
    "$b/bin/fnc" compile tests/models/irv1_small.fn -o "$t/small.fnc" >/dev/null
    "$b/bin/fnc" compile models/inception_resnet_v1.fn -o "$t/irv1.fnc" >/dev/null
    # CHECK_DRY=1 (a rehearsal of this script here, on tests/hostcuda's emulation): the timed runs
    # take the reduced network at batch 8, 75x75
    irv1=$t/irv1.fnc img=160 emb=512
    batch_of() { echo "$1"; }
    [ "${CHECK_DRY:-0}" = 1 ] && { irv1=$t/small.fnc img=75 emb=8; batch_of() { echo 8; }; }
    common=(--logs_base_dir "$t/logs" --models_base_dir "$t/models" --optimizer ADAM
            --learning_rate 0.01 --max_nrof_epochs 1 --validation_set_split_ratio 0 --use_fixed_image_standardization)
    # the GPU in float32 (FN_GPU_BF16=0), then its default, activations in bfloat16, against the CPU
    for d in cpu gpu act; do
        dev=$d bf=0
        [ "$d" = act ] && dev=gpu bf=act
        FN_GPU_BF16=$bf timeout 60 "$b/bin/fnrun" train "$t/small.fnc" "${common[@]}" --data_dir "$t/data" --image_size 75 \
            --batch_size 16 --epoch_size 20 --embedding_size 8 --device "$dev" >"$t/small_$d.txt" 2>&1
    done
    # NCCL: the library PyTorch brings (nvidia-nccl-cu13), else the system's
    nccl=$(python3 -c 'import nvidia.nccl as m, os; print(os.path.join(list(m.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
    [ -f "$nccl" ] || nccl=libnccl.so.2
    [ "${CHECK_DRY:-0}" = 1 ] && nccl=${FN_NCCL_LIBRARY:-$nccl}
    FN_GPU_BF16=0 FN_COMM=self FN_NCCL_LIBRARY=$nccl timeout 60 "$b/bin/fnrun" train "$t/small.fnc" "${common[@]}" --data_dir "$t/data" \
        --image_size 75 --batch_size 16 --epoch_size 20 --embedding_size 8 --device gpu >"$t/small_nccl.txt" 2>&1
    for d in gpu act nccl; do
        ref=$t/small_cpu.txt
        [ "$d" = nccl ] && ref=$t/small_gpu.txt
        cmp=$(paste <(grep '^Epoch' "$ref" | awk -F'\t' '{print $3}') \
                    <(grep '^Epoch' "$t/small_$d.txt" | awk -F'\t' '{print $3}') |
              awk '{ split($0, f, /Loss /); a = f[2] + 0; b = f[3] + 0; d = a - b; if (d < 0) d = -d;
                     r = d / (a < 0 ? -a : a); if (r > w) w = r; n++; if (n == 1) r1 = r }
                   END { printf "%d steps, worst relative loss difference %.2e (first step %.2e)", n, w, r1 }')
        if grep -q '^Epoch' "$t/small_$d.txt" && [ "$d" = nccl ]; then
            row "| 20 steps, reduced IRv1, GPU with one replica's reductions on NCCL vs without | $cmp; $(grep -h -E '^fn: rank|^Reductions' "$t/small_$d.txt" | tr '\n' ' ') |"
        elif grep -q '^Epoch' "$t/small_$d.txt"; then
            row "| 20 steps, reduced IRv1, GPU ($d) vs CPU losses | $cmp; $(grep -m1 '^Device' "$t/small_$d.txt") |"
        else
            row "| 20 steps, reduced IRv1 on the GPU ($d) | FAILED: $(grep -h 'fnrun train:' "$t/small_$d.txt" || last 2 "$t/small_$d.txt") |"
        fi
    done
    # the default mode's loss trajectory against float32's (issue 29) over 200 steps on real images
    # (bench/gpu/lfw.tar from bench/gpu/lfw_subset.sh: LFW's 62 people with 20 images or more, 160x160
    # centre crops), batch 90, same seed; a third float32 run without implicit GEMMs says how far two
    # float32 roundings part by themselves (bench/gpu/loss_compare.py: means of 20 steps)
    ls=200 lw=20
    [ "${CHECK_DRY:-0}" = 1 ] && ls=20 lw=5
    if [ ! -f bench/gpu/lfw.tar ]; then
        row "| loss check, 200 steps on LFW | not run: carry bench/gpu/lfw.tar (bench/gpu/lfw_subset.sh) |"
    elif fits 240; then
        tar -C "$t" -xf bench/gpu/lfw.tar
        for m in default f32 f32i0; do
            menv=()
            [ "$m" = f32 ] && menv=(FN_GPU_BF16=0)
            [ "$m" = f32i0 ] && menv=(FN_GPU_BF16=0 FN_GPU_IMPLICIT=0)
            env "${menv[@]}" timeout 80 "$b/bin/fnrun" train "$irv1" "${common[@]}" --data_dir "$t/lfw" --image_size $img \
                --batch_size "$(batch_of 90)" --epoch_size $ls --embedding_size $emb --device gpu --nrof_preprocess_threads 12 \
                --seed 666 >"$t/loss_$m.txt" 2>&1
        done
        python3 bench/gpu/loss_compare.py --window $lw "$t/loss_f32.txt" "$t/loss_default.txt" "$t/loss_f32i0.txt" >"$t/loss_compare.txt" 2>&1
        row "| loss check: the default mode against float32, $ls steps on LFW, batch $(batch_of 90) (rc $?) | $(last 1 "$t/loss_compare.txt"); $(grep -m1 '^Device' "$t/loss_default.txt") |"
    else
        row "| loss check, 200 steps on LFW | skipped: budget |"
    fi
    # 256, 90: the default (fused kernels on 4 streams, activations in bfloat16, concat operands and
    # slices as views, small groups as tails, convolutions summing at most 64 channels as
    # implicit GEMMs, im2col of the others in chunks of 256 MB, the step replayed as a CUDA graph);
    # then at 256 each against one change: float32 values (f: FN_GPU_BF16=0, also at 90), copies
    # instead of views (v0), small groups launched apart (t0), no implicit GEMMs (FN_GPU_IMPLICIT=0), forward only (1),
    # every convolution with a window (3), im2col of the whole batch (FN_GPU_COL_MB=0) or by 32 MB,
    # one stream (FN_GPU_STREAMS=1; s3, s8: 3 or 8, which the stream model prefers to 4), launch by
    # launch (FN_CUDA_GRAPH=0), GEMMs on bfloat16 operands with float32 values (FN_GPU_BF16=1; bc:
    # only the column convolutions'; ba: act, the default, named; settings join with +, as
    # 256f+i0), memory reused at once (FN_GPU_PLAN_SLACK=0); (n) one replica's reductions on NCCL
    # (FN_COMM=self: what the buckets cost a step); and (k) on 10,575 classes, the
    # peer's, where the logits and their row kernels are full size. CHECK_RUNS picks some.
    # embeddings (issue 29): the eval graph at batch 256, images staged from the host while the
    # previous batch runs, checked against the CPU's on the same weights first; the default and
    # bfloat16 activations (CHECK_EMBED=0 leaves it out)
    eb=256 er=30
    [ "${CHECK_DRY:-0}" = 1 ] && eb=2 er=2
    for bf in 0 act; do
        [ "${CHECK_EMBED:-1}" = 0 ] && break
        fits 60 || { row "| fn embeddings, batch $eb (FN_GPU_BF16=$bf) | skipped: budget |"; continue; }
        FN_GPU_BF16=$bf timeout 60 "$b/bin/embed_bench" models/inception_resnet_v1.fn --batch $eb --reps $er --device gpu \
            >"$t/embed_$bf.txt" 2>&1
        row "| fn embeddings, IRv1 eval, batch $eb, 160x160, FN_GPU_BF16=$bf | $(grep -h -E 'against the CPU|images/s|embed_bench:' "$t/embed_$bf.txt" | tr '\n' ' ' | cut -c1-300) |"
    done
    for run in ${CHECK_RUNS:-256 90 256f 256v0 256t0 256n 90f 256i0 256b 256bc 256p0 256k 256i1 256i3 256c0 256c32 256s1 256g}; do
        batch=$(batch_of "${run%%[a-z+]*}")
        env=() what=""
        # the settings after the batch, joined by + (256ba+i0: bfloat16 values and no implicit GEMMs)
        parts=${run#"${run%%[a-z+]*}"}
        for part in ${parts//+/ }; do
            case $part in
            i0) env+=(FN_GPU_IMPLICIT=0) what+="no implicit GEMMs, " ;;
            i1) env+=(FN_GPU_IMPLICIT=1) what+="implicit GEMMs forward only, " ;;
            i3) env+=(FN_GPU_IMPLICIT=3) what+="every window an implicit GEMM, " ;;
            c0) env+=(FN_GPU_COL_MB=0) what+="im2col of the whole batch, " ;;
            c32) env+=(FN_GPU_COL_MB=32) what+="im2col by 32 MB, " ;;
            s[0-9]) env+=(FN_GPU_STREAMS=${part#s}) what+="FN_GPU_STREAMS=${part#s}, " ;;
            g) env+=(FN_CUDA_GRAPH=0) what+="launch by launch, " ;;
            ba) env+=(FN_GPU_BF16=act) what+="activations and gradients in bfloat16 (FN_GPU_BF16=act), " ;;
            b) env+=(FN_GPU_BF16=1) what+="GEMMs on bfloat16 operands (FN_GPU_BF16=1), " ;;
            bc) env+=(FN_GPU_BF16=columns) what+="column convolutions' GEMMs on bfloat16 operands, " ;;
            p0) env+=(FN_GPU_PLAN_SLACK=0) what+="memory reused at once (no plan slack), " ;;
            f) env+=(FN_GPU_BF16=0) what+="float32 values, TF32 GEMMs (FN_GPU_BF16=0), " ;;
            v0) env+=(FN_GPU_VIEWS=0) what+="concat operands and slices copied (FN_GPU_VIEWS=0), " ;;
            t0) env+=(FN_GPU_TAILS=0) what+="small groups launched apart (FN_GPU_TAILS=0), " ;;
            k) what+="10,575 classes (CASIA-WebFace's, as the peer), one 40x40 image each, " ;;
            n) env+=(FN_COMM=self "FN_NCCL_LIBRARY=$nccl") what+="one replica's reductions on NCCL (FN_COMM=self), " ;;
            *) what+="unknown setting $part (ignored), " ;;
            esac
        done
        what=${what%, }
        what=${what:-the default}
        data=$t/data
        case $run in *k) data=$t/casia; [ -d "$data" ] || "$b/bin/fn_gendata" "$data" 10575 1 40 1 >/dev/null ;; esac
        # the comparisons after the first two leave the PyTorch peer its time (CHECK_PEER_SECONDS)
        need=90
        case $run in 256 | 90) ;; *) [ "${CHECK_PEER:-1}" = 0 ] || need=$((90 + ${CHECK_PEER_SECONDS:-0})) ;; esac
        fits $need || { row "| fnrun train --device gpu, IRv1 batch $batch, $what | skipped: budget |"; continue; }
        env "${env[@]}" timeout 90 "$b/bin/fnrun" train "$irv1" "${common[@]}" --data_dir "$data" --image_size $img --batch_size "$batch" \
            --epoch_size 12 --embedding_size $emb --device gpu --nrof_preprocess_threads 12 >"$t/irv1_$run.txt" 2>&1
        ips=$(grep '^Epoch' "$t/irv1_$run.txt" | awk -F'\t' -v b="$batch" '{ split($2, f, " "); n++; if (n > 2) { s += f[2]; k++ } }
              END { if (k) printf "%.1f images/s (%d steps)", b * k / s, k; else print "no steps" }')
        row "| fnrun train --device gpu, IRv1 batch $batch, ${img}x$img, $what | $ips; $(grep -m3 -h -E 'step buffers|GPU step|Reductions|fnrun train:' "$t/irv1_$run.txt" | tr '\n' ' ' | cut -c1-400) |"
    done
    # where the step's time goes: every node synchronised and timed (FN_PROFILE), a few steps; once
    # per entry of CHECK_PROFILE_ENV (settings; entries apart by ';', e.g. "FN_GPU_BF16=act;
    # FN_GPU_BF16=act FN_GPU_IMPLICIT=0": each convolution shape timed both ways); the whole tables
    # go to logs.txt
    IFS=';' read -ra profiles <<<"${CHECK_PROFILE_ENV:-}"
    [ ${#profiles[@]} -gt 0 ] || profiles=("")
    for p in "${!profiles[@]}"; do
        penv=${profiles[$p]}
        fits $((60 + ${CHECK_PEER_SECONDS:-0})) || { [ "${CHECK_PEER:-1}" = 0 ] && fits 60; } ||
            { row "| FN_PROFILE${penv:+ ($penv)} | skipped: budget |"; continue; }
        pf=$t/profile_256_$p.txt
        env $penv FN_PROFILE=1 timeout 60 "$b/bin/fnrun" train "$irv1" "${common[@]}" --data_dir "$t/data" --image_size $img --batch_size "$(batch_of 256)" \
            --epoch_size 4 --embedding_size $emb --device gpu --nrof_preprocess_threads 12 >"$pf" 2>&1
        row "| FN_PROFILE, IRv1 batch 256 (synchronised${penv:+, $penv}) | $(grep -m1 '^bfloat16 values' "$pf") $(grep -A5 '^GPU profile' "$pf" | grep -v '^bfloat16' | tail -n 4 | tr -s ' ' | tr '\n' ';' | cut -c1-300) |"
        row "| FN_PROFILE, the step by kind of work | $(grep -A10 '^GPU step by kind' "$pf" | tail -n +2 | grep -v '^GPU' | tr -s ' ' | tr '\n' ';' | cut -c1-1500) |"
        row "| FN_PROFILE, convolutions by shape, top 8 | $(grep -A8 '^GPU convolutions' "$pf" | tr -s ' ' | tr '\n' ';' | cut -c1-1800) |"
        row "| FN_PROFILE, step items by time, top 12 | $(grep -A12 '^GPU step items' "$pf" | tr -s ' ' | tr '\n' ';' | cut -c1-1800) |"
    done
    # the data-parallel model on this card's own timeline: the batch-256 step's items in order,
    # synchronised, one replica's reductions on NCCL (FN_COMM=self), scaled to run 256's step time
    if fits $((60 + ${CHECK_PEER_SECONDS:-0})) || { [ "${CHECK_PEER:-1}" = 0 ] && fits 60; }; then
        FN_COMM=self FN_NCCL_LIBRARY=$nccl FN_PROFILE=1 FN_PROFILE_TIMELINE="$res/timeline.tsv" timeout 60 "$b/bin/fnrun" train \
            "$irv1" "${common[@]}" --data_dir "$t/data" --image_size $img --batch_size "$(batch_of 256)" --epoch_size 4 \
            --embedding_size $emb --device gpu --nrof_preprocess_threads 12 >"$t/timeline.txt" 2>&1
        ms=$(grep '^Epoch' "$t/irv1_256.txt" 2>/dev/null | awk -F'\t' '{ split($2, f, " "); n++; if (n > 2) { s += f[2]; k++ } }
             END { if (k) printf "%.2f", 1000 * s / k }')
        [ -s "$res/timeline.tsv" ] && python3 bench/distributed/model.py --timeline "$res/timeline.tsv" --step "${ms:-62}" \
            >"$t/model.txt" 2>&1
        row "| data-parallel model on this card's timeline (step ${ms:-62 (assumed)} ms) | $(last 2 "$t/model.txt") |"
    else
        row "| data-parallel model on this card's timeline | skipped: budget |"
    fi
else
    row "| fn | not checked: run bench/gpu/bundle.sh here and carry bench/gpu/bundle.tar.xz |"
fi

if [ "${CHECK_PEER:-1}" = 0 ]; then
    row "| PyTorch peer | left out (CHECK_PEER=0) |"
elif python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    modes=${CHECK_PEER_MODES:-amp compile}
    [ "${CHECK_FP32:-0}" = 1 ] && modes="fp32 $modes"
    for batch in ${CHECK_PEER_BATCHES:-256 90}; do
        for mode in $modes; do
            lim=60; [ "$mode" = compile ] && lim=${CHECK_COMPILE_LIMIT:-240}
            fits $lim || { row "| PyTorch $mode, batch $batch | skipped: budget |"; continue; }
            r=$(timeout $lim python3 bench/ref/train_step.py --device cuda --batch "$batch" --mode "$mode" \
                --steps "$steps" 2>"$out/peer_${mode}_$batch.err" | tail -n 1)
            row "| PyTorch $mode, batch $batch, 160x160 | ${r:-FAILED: $(last 2 "$out/peer_${mode}_$batch.err")} |"
        done
    done
    # inference: the embeddings' peer (eval mode, no grad, L2-normalised), batch 256
    for mode in ${CHECK_PEER_EMBED_MODES:-amp compile}; do
        [ "${CHECK_EMBED:-1}" = 0 ] && break
        lim=60; [ "$mode" = compile ] && lim=${CHECK_COMPILE_LIMIT:-240}
        fits $lim || { row "| PyTorch $mode embeddings, batch 256 | skipped: budget |"; continue; }
        r=$(timeout $lim python3 bench/ref/train_step.py --device cuda --batch 256 --mode "$mode" --embed \
            --steps "$steps" 2>"$out/peer_embed_$mode.err" | tail -n 1)
        row "| PyTorch $mode embeddings, batch 256, 160x160 | ${r:-FAILED: $(last 2 "$out/peer_embed_$mode.err")} |"
    done
else
    row "| PyTorch peer | torch with CUDA not available |"
fi

for f in $(find "$out" -name '*.txt' -o -name '*.err' | sort); do
    echo "=== ${f#$out/}"; tail -c 20000 "$f"
done >"$res/logs.txt"
echo
echo "| what | result |"
echo "|---|---|"
printf '%s\n' "${rows[@]}"

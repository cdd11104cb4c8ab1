#!/usr/bin/env bash
# Data-parallel training under mpirun (2 ranks on this machine) against one process, on the
# reduced Inception-ResNet-v1: the same gradients, the same bits twice, learning without
# synchronised batch norm, files from rank 0 alone, resume across rank counts, a killed rank
# ending the job, Ctrl-C checkpointing once. Skips when mpirun or fnrun's MPI is missing.
# FN_TEST_DEVICE=gpu (cli_distributed_gpu.sh) runs it all with --device gpu.
source "$(dirname "$0")/lib_cli.sh"
device=${FN_TEST_DEVICE:-cpu}

command -v mpirun >/dev/null || { echo "skip: no mpirun (Debian's openmpi-bin)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under ASan: Open MPI keeps allocations past MPI_Finalize in plugins it has unloaded (no names
# for suppressions), so leak checking is off here; fn's own leaks are the other tests' to find
ldd "$bin/fnrun" | grep -q libasan && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
mpi() { timeout 300 mpirun --oversubscribe -np 2 "$@"; }
if mpi "$bin/fnrun" train /nonexistent 2>&1 | grep -q "built without MPI"; then
    echo "skip: fnrun was built without MPI"
    exit 77
fi

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 3 8 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
# [mpi_]train DIR STEPS EPOCHS [flags]: into $tmp/DIR (checkpoints) and $tmp/DIR.logs, the
# console appended to $tmp/DIR.out
flags() {
    A=("$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 8 --embedding_size 8 --epoch_size "$2"
        --max_nrof_epochs "$3" --device "$device" --optimizer MOM --learning_rate 0.01 --weight_decay 1e-4 --center_loss_factor 0.01
        --nrof_preprocess_threads 2 --logs_base_dir "$tmp/$1.logs" --models_base_dir "$tmp/$1")
}
train() { local dir=$1; flags "$@"; shift 3; "$bin/fnrun" train "${A[@]}" "$@" >>"$tmp/$dir.out" 2>&1; }
mpi_train() { local dir=$1; flags "$@"; shift 3; mpi "$bin/fnrun" train "${A[@]}" "$@" >>"$tmp/$dir.out" 2>&1; }
ckpt() { ls "$tmp/$1"/*/model-*.ckpt-"${2:-1}" 2>/dev/null | head -n 1; }
diffs() { "$bin/ckpt_diff" "$(ckpt "$1")" "$(ckpt "$2")" "${@:3}"; }
field() { sed -n "s/^$1 \([^ ]*\).*/\1/p"; }
below() { python3 -c "import sys; sys.exit(not ($1 <= $2))"; }
losses() { sed -n 's/^Epoch: .*\tLoss \([0-9.]*\)\t.*/\1/p' "$tmp/$1.out"; }

# One step: MOM's slots after one step are the gradients, so they are compared too.
train one1 1 1 && FN_FUSE=0 train one1u 1 1
if mpi_train one2 1 1 --sync_batch_norm; then
    g=$(diffs one1 one2 --slots | field l2) gu=$(diffs one1 one1u --slots | field l2)
    w=$(diffs one1 one2 --no-slots | field l2)
    below "$g" 1e-5 && below "$w" 1e-6 &&
        ok "one step, 2 ranks with --sync_batch_norm against 1: gradients $g apart (relative L2; 1 rank's unfused kernels: $gu), weights $w" ||
        bad "one step: gradients $g apart (bound 1e-5), weights $w (bound 1e-6)"
else
    bad "2 ranks, one step: $(tail -3 "$tmp/one2.out")"
fi

if [ "$device" = gpu ]; then # one card per rank, the gradients in buckets on NCCL's stream
    red=$(sed -n 's/^Reductions over the 2 ranks: \([0-9]*\) a step, in \([0-9]*\) launches/\1 \2/p' "$tmp/one2.out")
    grep -q "rank 1 of 2 reduces on card 1 with NCCL" "$tmp/one2.out" && [ -n "$red" ] && [ "${red#* }" -lt "${red% *}" ] &&
        ok "2 ranks on cards 0 and 1, $(grep -o 'NCCL [0-9.]*' "$tmp/one2.out" | head -n 1): ${red% *} reductions a step in ${red#* } launches" ||
        bad "the ranks' cards and buckets: $(grep -E 'reduces on|Reductions' "$tmp/one2.out" | tr '\n' ' ')"
    # no NCCL on the ranks: every rank says so and the job ends (none waits in NCCL's set-up)
    FN_NCCL_LIBRARY=/nonexistent/libnccl.so.2 mpi_train nonccl 1 1
    rc=$?
    [ "$rc" -ne 0 ] && [ "$(grep -c 'no NCCL for the data-parallel GPU step' "$tmp/nonccl.out")" -ge 1 ] &&
        ok "without NCCL: status $rc, $(grep -m1 -o 'rank [0-9] of 2: no NCCL[^(]*' "$tmp/nonccl.out")" ||
        bad "without NCCL: status $rc: $(tail -3 "$tmp/nonccl.out")"
fi

# dropout: its masks are drawn over the global batch, so 2 ranks drop what one process drops
train drop1 1 1 --keep_probability 0.6
if mpi_train drop2 1 1 --keep_probability 0.6 --sync_batch_norm; then
    g=$(diffs drop1 drop2 --slots | field l2)
    below "$g" 1e-5 && ok "one step with dropout (keep 0.6): gradients $g apart" || bad "one step with dropout: gradients $g apart"
else
    bad "2 ranks with dropout: $(tail -3 "$tmp/drop2.out")"
fi

# 20 steps: as close to one process as one process's own rounding (its unfused kernels) allows:
# the reduced model's tiny batch norms amplify any rounding difference step by step
train k1 20 1 && FN_FUSE=0 train k1u 20 1 && mpi_train k2 20 1 --sync_batch_norm && mpi_train k2b 20 1 --sync_batch_norm
d=$(diffs k1 k2 --no-slots | field l2) du=$(diffs k1 k1u --no-slots | field l2)
worst=$(diffs k1 k2 --no-slots | field worst)
below "$d" "3 * $du" && ok "20 steps: weights $d apart (relative L2; worst variable $worst), one process unfused $du" ||
    bad "20 steps: 2 ranks $d from 1 rank, more than 3x the unfused kernels' $du"
first=$(losses k1 | head -n 4 | tr '\n' ' ') first2=$(losses k2 | head -n 4 | tr '\n' ' ')
[ "$first" = "$first2" ] && ok "the first 4 steps' losses agree to the digits printed ($first)" ||
    bad "the first losses: 1 rank $first, 2 ranks $first2"
[ "$(diffs k2 k2b | field identical)" = 1 ] && [ "$("$bin/ckpt_diff" "$(ckpt k2)" "$(ckpt k2b)" --ema | field identical)" = 1 ] &&
    ok "two runs of 2 ranks: every variable and moving average the same bits" || bad "two runs of 2 ranks differ"
[ "$(ls "$tmp/k2" | wc -l)" = 1 ] && [ "$(ls "$tmp/k2.logs" | wc -l)" = 1 ] &&
    grep -q "Data-parallel: 2 ranks, 4 images each per step, batch norm synchronised" "$tmp/k2.out" &&
    [ "$(grep -c '^Epoch: \[1\]\[20/20\]' "$tmp/k2.out")" = 1 ] &&
    ok "rank 0 alone made the run's folders and printed the console lines" ||
    bad "files or lines from rank 1: $(ls "$tmp/k2" "$tmp/k2.logs")"

# without --sync_batch_norm: each rank's own moments; it learns
if mpi_train nosync 20 1; then
    python3 - "$tmp/nosync.out" <<'EOF' && ok "2 ranks without --sync_batch_norm learn: $(losses nosync | head -n 5 | tr '\n' ' ')... -> $(losses nosync | tail -n 5 | tr '\n' ' ')" || bad "2 ranks without sync: the loss did not fall"
import re, sys
l = [float(m) for m in re.findall(r'\tLoss ([0-9.]+)\t', open(sys.argv[1]).read())]
sys.exit(not (len(l) == 20 and sum(l[-5:]) < sum(l[:5])))
EOF
else
    bad "2 ranks without sync: $(tail -3 "$tmp/nosync.out")"
fi

# resume a 2-rank run with 1 rank and the reverse
run=$(ls -d "$tmp"/k2/*/) && run=${run%/}
if train k2 20 2 --resume "$run" && grep -q "Resuming from .*ckpt-1 at step 20" "$tmp/k2.out" && [ -f "$(ckpt k2 2)" ] &&
    mpi_train k2 20 3 --resume "$run" && grep -q "Resuming from .*ckpt-2 at step 40" "$tmp/k2.out" && [ -f "$(ckpt k2 3)" ]; then
    ok "a 2-rank run resumed by 1 rank (epoch 2), then by 2 ranks again (epoch 3)"
else
    bad "resume across rank counts: $(tail -3 "$tmp/k2.out")"
fi

# the logs of 2 ranks, read by TensorBoard and h5py (when importable; cli_logs.sh installs them):
# the step scalars are the ranks' means, as printed
if python3 -c "import tensorboard, h5py" 2>/dev/null; then
    mpi "$bin/fnrun" train "$tmp/m.fnc" --device "$device" --data_dir "$tmp/data" --image_size 75 --batch_size 4 \
        --embedding_size 8 --epoch_size 4 --max_nrof_epochs 2 --optimizer ADAM --learning_rate 0.01 --log_histograms \
        --validation_set_split_ratio 0.25 --validate_every_n_epochs 1 --lfw_batch_size 2 \
        --logs_base_dir "$tmp/tb.logs" --models_base_dir "$tmp/tb" >"$tmp/tb.out" 2>&1 &&
        python3 tests/python/check_logs.py "$tmp"/tb.logs/*/ "$tmp/tb.out" 8 >"$tmp/tb.check" 2>&1 &&
        ok "2 ranks' TensorBoard and stat.h5 scalars are the printed (global) ones" ||
        bad "2 ranks' logs: $(tail -2 "$tmp/tb.out" "$tmp/tb.check")"
else
    echo "note: tensorboard or h5py missing: the 2-rank logs are not read"
fi

# validation and LFW shared by the ranks: the 2-rank run's LFW line is the one a single process
# (fnrun validate) computes from its checkpoint, and validation ran on the ranks' shares
for k in 0 1 2; do
    mkdir -p "$tmp/lfw/Person_$k"
    i=1
    for f in "$tmp"/data/class_00$k/*.png; do cp "$f" "$tmp/lfw/Person_$k/Person_${k}_$(printf %04d $i).png"; i=$((i + 1)); done
done
{
    printf '2\t3\n'
    for set in 0 1; do
        for k in 0 1 2; do printf 'Person_%d\t%d\t%d\n' $k $((1 + set * 3)) $((2 + set * 3)); done
        for k in 0 1 2; do printf 'Person_%d\t%d\tPerson_%d\t%d\n' $k $((1 + set)) $(((k + 1) % 3)) $((3 + set)); done
    done
} >"$tmp/pairs.txt"
lfw=(--lfw_dir "$tmp/lfw" --lfw_pairs "$tmp/pairs.txt" --lfw_batch_size 5 --lfw_nrof_folds 2 --lfw_distance_metric 1
    --lfw_use_flipped_images)
if mpi_train lfwrun 10 1 "${lfw[@]}" --validation_set_split_ratio 0.5 --min_nrof_val_images_per_class 1; then
    run=$(ls -d "$tmp"/lfwrun/*/) && run=${run%/}
    "$bin/fnrun" validate "$run" "$tmp/lfw" --device "$device" --lfw_pairs "$tmp/pairs.txt" --image_size 75 --lfw_batch_size 5 \
        --lfw_nrof_folds 2 --distance_metric 1 --use_flipped_images >"$tmp/validate.out" 2>&1
    a=$(grep '^Accuracy' "$tmp/lfwrun.out") b=$(grep '^Accuracy' "$tmp/validate.out")
    [ -n "$a" ] && [ "$a" = "$b" ] && grep -q '^Validation Epoch: 1' "$tmp/lfwrun.out" &&
        ok "LFW on 2 ranks = one process on its checkpoint ($a); validation ran" ||
        bad "LFW on 2 ranks '$a', one process '$b'"
else
    bad "2 ranks with LFW: $(tail -3 "$tmp/lfwrun.out")"
fi

mpi "$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --batch_size 5 --models_base_dir "$tmp/odd" >"$tmp/odd.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$(grep -c 'does not split evenly over 2 ranks' "$tmp/odd.out")" = 1 ] && [ ! -e "$tmp/odd" ] &&
    ok "a batch of 5 for 2 ranks: status $rc, once: $(grep 'split evenly' "$tmp/odd.out"), no run folder" ||
    bad "a batch the ranks cannot share: status $rc: $(head -3 "$tmp/odd.out")"

# rank 1 killed (SIGKILL) in epoch 3: the job ends within 30 s naming it; the checkpoint loads
train_long() { mpi_train kill 5 100000; echo "mpirun status $?" >>"$tmp/kill.out"; }
train_long &
for _ in $(seq 600); do grep -q '^Epoch: \[3\]' "$tmp/kill.out" 2>/dev/null && break; sleep 0.1; done
victim=""
for p in $(pgrep -f "fnrun train $tmp/m.fnc"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
done
t0=$(date +%s)
[ -n "$victim" ] && kill -9 "$victim"
for _ in $(seq 300); do grep -q "mpirun status" "$tmp/kill.out" && break; sleep 0.1; done
took=$(($(date +%s) - t0))
wait
if [ -n "$victim" ] && grep -q "mpirun status" "$tmp/kill.out" && [ "$took" -le 30 ] &&
    grep -q "process rank 1 .*signal 9" "$tmp/kill.out"; then
    ok "rank 1 killed: the job ended in ${took} s: $(grep -o 'process rank 1 .*signal 9' "$tmp/kill.out")"
else
    bad "a killed rank: victim '$victim', ${took} s: $(tail -4 "$tmp/kill.out")"
fi
run=$(ls -d "$tmp"/kill/*/) && run=${run%/}
last=$(ls "$run" | sed -n 's/.*ckpt-\([0-9]*\)$/\1/p' | sort -n | tail -n 1)
train kill 5 $((last + 1)) --resume "$run" && grep -q "Resuming from .*ckpt-$last" "$tmp/kill.out" &&
    ok "its last checkpoint (epoch $last) resumes" || bad "resume after the kill: $(tail -3 "$tmp/kill.out")"

# Ctrl-C on mpirun: every rank stops after the same step; one checkpoint (mpirun sends SIGTERM,
# then SIGKILL 1 s later unless odls_base_sigkill_timeout gives the step and the save more time)
(exec mpirun --mca odls_base_sigkill_timeout 30 --oversubscribe -np 2 "$bin/fnrun" train "$tmp/m.fnc" --device "$device" \
    --data_dir "$tmp/data" --image_size 75 --batch_size 8 --embedding_size 8 --epoch_size 5 --max_nrof_epochs 100000 \
    --optimizer MOM --learning_rate 0.01 --logs_base_dir "$tmp/int.logs" --models_base_dir "$tmp/int" >"$tmp/int.out" 2>&1) &
pid=$! # mpirun itself (not a timeout wrapper, which would return before mpirun has finished)
for _ in $(seq 600); do grep -q '^Epoch: \[2\]' "$tmp/int.out" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
for _ in $(seq 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null
wait "$pid"
stopped=$(sed -n 's/^Stop requested: saving a checkpoint after step \([0-9]*\)/\1/p' "$tmp/int.out")
[ "$(grep -c '^Stop requested' "$tmp/int.out")" = 1 ] && [ -n "$stopped" ] && ls "$tmp"/int/*/ | grep -q "ckpt-" &&
    ok "Ctrl-C on mpirun: one checkpoint after step $stopped" || bad "Ctrl-C: $(tail -4 "$tmp/int.out")"
finish

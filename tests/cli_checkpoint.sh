#!/usr/bin/env bash
# Checkpoints under failure: kill -9 in the middle of a checkpoint write leaves the previous
# checkpoint loadable and the run resumable; SIGINT finishes the step, saves and exits cleanly.
source "$(dirname "$0")/lib_cli.sh"

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 3 6 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
train() { "$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 4 \
    --embedding_size 8 --epoch_size 2 --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models" \
    --optimizer MOM --learning_rate 0.01 --nrof_preprocess_threads 2 "$@"; }

train --max_nrof_epochs 2 >"$tmp/out1" 2>&1 || bad "first two epochs: $(tail -1 "$tmp/out1")"
run=$(ls -d "$tmp"/models/*/ | head -n 1)
run=${run%/}
name=$(basename "$run")
[ -f "$run/model-$name.ckpt-2" ] && ok "epoch 2 checkpoint written" || bad "no epoch 2 checkpoint"

# kill -9 halfway through writing the epoch 3 checkpoint
FN_FAULT_KILL_MIDWRITE=1 train --resume "$run" --max_nrof_epochs 3 >"$tmp/out2" 2>&1
rc=$?
[ "$rc" -eq 137 ] && ok "killed by SIGKILL mid-write (status $rc)" || bad "expected status 137, got $rc"
ls "$run" | grep -q "ckpt-3.tmp" && ok "a partial temporary file was left: $(ls "$run" | grep tmp)" ||
    bad "no partial file (was the write interrupted?)"
[ ! -f "$run/model-$name.ckpt-3" ] && ok "no epoch 3 checkpoint appeared" || bad "a checkpoint 3 exists"

# the previous checkpoint still loads: resuming works and finishes epoch 3
if train --resume "$run" --max_nrof_epochs 3 >"$tmp/out3" 2>&1 && grep -q "Resuming from .*ckpt-2 at step 4" "$tmp/out3" &&
    [ -f "$run/model-$name.ckpt-3" ]; then
    ok "resumed from epoch 2 after the crash and wrote epoch 3"
else
    bad "resume after the crash:"; cat "$tmp/out3"
fi
ls "$run" | grep -q "tmp" && bad "stale temporary file not cleaned: $(ls "$run")" || ok "stale temporary file removed"

# SIGINT: the step finishes, a checkpoint is written, exit status 0
# (exec: $! must be fnrun itself, not a subshell, which would ignore SIGINT)
(exec_train() { exec "$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 4 \
    --embedding_size 8 --epoch_size 2 --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models_int" \
    --optimizer MOM --learning_rate 0.01 --nrof_preprocess_threads 2 --max_nrof_epochs 1000; }
 exec_train) >"$tmp/out4" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "^Epoch: \[2\]" "$tmp/out4" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "Stop requested: saving a checkpoint" "$tmp/out4" &&
    ls "$tmp"/models_int/*/ | grep -q "ckpt-"; then
    ok "SIGINT: checkpoint written, clean exit ($(grep 'Stop requested' "$tmp/out4"))"
else
    bad "SIGINT: status $rc"; tail -5 "$tmp/out4"
fi
# and that run resumes where it stopped
run2=$(ls -d "$tmp"/models_int/*/ | head -n 1)
stopped=$(sed -n 's/^Stop requested: saving a checkpoint after step \([0-9]*\)/\1/p' "$tmp/out4")
if train --resume "${run2%/}" --models_base_dir "$tmp/models_int" --max_nrof_epochs 4 >"$tmp/out5" 2>&1 &&
    grep -q "at step $stopped" "$tmp/out5"; then
    ok "the interrupted run resumes at step $stopped"
else
    bad "resume after SIGINT:"; tail -5 "$tmp/out5"
fi

# the NaN guard: a diverging run stops naming the step and the last good checkpoint
train --resume "$run" --max_nrof_epochs 5 --learning_rate 1e30 >"$tmp/out6" 2>"$tmp/err6"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "at step [0-9]* (epoch 4, batch [0-9]*): stopping; the last good checkpoint is .*ckpt-3" "$tmp/err6"; then
    ok "NaN guard: $(cat "$tmp/err6")"
else
    bad "NaN guard: status $rc"; cat "$tmp/err6"
fi

# --pretrained_model: weights restored by name and shape; Logits skipped for another class count
"$bin/fn_gendata" "$tmp/data4" 4 6 80 >/dev/null
if "$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data4" --image_size 75 --batch_size 4 --embedding_size 8 \
    --epoch_size 1 --max_nrof_epochs 1 --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models_pre" \
    --pretrained_model "$run/model-$name.ckpt-3" >"$tmp/out7" 2>&1 &&
    grep -q "Pre-trained model: Logits/weights not restored (another number of classes)" "$tmp/out7" &&
    grep -q "Pre-trained model: restored [0-9]* variables" "$tmp/out7"; then
    ok "pretrained restore: $(grep 'restored' "$tmp/out7")"
else
    bad "pretrained restore:"; cat "$tmp/out7"
fi
"$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data4" --image_size 75 --batch_size 4 --embedding_size 16 \
    --epoch_size 1 --max_nrof_epochs 1 --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models_pre" \
    --pretrained_model "$run/model-$name.ckpt-3" >"$tmp/out8" 2>"$tmp/err8"
rc=$?
[ "$rc" -eq 1 ] && grep -q "Bottleneck/weights is \[.*,8\] there but \[.*,16\] here" "$tmp/err8" &&
    ok "pretrained with another embedding size: $(cat "$tmp/err8")" || { bad "pretrained shape mismatch: $rc"; cat "$tmp/err8"; }

finish

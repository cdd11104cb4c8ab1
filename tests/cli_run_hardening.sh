#!/usr/bin/env bash
# Issue 24's hardening of fnrun train and validate: run folders of two runs in one second, range
# checks, a validation stopped by a signal, resume past a corrupt newest checkpoint, no folders
# left by a failed start, empty class folders skipped, messages naming the flag or path, and a
# renamed run folder that still validates. Not here: the checkpoint crash cases (cli_checkpoint.sh).
source "$(dirname "$0")/lib_cli.sh"

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 2 4 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
train() {
    "$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 2 --epoch_size 1 \
        --max_nrof_epochs 1 --embedding_size 8 --validation_set_split_ratio 0 --optimizer SGD \
        --models_base_dir "$tmp/models" --logs_base_dir "$tmp/logs" "$@"
}
count() { find "$@" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# item 6: two trainings started together get two run folders
train --models_base_dir "$tmp/m6" --logs_base_dir "$tmp/l6" >"$tmp/o6a" 2>&1 &
p1=$!
train --models_base_dir "$tmp/m6" --logs_base_dir "$tmp/l6" >"$tmp/o6b" 2>&1 &
p2=$!
wait $p1 && wait $p2 && [ "$(count "$tmp/m6")" -eq 2 ] && [ "$(count "$tmp/l6")" -eq 2 ] &&
    [ "$(ls "$tmp"/m6/*/model-*.ckpt-1 | wc -l)" -eq 2 ] &&
    ok "two runs together: two run folders $(ls "$tmp/m6" | tr '\n' ' ')" ||
    bad "two runs together share a folder: $(ls "$tmp/m6" | tr '\n' ' ')"

# item 9: values out of range, named
expect_error "--keep_probability 2" "--keep_probability" train --keep_probability 2
expect_error "--moving_average_decay 5" "--moving_average_decay" train --moving_average_decay 5
expect_error "--lfw_nrof_folds 0" "--lfw_nrof_folds must be at least 2" train --lfw_nrof_folds 0
printf '0: nan\n' >"$tmp/nan.txt"
expect_error "schedule rate nan" "$tmp/nan.txt:1: rate 'nan'" train --learning_rate -1 \
    --learning_rate_schedule_file "$tmp/nan.txt"

# item 15: messages naming the flag or the path
expect_error "--batch_size 0" "--batch_size must be positive" train --batch_size 0
expect_error "validate --lfw_nrof_folds 1" "--lfw_nrof_folds must be at least 2" "$bin/fnrun" validate "$tmp/m.fnc" "$tmp" --lfw_nrof_folds 1
expect_error "artifact is a directory" "$tmp/data is a directory" "$bin/fnrun" train "$tmp/data" --data_dir "$tmp/data"
expect_error "data_dir is a file" "$tmp/m.fnc: is a file, not a directory" train --data_dir "$tmp/m.fnc"
mkdir -p "$tmp/lfw/Person_0" "$tmp/lfw/Person_1"
expect_error "pairs file is a directory" "--lfw_pairs $tmp/lfw is a directory" train --lfw_dir "$tmp/lfw" \
    --lfw_pairs "$tmp/lfw" --models_base_dir "$tmp/m15" --logs_base_dir "$tmp/l15"
expect_error "validate in the reference's order" "fnrun validate $tmp/m.fnc $tmp/lfw" "$bin/fnrun" validate "$tmp/lfw" "$tmp/m.fnc"
v=$("$bin/fnrun" --version) && [[ "$v" == "fn "[0-9]* ]] && ok "fnrun --version: $v" || bad "fnrun --version: $v"

# item 13: a failed start creates nothing
expect_error "missing pairs file" "$tmp/nopairs.txt" train --lfw_dir "$tmp/lfw" --lfw_pairs "$tmp/nopairs.txt" \
    --models_base_dir "$tmp/m13" --logs_base_dir "$tmp/l13"
expect_error "missing lfw_dir" "--lfw_dir $tmp/nolfw: no such directory" train --lfw_dir "$tmp/nolfw" \
    --models_base_dir "$tmp/m13" --logs_base_dir "$tmp/l13"
expect_error "missing resume folder" "--resume $tmp/m13/gone" train --resume "$tmp/m13/gone" \
    --models_base_dir "$tmp/m13" --logs_base_dir "$tmp/l13"
[ ! -e "$tmp/m13" ] && [ ! -e "$tmp/l13" ] && [ ! -e "$tmp/m15" ] && [ ! -e "$tmp/l15" ] &&
    ok "failed starts left no run folders" || bad "failed starts left: $(find "$tmp"/m1* "$tmp"/l1* | tr '\n' ' ')"

# item 14: an empty class folder is skipped with a count
mkdir -p "$tmp/data/class_999_empty"
if train --models_base_dir "$tmp/m14" --logs_base_dir "$tmp/l14" >"$tmp/o14" 2>&1 &&
    grep -q "^Skipped 1 empty class folder (the first: .*class_999_empty)" "$tmp/o14" &&
    grep -q "^Number of classes in training set: 2" "$tmp/o14"; then
    ok "empty class folder skipped: $(grep '^Skipped' "$tmp/o14")"
else
    bad "empty class folder: $(tail -2 "$tmp/o14")"
fi
rmdir "$tmp/data/class_999_empty"

# item 12: resume passes over a corrupt newest checkpoint to the newest intact one
train --models_base_dir "$tmp/m12" --logs_base_dir "$tmp/l12" --max_nrof_epochs 2 >"$tmp/o12a" 2>&1 ||
    bad "train 2 epochs: $(tail -2 "$tmp/o12a")"
run=$(ls -d "$tmp"/m12/*/ | head -n 1)
run=${run%/}
grep -aq "time/save_metagraph" "$tmp"/l12/*/events.out.tfevents.* && ok "time/save_metagraph is logged" ||
    bad "no time/save_metagraph scalar"
ck2=$(ls "$run"/model-*.ckpt-2)
size=$(stat -c %s "$ck2")
printf '\xff\xfe' | dd of="$ck2" bs=1 seek=$((size - 2)) conv=notrunc status=none
if train --resume "$run" --models_base_dir "$tmp/m12" --logs_base_dir "$tmp/l12" --max_nrof_epochs 3 >"$tmp/o12b" 2>&1 &&
    grep -q "^note: .*ckpt-2 is corrupt.*using the newest intact one, .*ckpt-1$" "$tmp/o12b" &&
    grep -q "^Resuming from .*ckpt-1 at step 1" "$tmp/o12b"; then
    ok "resume past a corrupt newest checkpoint: $(grep '^note' "$tmp/o12b")"
else
    bad "resume with a corrupt newest checkpoint: $(tail -2 "$tmp/o12b")"
fi

# a renamed run folder, resumed, still validates (the artifact of the old name is found)
{
    printf '2\t1\n'
    printf 'Person_0\t1\t2\nPerson_0\t1\tPerson_1\t1\n'
    printf 'Person_1\t1\t2\nPerson_0\t2\tPerson_1\t2\n'
} >"$tmp/pairs2.txt"
for k in 0 1; do
    i=1
    for f in "$tmp"/data/class_00$k/*.png; do
        cp "$f" "$tmp/lfw/Person_$k/Person_${k}_$(printf %04d $i).png"
        i=$((i + 1))
    done
done
mv "$run" "$tmp/m12/renamed"
train --resume "$tmp/m12/renamed" --models_base_dir "$tmp/m12" --logs_base_dir "$tmp/l12" --max_nrof_epochs 4 \
    >"$tmp/o12c" 2>&1 || bad "resume the renamed folder: $(tail -2 "$tmp/o12c")"
vflags=(--lfw_pairs "$tmp/pairs2.txt" --image_size 75 --lfw_batch_size 2 --lfw_nrof_folds 2)
if [ -f "$tmp/m12/renamed/model-renamed.ckpt-4" ] &&
    "$bin/fnrun" validate "$tmp/m12/renamed" "$tmp/lfw" "${vflags[@]}" >"$tmp/o12d" 2>&1 &&
    grep -q "^Accuracy: " "$tmp/o12d"; then
    ok "a renamed run folder validates: $(grep '^Model' "$tmp/o12d")"
else
    bad "validate the renamed run folder: $(tail -2 "$tmp/o12d")"
fi

# item 11: fnrun validate stops on SIGINT between batches, with a message and a non-zero status
{
    printf '10\t300\n'
    for s in $(seq 10); do
        for i in $(seq 300); do printf 'Person_0\t1\t2\n'; done
        for i in $(seq 300); do printf 'Person_0\t1\tPerson_1\t1\n'; done
    done
} >"$tmp/pairs_long.txt"
"$bin/fnrun" validate "$tmp/m.fnc" "$tmp/lfw" --lfw_pairs "$tmp/pairs_long.txt" --image_size 75 --embedding_size 8 \
    --lfw_batch_size 2 --nrof_preprocess_threads 1 >"$tmp/o11" 2>"$tmp/e11" &
pid=$!
for _ in $(seq 300); do grep -q "^Running forward pass" "$tmp/o11" && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/e11")" -eq 1 ] && grep -q "^fnrun validate: stopped on request after" "$tmp/e11" &&
    ok "validate stopped by SIGINT: $(cat "$tmp/e11")" || bad "validate after SIGINT: status $rc, $(tail -2 "$tmp/e11")"
finish

#!/usr/bin/env bash
# LFW evaluation end to end on a small LFW-shaped folder: fnrun train --lfw_dir evaluates
# after every epoch (lfw_result.txt), and fnrun validate on the run directory, on the
# checkpoint and on the artifact alone agrees with it; bad pairs files fail with the line.
source "$(dirname "$0")/lib_cli.sh"

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 4 8 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
# an LFW-shaped copy: Person_k/Person_k_000i.png
for k in 0 1 2 3; do
    mkdir -p "$tmp/lfw/Person_$k"
    i=1
    for f in "$tmp"/data/class_00$k/*.png; do
        cp "$f" "$tmp/lfw/Person_$k/Person_${k}_$(printf %04d $i).png"
        i=$((i + 1))
    done
done
{
    printf '2\t4\n'
    for set in 0 1; do
        for k in 0 1 2 3; do printf 'Person_%d\t%d\t%d\n' $k $((1 + set * 3)) $((2 + set * 3)); done
        for k in 0 1 2 3; do printf 'Person_%d\t%d\tPerson_%d\t%d\n' $k $((1 + set)) $(((k + 1) % 4)) $((3 + set)); done
    done
} >"$tmp/pairs.txt"

"$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 8 --embedding_size 8 \
    --epoch_size 200 --max_nrof_epochs 2 --optimizer ADAM --learning_rate 0.01 --use_fixed_image_standardization \
    --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models" --lfw_dir "$tmp/lfw" --lfw_pairs "$tmp/pairs.txt" \
    --lfw_batch_size 5 --lfw_nrof_folds 2 --lfw_distance_metric 1 --lfw_use_flipped_images >"$tmp/out" 2>&1 ||
    bad "training with --lfw_dir: $(tail -2 "$tmp/out")"
n_acc=$(grep -c "^Accuracy: " "$tmp/out")
[ "$n_acc" -eq 2 ] && ok "LFW evaluated after each of 2 epochs: $(grep '^Accuracy' "$tmp/out" | tail -1)" ||
    bad "expected 2 LFW evaluations, got $n_acc"
result=$(ls "$tmp"/logs/*/lfw_result.txt 2>/dev/null)
[ -n "$result" ] && [ "$(wc -l <"$result")" -eq 2 ] && grep -qP '^400\t[0-9.]+\t[0-9.]+$' "$result" &&
    ok "lfw_result.txt: $(tr '\t\n' ' |' <"$result")" || bad "lfw_result.txt missing or malformed"
last=$(grep '^Accuracy' "$tmp/out" | tail -1)
run=$(ls -d "$tmp"/models/*/ | head -n 1)
run=${run%/}
flags=(--lfw_pairs "$tmp/pairs.txt" --image_size 75 --lfw_batch_size 5 --lfw_nrof_folds 2 --distance_metric 1
    --use_flipped_images --use_fixed_image_standardization)
"$bin/fnrun" validate "$run" "$tmp/lfw" "${flags[@]}" >"$tmp/v1" 2>&1 &&
    grep -qF "$last" "$tmp/v1" && ok "validate on the run directory agrees: $(grep Accuracy "$tmp/v1")" ||
    { bad "validate on the run directory:"; cat "$tmp/v1"; }
# the same on the GPU executor, on the host emulation (tests/hostcuda) where it is built: each next
# batch is loaded and staged while one runs
emu=$(cd "$bin" && pwd)/libfn_hostcuda.so
if [ -f "$emu" ] && command -v c++ >/dev/null; then
    FN_GPU_BF16=0 FN_CUDA_EMULATOR=$emu FN_HOSTCUDA_SHUFFLE=9 FN_KERNEL_CACHE="$tmp/kernels" "$bin/fnrun" validate "$run" "$tmp/lfw" \
        "${flags[@]}" --device gpu >"$tmp/vg" 2>&1 && grep -q "^Device: fn host emulator" "$tmp/vg" && grep -qF "$last" "$tmp/vg" &&
        ok "validate --device gpu (emulated) agrees: $(grep Accuracy "$tmp/vg")" || { bad "validate --device gpu:"; cat "$tmp/vg"; }
fi
ckpt=$(ls "$run"/model-*.ckpt-2)
"$bin/fnrun" validate "$ckpt" "$tmp/lfw" "${flags[@]}" >"$tmp/v2" 2>&1 && grep -qF "$last" "$tmp/v2" &&
    grep -q "Area Under Curve (AUC): " "$tmp/v2" && grep -q "Equal Error Rate (EER): " "$tmp/v2" &&
    ok "validate on the checkpoint agrees and reports AUC and EER" || { bad "validate on the checkpoint:"; cat "$tmp/v2"; }
"$bin/fnrun" validate "$tmp/m.fnc" "$tmp/lfw" "${flags[@]}" --embedding_size 8 >"$tmp/v3" 2>&1 &&
    grep -q "untrained, seeded weights" "$tmp/v3" && ok "validate on the artifact alone runs (untrained)" ||
    { bad "validate on the artifact:"; cat "$tmp/v3"; }
printf '2\t4\nPerson_0\t1\t2\nPerson_0\t1\tx\n' >"$tmp/bad_pairs.txt"
"$bin/fnrun" validate "$tmp/m.fnc" "$tmp/lfw" --lfw_pairs "$tmp/bad_pairs.txt" >"$tmp/v4" 2>&1
[ $? -eq 1 ] && grep -q "bad_pairs.txt:3: expected" "$tmp/v4" && ok "a bad pairs line: $(cat "$tmp/v4")" ||
    { bad "bad pairs file:"; cat "$tmp/v4"; }
# the learning-curve figures of that run
mkdir -p "$tmp/fig"
"$bin/fnrun" plot "$tmp"/logs/*/ --out "$tmp/fig" >"$tmp/p" 2>&1
n_png=0
for f in lfw_accuracy cross_entropy accuracy; do
    head -c 8 "$tmp/fig/$f.png" 2>/dev/null | grep -q PNG && grep -q "<svg" "$tmp/fig/$f.svg" 2>/dev/null && n_png=$((n_png + 1))
done
[ "$n_png" -eq 3 ] && ok "fnrun plot wrote 3 figures as PNG and SVG" || { bad "fnrun plot:"; cat "$tmp/p"; }
finish

#!/usr/bin/env bash
# The seed page's training command line, unchanged except for its paths (a small generated
# dataset, temporary run directories) and a reduced epoch_size/max_nrof_epochs, runs as
# `fnrun train ARTIFACT ...`. Full size: Inception-ResNet-v1, 160x160, batch 90, embedding 512.
# Skipped in the sanitizer build (one step takes minutes there).
set -u
bin=${FN_BIN:-build}
case "$bin" in *asan*) echo "skip: sanitizer build"; exit 77 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/fnc" compile models/inception_resnet_v1.fn -o "$tmp/inception_resnet_v1.fnc" >/dev/null || exit 1
"$bin/fn_gendata" "$tmp/casia_maxpy_mtcnnalign_182_160" 10 25 182 >/dev/null || exit 1
schedule=../shared/data/schedules/learning_rate_schedule_classifier_casia.txt
if [ ! -f "$schedule" ]; then # the same content as the reference's file
    schedule=$tmp/learning_rate_schedule_classifier_casia.txt
    printf '# Learning rate schedule\n# Maps an epoch number to a learning rate\n0:  0.05\n60: 0.005\n80: 0.0005\n91: -1\n' >"$schedule"
fi
# an LFW-shaped folder of the generated people, and data/pairs.txt where the reference keeps it
# (the command runs in $tmp so that the default --lfw_pairs data/pairs.txt is found)
for k in 0 1 2 3 4; do
    mkdir -p "$tmp/lfw_mtcnnalign_160/Person_$k"
    for i in 1 2 3 4; do
        cp "$tmp/casia_maxpy_mtcnnalign_182_160/class_00$k/class_00${k}_000$i.png" \
            "$tmp/lfw_mtcnnalign_160/Person_$k/Person_${k}_000$i.png"
    done
done
mkdir -p "$tmp/data"
{ # 10 sets (the default --lfw_nrof_folds) of one same and one different pair
    printf '10\t1\n'
    for set in 0 1 2 3 4 5 6 7 8 9; do
        k=$((set % 5))
        printf 'Person_%d\t%d\t%d\n' $k $((1 + set / 5)) $((3 + set / 5))
        printf 'Person_%d\t%d\tPerson_%d\t%d\n' $k $((1 + set / 5)) $(((k + 1) % 5)) $((2 + set / 5))
    done
} >"$tmp/data/pairs.txt"
case "$schedule" in /*) ;; *) schedule=$PWD/$schedule ;; esac
bin=$(cd "$bin" && pwd)
cd "$tmp" || exit 1
"$bin/fnrun" train "$tmp/inception_resnet_v1.fnc" \
--logs_base_dir "$tmp/logs/facenet/" \
--models_base_dir "$tmp/models/facenet/" \
--data_dir "$tmp/casia_maxpy_mtcnnalign_182_160/" \
--image_size 160 \
--model_def models.inception_resnet_v1 \
--lfw_dir "$tmp/lfw_mtcnnalign_160/" \
--optimizer ADAM \
--learning_rate -1 \
--max_nrof_epochs 1 \
--keep_probability 0.8 \
--random_crop \
--random_flip \
--use_fixed_image_standardization \
--learning_rate_schedule_file "$schedule" \
--weight_decay 5e-4 \
--embedding_size 512 \
--lfw_distance_metric 1 \
--lfw_use_flipped_images \
--lfw_subtract_mean \
--validation_set_split_ratio 0.05 \
--validate_every_n_epochs 5 \
--prelogits_norm_loss_factor 5e-4 \
--epoch_size 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err"
fails=0
[ "$rc" -eq 0 ] || { echo "FAIL: status $rc"; fails=1; }
grep -q "^Epoch: \[1\]\[1/1\].*Lr 0.05000" "$tmp/out" || { echo "FAIL: no step line at the schedule's rate"; fails=1; }
grep -q "^Accuracy: .*+-" "$tmp/out" || { echo "FAIL: no LFW evaluation"; fails=1; }
ls "$tmp"/models/facenet/*/model-*.ckpt-1 >/dev/null 2>&1 || { echo "FAIL: no checkpoint"; fails=1; }
grep -q "^optimizer: ADAM" "$tmp"/logs/facenet/*/arguments.txt || { echo "FAIL: arguments.txt"; fails=1; }
[ "$fails" -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit "$fails"

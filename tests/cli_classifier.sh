#!/usr/bin/env bash
# fnrun classifier end to end on generated classes (the reduced network, seeded): TRAIN and
# CLASSIFY with --use_split_dataset print classifier.py's lines; a truncated classifier file,
# one for another embedding size, a class the classifier never saw, a class below
# --min_nrof_images_per_class and an empty folder each give one clear line, nothing half written.
source "$(dirname "$0")/lib_cli.sh"

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 3 12 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
flags=(--image_size 75 --embedding_size 8 --batch_size 10 --use_split_dataset --min_nrof_images_per_class 10
       --nrof_train_images_per_class 6)
cls() { "$bin/fnrun" classifier "$@" "${flags[@]}"; }

cls TRAIN "$tmp/data" "$tmp/m.fnc" "$tmp/c.svm" >"$tmp/out" 2>&1 &&
    grep -q "^Number of classes: 3" "$tmp/out" && grep -q "^Number of images: 18" "$tmp/out" &&
    grep -q "^Saved classifier model to file \"$tmp/c.svm\"" "$tmp/out" && ok "TRAIN: 3 classes, 18 images, saved" ||
    bad "TRAIN: $(cat "$tmp/out")"
cls CLASSIFY "$tmp/data" "$tmp/m.fnc" "$tmp/c.svm" >"$tmp/out" 2>&1 &&
    [ "$(grep -cE '^ {0,3}[0-9]+  class [0-9]{3}: [01]\.[0-9]{3}$' "$tmp/out")" -eq 18 ] &&
    grep -qE "^Accuracy: [01]\.[0-9]{3}$" "$tmp/out" && ok "CLASSIFY: 18 lines, $(grep ^Accuracy "$tmp/out")" ||
    bad "CLASSIFY: $(cat "$tmp/out")"

head -c 300 "$tmp/c.svm" >"$tmp/short.svm"
expect_error "truncated file" "truncated" cls CLASSIFY "$tmp/data" "$tmp/m.fnc" "$tmp/short.svm"
"$bin/fnrun" classifier CLASSIFY "$tmp/data" "$tmp/m.fnc" "$tmp/c.svm" "${flags[@]}" --embedding_size 16 \
    >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "is for embeddings of size 8; this model's are 16" "$tmp/err" &&
    ok "another embedding size: $(cat "$tmp/err")" || bad "another embedding size: $(cat "$tmp/err")"
mkdir -p "$tmp/more"
cp -r "$tmp"/data/* "$tmp/more/"
cp -r "$tmp/data/class_000" "$tmp/more/stranger"
expect_error "a class never seen" 'class "stranger" is not one the classifier was trained on' \
    cls CLASSIFY "$tmp/more" "$tmp/m.fnc" "$tmp/c.svm"
mkdir -p "$tmp/few/class_a"
cp -r "$tmp"/data/class_00[01] "$tmp/few/"
cp "$tmp"/data/class_002/*_000[1-5].png "$tmp/few/class_a/"
cls TRAIN "$tmp/few" "$tmp/m.fnc" "$tmp/f.svm" >"$tmp/out" 2>"$tmp/err" &&
    grep -q "left out class class_a: 5 images, fewer than --min_nrof_images_per_class 10" "$tmp/err" &&
    grep -q "^Number of classes: 2" "$tmp/out" && ok "a class below the minimum: $(cat "$tmp/err")" ||
    bad "a class below the minimum: $(cat "$tmp/out" "$tmp/err")"
mkdir -p "$tmp/empty"
expect_error "empty folder" "$tmp/empty" cls TRAIN "$tmp/empty" "$tmp/m.fnc" "$tmp/g.svm"
expect_error "bad mode" "the mode is TRAIN or CLASSIFY" cls FIT "$tmp/data" "$tmp/m.fnc" "$tmp/g.svm"
[ ! -e "$tmp/g.svm" ] && ok "nothing written by the failures" || bad "g.svm written"
finish

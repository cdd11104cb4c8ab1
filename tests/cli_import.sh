#!/usr/bin/env bash
# fnrun import from the command line: a facenet-pytorch state dict saved by torch
# (tests/interop/torch/import_tiny.pt) into the smallest model its names cover
# (tests/models/import_tiny.fn), the files it writes, --list, and bad input: each a non-zero
# exit without a crash (status < 128) and one line on stderr naming the file and the tensor.
source "$(dirname "$0")/lib_cli.sh"


fx=tests/interop
"$bin/fnc" compile tests/models/import_tiny.fn -o "$tmp/tiny.fnc" >/dev/null || { bad "compile"; finish; exit; }
fnrun="$bin/fnrun"

"$fnrun" import --help | grep -q -- "--allow_missing" && ok "--help lists the flags" || bad "--help"
"$fnrun" import $fx/torch/import_tiny.pt --list >"$tmp/list" &&
  grep -qP "^conv2d_1a.conv.weight\tfloat32\t\[4,3,3,3\]$" "$tmp/list" &&
  grep -qP "^conv2d_1a.bn.num_batches_tracked\tint64\t\[\]$" "$tmp/list" && ok "--list" || { bad "--list"; cat "$tmp/list"; }

if "$fnrun" import $fx/torch/import_tiny.pt -o "$tmp/res/tiny.ckpt" --model "$tmp/tiny.fnc" >"$tmp/log" 2>&1; then
    bad "an output folder that does not exist"
else
    ok "an output folder that does not exist is an error"
fi
mkdir -p "$tmp/res"
if "$fnrun" import $fx/torch/import_tiny.pt -o "$tmp/res/tiny.ckpt" --model "$tmp/tiny.fnc" >"$tmp/log" 2>&1 &&
   [ -s "$tmp/res/tiny.ckpt" ] && [ -s "$tmp/res/model-tiny.fnc" ] && grep -q "imported 8 variables" "$tmp/log"; then
    ok "state dict imported: the checkpoint and its artifact model-tiny.fnc"
else
    bad "import"; cat "$tmp/log"
fi
cmp -s "$tmp/tiny.fnc" "$tmp/res/model-tiny.fnc" && ok "the artifact beside it is the model's" || bad "artifact copy differs"

# bad input
printf 'not a model' >"$tmp/junk.pt"
head -c 2000 $fx/torch/import_tiny.pt >"$tmp/trunc.pt"
cp $fx/tf/frozen.pb "$tmp/ok.pb" && printf 'garbage!' >"$tmp/junk.pb"
head -c 300 $fx/tf/model-20180402-114759.ckpt-7.index >"$tmp/cut.ckpt-7.index"
cp $fx/tf/model-20180402-114759.ckpt-7.data-00000-of-00001 "$tmp/cut.ckpt-7.data-00000-of-00001"
expect_error "no such file" "$tmp/none.pt" "$fnrun" import "$tmp/none.pt" -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "not a model file" "junk.pt" "$fnrun" import "$tmp/junk.pt" -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "truncated state dict" "trunc.pt" "$fnrun" import "$tmp/trunc.pt" -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "pickle naming os.system" "os.system" "$fnrun" import $fx/torch/evil_os_system.pt -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "a .pb that is not a GraphDef" "junk.pb" "$fnrun" import "$tmp/junk.pb" -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "truncated .index" "cut.ckpt-7.index" "$fnrun" import "$tmp/cut.ckpt-7" -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "a dtype other than float32" "last_bn.running_var is float64" "$fnrun" import $fx/torch/import_tiny_f64.pt \
    -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "wrong shape (TF names)" "Bottleneck/weights: wrong shape" "$fnrun" import \
    $fx/tf/model-20180402-114759.ckpt-7 -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc" --allow_missing --allow_extra
expect_error "missing and extra tensors" "missing" "$fnrun" import $fx/tf/model-20180402-114759.ckpt-7.index \
    -o "$tmp/x.ckpt" --model "$tmp/tiny.fnc"
expect_error "artifact that is not one" "artifact" "$fnrun" import $fx/torch/import_tiny.pt -o "$tmp/x.ckpt" --model "$tmp/junk.pt"
expect_error "no -o" "-o OUT.ckpt" "$fnrun" import $fx/torch/import_tiny.pt --model "$tmp/tiny.fnc"
expect_error "unknown --format" "--format" "$fnrun" import $fx/torch/import_tiny.pt -o "$tmp/x.ckpt" --format onnx
[ ! -e "$tmp/x.ckpt" ] && ok "no checkpoint left by any failure" || bad "a failed import left $tmp/x.ckpt"
finish

#!/usr/bin/env bash
# fnrun export: the full Inception-ResNet-v1 (compiled here, seeded weights), a run directory of
# irv1_small trained one step (with --use_moving_averages; the embedding size its checkpoint's) and, with
# ../shared/data/mtcnn/det*.npy, the three MTCNN nets of $FN_BIN/mtcnn.fnc become ONNX files that
# fn's own reader accepts (the summary line) and, where a Python with the onnx package is found
# (python3, or Debian's /usr/bin/python3 with python3-onnx), onnx.checker with full_check; bad
# input (not an artifact, an unknown --output, no -o, an MTCNN net without weights) gives one
# line on stderr, a status below 128 and no file.
source "$(dirname "$0")/lib_cli.sh"


py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import onnx' 2>/dev/null; then py=$p; break; fi
done
onnx_check() { # onnx_check FILE: onnx.checker, full check (shape inference included)
    if [ -z "$py" ]; then echo "skip onnx.checker on $(basename "$1"): no Python with the onnx package"; return; fi
    if "$py" -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' "$1" 2>"$tmp/chk"; then
        ok "onnx.checker (full_check) accepts $(basename "$1")"
    else
        bad "onnx.checker on $(basename "$1"): $(tail -3 "$tmp/chk")"
    fi
}
export_ok() { # export_ok FILE.onnx "what" fnrun-export-args...
    local f=$1 what=$2
    shift 2
    if "$bin/fnrun" export "$@" -o "$f" >"$tmp/out" 2>"$tmp/err" && [ -s "$f" ] &&
        grep -qE "^Exported .* [0-9]+ nodes, [0-9]+ initializers, [0-9]+ parameters, opset 17 " "$tmp/out"; then
        ok "$what: $(cat "$tmp/out")"
        onnx_check "$f"
    else
        bad "$what: $(cat "$tmp/out" "$tmp/err")"
    fi
}

"$bin/fnc" compile models/inception_resnet_v1.fn -o "$tmp/irv1.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
export_ok "$tmp/irv1.onnx" "Inception-ResNet-v1, seeded" "$tmp/irv1.fnc"
if grep -q "22808144 parameters" "$tmp/out"; then ok "every weight of the 128-d net, 22,808,144 parameters"; else bad "parameters: $(cat "$tmp/out")"; fi
export_ok "$tmp/irv1_nchw.onnx" "Inception-ResNet-v1, NCHW input, two outputs" "$tmp/irv1.fnc" --input_layout nchw \
    --output embeddings --output prelogits --embedding_size 512
ls "$tmp"/*.tmp.* >/dev/null 2>&1 && bad "a temporary file is left" || ok "no temporary file left"

# a trained run (irv1_small, one step): its model directory, with the moving averages
"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/small.fnc" >/dev/null && "$bin/fn_gendata" "$tmp/data" 2 2 80 >/dev/null &&
    "$bin/fnrun" train "$tmp/small.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 2 --epoch_size 1 \
        --max_nrof_epochs 1 --embedding_size 8 --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models" \
        --validation_set_split_ratio 0 >"$tmp/train.log" 2>&1 || bad "train irv1_small: $(tail -3 "$tmp/train.log")"
run_dir=$(ls -d "$tmp"/models/*/ 2>/dev/null | head -1)
if [ -n "$run_dir" ]; then
    export_ok "$tmp/small.onnx" "a run directory, moving averages" "$run_dir" --use_moving_averages --image_size 75
    trained=$(grep -o "[0-9]* parameters" "$tmp/out")
    "$bin/fnrun" export "$tmp/small.fnc" --embedding_size 8 --image_size 75 -o "$tmp/small_seeded.onnx" >"$tmp/out" 2>&1
    seeded=$(grep -o "[0-9]* parameters" "$tmp/out")
    [ -n "$trained" ] && [ "$trained" = "$seeded" ] && ok "embedding size 8 from the checkpoint: $trained, as the artifact's at 8" ||
        bad "parameters: trained '$trained', seeded at 8 '$seeded'"
fi
expect_error "averages of an artifact alone" "needs a checkpoint" "$bin/fnrun" export "$tmp/irv1.fnc" --use_moving_averages -o "$tmp/bad.onnx"

weights=../shared/data/mtcnn
if [ -f "$weights/det1.npy" ] && [ -f "$weights/det2.npy" ] && [ -f "$weights/det3.npy" ]; then
    for net in pnet rnet onet; do
        export_ok "$tmp/$net.onnx" "MTCNN $net" "$bin/mtcnn.fnc" --graph "$net/eval" --mtcnn_weights "$weights" --image_size 48
    done
else
    echo "skip the MTCNN nets: no $weights/det1-3.npy"
fi

echo "not an artifact" >"$tmp/text.fnc"
expect_error "not an artifact" "$tmp/text.fnc" "$bin/fnrun" export "$tmp/text.fnc" -o "$tmp/bad.onnx"
expect_error "unknown --output" "unknown output \"nope\"" "$bin/fnrun" export "$tmp/irv1.fnc" --output nope -o "$tmp/bad.onnx"
expect_error "missing -o" "-o OUT.onnx" "$bin/fnrun" export "$tmp/irv1.fnc"
expect_error "a graph the artifact lacks" "no graph \"train\"" "$bin/fnrun" export "$tmp/irv1.fnc" --graph train -o "$tmp/bad.onnx"
expect_error "an artifact without an eval graph" "no graph \"eval\"" "$bin/fnrun" export "$bin/mtcnn.fnc" -o "$tmp/bad.onnx"
expect_error "an op without a lowering" "no ONNX lowering" "$bin/fnrun" export "$tmp/irv1.fnc" --graph train/SGD -o "$tmp/bad.onnx"
expect_error "MTCNN without weights" "--mtcnn_weights" "$bin/fnrun" export "$bin/mtcnn.fnc" --graph pnet/eval -o "$tmp/bad.onnx"
expect_error "bad layout" "--input_layout" "$bin/fnrun" export "$tmp/irv1.fnc" --input_layout hwcn -o "$tmp/bad.onnx"
[ -e "$tmp/bad.onnx" ] && bad "a failed export left $tmp/bad.onnx" || ok "no file from a failed export"
if "$bin/fnrun" export --help | grep -q -- "--input_layout"; then ok "--help lists the flags"; else bad "--help"; fi
finish

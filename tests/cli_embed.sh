#!/usr/bin/env bash
# fnrun embed and fnrun compare end to end: a class tree and single files to OUT.npy/OUT.tsv
# (numpy.load reads the file where NumPy is installed), an unreadable image reported and left
# out, bad command lines each a one-line error with nothing written; with the portraits and
# MTCNN weights, --align and compare.
source "$(dirname "$0")/lib_cli.sh"

"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || { echo "FAIL: compile"; exit 1; }
"$bin/fn_gendata" "$tmp/data" 3 4 80 >/dev/null || { echo "FAIL: gendata"; exit 1; }
flags=(--image_size 75 --embedding_size 8 --batch_size 5)

"$bin/fnrun" embed "$tmp/m.fnc" "$tmp/data" -o "$tmp/e" "${flags[@]}" --use_flipped_images >"$tmp/out" 2>&1 &&
    grep -q "^Embedded 12 of 12 images" "$tmp/out" && ok "class tree: $(grep ^Embedded "$tmp/out")" ||
    bad "class tree: $(tail -2 "$tmp/out")"
[ "$(wc -l <"$tmp/e.tsv")" -eq 13 ] && [ "$(cut -f2 "$tmp/e.tsv" | sort -u | wc -l)" -eq 4 ] &&
    ok "e.tsv: a header and 12 rows of 3 classes" || bad "e.tsv: $(head -3 "$tmp/e.tsv")"
if python3 -c "import numpy" 2>/dev/null; then
    shape=$(python3 -c "import numpy as np; a = np.load('$tmp/e.npy'); print(a.shape, a.dtype, bool(np.isfinite(a).all()))")
    [ "$shape" = "(12, 16) float32 True" ] && ok "numpy.load: $shape" || bad "numpy.load: $shape"
else
    echo "skip: numpy.load (no NumPy)"
fi

first=$(find "$tmp/data" -name '*.png' | sort | head -1)
echo "not an image" >"$tmp/broken.png"
"$bin/fnrun" embed "$tmp/m.fnc" "$first" "$tmp/broken.png" "$first" -o "$tmp/f" "${flags[@]}" >"$tmp/out" 2>&1 &&
    grep -q "^Embedded 2 of 3 images" "$tmp/out" && grep -q "broken.png" "$tmp/out" &&
    [ "$(grep -c broken "$tmp/f.tsv")" -eq 0 ] && ok "unreadable file named and left out" ||
    bad "unreadable file: $(cat "$tmp/out")"

mkdir -p "$tmp/empty"
expect_error "empty folder" "no images in this folder" "$bin/fnrun" embed "$tmp/m.fnc" "$tmp/empty" -o "$tmp/g"
expect_error "missing input" "No such file" "$bin/fnrun" embed "$tmp/m.fnc" "$tmp/nothing" -o "$tmp/g"
expect_error "no -o" "give -o OUT" "$bin/fnrun" embed "$tmp/m.fnc" "$tmp/data"
expect_error "no input" "needs MODEL and at least one INPUT" "$bin/fnrun" embed "$tmp/m.fnc" -o "$tmp/g"
expect_error "not a model" "$tmp/data" "$bin/fnrun" embed "$tmp/data" "$tmp/data" -o "$tmp/g" "${flags[@]}"
[ ! -e "$tmp/g.npy" ] && [ ! -e "$tmp/g.tsv" ] && ok "nothing written by the failures" || bad "g.npy or g.tsv written"
# --align on the two portraits (where ../shared/data has them and the weights): one row each,
# the image without a face left out, and the rows those of fnrun align's crops embedded
faces=../shared/data/faces weights=../shared/data/mtcnn
if [ -d "$faces" ] && [ -f "$weights/det1.npy" ] && [ -f "$bin/inception_resnet_v1.fnc" ]; then
    m="$bin/inception_resnet_v1.fnc"
    mkdir -p "$tmp/raw/p"
    cp "$faces"/*.jpg "$tmp/raw/p/"
    cp "$first" "$tmp/raw/p/zz_noface.png"
    "$bin/fnrun" embed "$m" "$tmp/raw" -o "$tmp/al" --align --mtcnn_weights "$weights" >"$tmp/out" 2>&1 &&
        grep -q "^Embedded 2 of 3 images" "$tmp/out" && grep -q "^Left out 1 images without a face" "$tmp/out" &&
        ok "--align: $(grep ^Embedded "$tmp/out")" || bad "--align: $(cat "$tmp/out")"
    rm "$tmp/raw/p/zz_noface.png"
    "$bin/fnrun" align "$tmp/raw" "$tmp/aligned" --image_size 160 --margin 44 --mtcnn_weights "$weights" \
        >"$tmp/out" 2>&1 || bad "fnrun align: $(tail -2 "$tmp/out")"
    "$bin/fnrun" embed "$m" "$tmp/aligned" -o "$tmp/crops" >"$tmp/out" 2>&1 || bad "embed crops: $(tail -2 "$tmp/out")"
    cmp -s "$tmp/al.npy" "$tmp/crops.npy" && ok "--align rows equal fnrun align's crops embedded" ||
        bad "--align rows differ from fnrun align's crops"
    # fnrun compare: compare.py's print-out; its distances are those of embed --align's rows
    "$bin/fnrun" compare "$m" "$tmp"/raw/p/*.jpg --mtcnn_weights "$weights" >"$tmp/cmp" 2>"$tmp/cmp.err" &&
        grep -q "^Distance matrix" "$tmp/cmp" && grep -q "^1: .*Anthony_Hopkins_0002.jpg" "$tmp/cmp" &&
        ok "compare: $(grep '^0  ' "$tmp/cmp")" || bad "compare: $(cat "$tmp/cmp" "$tmp/cmp.err")"
    "$bin/fnrun" compare "$m" "$tmp"/raw/p/*.jpg --mtcnn_weights "$weights" --format tsv >"$tmp/cmp.tsv" 2>/dev/null
    if python3 -c "import numpy" 2>/dev/null; then
        d=$(python3 -c "import numpy as np; a = np.load('$tmp/al.npy'); print('%.6f' % np.linalg.norm(a[0] - a[1]))")
        t=$(sed -n 2p "$tmp/cmp.tsv" | cut -f3)
        python3 -c "import sys; sys.exit(abs($d - $t) > 1e-4)" && ok "compare's distance $t = embed's rows' $d" ||
            bad "compare's distance $t, embed's rows give $d"
    fi
    expect_error "compare one image" "at least two images" "$bin/fnrun" compare "$m" "$tmp/raw/p/zz.jpg"
    expect_error "compare a folder" "a folder; compare takes image files" \
        "$bin/fnrun" compare "$m" "$tmp/raw" "$tmp/raw" --mtcnn_weights "$weights"
    expect_error "compare --format" "--format is text, tsv or json" \
        "$bin/fnrun" compare "$m" "$first" "$first" --format xml --mtcnn_weights "$weights"
    expect_error "--align without weights" "--align needs --mtcnn_weights" \
        env -u FN_MTCNN_WEIGHTS "$bin/fnrun" embed "$m" "$tmp/raw" -o "$tmp/g" --align
else
    echo "skip: --align (no ../shared/data/faces, mtcnn weights or $bin/inception_resnet_v1.fnc)"
fi
finish

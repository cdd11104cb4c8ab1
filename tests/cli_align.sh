#!/usr/bin/env bash
# fnrun align on 40 LFW images plus an unreadable file and a faceless picture: two processes on
# one output folder (the seed's `for N in {1..4}; do ... & done`) never align an image twice and
# leave only whole 160x160 PNGs; the bounding-box logs name every output once; a rerun skips
# what is done (also the two images without output); --detect_multiple_faces names files NAME_<i>.png; bad input gives clear errors.
# Skipped without ../shared/data.
source "$(dirname "$0")/lib_cli.sh"
export LC_ALL=C
data=../shared/data
[ -d "$data/mtcnn" ] && [ -d "$data/lfw/lfw-deepfunneled" ] || { echo "skip: $data/mtcnn or LFW absent"; exit 77; }
w=(--mtcnn_weights "$data/mtcnn")
in=$tmp/in out=$tmp/out

n=0 # 10 people with at least 4 images: their first 4
for d in "$data"/lfw/lfw-deepfunneled/*/; do
    files=("$d"*.jpg)
    [ "${#files[@]}" -ge 4 ] || continue
    mkdir -p "$in/$(basename "$d")"
    for f in "${files[@]:0:4}"; do ln -s "$(realpath "$f")" "$in/$(basename "$d")/"; done
    n=$((n + 1))
    [ "$n" -eq 10 ] && break
done
mkdir -p "$in/zz_odd" "$in/empty_class"
echo "not an image" >"$in/zz_odd/broken.jpg"
"$bin/fn_gendata" "$tmp/gen" 1 1 80 >/dev/null && cp "$tmp/gen/class_000/class_000_0001.png" "$in/zz_odd/shapes.png"

# two processes at once, one shuffling
"$bin/fnrun" align "$in" "$out" --image_size 160 --margin 32 "${w[@]}" --threads 1 --random_order >"$tmp/a.log" 2>&1 &
pid=$!
"$bin/fnrun" align "$in" "$out" --image_size 160 --margin 32 "${w[@]}" --threads 1 >"$tmp/b.log" 2>&1
rb=$?
wait $pid
ra=$?
[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && ok "two processes on one output folder both finished" ||
    bad "exit codes $ra $rb: $(tail -3 "$tmp/a.log") $(tail -3 "$tmp/b.log")"
aligned=$(cat "$tmp/a.log" "$tmp/b.log" | awk -F': ' '/^Number of successfully aligned images/ { s += $2 } END { print s + 0 }')
pngs=$(find "$out" -path "$out/.fn-align" -prune -o -type f -name '*.png' -print | wc -l)
logged=$(cat "$out"/bounding_boxes_*.txt | awk '{ print $1 }' | sort)
dups=$(echo "$logged" | uniq -d | wc -l)
echo "   aligned $aligned (by the two: $(grep -h '^Number of' "$tmp/a.log" "$tmp/b.log" | awk -F': ' '{ printf "%s ", $2 }')), PNGs $pngs, log lines $(echo "$logged" | wc -l), bounding-box files $(ls "$out"/bounding_boxes_*.txt | wc -l)"
[ "$aligned" -eq 40 ] && [ "$pngs" -eq 40 ] && [ "$dups" -eq 0 ] && [ "$(echo "$logged" | wc -l)" -eq 41 ] &&
    ok "40 faces saved once each; the logs name each output once (and the faceless picture alone)" ||
    bad "aligned $aligned, PNGs $pngs, $dups outputs logged twice"
[ "$(ls "$out"/bounding_boxes_*.txt | wc -l)" -eq 2 ] && ok "one bounding_boxes_<nnnnn>.txt per process" || bad "bounding-box files: $(ls "$out")"
grep -q 'Unable to align ".*shapes.png"' "$tmp/a.log" "$tmp/b.log" && grep -q "broken.jpg" "$tmp/a.log" "$tmp/b.log" &&
    grep -qx "$out/zz_odd/shapes.png" "$out"/bounding_boxes_*.txt &&
    ok "the unreadable file is reported, the faceless picture reported and logged by its output name alone" ||
    bad "messages for broken.jpg / shapes.png missing"

# every output a whole 160x160 PNG; nothing else left behind
bad_png=0
while IFS= read -r f; do
    sig=$(od -An -tx1 -N8 "$f" | tr -d ' \n')
    dims=$(od -An -tu1 -j16 -N8 "$f" | awk '{ print $3 * 256 + $4, $7 * 256 + $8 }')
    [ "$sig" = 89504e470d0a1a0a ] && [ "$dims" = "160 160" ] || bad_png=$((bad_png + 1))
done < <(find "$out" -path "$out/.fn-align" -prune -o -type f -name '*.png' -print)
others=$(find "$out" -type f ! -name '*.png' ! -name 'bounding_boxes_*.txt' ! -name revision_info.txt ! -name '*.nooutput' | wc -l)
marks=$(find "$out/.fn-align" -name '*.nooutput' | wc -l)
[ "$bad_png" -eq 0 ] && [ "$others" -eq 0 ] && [ "$marks" -eq 2 ] &&
    ok "every output is a 160x160 PNG; no temporary or lock file left; 2 marks of images without output" ||
    bad "$bad_png bad PNGs, $others other files: $(find "$out" -type f ! -name '*.png' | head -3)"
"$bin/fnrun" detect "${w[@]}" $(find "$out" -name '*.png' | head -5) >/dev/null 2>"$tmp/d.err" &&
    ok "the crops decode, and fnrun detect reads them" || bad "crops: $(cat "$tmp/d.err")"

# a rerun skips every finished image
"$bin/fnrun" align "$in" "$out" --image_size 160 --margin 32 "${w[@]}" >"$tmp/c.log" 2>&1
grep -q "^Number of successfully aligned images: 0" "$tmp/c.log" && grep -q "skipped (done before): 42;" "$tmp/c.log" &&
    ok "a rerun skips the 42 finished images (40 faces, 2 without output)" || bad "rerun: $(tail -4 "$tmp/c.log")"

# several faces: NAME_<i>.png
mkdir -p "$tmp/in2/one"
cp "$(find -L "$in" -name '*_0001.jpg' | head -1)" "$tmp/in2/one/"
"$bin/fnrun" align "$tmp/in2" "$tmp/out2" --image_size 100 "${w[@]}" --detect_multiple_faces >"$tmp/m.log" 2>&1 &&
    [ -n "$(find "$tmp/out2/one" -name '*_0.png')" ] && ok "--detect_multiple_faces writes NAME_0.png" ||
    bad "multiple faces: $(ls -R "$tmp/out2" | head) $(tail -2 "$tmp/m.log")"

# errors
"$bin/fnrun" align "$in" "$tmp/o3" >"$tmp/e" 2>&1
[ $? -eq 2 ] && grep -q "mtcnn_weights" "$tmp/e" && ok "no weights: exit 2, names --mtcnn_weights" || bad "no weights: $(cat "$tmp/e")"
"$bin/fnrun" align "$tmp/nowhere" "$tmp/o3" "${w[@]}" >"$tmp/e" 2>&1
[ $? -eq 1 ] && grep -q "nowhere" "$tmp/e" && ok "a missing input folder is named" || bad "missing input: $(cat "$tmp/e")"
"$bin/fnrun" align "$in" "$tmp/o3" "${w[@]}" --mtcnn_model "$tmp/none.fnc" >"$tmp/e" 2>&1
[ $? -eq 1 ] && grep -q "none.fnc" "$tmp/e" && ok "a missing artifact is named" || bad "missing artifact: $(cat "$tmp/e")"
"$bin/fnrun" align "$in" "$tmp/o3" "${w[@]}" --margin -2 >"$tmp/e" 2>&1
[ $? -eq 2 ] && ok "a negative margin is refused" || bad "negative margin: $(cat "$tmp/e")"
"$bin/fnrun" detect "${w[@]}" "$in/zz_odd/broken.jpg" >"$tmp/e" 2>&1
[ $? -eq 1 ] && grep -q "broken.jpg" "$tmp/e" && ok "fnrun detect names an unreadable image" || bad "detect broken: $(cat "$tmp/e")"
finish

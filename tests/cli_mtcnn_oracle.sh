#!/usr/bin/env bash
# fnrun detect against an independent NumPy oracle of the reference's detect_face
# (tests/python/mtcnn_oracle.py: the same nets, pyramid, crops, thresholds and NMS, transposed images
# and all): on the two portraits of ../shared/data/faces and 20 LFW images (the first image of the
# first 20 people, in sorted order, with at least 2 images), the same faces, boxes and landmarks
# within 2 px (IoU >= 0.95) and scores within 0.01. Skipped without ../shared/data or NumPy/OpenCV/Pillow.
source "$(dirname "$0")/lib_cli.sh"
export LC_ALL=C # sorted globs
data=../shared/data
oracle=tests/python/mtcnn_oracle.py

for d in "$data/mtcnn" "$data/faces" "$data/lfw/lfw-deepfunneled"; do
    [ -d "$d" ] || { echo "skip: $d absent"; exit 77; }
done
if ! python3 -c "import numpy, cv2, PIL" 2>/dev/null; then
    pip install -q numpy opencv-python-headless pillow >/dev/null 2>&1 &&
        python3 -c "import numpy, cv2, PIL" 2>/dev/null ||
        { echo "skip: cannot import or install numpy, cv2 (opencv-python-headless) and PIL (pillow)"; exit 77; }
fi

images=("$data"/faces/*.jpg)
n_lfw=0
for d in "$data"/lfw/lfw-deepfunneled/*/; do
    files=("$d"*.jpg)
    [ "${#files[@]}" -ge 2 ] || continue
    images+=("${files[0]}")
    n_lfw=$((n_lfw + 1))
    [ "$n_lfw" -eq 20 ] && break
done
[ "${#images[@]}" -eq 22 ] || { echo "skip: expected 2 portraits and 20 LFW people, found ${#images[@]} images"; exit 77; }

# the oracle alone: an obvious face in every image, inside it; on LFW the largest one near the centre
OPENBLAS_NUM_THREADS=2 python3 "$oracle" "$data/mtcnn" "${images[@]}" >"$tmp/oracle.tsv" 2>"$tmp/oracle.err" ||
    { bad "the oracle failed: $(tail -3 "$tmp/oracle.err")"; finish; exit; }
sane=$(awk -F'\t' '
    /^#image/ { n++; next } /^#/ { next }
    { w = 250; if ($3 < -5 || $4 < -5 || $5 > w + 5 || $6 > w + 5) out++
      a = ($5 - $3) * ($6 - $4); if (a > best[$1]) { best[$1] = a; cx[$1] = ($3 + $5) / 2; cy[$1] = ($4 + $6) / 2 } }
    END { for (p in best) { found++; if (cx[p] < 70 || cx[p] > 180 || cy[p] < 60 || cy[p] > 190) off++ }
          printf "%d %d %d %d\n", n, found, out + 0, off + 0 }' "$tmp/oracle.tsv")
read -r n_img n_found n_out n_off <<<"$sane"
[ "$n_img" -eq 22 ] && [ "$n_found" -eq 22 ] && [ "$n_out" -eq 0 ] && [ "$n_off" -eq 0 ] &&
    ok "the oracle finds a face in each of the 22 images, inside the image, the largest near the centre" ||
    bad "oracle sanity: $n_img images read, $n_found with a face, $n_out boxes outside, $n_off largest faces off-centre"

# fn on the same images
"$bin/fnrun" detect --mtcnn_weights "$data/mtcnn" "${images[@]}" >"$tmp/fn.tsv" 2>"$tmp/fn.err"
rc=$?
if [ "$rc" -ne 0 ]; then
    bad "fnrun detect exited with $rc: $(tail -3 "$tmp/fn.err")"
elif ! head -n 1 "$tmp/fn.tsv" | grep -q '^#'; then
    bad "fnrun detect: the first line is not a '#' header: $(head -n 1 "$tmp/fn.tsv")"
else
    ok "fnrun detect ran on ${#images[@]} images: $(grep -vc '^#' "$tmp/fn.tsv") faces"
    if python3 "$oracle" --compare "$tmp/fn.tsv" "$tmp/oracle.tsv" >"$tmp/cmp" 2>&1; then
        ok "fnrun detect agrees with the oracle: $(tail -n 2 "$tmp/cmp" | head -n 1)"
    else
        bad "fnrun detect differs from the oracle:"
        grep -v '^ok ' "$tmp/cmp"
    fi
fi
finish

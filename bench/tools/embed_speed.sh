#!/usr/bin/env bash
# fnrun embed's images/s, end to end (model load, bind, JPEG decoding, the .npy written), on
# N LFW images (or generated ones where ../shared/data has no LFW), against the backend's own
# forward-pass rate (bench/cpu/embed_bench) and PyTorch's (bench/ref/train_step.py --embed),
# all at batch 100, alternating for ROUNDS rounds; medians and the ratios. The tool must keep
# the backend's ratio against PyTorch (issue 26). Run with the venv that has torch on PATH, as
# bench/cpu/run.sh: PATH=$HOME/.cache/fn-interop/bin:$PATH bench/tools/embed_speed.sh
# Usage: bench/tools/embed_speed.sh [BUILD] [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build} n=${2:-600} rounds=${3:-3}
cmake --build "$build" --target fnrun embed_bench irv1_artifact >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/images"
lfw=../shared/data/lfw/lfw-deepfunneled
if [ -d "$lfw" ]; then
    find "$lfw" -name '*.jpg' | sort >"$work/all"
    head -n "$n" "$work/all" | while read -r f; do ln -s "$(realpath "$f")" "$work/images/"; done
else
    "$build/fn_gendata" "$work/gen" 1 "$n" 250 >/dev/null && ln -s "$work"/gen/*/* "$work/images/"
fi
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tools=() fwds=() pts=()
for r in $(seq "$rounds"); do
    tools+=("$("$build/fnrun" embed "$build/inception_resnet_v1.fnc" "$work/images" -o "$work/e" 2>/dev/null |
        sed -n 's/.*s (\([0-9.]*\) images\/s).*/\1/p')")
    fwds+=("$("$build/embed_bench" --batch 100 --reps 3 | sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p')")
    pts+=("$(python3 bench/ref/train_step.py --device cpu --batch 100 --mode fp32 --steps 3 --warmup 1 --rounds 1 \
        --classes 16 --embed | sed -n 's/.*images\/s=\([0-9.]*\).*/\1/p')")
    echo "round $r: fnrun embed ${tools[-1]}, forward passes ${fwds[-1]}, PyTorch ${pts[-1]} images/s"
done
t=$(median "${tools[@]}") f=$(median "${fwds[@]}") p=$(median "${pts[@]}")
python3 -c "print('fnrun embed %s images/s (%d images, end to end) = %.0f%% of the forward passes (%s), %.2fx PyTorch (%s; the backend alone %.2fx); %s'
  % ('$t', $n, 100 * $t / $f, '$f', $t / $p, '$p', $f / $p, '$(lscpu | sed -n 's/^Model name: *//p')'))"

#!/usr/bin/env bash
# Packs the real images of check.sh's loss check into bench/gpu/lfw.tar (ignored by git; send it
# beside the bundle with the device tool's carry): LFW deep-funneled's people with at least MIN
# images (default 20: 62 people, 3,023 images, about 32 MB), from ../shared/data.
# Usage: bench/gpu/lfw_subset.sh [LFW_DIR] [MIN]
set -euo pipefail
src=${1:-../shared/data/lfw/lfw-deepfunneled}
min=${2:-20}
[ -d "$src" ] || { echo "lfw_subset: no $src (LFW deep-funneled)" >&2; exit 1; }
list=$(mktemp)
trap 'rm -f "$list"' EXIT
for d in "$src"/*/; do
    n=$(find "$d" -maxdepth 1 -name '*.jpg' | wc -l)
    if [ "$n" -ge "$min" ]; then basename "$d"; fi
done | sort >"$list"
tar -C "$src" -cf bench/gpu/lfw.tar --transform 's,^,lfw/,' -T "$list"
echo "bench/gpu/lfw.tar: $(wc -l <"$list") people, $(tar -tf bench/gpu/lfw.tar | grep -c '\.jpg$') images, $(du -h bench/gpu/lfw.tar | cut -f1)"

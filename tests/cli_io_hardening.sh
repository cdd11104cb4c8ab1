#!/usr/bin/env bash
# Input and output at the edges, through fnrun: detect --annotate on two images with one base
# name writes two files; many unreadable files give a capped list of errors and a count (detect
# and align); align onto a full filesystem (a 64 KiB tmpfs, skipped where mount is not
# permitted) fails with the file and the reason. Skipped without ../shared/data.
# Not here: the writers' own full-filesystem checks (test_events.c, test_image.c).
source "$(dirname "$0")/lib_cli.sh"
export LC_ALL=C
data=../shared/data
[ -d "$data/mtcnn" ] && [ -d "$data/faces" ] || { echo "skip: $data/mtcnn or $data/faces absent"; exit 77; }
w=(--mtcnn_weights "$data/mtcnn")
face=$data/faces/Anthony_Hopkins_0001.jpg

# two images named x.jpg in two folders: two annotated files, the second renamed
mkdir -p "$tmp/a" "$tmp/b"
cp "$face" "$tmp/a/x.jpg"
cp "$data/faces/Anthony_Hopkins_0002.jpg" "$tmp/b/x.jpg"
"$bin/fnrun" detect "$tmp/a/x.jpg" "$tmp/b/x.jpg" --annotate "$tmp/ann" "${w[@]}" >"$tmp/d.out" 2>"$tmp/d.err"
if [ -f "$tmp/ann/x.png" ] && [ -f "$tmp/ann/x_2.png" ] && ! cmp -s "$tmp/ann/x.png" "$tmp/ann/x_2.png" &&
   grep -qF -- "-> $tmp/ann/x_2.png" "$tmp/d.err"; then
    ok "detect --annotate: a/x.jpg and b/x.jpg give x.png and x_2.png"
else
    bad "detect --annotate with one base name twice: $(ls "$tmp/ann" 2>&1 | tr '\n' ' ') $(cat "$tmp/d.err")"
fi

# 4 KiB of random bytes cut into 64 files: 20 errors listed, the rest counted
mkdir -p "$tmp/junk/cls"
head -c 4096 /dev/urandom >"$tmp/rand"
split -b 64 -a 3 "$tmp/rand" "$tmp/junk/cls/r"
"$bin/fnrun" detect "$tmp"/junk/cls/r* "${w[@]}" >"$tmp/j.out" 2>"$tmp/j.err"
rc=$? lines=$(wc -l <"$tmp/j.err")
if [ "$rc" -eq 1 ] && [ "$lines" -le 23 ] && grep -q "44 more unreadable images not listed" "$tmp/j.err" &&
   grep -q "64 unreadable" "$tmp/j.err"; then
    ok "detect on 64 random files: $lines stderr lines, the rest counted"
else
    bad "detect on 64 random files: status $rc, $lines stderr lines: $(tail -3 "$tmp/j.err")"
fi
"$bin/fnrun" align "$tmp/junk" "$tmp/jout" "${w[@]}" --threads 2 >"$tmp/al.out" 2>&1
rc=$? listed=$(grep -c "cannot decode\|cannot read" "$tmp/al.out")
if [ "$rc" -eq 0 ] && [ "$listed" -eq 20 ] && grep -q "unreadable: 64" "$tmp/al.out" &&
   grep -q "not listed" "$tmp/al.out"; then
    ok "align on 64 random files: 20 listed, 64 counted"
else
    bad "align on 64 random files: status $rc, $listed listed: $(tail -4 "$tmp/al.out")"
fi

# align onto a full filesystem: an error naming a file and the reason, no partial PNG left
mkdir -p "$tmp/in/p" "$tmp/full"
cp "$face" "$tmp/in/p/"
if mount -t tmpfs -o size=64k tmpfs "$tmp/full" 2>/dev/null; then
    trap 'umount -l "$tmp/full" 2>/dev/null; rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/full/out/p"
    head -c 52K /dev/zero >"$tmp/full/filler" # 3 pages left: revision_info.txt, the box log, not a face
    "$bin/fnrun" align "$tmp/in" "$tmp/full/out" "${w[@]}" --threads 1 >"$tmp/f.out" 2>"$tmp/f.err"
    rc=$?
    left=$(find "$tmp/full/out" -name '*.png' | wc -l)
    if [ "$rc" -ne 0 ] && grep -q "\.png: No space left on device" "$tmp/f.err" && [ "$left" -eq 0 ]; then
        ok "align onto a full filesystem: $(cat "$tmp/f.err")"
    else
        bad "align onto a full filesystem: status $rc, $left PNGs left: $(cat "$tmp/f.err")"
    fi
else
    echo "skip: cannot mount a tmpfs: align onto a full filesystem not checked"
fi
finish

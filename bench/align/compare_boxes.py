#!/usr/bin/env python3
"""Compare two alignment runs by their bounding-box logs.

Usage: compare_boxes.py DIR_A DIR_B
Reads every DIR/bounding_boxes_*.txt (lines `<output path> x1 y1 x2 y2`, or the path alone when
no face was found), keys each line by `<class>/<file name>` of its output path, and prints the
aligned count of each side and, over the images both aligned, the mean IoU of the (margin
expanded, clipped) boxes and the fraction with IoU >= 0.9. Last line, for scripts:
`a_aligned b_aligned common mean_iou frac_iou_ge_0.9`.
"""
import glob
import os
import sys


def read_boxes(d):
    files = sorted(glob.glob(os.path.join(d, "bounding_boxes_*.txt")))
    if not files:
        sys.exit(f"compare_boxes: no bounding_boxes_*.txt in {d}")
    boxes, tried = {}, set()
    for fn in files:
        with open(fn) as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                if len(parts) >= 5:
                    path, coords = " ".join(parts[:-4]), parts[-4:]
                else:
                    path, coords = " ".join(parts), None
                key = "/".join(os.path.normpath(path).split(os.sep)[-2:])
                tried.add(key)
                if coords is not None:
                    boxes[key] = tuple(float(c) for c in coords)
    return boxes, tried


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare_boxes.py DIR_A DIR_B")
    a, ta = read_boxes(sys.argv[1])
    b, tb = read_boxes(sys.argv[2])
    common = sorted(set(a) & set(b))
    ious = [iou(a[k], b[k]) for k in common]
    mean = sum(ious) / len(ious) if ious else float("nan")
    frac = sum(v >= 0.9 for v in ious) / len(ious) if ious else float("nan")
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    print(f"logged: {len(ta)} / {len(tb)}; aligned: {len(a)} / {len(b)}; both: {len(common)}")
    print(f"aligned by only the first: {len(only_a)} {only_a[:5]}")
    print(f"aligned by only the second: {len(only_b)} {only_b[:5]}")
    if ious:
        worst = sorted(zip(ious, common))[:3]
        print(f"mean IoU {mean:.4f}, IoU >= 0.9: {frac:.4f}, lowest: "
              + ", ".join(f"{k} {v:.3f}" for v, k in worst))
    print(f"{len(a)} {len(b)} {len(common)} {mean:.4f} {frac:.4f}")


if __name__ == "__main__":
    main()

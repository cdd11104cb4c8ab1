#!/usr/bin/env python3
"""PyTorch peer for the alignment benchmark: align_dataset_mtcnn.py's per-image work done with
facenet-pytorch's MTCNN on the CPU.

Usage: pytorch_align.py INPUT_DIR OUTPUT_DIR [--image_size 160] [--margin 32] [--threads 2]
                        [--batch B] [--limit N]

INPUT_DIR holds one folder per class (sorted bytewise, files sorted too, as fn does). Per image:
read with PIL (grey -> RGB, alpha dropped), detect all faces (minsize 20, thresholds
0.6/0.7/0.7, factor 0.709), pick the face with the largest area - 2 * squared offset of its
centre from the image centre, expand by margin/2 per side clipped to the image (int32
truncation), crop, resize to image_size x image_size with PIL BILINEAR, save
OUTPUT_DIR/<class>/<name>.png, log `<output path> x1 y1 x2 y2` (the path alone when no face was
found) to OUTPUT_DIR/bounding_boxes_00000.txt.

Timed: the read + detect + crop + resize + save loop over all images, after the model load and
one untimed warm-up detection. --batch B > 1 hands MTCNN lists of up to B consecutive images of
the same size (facenet-pytorch's batched detection); the default, 1, is one image at a time as
the reference does.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from facenet_pytorch import MTCNN


def list_images(input_dir):
    items = []
    for cls in sorted(os.listdir(input_dir)):
        cdir = os.path.join(input_dir, cls)
        if not os.path.isdir(cdir):
            continue
        for name in sorted(os.listdir(cdir)):
            items.append((cls, name, os.path.join(cdir, name)))
    return items


def choose_face(boxes, w, h):
    """align_dataset_mtcnn's choice: argmax(area - 2 * squared offset from the centre)."""
    if len(boxes) == 1:
        return boxes[0]
    size = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    off = np.vstack([(boxes[:, 0] + boxes[:, 2]) / 2 - w / 2,
                     (boxes[:, 1] + boxes[:, 3]) / 2 - h / 2])
    off_sq = np.sum(np.power(off, 2.0), 0)
    return boxes[np.argmax(size - off_sq * 2.0)]


def crop_save(img, det, margin, image_size, out_path):
    w, h = img.size
    bb = np.zeros(4, dtype=np.int32)
    bb[0] = np.maximum(det[0] - margin / 2, 0)
    bb[1] = np.maximum(det[1] - margin / 2, 0)
    bb[2] = np.minimum(det[2] + margin / 2, w)
    bb[3] = np.minimum(det[3] + margin / 2, h)
    face = img.crop((int(bb[0]), int(bb[1]), int(bb[2]), int(bb[3])))
    face = face.resize((image_size, image_size), Image.BILINEAR)
    face.save(out_path, format="PNG")
    return bb


def read_rgb(path):
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError, SyntaxError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input_dir")
    ap.add_argument("output_dir")
    ap.add_argument("--image_size", type=int, default=160)
    ap.add_argument("--margin", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1,
                    help="images per MTCNN call (same-sized consecutive images); 1 = one at a time")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    items = list_images(args.input_dir)
    if args.limit > 0:
        items = items[:args.limit]
    if not items:
        sys.exit(f"pytorch_align: no images under {args.input_dir}")
    os.makedirs(args.output_dir, exist_ok=True)
    for cls in sorted({c for c, _, _ in items}):
        os.makedirs(os.path.join(args.output_dir, cls), exist_ok=True)

    mtcnn = MTCNN(image_size=args.image_size, margin=args.margin, min_face_size=20,
                  thresholds=[0.6, 0.7, 0.7], factor=0.709, post_process=False,
                  select_largest=False, keep_all=True, device="cpu")
    mtcnn.eval()
    warm = None
    for _, _, p in items:
        warm = read_rgb(p)
        if warm is not None:
            break
    with torch.no_grad():
        if warm is not None:
            mtcnn.detect(warm if args.batch <= 1 else [warm] * min(args.batch, len(items)))

    bb_path = os.path.join(args.output_dir, "bounding_boxes_00000.txt")
    aligned = 0
    total = 0
    lines = []

    def finish(cls, name, path, img, boxes):
        nonlocal aligned
        out_path = os.path.join(args.output_dir, cls, os.path.splitext(name)[0] + ".png")
        if img is None:
            return
        if boxes is None or len(boxes) == 0:
            print(f'Unable to align "{path}"')
            lines.append(out_path)
            return
        det = choose_face(np.asarray(boxes, dtype=np.float64), img.size[0], img.size[1])
        bb = crop_save(img, det, args.margin, args.image_size, out_path)
        lines.append(f"{out_path} {bb[0]} {bb[1]} {bb[2]} {bb[3]}")
        aligned += 1

    t0 = time.perf_counter()
    with torch.no_grad():
        if args.batch <= 1:
            for cls, name, path in items:
                total += 1
                img = read_rgb(path)
                boxes = mtcnn.detect(img)[0] if img is not None else None
                finish(cls, name, path, img, boxes)
        else:
            pending = []  # (cls, name, path, img) of one size

            def flush():
                if not pending:
                    return
                batch_boxes, _ = mtcnn.detect([p[3] for p in pending])
                for (cls, name, path, img), boxes in zip(pending, batch_boxes):
                    finish(cls, name, path, img, boxes)
                pending.clear()

            for cls, name, path in items:
                total += 1
                img = read_rgb(path)
                if img is None:
                    continue
                if pending and pending[0][3].size != img.size:
                    flush()
                pending.append((cls, name, path, img))
                if len(pending) >= args.batch:
                    flush()
            flush()
        with open(bb_path, "w") as f:
            f.write("\n".join(lines) + ("\n" if lines else ""))
    dt = time.perf_counter() - t0

    mode = "one at a time" if args.batch <= 1 else f"batch {args.batch}"
    print(f"Total number of images: {total}")
    print(f"Number of successfully aligned images: {aligned}")
    print(f"mode: {mode}, threads: {args.threads}, torch {torch.__version__}")
    print(f"time: {dt:.3f} s")
    print(f"images/s: {total / dt:.2f}")


if __name__ == "__main__":
    main()

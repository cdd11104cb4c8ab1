"""The peer: the same per-image work with PIL + NumPy, one core.

    pil_pipeline.py LIST N [--check FILE K]

With --check, first compares fn's dumped centre-crop output for the first K images with PIL's
and fails if they differ by more than one grey level (decoders may round differently).
Prints "PIL images/s per core: X" after a warm-up pass."""
import sys
import time

import numpy as np
from PIL import Image


def load(path):
    return np.asarray(Image.open(path).convert("RGB"))


def centre(x, s=160):
    h, w, _ = x.shape
    oy, ox = (h - s) // 2, (w - s) // 2
    return x[oy:oy + s, ox:ox + s]


def main():
    paths = [line.strip() for line in open(sys.argv[1])][: int(sys.argv[2])]
    if len(sys.argv) >= 6 and sys.argv[3] == "--check":
        k = int(sys.argv[5])
        ours = np.fromfile(sys.argv[4], dtype=np.float32).reshape(k, 160, 160, 3)
        for i in range(k):
            ref = (centre(load(paths[i])).astype(np.float32) - 127.5) / 128.0
            err = float(np.abs(ref - ours[i]).max())
            if err > 1.0 / 128 + 1e-6:
                sys.exit(f"check failed: {paths[i]}: max abs difference {err:.5f} from PIL")
        print(f"check: fn's decode + centre crop + standardisation matches PIL on {k} images")
    rng = np.random.default_rng(1)
    for rep in range(2):  # the first pass warms the page cache
        t0 = time.perf_counter()
        acc = 0.0
        for p in paths:
            x = load(p)
            h, w, _ = x.shape
            oy, ox = rng.integers(0, h - 160 + 1), rng.integers(0, w - 160 + 1)
            x = x[oy:oy + 160, ox:ox + 160]
            if rng.random() < 0.5:
                x = x[:, ::-1]
            y = (x.astype(np.float32) - 127.5) / 128.0
            acc += float(y[0, 0, 0])
        dt = time.perf_counter() - t0
    print(f"PIL images/s per core: {len(paths) / dt:.1f} ({len(paths)} images, {dt:.3f} s)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ONNX Runtime's embeddings rate on an ONNX file (fnrun export's): batch B of random 160x160
images, --warmup runs, then the median of --runs timed runs, as `images/s=...` (bench/cpu/run.sh's
ORT column). Checks the outputs are finite and L2-normalised before timing. Not a parity check
(that is bench/interop/onnx_parity.py)."""
import argparse
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--batch", type=int, default=100)
ap.add_argument("--image_size", type=int, default=160)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--runs", type=int, default=3)
a = ap.parse_args()
s = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
x = np.random.RandomState(0).uniform(-1, 1, (a.batch, a.image_size, a.image_size, 3)).astype(np.float32)
for _ in range(a.warmup):
    y = s.run(["embeddings"], {"images": x})[0]
norms = np.linalg.norm(y, axis=1)
if not np.all(np.isfinite(y)) or np.abs(norms - 1).max() > 1e-3:
    sys.exit("ONNX Runtime's embeddings are not finite unit vectors")
times = []
for _ in range(a.runs):
    t0 = time.perf_counter()
    s.run(["embeddings"], {"images": x})
    times.append(time.perf_counter() - t0)
print(f"onnxruntime {ort.__version__} batch={a.batch} images/s={a.batch / statistics.median(times):.1f}")

#!/usr/bin/env python3
"""Loss trajectories of fnrun train runs side by side (issue 29's check of the default mode).

Usage: loss_compare.py [--window W] [--bound B] REF.txt RUN.txt [CHAOS.txt]

REF and RUN are `fnrun train` logs of the same command (same seed, data and order) in two modes,
e.g. float32 and bfloat16 activations. Single steps part after a few steps however the arithmetic
is done (batch norm over a small batch, ADAM), so the comparison is on the mean loss of each
window of W steps: the worst relative difference of RUN's window means from REF's. CHAOS, a third
log of REF's mode with another float32 rounding (e.g. FN_GPU_IMPLICIT=0), says how far two float32
runs part by themselves. The verdict: RUN holds when its worst window is within B (default 0.05)
or within twice CHAOS's worst, whichever is larger. Exit status 0 when it holds, 1 when not, 2 on
unreadable logs.
"""
import argparse
import re
import sys


def losses(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"Epoch: \[\d+\]\[\d+/\d+\]\s.*\bLoss ([-+0-9.eEnaif]+)", line)
            if m:
                out.append(float(m.group(1)))
    return out


def windows(xs, w):
    return [sum(xs[i:i + w]) / w for i in range(0, len(xs) - w + 1, w)]


def worst(a, b):
    return max((abs(x - y) / abs(x) for x, y in zip(a, b)), default=float("nan"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--bound", type=float, default=0.05)
    ap.add_argument("logs", nargs="+")
    a = ap.parse_args()
    if len(a.logs) not in (2, 3):
        ap.error("two or three logs")
    runs = [losses(p) for p in a.logs]
    n = min(len(r) for r in runs)
    if n < a.window:
        print(f"loss_compare: {n} steps in common, fewer than a window of {a.window}", file=sys.stderr)
        return 2
    runs = [r[:n] for r in runs]
    ws = [windows(r, a.window) for r in runs]
    names = ["ref", "run", "chaos"][:len(runs)]
    print(f"{n} steps, mean loss per {a.window} steps:")
    print("steps      " + "".join(f"{x:>9}" for x in names))
    for k in range(len(ws[0])):
        print(f"{k * a.window + 1:4d}-{(k + 1) * a.window:<4d}  " + "".join(f"{w[k]:9.4f}" for w in ws))
    run_worst = worst(ws[0], ws[1])
    first = abs(runs[1][0] - runs[0][0]) / abs(runs[0][0])
    bound = a.bound
    line = f"worst window {run_worst:.3e} (first step {first:.2e})"
    if len(runs) == 3:
        chaos = worst(ws[0], ws[2])
        bound = max(bound, 2 * chaos)
        line += f"; two float32 runs part by {chaos:.3e}"
    ok = run_worst <= bound
    print(f"{line}; bound {bound:.3e}: {'holds' if ok else 'DOES NOT HOLD'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

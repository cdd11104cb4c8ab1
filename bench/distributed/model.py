#!/usr/bin/env python3
"""A model of data-parallel scaling for Inception-ResNet-v1 (issue 28): how much of a training
step the gradient reduction adds on K GPUs, with and without overlapping it with the backward pass.

The step (from the graph): `fnc dump models/inception_resnet_v1.fn --graph eval` gives every
convolution and matmul in forward order with its output shape and weight shape. Assumptions,
each a flag:
  - the backward pass takes `--backward` of the step (2/3: its convolutions do twice the forward's
    work), spread over the layers in proportion to their multiply-adds, last layer first; a
    layer's gradient is final when its share of the backward pass ends;
  - gradients are float32 (`--bytes 4`; bf16 would halve them), reduced in buckets of `--bucket`
    MB in backward order; a bucket's all-reduce starts when its last gradient is final and after
    the previous bucket's (one NCCL stream);
  - a ring all-reduce of B bytes over K GPUs takes 2 (K-1)/K B / busbw + 2 (K-1) alpha: busbw
    `--nvlink` GB/s within a node (NVLink 4: NCCL reaches ~360 GB/s of its 450), `--ib` GB/s
    per GPU between nodes (one 400 Gb/s NDR port per GPU: ~45 GB/s), alpha `--alpha` us a step;
    across nodes the ring is bound by the slower links;
  - the Logits layer has `--classes` outputs (CASIA-WebFace's 10,575: 1.35 M more weights);
  - the step time per GPU at its batch: `--step` ms (62: fn at batch 256 on an H200,
    bench/RESULTS.md; 28.4: the 9,000 images/s goal on an H100).
Efficiency = step / (step + exposed reduction), where the exposed part is what ends after the
backward pass (overlapped) or all of it (not overlapped).

With `--timeline FILE` the step's timeline is measured instead: the file fnrun writes with
FN_PROFILE=1 FN_PROFILE_TIMELINE=FILE (one replica's reductions kept: FN_COMM=self, on a GPU;
bench/gpu/check.sh makes it), every item of the step in its order with its synchronised time and,
for a reduction, its group and bytes. The times are scaled so that they add up to `--step`; a run
of consecutive reductions is ready when the items before it have run, and goes in buckets of
`--bucket` MB as fn sends them, one after another; a bucket must be done when the next run is
ready (its updates run among the items between), the last one at once (its updates follow it),
and what it is late by is exposed; synchronised batch norm's reductions (group 1) wait in the
step's path, so all of their time counts.
"""
import argparse
import re
import subprocess
import sys


def layers(fnc, model, classes):
    """[(name, weights, macs)] in forward order, per image (the eval graph's, Logits included)."""
    text = subprocess.run([fnc, 'dump', model, '--graph', 'eval', '-D', 'N=1', '-D', 'image_size=160', '-D',
                           'embedding_size=128', '-D', f'classes={classes}'],
                          capture_output=True, text=True, check=True).stdout
    shapes = {}  # param name -> shape
    for m in re.finditer(r'= param\(\) \{name="([^"]+)".*?: f\[([0-9,]+)\]', text):
        shapes[m.group(1)] = [int(v) for v in m.group(2).split(',')]
    out = []
    for m in re.finditer(r'= (conv2d|matmul)\(.*?: f\[([0-9,]+)\] @(\S+)', text):
        op, dims, scope = m.group(1), [int(v) for v in m.group(2).split(',')], m.group(3)
        w = shapes.get(scope + '/weights')
        if not w:
            continue
        n = 1
        for v in w:
            n *= v
        pixels = dims[1] * dims[2] if op == 'conv2d' else 1
        beta = w[-1]  # the batch norm's beta or the bias beside the weights
        out.append((scope, n + beta, pixels * n))
    return out


def ring(bytes_, k, busbw, alpha):
    return 2 * (k - 1) / k * bytes_ / (busbw * 1e9) + 2 * (k - 1) * alpha * 1e-6


def efficiency(ls, a, k, nodes):
    step = a.step * 1e-3
    busbw = a.nvlink if nodes == 1 else min(a.nvlink, a.ib)
    total_macs = sum(m for _, _, m in ls)
    back = step * a.backward
    t, done, bucket, free_at, exposed_all = step - back, [], 0.0, 0.0, 0.0
    for _, w, m in reversed(ls):  # backward order
        t += back * m / total_macs
        bucket += w * a.bytes
        if bucket >= a.bucket * 1e6:
            done.append((t, bucket))
            bucket = 0.0
    if bucket:
        done.append((step, bucket))
    for ready, b in done:
        start = max(ready, free_at)
        free_at = start + ring(b, k, busbw, a.alpha)
        exposed_all += ring(b, k, busbw, a.alpha)
    exposed = max(0.0, free_at - step)
    return step / (step + exposed), step / (step + exposed_all), sum(b for _, b in done), exposed_all


def timeline_efficiency(path, a, k, nodes):
    """(overlapped, after, bytes, reduction time) from a measured timeline (see the header)."""
    rows = []
    with open(path) as f:
        next(f)
        for line in f:
            c = line.rstrip('\n').split('\t')
            rows.append((float(c[1]), int(c[3]), float(c[4])))
    step = a.step * 1e-3
    scale = step / sum(ms for ms, _, _ in rows) * 1e-3
    busbw = a.nvlink if nodes == 1 else min(a.nvlink, a.ib)
    t, buckets, run_group, inline, total = 0.0, [], None, 0.0, 0.0
    for ms, group, b in rows:
        if group in (0, 2):  # off the step's path: buckets on the reductions' stream
            if run_group != group or buckets[-1][1] + b > a.bucket * 1e6:
                buckets.append([t, 0.0])
            buckets[-1][1] += b
            run_group = group
        else:
            run_group = None
            if group == 1:  # in the step's path
                inline += ring(b, k, busbw, a.alpha)
        t += ms * scale
    # a bucket's updates read it: those of the last run right after it, the others before the next
    # run of reductions is ready; what a bucket is late by delays everything after
    free_at, shift = 0.0, 0.0
    for j, (ready, b) in enumerate(buckets):
        free_at = max(ready + shift, free_at) + ring(b, k, busbw, a.alpha)
        total += ring(b, k, busbw, a.alpha)
        deadline = (buckets[j + 1][0] if j + 1 < len(buckets) else ready) + shift
        shift += max(0.0, free_at - deadline)
    exposed = shift + inline
    return (step / (step + exposed), step / (step + total + inline), sum(b for _, b in buckets),
            total + inline, len(buckets))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--fnc', default='build/fnc')
    p.add_argument('--model', default='models/inception_resnet_v1.fn')
    p.add_argument('--step', type=float, default=62.0, help='ms per step per GPU')
    p.add_argument('--backward', type=float, default=2 / 3)
    p.add_argument('--bytes', type=int, default=4)
    p.add_argument('--bucket', type=float, default=25.0, help='MB')
    p.add_argument('--nvlink', type=float, default=360.0, help='GB/s bus bandwidth within a node')
    p.add_argument('--ib', type=float, default=45.0, help='GB/s per GPU between nodes')
    p.add_argument('--alpha', type=float, default=10.0, help='us per ring step')
    p.add_argument('--classes', type=int, default=10575, help="the Logits layer's (CASIA-WebFace: 10,575)")
    p.add_argument('--timeline', help='a measured step (FN_PROFILE_TIMELINE) instead of the layers\' multiply-adds')
    a = p.parse_args()
    if a.timeline:
        for k, nodes in ((8, 1), (32, 4)):
            over, plain, b, t, n = timeline_efficiency(a.timeline, a, k, nodes)
            print(f'K = {k:2d} ({nodes} node{"s" if nodes > 1 else ""}), measured timeline: {b / 1e6:.1f} MB in {n} '
                  f'buckets a step, {t * 1e3:.2f} ms of reductions; efficiency {over * 100:.1f}% overlapped, '
                  f'{plain * 100:.1f}% after the backward pass (step {a.step:.1f} ms)')
        return
    ls = layers(a.fnc, a.model, a.classes)
    if not ls:
        sys.exit('no layers found in the dump')
    print(f'{len(ls)} layers, {sum(w for _, w, _ in ls) / 1e6:.2f} M weights, '
          f'{sum(m for _, _, m in ls) / 1e9:.3f} G multiply-adds per image')
    for k, nodes in ((8, 1), (32, 4)):
        over, plain, b, t = efficiency(ls, a, k, nodes)
        print(f'K = {k:2d} ({nodes} node{"s" if nodes > 1 else ""}): {b / 1e6:.1f} MB reduced a step in '
              f'{t * 1e3:.2f} ms; efficiency {over * 100:.1f}% overlapped with the backward pass, '
              f'{plain * 100:.1f}% after it (step {a.step:.1f} ms)')


if __name__ == '__main__':
    main()

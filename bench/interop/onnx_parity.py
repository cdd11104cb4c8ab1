#!/usr/bin/env python3
"""ONNX export parity: fnrun export's files run by ONNX Runtime (CPU) against fn's own outputs.

What this is: three checks, each exporting with `fnrun export`, running onnx.checker
(full_check) and ONNX Runtime on the file, and running fn's eval graph on the same float input
with bench/interop/fn_embed_raw (build it: cmake --build BUILD --target fn_embed_raw):
- irv1: the full Inception-ResNet-v1 on 100 LFW deep-funneled images (../shared/data; centre
  crop 160 of 250, fixed standardisation (x - 127.5) / 128; random images when LFW is absent).
  Weights: CHECKPOINT if given, else the artifact's seeded weights with every batch-norm moving
  mean, moving variance and beta randomised (seeded statistics are trivial: mean 0, variance 1)
  and saved as a checkpoint that both sides read. Reports max |delta| of the embeddings (goal
  <= 1e-5) and times both at batch 100 (--rounds alternating blocks of --runs runs each,
  after a warm-up, on the same machine), naming the CPU;
- zoo: tests/interop/onnx/zoo.fn, every output (the layouts' corner cases);
- mtcnn: PNet (37x37), RNet, ONet with ../shared/data/mtcnn/det1-3.npy, every output.
What this is not: a ctest (it needs the venv's onnxruntime: /root/.cache/fn-interop), or a
benchmark of fn's training.
Usage: onnx_parity.py [CHECKPOINT] [--build build] [--runs 3] [--rounds 3] [--checks irv1,zoo,mtcnn]
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def fn_output(build, model, x, out_name, extra, workdir, runs=0):
    """fn's output `out_name` for x (NHWC float32) and the times of `runs` more runs"""
    xin, yout = os.path.join(workdir, "x.f32"), os.path.join(workdir, "y.f32")
    x.astype(np.float32).tofile(xin)
    out = run([os.path.join(build, "fn_embed_raw"), model, "--n", str(x.shape[0]), "--input", xin, "--out", yout,
               "--output", out_name, "--runs", str(runs)] + extra)
    times = [float(t) for t in out.split("run_s")[1].split()]
    return np.fromfile(yout, np.float32), times


def export(build, model, path, extra):
    line = run([os.path.join(build, "fnrun"), "export", model, "-o", path] + extra).strip()
    onnx.checker.check_model(onnx.load(path), full_check=True)
    print("  %s\n  onnx.checker (full_check): ok" % line)


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def lfw_images(n, rng):
    """n LFW images spread over the sorted list, centre-cropped to 160, standardised"""
    files = sorted(glob.glob(os.path.join(DATA, "lfw", "lfw-deepfunneled", "*", "*.jpg")))
    if len(files) < n:
        print("  LFW absent: %d random images instead" % n)
        return rng.uniform(-1, 1, (n, 160, 160, 3)).astype(np.float32), "random"
    from PIL import Image
    pick = files[:: len(files) // n][:n]
    x = np.stack([np.asarray(Image.open(f).convert("RGB"), np.float32)[45:205, 45:205] for f in pick])
    return (x - 127.5) / 128.0, "LFW deep-funneled"


def cpu_name():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    info = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
    return "%s, %s CPUs" % (info.get("Model name", "?").strip(), info.get("CPU(s)", "?").strip())


def check_irv1(a, workdir):
    print("irv1: Inception-ResNet-v1, batch 100 at 160x160")
    x, source = lfw_images(100, np.random.RandomState(0))
    model = a.checkpoint
    if not model:  # seeded weights, batch-norm statistics randomised, saved for the exporter
        art = os.path.join(workdir, "model-parity.fnc")
        run([os.path.join(a.build, "fnc"), "compile", "models/inception_resnet_v1.fn", "-o", art])
        model = os.path.join(workdir, "model-parity.ckpt-1")
        fn_output(a.build, art, x[:1], "embeddings", ["--randomize", "7", "--save", model], workdir)
    y, _ = fn_output(a.build, model, x, "embeddings", [], workdir)
    path = os.path.join(workdir, "irv1.onnx")
    export(a.build, model, path, [])
    s = session(path)
    z = s.run(["embeddings"], {"images": x})[0]
    y = y.reshape(z.shape)
    d = np.abs(z - y)
    cos = (z * y).sum(1) / np.linalg.norm(z, axis=1) / np.linalg.norm(y, axis=1)
    print("  %s images, weights %s" % (source, a.checkpoint or "seeded + random batch-norm statistics"))
    print("  embeddings %s: max |delta| %.3g, mean |delta| %.3g, min cosine %.9f, max |fn| %.3g -> %s"
          % (list(z.shape), d.max(), d.mean(), cos.min(), np.abs(y).max(), "ok" if d.max() <= 1e-5 else "ABOVE 1e-5"))
    time_both(a, workdir, model, x, s)
    return d.max() <= 1e-5


def time_both(a, workdir, model, x, s):
    """--rounds rounds, each --runs runs of fn (one process, after its warm-up) then of ORT: blocks
    alternate, so load from elsewhere on the machine falls on both; the minima are the least
    disturbed figures"""
    ort_t, fn_t = [], []
    for _ in range(a.rounds):
        fn_t += fn_output(a.build, model, x, "embeddings", [], workdir, a.runs)[1]
        for _ in range(a.runs):
            t0 = time.perf_counter()
            s.run(["embeddings"], {"images": x})
            ort_t.append(time.perf_counter() - t0)
    mo, mf = statistics.median(ort_t), statistics.median(fn_t)
    print("  CPU: %s; ONNX Runtime %s (default intra-op threads), onnx %s" % (cpu_name(), ort.__version__, onnx.__version__))
    print("  batch 100, %d rounds of %d runs each: ORT median %.3f s (min %.3f), fn median %.3f s (min %.3f)"
          % (a.rounds, a.runs, mo, min(ort_t), mf, min(fn_t)))
    print("  runs (s): ORT %s; fn %s" % (" ".join("%.3f" % t for t in ort_t), " ".join("%.3f" % t for t in fn_t)))
    print("  ORT / fn time: %.2f at the minima, %.2f at the medians (best %.1f vs %.1f images/s)"
          % (min(ort_t) / min(fn_t), mo / mf, 100 / min(ort_t), 100 / min(fn_t)))


def compare_outputs(a, workdir, fnc, path, graph_extra, x, feeds, fn_extra, label):
    s = session(path)
    names = [o.name for o in s.get_outputs()]
    zs = s.run(names, feeds)
    worst = 0.0
    for name, z in zip(names, zs):
        y, _ = fn_output(a.build, fnc, x, name, graph_extra + fn_extra, workdir)
        d = np.abs(z.ravel() - y).max()
        worst = max(worst, d / max(1.0, np.abs(y).max()))
        print("  %s %-10s %-16s max |delta| %.3g (max |fn| %.3g)" % (label, name, list(z.shape), d, np.abs(y).max()))
    return worst <= 1e-5


def check_zoo(a, workdir):
    print("zoo: tests/interop/onnx/zoo.fn, every output, batch 5")
    fnc, path = os.path.join(workdir, "zoo.fnc"), os.path.join(workdir, "zoo.onnx")
    run([os.path.join(a.build, "fnc"), "compile", "tests/interop/onnx/zoo.fn", "-o", fnc])
    export(a.build, fnc, path, ["--output", "maps,s,lasts,gram,back,unary,embeddings"])
    x = np.random.RandomState(2).uniform(-1, 1, (5, 6, 5, 3)).astype(np.float32)
    return compare_outputs(a, workdir, fnc, path, [], x, {"images": x, "gain": np.array(1.7, np.float32)},
                           ["--set", "gain=1.7"], "zoo")


def check_mtcnn(a, workdir):
    weights = os.path.join(DATA, "mtcnn")
    if not os.path.exists(os.path.join(weights, "det3.npy")):
        print("mtcnn: skipped, no %s/det1-3.npy" % weights)
        return True
    print("mtcnn: PNet 37x37, RNet, ONet with det1-3.npy, batch 3")
    fnc, ok = os.path.join(a.build, "mtcnn.fnc"), True
    for net, size in (("pnet", 37), ("rnet", 24), ("onet", 48)):
        path = os.path.join(workdir, net + ".onnx")
        extra = ["--graph", net + "/eval", "--mtcnn_weights", weights, "--image_size", str(size)]
        export(a.build, fnc, path, extra)
        x = np.random.RandomState(1).uniform(-1, 1, (3, size, size, 3)).astype(np.float32)
        ok &= compare_outputs(a, workdir, fnc, path, extra, x, {"data": x}, ["--input_name", "data"], net)
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", nargs="?", help="an fn checkpoint or run directory (default: seeded, randomised)")
    p.add_argument("--build", default="build", help="the build directory (fnc, fnrun, fn_embed_raw, mtcnn.fnc)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each per round, at batch 100")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of fn's and ORT's runs")
    p.add_argument("--checks", default="irv1,zoo,mtcnn")
    a = p.parse_args()
    a.build = os.path.abspath(os.path.join(ROOT, a.build))
    if a.checkpoint:
        a.checkpoint = os.path.abspath(a.checkpoint)
    checks = {"irv1": check_irv1, "zoo": check_zoo, "mtcnn": check_mtcnn}
    ok = True
    with tempfile.TemporaryDirectory() as workdir:
        for name in a.checks.split(","):
            ok &= checks[name](a, workdir)
    print("parity: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

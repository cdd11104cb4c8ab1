"""Shared by the parity scripts of bench/interop/: where fn's build is, the 100 LFW images both
sides see, fn_raw's outputs, and the comparisons. Not a test: the scripts print their figures and
exit non-zero when a goal is missed."""
import os, subprocess, sys, glob
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FN_BIN", os.path.join(ROOT, "build"))
LFW = os.path.join(ROOT, "..", "shared", "data", "lfw", "lfw-deepfunneled")


def sh(*args, **kw):
    """Runs a command, echoing it; its output goes to ours."""
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, **kw)


def build_tools():
    sh("cmake", "--build", BUILD, "--target", "fnrun", "fn_raw", "irv1_artifact", "-j", str(os.cpu_count()))


def lfw_images(n=100, size=160):
    """n LFW deep-funneled images (the first by sorted path), centre-cropped to size and
    standardised as facenet-pytorch's fixed_image_standardization: (x - 127.5) / 128.
    [n, size, size, 3] float32 (NHWC). Random images if the data is absent (said so)."""
    paths = sorted(glob.glob(os.path.join(LFW, "*", "*.jpg")))[:n]
    if len(paths) < n:
        print(f"note: LFW not found under {LFW}: random images instead", flush=True)
        return np.random.RandomState(0).uniform(-1, 1, (n, size, size, 3)).astype(np.float32), "random"
    from PIL import Image
    out = np.empty((n, size, size, 3), np.float32)
    for i, p in enumerate(paths):
        im = np.asarray(Image.open(p).convert("RGB"), np.float32)
        y, x = (im.shape[0] - size) // 2, (im.shape[1] - size) // 2
        out[i] = (im[y:y + size, x:x + size] - 127.5) / 128.0
    return out, f"{n} LFW images"


def read_outputs(d):
    """fn_raw's OUT_DIR as {name: array}"""
    out = {}
    for line in open(os.path.join(d, "manifest.tsv")):
        name, dims, f = line.rstrip("\n").split("\t")
        shape = tuple(int(x) for x in dims.split(",")) if dims else ()
        out[name] = np.fromfile(os.path.join(d, f), np.float64 if f.endswith(".f64") else np.float32).reshape(shape)
    return out


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def rel_err(a, ref):
    """max |a - ref| / max |ref|"""
    return max_abs(a, ref) / max(float(np.max(np.abs(ref))), 1e-30)


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def verdict(ok, what):
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    return ok

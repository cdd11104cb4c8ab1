#!/usr/bin/env python3
"""Writes the PyTorch fixtures of tests/test_interop_torch.c into tests/interop/torch/.

Run once by hand, from the repository root, with a Python that has torch (2.2, CPU) and
facenet-pytorch installed; the files it writes are committed, so the tests and the fuzz seeds need
no Python:

    /root/.cache/fn-interop/bin/python tests/interop/make_torch_fixtures.py

What it writes (each well under 50 KB):
  tiny.pt          a tiny module's state dict in facenet-pytorch's naming (conv2d_1a.conv/bn,
                   last_linear, last_bn), plus a non-contiguous view with a storage offset that
                   shares last_linear.weight's storage, and float64/float16/int32 buffers; zip
                   format (torch >= 1.6)
  tiny_legacy.pt   the same dict in the legacy format (_use_new_zipfile_serialization=False)
  tiny_ckpt.pt     {"epoch": 3, "state_dict": <the same dict>} (zip format)
  tiny_p4.pt       the same dict pickled with protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL)
  tiny.txt/.bin    what a reader must find: a line "name dtype dims" per tensor (dims comma
                   separated, "-" for a scalar), and every float32 tensor's values, row-major,
                   as little-endian float32, in the lines' order
  facenet_pnet.pt  facenet-pytorch's published MTCNN P-Net weights (a legacy-format file, as
                   that package ships them), with facenet_pnet.txt/.bin
  evil_os_system.pt, evil_os_system_raw.pt
                   a zip whose data.pkl, and a bare legacy-style stream, whose pickle calls
                   os.system("echo pwned") (written opcode by opcode; never unpickled)
  module_linear.pt torch.save of a whole nn.Linear: its pickle names torch.nn.modules.linear.Linear
  bad_extent.pt, bad_stride.pt, bad_offset.pt, bad_short_entry.pt
                   hand-written state dicts whose storage is too small for the tensor's size,
                   stride or offset, or whose storage entry holds fewer bytes than its numel says
"""
import os
import shutil
import struct
import zipfile

import numpy as np
import torch
import facenet_pytorch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")


class BasicConv2d(torch.nn.Module):
    """facenet-pytorch's BasicConv2d: conv without bias, batch norm, relu."""

    def __init__(self, cin, cout, k):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, k, bias=False)
        self.bn = torch.nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 4, 3)
        self.last_linear = torch.nn.Linear(16, 8, bias=False)
        self.last_bn = torch.nn.BatchNorm1d(8, eps=0.001)
        # a view: rows 2.. of last_linear.weight, transposed (storage offset 32, strides (1, 16))
        self.register_buffer("proj_t", self.last_linear.weight.detach()[2:].t())
        self.register_buffer("extra_f64", torch.linspace(-1, 1, 3, dtype=torch.float64))
        self.register_buffer("extra_f16", torch.tensor([0.5, -2.0], dtype=torch.float16))
        self.register_buffer("extra_i32", torch.tensor([7, -9], dtype=torch.int32))


def tiny_state_dict():
    torch.manual_seed(0)
    m = Tiny()
    with torch.no_grad():
        for bn in (m.conv2d_1a.bn, m.last_bn):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.num_batches_tracked.fill_(7)
    sd = m.state_dict()
    assert not sd["proj_t"].is_contiguous() and sd["proj_t"].storage_offset() == 32
    return sd


DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
          torch.int32: "int32", torch.int64: "int64"}


def write_expected(sd, stem):
    with open(os.path.join(OUT, stem + ".txt"), "w") as txt, open(os.path.join(OUT, stem + ".bin"), "wb") as bin_:
        for name, t in sd.items():
            dims = ",".join(str(d) for d in t.shape) or "-"
            txt.write(f"{name} {DTYPES[t.dtype]} {dims}\n")
            if t.dtype == torch.float32:
                bin_.write(t.contiguous().numpy().astype("<f4").tobytes())


# ---- hand-written pickles: opcodes spelled out, nothing here is ever unpickled ----------------
def p_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def p_int(i):
    return b"K" + bytes([i]) if 0 <= i < 256 else b"J" + struct.pack("<i", i)


def p_tuple(items):
    return b"(" + b"".join(items) + b"t"


def p_tensor_dict(numel, offset, size, stride):
    """OrderedDict {"w": _rebuild_tensor_v2(pid, offset, size, stride, False, OrderedDict())}."""
    odict = b"ccollections\nOrderedDict\n)R"
    pid = p_tuple([p_str("storage"), b"ctorch\nFloatStorage\n", p_str("0"), p_str("cpu"), p_int(numel)])
    args = p_tuple([pid + b"Q", p_int(offset), p_tuple([p_int(d) for d in size]),
                    p_tuple([p_int(d) for d in stride]), b"\x89", odict])
    return b"\x80\x02" + odict + b"(" + p_str("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R" + b"u."


def write_zip(path, prefix, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(f"{prefix}/{name}", data)


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = tiny_state_dict()
    torch.save(sd, os.path.join(OUT, "tiny.pt"))
    torch.save(sd, os.path.join(OUT, "tiny_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "state_dict": sd}, os.path.join(OUT, "tiny_ckpt.pt"))
    torch.save(sd, os.path.join(OUT, "tiny_p4.pt"), pickle_protocol=4)
    write_expected(sd, "tiny")

    pnet = os.path.join(os.path.dirname(facenet_pytorch.__file__), "data", "pnet.pt")
    shutil.copyfile(pnet, os.path.join(OUT, "facenet_pnet.pt"))
    write_expected(torch.load(pnet, map_location="cpu", weights_only=True), "facenet_pnet")

    evil = b"\x80\x02cos\nsystem\n" + p_str("echo pwned") + b"\x85R."
    write_zip(os.path.join(OUT, "evil_os_system.pt"), "evil_os_system",
              [("data.pkl", evil), ("byteorder", b"little"), ("version", b"3\n")])
    with open(os.path.join(OUT, "evil_os_system_raw.pt"), "wb") as f:
        f.write(evil)
    torch.save(torch.nn.Linear(2, 2), os.path.join(OUT, "module_linear.pt"))

    floats = np.arange(6, dtype="<f4").tobytes()
    for stem, numel, offset, size, stride, data in [
            ("bad_extent", 6, 0, (2, 4), (4, 1), floats),      # 8 elements from a storage of 6
            ("bad_stride", 6, 0, (2, 3), (3, 2), floats),      # reaches element 3 + 2 * 2 = 7
            ("bad_offset", 6, 1, (6,), (1,), floats),          # elements 1..6 of 0..5
            ("bad_short_entry", 6, 0, (2, 3), (3, 1), floats[:16])]:  # 16 bytes for 6 floats
        write_zip(os.path.join(OUT, stem + ".pt"), stem,
                  [("data.pkl", p_tensor_dict(numel, offset, size, stride)), ("byteorder", b"little"),
                   ("data/0", data), ("version", b"3\n")])
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        assert size < 50 * 1024, f
        print(f"{f:24s} {size:6d} bytes")
    print("written by torch", torch.__version__)


if __name__ == "__main__":
    main()

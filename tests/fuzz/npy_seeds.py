"""Seeds for the npy fuzz target (tests/fuzz/run.sh): small MTCNN weight files in the reference's
det*.npy form (a 0-d object array pickling {layer: {param: float32 ndarray}}), written with the
standard library alone (the pickle opcodes by hand, no NumPy): parts of PNet, RNet's heads,
ONet's flattened layer, and a NaN bias. Values are a fixed pseudo-random sequence, not weights.
Usage: python3 tests/fuzz/npy_seeds.py OUT_DIR"""
import struct, sys


def text(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def reconstruct():  # ndarray._reconstruct(ndarray, (0,), b'b')
    return b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\0\0\0\0\x85C\x01b\x87R"


def dtype(code, order, flags):  # numpy.dtype(code, False, True) with its state
    return (b"cnumpy\ndtype\n" + text(code) + b"\x89\x88\x87R(J\3\0\0\0" + text(order) +
            b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffJ" + struct.pack("<i", flags) + b"tb")


def array(shape, values):
    data = struct.pack(f"<{len(values)}f", *values)
    dims = b"(" + b"".join(b"J" + struct.pack("<i", d) for d in shape) + b"t"
    return (reconstruct() + b"(J\1\0\0\0" + dims + dtype("f4", "<", 0) + b"\x89B" + struct.pack("<I", len(data)) +
            data + b"tb")


def values(n, seed, nan=False):
    out, x = [], seed
    for i in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(float("nan") if nan and i == 0 else x / 2**31 - 0.5)
    return out


def npy(layers):
    """layers: {layer: {param: (shape, values)}} as a det*.npy file"""
    d = b"}("
    for layer, params in layers.items():
        d += text(layer) + b"}("
        for p, (shape, v) in params.items():
            d += text(p) + array(shape, v)
        d += b"u"
    d += b"u"
    # a 0-d object array (dtype flags 63: items are references) holding the dict
    obj = reconstruct() + b"(J\1\0\0\0)" + dtype("O8", "|", 63) + b"\x89]" + d + b"atb."
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\1\0" + struct.pack("<H", len(header)) + header.encode() + b"\x80\x02" + obj


def layer(shape, seed, bias=True, nan=False):
    n = 1
    for d in shape:
        n *= d
    p = {"weights": (shape, values(n, seed))}
    if bias:
        p["biases"] = ((shape[-1],), values(shape[-1], seed + 1, nan))
    return p


SEEDS = {
    "pnet_part": {"conv1": layer((3, 3, 3, 10), 1), "PReLU1": {"alpha": ((10,), values(10, 2))}},
    "rnet_head": {"conv5-1": layer((128, 2), 3), "conv5-2": layer((128, 4), 4)},
    "onet_flat": {"conv5": layer((36, 16), 5), "conv6-3": layer((256, 10), 6)},
    "nan": {"conv4-2": layer((1, 1, 32, 4), 7, nan=True)},
}
for name, layers in SEEDS.items():
    open(f"{sys.argv[1]}/{name}.npy", "wb").write(npy(layers))

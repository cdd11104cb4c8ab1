"""Writes tests/interop/facenet_pytorch_keys.tsv: every entry of facenet-pytorch 2.6's
InceptionResnetV1 state dict (512-d, classify=True, 10 classes) with its dtype and shape, as
facenet-pytorch itself names and shapes them. tests/test_import.c builds a state dict of that
form in memory and imports it into Inception-ResNet-v1, which checks fn's name table
(interop/names.c) against the real module names without PyTorch in make test.
Run once by hand with the parity venv: $(bench/interop/setup.sh) tests/interop/make_import_fixtures.py"""
import os
import facenet_pytorch
from facenet_pytorch import InceptionResnetV1

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "facenet_pytorch_keys.tsv")
sd = InceptionResnetV1(classify=True, num_classes=10).state_dict()
with open(out, "w") as f:
    f.write(f"# facenet-pytorch {getattr(facenet_pytorch, '__version__', '2.6.0')} InceptionResnetV1"
            f"(classify=True, num_classes=10).state_dict(): name, dtype, shape\n")
    for k, v in sd.items():
        f.write(f"{k}\t{str(v.dtype).replace('torch.', '')}\t{','.join(str(d) for d in v.shape)}\n")
print(f"wrote {out}: {len(sd)} entries")

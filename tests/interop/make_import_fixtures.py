"""Writes tests/interop/facenet_pytorch_keys.tsv: every entry of facenet-pytorch 2.6's
InceptionResnetV1 state dict (512-d, classify=True, 10 classes) with its dtype and shape, as
facenet-pytorch itself names and shapes them. tests/test_import.c builds a state dict of that
form in memory and imports it into Inception-ResNet-v1, which checks fn's name table
(interop/names.c) against the real module names without PyTorch in make test.
Also tests/interop/torch/import_tiny.pt: facenet-pytorch's first convolution and its
embedding layer (BasicConv2d 3->4, Linear 16->8, BatchNorm1d 8; the scales 1) saved by torch,
the state dict of tests/models/import_tiny.fn (tests/cli_import.sh), and import_tiny_f64.pt,
the same with one batch-norm variance in float64.
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

import torch
from facenet_pytorch.models.inception_resnet_v1 import BasicConv2d

torch.manual_seed(0)
tiny = torch.nn.Module()
tiny.conv2d_1a = BasicConv2d(3, 4, kernel_size=3, stride=2)
tiny.last_linear = torch.nn.Linear(16, 8, bias=False)
tiny.last_bn = torch.nn.BatchNorm1d(8, eps=0.001, momentum=0.1, affine=True)
with torch.no_grad():
    for bn in (tiny.conv2d_1a.bn, tiny.last_bn):
        bn.bias.uniform_(-0.1, 0.1)
        bn.running_mean.uniform_(-0.1, 0.1)
        bn.running_var.uniform_(0.5, 1.5)
path = os.path.join(os.path.dirname(out), "torch", "import_tiny.pt")
torch.save(tiny.state_dict(), path)
print(f"wrote {path}: {len(tiny.state_dict())} entries")
sd = tiny.state_dict()
sd["last_bn.running_var"] = sd["last_bn.running_var"].double()  # a variable in another dtype
torch.save(sd, path.replace(".pt", "_f64.pt"))

#!/usr/bin/env bash
# The Python venv of the parity checks in bench/interop/ (never needed by make test): PyTorch and
# facenet-pytorch 2.6, TensorFlow (CPU), ONNX and ONNX Runtime, from PyPI. Prints its python.
# Usage: bench/interop/setup.sh   (FN_INTEROP_VENV chooses the folder; default ~/.cache/fn-interop)
set -euo pipefail
venv=${FN_INTEROP_VENV:-$HOME/.cache/fn-interop}
if ! "$venv/bin/python" -c "import torch, facenet_pytorch, tensorflow, onnx, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q facenet-pytorch==2.6.0 onnx onnxruntime tensorflow-cpu >&2
fi
echo "$venv/bin/python"

#!/usr/bin/env bash
# cli_distributed.sh on the GPU emulation (tests/hostcuda: the driver, NVRTC and cuBLAS) with
# NCCL's emulation over MPI (libfn_hostnccl.so): every check of the CPU ranks, with each rank on
# its own emulated card and the gradients' reductions in buckets on their own stream. Skips
# without the emulators or a C++ compiler (the driver's emulation compiles kernels with `c++`).
bin=${FN_BIN:-build}
emu=$(cd "$bin" && pwd)/libfn_hostcuda.so nccl=$(cd "$bin" && pwd)/libfn_hostnccl.so
[ -f "$emu" ] && [ -f "$nccl" ] && command -v c++ >/dev/null || { echo "skip: no $emu, $nccl or c++"; exit 77; }
# float32 values: K ranks against one is a test of the reductions, not of bfloat16's rounding
export FN_TEST_DEVICE=gpu FN_CUDA_EMULATOR=$emu FN_NCCL_LIBRARY=$nccl FN_HOSTCUDA_SHUFFLE=${FN_HOSTCUDA_SHUFFLE:-3} FN_GPU_BF16=0
export FN_KERNEL_CACHE=${FN_KERNEL_CACHE:-$(cd "$bin" && pwd)/hostcuda_kernels}
exec bash "$(dirname "$0")/cli_distributed.sh"

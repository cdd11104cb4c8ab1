#!/usr/bin/env bash
# Packs what bench/gpu/check.sh runs on the lent GPU machine into bench/gpu/bundle/ (ignored by
# git; send it with the device tool's carry): fnc and the two GPU test programs, and the shared
# libraries they need that are not glibc (OpenBLAS for the CPU oracle, libpng, libjpeg,
# protobuf-c, gfortran). CUDA itself (driver, NVRTC, cuBLAS) is the machine's own, opened at run time.
# Usage: bench/gpu/bundle.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
out=bench/gpu/bundle
cmake --build "$build" --target fnc test_cuda_codegen test_gpu_exec >/dev/null
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp "$build/fnc" "$build/test_cuda_codegen" "$build/test_gpu_exec" "$out/bin/"
for b in "$out"/bin/*; do
    ldd "$b" | awk '$3 ~ /^\// { print $3 }'
done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' | while read -r lib; do
    cp -L "$lib" "$out/lib/"
done
du -sh "$out"

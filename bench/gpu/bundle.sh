#!/usr/bin/env bash
# Packs what bench/gpu/check.sh runs on the lent GPU machine into bench/gpu/bundle.tar.xz (ignored by
# git; send it with the device tool's carry): fnc, fnrun, fn_gendata, embed_bench, the three GPU test programs, and the shared
# libraries they need that are not glibc (OpenBLAS for the CPU oracle, libpng, libjpeg,
# protobuf-c, gfortran). CUDA itself (driver, NVRTC, cuBLAS) is the machine's own, opened at run time.
# Usage: bench/gpu/bundle.sh [BUILD_DIR]   (default build-bundle: a build without the LLVM target,
# whose libLLVM alone would not fit the carry, and without MPI, which that machine lacks)
set -euo pipefail
build=${1:-build-bundle}
cmake -S . -B "$build" -DFN_LLVM=OFF -DFN_MPI=OFF >/dev/null
out=bench/gpu/bundle
cmake --build "$build" --target fnc fnrun fn_gendata embed_bench test_cuda_codegen test_gpu_exec test_gpu_ops >/dev/null
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp "$build/fnc" "$build/fnrun" "$build/fn_gendata" "$build/embed_bench" "$build/test_cuda_codegen" "$build/test_gpu_exec" "$build/test_gpu_ops" "$out/bin/"
strip "$out"/bin/* # debug info would take half the 64 MiB the device tool carries
for b in "$out"/bin/*; do
    ldd "$b" | awk '$3 ~ /^\// { print $3 }'
done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' | while read -r lib; do
    cp -L "$lib" "$out/lib/"
done
strip --strip-unneeded "$out"/lib/* 2>/dev/null || true
# one compressed file for the carry (64 MiB at most; the libraries alone are about that size)
tar -C bench/gpu -cJf bench/gpu/bundle.tar.xz bundle
rm -rf "$out"
du -h bench/gpu/bundle.tar.xz

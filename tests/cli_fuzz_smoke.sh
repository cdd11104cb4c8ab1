#!/usr/bin/env bash
# A short run of every fuzz target (the long runs are tests/fuzz/run.sh TARGET 600): image
# decoding FN_FUZZ_SECONDS (20), the model readers and the ONNX reader 20 s each.
set -u
rc=0
for t in tests/fuzz/fuzz_*.c; do
  t=${t#tests/fuzz/fuzz_}; t=${t%.c}
  secs=${FN_FUZZ_SECONDS:-20}
  bash tests/fuzz/run.sh "$t" "$secs" || { r=$?; [ $r -eq 77 ] && exit 77; rc=1; }
done
exit $rc

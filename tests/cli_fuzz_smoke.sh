#!/usr/bin/env bash
# A short run of the image-decoding fuzz target (the long run is tests/fuzz/run.sh 600).
exec bash tests/fuzz/run.sh "${FN_FUZZ_SECONDS:-20}"

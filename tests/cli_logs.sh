#!/usr/bin/env bash
# The training logs read by the real tools: TensorBoard's event accumulator and h5py
# (installed from PyPI if missing; skipped with a message only when they cannot be installed).
set -u
bin=${FN_BIN:-build}
if ! python3 -c "import tensorboard, h5py" 2>/dev/null; then
    pip install -q tensorboard h5py >/dev/null 2>&1 || { echo "skip: cannot install tensorboard/h5py from PyPI"; exit 77; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/fnc" compile tests/models/irv1_small.fn -o "$tmp/m.fnc" >/dev/null || exit 1
"$bin/fn_gendata" "$tmp/data" 3 8 80 >/dev/null || exit 1
"$bin/fnrun" train "$tmp/m.fnc" --data_dir "$tmp/data" --image_size 75 --batch_size 4 --embedding_size 8 \
    --epoch_size 4 --max_nrof_epochs 2 --optimizer ADAM --learning_rate 0.01 --log_histograms \
    --validation_set_split_ratio 0.25 --validate_every_n_epochs 1 --lfw_batch_size 2 \
    --logs_base_dir "$tmp/logs" --models_base_dir "$tmp/models" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
python3 tests/python/check_logs.py "$tmp"/logs/*/ "$tmp/out" 8 && echo "1 passed, 0 failed"

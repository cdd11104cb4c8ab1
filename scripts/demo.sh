#!/usr/bin/env bash
# The demo: generate a small learnable dataset, compile Inception-ResNet-v1, train briefly on
# the CPU and show the loss falling. Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=demo-out
steps=${FN_DEMO_STEPS:-50}
epochs=${FN_DEMO_EPOCHS:-4}
mkdir -p "$out"
echo "== 1. dataset: 8 classes x 32 generated 80x80 images in $out/data (a quarter held out)"
"$build/fn_gendata" "$out/data" 8 32 80 1
echo "== 2. compile models/inception_resnet_v1.fn"
"$build/fnc" info models/inception_resnet_v1.fn -D image_size=75 -D embedding_size=64 | sed -n '1,12p'
"$build/fnc" compile models/inception_resnet_v1.fn -o "$out/irv1.fnc"
echo "== 3. train: image 75x75 (the smallest the network accepts), batch 8, embedding 64"
"$build/fnrun" train "$out/irv1.fnc" --data_dir "$out/data" --image_size 75 --batch_size 8 \
  --embedding_size 64 --epoch_size "$steps" --max_nrof_epochs "$epochs" --optimizer SGD --learning_rate 0.02 \
  --logs_base_dir "$out/logs" --models_base_dir "$out/models" \
  --validation_set_split_ratio 0.25 --validate_every_n_epochs 1 --lfw_batch_size 16 \
  --seed 666 | tee "$out/train.log"
echo "== 4. summary: training loss averaged per epoch; validation on held-out images (eval graph)"
awk -F'\t' '/^Epoch:/ { split($1, a, /[][]/); e = a[2]; sub("Loss ", "", $3); s[e] += $3; n[e]++ }
  /^Validation Epoch:/ { split($1, a, " "); v[a[3]] = $3 "  " $5 }
  END { for (e = 1; e in n; e++) printf "epoch %d: mean training loss %.3f over %d steps | validation %s\n", e, s[e] / n[e], n[e], v[e] }' "$out/train.log"
echo "== 5. learning curves (PNG and SVG) from the run's stat.h5"
"$build/fnrun" plot "$(ls -dt "$out"/logs/*/ | sed -n 1p)" --out "$out"

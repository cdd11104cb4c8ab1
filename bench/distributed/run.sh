#!/usr/bin/env bash
# Data-parallel overhead on this machine (issue 28): the same Inception-ResNet-v1 training
# (160x160, global batch 32, ADAM) as one process with 2 threads and as 2 MPI ranks with 1 thread
# each (16 images a rank), alternating ROUNDS times. Prints the median step of each (the "Time"
# column of rank 0's log, steps 2..STEPS+1), their ratio (the cost of splitting the step and
# reducing 23 M gradients a step over MPI), and the ranks' allreduce seconds from FN_PROFILE.
# Usage: bench/distributed/run.sh [BUILD_DIR] [STEPS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
steps=${2:-8}
rounds=${3:-2}
command -v mpirun >/dev/null || { echo "no mpirun (apt-get install openmpi-bin)"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cmake --build "$build" --target fnrun fnc fn_gendata >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/fn_gendata" "$tmp/data" 20 20 182 1 >/dev/null
"$build/fnc" compile models/inception_resnet_v1.fn -o "$tmp/irv1.fnc" >/dev/null
args() {
  echo "$tmp/irv1.fnc --data_dir $tmp/data --logs_base_dir $tmp/$1/logs --models_base_dir $tmp/$1/models" \
    "--image_size 160 --batch_size 32 --epoch_size $((steps + 1)) --max_nrof_epochs 1 --optimizer ADAM" \
    "--learning_rate 0.01 --validate_every_n_epochs 100 --nrof_preprocess_threads 2"
}
times() { awk -F'\t| ' '/^Epoch: \[1\]/ { n++; if (n > 1) print $4 }' "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for r in $(seq "$rounds"); do
  # shellcheck disable=SC2046
  FN_PROFILE=1 "$build/fnrun" train $(args "one$r") --threads 2 >"$tmp/one$r.log" 2>"$tmp/one$r.err"
  # shellcheck disable=SC2046
  FN_PROFILE=1 mpirun --oversubscribe -np 2 "$build/fnrun" train $(args "two$r") --threads 1 \
    >"$tmp/two$r.log" 2>"$tmp/two$r.err"
  echo "round $r: 1 x 2 threads $(times "$tmp/one$r.log" | median) s, 2 ranks x 1 thread $(times "$tmp/two$r.log" | median) s"
done
one=$(cat "$tmp"/one*.log | times /dev/stdin | median)
two=$(cat "$tmp"/two*.log | times /dev/stdin | median)
red=$(grep -h "^  allreduce " "$tmp"/two*.err | awk '{ s += $4; c += $2 } END { if (c) printf "%.3f s in %d calls", s, c }')
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
params=$(grep -h "trainable values" "$tmp/one1.log" | sed -n 's/.*Variables: \([0-9]*\) trainable.*/\1/p')
echo "CPU: $cpu, $(nproc) cores"
echo "median step: 1 process x 2 threads $one s; 2 ranks x 1 thread $two s; ratio $(python3 -c "print(f'{$two / $one:.3f}')")"
echo "gradients reduced a step: $params floats ($(python3 -c "print(f'{$params * 4 / 1e6:.1f}')") MB); the ranks' allreduce time (profile, all steps, both ranks): ${red:-none}"

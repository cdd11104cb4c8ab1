#!/usr/bin/env bash
# The layers of docs/design.md hold: every include and CMake link of a layered folder goes where
# the table allows (tests/check_layers.py), and the check fails when an include crosses a
# forbidden edge (the core including the training loop; ir including anything; a backend
# including the training application or the other backend) or a link does (a backend linking
# the training layer).
source "$(dirname "$0")/lib_cli.sh"
python3 tests/check_layers.py >"$tmp/out" 2>&1 && ok "$(tail -1 "$tmp/out")" || bad "$(cat "$tmp/out")"
for edge in runtime/core/plan.c:runtime/train/train.h ir/ir.c:runtime/core/rt.h \
            runtime/gpu/gpu_exec.c:runtime/train/train.h runtime/cpu/cpu_exec.c:runtime/gpu/gpu_exec.h \
            runtime/data/loader.c:runtime/eval/lfw.h; do
    if python3 tests/check_layers.py --inject "$edge" >"$tmp/out" 2>&1; then
        bad "an include $edge passed the check"
    else
        grep -q "may not depend on" "$tmp/out" && ok "caught: $(head -1 "$tmp/out")" || bad "$edge: $(cat "$tmp/out")"
    fi
done
# the same for the links: a copy of CMakeLists.txt where the core links the training layer
mkdir -p "$tmp/root/docs"
cp docs/design.md "$tmp/root/docs/"
sed 's/^fn_rt_layer(cpu LINKS fn_rt_core/fn_rt_layer(cpu LINKS fn_rt_train fn_rt_core/' CMakeLists.txt >"$tmp/root/CMakeLists.txt"
if python3 tests/check_layers.py --root "$tmp/root" >"$tmp/out" 2>&1; then bad "a backend linking the training layer passed"
else grep -q "fn_rt_cpu links fn_rt_train" "$tmp/out" && ok "caught: $(grep -m1 links "$tmp/out")" || bad "$(cat "$tmp/out")"; fi
finish

#!/usr/bin/env bash
# fnc info on Inception-ResNet-v1 with a 512-d embedding: the learnable parameter count outside
# Logits (23,467,824, REFERENCE §5), the forward MACs, the layer shapes of SPEC §4 at 160x160,
# and the planned step memory per image (liveness reuse), which the training graph needs more of.
source "$(dirname "$0")/lib_cli.sh"
"$bin/fnc" info models/inception_resnet_v1.fn -D embedding_size=512 >"$tmp/info" 2>&1 || { bad "fnc info failed: $(tail -2 "$tmp/info")"; read -r fused loops < <(sed -n 's/^fusion, train graph.*: [0-9]* nodes, \([0-9]*\) of them in \([0-9]*\) loops.*/\1 \2/p' "$tmp/info")
[ -n "$fused" ] && [ "$fused" -gt "$loops" ] && ok "fusion: $fused training-graph nodes in $loops loops" ||
    bad "fusion line: $(grep '^fusion' "$tmp/info")"
read -r kernels covered loops2 < <(sed -n 's/^LLVM target, train graph.*: \([0-9]*\) kernels for \([0-9]*\) of \([0-9]*\) loops.*/\1 \2 \3/p' "$tmp/info")
[ -n "$kernels" ] && [ "$kernels" -gt 10 ] && [ "$covered" -eq "$loops2" ] &&
    ok "LLVM target: $kernels kernels cover all $loops2 training loops" || bad "LLVM line: $(grep '^LLVM' "$tmp/info")"
finish; exit; }
grep -q "^learnable parameters: 23467824 " "$tmp/info" && ok "23,467,824 learnable values outside Logits" ||
    bad "parameters: $(grep learnable "$tmp/info")"
grep -q "^forward MACs per image: .*(1.418 G)" "$tmp/info" && ok "1.418 GMAC forward per image" || bad "$(grep MACs "$tmp/info")"
# a batch given with -D N=... is baked into the shapes: the figures stay per image
"$bin/fnc" info models/inception_resnet_v1.fn -D embedding_size=512 -D N=64 >"$tmp/info64" 2>&1
cmp -s <(grep '^forward MACs' "$tmp/info") <(grep '^forward MACs' "$tmp/info64") &&
    grep -q '^forward values per batch of 64 ' "$tmp/info64" && ok "-D N=64: the same MACs per image; values per batch of 64" ||
    bad "-D N=64: $(grep '^forward' "$tmp/info64" | tr '\n' ' ')"
shapes=0
for want in "Conv2d_1a_3x3 79x79x32" "Conv2d_4b_3x3 17x17x256" "Mixed_6a 8x8x896" "Mixed_7a 3x3x1792" "Bottleneck 512"; do
    set -- $want
    grep -qE "/$1 +$2\$|^  $1 +$2\$|/$1/?[A-Za-z_]* +$2\$" "$tmp/info" && shapes=$((shapes + 1)) || echo "   missing: $want"
done
[ "$shapes" -eq 5 ] && ok "layer shapes as SPEC §4 at 160x160" || bad "$shapes of 5 layer shapes found"
read -r eval_per < <(sed -n 's/^planned step memory, eval graph.*: \([0-9.]*\) MiB per image.*/\1/p' "$tmp/info")
read -r train_per < <(sed -n 's/^planned step memory, train graph.*: \([0-9.]*\) MiB per image.*/\1/p' "$tmp/info")
[ -n "$eval_per" ] && [ -n "$train_per" ] && awk -v e="$eval_per" -v t="$train_per" 'BEGIN { exit !(e > 0 && t > e) }' &&
    ok "planned step memory per image: eval $eval_per MiB, train $train_per MiB" ||
    bad "planned memory lines: $(grep planned "$tmp/info")"
read -r fused loops < <(sed -n 's/^fusion, train graph.*: [0-9]* nodes, \([0-9]*\) of them in \([0-9]*\) loops.*/\1 \2/p' "$tmp/info")
[ -n "$fused" ] && [ "$fused" -gt "$loops" ] && ok "fusion: $fused training-graph nodes in $loops loops" ||
    bad "fusion line: $(grep '^fusion' "$tmp/info")"
read -r kernels covered loops2 < <(sed -n 's/^LLVM target, train graph.*: \([0-9]*\) kernels for \([0-9]*\) of \([0-9]*\) loops.*/\1 \2 \3/p' "$tmp/info")
[ -n "$kernels" ] && [ "$kernels" -gt 10 ] && [ "$covered" -eq "$loops2" ] &&
    ok "LLVM target: $kernels kernels cover all $loops2 training loops" || bad "LLVM line: $(grep '^LLVM' "$tmp/info")"
# fnc cuda: -D N=... is the batch the module is planned for; N stays symbolic, so the bfloat16
# values (those leading with N) are found as without it
halves() { "$bin/fnc" cuda tests/models/irv1_small.fn --bf16 "$@" -o "$tmp/m.cu" | sed -n 's/^values in bfloat16: \([0-9]*\).*/\1/p'; }
h0=$(halves) h8=$(halves -D N=8)
[ -n "$h0" ] && [ "$h0" -gt 0 ] && [ "$h0" = "$h8" ] && ok "fnc cuda --bf16 -D N=8: $h8 bfloat16 values, as without -D" ||
    bad "fnc cuda --bf16: $h0 values without -D, $h8 with -D N=8"
finish

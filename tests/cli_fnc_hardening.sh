#!/usr/bin/env bash
# fnc against hostile or mistaken input (issue 24, the compiler's part): a 5,000-term chain, -D
# values out of range, image sizes that leave no pixels, a FIFO given as a model or imported, an
# import of a file that is not DSL, --graph of neither graph, --version. Each must end in an error
# that names the problem (never a crash, a hang or a wrapped number); the inputs are generated
# here, into $tmp.
# Not here: the must-fail DSL files (tests/dsl_errors/, test_dsl_errors.c).
source "$(dirname "$0")/lib_cli.sh"
fnc=$bin/fnc

# fails(what, status-file, stderr-file, substring): status 1..127 and the substring on stderr
fails() {
    local rc=$2
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -qF -- "$4" "$3"; then ok "$1: $(grep -F -- "$4" "$3" | head -1 | cut -c1-160)"
    else bad "$1: status $rc, wanted '$4': $(head -3 "$3" | cut -c1-200)"; fi
}

# item 1: a binary chain 5,000 terms long is refused in the parser, not a stack overflow
python3 -c "print('a = ' + ' + '.join(['1'] * 5000))" >"$tmp/chain.fn"
"$fnc" check "$tmp/chain.fn" >/dev/null 2>"$tmp/err"
fails "5,000-term chain" $? "$tmp/err" "expression too deep: more than 200 nested operators"

# item 2: -D values out of range are refused naming the flag
for v in 99999999999999999999 4611686018427387904; do
    expect_error "-D N=$v" "-D N=$v: value out of range" "$fnc" info models/inception_resnet_v1.fn -D N=$v
done

# item 10: an image size that leaves a negative map is refused at the layer (bound with -D) ...
"$fnc" info models/inception_resnet_v1.fn -D image_size=1 >"$tmp/out" 2>"$tmp/err"
fails "-D image_size=1" $? "$tmp/err" "conv2d in InceptionResnetV1/Conv2d_1a_3x3: output shape"
grep -q "^layer output shapes" "$tmp/out" && bad "-D image_size=1 still printed shapes" || ok "-D image_size=1: no shapes printed"
# ... and where fnc info binds a symbolic size by its default
printf 'dim N, S=2\nx = input("x", [N, S, S, 3])\nscope Small { y = conv2d(x, param("w", [3, 3, 3, 4]), padding="VALID") }\noutput y = y\n' >"$tmp/small.fn"
"$fnc" info "$tmp/small.fn" >/dev/null 2>"$tmp/err"
fails "fnc info, symbolic S=2" $? "$tmp/err" "conv2d in Small: shape [N,S-2,S-2,4] is 1x0x0x4 at these sizes"

# item 5: a FIFO, as the model or as an import, is refused without blocking
mkfifo "$tmp/fifo.fn"
timeout 10 "$fnc" check "$tmp/fifo.fn" >/dev/null 2>"$tmp/err"
fails "FIFO as the model" $? "$tmp/err" "cannot read model file: not a regular file"
printf 'import "fifo.fn"\nx = input("x", [4])\n' >"$tmp/imp_fifo.fn"
timeout 10 "$fnc" check "$tmp/imp_fifo.fn" >/dev/null 2>"$tmp/err"
fails "FIFO imported" $? "$tmp/err" "cannot import \"fifo.fn\": not a regular file"
head -c $((5 << 20)) /dev/zero | tr '\0' '#' >"$tmp/big.fn"
"$fnc" check "$tmp/big.fn" >/dev/null 2>"$tmp/err"
fails "a 5 MiB model" $? "$tmp/err" "larger than 4 MiB"

# item 16: importing a file that is not DSL quotes at most one of its lines
for i in $(seq 1 30); do echo "secret-line-$i:x:0:0:root:/root:/bin/bash"; done >"$tmp/passwd"
printf 'import "passwd"\nx = input("x", [4])\n' >"$tmp/imp_passwd.fn"
"$fnc" check "$tmp/imp_passwd.fn" >/dev/null 2>"$tmp/err"
rc=$? quoted=$(grep -c '^secret-line-' "$tmp/err")
[ "$rc" -eq 1 ] && [ "$quoted" -le 1 ] && ok "non-DSL import: $quoted of its 30 lines quoted" ||
    bad "non-DSL import: status $rc, $quoted lines quoted"

# item 15: --graph takes train or eval; --version
expect_error "dump --graph foo" "--graph: expected train|eval, got 'foo'" "$fnc" dump models/mtcnn/pnet.fn --graph foo
"$fnc" --version >"$tmp/out" 2>&1 && grep -qE '^fnc \(fn\) [0-9]+\.[0-9]+\.[0-9]+, revision ' "$tmp/out" &&
    ok "--version: $(cat "$tmp/out")" || bad "--version: $(cat "$tmp/out")"
finish

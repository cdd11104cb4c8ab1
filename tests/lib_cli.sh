# Sourced by the tests/cli_*.sh scripts: the build directory, a temporary directory removed at
# exit, pass/fail counters, expect_error and the closing line ctest reads.
set -u
bin=${FN_BIN:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}

# expect_error "what" "substring" cmd...: the command must fail without crashing (status 1..127)
# and print exactly one line on stderr, containing the substring.
expect_error() {
    local what=$1 want=$2
    shift 2
    "$@" >"$tmp/expect.out" 2>"$tmp/expect.err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/expect.err")
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/expect.err"; then
        ok "$what: $(cat "$tmp/expect.err")"
    else
        bad "$what: status $rc, $lines stderr lines, wanted '$want': $(cat "$tmp/expect.err")"
    fi
}

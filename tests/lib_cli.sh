# Sourced by the tests/cli_*.sh scripts: the build directory, a temporary directory removed at
# exit, pass/fail counters and the closing line ctest reads.
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

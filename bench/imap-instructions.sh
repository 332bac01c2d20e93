#!/usr/bin/env bash
# Instructions per IMAP session (with and without LOGIN) and per command (SELECT, FETCH, APPEND,
# MULTIAPPEND), counted by callgrind: a figure that does not move with the disk, to compare two
# builds where rates are too noisy.
# Usage: bench/imap-instructions.sh [BASE_BIN]   (CONFIANCE_BIN=path measures another build;
# with BASE_BIN, that build is measured first, side by side.) Needs valgrind. Takes minutes:
# everything runs some 50 times slower under callgrind.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/bench/lib.sh"
if [ -z "${CONFIANCE_BIN:-}" ]; then
    (cd "$repo" && cargo build --release -q -p confiance)
fi
after=${CONFIANCE_BIN:-$repo/target/release/confiance}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

measure() {
    local bin=$1 root port pid
    root=$(mktemp -d /tmp/confiance-bench-cg.XXXXXX)
    port=$(free_port)
    operator_config "$root/data" "$port" > "$root/confiance.toml"
    "$bin" --config "$root/confiance.toml" init --no-demo >/dev/null 2>&1
    echo 'Bench1234' | "$bin" --config "$root/confiance.toml" account add bench0@medecin.confiance.test --password-stdin >/dev/null
    CONFIANCE_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$root/callgrind.out.%p" \
        "$bin" --config "$root/confiance.toml" serve 2>"$root/server.log" &
    pid=$!
    wait_for_port "$port" 120
    echo "== $bin"
    python3 "$repo/bench/imap_instructions.py" "$port" "$root/data/ca/root.pem" "$pid" "$root"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    rm -rf "$root"
}

if [ -n "${1:-}" ]; then
    measure "$1"
fi
measure "$after"

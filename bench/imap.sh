#!/usr/bin/env bash
# IMAP rates for 20 concurrent clients (LOGIN, SELECT, FETCH, APPEND over TLS) and the server's
# memory idle and with 1,000 idle connections. Usage: bench/imap.sh  (CLIENTS=20 PHASE_SECONDS=5 IDLE=1000;
# CONFIANCE_BIN=path compares another build)
set -euo pipefail
CLIENTS=${CLIENTS:-20}
PHASE_SECONDS=${PHASE_SECONDS:-5}
IDLE=${IDLE:-1000}
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/bench/lib.sh"
# A free port, so that two benchmarks (or a benchmark and the tests) can run at once.
PORT=${PORT:-$(free_port)}
root=$(mktemp -d /tmp/confiance-bench-imap.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$root"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

(cd "$repo" && cargo build --release -q -p imap-load)
if [ -z "${CONFIANCE_BIN:-}" ]; then
    (cd "$repo" && cargo build --release -q -p confiance)
fi
bin=${CONFIANCE_BIN:-$repo/target/release/confiance}
{
    operator_config "$root/data" "$PORT"
    # The idle phase holds IDLE connections from one address: above the default per-address limit.
    cat <<CONF
[limits]
max_per_address = $((IDLE + CLIENTS + 100))
max_connections = $((IDLE + CLIENTS + 100))
CONF
} > "$root/confiance.toml"
"$bin" --config "$root/confiance.toml" init --no-demo >/dev/null 2>&1
for i in $(seq 0 $((CLIENTS - 1))); do
    echo 'Bench1234' | "$bin" --config "$root/confiance.toml" account add "bench$i@medecin.confiance.test" --password-stdin >/dev/null
done
CONFIANCE_LOG=warn "$bin" --config "$root/confiance.toml" serve 2>"$root/server.log" &
pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
sleep 1
"$repo/target/release/imap-load" --port "$PORT" --ca "$root/data/ca/root.pem" --domain medecin.confiance.test \
    --password Bench1234 --clients "$CLIENTS" --seconds "$PHASE_SECONDS" --idle "$IDLE" --pid "$pid"

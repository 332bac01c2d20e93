#!/usr/bin/env bash
# Sessions on one BAL at once (a secretariat's): each appends, flags, copies, moves and
# expunges, and every answer is checked against the protocol; at each checkpoint every view
# must agree with the store (tests/clients/imap_stress.py says what is checked).
# Usage: bench/imap-stress.sh   (SESSIONS=20 DURATION=600 seconds, CHECKPOINT=10; CONFIANCE_BIN=path
# runs another build). Prints the operations done and the errors seen; exits 1 on any error.
set -euo pipefail
SESSIONS=${SESSIONS:-20}
DURATION=${DURATION:-600}
CHECKPOINT=${CHECKPOINT:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/confiance-bench-stress.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$root"' EXIT
. "$repo/bench/lib.sh"
port=$(free_port)
if [ -z "${CONFIANCE_BIN:-}" ]; then
    (cd "$repo" && cargo build --release -q -p confiance)
fi
bin=${CONFIANCE_BIN:-$repo/target/release/confiance}
{
    operator_config "$root/data" "$port"
    printf '[limits]\nmax_per_address = %d\n' $((SESSIONS + 50))
} > "$root/confiance.toml"
"$bin" --config "$root/confiance.toml" init --no-demo >/dev/null 2>&1
echo 'Stress1234' | "$bin" --config "$root/confiance.toml" account add secretariat@medecin.confiance.test --password-stdin >/dev/null
CONFIANCE_LOG=warn "$bin" --config "$root/confiance.toml" serve 2>"$root/server.log" &
pid=$!
wait_for_port "$port"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$repo/tests/clients"
CONFIANCE_HOST=127.0.0.1 CONFIANCE_IMAP=0 CONFIANCE_IMAPS=$port CONFIANCE_SUBMISSION=0 CONFIANCE_SUBMISSIONS=0 \
CONFIANCE_CA="$root/data/ca/root.pem" CONFIANCE_DOMAIN=medecin.confiance.test CONFIANCE_PASSWORD=Stress1234 \
    python3 imap_stress.py secretariat "$SESSIONS" "$DURATION" "$CHECKPOINT"

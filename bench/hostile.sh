#!/usr/bin/env bash
# What one hostile message costs everyone else (issue 13): IMAP NOOP latency of another client
# while the webmail opens a message of 100,000 nested <div> (p50/p99/max, quiet vs loaded), and
# peak RSS while 16 readers open a 24 MB message at once (goal: under 300 MB).
# Usage: bench/hostile.sh   (CONFIANCE_BIN=path compares another build; SECONDS_PER_PHASE=10)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/confiance-bench-hostile.XXXXXX)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$root"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IMAPS=$(port); WEB=$(port)

if [ -z "${CONFIANCE_BIN:-}" ]; then
    (cd "$repo" && cargo build --release -q -p confiance)
fi
bin="${CONFIANCE_BIN:-$repo/target/release/confiance}"
cat > "$root/confiance.toml" <<CONF
data_dir = "$root/data"
domains = ["medecin.confiance.test", "pro.confiance.test"]
[imap]
listen = "127.0.0.1:0"
listen_tls = "127.0.0.1:$IMAPS"
[smtp]
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
mx = "127.0.0.1:0"
[web]
listen = "127.0.0.1:$WEB"
CONF
"$bin" --config "$root/confiance.toml" init --no-demo >/dev/null 2>&1
CONFIANCE_LOG=warn "$bin" --config "$root/confiance.toml" serve 2>"$root/server.log" &
pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$WEB) 2>/dev/null && break; sleep 0.1; done
sleep 1
echo "server: $bin"
SERVER_PID=$pid CONFIANCE_HOST=127.0.0.1 CONFIANCE_IMAP=0 CONFIANCE_IMAPS=$IMAPS CONFIANCE_SUBMISSION=0 \
CONFIANCE_SUBMISSIONS=0 CONFIANCE_CA="$root/data/ca/root.pem" CONFIANCE_DOMAIN=medecin.confiance.test \
CONFIANCE_PASSWORD=unused CONFIANCE_WEB=$WEB python3 "$repo/bench/hostile.py"
echo "server peak RSS over the run: $(grep VmHWM /proc/$pid/status | awk '{print int($2/1024) " MB"}')"

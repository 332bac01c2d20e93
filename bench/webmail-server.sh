#!/usr/bin/env bash
# Starts a release Confiance with IMAPS and HTTPS on free loopback ports (nothing else), then
# runs the Python benchmark client SCRIPT against it with the CONFIANCE_* variables and
# SERVER_PID set, and prints the server's peak RSS. Shared by bench/webmail.sh and
# bench/hostile.sh. Usage: bench/webmail-server.sh SCRIPT.py   (CONFIANCE_BIN=path: another build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
script=$1
root=$(mktemp -d "/tmp/confiance-bench-$(basename "$script" .py).XXXXXX")
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
managesieve = "127.0.0.1:0"
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
CONFIANCE_PASSWORD=unused CONFIANCE_WEB=$WEB python3 "$repo/bench/$script"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print int($2/1024) " MB"}')"

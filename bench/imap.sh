#!/usr/bin/env bash
# IMAP rates for 20 concurrent clients over TLS (LOGIN, SELECT, FETCH of a whole message and of
# a page of headers, STORE, APPEND), the IDLE wake-up latency, and the server's memory per idle
# authenticated session (1,000 and 10,000 sessions); then, side by side in the same run, Dovecot
# (Debian's dovecot-imapd, started from a private configuration in a temporary folder, never as
# the system's service) with the same users, the same phases and the same corpus: once with the
# very Argon2id hashes Confiance stores, once with plain passwords (and 1,000 idle sessions);
# then the ratios.
# Usage: bench/imap.sh  (CLIENTS=20 PHASE_SECONDS=5 IDLE=1000 IDLE_CONFIANCE=1000,10000
# DOVECOT=1; CONFIANCE_BIN=path compares another build; DOVECOT=0 leaves Dovecot out;
# PHASES=store,append runs only those, to profile one)
set -euo pipefail
CLIENTS=${CLIENTS:-20}
PHASE_SECONDS=${PHASE_SECONDS:-5}
IDLE=${IDLE:-1000}
IDLE_CONFIANCE=${IDLE_CONFIANCE:-$IDLE,10000}
MOST_IDLE=$(echo "$IDLE_CONFIANCE" | tr ',' '\n' | sort -n | tail -1)
DOVECOT=${DOVECOT:-1}
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/bench/lib.sh"
# A free port, so that two benchmarks (or a benchmark and the tests) can run at once.
PORT=${PORT:-$(free_port)}
root=$(mktemp -d /tmp/confiance-bench-imap.XXXXXX)
stop_all() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
    for conf in "$root"/dovecot-*/dovecot.conf; do
        [ -f "$conf" ] && { doveadm -c "$conf" stop 2>/dev/null || true; }
    done
    rm -rf "$root"
}
trap stop_all EXIT
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
max_per_address = $((MOST_IDLE + CLIENTS + 100))
max_connections = $((MOST_IDLE + CLIENTS + 100))
CONF
} > "$root/confiance.toml"
"$bin" --config "$root/confiance.toml" init --no-demo >/dev/null 2>&1
for i in $(seq 0 $((CLIENTS - 1))); do
    echo 'Bench1234' | "$bin" --config "$root/confiance.toml" account add "bench$i@medecin.confiance.test" --password-stdin >/dev/null
done
CONFIANCE_LOG=warn "$bin" --config "$root/confiance.toml" serve 2>"$root/server.log" &
pid=$!
wait_for_port "$PORT"
sleep 1
load() { # PORT IDLE [PID]: the phases against one server
    "$repo/target/release/imap-load" --port "$1" --ca "$root/data/ca/root.pem" --domain medecin.confiance.test \
        --password Bench1234 --clients "$CLIENTS" --seconds "$PHASE_SECONDS" --idle "$2" ${3:+--pid "$3"} ${PHASES:+--phases "$PHASES"}
}
echo "== Confiance"
load "$PORT" "$IDLE_CONFIANCE" "$pid" | tee "$root/confiance.out"
kill "$pid"
pid=

[ "$DOVECOT" = 1 ] || exit 0
if ! command -v dovecot >/dev/null; then
    echo "Dovecot is not installed (apt-get install dovecot-imapd): no side by side." >&2
    exit 0
fi

# dovecot_run NAME SCHEME IDLE: Dovecot with every bench user's password under SCHEME (ARGON2ID:
# Confiance's own stored hashes, so both check the same Argon2id; PLAIN: kept in clear).
dovecot_run() {
    local d="$root/dovecot-$1" port
    port=$(free_port)
    mkdir -p "$d/home"
    python3 - "$root/data/confiance.db" "$2" > "$d/users" <<'PY'
import sqlite3, sys
db, scheme = sys.argv[1], sys.argv[2]
for address, hash_ in sqlite3.connect(db).execute("SELECT address, password_hash FROM accounts ORDER BY address"):
    print(f"{address}:{{{scheme}}}{hash_ if scheme == 'ARGON2ID' else 'Bench1234'}")
PY
    # The mail user of Debian (uid 8) owns the maildirs; the folders above must let it through.
    chmod 755 "$root" "$d"
    chown mail:mail "$d/home"
    cat > "$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/log
listen = 127.0.0.1
protocols = imap
ssl = required
ssl_cert = <$root/data/tls/server.pem
ssl_key = <$root/data/tls/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = $d/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$d/home/%u
}
protocol imap {
  # The idle sessions share 20 users from one address (default: 10 per user and address).
  mail_max_userip_connections = $((IDLE + CLIENTS + 100))
}
mail_location = maildir:~/Maildir
first_valid_uid = 8
first_valid_gid = 8
default_internal_user = dovecot
default_login_user = dovenull
# One process per session: room for the idle connections as for the clients.
default_process_limit = $((IDLE + CLIENTS + 100))
default_client_limit = $((2 * (IDLE + CLIENTS + 100)))
service anvil {
  client_limit = $((3 * (IDLE + CLIENTS + 100)))
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $port
    ssl = yes
  }
}
CONF
    dovecot -c "$d/dovecot.conf"
    wait_for_port "$port"
    echo "== Dovecot $(dovecot --version | cut -d' ' -f1), passwords $1"
    load "$port" "$3" "$(cat "$d/run/master.pid")" | tee "$root/dovecot-$1.out"
    doveadm -c "$d/dovecot.conf" stop
}
# The memory measure once, where logins are cheapest; it does not depend on the scheme.
dovecot_run argon2id ARGON2ID 0
dovecot_run plain PLAIN "$IDLE"

echo "== Confiance / Dovecot, same run (load: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$root" "$IDLE" <<'PY'
import re, sys
root, idle = sys.argv[1], sys.argv[2]
def read(name):
    text = open(f"{root}/{name}.out").read()
    figures = {m[1]: float(m[2]) for m in re.finditer(r"^([\w-]+)\s+(\d+) /s$", text, re.M)}
    # Lower is better for these two: kept negative, the ratio is Dovecot's over ours.
    wake = re.search(r"^idle-wake\s+([\d.]+) ms", text, re.M)
    if wake:
        figures["idle-wake ms"] = -float(wake[1])
    per = re.search(rf"^memory with {idle} idle sessions: [\d.]+ MiB, ([\d.]+) KiB", text, re.M)
    if per:
        figures[f"KiB/session@{idle}"] = -float(per[1])
    return figures
ours, argon, plain = (read(n) for n in ("confiance", "dovecot-argon2id", "dovecot-plain"))
def ratio(a, b):
    if not b:
        return "-"
    return f"{a / b:.2f}x" if a > 0 else f"{b / a:.2f}x"
def shown(x):
    return f"{abs(x):.2f}" if x < 0 else f"{x:.0f}"
print(f"{'phase':<20} {'Confiance':>10} {'Dovecot Argon2id':>17} {'ratio':>6} {'Dovecot plain':>14} {'ratio':>6}")
for phase, v in ours.items():
    a, p = argon.get(phase, 0), plain.get(phase, 0)
    print(f"{phase:<20} {shown(v):>10} {shown(a) if a else '-':>17} {ratio(v, a):>6} {shown(p) if p else '-':>14} {ratio(v, p):>6}")
print("(per second, higher is better; for ms and KiB lower is better and the ratio is Dovecot's over ours)")
PY

#!/usr/bin/env bash
# SMTP acceptance throughput, Confiance against Postfix, same client, same machine, same run.
#
# Both servers take N messages of SIZE bytes from Postfix's smtp-source with SESSIONS parallel
# sessions, with fsync on. Postfix delivers to a Maildir (queue file fsync'd by cleanup, then
# Maildir file fsync'd by local); its time runs until the last message is in the Maildir.
# Confiance answers 250 only once the message is durable in the store, so its time runs until
# smtp-source has its last 250. Needs root (a Postfix instance and a local user) and the
# `postfix` package (smtp-source). Usage: bench/smtp.sh   (N=10000 SIZE=4096 SESSIONS=20)
set -euo pipefail
N=${N:-10000}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-20}
POSTFIX_PORT=${POSTFIX_PORT:-2525}
CONFIANCE_PORT=${CONFIANCE_PORT:-2587}
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/confiance-bench-smtp.XXXXXX)
chmod 755 "$root"
command -v smtp-source >/dev/null || { echo "smtp-source missing: apt-get install postfix" >&2; exit 2; }

cleanup() {
    postfix -c "$root/postfix/etc" stop >/dev/null 2>&1 || true
    [ -n "${confiance_pid:-}" ] && kill "$confiance_pid" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):.0f}')"; }

bin=${CONFIANCE_BIN:-$repo/target/release/confiance}   # CONFIANCE_BIN compares another build
if [ -z "${CONFIANCE_BIN:-}" ]; then
    echo "== building Confiance (release)"
    (cd "$repo" && cargo build --release -q -p confiance)
fi

echo "== Postfix $(postconf -d -h mail_version) → Maildir"
id bench >/dev/null 2>&1 || useradd -M -d "$root/home" -s /usr/sbin/nologin bench
usermod -d "$root/home" bench
mkdir -p "$root/home" "$root/postfix/etc" "$root/postfix/spool" "$root/postfix/data"
chown bench "$root/home"
chown postfix "$root/postfix/data"
cp /etc/postfix/master.cf "$root/postfix/etc/master.cf"
sed -i "s/^smtp      inet.*/127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd/" "$root/postfix/etc/master.cf"
cat > "$root/postfix/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $root/postfix/spool
data_directory = $root/postfix/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.test
mydestination = bench.test
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
local_recipient_maps =
alias_maps =
alias_database =
home_mailbox = Maildir/
biff = no
maillog_file = $root/postfix/maillog
maillog_file_prefixes = $root
default_process_limit = 100
CONF
postfix -c "$root/postfix/etc" check 2>/dev/null || true
postfix -c "$root/postfix/etc" start >/dev/null 2>&1 || { echo "Postfix did not start; see $root/postfix/maillog" >&2; exit 1; }
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$POSTFIX_PORT) 2>/dev/null && break; sleep 0.1; done
t0=$(now)
smtp-source -s "$SESSIONS" -m "$N" -l "$SIZE" -f sender@bench.test -t bench@bench.test "127.0.0.1:$POSTFIX_PORT"
t_accept=$(now)
while [ "$(ls "$root/home/Maildir/new" 2>/dev/null | wc -l)" -lt "$N" ]; do sleep 0.05; done
t_deliver=$(now)
postfix_accept=$(rate "$N" "$t0" "$t_accept")
postfix_rate=$(rate "$N" "$t0" "$t_deliver")
echo "Postfix: accepted at $postfix_accept msg/s, all $N in the Maildir at $postfix_rate msg/s"
postfix -c "$root/postfix/etc" stop >/dev/null 2>&1

echo "== Confiance → its store (SQLite + blobs, fsync on)"
cat > "$root/confiance.toml" <<CONF
data_dir = "$root/confiance"
[imap]
[smtp]
submission = "127.0.0.1:$CONFIANCE_PORT"
trusted_networks = ["127.0.0.1/32"]
[storage]
fsync = true
CONF
sed -i '/^\[imap\]/a listen = "127.0.0.1:0"\nlisten_tls = "127.0.0.1:0"\nmanagesieve = "127.0.0.1:0"' "$root/confiance.toml"
sed -i '/^submission = /a submissions = "127.0.0.1:0"\nmx = "127.0.0.1:0"' "$root/confiance.toml"
# Free ports everywhere else too, so that a running operator or another bench is no obstacle.
printf '[web]\nlisten = "127.0.0.1:0"\n' >> "$root/confiance.toml"
"$bin" --config "$root/confiance.toml" init --no-demo >/dev/null 2>&1
echo 'Bench1234' | "$bin" --config "$root/confiance.toml" account add bench@medecin.confiance.test --password-stdin >/dev/null
CONFIANCE_LOG=warn "$bin" --config "$root/confiance.toml" serve 2>"$root/confiance.log" &
confiance_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$CONFIANCE_PORT) 2>/dev/null && break; sleep 0.1; done
t0=$(now)
smtp-source -s "$SESSIONS" -m "$N" -l "$SIZE" -f sender@medecin.confiance.test -t bench@medecin.confiance.test "127.0.0.1:$CONFIANCE_PORT"
t1=$(now)
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from messages').fetchone()[0])" "$root/confiance/confiance.db")
confiance_rate=$(rate "$N" "$t0" "$t1")
echo "Confiance: $stored of $N stored durably at $confiance_rate msg/s"
[ "$stored" -eq "$N" ] || { echo "message count mismatch" >&2; exit 1; }
ratio=$(python3 -c "print(f'{$confiance_rate/$postfix_rate:.2f}')")
echo
echo "| server | msg/s (N=$N, ${SIZE} B, -s $SESSIONS) |"
echo "|---|---|"
echo "| Postfix → Maildir | $postfix_rate |"
echo "| Confiance → store | $confiance_rate |"
echo "ratio Confiance / Postfix: ${ratio}x"
rm -rf "$root"

#!/usr/bin/env bash
# Relay throughput between two operators of a trust space, side by side with Postfix:
#   Confiance A → Confiance B   and   Postfix P1 → Postfix P2
# Both pairs use the same TLS policy: mandatory STARTTLS, client certificate presented and
# required, the peer's chain verified against the same test authority. Each sender gets N
# messages of SIZE bytes from smtp-source (plain SMTP from a trusted network, as a practice
# software on the LAN would), and the clock stops when the last one is stored at the receiver.
#
#   sudo bench/relay.sh              # N=10000 SIZE=4096 SESSIONS=20 CONCURRENCY=20
# Needs root (Postfix's master), Debian's postfix (for smtp-source too) and python3.
set -euo pipefail
N=${N:-10000}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-20}
CONCURRENCY=${CONCURRENCY:-20} # connections at once to the peer, both products
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/confiance-bench-relay.XXXXXX)
chmod 755 "$root"
command -v smtp-source >/dev/null || { echo "smtp-source missing: apt-get install postfix" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (Postfix's master needs it)" >&2; exit 2; }

pids=()
cleanup() {
    for p in p1 p2; do postfix -c "$root/$p/etc" stop >/dev/null 2>&1 || true; done
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):.0f}')"; }
free_port() { python3 -c "import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])" "$1"; }
wait_port() {
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.05; done
    echo "nothing on $1:$2" >&2
    tail -n 5 "$root"/*/log >&2 2>/dev/null
    exit 1
}

bin=${CONFIANCE_BIN:-$repo/target/release/confiance}
if [ -z "${CONFIANCE_BIN:-}" ]; then
    echo "== building Confiance (release)"
    (cd "$repo" && cargo build --release -q -p confiance)
fi

echo "== trust space: one authority, four MTAs"
cat > "$root/spec.toml" <<SPEC
name = "BENCH"
[[operator]]
name = "A"
structure_id = "1000000001"
hosts = ["mx.a.test"]
domains = ["a.test"]
[[operator]]
name = "B"
structure_id = "1000000002"
hosts = ["mx.b.test"]
domains = ["b.test"]
[[operator]]
name = "P1"
structure_id = "1000000003"
hosts = ["mx.p1.test"]
domains = ["p1.test"]
[[operator]]
name = "P2"
structure_id = "1000000004"
hosts = ["mx.p2.test"]
domains = ["p2.test"]
SPEC
"$bin" authority create --spec "$root/spec.toml" --out "$root/space" >/dev/null 2>&1
space=$root/space

# --- Postfix P1 (127.0.0.4) → Postfix P2 (127.0.0.5) ---
p1_port=$(free_port 127.0.0.4)
p2_port=$(free_port 127.0.0.5)
postfix_instance() { # name ip port host extra-main.cf
    local d=$root/$1
    mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/mail"
    chown postfix "$d/data"
    chown nobody:nogroup "$d/mail"
    sed "s/^smtp      inet.*/$2:$3 inet n - n - - smtpd/" /etc/postfix/master.cf > "$d/etc/master.cf"
    cat > "$d/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = $4
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
maillog_file = $d/maillog
maillog_file_prefixes = $d
default_process_limit = 100
smtp_dns_support_level = disabled
smtpd_tls_cert_file = $space/operators/$4/server.pem
smtpd_tls_key_file = $space/operators/$4/server.key
smtpd_tls_CAfile = $space/ca/root.pem
smtp_tls_cert_file = $space/operators/$4/server.pem
smtp_tls_key_file = $space/operators/$4/server.key
smtp_tls_CAfile = $space/ca/root.pem
smtp_tls_loglevel = 1
smtpd_tls_loglevel = 1
$5
CONF
    postconf -c "$d/etc" -F '*/*/chroot = n'
    postfix -c "$d/etc" check >/dev/null 2>&1 || true
    postfix -c "$d/etc" start >/dev/null 2>&1 || { echo "Postfix $1 did not start; see $d/maillog" >&2; exit 1; }
    wait_port "$2" "$3"
}
postfix_instance p2 127.0.0.5 "$p2_port" mx.p2.test "
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_req_ccert = yes
virtual_mailbox_domains = p2.test
virtual_mailbox_base = $root/p2/mail
virtual_mailbox_maps = inline:{ bench@p2.test=bench/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534"
postfix_instance p1 127.0.0.4 "$p1_port" mx.p1.test "
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_tls_security_level = secure
smtp_tls_policy_maps = inline:{ { [127.0.0.5]:$p2_port = secure match=mx.p2.test } }
transport_maps = inline:{ p2.test=smtp:[127.0.0.5]:$p2_port }
default_destination_concurrency_limit = $CONCURRENCY
smtp_destination_concurrency_limit = $CONCURRENCY"

echo "== Postfix $(postconf -d -h mail_version): P1 → P2, mutual TLS"
t0=$(now)
smtp-source -s "$SESSIONS" -m "$N" -l "$SIZE" -f sender@p1.test -t bench@p2.test "127.0.0.4:$p1_port"
until [ "$(ls "$root/p2/mail/bench/new" 2>/dev/null | wc -l)" -ge "$N" ]; do sleep 0.05; done
t1=$(now)
postfix_rate=$(rate "$N" "$t0" "$t1")
grep -q "Verified TLS connection established to" "$root/p1/maillog" || { echo "Postfix P1 did not verify P2" >&2; exit 1; }
grep -q "Trusted TLS connection established from" "$root/p2/maillog" || { echo "Postfix P2 did not check P1's certificate" >&2; exit 1; }
echo "Postfix: all $N at P2 at $postfix_rate msg/s"
for p in p1 p2; do postfix -c "$root/$p/etc" stop >/dev/null 2>&1; done

# --- Confiance A (127.0.0.2) → Confiance B (127.0.0.3) ---
operator() { # name ip host domain route-domain route-host route-ip route-port
    local d=$root/$1
    mkdir -p "$d"
    cat > "$d/confiance.toml" <<CONF
data_dir = "$d/data"
hostname = "$3"
domains = ["$4"]
[imap]
listen = "$2:0"
listen_tls = "$2:0"
managesieve = "$2:0"
[web]
listen = "$2:0"
[smtp]
submission = "$2:$(free_port "$2")"
submissions = "$2:0"
mx = "$2:$(free_port "$2")"
trusted_networks = ["127.0.0.0/8"]
[tls]
certificate = "$space/operators/$3/server.pem"
private_key = "$space/operators/$3/server.key"
[trust]
anchors = "$space/ca/root.pem"
whitelist = "$space/listeblanchemssante.xml"
[relay]
per_domain = $CONCURRENCY
[relay.routes."$5"]
host = "$6"
address = "$7:$8"
CONF
    "$bin" --config "$d/confiance.toml" init --no-demo >/dev/null 2>&1
}
a_mx=$(free_port 127.0.0.2)
b_mx=$(free_port 127.0.0.3)
operator a 127.0.0.2 mx.a.test a.test b.test mx.b.test 127.0.0.3 "$b_mx"
operator b 127.0.0.3 mx.b.test b.test a.test mx.a.test 127.0.0.2 "$a_mx"
sed -i "s/^mx = .*/mx = \"127.0.0.2:$a_mx\"/" "$root/a/confiance.toml"
sed -i "s/^mx = .*/mx = \"127.0.0.3:$b_mx\"/" "$root/b/confiance.toml"
echo 'Bench1234' | "$bin" --config "$root/b/confiance.toml" account add bench@b.test --password-stdin >/dev/null
for o in a b; do
    CONFIANCE_LOG=warn "$bin" --config "$root/$o/confiance.toml" serve 2>"$root/$o/log" &
    pids+=($!)
done
a_sub=$(sed -n 's/^submission = "127.0.0.2:\([0-9]*\)"/\1/p' "$root/a/confiance.toml")
wait_port 127.0.0.2 "$a_sub"
wait_port 127.0.0.3 "$b_mx"
count_b() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from messages').fetchone()[0])" "$root/b/data/confiance.db"; }

echo "== Confiance: A → B, mutual TLS, whitelist checked both ends"
t0=$(now)
smtp-source -s "$SESSIONS" -m "$N" -l "$SIZE" -f sender@a.test -t bench@b.test "127.0.0.2:$a_sub"
until [ "$(count_b)" -ge "$N" ]; do sleep 0.05; done
t1=$(now)
confiance_rate=$(rate "$N" "$t0" "$t1")
echo "Confiance: all $N at B at $confiance_rate msg/s"
[ "$(count_b)" -eq "$N" ] || { echo "B holds $(count_b) messages, expected $N" >&2; exit 1; }

ratio=$(python3 -c "print(f'{$confiance_rate/$postfix_rate:.2f}')")
echo
echo "| relay, mutual TLS (N=$N, ${SIZE} B, -s $SESSIONS, $CONCURRENCY connections) | msg/s |"
echo "|---|---|"
echo "| Postfix P1 → Postfix P2 | $postfix_rate |"
echo "| Confiance A → Confiance B | $confiance_rate |"
echo "ratio Confiance / Postfix: ${ratio}x"
cleanup
rm -rf "$root"

#!/usr/bin/env bash
# SMTP ingest of one node on the embedded default (SQLite + blob files) against 1, 2 and 3
# nodes sharing one PostgreSQL database, same client, same machine, same run (issue 19).
#
# Each configuration takes N messages of SIZE bytes from Postfix's smtp-source over SESSIONS
# sessions in all, split evenly over its nodes, with fsync on; the time runs until the last
# 250, which Confiance sends only once the message is durable. The count stored is checked in
# the store afterwards. On one machine several nodes share its cores and its disk with the
# database, so this measures what sharing costs, not how far more machines go.
# Needs smtp-source (package postfix), psql, and a PostgreSQL server where PG_ADMIN may create
# databases. Usage: bench/nodes.sh   (N=4000 SIZE=4096 SESSIONS=24
#                                     PG_ADMIN=postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail
N=${N:-4000}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-24}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
root=$(mktemp -d /tmp/confiance-bench-nodes.XXXXXX)
db="confiance_bench_$$"
pids=()
# psql's notices ("does not exist, skipping") are not results.
export PGOPTIONS="-c client_min_messages=warning"
command -v smtp-source >/dev/null || { echo "smtp-source missing: apt-get install postfix" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql missing: apt-get install postgresql-client" >&2; exit 2; }

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):.0f}')"; }
url_of() { python3 -c "import sys; b,_,q=sys.argv[1].partition('?'); s=b.index('://')+3; i=b.find('/',s); b=b if i<0 else b[:i]; print(b+'/'+sys.argv[2]+('?'+q if q else ''))" "$1" "$2"; }

bin=${CONFIANCE_BIN:-$repo/target/release/confiance}
if [ -z "${CONFIANCE_BIN:-}" ]; then
    echo "== building Confiance (release)"
    (cd "$repo" && cargo build --release -q -p confiance)
fi

# node_config DIR PORT [URL NODE]: one node, submission on PORT for the bench's network.
node_config() {
    operator_config "$1/data" "$(free_port)" |
        sed "s|^submission = .*|submission = \"127.0.0.1:$2\"\ntrusted_networks = [\"127.0.0.1/32\"]|"
    if [ -n "${3:-}" ]; then
        printf '[storage]\nurl = "%s"\nnode = "%s"\npool_size = 16\nfsync = true\n' "$3" "$4"
    fi
}

# run LABEL NODES [URL]: starts NODES nodes (the first initialises), sends, prints msg/s.
run() {
    local label=$1 nodes=$2 url=${3:-} ports=() i dir
    pids=()
    for i in $(seq 1 "$nodes"); do
        dir="$root/$label-$i"
        mkdir -p "$dir"
        ports+=("$(free_port)")
        node_config "$dir" "${ports[-1]}" "$url" "node-$i" > "$dir/confiance.toml"
        if [ "$i" -eq 1 ]; then
            "$bin" --config "$dir/confiance.toml" init --no-demo >/dev/null 2>&1
            echo 'Bench1234' | "$bin" --config "$dir/confiance.toml" account add \
                bench@medecin.confiance.test --password-stdin >/dev/null
        else
            # A node joining: the first one's data directory (configuration and certificates).
            cp -r "$root/$label-1/data" "$dir/data"
        fi
        CONFIANCE_LOG=warn "$bin" --config "$dir/confiance.toml" serve 2>"$dir/serve.log" &
        pids+=($!)
    done
    for p in "${ports[@]}"; do wait_for_port "$p" 20; done
    local per=$(( N / nodes )) sessions=$(( SESSIONS / nodes )) senders=()
    local t0 t1
    t0=$(now)
    for p in "${ports[@]}"; do
        smtp-source -s "$sessions" -m "$per" -l "$SIZE" -f sender@medecin.confiance.test \
            -t bench@medecin.confiance.test "127.0.0.1:$p" &
        senders+=($!)
    done
    for s in "${senders[@]}"; do wait "$s"; done
    t1=$(now)
    local sent=$(( per * nodes )) stored
    if [ -n "$url" ]; then
        stored=$(psql -qAt "$url" -c "select count(*) from messages")
    else
        stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from messages').fetchone()[0])" "$root/$label-1/data/confiance.db")
    fi
    [ "$stored" -eq "$sent" ] || { echo "$label: $stored stored of $sent" >&2; exit 1; }
    for p in "${pids[@]}"; do kill "$p"; done
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    result=$(rate "$sent" "$t0" "$t1")
    echo "$label: $sent stored at $result msg/s"
}

echo "== one node, SQLite + blob files"
run sqlite 1
sqlite_rate=$result
declare -A pg_rate
for nodes in 1 2 3; do
    echo "== $nodes node(s), PostgreSQL"
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    psql -q "$PG_ADMIN" -c "CREATE DATABASE $db" >/dev/null
    run "pg$nodes" "$nodes" "$(url_of "$PG_ADMIN" "$db")"
    pg_rate[$nodes]=$result
done
echo
echo "| storage | nodes | msg/s (N=$N, ${SIZE} B, $SESSIONS sessions) | / SQLite |"
echo "|---|---|---|---|"
echo "| SQLite + files | 1 | $sqlite_rate | 1.00 |"
for nodes in 1 2 3; do
    echo "| PostgreSQL | $nodes | ${pg_rate[$nodes]} | $(python3 -c "print(f'{${pg_rate[$nodes]}/$sqlite_rate:.2f}')") |"
done

#!/usr/bin/env bash
# Directory at national scale: import time and peak memory of `confiance directory import`
# on generated files of the national size (2.2 M activity lines, 540 k BAL), then search
# latency (p50/p99 over 1,000 mixed queries) side by side with a plain SQLite FTS5 table
# built from the same snapshot, and recall@5 of the committed quality queries for both.
#
#   bench/directory.sh                 # national size
#   DIVISOR=10 bench/directory.sh      # a tenth of it
# Needs GNU time (/usr/bin/time) for the peak memory.
set -euo pipefail
DIVISOR=${DIVISOR:-1}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-/tmp/confiance-bench-directory}
mkdir -p "$work"
echo "== building (release)"
(cd "$repo" && cargo build --release -q -p confiance -p directory-search)
bin=$repo/target/release/confiance

echo "== generating the extracts (1/$DIVISOR of national size)"
rm -rf "$work/extracts" "$work/data"
"$bin" --data-dir "$work/data" directory generate --out "$work/extracts" --divisor "$DIVISOR"
ls -l "$work"/extracts

echo "== import"
/usr/bin/time -f "import: %e s wall, %U s user, peak RSS %M KB" \
    "$bin" --data-dir "$work/data" directory import \
    --activities "$work"/extracts/PS_LibreAcces_Personne_activite_*.txt \
    --mailboxes "$work"/extracts/Extraction_Correspondance_MSSante_*.txt
echo "== re-import of the same files (idempotent: same digest)"
/usr/bin/time -f "re-import: %e s wall, peak RSS %M KB" \
    "$bin" --data-dir "$work/data" directory import \
    --activities "$work"/extracts/PS_LibreAcces_Personne_activite_*.txt \
    --mailboxes "$work"/extracts/Extraction_Correspondance_MSSante_*.txt

echo "== search: Confiance and SQLite FTS5 on the same snapshot"
"$repo/target/release/directory-search" "$work/data/directory/annuaire.snapshot" --fts5 "$work/fts5.sqlite"

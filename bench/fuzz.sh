#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer (cargo-fuzz): IMAP command lines and
# framing, SMTP command lines, MIME messages (our structure, the author rule, the summary,
# mail-parser), the webmail's HTML sanitiser, and Ségur documents (IHE_XDM.ZIP archives, CDA,
# XDS metadata) with delivery and read reports. Each target runs SECONDS (default 600); CI runs
# `bench/fuzz.sh 60` with SANITIZER=none. Prints executions per target; a crash stops the
# script with the failing input under fuzz/artifacts/<target>/.
# Usage: bench/fuzz.sh [SECONDS]   (SANITIZER=address|none, default address)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
sanitizer=${SANITIZER:-address}
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
# cargo-fuzz passes flags of the nightly compiler (-Zsanitizer, --cfg fuzzing); the one stable
# toolchain of these machines accepts them this way, and ships the sanitizer runtimes.
export RUSTC_BOOTSTRAP=1
cd "$repo/fuzz"

# Seeds: real command lines and messages, so the fuzzer starts from the grammar's inside.
seed() { mkdir -p "corpus/$1"; [ -n "$(ls -A "corpus/$1")" ] || printf '%b' "$2" > "corpus/$1/seed"; }
seed imap_command 'a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM)] BINARY[1.2]<0.100>)\r\n'
seed smtp_command 'RCPT TO:<jean.dupont@medecin.mssante.fr> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;jean@x.fr'
seed html_sanitiser '<div><p style="x">Bonjour <a href="https://esante.gouv.fr">ANS</a><img src="data:image/png;base64,iVBO"></p><script>alert(1)</script></div>'
mkdir -p corpus/mime
if [ -z "$(ls -A corpus/mime)" ]; then
    for f in "$repo"/../shared/fixtures/imaptest/*.mbox; do
        [ -e "$f" ] && cp "$f" "corpus/mime/$(basename "$f")"
    done
    printf 'From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.fr\r\n\r\nhi\r\n--x--\r\n' > corpus/mime/seed
fi

# Ségur: the ANS CDA and metadata fixtures, and a small archive of them.
mkdir -p corpus/segur
if [ -z "$(ls -A corpus/segur)" ]; then
    for f in "$repo"/../shared/fixtures/segur/cda/*.xml "$repo"/../shared/fixtures/segur/xdm/DRIM-M_DATA/*/*.xml \
        "$repo"/../shared/fixtures/segur/xdm/DRIM-M_DATA/*/*/*/METADATA.XML; do
        [ -e "$f" ] && cp "$f" "corpus/segur/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    (cd "$repo/../shared/fixtures/segur/xdm/DRIM-M_DATA/KA202401" && python3 -c "
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.write('IHE_XDM/SS000001/METADATA.XML')
" "$repo/fuzz/corpus/segur/IHE_XDM.ZIP") || true
fi

cargo fuzz build -s "$sanitizer" -O 2>&1 | grep -vE '^\s*(Compiling|Downloaded|Downloading)' || true
for target in imap_command smtp_command mime html_sanitiser segur; do
    log=$(mktemp)
    if ! cargo fuzz run -s "$sanitizer" -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $target FAILED (input kept under fuzz/artifacts/$target/)"
        exit 1
    fi
    runs=$(grep -oE 'Done [0-9]+ runs' "$log" | awk '{print $2}' | tail -1)
    echo "fuzz: $target: ${runs:-?} executions in ${seconds} s, no crash, corpus $(ls "corpus/$target" | wc -l) inputs"
    rm -f "$log"
done

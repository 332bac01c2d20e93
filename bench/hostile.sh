#!/usr/bin/env bash
# What one hostile message costs everyone else (issue 13): IMAP NOOP latency of another client
# while the webmail opens a message of 100,000 nested <div> (p50/p99/max, quiet vs loaded), and
# peak RSS while 16 readers open a 24 MB message at once (goal: under 300 MB).
# Usage: bench/hostile.sh   (CONFIANCE_BIN=path compares another build; SECONDS_PER_PHASE=10)
exec "$(dirname "$0")/webmail-server.sh" hostile.py

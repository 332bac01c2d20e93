#!/usr/bin/env bash
# Webmail on a 100,000-message BAL: inbox render and message opening (p50/p95/p99, goals
# 50 ms and 30 ms p95) and the inbox page's weight (goal 150 KB).
# Usage: bench/webmail.sh  (MESSAGES=100000 ROUNDS=300; CONFIANCE_BIN=path compares another build)
exec "$(dirname "$0")/webmail-server.sh" webmail.py

#!/usr/bin/env python3
"""Instructions the IMAP server executes per session and per command, counted by callgrind: unlike a rate, the
count does not move with the disk or the other processes of the machine, so two builds can be
compared to the percent. Driven by bench/imap-instructions.sh, which starts the server under
callgrind; this client logs in, fills INBOX, then for each command zeroes the counters, runs the
command a fixed number of times and dumps them.

Usage: imap_instructions.py PORT CA_FILE SERVER_PID OUT_DIR
"""
import glob
import os
import socket
import ssl
import subprocess
import sys

PORT, CA, PID, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
FILLED = 200  # messages in INBOX before anything is counted
BODY = b"Compte rendu de consultation, ligne de texte pour atteindre 4 Kio.\r\n"


def message(n):
    head = (
        f"From: bench@example.test\r\nTo: bench@example.test\r\nSubject: message {n}\r\n"
        f"Message-ID: <{n}.{os.getpid()}@bench>\r\n\r\n"
    ).encode()
    m = head
    while len(m) < 4096:
        m += BODY
    return m


class Client:
    def __init__(self):
        ctx = ssl.create_default_context(cafile=CA)
        ctx.check_hostname = False
        raw = socket.create_connection(("127.0.0.1", PORT), timeout=600)
        self.s = ctx.wrap_socket(raw)
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()

    def command(self, text):
        """Sends one command (bytes after the tag) and reads up to its tagged answer."""
        self.n += 1
        tag = b"t%d" % self.n
        self.s.sendall(tag + b" " + text + b"\r\n")
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("the server closed the connection")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise SystemExit(f"{text[:40]!r}: {line!r}")
                return


def append_one(c, n):
    m = message(n)
    c.command(b"APPEND INBOX {%d+}\r\n" % len(m) + m)


def multiappend(c, first, count):
    """One APPEND of `count` messages (RFC 3502), as the webmail's fill does."""
    parts = []
    for n in range(first, first + count):
        m = message(n)
        parts.append(b"{%d+}\r\n" % len(m) + m)
    c.command(b"APPEND INBOX " + b" ".join(parts))


def dumped():
    """Total instructions of the newest dump of the server."""
    files = sorted(glob.glob(f"{OUT}/callgrind.out.{PID}.*"), key=os.path.getmtime)
    total = 0
    with open(files[-1]) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    return total


def counted(name, times, op, each=1):
    """Runs `op` `times` times between a zeroing and a dump; `each` units per run."""
    subprocess.run(["callgrind_control", "-z", PID], check=True, capture_output=True)
    for i in range(times):
        op(i)
    subprocess.run(["callgrind_control", "-d", PID], check=True, capture_output=True)
    per = dumped() / (times * each)
    print(f"{name:<40} {per:>12,.0f} instructions")
    return per


def session(login):
    """A whole session as practice software opens one to poll: TLS, (LOGIN,) LOGOUT."""
    s = Client()
    if login:
        s.command(b"LOGIN bench0@medecin.confiance.test Bench1234")
    s.command(b"LOGOUT")


without = counted("session: TLS, LOGOUT", 20, lambda i: session(False))
with_login = counted("session: TLS, LOGIN, LOGOUT", 20, lambda i: session(True))
print(f"{'a session with LOGIN costs':<40} {with_login / without:>12.2f} x one without")

c = Client()
c.command(b"LOGIN bench0@medecin.confiance.test Bench1234")
for n in range(FILLED):
    append_one(c, n)
c.command(b"SELECT INBOX")
counted("NOOP (the floor)", 200, lambda i: c.command(b"NOOP"))
counted(f"SELECT INBOX ({FILLED} messages)", 100, lambda i: c.command(b"SELECT INBOX"))
counted("FETCH n (FLAGS BODY.PEEK[])", 200, lambda i: c.command(b"FETCH %d (FLAGS BODY.PEEK[])" % (1 + i % FILLED)))
counted("APPEND 4 KiB", 100, lambda i: append_one(c, 10_000 + i))
counted("MULTIAPPEND 50 x 4 KiB, per message", 4, lambda i: multiappend(c, 20_000 + 50 * i, 50), each=50)
c.command(b"LOGOUT")

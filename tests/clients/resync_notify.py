"""QRESYNC (RFC 7162 §3.2) and NOTIFY (RFC 5465) as a mobile or desktop client uses them."""

import re
import sys
import time

from confiance_env import *

user = sys.argv[1]


class Raw:
    """A hand-driven IMAP connection that returns every line up to the tagged reply."""

    def __init__(self):
        self.s = raw_tls(IMAPS)
        self.buf = b""
        self.n = 0
        self.line()
        self.cmd(f"LOGIN {address(user)} {PASSWORD}")

    def line(self, timeout=15):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def cmd(self, text, ok=True):
        self.n += 1
        tag = f"r{self.n}"
        self.s.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag + " "):
                check(not ok or l.startswith(tag + " OK"), f"{text}: {lines}")
                return lines

    def send(self, raw):
        self.s.sendall(raw)


def value(lines, pattern):
    for l in lines:
        m = re.search(pattern, l)
        if m:
            return m.group(1)
    raise AssertionError(f"{pattern} not in {lines}")


a = Raw()
a.cmd("ENABLE QRESYNC")
lines = a.cmd("SELECT INBOX")
uidvalidity = value(lines, r"UIDVALIDITY (\d+)")
for n in range(3):
    body = f"Subject: resync {n}\r\n\r\nx\r\n"
    a.cmd(f"APPEND INBOX {{{len(body)}+}}\r\n{body}")
lines = a.cmd("NOOP")
lines = a.cmd("FETCH 1:3 (UID MODSEQ)")
fetched = [l for l in lines if l.startswith("* ") and " FETCH " in l]
uids = [value([l], r"UID (\d+)") for l in fetched]
modseq = max(int(value([l], r"MODSEQ \((\d+)\)")) for l in fetched)
a.cmd("LOGOUT")

# Meanwhile another device reads message 2 and deletes message 1.
b = Raw()
b.cmd("SELECT INBOX")
b.cmd(f"UID STORE {uids[1]} +FLAGS (\\Seen)")
b.cmd(f"UID STORE {uids[0]} +FLAGS (\\Deleted)")
b.cmd("EXPUNGE")

# The first device comes back and resynchronises in one round trip.
a = Raw()
a.cmd("ENABLE QRESYNC")
lines = a.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
check(any(l == f"* VANISHED (EARLIER) {uids[0]}" for l in lines), lines)
check(any(re.match(rf"\* 1 FETCH \(UID {uids[1]} FLAGS \(.*\\Seen.*\) MODSEQ", l) for l in lines), lines)
check(not any(f"UID {uids[2]} " in l for l in lines), f"unchanged message reported: {lines}")
lines = a.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
check(any(l == f"* VANISHED (EARLIER) {uids[0]}" for l in lines), lines)
# A wrong UIDVALIDITY: a plain SELECT, no resync data.
lines = a.cmd(f"SELECT INBOX (QRESYNC (1 {modseq}))")
check(not any("VANISHED" in l for l in lines), lines)
# With QRESYNC, expunges are reported as VANISHED.
a.cmd("SELECT INBOX")
a.cmd(f"UID STORE {uids[2]} +FLAGS (\\Deleted)")
lines = a.cmd("EXPUNGE")
check(f"* VANISHED {uids[2]}" in lines and not any("EXPUNGE" in l and l.startswith("*") for l in lines), lines)
# QRESYNC without ENABLE is refused.
c = Raw()
lines = c.cmd(f"SELECT INBOX (QRESYNC ({uidvalidity} 1))", ok=False)
check(lines[-1].split()[1] == "BAD", lines)

# NOTIFY: a watched folder's changes arrive as STATUS, after a command and during IDLE.
a.cmd("CREATE Watched")
lines = a.cmd("NOTIFY SET STATUS (MAILBOXES Watched (MessageNew MessageExpunge))")
check(any(l.startswith('* STATUS "Watched" (MESSAGES 0 ') for l in lines), lines)
body = "Subject: x\r\n\r\ny\r\n"
b.cmd(f"APPEND Watched {{{len(body)}+}}\r\n{body}")
lines = a.cmd("NOOP")
check(any(l.startswith('* STATUS "Watched" (MESSAGES 1 ') for l in lines), lines)
a.send(b"idle1 IDLE\r\n")
check(a.line().startswith("+"), "IDLE")
time.sleep(0.2)
body = "Subject: z\r\n\r\nz\r\n"
b.cmd(f"APPEND Watched {{{len(body)}+}}\r\n{body}")
pushed = a.line()
check(pushed.startswith('* STATUS "Watched" (MESSAGES 2 '), pushed)
a.send(b"DONE\r\n")
check(a.line().startswith("idle1 OK"), "IDLE end")
a.cmd("NOTIFY NONE")
b.cmd(f"APPEND Watched {{{len(body)}+}}\r\n{body}")
lines = a.cmd("NOOP")
check(not any("STATUS" in l for l in lines), f"NOTIFY NONE still pushes: {lines}")
print("qresync and notify: ok")

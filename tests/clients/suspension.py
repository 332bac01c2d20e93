"""A BAL suspended while its sessions are open: they end at once (issue 16).

Usage: suspension.py LOCAL BINARY CONFIG. Opens an IMAP session in IDLE, another that has a
folder selected and waits between commands, and an authenticated SMTP submission session;
then runs `confiance account suspend` and expects the two IMAP sessions to hear
`* BYE [UNAVAILABLE]` within seconds, and the SMTP session's next command a 421. A session of
another account stays open.
"""

import smtplib
import subprocess
import sys
import time

from confiance_env import HOST, PASSWORD, SUBMISSION, address, check, imap, tls_context

local, binary, config = sys.argv[1:4]

idling = imap(local)
idling.select("INBOX")
idling.send(b"i1 IDLE\r\n")
check(idling.readline().startswith(b"+"), "IDLE is under way")
waiting = imap(local)
waiting.select("INBOX")
other = imap("collegue")
other.select("INBOX")
smtp = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
smtp.starttls(context=tls_context())
smtp.login(address(local), PASSWORD)

started = time.monotonic()
done = subprocess.run([binary, "--config", config, "account", "suspend", address(local)],
                      capture_output=True, text=True)
check(done.returncode == 0, f"suspend: {done.stdout}{done.stderr}")


def bye(conn, name):
    conn.sock.settimeout(10)
    while True:
        line = conn.readline()
        check(line, f"{name}: the connection closed without a BYE")
        if line.startswith(b"* BYE"):
            check(b"[UNAVAILABLE]" in line, f"{name}: {line!r}")
            return
        # Untagged updates may come first; anything else is wrong.
        check(line.startswith(b"* "), f"{name}: unexpected {line!r}")


bye(idling, "IDLE session")
bye(waiting, "selected session")
print(f"imap sessions ended after {time.monotonic() - started:.1f} s")
code, text = smtp.noop()
check(code == 421, f"SMTP after suspension: {code} {text!r}")
# The other account's session is untouched.
typ, _ = other.noop()
check(typ == "OK", "another account's session goes on")
other.logout()
print("ok")

"""Filters from a mail client over ManageSieve (RFC 5804), then what they do at delivery: a
rule files into a folder with a flag (fileinto, imap4flags), a copy is redirected to another
BAL (redirect :copy), the out-of-office answers once per correspondent (vacation, RFC 5230)
and never a robot; a forward outside the trust space keeps the message. Hostile cases: no
login before TLS, a wrong password answered like an unknown address, scripts that do not
parse, oversized commands, another BAL's scripts out of reach.

Arguments: owner, correspondent, locum, full (local parts; the owner's filter redirects to the
locum; the full BAL's quota takes no message)."""

import base64
import os
import smtplib
import socket
import sys
import time

from confiance_env import *

owner, correspondent, locum, full = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
PORT = int(os.environ["CONFIANCE_MANAGESIEVE"])


class Sieve:
    """A ManageSieve client written from RFC 5804: lines, quoted strings and literals."""

    def __init__(self):
        self.sock = socket.create_connection((HOST, PORT), timeout=30)
        self.buf = b""
        self.greeting = self.response()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        """Lines until OK/NO/BYE; a literal's bytes are kept whole."""
        lines = []
        while True:
            line = self.line()
            literal = None
            if line.endswith(b"}") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
                while len(self.buf) < n + 2:
                    self.buf += self.sock.recv(65536)
                literal = self.buf[:n]
                self.buf = self.buf[n:]
                if self.buf.startswith(b"\r\n"):
                    self.buf = self.buf[2:]
            if line.split(b" ")[0] in (b"OK", b"NO", b"BYE"):
                # The human-readable text may come as a literal (RFC 5804 §4, `string`).
                if literal is not None:
                    line = line[:line.rindex(b"{")] + b'"' + literal + b'"'
                return lines, line.decode()
            lines.append(literal if literal is not None else line)

    def send(self, raw):
        self.sock.sendall(raw)
        return self.response()

    def cmd(self, *words):
        out = []
        for w in words:
            if isinstance(w, bytes):
                out.append(b"{%d+}\r\n" % len(w) + w)
            else:
                out.append(w.encode())
        return self.send(b" ".join(out) + b"\r\n")

    def starttls(self):
        lines, status = self.cmd("STARTTLS")
        check(status.startswith("OK"), status)
        self.sock = tls_context().wrap_socket(self.sock, server_hostname=TLS_NAME)
        return self.response()

    def login(self, user, password):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd('AUTHENTICATE "PLAIN"', f'"{token}"')[1]


def quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Before TLS: STARTTLS offered, no mechanism, and no login.
s = Sieve()
caps, status = s.greeting
check(b'"STARTTLS"' in caps and b'"SASL" ""' in caps, f"capabilities before TLS: {caps}")
check(any(b"vacation" in c and b"imap4flags" in c for c in caps), caps)
check("ENCRYPT-NEEDED" in s.login(address(owner), PASSWORD), "login before TLS must be refused")
caps, status = s.starttls()
check(b'"SASL" "PLAIN"' in caps and b'"STARTTLS"' not in caps, f"capabilities after TLS: {caps}")
# A wrong password and an unknown address get the same answer.
wrong = s.login(address(owner), "Pas-le-bon-1")
unknown = s.login(address("personne"), "Pas-le-bon-1")
check(wrong.startswith("NO") and wrong == unknown, f"{wrong!r} / {unknown!r}")
check(s.cmd("LISTSCRIPTS")[1].startswith("NO"), "nothing before login")
check(s.login(address(owner), PASSWORD).startswith("OK"), "login")
caps, status = s.cmd("CAPABILITY")
check(b'"UNAUTHENTICATE"' in caps, f"capabilities once logged in: {caps}")

# Scripts that do not parse are refused with their line; nothing is stored.
lines, status = s.cmd("PUTSCRIPT", '"casse"', b'require "fileinto";\r\nfileinto "A"\r\nkeep;\r\n')
check(status.startswith("NO") and "ligne" in status, status)
lines, status = s.cmd("PUTSCRIPT", '"casse"', b'fileinto "A";\r\n')
check(status.startswith("NO") and "fileinto" in status, status)
lines, status = s.cmd("CHECKSCRIPT", b'require "date";\r\n')
check(status.startswith("NO") and "date" in status, status)
check(s.cmd("HAVESPACE", '"x"', "100000")[1].startswith("NO (QUOTA/MAXSIZE)"), "HAVESPACE over the size")
check(s.cmd("HAVESPACE", '"x"', "1000")[1] == "OK", "HAVESPACE within")
lines, status = s.cmd("LISTSCRIPTS")
check(lines == [] and status == "OK", f"no script yet: {lines}")

script = f"""require ["fileinto", "imap4flags", "vacation", "copy"];
# Absence, then the laboratory's results in their folder, flagged.
vacation :days 7 :subject "Absent jusqu'au 4 janvier" text:
Bonjour,
je suis absent ; pour une urgence, appelez le 15.
..Dr Jean Martin
.
;
if header :contains "subject" "labo" {{
  fileinto :flags "\\\\Flagged" "Resultats";
  stop;
}}
if address :is "from" {quoted(address(correspondent))} {{
  redirect :copy {quoted(address(locum))};
}}
""".encode()
check(s.cmd("PUTSCRIPT", '"cabinet"', script)[1] == "OK", "PUTSCRIPT")
check(s.cmd("CHECKSCRIPT", script)[1] == "OK", "CHECKSCRIPT")
check(s.cmd("SETACTIVE", '"absent"')[1].startswith("NO (NONEXISTENT)"), "SETACTIVE of nothing")
check(s.cmd("SETACTIVE", '"cabinet"')[1] == "OK", "SETACTIVE")
lines, status = s.cmd("LISTSCRIPTS")
check(lines == [b'"cabinet" ACTIVE'], f"LISTSCRIPTS: {lines}")
lines, status = s.cmd("GETSCRIPT", '"cabinet"')
check(status == "OK" and lines[0].replace(b"\r\n", b"\n") == script.replace(b"\r\n", b"\n"), f"GETSCRIPT: {lines}")
check(s.cmd("DELETESCRIPT", '"cabinet"')[1].startswith("NO (ACTIVE)"), "the active script stays")
check(s.cmd("RENAMESCRIPT", '"rien"', '"x"')[1].startswith("NO (NONEXISTENT)"), "RENAMESCRIPT of nothing")
check(s.cmd("NOOP", '"t1"')[1].startswith('OK (TAG "t1")'), "NOOP tag")
s.cmd("LOGOUT")

# Another BAL sees none of it and cannot reach it by name.
other = Sieve()
other.starttls()
check(other.login(address(correspondent), PASSWORD).startswith("OK"), "second login")
check(other.cmd("LISTSCRIPTS") == ([], "OK"), "another BAL's scripts are out of reach")
check(other.cmd("GETSCRIPT", '"cabinet"')[1].startswith("NO (NONEXISTENT)"), "GETSCRIPT of another BAL")
other.cmd("LOGOUT")

# Hostile: a command larger than anything allowed before login ends the connection, in one
# literal or in many chained.
h = Sieve()
lines, status = h.send(b"PUTSCRIPT \"x\" {100000+}\r\n")
check(status.startswith("BYE"), f"oversized before login: {status}")
h = Sieve()
h.sock.sendall(b"NOOP" + b" {1000+}\r\n" + b"a" * 1000 + b" {1000+}\r\n" + b"a" * 1000
               + b" {1000+}\r\n" + b"a" * 1000 + b" {1000+}\r\n" + b"a" * 1000 + b" {1000+}\r\n")
lines, status = h.response()
check(status.startswith("BYE"), f"chained literals before login: {status}")

# At delivery. The owner's folder exists; the correspondent writes twice, the lab once.
c = imap(owner)
c.create("Resultats")
c.logout()


def send(sender, subject, extra=""):
    with smtplib.SMTP(HOST, SUBMISSION, timeout=30) as m:
        m.starttls(context=tls_context())
        m.login(address(sender), PASSWORD)
        body = message(subject, sender=address(sender), to=address(owner),
                       message_id=f"<{subject.replace(' ', '.')}.{time.time()}@test>")
        if extra:
            body = extra.encode() + body
        m.sendmail(address(sender), [address(owner)], body)


send(correspondent, "Patient Durand")
send(correspondent, "Patient Durand suite")
send(locum, "Resultats labo Durand")
send(locum, "Lettre circulaire", extra="Precedence: bulk\r\n")


def subjects(local, folder="INBOX", criteria="ALL"):
    c = imap(local)
    c.select(folder, readonly=True)
    typ, data = c.search(None, criteria)
    out = []
    for n in data[0].split():
        typ, msg = c.fetch(n, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT AUTO-SUBMITTED FROM)])")
        out.append((msg[0][0].decode(), msg[0][1].decode("utf-8", "replace")))
    c.logout()
    return out


def wait_for(what, probe, seconds=10):
    deadline = time.time() + seconds
    while True:
        got = probe()
        if got or time.time() > deadline:
            return got
        time.sleep(0.2)


inbox = subjects(owner)
check(len(inbox) == 3, f"owner's INBOX: {inbox}")
filed = subjects(owner, "Resultats")
check(len(filed) == 1 and "labo" in filed[0][1] and "\\Flagged" in filed[0][0], f"Resultats: {filed}")
# The locum got copies of the correspondent's two messages, not of their own.
copies = wait_for("copies", lambda: len(subjects(locum)) >= 3 and subjects(locum))
got = [h for _, h in copies if "Patient Durand" in h]
check(len(got) == 2, f"locum's copies: {copies}")
# One out-of-office reply for the correspondent's two messages; none to the bulk mail.
replies = wait_for("reply", lambda: [h for _, h in subjects(correspondent) if "Absent jusqu" in h])
check(len(replies) == 1 and "auto-replied" in replies[0], f"correspondent's replies: {subjects(correspondent)}")
locum_replies = [h for _, h in subjects(locum) if "Absent jusqu" in h]
check(len(locum_replies) == 1, f"the locum is answered once (the bulk mail not at all): {locum_replies}")
c = imap(correspondent)
c.select("INBOX", readonly=True)
typ, data = c.search(None, "SUBJECT", "Absent")
typ, msg = c.fetch(data[0].split()[0], "(BODY.PEEK[TEXT])")
check("pour une urgence" in msg[0][1].decode("utf-8", "replace") and ".Dr Jean" in msg[0][1].decode(), msg)
c.logout()

# A forward to outside the trust space never leaves: the message is kept.
s = Sieve()
s.starttls()
s.login(address(owner), PASSWORD)
check(s.cmd("PUTSCRIPT", '"fuite"', b'redirect "quelqu.un@gmail.com";\r\n')[1] == "OK", "stored")
check(s.cmd("SETACTIVE", '"fuite"')[1] == "OK", "activated")
s.cmd("LOGOUT")
send(correspondent, "Ne doit pas sortir")
kept = [h for _, h in subjects(owner) if "Ne doit pas sortir" in h]
check(len(kept) == 1, f"kept in INBOX: {subjects(owner)}")

# A message a machine sent is not forwarded (two BALs forwarding to each other would pass it
# back and forth); one the full BAL cannot take stays with the owner.
s = Sieve()
s.starttls()
s.login(address(owner), PASSWORD)
check(s.cmd("PUTSCRIPT", '"tout"', f'redirect {quoted(address(locum))};\r\n'.encode())[1] == "OK", "stored")
check(s.cmd("SETACTIVE", '"tout"')[1] == "OK", "activated")
before = len(subjects(locum))
send(correspondent, "Avis automatique", extra="Auto-Submitted: auto-generated\r\n")
check(len([h for _, h in subjects(owner) if "Avis automatique" in h]) == 1, "an automatic message is kept")
check(len(subjects(locum)) == before, "an automatic message is not forwarded")
check(s.cmd("PUTSCRIPT", '"plein"', f'redirect {quoted(address(full))};\r\n'.encode())[1] == "OK", "stored")
check(s.cmd("SETACTIVE", '"plein"')[1] == "OK", "activated")
s.cmd("LOGOUT")
send(correspondent, "Trop gros pour la BAL pleine")
check(len([h for _, h in subjects(owner) if "Trop gros" in h]) == 1, f"kept when the redirect failed: {subjects(owner)}")
print("sieve ok")

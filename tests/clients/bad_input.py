"""Bad input gets a precise error, never a crash, and loses nothing."""

import socket
import sys
import time

from confiance_env import *

user = sys.argv[1]


def read_until(sock, marker, limit=10):
    data = b""
    deadline = time.time() + limit
    while marker not in data and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def session():
    s = raw_tls(IMAPS)
    read_until(s, b"\r\n")
    s.sendall(f"a LOGIN {address(user)} {PASSWORD}\r\n".encode())
    check(b"a OK" in read_until(s, b"a "), "login")
    return s


# Commands before STARTTLS on the clear port: no password is accepted.
plain = socket.create_connection((HOST, IMAP), timeout=10)
greeting = read_until(plain, b"\r\n")
check(b"STARTTLS" in greeting and b"LOGINDISABLED" in greeting, greeting)
plain.sendall(f"a LOGIN {address(user)} {PASSWORD}\r\n".encode())
reply = read_until(plain, b"a ")
check(b"a NO [PRIVACYREQUIRED]" in reply, reply)
plain.sendall(b"b AUTHENTICATE PLAIN AGFAYg==\r\n")
reply = read_until(plain, b"b ")
check(b"b NO [PRIVACYREQUIRED]" in reply, reply)
plain.sendall(b"c SELECT INBOX\r\n")
check(b"c BAD" in read_until(plain, b"c "), "SELECT before login")
plain.close()

# Garbage and unknown commands: BAD with the tag, connection kept.
s = session()
s.sendall(b"x1 FROBNICATE\r\nx2 FETCH\r\nx3 SELECT \"unterminated\r\nx4 NOOP\r\n")
reply = read_until(s, b"x4 OK")
for t in [b"x1 BAD", b"x2 BAD", b"x3 BAD", b"x4 OK"]:
    check(t in reply, f"{t} missing in {reply}")

# A literal whose announced size is absurd: refused before any byte is sent.
s.sendall(b"big APPEND INBOX {999999999}\r\n")
reply = read_until(s, b"big ")
check(b"big NO [TOOBIG]" in reply, reply)
s.sendall(b"after NOOP\r\n")
check(b"after OK" in read_until(s, b"after "), "session survives TOOBIG")

# NUL in a plain literal: refused (RFC 9051 §4.3), nothing stored.
s.sendall(b"s1 SELECT INBOX\r\n")
before = read_until(s, b"s1 ")
exists_before = int(before.split(b" EXISTS")[0].split(b"* ")[-1])
s.sendall(b"nul APPEND INBOX {11+}\r\nSubject: \x00x\r\n\r\n")
check(b"nul BAD" in read_until(s, b"nul "), "NUL literal accepted")

# Malformed MIME is stored as is and its structure still answers.
broken = (b"From: a@b.fr\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=\"never\"\r\n\r\n"
          b"--wrong\r\nContent-Type: text/plain\r\n\r\nbody without closing\r\n"
          b"--never\r\nContent-Type: message/rfc822\r\n\r\nnot really a message")
s.sendall(b"mm APPEND INBOX {%d+}\r\n" % len(broken) + broken + b"\r\n")
check(b"mm OK" in read_until(s, b"mm "), "malformed MIME refused")
s.sendall(b"nn NOOP\r\n")
read_until(s, b"nn ")
s.sendall(b"bs FETCH * (BODYSTRUCTURE ENVELOPE BODY.PEEK[])\r\n")
reply = read_until(s, b"bs ")
check(b"bs OK" in reply and b"BODYSTRUCTURE" in reply and broken in reply, reply[:500])

# A lie in a literal size: the client sends fewer bytes and hangs up; the server keeps serving.
liar = session()
liar.sendall(b"lie APPEND INBOX {5000+}\r\nSubject: short\r\n\r\nonly this")
liar.close()

# A 1 MB header line as a command: the server says BYE and closes, it does not buffer forever.
long_line = session()
long_line.sendall(b"long NOOP " + b"A" * (1024 * 1024) + b"\r\n")
reply = read_until(long_line, b"BYE")
check(b"BYE" in reply, reply[:200])
long_line.close()

# After all of that the folder holds exactly what was accepted.
s2 = session()
s2.sendall(b"f SELECT INBOX\r\n")
reply = read_until(s2, b"f ")
exists = int(reply.split(b" EXISTS")[0].split(b"* ")[-1])
check(exists == exists_before + 1, f"expected {exists_before + 1} messages, server says {exists}")
print("bad input: ok")

# SMTP: a NUL byte is refused with a reason; a 1 MB header line is accepted and kept intact.
import smtplib

smtp = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
smtp.starttls(context=tls_context())
smtp.login(address(user), PASSWORD)
try:
    smtp.sendmail(address(user), [address(user)], b"Subject: nul\r\n\r\nbad \x00 byte\r\n")
    raise AssertionError("NUL accepted")
except smtplib.SMTPDataError as e:
    check(e.smtp_code == 554 and b"5.6.1" in e.smtp_error, e)
long_subject = b"Subject: " + b"x" * (1024 * 1024) + b"\r\n"
smtp.sendmail(address(user), [address(user)], long_subject + b"Message-ID: <long@test>\r\n\r\nbody\r\n")
smtp.quit()
c = imap(user)
c.select("INBOX", readonly=True)
typ, data = c.search(None, "HEADER", "Message-ID", "<long@test>")
check(len(data[0].split()) == 1, data)
typ, data = c.fetch(data[0].decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(len(data[0][1]) >= 1024 * 1024, len(data[0][1]))
c.logout()
print("smtp bad input: ok")

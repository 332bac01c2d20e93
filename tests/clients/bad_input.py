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

# Review findings, each a regression test.
import base64

# A hostile address header and an encoded word with a language tag: ENVELOPE, SORT, THREAD answer.
s3 = session()
hostile = b"From: a@b.fr\r\nTo: a: b: c\r\nCc: x: y@z, w:v@u;\r\nSubject: =?utf-8*fr?Q?\xc3\xa9?=\r\n\r\nbody\r\n"
s3.sendall(b"h1 APPEND INBOX {%d+}\r\n" % len(hostile) + hostile + b"\r\n")
check(b"h1 OK" in read_until(s3, b"h1 "), "hostile APPEND")
s3.sendall(b"h2 SELECT INBOX\r\n")
read_until(s3, b"h2 ")
s3.sendall(b"h3 FETCH * (ENVELOPE)\r\nh4 SORT (SUBJECT TO CC) UTF-8 ALL\r\nh5 THREAD REFERENCES UTF-8 ALL\r\n")
reply = read_until(s3, b"h5 ")
for t in [b"h3 OK", b"h4 OK", b"h5 OK"]:
    check(t in reply, f"{t} missing: {reply[-300:]}")

# Too many FETCH items at once: refused.
s3.sendall(b"h6 FETCH 1 (" + b" ".join([b"BODY.PEEK[]"] * 65) + b")\r\n")
check(b"h6 BAD" in read_until(s3, b"h6 "), "65 FETCH items accepted")

# MULTIAPPEND is all or nothing: an empty second message leaves the folder as it was.
s3.sendall(b"h7 STATUS INBOX (MESSAGES)\r\n")
before = read_until(s3, b"h7 ")
first = b"Subject: multi\r\n\r\nx\r\n"
s3.sendall(b"h8 APPEND INBOX {%d+}\r\n" % len(first) + first + b" {0+}\r\n\r\n")
check(b"h8 NO" in read_until(s3, b"h8 "), "MULTIAPPEND with an empty message accepted")
s3.sendall(b"h9 STATUS INBOX (MESSAGES)\r\n")
after = read_until(s3, b"h9 ")
check(before.split(b"MESSAGES ")[1].split(b")")[0] == after.split(b"MESSAGES ")[1].split(b")")[0],
      f"MULTIAPPEND stored part of the set: {before} {after}")

# A folder deleted under a session that has it selected: BYE, never another folder's mail.
s3.sendall(b"d1 CREATE Tmp\r\nd2 SELECT Tmp\r\n")
read_until(s3, b"d2 ")
other = session()
other.sendall(b"d3 DELETE Tmp\r\n")
check(b"d3 OK" in read_until(other, b"d3 "), "DELETE")
other.sendall(b"d4 CREATE Nouveau\r\n")
read_until(other, b"d4 ")
s3.sendall(b"d5 NOOP\r\n")
check(b"* BYE" in read_until(s3, b"BYE"), "no BYE after the selected folder was deleted")

# Before login, literals are small: a big one is refused at once.
anon = raw_tls(IMAPS)
read_until(anon, b"\r\n")
anon.sendall(b"a1 LOGIN {100000}\r\n")
check(b"a1 NO [TOOBIG]" in read_until(anon, b"a1 "), "a big literal before login was invited")

# SMTP smuggling: a dot between bare LFs does not end the message.
sub = raw_tls(SUBMISSIONS)
read_until(sub, b"\r\n")
creds = base64.b64encode(f"\0{address(user)}\0{PASSWORD}".encode())
sub.sendall(b"EHLO x\r\n")
read_until(sub, b"250 ")
sub.sendall(b"AUTH PLAIN " + creds + b"\r\n")
check(b"235 " in read_until(sub, b"235"), "AUTH")
sub.sendall(f"MAIL FROM:<{address(user)}>\r\nRCPT TO:<{address(user)}>\r\nDATA\r\n".encode())
read_until(sub, b"354")
sub.sendall(f"From: {address(user)}\r\nMessage-ID: <smuggle@test>\r\n\r\nbody\n.\nMAIL FROM:<other@x.fr>\r\n.\r\n".encode())
reply = read_until(sub, b"250 2.0.0")
check(reply.count(b"250 2.0.0") == 1, reply)
# A From: that is not the authenticated mailbox: refused.
sub.sendall(f"MAIL FROM:<{address(user)}>\r\nRCPT TO:<{address(user)}>\r\nDATA\r\n".encode())
read_until(sub, b"354")
sub.sendall(b"From: Dr B <autre@medecin.confiance.test>\r\n\r\nusurpation\r\n.\r\n")
check(b"550 5.7.1" in read_until(sub, b"550"), "spoofed From: accepted")
sub.sendall(b"QUIT\r\n")
c = imap(user)
c.select("INBOX", readonly=True)
typ, data = c.search(None, "HEADER", "Message-ID", "<smuggle@test>")
check(len(data[0].split()) == 1, data)
typ, data = c.fetch(data[0].decode(), "(BODY.PEEK[TEXT])")
check(b"MAIL FROM:<other@x.fr>" in data[0][1], data)
c.logout()
print("review regressions: ok")

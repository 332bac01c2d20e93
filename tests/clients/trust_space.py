"""Client side of the trust-space tests: submit to one operator, read a mailbox, or speak to an
operator's MX by hand with a chosen client certificate.

  trust_space.py send LOCAL SUBJECT TO...     submit (587, STARTTLS, AUTH) with X-MSS-* headers
  trust_space.py rcpt LOCAL ADDRESS            print the reply to RCPT TO (submission)
  trust_space.py wait LOCAL SUBJECT COUNT     wait until COUNT messages with SUBJECT are in INBOX,
                                              check no more come, print the last one
  trust_space.py mx CERT KEY SENDER RCPT [loop]
                                              MAIL/RCPT on the MX over STARTTLS with that
                                              certificate ("-" for none); prints each reply;
                                              "loop" then sends a message with 60 Received:
"""

import smtplib
import socket
import ssl
import sys
import time

from confiance_env import CA, HOST, MX, PASSWORD, SUBMISSION, TLS_NAME, address, check, imap, tls_context

X_MSS = "X-MSS-NIL: DEV935997\r\nX-MSS-CODECDA: 34112-3,PRESC-BIO\r\nX-MSS-INS: O\r\n"


def send(local, subject, recipients, notify=None):
    sender = address(local)
    body = (f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n{X_MSS}"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\nCompte rendu de consultation.\r\n.ligne avec point\r\n")
    s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
    s._host = TLS_NAME  # verify the certificate for the MTA's name, not the loopback address
    s.starttls(context=tls_context())
    s.login(sender, PASSWORD)
    options = [f"NOTIFY={notify}"] if notify else []
    refused = s.sendmail(sender, recipients, body.encode(), rcpt_options=options)
    check(not refused, f"refused: {refused}")
    s.quit()
    print("sent")


def rcpt(local, recipient):
    """Prints the reply to RCPT TO for a recipient, then resets."""
    sender = address(local)
    s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
    s._host = TLS_NAME
    s.starttls(context=tls_context())
    s.login(sender, PASSWORD)
    s.mail(sender)
    code, text = s.rcpt(recipient)
    print(code, text.decode())
    s.quit()


def subjects(conn):
    conn.select("INBOX")
    typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    messages = [part[1] for part in data if isinstance(part, tuple)]
    return messages


def wait(local, subject, count, timeout=60):
    deadline = time.time() + timeout
    conn = imap(local)
    found = []
    while time.time() < deadline:
        found = [m for m in subjects(conn) if f"Subject: {subject}".encode() in m]
        if len(found) >= count:
            break
        time.sleep(0.2)
    check(len(found) >= count, f"{len(found)} of {count} messages '{subject}' arrived")
    time.sleep(1.5)  # anything doubled would come now
    found = [m for m in subjects(conn) if f"Subject: {subject}".encode() in m]
    check(len(found) == count, f"{len(found)} messages '{subject}', expected exactly {count}")
    conn.logout()
    sys.stdout.write(found[-1].decode("utf-8", "replace") if found else "")


def mx(cert, key, sender, rcpt, data=None):
    ctx = ssl.create_default_context(cafile=CA)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    sock = socket.create_connection((HOST, MX), timeout=30)
    f = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            raw = f.readline()
            if not raw:
                raise OSError("connection closed by the server")
            line = raw.decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return " | ".join(lines)

    def cmd(line):
        sock.sendall(line.encode() + b"\r\n")
        r = reply()
        print(f"{line.split(':')[0]} -> {r}")
        return r

    reply()
    early = cmd(f"MAIL FROM:<{sender}>")
    check(early.startswith("503") or early.startswith("530"), f"MAIL before EHLO/TLS accepted: {early}")
    cmd("EHLO probe.test")
    cmd("STARTTLS")
    try:
        tls = ctx.wrap_socket(sock, server_hostname=TLS_NAME)
    except (ssl.SSLError, OSError) as e:
        print(f"TLS -> refused: {e}")
        return
    sock = tls
    f = tls.makefile("rb")
    try:
        cmd("EHLO probe.test")
        cmd(f"MAIL FROM:<{sender}>")
        cmd(f"RCPT TO:<{rcpt}>")
        if data and data.startswith("header="):
            # A message with this header (fields separated by "|"), to test the author rules.
            header = data.split("=", 1)[1].replace("|", "\r\n")
            cmd("DATA")
            cmd(f"{header}\r\nSubject: auteur\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\ncorps\r\n.")
        if data == "loop":
            cmd("DATA")
            hops = "".join(f"Received: from r{i}.test by r{i + 1}.test; Tue, 24 Nov 2026 10:00:00 +0100\r\n"
                           for i in range(60))
            cmd(f"{hops}Subject: boucle\r\n\r\ncorps\r\n.")
        cmd("QUIT")
    except (ssl.SSLError, OSError) as e:
        # TLS 1.3 sends the verdict on a client certificate after the handshake.
        print(f"TLS -> refused: {e}")


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "send":
        notify = None
        if args[0].startswith("--notify="):
            notify = args.pop(0).split("=", 1)[1]
        send(args[0], args[1], args[2:], notify)
    elif what == "wait":
        wait(args[0], args[1], int(args[2]))
    elif what == "rcpt":
        rcpt(args[0], args[1])
    elif what == "mx":
        mx(*args)
    else:
        raise SystemExit(f"unknown command {what}")

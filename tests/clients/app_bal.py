"""A structure's software and its applicative BAL (issue 16).

Usage: app_bal.py APP_ADDRESS ORG_ADDRESS CERT KEY STRANGER_CERT STRANGER_KEY TOKEN RECIPIENT

The software presents its organisation certificate in the TLS handshake and authenticates
with SASL EXTERNAL on submission and IMAP; it cannot open the structure's organisational BAL
with it; a certificate of a structure without an applicative BAL opens nothing; the
application token (an app password) works over PLAIN. The server is configured with three
messages a minute for the structure: the fourth MAIL FROM is refused with 451 4.7.1.
"""

import base64
import imaplib
import smtplib
import sys

from confiance_env import HOST, IMAPS, SUBMISSION, _Imap, check, tls_context

app, org, cert, key, stranger_cert, stranger_key, token, recipient = sys.argv[1:9]


def context(pem, key_file):
    ctx = tls_context()
    ctx.load_cert_chain(pem, key_file)
    return ctx


def smtp(ctx):
    s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
    s.starttls(context=ctx)
    s.ehlo()
    return s


def message(subject):
    return (f"From: {app}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@dpi.test>\r\nX-MSS-NIL: DEV935997\r\n\r\nResultats.\r\n")


# SMTP: EXTERNAL with the certificate alone (the structure's only APP BAL), then a message.
s = smtp(context(cert, key))
check("EXTERNAL" in s.esmtp_features.get("auth", ""), f"EXTERNAL not offered: {s.esmtp_features}")
code, text = s.docmd("AUTH", "EXTERNAL =")
check(code == 235, f"EXTERNAL with the organisation certificate: {code} {text!r}")
s.sendmail(app, [recipient], message("resultat 1"))
s.quit()

# The certificate does not open the structure's organisational BAL: people read that one.
s = smtp(context(cert, key))
code, _ = s.docmd("AUTH", "EXTERNAL " + base64.b64encode(org.encode()).decode())
check(code == 535, f"an organisation certificate opened the ORG BAL: {code}")
s.quit()

# IMAP: the same certificate, AUTHENTICATE EXTERNAL, the INBOX.
conn = _Imap(HOST, IMAPS, ssl_context=context(cert, key), timeout=30)
check("AUTH=EXTERNAL" in conn.capabilities, f"IMAP EXTERNAL not offered: {conn.capabilities}")
typ, _ = conn.authenticate("EXTERNAL", lambda _: b"")
check(typ == "OK", "IMAP EXTERNAL refused the APP BAL")
check(conn.select("INBOX")[0] == "OK", "INBOX of the APP BAL")
conn.logout()

# Another structure's certificate: that structure has no applicative BAL, nothing opens.
conn = _Imap(HOST, IMAPS, ssl_context=context(stranger_cert, stranger_key), timeout=30)
try:
    conn.authenticate("EXTERNAL", lambda _: app.encode())
    raise AssertionError("another structure's certificate opened the APP BAL")
except imaplib.IMAP4.error:
    pass
conn.logout()

# The application token, over PLAIN, for software without a certificate.
s = smtp(tls_context())
s.login(app, token)
s.sendmail(app, [recipient], message("resultat 2"))
s.sendmail(app, [recipient], message("resultat 3"))
# Three messages this minute: the fourth waits.
code, text = s.docmd("MAIL", f"FROM:<{app}>")
check(code == 451 and b"4.7.1" in text, f"past the structure's rate: {code} {text!r}")
s.quit()
print("ok")

"""Staff of a structure and their rights on a shared BAL (issue 16), as real clients use them.

Usage: staff.py ORG_BAL READER READER_SECRET SENDER SENDER_SECRET BINARY CONFIG

READER may read and send, SENDER may only send. Each logs in on the staff page with password
and the code of their authenticator app (RFC 6238, computed here), makes an app password for
the organisational BAL, and uses it: IMAP opens for the reader and not for the sender; SMTP
opens for the sender. A code is good once; a wrong one, or an unknown identifier, gets the same
answer. Then the reader is suspended with the CLI: their app password and web session end.
"""

import base64
import hashlib
import hmac
import imaplib
import re
import smtplib
import struct
import subprocess
import sys
import time

from confiance_env import HOST, IMAPS, PASSWORD, SUBMISSION, _Imap, check, tls_context
from web_login import Browser, psc_sandbox_login

org, reader, reader_secret, sender, sender_secret, binary, config = sys.argv[1:8]


def totp(secret, at=None):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // 30)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 15
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def log_in(who, secret, code=None):
    b = Browser()
    b.go("/structure/connexion")
    check(b.status == 200 and 'name="code"' in b.page, f"staff login page: {b.status}")
    b.post("/structure/connexion", identifiant=who, mot_de_passe=PASSWORD, code=code or totp(secret))
    return b


def app_password(b, bal, label):
    b.post("/structure/mots-de-passe-applicatifs", bal=bal, libelle=label)
    m = re.search(r'id="nouveau-mot-de-passe">([^<]+)<', b.page)
    check(m, f"no app password shown: {b.status} {b.page[:2000]}")
    return m.group(1)


# The reader logs in with password and code, and sees the BAL with their rights.
reader_web = log_in(reader, reader_secret)
check(reader_web.url.endswith("/structure") and org in reader_web.page, f"{reader_web.url} {reader_web.status}")
check("<td>lecture, envoi</td>" in reader_web.page, "the page says the reader's rights")
# The same code again (a replay), a wrong code, an unknown identifier: one answer, 401.
answers = []
for who, code in [(reader, totp(reader_secret)), (reader, "000000"), ("personne@chu-test.fr", "123456")]:
    b = log_in(who, reader_secret, code)
    check(b.status == 401, f"{who} {code}: {b.status}")
    answers.append(re.search(r'role="alert"[^>]*>([^<]+)<', b.page).group(1))
check(len(set(answers)) == 1, f"different answers: {answers}")

password = app_password(reader_web, org, "Thunderbird du secrétariat")
# Another BAL than theirs: refused, nothing made.
reader_web.post("/structure/mots-de-passe-applicatifs", bal="docteur@medecin.confiance.test", libelle="x")
check(reader_web.status == 422 and "nouveau-mot-de-passe" not in reader_web.page, f"{reader_web.status}")

# The webmail opens the BAL for them: they act for the secretariat, its mail is there.
reader_web.go("/webmail")
check(reader_web.status == 200 and "Vous agissez pour : Secrétariat" in reader_web.page, f"{reader_web.url}")
check("Demande de rendez-vous" in reader_web.page, "the organisational BAL's message in the list")
imap = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
imap.login(org, password)
typ, data = imap.select("INBOX")
check(typ == "OK" and int(data[0]) >= 1, f"the reader reads the organisational BAL: {typ} {data}")
imap.logout()


def managesieve_login(user, secret):
    """AUTHENTICATE PLAIN over ManageSieve (RFC 5804) after STARTTLS; the server's answer."""
    import base64
    import os
    import socket
    sock = socket.create_connection((HOST, int(os.environ["CONFIANCE_MANAGESIEVE"])), timeout=30)

    def until_status(s):
        data = b""
        while not any(line.split(b" ")[0] in (b"OK", b"NO", b"BYE") for line in data.split(b"\r\n")):
            data += s.recv(4096)
        return data.decode()

    until_status(sock)
    sock.sendall(b"STARTTLS\r\n")
    until_status(sock)
    tls = tls_context().wrap_socket(sock, server_hostname=HOST)
    until_status(tls)
    token = base64.b64encode(f"\0{user}\0{secret}".encode()).decode()
    tls.sendall(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode())
    answer = until_status(tls)
    tls.close()
    return answer


# Filters decide where the BAL's mail goes: reading and sending do not give them.
answer = managesieve_login(org, password)
check(answer.startswith("NO"), f"a member without the manage right opened the filters: {answer}")

# The sender: an app password, SMTP yes, IMAP no.
sender_web = log_in(sender, sender_secret)
check(sender_web.url.endswith("/structure") and "<td>envoi</td>" in sender_web.page, f"{sender_web.url}")
sending = app_password(sender_web, org, "Logiciel de rendez-vous")
# Without the read right, the webmail does not open: back to their page.
sender_web.go("/webmail")
check(sender_web.url.endswith("/structure"), f"a send-only member reached the webmail: {sender_web.url}")
imap = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
try:
    imap.login(org, sending)
    raise AssertionError("a member without the read right opened the BAL over IMAP")
except imaplib.IMAP4.error:
    pass
s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
s.starttls(context=tls_context())
s.login(org, sending)
s.sendmail(org, ["docteur@medecin.confiance.test"],
           f"From: {org}\r\nTo: docteur@medecin.confiance.test\r\nSubject: Rendez-vous\r\n"
           "Message-ID: <rdv.1@chu-test>\r\n\r\nConfirme.\r\n")
s.quit()

# A professional without a BAL of their own, member of this one (sandbox identity 5):
# Pro Santé Connect opens it in the webmail.
pro = Browser()
psc_sandbox_login(pro, 5, "connexion")
check(pro.url.endswith("/webmail") or "/webmail/dossier/" in pro.url, f"{pro.url} {pro.status}")
check("Vous agissez pour : Secrétariat" in pro.page, "the professional acts for the shared BAL")

# Read only now: the webmail still opens, writing is refused with the reason.
done = subprocess.run([binary, "--config", config, "bal", "member", "add", org, reader, "--rights", "read"],
                      capture_output=True, text=True)
check(done.returncode == 0, f"{done.stdout}{done.stderr}")
reader_web.go("/webmail/ecrire")
check(reader_web.status == 403 and "administrateur de la structure" in reader_web.page, f"{reader_web.status} {reader_web.url}")

# The reader leaves: suspended, their app password and their web session end.
done = subprocess.run([binary, "--config", config, "staff", "suspend", reader], capture_output=True, text=True)
check(done.returncode == 0, f"{done.stdout}{done.stderr}")
imap = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
try:
    imap.login(org, password)
    raise AssertionError("a suspended staff member's app password still opens the BAL")
except imaplib.IMAP4.error:
    pass
reader_web.go("/structure")
check(reader_web.url.endswith("/structure/connexion"), f"the suspended reader's session goes on: {reader_web.url}")
print("ok")

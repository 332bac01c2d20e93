"""Puts the webmail walk's mail in a BAL over IMAPS (APPEND with an app password): an HTML
message with a remote image, a script, a PDF and a read-receipt request; a structured document
(XDM/1.0/DDM+ subject, IHE_XDM.ZIP); 30 plain messages, so the list has two pages."""

import base64
import imaplib
import os
import time

from confiance_env import _Imap, HOST, IMAPS, tls_context

ADDRESS = os.environ["SEED_ADDRESS"]
PASSWORD = os.environ["SEED_PASSWORD"]
# Where the read receipt goes (a colleague's BAL here, so it can be seen arriving).
RECEIPT_TO = os.environ["SEED_RECEIPT_TO"]
DOCTOR = "Dr Paul Durand <paul.durand@medecin.confiance.test>"


def b64(data):
    return base64.encodebytes(data).decode().replace("\n", "\r\n")


def multipart(headers, parts):
    out = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    out += "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=limite\r\n\r\n"
    for p in parts:
        out += "--limite\r\n" + p
    return out + "--limite--\r\n"


html = multipart(
    {"From": DOCTOR, "To": ADDRESS, "Subject": "=?utf-8?q?R=C3=A9sultats_de_Mme_Dupont?=",
     "Message-ID": "<resultats.dupont@medecin.confiance.test>",
     "Disposition-Notification-To": f"<{RECEIPT_TO}>"},
    [
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<p onclick=\"steal()\">Voici les résultats de Mme Dupont.</p>"
        "<img src=\"https://tracker.example/pixel.gif?who=elise\" alt=\"\">"
        "<script>alert('x')</script>\r\n",
        "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=resultats_dupont.pdf\r\n\r\n"
        + b64(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
    ],
)
xdm = multipart(
    {"From": DOCTOR, "To": ADDRESS, "Subject": "XDM/1.0/DDM+Compte rendu de biologie DUPONT Marie 19580312",
     "Message-ID": "<xdm.dupont@medecin.confiance.test>"},
    [
        "Content-Type: text/plain; charset=utf-8\r\n\r\nCompte rendu structuré ci-joint.\r\n",
        "Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=IHE_XDM.ZIP\r\n\r\n" + b64(b"PK\x05\x06" + bytes(18)),
    ],
)

conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
conn.login(ADDRESS, PASSWORD)
now = time.time()
for n in range(30, 0, -1):
    body = (f"From: Secrétariat <secretariat@pro.confiance.test>\r\nTo: {ADDRESS}\r\n"
            f"Subject: Message {n} — suivi du patient\r\nMessage-ID: <m{n}@pro.confiance.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Bonjour, voici le suivi numéro {n}.\r\n")
    conn.append("INBOX", None, imaplib.Time2Internaldate(now - 60 * n - 600), body.encode())
for i, message in enumerate([xdm, html]):
    conn.append("INBOX", None, imaplib.Time2Internaldate(now - 60 + 30 * i), message.encode())
conn.logout()
print("seeded 32 messages")

"""Coordinates of the operator under test, from the environment the Rust harness sets."""

import imaplib
import os
import socket
import ssl

HOST = os.environ["CONFIANCE_HOST"]
IMAP = int(os.environ["CONFIANCE_IMAP"])
IMAPS = int(os.environ["CONFIANCE_IMAPS"])
SUBMISSION = int(os.environ["CONFIANCE_SUBMISSION"])
SUBMISSIONS = int(os.environ["CONFIANCE_SUBMISSIONS"])
MX = int(os.environ.get("CONFIANCE_MX", "25"))
CA = os.environ["CONFIANCE_CA"]
DOMAIN = os.environ["CONFIANCE_DOMAIN"]
PASSWORD = os.environ["CONFIANCE_PASSWORD"]
# The name the server certificate carries (an operator of a test trust space: its MTA's name).
TLS_NAME = os.environ.get("CONFIANCE_TLS_NAME", HOST)


def address(local):
    return f"{local}@{DOMAIN}"


def tls_context():
    """Verifies the server against the test authority, as a careful client does."""
    ctx = ssl.create_default_context(cafile=CA)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class _Imap(imaplib.IMAP4_SSL):
    """IMAPS to HOST, verifying the certificate for TLS_NAME."""

    def _create_socket(self, timeout):
        sock = socket.create_connection((HOST, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=TLS_NAME)


def imap(local, password=PASSWORD):
    conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
    conn.login(address(local), password)
    return conn


def raw_tls(port):
    """A TLS socket for speaking the protocol by hand."""
    sock = socket.create_connection((HOST, port), timeout=30)
    return tls_context().wrap_socket(sock, server_hostname=TLS_NAME)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def message(subject, body="Bonjour,\r\nvoici le compte rendu.\r\n", sender="x@medecin.confiance.test",
            to="y@medecin.confiance.test", message_id=None):
    mid = message_id or f"<{subject.replace(' ', '.')}@test>"
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()

"""A mail client that knows only an address, as Thunderbird does: it fetches the
autoconfiguration file (config-v1.1.xml) from the operator's HTTPS, then logs in to every IMAP
and SMTP endpoint the file names, at the host it names, verifying the certificate.

    autoconfig.py ADDRESS PASSWORD   log in everywhere; prints "imap SSL ok", "smtp STARTTLS ok"…
    autoconfig.py --print ADDRESS    prints "imap HOST PORT SOCKET" lines only

Also checks the hostile and foreign cases: a domain not hosted here gets 404, and the file is
served under autoconfig.<domain> as Thunderbird asks for it there.
"""

import http.client
import imaplib
import smtplib
import socket
import sys
import xml.etree.ElementTree as ET

from confiance_env import HOST, tls_context

WEB = int(__import__("os").environ["CONFIANCE_WEB"])
WELL_KNOWN = "/.well-known/autoconfig/mail/config-v1.1.xml"


def fetch(path, server_name="localhost"):
    """GET over verified TLS at HOST, the certificate checked for `server_name`."""
    ctx = tls_context()
    conn = http.client.HTTPSConnection(HOST, WEB, context=ctx, timeout=10)
    sock = socket.create_connection((HOST, WEB), 10)
    conn.sock = ctx.wrap_socket(sock, server_hostname=server_name)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", f"{server_name}:{WEB}")
    conn.endheaders()
    r = conn.getresponse()
    return r.status, r.getheader("Content-Type"), r.read().decode()


def servers(xml):
    root = ET.fromstring(xml)
    assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
    provider = root.find("emailProvider")
    for tag, kind in (("incomingServer", "imap"), ("outgoingServer", "smtp")):
        for s in provider.findall(tag):
            assert s.get("type") == kind
            assert s.findtext("username") == "%EMAILADDRESS%"
            assert s.findtext("authentication") == "password-cleartext"
            yield kind, s.findtext("hostname"), int(s.findtext("port")), s.findtext("socketType")


def log_in(kind, host, port, socket_type, address, password):
    ctx = tls_context()
    if kind == "imap":
        if socket_type == "SSL":
            c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=10)
        else:
            c = imaplib.IMAP4(host, port, timeout=10)
            c.starttls(ssl_context=ctx)
        c.login(address, password)
        typ, _ = c.select("INBOX")
        assert typ == "OK"
        c.logout()
    else:
        if socket_type == "SSL":
            c = smtplib.SMTP_SSL(host, port, context=ctx, timeout=10)
        else:
            c = smtplib.SMTP(host, port, timeout=10)
            c.starttls(context=ctx)
        c.login(address, password)
        c.quit()


def main():
    printing = sys.argv[1] == "--print"
    address = sys.argv[2] if printing else sys.argv[1]
    domain = address.split("@")[1]
    status, ctype, xml = fetch(f"{WELL_KNOWN}?emailaddress={address}")
    assert status == 200 and ctype.startswith("application/xml"), (status, ctype, xml)
    found = list(servers(xml))
    assert any(k == "imap" for k, *_ in found) and any(k == "smtp" for k, *_ in found), found
    if printing:
        for kind, host, port, socket_type in found:
            print(kind, host, port, socket_type)
        return
    for kind, host, port, socket_type in found:
        log_in(kind, host, port, socket_type, address, sys.argv[2])
        print(kind, socket_type, "ok")

    # Where Thunderbird looks first: https://autoconfig.<domain>/mail/config-v1.1.xml, on a
    # certificate that names it.
    status, _, other = fetch(f"/mail/config-v1.1.xml?emailaddress={address}", f"autoconfig.{domain}")
    assert status == 200 and other == xml, (status, other)
    # Someone else's domain is not configured to come here, nor is garbage.
    for asked in ("quelquun@gmail.com", "%3Cscript%3E@%3Cx%3E", "a" * 6000 + "@" + "b" * 6000):
        status, _, body = fetch(f"{WELL_KNOWN}?emailaddress={asked}")
        # An address too long for any mailbox is answered like any stranger, or refused whole.
        assert status in (404, 414, 431) and "<" not in body, (asked[:40], status, body[:200])
    print("foreign domains 404")


main()

"""Mail clients against accounts activated on the web: app passwords, and Pro Santé Connect
tokens (SASL XOAUTH2 and OAUTHBEARER, RFC 7628) on IMAP and SMTP, with the refusals.

Usage: accounts.py app-password ADDRESS APP_PASSWORD ACCOUNT_PASSWORD
       accounts.py token IDENTITY_INDEX ADDRESS OTHER_ADDRESS CLIENT_SECRET
       accounts.py refused ADDRESS PASSWORD
       accounts.py notice ADDRESS APP_PASSWORD PERSONAL_EMAIL
       accounts.py bearer ADDRESS ACCESS_TOKEN
       accounts.py csrf ADDRESS PASSWORD
       accounts.py card ADDRESS OTHER_ADDRESS CARD_PEM CARD_KEY FOREIGN_PEM FOREIGN_KEY SERVER_PEM SERVER_KEY
"""

import base64
import hashlib
import http.client
import imaplib
import json
import os
import secrets
import smtplib
import sys
import time
import urllib.parse

from confiance_env import HOST, IMAPS, SUBMISSION, _Imap, check, message, raw_tls, tls_context

WEB = int(os.environ["CONFIANCE_WEB"])


def imap_login(addr, password):
    conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
    conn.login(addr, password)
    return conn


def imap_refused(addr, password):
    conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
    try:
        conn.login(addr, password)
    except imaplib.IMAP4.error as e:
        check(b"AUTHENTICATIONFAILED" in str(e).encode(), f"refused for the wrong reason: {e}")
        return
    raise AssertionError(f"{addr} logged in with a password that must not open IMAP")


def smtp(addr):
    s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
    s.starttls(context=tls_context())
    s.ehlo()
    return s


def web(method, path, body=None, headers=None):
    conn = http.client.HTTPSConnection(HOST, WEB, context=tls_context(), timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read()


def psc_token(identity, client_secret):
    """An access token from the PSC sandbox, through the authorization code flow with PKCE, as
    a practice software (LPS) would obtain it."""
    redirect = f"https://{HOST}:{WEB}/psc/retour"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    form = urllib.parse.urlencode({
        "client_id": "confiance-bac-a-sable", "redirect_uri": redirect, "state": "s1", "nonce": "n1",
        "code_challenge": challenge, "scope": "openid scope_all", "identite": str(identity)})
    status, headers, _ = web("POST", "/psc-bac-a-sable/authorize", form,
                             {"Content-Type": "application/x-www-form-urlencoded"})
    check(status == 303, f"authorize answered {status}")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)
    basic = base64.b64encode(f"confiance-bac-a-sable:{client_secret}".encode()).decode()
    token_form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": query["code"][0],
                                         "redirect_uri": redirect, "code_verifier": verifier})
    status, _, body = web("POST", "/psc-bac-a-sable/token", token_form,
                          {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
    check(status == 200, f"token answered {status}: {body!r}")
    # The same code cannot be redeemed twice.
    status, _, _ = web("POST", "/psc-bac-a-sable/token", token_form,
                       {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
    check(status == 400, "a code was redeemed twice")
    answer = json.loads(body)
    return answer["access_token"], answer["id_token"]


def xoauth2(addr, token):
    return f"user={addr}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(addr, token):
    return f"n,a={addr},\x01auth=Bearer {token}\x01\x01".encode()


def imap_bearer(mechanism, message):
    conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
    check(f"AUTH={mechanism}" in conn.capabilities, f"{mechanism} not offered: {conn.capabilities}")
    try:
        typ, _ = conn.authenticate(mechanism, lambda _: message)
        return conn if typ == "OK" else None
    except imaplib.IMAP4.error:
        return None


def main():
    mode = sys.argv[1]
    if mode == "app-password":
        addr, app_password, account_password = sys.argv[2:5]
        conn = imap_login(addr, app_password)
        typ, data = conn.select("INBOX")
        check(typ == "OK", f"INBOX: {data}")
        conn.logout()
        # Seven groups of four (118 secret bits, kept under a fast hash): one secret character
        # off, or a first group that names none of the account's app passwords, opens nothing.
        check(len(app_password.split("-")) == 7, f"not an app password of now: {app_password}")
        imap_refused(addr, app_password[:-1] + ("b" if app_password.endswith("a") else "a"))
        imap_refused(addr, ("yyyy" if app_password.startswith("zzzz") else "zzzz") + app_password[4:])
        # Two-factor on the web: the account password alone does not open IMAP or SMTP.
        imap_refused(addr, account_password)
        s = smtp(addr)
        try:
            s.login(addr, account_password)
            raise AssertionError("the account password opened SMTP")
        except smtplib.SMTPAuthenticationError:
            pass
        s.login(addr, app_password)
        s.quit()
        print("app password ok")
    elif mode == "token":
        identity, addr, other, client_secret, shared = (int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5],
                                                        sys.argv[6])
        token, id_token = psc_token(identity, client_secret)
        # A BAL shared with the holder opens when named, and only then.
        conn = imap_bearer("XOAUTH2", xoauth2(shared, token))
        check(conn is not None, f"the token did not open {shared}, shared with its holder")
        conn.logout()
        # The ID token is signed by the same provider but is no access token.
        check(imap_bearer("XOAUTH2", xoauth2(addr, id_token)) is None, "an ID token opened a mailbox")
        for mechanism, build in (("XOAUTH2", xoauth2), ("OAUTHBEARER", oauthbearer)):
            conn = imap_bearer(mechanism, build(addr, token))
            check(conn is not None, f"IMAP {mechanism} refused a valid token for {addr}")
            typ, _ = conn.select("INBOX")
            check(typ == "OK", "INBOX after XOAUTH2")
            conn.logout()
            # A mailbox the identity does not hold.
            check(imap_bearer(mechanism, build(other, token)) is None, f"{mechanism} opened {other}")
        # A forged token: the payload changed, the signature kept.
        head, payload, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["SubjectNameID"] = "899700252580"
        forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), sig])
        check(imap_bearer("XOAUTH2", xoauth2(other, forged)) is None, "a forged token opened a mailbox")
        check(imap_bearer("XOAUTH2", xoauth2(addr, "not-a-token")) is None, "garbage opened a mailbox")
        # RFC 7628 §3.2.2 on the wire: the error challenge, the dummy answer, then NO.
        raw = raw_tls(IMAPS)
        reader = raw.makefile("rb")
        reader.readline()
        ir = base64.b64encode(xoauth2(addr, "not-a-token")).decode()
        raw.sendall(f"a AUTHENTICATE XOAUTH2 {ir}\r\n".encode())
        line = reader.readline()
        check(line.startswith(b"+ "), f"no error challenge: {line!r}")
        check(json.loads(base64.b64decode(line[2:].strip()))["status"] == "invalid_token", line)
        raw.sendall(b"AQ==\r\n")
        line = reader.readline()
        check(line.startswith(b"a NO [AUTHENTICATIONFAILED]"), line)
        raw.close()
        # SMTP submission with the same token, XOAUTH2 (with initial response).
        s = smtp(addr)
        check("XOAUTH2" in s.esmtp_features.get("auth", ""), f"SMTP AUTH: {s.esmtp_features}")
        code, _ = s.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(addr, token)).decode())
        check(code == 235, f"SMTP XOAUTH2 answered {code}")
        s.quit()
        s = smtp(addr)
        code, challenge = s.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(other, token)).decode())
        # RFC 7628 §3.2.2: an error challenge first, then the failure after the dummy answer.
        check(code == 334 and json.loads(base64.b64decode(challenge))["status"] == "invalid_token",
              f"SMTP XOAUTH2 for another's mailbox answered {code} {challenge!r}")
        code, _ = s.docmd("AQ==")
        check(code == 535, f"after the dummy answer: {code}")
        s.quit()
        print("token ok")
    elif mode == "notice":
        addr, app_password, personal = sys.argv[2:5]
        subject = "Compte rendu confidentiel"
        s = smtp(addr)
        s.login(addr, app_password)
        s.sendmail(addr, [addr], message(subject, sender=addr, to=addr))
        s.quit()
        deadline = time.time() + 30
        while time.time() < deadline:
            _, _, page = web("GET", "/dev/messages")
            rows = [r for r in page.decode().split("<tr>") if personal in r and "Nouveau message" in r]
            if rows:
                check(subject not in rows[0], "the notice must not carry the message's subject")
                check(addr in rows[0], "the notice names the BAL")
                print("notice ok")
                return
            time.sleep(0.5)
        raise AssertionError(f"no new-mail notice to {personal}")
    elif mode == "card":
        addr, other, pem, key, foreign_pem, foreign_key = sys.argv[2:8]
        ctx = tls_context()
        ctx.load_cert_chain(pem, key)
        # IMAP: the card presented in the handshake, then AUTHENTICATE EXTERNAL.
        conn = _Imap(HOST, IMAPS, ssl_context=ctx, timeout=30)
        check("AUTH=EXTERNAL" in conn.capabilities, f"EXTERNAL not offered with a card: {conn.capabilities}")
        try:
            conn.authenticate("EXTERNAL", lambda _: other.encode())
            raise AssertionError(f"a card opened {other}, which its holder does not hold")
        except imaplib.IMAP4.error:
            pass
        typ, _ = conn.authenticate("EXTERNAL", lambda _: addr.encode())
        check(typ == "OK", "EXTERNAL refused the card's own mailbox")
        check(conn.select("INBOX")[0] == "OK", "INBOX after EXTERNAL")
        conn.logout()
        plain = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
        check("AUTH=EXTERNAL" not in plain.capabilities, "EXTERNAL offered without a card")
        plain.logout()
        # SMTP submission, AUTH EXTERNAL with the mailbox as authorization identity.
        s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
        s.starttls(context=ctx)
        s.ehlo()
        check("EXTERNAL" in s.esmtp_features.get("auth", ""), f"SMTP AUTH: {s.esmtp_features}")
        code, _ = s.docmd("AUTH", "EXTERNAL " + base64.b64encode(addr.encode()).decode())
        check(code == 235, f"SMTP EXTERNAL answered {code}")
        s.quit()
        # A certificate of another authority is no card: the handshake fails.
        foreign = tls_context()
        foreign.load_cert_chain(foreign_pem, foreign_key)
        try:
            bad = _Imap(HOST, IMAPS, ssl_context=foreign, timeout=30)
            bad.noop()
            raise AssertionError("a certificate outside the persons and organisations CAs was accepted")
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
            pass
        # The operator's own server certificate comes from the organisations CA: the handshake
        # passes, but it names neither a professional nor a structure, so EXTERNAL is not offered.
        server_pem, server_key = sys.argv[8:10]
        ours = tls_context()
        ours.load_cert_chain(server_pem, server_key)
        conn = _Imap(HOST, IMAPS, ssl_context=ours, timeout=30)
        check("AUTH=EXTERNAL" not in conn.capabilities, f"EXTERNAL offered to a server certificate: {conn.capabilities}")
        conn.logout()
        print("card ok")
    elif mode == "bearer":
        addr, token = sys.argv[2:4]
        conn = imap_bearer("XOAUTH2", xoauth2(addr, token))
        check(conn is not None, f"IMAP XOAUTH2 refused the provider's token for {addr}")
        conn.logout()
        check(imap_bearer("XOAUTH2", xoauth2(addr, token + "x")) is None, "an unknown token was accepted")
        print("bearer ok")
    elif mode == "csrf":
        # A login form posted from elsewhere (no token, or another session's) is refused
        # before the password is even looked at.
        addr, password = sys.argv[2:4]
        status, headers, _ = web("GET", "/connexion")
        cookie = headers["set-cookie"].split(";")[0]
        check("Secure" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"], headers["set-cookie"])
        form = urllib.parse.urlencode({"adresse": addr, "mot_de_passe": password})
        for extra, hdrs in (("", {}), ("&csrf=forged", {"Cookie": cookie})):
            status, _, body = web("POST", "/connexion", form + extra,
                                  {"Content-Type": "application/x-www-form-urlencoded", **hdrs})
            check(status == 403, f"a form without its token answered {status}")
            check("autre site" in body.decode(), "the refusal says why")
        status, headers, _ = web("GET", "/compte")
        check(status == 303 and headers["location"] == "/connexion", "the account page needs a login")
        print("csrf ok")
    elif mode == "refused":
        imap_refused(sys.argv[2], sys.argv[3])
        print("refused ok")
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()

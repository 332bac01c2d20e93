"""The operator against hostile clients: floods of idle connections, impersonating From:
fields, folder trees too deep, parallel bursts of wrong passwords and codes, slow clients.

Usage: hardening.py flood COUNT USER
       hardening.py authors USER OTHER
       hardening.py folders USER
       hardening.py login-burst USER
       hardening.py web-burst ADDRESS COUNT
       hardening.py code-burst COUNT
       hardening.py edges USER POSTMASTER_BAL
       hardening.py full-disk USER
       hardening.py crawl COUNT DATABASE
       hardening.py hostile-views
       hardening.py slow
"""

import concurrent.futures
import os
import re
import resource
import smtplib
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse

from confiance_env import (HOST, IMAP, IMAPS, PASSWORD, SUBMISSIONS, address, check, imap, message,
                           tls_context, TLS_NAME)
from web_login import Browser

WEB = int(os.environ["CONFIANCE_WEB"])


def connect(port, source="127.0.0.1", tls=True):
    sock = socket.create_connection((HOST, port), timeout=20, source_address=(source, 0))
    if tls:
        sock = tls_context().wrap_socket(sock, server_hostname=TLS_NAME)
    return sock


def read_until(sock, marker, limit=20):
    data, deadline = b"", time.time() + limit
    while marker not in data and time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_tagged(sock, tag, limit=30):
    """Everything up to and including the tagged reply of `tag`."""
    done = re.compile(rb"(^|\r\n)" + re.escape(tag.encode()) + rb" [^\r\n]*\r\n")
    data, deadline = b"", time.time() + limit
    while not done.search(data) and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def imap_login(user, password, source="127.0.0.1"):
    """The tagged answer to LOGIN over IMAPS from `source`."""
    s = connect(IMAPS, source)
    read_until(s, b"\r\n")
    s.sendall(f'a LOGIN {address(user)} "{password}"\r\n'.encode())
    reply = read_until(s, b"a ")
    s.close()
    return reply


def https_status(path, source="127.0.0.1"):
    s = connect(WEB, source)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    head = read_until(s, b"\r\n")
    s.close()
    return head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else head.decode(errors="replace")


def flood(count, user):
    """Idle connections from 127.0.0.2 to the IMAP port: past the per-address limit each gets
    `* BYE [UNAVAILABLE]` and is closed; the operator keeps serving 127.0.0.1 on every port."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    for _ in range(count):
        held.append(connect(IMAP, "127.0.0.2", tls=False))
    time.sleep(1)
    greeted = refused = closed = 0
    for s in held:
        s.settimeout(5)
        line = read_until(s, b"\r\n", limit=5)
        if b"* BYE [UNAVAILABLE]" in line:
            refused += 1
        elif line.startswith(b"* OK"):
            greeted += 1
        else:
            closed += 1
    print(f"flood: {greeted} greeted, {refused} refused with BYE [UNAVAILABLE], {closed} closed")
    check(refused > 0 and greeted <= 200, f"no per-address limit: {greeted} greeted")
    # The operator still answers everyone else, on every kind of listener.
    check(b"a OK" in imap_login(user, PASSWORD), "IMAPS login from 127.0.0.1 during the flood")
    check(https_status("/connexion") == "200", "HTTPS during the flood")
    s = connect(SUBMISSIONS)
    check(read_until(s, b"\r\n").startswith(b"220"), "submission during the flood")
    s.close()
    for s in held:
        s.close()
    time.sleep(1)
    check(b"a OK" in imap_login(user, PASSWORD, "127.0.0.2"), "the flooding address, once it left")
    print("flood ok")


def authors(user, other):
    """Submission: one From: naming the authenticated mailbox, nothing else."""
    me, them = address(user), address(other)

    def submit(raw):
        s = smtplib.SMTP_SSL(HOST, SUBMISSIONS, context=tls_context(), timeout=30)
        s.login(me, PASSWORD)
        try:
            s.sendmail(me, [them], raw)
            return "250"
        except smtplib.SMTPDataError as e:
            return f"{e.smtp_code} {e.smtp_error.decode()}"
        finally:
            s.quit()

    good = message("Bonjour", sender=me, to=them)
    check(submit(good) == "250", "a plain message from oneself")
    cases = {
        "two From fields": b"From: " + them.encode() + b"\r\n" + good,
        "two From, other spelling": good.replace(b"To:", b"FROM : " + them.encode() + b"\r\nTo:", 1),
        "two addresses": good.replace(f"From: {me}".encode(), f"From: {me}, {them}".encode()),
        "a group": good.replace(f"From: {me}".encode(), f"From: Equipe: {me}, {them};".encode()),
        "someone else": good.replace(f"From: {me}".encode(), f"From: \"{me}\" <{them}>".encode()),
        "someone else as Sender": good.replace(b"To:", f"Sender: {them}\r\nTo:".encode(), 1),
        "two Subject fields": good.replace(b"To:", b"Subject: autre\r\nTo:", 1),
    }
    for what, raw in cases.items():
        reply = submit(raw)
        check(reply.startswith("550 5.7.1"), f"{what}: {reply}")
        print(f"{what}: {reply}")
    print("authors ok")


def folders(user):
    """Folder names, depths and counts are bounded: NO [LIMIT] (RFC 9051 §7.1)."""
    s = connect(IMAPS)
    read_until(s, b"\r\n")
    s.sendall(f"a LOGIN {address(user)} {PASSWORD}\r\n".encode())
    check(b"a OK" in read_until(s, b"a "), "login")

    def cmd(tag, line):
        s.sendall(f"{tag} {line}\r\n".encode())
        return read_tagged(s, tag)

    deep = "/".join(["n"] * 30000)
    s.sendall(f"d1 CREATE {{{len(deep)}+}}\r\n{deep}\r\n".encode())
    reply = read_tagged(s, "d1")
    check(b"d1 NO [LIMIT]" in reply, f"30,000 levels: {reply[:200]}")
    check(b"d2 OK" in cmd("d2", "CREATE " + "/".join(["p"] * 16)), "16 levels")
    check(b"d3 NO [LIMIT]" in cmd("d3", "CREATE " + "/".join(["q"] * 17)), "17 levels")
    check(b"d4 NO [LIMIT]" in cmd("d4", "CREATE " + "x" * 300), "a 300-byte level")
    check(b"d5 NO [LIMIT]" in cmd("d5", "RENAME p " + "/".join(["r"] * 2) + "/p"), "a rename that nests too deep")
    check(b"d6 NO [LIMIT]" in cmd("d6", "SUBSCRIBE " + "/".join(["s"] * 40)), "a subscription too deep")
    listing = cmd("d7", 'LIST "" "*"')
    check(b"d7 OK" in listing and len(listing) < 10000, f"LIST answers {len(listing)} bytes")
    # The special folders exist once: no second Trash by another spelling or by its attribute
    # (RFC 6154 §5.3), while a subfolder may bear the name.
    check(b"s1 NO [CANNOT]" in cmd("s1", "CREATE Corbeille"), "a French special name")
    check(b"s2 NO [CANNOT]" in cmd("s2", "CREATE trash"), "a special name in another case")
    check(b"s3 NO [USEATTR]" in cmd("s3", "CREATE Poubelle (USE (\\Trash))"), "a second \\Trash")
    check(b"s4 NO [ALREADYEXISTS]" in cmd("s4", "CREATE Trash"), "Trash itself")
    check(b"s5 NO [CANNOT]" in cmd("s5", "RENAME p Envoy&AOk-s"), "a rename to Envoyés")
    check(b"s6 OK" in cmd("s6", "CREATE Projets/Corbeille"), "a subfolder named Corbeille")
    # A deleted Trash is made again by any of its names, with its special use, and then exists once.
    check(b"s7 OK" in cmd("s7", "DELETE Trash"), "Trash deleted")
    check(b"s8 OK" in cmd("s8", "CREATE Corbeille"), "Corbeille made again")
    listed = cmd("s9", 'LIST "" Corbeille RETURN (SPECIAL-USE)')
    check(b"\\Trash" in listed and b"Corbeille" in listed, f"Corbeille is the trash: {listed!r}")
    check(b"s10 NO [CANNOT]" in cmd("s10", "CREATE trash"), "a second trash after it")
    print("folders ok")


def login_burst(user):
    """Thirty wrong passwords at once from 127.0.0.2: then the right one from there is refused,
    and the holder from 127.0.0.1 still gets in; likewise for SMTP AUTH from 127.0.0.3."""
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        replies = list(pool.map(lambda _: imap_login(user, "Mauvais2026", "127.0.0.2"), range(30)))
    check(all(b"a NO [AUTHENTICATIONFAILED]" in r for r in replies), replies[:3])
    check(b"a NO [AUTHENTICATIONFAILED]" in imap_login(user, PASSWORD, "127.0.0.2"),
          "the right password from the throttled address")
    check(b"a OK" in imap_login(user, PASSWORD, "127.0.0.1"), "the holder from another address")

    def smtp_auth(password, source):
        s = smtplib.SMTP_SSL(HOST, SUBMISSIONS, context=tls_context(), timeout=30,
                             source_address=(source, 0))
        try:
            s.login(address(user), password)
            return 235
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code
        finally:
            s.close()

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: smtp_auth("Mauvais2026", "127.0.0.3"), range(30)))
    check(set(codes) == {535}, codes)
    check(smtp_auth(PASSWORD, "127.0.0.3") == 535, "SMTP: the right password from the throttled address")
    check(smtp_auth(PASSWORD, "127.0.0.1") == 235, "SMTP: the holder from another address")
    print("login burst ok")


class Web(Browser):
    """A browser whose pages can be fetched from several threads at once: each call returns
    its own page."""

    def go(self, path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            resp = self.opener.open(f"https://{HOST}:{WEB}{path}", data, timeout=60)
        except urllib.error.HTTPError as e:
            resp = e
        url, status, page = resp.geturl(), resp.status, resp.read().decode()
        self.url, self.status, self.page = url, status, page
        return page

    def csrf(self):
        return self.field("csrf")


def web_burst(addr, count):
    """`count` wrong passwords posted at once on one account; the harness counts, in the audit
    trace, how many were checked."""
    b = Web()
    b.go("/connexion")
    token = b.csrf()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        pages = list(pool.map(
            lambda _: b.go("/connexion", {"csrf": token, "adresse": addr, "mot_de_passe": "Mauvais2026"}),
            range(count)))
    locked = sum("verrouillé" in p for p in pages)
    print(f"web burst: {locked} of {count} answers say the account is locked")
    check(locked >= count - 5, f"only {locked} locked answers")
    print("web burst ok")


def activate(identity):
    """A BAL activated through the PSC sandbox with codes by e-mail; the browser stays logged
    in. Returns the browser and the address."""
    import html as h
    b = Web()
    b.go("/psc/connexion?pour=activation")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', b.page))
    b.go("/psc-bac-a-sable/authorize", {**{k: h.unescape(v) for k, v in hidden.items()}, "identite": identity})
    check(b.url.endswith("/activation/adresse"), b.url)
    addr = h.unescape(re.search(r'name="adresse" value="([^"]*)"', b.page).group(1))
    b.go("/activation/adresse", {"csrf": b.csrf(), "adresse": addr, "cgu": "on"})
    b.go("/activation/parametres", {"csrf": b.csrf(), "mot_de_passe": "Urgences2026", "confirmation": "Urgences2026",
                                    "facteur": "email", "email": "garde@example.org", "mobile": ""})
    check(b.url.endswith("/activation/recapitulatif"), f"{b.url}: {b.page[:300]}")
    # The personal e-mail receives login codes once the code sent there comes back.
    token = b.csrf()
    b.go("/compte/confirmer", {"csrf": token, "code_email": outbox_code(b, "garde@example.org")})
    check(b.url.endswith("/compte") and "coordonnées sont confirmées" in b.page, b.page[:800])
    return b, addr


def outbox_code(b, to):
    """The newest code the development outbox shows for `to`."""
    b.go("/dev/messages")
    row = next(r for r in re.findall(r"<tr>.*?</tr>", b.page, re.S) if to in r)
    return re.search(r"\b(\d{6})\b", row).group(1)


def code_burst(count):
    """A login whose code is guessed `count` times at once; the harness counts the codes
    checked."""
    b, addr = activate("4")
    b.go("/deconnexion", {"csrf": b.csrf()})
    b.go("/connexion")
    b.go("/connexion", {"csrf": b.csrf(), "adresse": addr, "mot_de_passe": "Urgences2026"})
    check(b.url.endswith("/connexion/code"), b.url)
    token = b.csrf()
    with concurrent.futures.ThreadPoolExecutor(min(count, 50)) as pool:
        list(pool.map(lambda i: b.go("/connexion/code", {"csrf": token, "code": f"{i:06d}"}), range(count)))
    print(addr)
    print("code burst ok")


def hostile_views():
    """In the webmail: 100,000 nested <div> are shown as text with a notice, at once; a message
    carried inside another is shown, not left empty."""
    import html as h
    b, addr = activate("1")
    b.go("/compte/mots-de-passe-applicatifs", {"csrf": b.csrf(), "libelle": "test"})
    app = h.unescape(re.search(r'id="nouveau-mot-de-passe">([^<]+)<', b.page).group(1))
    deep = ("<div>" * 100_000 + "Compte rendu profond" + "</div>" * 100_000)
    messages = {
        "profond": f"From: x@pro.confiance.test\r\nTo: {addr}\r\nSubject: profond\r\nMIME-Version: 1.0\r\n"
                   f"Content-Type: text/html; charset=utf-8\r\n\r\n{deep}\r\n",
        "transfert": f"From: y@pro.confiance.test\r\nTo: {addr}\r\nSubject: transfert\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: message/rfc822\r\n\r\nFrom: Dr Dupont <c@pro.confiance.test>\r\n"
                     "Subject: Compte rendu joint\r\n\r\nTexte du message joint\r\n",
    }
    s = connect(IMAPS)
    read_until(s, b"\r\n")
    s.sendall(f'a LOGIN {addr} "{app}"\r\n'.encode())
    check(b"a OK" in read_tagged(s, "a"), "app password login")
    uids = {}
    for i, (name, raw) in enumerate(messages.items()):
        data = raw.encode()
        s.sendall(f"p{i} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
        reply = read_tagged(s, f"p{i}")
        uids[name] = re.search(rb"APPENDUID \d+ (\d+)", reply).group(1).decode()
    b.go("/webmail")
    folder = re.search(r"/webmail/dossier/(\d+)", b.url).group(1)
    start = time.time()
    b.go(f"/webmail/message/{folder}/{uids['profond']}")
    took = time.time() - start
    check(b.status == 200 and "trop volumineux ou trop complexe" in b.page, b.page[:500])
    check("Compte rendu profond" in b.page and "<div><div>" not in b.page, "the text, not the markup")
    print(f"deep message opened in {took:.2f} s")
    b.go(f"/webmail/message/{folder}/{uids['transfert']}")
    check("Message joint" in b.page and "Texte du message joint" in b.page, b.page[:800])
    check("message-joint-1.eml" in b.page, "the carried message is an .eml attachment")
    print("hostile views ok")


def submit_raw(user, rcpts, raw):
    """SMTP submission of `raw` bytes as they are; the reply code and text of DATA (or RCPT)."""
    s = smtplib.SMTP_SSL(HOST, SUBMISSIONS, context=tls_context(), timeout=30)
    s.login(address(user), PASSWORD)
    try:
        s.sendmail(address(user), rcpts, raw)
        return "250"
    except smtplib.SMTPDataError as e:
        return f"{e.smtp_code} {e.smtp_error.decode()}"
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return f"{code} {text.decode()}"
    finally:
        s.close()


def edges(user, postmaster_bal):
    """postmaster is always accepted (RFC 5321 §4.5.1) and reaches the configured BAL; a bare
    CR is never relayed."""
    me = address(user)
    reply = submit_raw(user, ["postmaster", "PostMaster@" + address("x").split("@")[1]],
                       message("Question au postmaster", sender=me, to="postmaster"))
    check(reply == "250", f"postmaster: {reply}")
    conn = imap(postmaster_bal)
    conn.select("INBOX", readonly=True)
    typ, data = conn.search(None, "SUBJECT", '"Question au postmaster"')
    check(len(data[0].split()) == 1, f"postmaster mail in {postmaster_bal}'s INBOX: {data}")
    conn.logout()
    smuggled = message("Contrebande", sender=me, to=me).replace(
        b"voici le compte rendu.", b"ligne\r.\rMAIL FROM:<x@y.fr>\rsuite")
    reply = submit_raw(user, [me], smuggled)
    check(reply.startswith("550 5.6.0"), f"bare CR: {reply}")
    print("edges ok")


def full_disk(user):
    """The disk full: 452 4.3.1, the client keeps its message."""
    big = message("Trop gros pour le disque", sender=address(user), to=address(user),
                  body="x" * 76 + "\r\n") * 1
    big = big + (b"y" * 998 + b"\r\n") * 3000
    reply = submit_raw(user, [address(user)], big)
    print(reply)
    check(reply.startswith("452 4.3.1"), f"full disk: {reply}")
    print("full disk ok")


def crawl(count, database):
    """A crawler's GETs, without cookies, leave no session row; a visitor's form still works."""
    import sqlite3
    for i in range(count):
        path = ["/connexion", "/", "/activation", "/connexion?lang=en", "/webmail"][i % 5]
        status = https_status(path)
        check(status[0] in "234", f"crawl {path}: {status}")
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    rows = db.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0]
    check(rows == 0, f"{rows} session rows after {count} anonymous GETs")
    # A visitor's login form is checked against a token bound to their cookie.
    b = Web()
    b.go("/connexion?lang=en")
    b.go("/connexion", {"csrf": b.csrf(), "adresse": "personne@medecin.confiance.test", "mot_de_passe": "Mauvais2026"})
    check("Wrong address or password" in b.page, b.page[:500])
    b.go("/connexion", {"csrf": "forged", "adresse": "personne@medecin.confiance.test", "mot_de_passe": "x"})
    check(b.status == 403, f"a forged token: {b.status}")
    rows = db.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0]
    check(rows == 0, f"{rows} session rows after failed logins")
    print("crawl ok")


def slow():
    """Silent clients are let go: IMAP before login, and an HTTPS header that never ends."""
    s = connect(IMAP, tls=False)
    check(read_until(s, b"\r\n").startswith(b"* OK"), "greeting")
    start = time.time()
    rest = read_until(s, b"never", limit=30)
    waited = time.time() - start
    check(waited < 10, f"an IMAP client silent before login was kept {waited:.1f} s ({rest!r})")
    # Busy but never logging in (a NOOP every second): let go after three login timeouts.
    s = connect(IMAP, tls=False)
    read_until(s, b"\r\n")
    start, bye = time.time(), b""
    for i in range(30):
        try:
            s.sendall(f"n{i} NOOP\r\n".encode())
            got = s.recv(4096)
        except OSError:
            break
        if not got or b"BYE" in got:
            bye = got
            break
        time.sleep(1)
    waited = time.time() - start
    check(waited < 15 and b"BYE" in bye, f"a client busy without logging in was kept {waited:.1f} s ({bye!r})")
    s = connect(WEB)
    s.sendall(f"GET /connexion HTTP/1.1\r\nHost: {HOST}\r\n".encode())
    start = time.time()
    rest = read_until(s, b"never", limit=30)
    waited = time.time() - start
    check(waited < 10, f"an HTTPS header never finished was waited for {waited:.1f} s ({rest[:100]!r})")
    print("slow ok")


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "flood":
        flood(int(args[0]), args[1])
    elif what == "authors":
        authors(*args)
    elif what == "folders":
        folders(*args)
    elif what == "login-burst":
        login_burst(*args)
    elif what == "web-burst":
        web_burst(args[0], int(args[1]))
    elif what == "code-burst":
        code_burst(int(args[0]))
    elif what == "edges":
        edges(*args)
    elif what == "full-disk":
        full_disk(*args)
    elif what == "hostile-views":
        hostile_views()
    elif what == "crawl":
        crawl(int(args[0]), args[1])
    elif what == "slow":
        slow()
    else:
        raise SystemExit(f"unknown command {what}")

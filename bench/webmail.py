"""Webmail figures on a 100,000-message BAL: server time to render the inbox page (and a deep
page, another sort, a filter), to open a message, and the inbox page's weight.

Run by bench/webmail.sh, which starts a release server and sets the CONFIANCE_* variables.
Times are measured by the client on loopback over one kept-alive HTTPS connection, so they are
an upper bound of the server's time (TLS and HTTP included)."""

import gzip
import html
import http.client
import json
import os
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "clients"))
from confiance_env import HOST, IMAPS, tls_context  # noqa: E402
from web_login import Browser, psc_sandbox_login  # noqa: E402

MESSAGES = int(os.environ.get("MESSAGES", "100000"))
BATCH = 1000
ROUNDS = int(os.environ.get("ROUNDS", "300"))
WEB = int(os.environ["CONFIANCE_WEB"])


def activate():
    """A BAL activated through the PSC sandbox, and an app password for IMAP."""
    b = Browser()
    psc_sandbox_login(b, 2, "activation")
    address = b.field("adresse")
    b.post("/activation/adresse", adresse=address, cgu="on")
    b.post("/activation/parametres", mot_de_passe="Clinique2026", confirmation="Clinique2026",
           facteur="email", email="bench@example.org")
    assert b.url.endswith("/activation/recapitulatif"), b.url
    b.go("/compte")
    b.post("/compte/mots-de-passe-applicatifs", libelle="bench")
    secret = re.search(r'id="nouveau-mot-de-passe">([^<]+)<', b.page).group(1)
    return b, address, html.unescape(secret)


def message(n, address):
    senders = ["Dr Paul Durand <paul.durand@medecin.confiance.test>", "Secrétariat <sec@pro.confiance.test>",
               "Laboratoire BIOLAB <resultats@pro.confiance.test>", "Dr Anne Martin <anne.martin@medecin.confiance.test>"]
    head = (f"From: {senders[n % 4]}\r\nTo: {address}\r\nSubject: Compte rendu {n} — patient {n % 997}\r\n"
            f"Message-ID: <bench{n}@confiance.test>\r\nDate: Fri, 4 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n")
    text = f"Bonjour,\r\nvoici le compte rendu numéro {n} pour le patient {n % 997}.\r\nBien cordialement.\r\n" * 4
    if n % 50 == 0:
        return (head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                + text + "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=cr.pdf\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n").encode()
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()


def fill(address, password):
    """MULTIAPPEND (RFC 3502) in batches: one group commit per batch."""
    sock = tls_context().wrap_socket(socket.create_connection((HOST, IMAPS), timeout=120), server_hostname=HOST)
    f = sock.makefile("rb")

    def cmd(tag, data):
        sock.sendall(data)
        while True:
            line = f.readline()
            if line.startswith(tag.encode() + b" "):
                assert b" OK " in line, line
                return

    f.readline()
    cmd("l", f'l LOGIN "{address}" "{password}"\r\n'.encode())
    start = time.time()
    base = int(time.time()) - MESSAGES * 60
    for first in range(0, MESSAGES, BATCH):
        parts = [b"a APPEND INBOX"]
        for n in range(first, min(first + BATCH, MESSAGES)):
            body = message(n, address)
            when = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(base + n * 60))
            flags = "()" if n % 10 == 0 else "(\\Seen)"
            parts.append(f' {flags} "{when}" {{{len(body)}+}}\r\n'.encode() + body)
        cmd("a", b"".join(parts) + b"\r\n")
        done = min(first + BATCH, MESSAGES)
        if done % 10000 == 0:
            print(f"  {done} messages stored ({done / (time.time() - start):.0f}/s)", flush=True)
    sock.close()
    return time.time() - start


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Client:
    def __init__(self, cookie):
        self.conn = http.client.HTTPSConnection(HOST, WEB, context=tls_context(), timeout=60)
        self.cookie = cookie

    def get(self, path):
        self.conn.request("GET", path, headers={"Cookie": self.cookie})
        r = self.conn.getresponse()
        body = r.read()
        assert r.status == 200, (path, r.status, body[:300])
        return body

    def time(self, paths):
        times = []
        for p in paths:
            t = time.perf_counter()
            self.get(p)
            times.append((time.perf_counter() - t) * 1000)
        return times


def report(name, times, goal=None):
    p50, p95, p99 = (percentile(times, p) for p in (50, 95, 99))
    verdict = "" if goal is None else (f"  goal < {goal} ms: {'met' if p95 < goal else 'NOT met'}")
    print(f"{name:<44} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  p99 {p99:6.2f} ms  (n={len(times)}){verdict}")
    return {"p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2)}


def main():
    b, address, password = activate()
    print(f"BAL {address}: storing {MESSAGES} messages by IMAP MULTIAPPEND…", flush=True)
    seconds = fill(address, password)
    print(f"  stored in {seconds:.1f} s")
    cookie = "; ".join(f"{c.name}={c.value}" for c in b.jar)
    c = Client(cookie)
    c.conn.request("GET", "/webmail", headers={"Cookie": cookie})
    r = c.conn.getresponse()
    r.read()
    inbox = re.search(r"/webmail/dossier/(\d+)", r.getheader("Location") or "").group(1)
    page = c.get(f"/webmail/dossier/{inbox}")
    assert f"({MESSAGES} messages)" in page.decode(), page[:2000]
    uids = [int(u) for u in re.findall(rf'/webmail/message/{inbox}/(\d+)"', page.decode())]
    c.time([f"/webmail/dossier/{inbox}"] * 20)  # warm-up
    results = {"messages": MESSAGES, "fill_seconds": round(seconds, 1)}
    results["inbox"] = report("inbox, page 1 (25 newest)", c.time([f"/webmail/dossier/{inbox}"] * ROUNDS), 50)
    last = (MESSAGES + 24) // 25
    results["deep_page"] = report(f"inbox, page {last // 2} of {last}", c.time([f"/webmail/dossier/{inbox}?page={last // 2}"] * (ROUNDS // 3)))
    results["by_sender"] = report("inbox sorted by sender, page 1", c.time([f"/webmail/dossier/{inbox}?tri=expediteur"] * (ROUNDS // 3)))
    results["unread"] = report("inbox filtered to unread, page 1", c.time([f"/webmail/dossier/{inbox}?filtre=nonlus"] * (ROUNDS // 3)))
    rng = random.Random(6)
    top = max(uids)
    opened = [rng.randint(1, top) for _ in range(ROUNDS)]
    results["open_first"] = report("open a message (first time: marks it read)", c.time([f"/webmail/message/{inbox}/{u}" for u in opened]), 30)
    results["open_again"] = report("open a message already read", c.time([f"/webmail/message/{inbox}/{u}" for u in opened]), 30)
    css, js = c.get("/webmail/app.css"), c.get("/webmail/app.js")
    weight = len(page) + len(css) + len(js)
    zipped = len(gzip.compress(page)) + len(gzip.compress(css)) + len(gzip.compress(js))
    print(f"inbox page weight: HTML {len(page) / 1024:.1f} KB + CSS {len(css) / 1024:.1f} KB + JS {len(js) / 1024:.1f} KB "
          f"= {weight / 1024:.1f} KB uncompressed ({zipped / 1024:.1f} KB if gzipped); goal < 150 KB: "
          f"{'met' if weight < 150 * 1024 else 'NOT met'}; no framework, no other request")
    results["page_weight_bytes"] = weight
    print(json.dumps(results))


if __name__ == "__main__":
    main()

"""The web login as a browser does it, over HTTPS with cookies, but with the codes arriving
through real channels: an SMTP relay and an HTTP SMS gateway run here, as the operator's
[notify] section points at them. Then the idle lock and the lockout after failed attempts.

Usage: web_login.py SMTP_PORT SMS_PORT
       web_login.py suspended IDENTITY_INDEX
"""

import asyncio
import html
import http.cookiejar
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import urllib.request

from confiance_env import HOST, check, tls_context

WEB = int(os.environ["CONFIANCE_WEB"])
BASE = f"https://{HOST}:{WEB}"
SMS, MAILS = [], []


def smtp_relay(port):
    """A relay that keeps what it receives (RFC 5321, just enough)."""

    async def session(reader, writer):
        writer.write(b"220 relais de test\r\n")
        data, in_data = [], False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n":
                    MAILS.append(b"".join(data).decode())
                    data, in_data = [], False
                    writer.write(b"250 2.0.0 pris\r\n")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                in_data = True
                writer.write(b"354 go\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(session, "127.0.0.1", port)
        await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()


def sms_gateway(port):
    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            SMS.append(json.loads(body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()


class Browser:
    """Cookies, redirects and forms, like a browser without JavaScript."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls_context()), urllib.request.HTTPCookieProcessor(self.jar))

    def go(self, path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        url = path if path.startswith("https://") else BASE + path
        try:
            resp = self.opener.open(url, data, timeout=30)
        except urllib.error.HTTPError as e:
            resp = e
        self.url, self.status, self.page = resp.geturl(), resp.status, resp.read().decode()
        return self.page

    def field(self, name):
        m = re.search(rf'name="{name}" value="([^"]*)"', self.page)
        check(m, f"no field {name} in {self.url}")
        return html.unescape(m.group(1))

    def post(self, path, **form):
        return self.go(path, {"csrf": self.field("csrf"), **form})


def wait_for(box, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        if box:
            return box.pop()
        time.sleep(0.2)
    raise AssertionError(f"no {what} arrived")


def code_in(text):
    return re.search(r"\b(\d{6})\b", text).group(1)


def psc_sandbox_login(b, identity, purpose):
    b.go(f"/psc/connexion?pour={purpose}")
    check("/psc-bac-a-sable/authorize" in b.url, b.url)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', b.page))
    b.go("/psc-bac-a-sable/authorize", {**{k: html.unescape(v) for k, v in hidden.items()}, "identite": str(identity)})


def suspended(identity):
    """A suspended holder proven by PSC gets neither their BAL nor a new one."""
    b = Browser()
    psc_sandbox_login(b, identity, "activation")
    check(b.status == 403 and "suspendue" in b.page, f"{b.status} {b.url}")
    for step in ("/activation/adresse", "/activation/parametres"):
        b.go(step)
        check(not b.url.endswith(step), f"{step} reachable after a refused login: {b.url}")
    print("suspended ok")


def main():
    if sys.argv[1] == "suspended":
        return suspended(sys.argv[2])
    smtp_relay(int(sys.argv[1]))
    sms_gateway(int(sys.argv[2]))
    b = Browser()

    # Activation of Hélène (test identity 5) through the PSC sandbox, codes by SMS.
    psc_sandbox_login(b, 5, "activation")
    check(b.url.endswith("/activation/adresse"), b.url)
    address = b.field("adresse")
    b.post("/activation/adresse", adresse=address, cgu="on")
    b.post("/activation/parametres", mot_de_passe="Maternite2026", confirmation="Maternite2026",
           facteur="sms", mobile="07 98 76 54 32", email="helene@example.org")
    check(b.url.endswith("/activation/recapitulatif"), f"{b.url}: {b.page[:500]}")
    # The mobile and the e-mail typed are used once the code sent to each comes back.
    check("à confirmer par le code reçu" in b.page, b.page[:1500])
    sms = wait_for(SMS, "SMS")
    mail = wait_for(MAILS, "e-mail")
    check(sms["to"] == "+33798765432" and "To: <helene@example.org>" in mail, (sms, mail))
    b.post("/compte/confirmer", code_sms=code_in(sms["text"]), code_email=code_in(mail.split("\r\n\r\n", 1)[1]))
    check(b.url.endswith("/compte") and "coordonnées sont confirmées" in b.page, b.page[:800])
    b.post("/deconnexion")

    # Password, then the code sent to the SMS gateway.
    b.go("/connexion")
    b.post("/connexion", adresse=address, mot_de_passe="Maternite2026")
    check(b.url.endswith("/connexion/code"), b.url)
    sms = wait_for(SMS, "SMS")
    check(sms["to"] == "+33798765432", sms)
    b.post("/connexion/code", code=code_in(sms["text"]))
    check("/webmail/dossier/" in b.url, b.url)

    # Codes by e-mail from now on: through the SMTP relay.
    b.post("/compte", facteur="email", email="helene@example.org", mobile="0798765432", dematerialisation="on")
    check("Vos choix sont enregistrés" in b.page, b.page[:800])
    b.post("/deconnexion")
    b.go("/connexion")
    b.post("/connexion", adresse=address, mot_de_passe="Maternite2026")
    mail = wait_for(MAILS, "e-mail")
    check("To: <helene@example.org>" in mail and "Auto-Submitted: auto-generated" in mail, mail)
    b.post("/connexion/code", code=code_in(mail.split("\r\n\r\n", 1)[1]))
    check("/webmail/dossier/" in b.url, b.url)

    # Idle lock (1 minute in this operator's configuration).
    time.sleep(62)
    b.go("/compte")
    check(b.url.endswith("/connexion"), f"still open after the idle time: {b.url}")
    check("verrouillée après 1 min" in b.page, b.page[:800])

    # Five wrong passwords lock the account; the right one is refused while it lasts. Until
    # then the answer is the one an unknown address gets.
    b.post("/connexion", adresse="personne@medecin.confiance.test", mot_de_passe="Mauvais2026")
    unknown = re.search(r'id="erreur">([^<]*)<', b.page).group(1)
    for _ in range(4):
        b.post("/connexion", adresse=address, mot_de_passe="Mauvais2026")
        check(re.search(r'id="erreur">([^<]*)<', b.page).group(1) == unknown, b.page[:800])
    b.post("/connexion", adresse=address, mot_de_passe="Mauvais2026")
    check("verrouillé pendant encore 15 min" in b.page, b.page[:800])
    b.post("/connexion", adresse=address, mot_de_passe="Maternite2026")
    check("verrouillé" in b.page and not b.url.endswith("/connexion/code"), "the lock let the right password in")
    print("web login ok")


if __name__ == "__main__":
    main()

"""SCRAM-SHA-256 (RFC 5802, RFC 7677) on IMAP and submission, by a client written here from the
RFCs with Python's hashlib and hmac: the password never crosses the wire, and the client checks
the server's signature before it believes it is logged in.

Usage: scram.py login LOCAL PASSWORD             both protocols accept, signatures checked
       scram.py refused LOCAL PASSWORD           both refuse, as for a wrong password
       scram.py same-answer LOCAL UNKNOWN_LOCAL  a real and an unknown address look alike
       scram.py hostile LOCAL PASSWORD           malformed, replayed and channel-bound exchanges
       scram.py forget LOCAL DATABASE            drops the account's keys, as before SCRAM existed
       scram.py login-soon LOCAL PASSWORD        `login` once the keys are made (within 10 s)
       scram.py plain LOCAL PASSWORD             AUTHENTICATE PLAIN accepts (a UTF-8 password)
       scram.py burst LOCAL PASSWORD             12 wrong proofs at once, then the right one refused
Prints `ok` when every check held.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import imaplib
import secrets
import smtplib
import sqlite3
import sys
import time

from confiance_env import HOST, IMAPS, SUBMISSION, _Imap, address, check, raw_tls, tls_context


def b64(data):
    return base64.b64encode(data).decode()


class Scram:
    """One client side of an exchange (RFC 5802 §3 and §7)."""

    def __init__(self, user, password, gs2="n,,"):
        self.user, self.password, self.gs2 = user, password, gs2
        self.nonce = secrets.token_urlsafe(18)
        self.first_bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={self.nonce}"
        self.server_signature = None
        self.verified = False

    def first(self):
        return (self.gs2 + self.first_bare).encode()

    def final(self, server_first):
        fields = dict(f.split("=", 1) for f in server_first.decode().split(","))
        check(fields["r"].startswith(self.nonce) and len(fields["r"]) > len(self.nonce), "the server kept our nonce")
        salt, rounds = base64.b64decode(fields["s"]), int(fields["i"])
        check(rounds >= 4096, f"RFC 7677 asks for 4096 rounds at least, got {rounds}")
        self.salt, self.rounds = fields["s"], rounds
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, rounds)
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        without_proof = f"c={b64(self.gs2.encode())},r={fields['r']}"
        auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = hmac.new(server_key, auth_message, "sha256").digest()
        return f"{without_proof},p={b64(proof)}".encode()

    def check_server_final(self, server_final):
        check(server_final.decode() == f"v={b64(self.server_signature)}", f"bad server signature: {server_final!r}")
        self.verified = True
        return b""


def imap_authenticator(scram):
    """imaplib's callback: the challenges arrive decoded, answers leave as bytes."""
    steps = iter([lambda _: scram.first(), scram.final, scram.check_server_final])
    return lambda challenge: next(steps)(challenge)


def imap_scram(local, password):
    conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
    check("AUTH=SCRAM-SHA-256" in conn.capabilities, f"not offered: {conn.capabilities}")
    scram = Scram(address(local), password)
    try:
        conn.authenticate("SCRAM-SHA-256", imap_authenticator(scram))
    except imaplib.IMAP4.error as e:
        conn.shutdown()
        return False, str(e), scram
    check(scram.verified, "logged in without the server proving it holds the keys")
    typ, data = conn.select("INBOX")
    check(typ == "OK", f"SELECT after SCRAM: {typ} {data}")
    conn.logout()
    return True, "", scram


def smtp_scram(local, password):
    s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
    s.starttls(context=tls_context())
    s.ehlo()
    check("SCRAM-SHA-256" in s.esmtp_features.get("auth", ""), f"not offered: {s.esmtp_features}")
    scram = Scram(address(local), password)
    steps = iter([lambda _: scram.first(), scram.final, scram.check_server_final])

    def answer(challenge=None):
        # smtplib base64-encodes a str answer as ASCII.
        return next(steps)(challenge).decode()

    try:
        s.auth("SCRAM-SHA-256", answer)
    except smtplib.SMTPAuthenticationError as e:
        s.close()
        return False, f"{e.smtp_code} {e.smtp_error.decode()}", scram
    check(scram.verified, "SMTP said 235 without the server proving it holds the keys")
    code, _ = s.mail(address(local))
    check(code == 250, f"MAIL FROM after SCRAM: {code}")
    s.quit()
    return True, "", scram


def raw_imap(lines):
    """Sends each line after the previous answer; returns every line the server said."""
    sock = raw_tls(IMAPS)
    f = sock.makefile("rwb")
    said = [f.readline()]
    for line in lines:
        f.write(line + b"\r\n")
        f.flush()
        said.append(f.readline())
    sock.close()
    return said


def main():
    mode, local = sys.argv[1], sys.argv[2]
    if mode == "login":
        password = sys.argv[3]
        ok, why, imap_side = imap_scram(local, password)
        check(ok, f"IMAP refused SCRAM: {why}")
        ok, why, smtp_side = smtp_scram(local, password)
        check(ok, f"submission refused SCRAM: {why}")
        check(imap_side.salt == smtp_side.salt, "one salt per account on both protocols")
    elif mode == "login-soon":
        # The keys of a PLAIN login are made after its answer.
        deadline = time.monotonic() + 10
        while not imap_scram(local, sys.argv[3])[0]:
            check(time.monotonic() < deadline, "no SCRAM keys 10 s after a PLAIN login")
            time.sleep(0.2)
        ok, why, _ = smtp_scram(local, sys.argv[3])
        check(ok, f"submission refused SCRAM: {why}")
    elif mode == "burst":
        # Attempts are counted before the proof is checked: twelve wrong ones in parallel pass
        # the per-account limit (10), and the right password from this address is then refused
        # with the same answer.
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            runs = list(pool.map(lambda _: imap_scram(local, "Pas-le-bon-1"), range(12)))
        check(all(not ok and "AUTHENTICATIONFAILED" in why for ok, why, _ in runs), f"burst: {runs}")
        ok, why, _ = imap_scram(local, sys.argv[3])
        check(not ok and "AUTHENTICATIONFAILED" in why, f"after the burst: {why or 'accepted'}")
    elif mode == "plain":
        conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
        conn.authenticate("PLAIN", lambda _: b"\0" + address(local).encode() + b"\0" + sys.argv[3].encode())
        conn.logout()
    elif mode == "forget":
        db = sqlite3.connect(sys.argv[3], timeout=10)
        with db:
            gone = db.execute(
                "DELETE FROM scram_keys WHERE account_id = (SELECT id FROM accounts WHERE address = ?)",
                (address(local),),
            ).rowcount
        check(gone == 1, f"{gone} keys for {local}")
    elif mode == "refused":
        password = sys.argv[3]
        ok, why, _ = imap_scram(local, password)
        check(not ok and "AUTHENTICATIONFAILED" in why, f"IMAP: {why or 'accepted'}")
        ok, why, _ = smtp_scram(local, password)
        check(not ok and why.startswith("535"), f"submission: {why or 'accepted'}")
    elif mode == "same-answer":
        # An address without a BAL gets a salt as stable as a real one, the same rounds, and
        # the same refusal: the exchange does not tell which addresses exist.
        unknown = sys.argv[3]
        seen = {}
        for who in (local, unknown):
            runs = [imap_scram(who, "Pas-le-bon-1") for _ in range(2)]
            check(all(not ok for ok, _, _ in runs), f"{who} opened with a wrong password")
            check(runs[0][2].salt == runs[1][2].salt, f"the salt of {who} changed between two exchanges")
            seen[who] = (len(base64.b64decode(runs[0][2].salt)), runs[0][2].rounds, runs[0][1])
        check(seen[local] == seen[unknown], f"a real and an unknown address differ: {seen}")
    elif mode == "hostile":
        password = sys.argv[3]
        user = address(local)
        # Channel binding asked of a server that offers no -PLUS variant (RFC 5802 §6).
        bound = b64(f"p=tls-exporter,,n={user},r=abc".encode()).encode()
        said = raw_imap([b"a AUTHENTICATE SCRAM-SHA-256 " + bound])
        check(said[-1].startswith(b"a BAD"), f"channel binding: {said}")
        # Not a SCRAM message at all, and a cancel.
        said = raw_imap([b"a AUTHENTICATE SCRAM-SHA-256 " + b64(b"hello").encode()])
        check(said[-1].startswith(b"a BAD"), f"garbage: {said}")
        said = raw_imap([b"a AUTHENTICATE SCRAM-SHA-256", b"*"])
        check(said[-1].startswith(b"a BAD"), f"cancel: {said}")
        # A final message replayed from another exchange: its nonce is not this one's.
        ok, why, _ = imap_scram(local, password)
        check(ok, f"the genuine exchange failed: {why}")
        replay = Scram(user, password)
        sock = raw_tls(IMAPS)
        f = sock.makefile("rwb")
        f.readline()
        f.write(b"a AUTHENTICATE SCRAM-SHA-256 " + b64(replay.first()).encode() + b"\r\n")
        f.flush()
        challenge = base64.b64decode(f.readline()[2:])
        forged = replay.final(challenge).replace(challenge.decode().split(",")[0][2:].encode(), b"x" * 8)
        f.write(b64(forged).encode() + b"\r\n")
        f.flush()
        said = f.readline()
        check(said.startswith(b"a BAD") and b"nonce" in said, f"replayed nonce: {said}")
        # A wrong proof in a well-formed exchange: refused like a wrong password.
        f.write(b"b AUTHENTICATE SCRAM-SHA-256 " + b64(replay.first()).encode() + b"\r\n")
        f.flush()
        challenge = base64.b64decode(f.readline()[2:])
        last = replay.final(challenge)
        bad_proof = last[: last.rindex(b",p=") + 3] + b64(bytes(32)).encode()
        f.write(b64(bad_proof).encode() + b"\r\n")
        f.flush()
        said = f.readline()
        check(said.startswith(b"b NO [AUTHENTICATIONFAILED]"), f"wrong proof: {said}")
        sock.close()
        # Another's identity as authorization identity: nobody acts as another.
        other = Scram(user, password, gs2=f"n,a={address('quelquun')},")
        said = raw_imap([b"a AUTHENTICATE SCRAM-SHA-256 " + b64(other.first()).encode()])
        check(said[-1].startswith(b"a BAD"), f"acting as another: {said}")
    else:
        raise SystemExit(f"unknown mode {mode}")
    print("ok")


if __name__ == "__main__":
    main()

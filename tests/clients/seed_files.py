"""Puts the messages of a directory (SEED_DIR/*.eml, in name order, `{to}` replaced by the BAL's
address) in a BAL's INBOX over IMAPS, with an app password: mail as another operator's
software or a patient would have sent it, for the browser walks."""

import imaplib
import os
import pathlib
import time

from confiance_env import _Imap, HOST, IMAPS, tls_context

ADDRESS = os.environ["SEED_ADDRESS"]
PASSWORD = os.environ["SEED_PASSWORD"]
files = sorted(pathlib.Path(os.environ["SEED_DIR"]).glob("*.eml"))

conn = _Imap(HOST, IMAPS, ssl_context=tls_context(), timeout=30)
conn.login(ADDRESS, PASSWORD)
now = time.time()
for i, path in enumerate(files):
    body = path.read_text(encoding="utf-8").replace("{to}", ADDRESS).encode()
    conn.append("INBOX", None, imaplib.Time2Internaldate(now - 60 * (len(files) - i)), body)
conn.logout()
print(f"seeded {len(files)} messages")

"""Python's imaplib as a mail client would use it: folders, append, fetch, search, flags,
copy, move, expunge, quota, and a second session seeing the first one's changes (IDLE)."""

import re
import sys
import threading
import time

from confiance_env import *

user = sys.argv[1]

# Wrong password: refused with the RFC 5530 code.
try:
    imap(user, "Wrong1234")
    raise AssertionError("login with a wrong password succeeded")
except imaplib.IMAP4.error as e:
    check("AUTHENTICATIONFAILED" in str(e), f"unexpected refusal text: {e}")

c = imap(user)
typ, caps = c.capability()
for cap in [b"IMAP4rev2", b"IDLE", b"UIDPLUS", b"MOVE", b"SPECIAL-USE", b"CONDSTORE", b"QUOTA", b"ESEARCH"]:
    check(cap in caps[0], f"capability {cap} missing: {caps}")

# Special-use folders exist for every account.
typ, lines = c.list()
listing = b"\n".join(lines)
for name, use in [(b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"), (b"Trash", b"\\Trash"), (b"Junk", b"\\Junk")]:
    check(re.search(rb"\(.*" + re.escape(use) + rb".*\) \"/\" \"?" + name, listing), f"{name} missing: {listing}")
check(b"INBOX" in listing, listing)

# APPEND with flags and date; UIDPLUS answers APPENDUID.
typ, data = c.append("INBOX", r"(\Flagged $Urgent)", '"23-Nov-2026 10:00:00 +0100"', message("Compte rendu IRM"))
check(typ == "OK" and b"APPENDUID" in data[0], data)
uid = int(data[0].split()[2].rstrip(b"]"))
c.append("INBOX", None, None, message("Ordonnance", body="Paracetamol 1 g\r\n"))

typ, data = c.select("INBOX")
check(typ == "OK" and data[0] == b"2", data)

typ, data = c.uid("FETCH", str(uid), "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
fetched = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
check(b"\\Flagged" in fetched and b"$Urgent" in fetched, fetched)
check(b"23-Nov-2026 10:00:00 +0100" in fetched, fetched)
check(b"Subject: Compte rendu IRM" in fetched, fetched)

# SEARCH on headers and text; SORT.
typ, data = c.search(None, "SUBJECT", "ordonnance")
check(data == [b"2"], data)
typ, data = c.search(None, "BODY", "paracetamol")
check(data == [b"2"], data)
typ, data = c.search(None, "FLAGGED")
check(data == [b"1"], data)
typ, data = c.sort("(SUBJECT)", "UTF-8", "ALL")
check(data == [b"1 2"], data)

# Partial fetch and BODYSTRUCTURE.
typ, data = c.fetch("2", "(BODY.PEEK[TEXT]<0.10> BODYSTRUCTURE)")
check(b"Paracetamo" in data[0][1], data)
whole = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data).lower()
check(b'bodystructure ("text" "plain" ("charset" "utf-8")' in whole, data)

# Reading sets \Seen.
c.fetch("2", "(BODY[])")
typ, data = c.fetch("2", "(FLAGS)")
check(b"\\Seen" in data[0], data)

# A second session on the same folder sees changes pushed during IDLE.
other = imap(user)
other.select("INBOX")
tag = other._new_tag()
other.send(tag + b" IDLE\r\n")
check(other.readline().startswith(b"+"), "no IDLE continuation")
pushed = []


def listen():
    deadline = time.time() + 20
    while time.time() < deadline:
        line = other.readline()
        pushed.append(line)
        if b"EXISTS" in line:
            return


t = threading.Thread(target=listen)
t.start()
time.sleep(0.3)
c.append("INBOX", None, None, message("Arrivee pendant IDLE"))
t.join(25)
check(any(b"3 EXISTS" in p for p in pushed), f"IDLE did not push EXISTS: {pushed}")
other.send(b"DONE\r\n")
while True:
    line = other.readline()
    if line.startswith(tag):
        check(b"OK" in line, line)
        break

# COPY and MOVE with COPYUID; EXPUNGE seen by the other session.
typ, data = c.copy("1", "Trash")
check(typ == "OK" and b"COPYUID" in data[0], data)
typ, data = c._simple_command("MOVE", "2", "Drafts")
check(typ == "OK", data)
typ, data = c.select("Drafts")
check(data[0] == b"1", data)
c.select("INBOX")
c.store("1", "+FLAGS", r"\Deleted")
typ, data = c.expunge()
check(data == [b"1"], data)
other.noop()
typ, data = other.select("INBOX")
check(data[0] == b"1", f"the other session still sees {data}")

# QUOTA
typ, data = c.getquotaroot("INBOX")
check(typ == "OK" and any(b"STORAGE" in d for d in data[1]), data)

# Folder lifecycle.
check(c.create("Patients/Dupont")[0] == "OK", "create")
check(c.rename("Patients", "Dossiers")[0] == "OK", "rename")
typ, lines = c.list('""', "Dossiers/*")
check(any(b"Dossiers/Dupont" in l for l in lines), lines)
check(c.delete("Dossiers")[0] == "NO", "a folder with children must not be deleted")
check(c.delete("Dossiers/Dupont")[0] == "OK", "delete child")
check(c.delete("INBOX")[0] == "NO", "INBOX must not be deletable")

c.logout()
other.logout()
print("imap client: ok")

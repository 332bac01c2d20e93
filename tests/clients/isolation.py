"""One account can never read, list, copy or search another's mail (IMAP side)."""

import sys

from confiance_env import *

owner, intruder = sys.argv[1], sys.argv[2]

o = imap(owner)
o.create("Confidentiel")
o.append("INBOX", None, None, message("Resultats biologie patient X", body="Secret medical\r\n"))
o.append("Confidentiel", None, None, message("Dossier psychiatrique", body="Tres secret\r\n"))
o.logout()

i = imap(intruder)
# LIST shows only the intruder's own folders.
typ, lines = i.list('""', "*")
listing = b"\n".join(lines)
check(b"Confidentiel" not in listing, listing)
typ, lines = i.list('""', address(owner) + "*")
check(lines == [None], lines)
# Its INBOX is its own, empty one.
typ, data = i.select("INBOX")
check(data == [b"0"], data)
# The owner's folder names do not resolve in the intruder's account, however written.
for name in ["Confidentiel", f"{address(owner)}/INBOX", f"../{address(owner)}/INBOX", "/Confidentiel", "#shared/Confidentiel"]:
    typ, data = i.status(f'"{name}"', "(MESSAGES)")
    check(typ == "NO", f"STATUS {name}: {typ} {data}")
    typ, data = i.select(f'"{name}"')
    check(typ == "NO", f"SELECT {name}: {typ} {data}")
i.select("INBOX")
# UIDs and searches reach only the intruder's messages.
typ, data = i.uid("FETCH", "1:*", "(BODY.PEEK[])")
check(data == [None] or data == [], data)
typ, data = i.search(None, "TEXT", "secret")
check(data == [b""], data)
typ, data = i.uid("SEARCH", "ALL")
check(data == [b""], data)
# COPY into the owner's folders cannot be expressed.
i.append("INBOX", None, None, message("A moi"))
i.select("INBOX")
typ, data = i.copy("1", f"{address(owner)}/INBOX")
check(typ == "NO" and b"TRYCREATE" in data[0], data)
# The owner's password is not the intruder's.
try:
    imap(owner, "Wrong1234")
    raise AssertionError("wrong password accepted")
except imaplib.IMAP4.error:
    pass
i.logout()

# The owner still has exactly their messages.
o = imap(owner)
typ, data = o.select("INBOX")
check(data == [b"1"], data)
typ, data = o.select("Confidentiel")
check(data == [b"1"], data)
o.logout()
print("isolation: ok")

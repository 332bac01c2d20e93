"""Prints the Message-ID of every message in a folder, one per line (duplicates included)."""

import sys

from confiance_env import *

user, folder = sys.argv[1], sys.argv[2]
c = imap(user)
c.select(folder, readonly=True)
typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
for item in data:
    if isinstance(item, tuple):
        field = item[1].decode().strip()
        print(field.split(":", 1)[1].strip() if ":" in field else "(none)")
c.logout()

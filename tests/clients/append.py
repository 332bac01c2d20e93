"""Appends one message with the given Message-ID to a folder."""

import sys

from confiance_env import *

user, folder, mid = sys.argv[1], sys.argv[2], sys.argv[3]
c = imap(user)
typ, data = c.append(folder, None, None, message("synchro", message_id=mid))
check(typ == "OK", data)
c.logout()

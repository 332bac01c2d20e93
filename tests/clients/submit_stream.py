"""Submits messages one after another over SMTP submission (STARTTLS + AUTH) and prints the
Message-ID of each one the server answered 250 for, flushing at once, until it is stopped."""

import smtplib
import sys

from confiance_env import *

user, count = sys.argv[1], int(sys.argv[2])
s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
s.starttls(context=tls_context())
s.login(address(user), PASSWORD)
for n in range(count):
    mid = f"<crash-{n}@test>"
    try:
        s.sendmail(address(user), [address(user)], message(f"crash {n}", sender=address(user),
                                                           to=address(user), message_id=mid))
    except Exception as e:  # the server was killed: stop here
        print(f"stopped: {e}", file=sys.stderr)
        break
    print(mid, flush=True)

"""Two nodes sharing one database: a session in IDLE on node 1 (CONFIANCE_IMAPS) learns of a
message submitted on node 2 (NODE2_SUBMISSION, same host and authority), then reads it on node 1.
Prints how long after node 2's 250 the EXISTS came."""

import os
import smtplib
import threading
import time

from confiance_env import *

OTHER_SUBMISSION = int(os.environ["NODE2_SUBMISSION"])

reader = imap("bob")
reader.select("INBOX")
tag = reader._new_tag()
reader.send(tag + b" IDLE\r\n")
check(reader.readline().startswith(b"+"), "no IDLE continuation")
pushed = []
woke = []


def listen():
    deadline = time.time() + 15
    while time.time() < deadline:
        line = reader.readline()
        pushed.append(line)
        if b"EXISTS" in line:
            woke.append(time.monotonic())
            return


t = threading.Thread(target=listen)
t.start()
time.sleep(0.3)
s = smtplib.SMTP(HOST, OTHER_SUBMISSION, timeout=30)
s.starttls(context=tls_context())
s.login(address("alice"), PASSWORD)
s.sendmail(address("alice"), [address("bob")],
           message("Compte rendu via le noeud 2", sender=address("alice"), to=address("bob"),
                   message_id="<node2-1@test>"))
accepted = time.monotonic()
s.quit()
t.join(20)
check(woke, f"IDLE on node 1 never heard of the delivery on node 2: {pushed}")
print(f"idle woke {max(0.0, woke[0] - accepted) * 1000:.0f} ms after node 2's 250")
reader.send(b"DONE\r\n")
while True:
    line = reader.readline()
    if line.startswith(tag):
        break
typ, data = reader.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])")
check(typ == "OK" and b"<node2-1@test>" in data[0][1], data)
reader.logout()
print("read on node 1")

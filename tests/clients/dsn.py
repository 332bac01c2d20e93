"""DSN (RFC 3461/3464): success reports when asked, failure reports for recipients that could
not take the message after DATA (a full mailbox), parameters checked."""

import smtplib
import sys
import time

from confiance_env import *

sender, ok_rcpt, full_rcpt = sys.argv[1], sys.argv[2], sys.argv[3]


def smtp():
    s = smtplib.SMTP(HOST, SUBMISSION, timeout=30)
    s.starttls(context=tls_context())
    s.login(address(sender), PASSWORD)
    return s


def inbox_reports():
    c = imap(sender)
    c.select("INBOX", readonly=True)
    typ, data = c.search(None, "HEADER", "Content-Type", "multipart/report")
    reports = []
    for n in data[0].split():
        typ, msg = c.fetch(n, "(BODY.PEEK[])")
        reports.append(msg[0][1].decode("utf-8", "replace"))
    c.logout()
    return reports


s = smtp()
# Success report only when asked.
s.sendmail(address(sender), [address(ok_rcpt)], message("Lettre", sender=address(sender), to=address(ok_rcpt)),
           mail_options=["ENVID=env+2B1"], rcpt_options=["NOTIFY=SUCCESS", f"ORCPT=rfc822;{address(ok_rcpt)}"])
s.sendmail(address(sender), [address(ok_rcpt)], message("Sans accuse", sender=address(sender), to=address(ok_rcpt)))
reports = inbox_reports()
check(len(reports) == 1, f"expected one success report, got {len(reports)}")
r = reports[0]
for needle in ["Action: delivered", "Status: 2.0.0", f"Final-Recipient: rfc822; {address(ok_rcpt)}",
               "Original-Envelope-Id: env+1", f"Original-Recipient: rfc822;{address(ok_rcpt)}",
               "a été remis", "Return-Path: <>"]:
    check(needle in r, f"{needle!r} missing in the report:\n{r}")

# A full mailbox among the recipients: 250 for the others, a failure report for it.
big = message("Compte rendu", body="x" * 4000 + "\r\n", sender=address(sender), to=address(full_rcpt))
s.sendmail(address(sender), [address(ok_rcpt), address(full_rcpt)], big)
reports = inbox_reports()
failures = [r for r in reports if "Action: failed" in r]
check(len(failures) == 1, f"expected one failure report, got {len(reports)} reports")
f = failures[0]
check("Status: 5.2.2" in f and address(full_rcpt) in f, f)
check("x" * 100 not in f, "RET=HDRS (default) must not send the body back")

# Every recipient full: refused at once, no report needed.
try:
    s.sendmail(address(sender), [address(full_rcpt)], big)
    raise AssertionError("delivery to a full mailbox accepted")
except smtplib.SMTPDataError as e:
    check(e.smtp_code == 552, e)

# Bad DSN parameters are refused with a reason.
for opts in (["NOTIFY=SOMETIMES"], ["NOTIFY=NEVER,SUCCESS"], ["ORCPT=nosemicolon"]):
    try:
        s.sendmail(address(sender), [address(ok_rcpt)], big, rcpt_options=opts)
        raise AssertionError(f"{opts} accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients[address(ok_rcpt)]
        check(code == 501 and b"5.5.4" in text, e)
try:
    s.sendmail(address(sender), [address(ok_rcpt)], big, mail_options=["RET=ALL"])
    raise AssertionError("RET=ALL accepted")
except smtplib.SMTPSenderRefused as e:
    check(e.smtp_code == 555, e)
s.quit()
print("dsn: ok")

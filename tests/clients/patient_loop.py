"""A professional on operator A (CONFIANCE_*) and a patient on the patients' side
(PATIENT_*), over mutual TLS between the operators: the professional writes with a delivery
and a read receipt requested; the patient reads, sends the receipt and answers; a colleague
who never wrote cannot be written to; the professional receives the answer, the delivery
report and the read receipt; the professional closes the exchange, and the patient's further
answer is refused with the reason. Prints the first message's Message-ID for the harness,
which reads its timeline.

Usage: patient_loop.py PATIENT_ADDRESS
"""

import email
import email.message
import imaplib
import json
import os
import smtplib
import socket
import ssl
import sys
import time

from confiance_env import CA, HOST, IMAPS, PASSWORD, SUBMISSION, TLS_NAME, address, check

PATIENT_HOST = os.environ["PATIENT_HOST"]
PATIENT_IMAPS = int(os.environ["PATIENT_IMAPS"])
PATIENT_SUBMISSION = int(os.environ["PATIENT_SUBMISSION"])
PATIENT_TLS_NAME = os.environ["PATIENT_TLS_NAME"]
PATIENT_PASSWORD = os.environ["PATIENT_PASSWORD"]


def context():
    return ssl.create_default_context(cafile=CA)


class NamedSMTP(smtplib.SMTP):
    def __init__(self, host, port, name):
        self._name = name
        super().__init__(host, port, timeout=30)

    def starttls(self, **kwargs):
        # smtplib checks the name it connected to: the MTA's name here.
        self._host = self._name
        return super().starttls(**kwargs)


def submit(host, port, name, user, password, message, to, rcpt_options=()):
    s = NamedSMTP(host, port, name)
    s.starttls(context=context())
    s.login(user, password)
    try:
        return s.sendmail(user, [to], message.as_bytes(), rcpt_options=list(rcpt_options))
    finally:
        s.quit()


class NamedImap(imaplib.IMAP4_SSL):
    def __init__(self, host, port, name):
        self._name = name
        super().__init__(host, port, ssl_context=context(), timeout=30)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._name)


def wait_for(host, port, name, user, password, what, deadline=40):
    """The messages of INBOX once one matches `what` (bytes → bool)."""
    end = time.time() + deadline
    while time.time() < end:
        m = NamedImap(host, port, name)
        m.login(user, password)
        m.select("INBOX")
        _, data = m.search(None, "ALL")
        found = []
        for n in data[0].split():
            _, parts = m.fetch(n, "(BODY.PEEK[])")
            found.append(parts[0][1])
        m.logout()
        if any(what(b) for b in found):
            return found
        time.sleep(0.5)
    raise AssertionError(f"nothing matching arrived for {user}")


def text_message(sender, to, subject, body, **headers):
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.').lower()}.{int(time.time() * 1000)}@{sender.split('@')[1]}>"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return msg


def patient_refused(patient, to, reason):
    """The patient's message to `to` is refused at RCPT with 550 and `reason` in the sentence."""
    try:
        submit(PATIENT_HOST, PATIENT_SUBMISSION, PATIENT_TLS_NAME, patient, PATIENT_PASSWORD,
               text_message(patient, to, "Une question", "Encore une question."), to)
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients[to]
        check(code == 550 and reason in text.decode(), e.recipients)
        return
    raise AssertionError(f"the patient could write to {to}")


def main():
    patient = sys.argv[1]
    pro, app = address("alice"), PASSWORD

    # 1. The professional writes, asking for a delivery report and a read receipt.
    first = text_message(pro, patient, "Vos resultats", "Bonjour, vos résultats sont normaux.",
                         Disposition_Notification_To=pro)
    submit(HOST, SUBMISSION, TLS_NAME, pro, app, first, patient, ["NOTIFY=SUCCESS,FAILURE"])
    # A colleague writes too, and never closes: the patient answers them from the webmail.
    colleague_pro = address("bob")
    submit(HOST, SUBMISSION, TLS_NAME, colleague_pro, PASSWORD,
           text_message(colleague_pro, patient, "Rendez-vous", "Rendez-vous lundi à 9 h."), patient)

    # 2. The patient reads it on the patients' side, sends the receipt and answers.
    inbox = wait_for(PATIENT_HOST, PATIENT_IMAPS, PATIENT_TLS_NAME, patient, PATIENT_PASSWORD,
                     lambda b: b"Vos resultats" in b)
    got = email.message_from_bytes(inbox[0])
    check(got["Disposition-Notification-To"].strip("<>") == pro, "Disposition-Notification-To kept in transit")
    mdn = email.message.EmailMessage()
    mdn["From"], mdn["To"], mdn["Subject"] = patient, pro, "Accuse de lecture"
    mdn["Message-ID"] = f"<mdn.{int(time.time() * 1000)}@patient.mssante.fr>"
    mdn.set_type("multipart/report")
    mdn.set_param("report-type", "disposition-notification")
    readable = email.message.EmailMessage()
    readable.set_content("Votre message a été affiché.")
    fields = email.message.Message()
    fields.set_type("message/disposition-notification")
    fields.set_payload(f"Final-Recipient: rfc822;{patient}\r\nOriginal-Message-ID: {first['Message-ID']}\r\n"
                       "Disposition: manual-action/MDN-sent-manually; displayed\r\n")
    mdn.attach(readable)
    mdn.attach(fields)
    submit(PATIENT_HOST, PATIENT_SUBMISSION, PATIENT_TLS_NAME, patient, PATIENT_PASSWORD, mdn, pro)
    answer = text_message(patient, pro, "Re: Vos resultats", "Merci docteur.", In_Reply_To=first["Message-ID"])
    submit(PATIENT_HOST, PATIENT_SUBMISSION, PATIENT_TLS_NAME, patient, PATIENT_PASSWORD, answer, pro)

    # 3. A colleague who never wrote to the patient cannot be written to.
    colleague = "confrere@" + pro.split("@")[1]
    # Not even after the patient puts a message "from" them in their own INBOX (IMAP APPEND):
    # deliveries decide who wrote, not the patient's mailbox.
    forged = text_message(colleague, patient, "Ecrivez-moi", "Message fabriqué.")
    m = NamedImap(PATIENT_HOST, PATIENT_IMAPS, PATIENT_TLS_NAME)
    m.login(patient, PATIENT_PASSWORD)
    m.append("INBOX", None, None, forged.as_bytes())
    m.logout()
    patient_refused(patient, colleague, "ne vous a pas écrit")

    # 4. The professional has the answer, the delivery report and the read receipt.
    wait_for(HOST, IMAPS, TLS_NAME, pro, app,
             lambda b: b"Merci docteur" in b)
    wait_for(HOST, IMAPS, TLS_NAME, pro, app, lambda b: b"disposition-notification" in b)
    wait_for(HOST, IMAPS, TLS_NAME, pro, app, lambda b: b"delivery-status" in b)

    # 5. The professional closes the exchange; the patient's next answer is refused, said why.
    closing = text_message(pro, patient, "Fin du suivi", "Je clos cet échange.", X_MSS_MES="FIN")
    submit(HOST, SUBMISSION, TLS_NAME, pro, app, closing, patient)
    wait_for(PATIENT_HOST, PATIENT_IMAPS, PATIENT_TLS_NAME, patient, PATIENT_PASSWORD,
             lambda b: b"Fin du suivi" in b)
    patient_refused(patient, pro, "a clos cet échange")
    # The Message-ID of the first message: the harness reads its timeline.
    print(json.dumps({"professional": pro, "patient": patient, "message_id": first["Message-ID"]}))


if __name__ == "__main__":
    main()

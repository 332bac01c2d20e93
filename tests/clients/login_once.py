"""One IMAP LOGIN over TLS: prints `accepted` or `refused`.

Usage: login_once.py LOCAL PASSWORD
"""
import imaplib
import sys

from confiance_env import imap

try:
    imap(sys.argv[1], sys.argv[2]).logout()
    print("accepted")
except imaplib.IMAP4.error:
    print("refused")

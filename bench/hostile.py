"""What one hostile message costs everyone else: IMAP NOOP latency of another client while the
webmail opens a message of 100,000 nested <div> (p50, p99, max), and the server's memory while
16 readers open a 24 MB message at once (peak RSS).

Run by bench/hostile.sh, which starts a release server and sets the CONFIANCE_* variables and
SERVER_PID. Prints one line per figure."""

import concurrent.futures
import html
import os
import re
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "clients"))
from confiance_env import HOST, IMAPS, tls_context  # noqa: E402
from webmail import activate  # noqa: E402

PID = int(os.environ["SERVER_PID"])
SECONDS = float(os.environ.get("SECONDS_PER_PHASE", "10"))


def rss_mb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Imap:
    def __init__(self, address, password):
        self.sock = tls_context().wrap_socket(socket.create_connection((HOST, IMAPS), timeout=120),
                                              server_hostname=HOST)
        self.f = self.sock.makefile("rb")
        self.f.readline()
        self.n = 0
        self.cmd(f'LOGIN "{address}" "{password}"'.encode())

    def cmd(self, line, literal=None):
        self.n += 1
        tag = f"t{self.n}".encode()
        if literal is None:
            self.sock.sendall(tag + b" " + line + b"\r\n")
        else:
            self.sock.sendall(tag + b" " + line + f" {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        out = b""
        while True:
            got = self.f.readline()
            out += got
            if got.startswith(tag + b" "):
                assert b" OK " in got, got
                return out


def deep_html(address):
    body = "<div>" * 100_000 + "Compte rendu" + "</div>" * 100_000
    return (f"From: Dr Malveillant <x@pro.confiance.test>\r\nTo: {address}\r\nSubject: profond\r\n"
            f"Message-ID: <deep@bench>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


def big(address):
    """24 MB: a letter and a scanned file of 17.5 MB in base64."""
    chunk = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3" + b"\r\n")
    lines = 24_000_000 // len(chunk) - 100
    return (f"From: Imagerie <img@pro.confiance.test>\r\nTo: {address}\r\nSubject: gros\r\n"
            f"Message-ID: <big@bench>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoici les images.\r\n--b\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=scanner.bin\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n").encode() + chunk * lines + b"--b--\r\n"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def noops(imap, stop):
    latencies = []
    while not stop.is_set():
        start = time.perf_counter()
        imap.cmd(b"NOOP")
        latencies.append(time.perf_counter() - start)
        time.sleep(0.01)
    return latencies


def main():
    b, address, password = activate()
    imap = Imap(address, password)
    uids = {}
    for name, raw in (("deep", deep_html(address)), ("big", big(address))):
        reply = imap.cmd(b"APPEND INBOX", raw)
        uids[name] = int(re.search(rb"APPENDUID \d+ (\d+)", reply).group(1))
    b.go("/webmail")
    folder = re.search(r"/webmail/dossier/(\d+)", b.url).group(1)
    cookies = b.jar

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls_context()),
                                         urllib.request.HTTPCookieProcessor(cookies))

    def view(uid):
        """One opening of the message page; a build that takes minutes is waited for."""
        start = time.perf_counter()
        with opener.open(f"https://{HOST}:{os.environ['CONFIANCE_WEB']}/webmail/message/{folder}/{uid}",
                         timeout=900) as resp:
            assert resp.status == 200, resp.status
            page = resp.read()
        return time.perf_counter() - start, len(page)

    t, size = view(uids["deep"])
    print(f"deep message: opened in {t * 1000:.0f} ms, page {size // 1024} KB")
    other = Imap(address, password)

    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        quiet = pool.submit(noops, other, stop)
        time.sleep(SECONDS)
        stop.set()
        quiet = quiet.result()
    print(f"NOOP, quiet: p50 {percentile(quiet, .5):.2f} ms, p99 {percentile(quiet, .99):.2f} ms, "
          f"max {max(quiet) * 1000:.2f} ms ({len(quiet)} NOOPs)")

    stop = threading.Event()
    opened = []

    def keep_opening():
        while not stop.is_set():
            opened.append(view(uids["deep"])[0])

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        loaded = pool.submit(noops, other, stop)
        readers = [pool.submit(keep_opening) for _ in range(4)]
        time.sleep(SECONDS)
        stop.set()
        loaded = loaded.result()
        for r in readers:
            r.result()
    print(f"NOOP while 4 readers open the 100,000-<div> message: p50 {percentile(loaded, .5):.2f} ms, "
          f"p99 {percentile(loaded, .99):.2f} ms, max {max(loaded) * 1000:.2f} ms ({len(loaded)} NOOPs, "
          f"{len(opened)} views, view p50 {percentile(opened, .5):.0f} ms)")

    before = rss_mb()
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak.append(rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        times = list(pool.map(lambda _: view(uids["big"])[0], range(16)))
    stop.set()
    sampler.join()
    print(f"16 parallel views of a 24 MB message: RSS {before:.0f} MB before, peak {max(peak):.0f} MB, "
          f"all done in {(time.perf_counter() - start):.1f} s, slowest {max(times):.1f} s")


if __name__ == "__main__":
    main()

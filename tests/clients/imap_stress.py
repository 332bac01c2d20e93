"""Sessions on one BAL at once, as a hospital's secretaries keep them: each appends, flags,
copies, moves and expunges in INBOX, and follows what the others do from the server's untagged
answers alone. At each checkpoint everyone stops, sends NOOP, and every view must agree with
the others and with a fresh session's; between checkpoints, every answer must keep to the
protocol (RFC 9051 §7): EXISTS never shrinks, EXPUNGE and FETCH name existing sequence numbers,
a sequence number keeps its UID, RECENT never exceeds EXISTS, a keyword is announced in FLAGS
before a FETCH shows it, and a session's own keyword, which only it sets, is there once set.

Usage: imap_stress.py LOCAL SESSIONS SECONDS [CHECKPOINT_SECONDS]
Prints one summary line; exits 1 when any error was seen (each is printed).
"""
import random
import re
import socket
import sys
import threading
import time

from confiance_env import HOST, IMAPS, PASSWORD, TLS_NAME, address, tls_context

LOCAL, SESSIONS, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
CHECKPOINT = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
MOST = 120  # messages in INBOX above which sessions expunge more than they add
SHARED = ["\\Seen", "\\Flagged", "\\Answered", "$Urgent", "$Patient"]

errors = []
operations = [0]


def error(who, what):
    errors.append(f"{who}: {what}")


class Session:
    def __init__(self, name, own_keyword=None):
        sock = socket.create_connection((HOST, IMAPS), timeout=60)
        self.s = tls_context().wrap_socket(sock, server_hostname=TLS_NAME)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.name, self.own = name, own_keyword
        self.n = 0
        self.view = []  # per sequence number: [uid or None, set of flags or None]
        self.keywords = set()
        self.fetched = {}  # uid -> flags, from the FETCH answers of the last command
        self.leaving = False
        self.command(f"LOGIN {address(LOCAL)} {PASSWORD}")

    def command(self, text, expect_ok=True):
        self.n += 1
        tag = f"{self.name}.{self.n}".encode()
        self.fetched = {}
        self.s.sendall(tag + b" " + (text.encode() if isinstance(text, str) else text) + b"\r\n")
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit(f"{self.name}: the server closed the connection")
            line = line.rstrip(b"\r\n")
            # A literal inside an answer (a message's header): read it whole, then the rest.
            while (literal := re.search(rb"\{(\d+)\}$", line)) is not None:
                data = self.f.read(int(literal.group(1)))
                line = line + data + self.f.readline().rstrip(b"\r\n")
            if line.startswith(tag + b" "):
                status = line[len(tag) + 1:]
                if expect_ok and not status.startswith(b"OK"):
                    error(self.name, f"{text[:60]!r} answered {status!r}")
                return status
            if line.startswith(b"* "):
                self.untagged(line[2:])

    def untagged(self, line):
        m = re.match(rb"(\d+) (EXISTS|EXPUNGE|RECENT|FETCH)\b ?(.*)", line)
        if line.startswith(b"FLAGS ("):
            self.keywords = {f for f in line[7:-1].decode().split() if not f.startswith("\\")}
            return
        if line.startswith(b"BYE") and not self.leaving:
            error(self.name, f"BYE {line!r}")
            return
        if not m:
            return
        n, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        if kind == b"EXISTS":
            if n < len(self.view):
                error(self.name, f"EXISTS went from {len(self.view)} to {n} without EXPUNGE")
            self.view.extend([None, None] for _ in range(n - len(self.view)))
        elif kind == b"EXPUNGE":
            if not 1 <= n <= len(self.view):
                error(self.name, f"EXPUNGE {n} with {len(self.view)} messages")
            else:
                del self.view[n - 1]
        elif kind == b"RECENT":
            if n > len(self.view):
                error(self.name, f"RECENT {n} exceeds EXISTS {len(self.view)}")
        else:
            if not 1 <= n <= len(self.view):
                error(self.name, f"FETCH {n} with {len(self.view)} messages: {line!r}")
                return
            entry = self.view[n - 1]
            uid = re.search(rb"UID (\d+)", rest)
            if uid:
                uid = int(uid.group(1))
                if entry[0] is not None and entry[0] != uid:
                    error(self.name, f"message {n} was UID {entry[0]}, now {uid}")
                entry[0] = uid
            flags = re.search(rb"FLAGS \(([^)]*)\)", rest)
            if flags:
                entry[1] = set(flags.group(1).decode().split()) - {"\\Recent"}
                for k in entry[1]:
                    if not k.startswith("\\") and k not in self.keywords:
                        error(self.name, f"keyword {k} shown before FLAGS announced it")
                if entry[0] is not None:
                    self.fetched[entry[0]] = entry[1]

    def fill(self):
        """Learns the UIDs and flags of messages known only by EXISTS."""
        if any(e[0] is None or e[1] is None for e in self.view):
            self.command("FETCH 1:* (UID FLAGS)")

    def state(self):
        self.fill()
        return {uid: frozenset(flags) for uid, flags in self.view}

    def select(self):
        self.view = []
        self.command("SELECT INBOX")
        self.fill()


def message(who, n):
    body = f"Compte rendu {n} de la session {who}.\r\n" * 8
    text = f"From: {address(LOCAL)}\r\nTo: {address(LOCAL)}\r\nSubject: essai {who} {n}\r\n\r\n{body}"
    return text.encode()


def one_operation(s, rng, n):
    uids = [uid for uid, _ in s.view if uid is not None]
    choice = rng.random()
    if choice < 0.25 or not uids or (choice < 0.35 and len(uids) < MOST):
        m = message(s.name, n)
        flags = " ".join(rng.sample(SHARED, rng.randint(0, 2)))
        s.command(b"APPEND INBOX (" + flags.encode() + b") {%d+}\r\n" % len(m) + m)
        return
    uid = rng.choice(uids)
    if choice < 0.45:
        # Its own keyword: nobody else removes it, so the answer must show it.
        s.command(f"UID STORE {uid} +FLAGS ({s.own})")
        if uid in s.fetched and s.own not in s.fetched[uid]:
            error(s.name, f"UID STORE {uid} +FLAGS ({s.own}) answered flags without it: {s.fetched[uid]}")
    elif choice < 0.50:
        s.command(f"UID STORE {uid} -FLAGS ({s.own})")
    elif choice < 0.65:
        sign = rng.choice("+-")
        s.command(f"UID STORE {uid} {sign}FLAGS ({rng.choice(SHARED)})")
    elif choice < 0.72 and len(uids) < MOST:
        s.command(f"UID COPY {uid} INBOX")
    elif choice < 0.80:
        s.command(f"UID MOVE {uid} Archives")
    elif choice < 0.86:
        # By sequence number: a message another session expunged meanwhile is still in this
        # view; the answer is OK (EXPUNGEISSUED), never a server fault.
        s.command(f"FETCH {rng.randint(1, len(s.view))} (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    elif choice < 0.94 or len(uids) >= MOST:
        s.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        s.command(f"UID EXPUNGE {uid}")
    else:
        s.command("NOOP")


def main():
    setup = Session("setup")
    setup.command("CREATE Archives", expect_ok=False)
    sessions = [Session(f"s{i}", own_keyword=f"$Session{i}") for i in range(SESSIONS)]
    for s in sessions:
        s.select()
    pause, stop = threading.Event(), threading.Event()
    barrier = threading.Barrier(SESSIONS + 1)
    states = {}

    def worker(s, seed):
        rng = random.Random(seed)
        n = 0
        while True:
            while not pause.is_set():
                one_operation(s, rng, n)
                n += 1
                operations[0] += 1
            barrier.wait()  # everyone stopped
            s.command("NOOP")
            states[s.name] = s.state()
            barrier.wait()  # every view taken
            barrier.wait()  # compared
            if stop.is_set():
                return

    threads = [threading.Thread(target=worker, args=(s, i), daemon=True) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    checkpoints = 0
    deadline = time.monotonic() + SECONDS
    while True:
        time.sleep(max(0.0, min(CHECKPOINT, deadline - time.monotonic())))
        last = time.monotonic() >= deadline
        if last:
            stop.set()
        pause.set()
        barrier.wait()
        barrier.wait()
        fresh = Session(f"check{checkpoints}")
        fresh.select()
        truth = fresh.state()
        fresh.leaving = True
        fresh.command("LOGOUT")
        for name, state in sorted(states.items()):
            if state != truth:
                missing = sorted(set(truth) - set(state))[:5]
                extra = sorted(set(state) - set(truth))[:5]
                flags = [u for u in truth if u in state and truth[u] != state[u]][:5]
                error(name, f"checkpoint {checkpoints}: view differs from the store (missing {missing}, "
                            f"extra {extra}, other flags on {flags})")
        checkpoints += 1
        pause.clear()
        barrier.wait()
        if last:
            break
    for t in threads:
        t.join()
    for e in errors[:50]:
        print(e)
    print(f"stress: {SESSIONS} sessions, {SECONDS:.0f} s, {operations[0]} operations, "
          f"{checkpoints} checkpoints, {len(errors)} errors")
    sys.exit(1 if errors else 0)


main()

#!/usr/bin/env python3
"""Runner for Dovecot imaptest-style scripted IMAP compliance tests.

Standard library only (Python 3.11).  Each script file in --scripts DIR is a
"group": optional header lines (state/messages/connections/capabilities/
user N/ignore_extra_untagged), a blank line, then command groups with expected
tagged and untagged replies.  See the report/--help for the supported syntax.

Usage:
  run_imaptest.py --host H --port P [--tls] [--cafile F] --user U --password P
                  [--user2 U2 --password2 P2] --scripts DIR [--only NAME ...]
                  [--json out.json] [-v]
  run_imaptest.py --parse-only --scripts DIR
"""

import argparse
import json
import os
import random
import re
import select
import socket
import ssl
import sys
import time
import urllib.parse

CMD_TIMEOUT = 10.0        # seconds per command
GROUP_TIMEOUT = 300.0     # hard cap for one script

STATES = ["nonauth", "auth", "created", "appended", "selected"]

# ---------------------------------------------------------------- helpers

_UP = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def up(s):
    return s.translate(_UP)


def ieq(a, b):
    return up(a) == up(b)


def is_var_char(c):
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9")


class ParseError(Exception):
    pass


class Disconnected(Exception):
    pass


class Timeout(Exception):
    pass


class TestFailure(Exception):
    pass


class TestSkip(Exception):
    pass


# ---------------------------------------------------------------- IMAP args
# An arg is a tuple: ("atom", s) ("str", s) ("lit", s) ("nil", None)
# ("list", [args...]).  Strings are latin-1 decoded so bytes survive.

LIT_RE = re.compile(r"~?\{(\d+)\+?\}\r?\n")


def parse_imap(text, pos=0):
    """Parse IMAP args from text (literals inline as {N}CRLF<data>).
    Returns the top-level list.  Raises ParseError."""
    stack = [[]]
    n = len(text)
    i = pos
    while i < n:
        c = text[i]
        if c == " " or c == "\r" or c == "\n":
            i += 1
            continue
        if c == "(":
            stack.append([])
            i += 1
            continue
        if c == ")":
            if len(stack) == 1:
                # stray ')' - treat as part of an atom (ALLCHARS semantics)
                j = i
                while j < n and text[j] not in " \r\n":
                    j += 1
                stack[-1].append(("atom", text[i:j]))
                i = j
                continue
            lst = stack.pop()
            stack[-1].append(("list", lst))
            i += 1
            continue
        if c == '"':
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    raise ParseError("unterminated quoted string")
                d = text[j]
                if d == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                if d == '"':
                    break
                buf.append(d)
                j += 1
            stack[-1].append(("str", "".join(buf)))
            i = j + 1
            continue
        if c == "{" or (c == "~" and text.startswith("{", i + 1)):
            m = LIT_RE.match(text, i)
            if m:
                size = int(m.group(1))
                start = m.end()
                if start + size > n:
                    raise ParseError("literal data truncated")
                stack[-1].append(("lit", text[start:start + size]))
                i = start + size
                continue
            if c == "{":
                raise ParseError("broken literal at %d" % i)
        # atom
        j = i
        while j < n:
            d = text[j]
            if d in " \r\n":
                break
            if d == ")" and len(stack) > 1:
                break
            j += 1
        atom = text[i:j]
        if up(atom) == "NIL":
            stack[-1].append(("nil", None))
        else:
            stack[-1].append(("atom", atom))
        i = j
    if len(stack) != 1:
        raise ParseError("unbalanced parentheses")
    return stack[0]


def astring(arg):
    if arg is None:
        return None
    if arg[0] in ("atom", "str", "lit"):
        return arg[1]
    return None


def quote_imap(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def args_to_str(args, limit=400):
    out = []
    for a in args:
        t = a[0]
        if t == "atom":
            out.append(a[1])
        elif t == "nil":
            out.append("NIL")
        elif t == "str":
            out.append(quote_imap(a[1]))
        elif t == "lit":
            if len(a[1]) > 200:
                out.append("{%d}<%s...>" % (len(a[1]), a[1][:60].encode("unicode_escape", "replace").decode()))
            else:
                out.append(quote_imap(a[1]).replace("\r", "\\r").replace("\n", "\\n"))
        elif t == "list":
            out.append("(" + args_to_str(a[1], limit=10 ** 9) + ")")
    s = " ".join(out)
    if len(s) > limit:
        s = s[:limit] + "..."
    return s


# ---------------------------------------------------------------- script model

MUST, MUST_NOT, MAY = "*", "!", "?"


class Command:
    def __init__(self, linenum, tag, reply, segments):
        self.linenum = linenum
        self.tag = tag              # script tag number (0 = none)
        self.reply = reply          # list of args or None
        self.segments = segments    # list of ("text", s) / ("lit", data, binary)
        self.cur_tag = None         # tag used on the wire
        self.got_reply = None

    def text(self):
        return "".join(s[1] if s[0] == "text" else "{%d}" % len(s[1]) for s in self.segments)


class CmdGroup:
    def __init__(self):
        self.commands = []
        self.untagged = []          # (existence, args)
        self.conn_idx = 0
        self.replies_pending = 0
        self.ordered = False
        self.sleep_ms = 0
        self.output = []
        self.have_bye = False


class Script:
    def __init__(self, name, path, mbox):
        self.name = name
        self.path = path
        self.mbox = mbox
        self.state = "selected"
        self.connections = 1
        self.messages = 0           # None = all
        self.capabilities = []
        self.users = {}             # conn idx (0-based) -> username template
        self.require_user2 = False
        self.ignore_extra_untagged = True
        self.groups = []
        self.banner_check = False


REPLY_WORDS = {"ok": "ok", "no": "no", "bad": "bad", '""': ""}


class DirCtx:
    def __init__(self, parent, reply_name, prev_atom=None, parent_chain_idx=0):
        self.parent = parent
        self.reply_name = reply_name
        self.prev_atom = prev_atom
        self.parent_chain_idx = parent_chain_idx
        self.chain_count = 1
        self.directives = False


def _is_directive(a):
    return a[0] == "atom" and a[1].startswith("$!")


def _apply_directives(ctx, items):
    """Validate explicit $! directives and add imaptest's default ones."""
    k = 0
    while k < len(items) and _is_directive(items[k]):
        d = items[k][1][2:]
        if d.startswith("unordered"):
            rest = d[9:]
            if rest == "":
                pass
            elif rest.startswith("=") and rest[1:].isdigit():
                ctx.chain_count = int(rest[1:])
            else:
                raise ParseError("Broken $!unordered directive")
        elif d in ("ordered", "noextra", "extra") or d.startswith("ignore=") or d.startswith("ban="):
            pass
        else:
            raise ParseError("Unknown directive: " + d)
        ctx.directives = True
        k += 1
    if not ctx.directives and ctx.parent is not None:
        rn = ctx.reply_name
        p = ctx.parent
        ins = []
        if rn in ("list", "lsub"):
            if p.parent is None and p.parent_chain_idx == 0 and ctx.parent_chain_idx == 1:
                ins = ["$!unordered"]
        elif rn == "status":
            if p.parent is None and p.parent_chain_idx == 0 and ctx.parent_chain_idx == 2:
                ins = ["$!unordered=2"]
        elif rn == "fetch":
            if p.parent is None and p.parent_chain_idx == 0 and ctx.parent_chain_idx == 2:
                ins = ["$!unordered=2"]
            elif (p.parent is not None and p.parent.parent is None and
                  p.parent.parent_chain_idx == 0 and p.parent_chain_idx == 2 and
                  ctx.prev_atom == "flags"):
                ins = ["$!ignore=$HasNoAttachment", "$!ignore=$HasAttachment",
                       "$!ignore=\\recent", "$!noextra", "$!unordered"]
                ins.reverse()
        if ins:
            items[0:0] = [("atom", x) for x in ins]
    ndir = 0
    while ndir < len(items) and _is_directive(items[ndir]):
        ndir += 1
    if (len(items) - ndir) % max(ctx.chain_count, 1) != 0:
        raise ParseError("Invalid list argument count, chain size=%d" % ctx.chain_count)
    prev_atom = None
    for i, a in enumerate(items):
        if a[0] == "atom":
            prev_atom = a[1].lower()
        if a[0] != "list":
            continue
        sub = DirCtx(ctx, (ctx.reply_name or "").lower(), prev_atom,
                     i if ctx.chain_count == 1 else i % ctx.chain_count)
        _apply_directives(sub, a[1])


def parse_untagged(text):
    args = parse_imap(text)
    name = ""
    if args and args[0][0] == "atom":
        name = args[0][1]
        if name[:1] == "$" or name[:1].isdigit():
            name = args[1][1] if len(args) > 1 and args[1][0] == "atom" else ""
    ctx = DirCtx(None, name)
    _apply_directives(ctx, args)
    return args, name


def _get_cmd_reply(line):
    """Parse optional 'tagN ' then ok/no/bad/"".  Returns (reply, tag, rest)."""
    tag = 0
    word = line.split(" ", 1)[0]
    rest = line
    if word[:3].lower() == "tag" and " " in line and word[3:].isdigit() and int(word[3:]) > 0:
        tag = int(word[3:])
        rest = line.split(" ", 1)[1]
        word = rest.split(" ", 1)[0]
    reply = None
    lw = word.lower()
    if lw in REPLY_WORDS:
        reply = [("atom", REPLY_WORDS[lw])]
        rest = rest[len(word):]
        if rest.startswith(" "):
            rest = rest[1:]
    return reply, tag, rest


def _untagged_kind(line):
    if line.startswith("* "):
        return MUST
    if line.startswith("! "):
        return MUST_NOT
    if line.startswith("? "):
        return MAY
    return None


def _segments(line, spans, offset):
    """Split a command line into text and literal segments."""
    segs = []
    pos = offset
    for (mstart, mlen, dlen, binary) in spans:
        if mstart < offset:
            continue
        segs.append(("text", line[pos:mstart]))
        data = line[mstart + mlen: mstart + mlen + dlen]
        segs.append(("lit", data, binary))
        pos = mstart + mlen + dlen
    segs.append(("text", line[pos:]))
    return segs


class ScriptParser:
    def __init__(self, script):
        self.s = script
        self.group = None
        self.ifenv = []
        self.skip = False

    def header_line(self, line):
        if ":" not in line:
            raise ParseError("Missing ':'")
        key, value = line.split(":", 1)
        key = key.rstrip(" ").lower()
        value = value.lstrip(" ")
        s = self.s
        if key == "capabilities":
            s.capabilities = value.split()
        elif key == "connections":
            try:
                n = int(value.strip())
            except ValueError:
                n = 0
            if n <= 0 or n > 100:
                raise ParseError("Too many connections")
            s.connections = n
        elif key == "ignore_extra_untagged":
            s.ignore_extra_untagged = value[:1] == "y"
        elif key.startswith("user ") and key[5:].isdigit() and int(key[5:]) > 0:
            idx = int(key[5:])
            if value.strip() in ("$user2", "${user2}"):
                s.require_user2 = True
                value = "$user2"
            s.users[idx - 1] = value.strip()
        elif key == "messages":
            v = value.strip()
            s.messages = None if v == "all" else int(re.match(r"\d*", v).group(0) or 0)
        elif key == "state":
            v = value.strip().lower()
            if v not in STATES:
                raise ParseError("Unknown state value")
            s.state = v
        else:
            raise ParseError("Unknown setting")

    def untagged(self, text, kind):
        g = self.group
        args, name = parse_untagged(text)
        if up(name).startswith("BYE"):
            if kind == MUST:
                g.have_bye = True
            elif kind == MAY:
                raise ParseError("? BYE not currently supported")
        g.untagged.append((kind, args))

    def command_line(self, linenum, line, spans):
        s = self.s
        if line.startswith("!ifenv ") or line.startswith("!ifnenv "):
            env = line.split(" ", 1)[1]
            skip_it = os.environ.get(env) is None
            if line.startswith("!ifnenv "):
                skip_it = not skip_it
            self.ifenv.append([linenum, False, self.skip])
            if skip_it:
                self.skip = True
            return
        if line == "!else":
            if not self.ifenv:
                raise ParseError("!else without !ifenv")
            if self.ifenv[-1][1]:
                raise ParseError("!else already seen")
            self.ifenv[-1][1] = True
            if not self.ifenv[-1][2]:
                self.skip = not self.skip
            return
        if line == "!endif":
            if not self.ifenv:
                raise ParseError("!endif without !ifenv")
            self.skip = self.ifenv.pop()[2]
            return
        if self.skip:
            return
        g = self.group
        if g is not None:
            if line.startswith("!sleep "):
                g.sleep_ms = parse_interval_ms(line[7:])
                return
            if line.startswith("!output "):
                g.output.append(line[8:])
                return
            if line == "!ordered":
                g.ordered = True
                return
            kind = _untagged_kind(line)
            if kind:
                self.untagged(line[2:], kind)
                return
            if g.replies_pending > 0:
                rest = line
                conn_idx = 0
                if s.connections > 1:
                    w = rest.split(" ", 1)
                    if w[0].isdigit() and int(w[0]) > 0:
                        conn_idx = int(w[0])
                        rest = w[1] if len(w) > 1 else ""
                reply, tag, _r = _get_cmd_reply(rest)
                if reply is not None:
                    if s.connections > 1:
                        if conn_idx == 0:
                            raise ParseError("Missing client index")
                        if conn_idx - 1 != g.conn_idx:
                            raise ParseError("Reply for wrong connection")
                    cmd = None
                    for c in g.commands:
                        if c.tag == tag:
                            cmd = c
                            break
                    if cmd is None:
                        raise ParseError("Reply for unknown tag")
                    if cmd.reply is not None:
                        raise ParseError("Command already has a reply")
                    args = parse_imap(rest)
                    cmd.reply = args[1:] if tag else args
                    if not cmd.reply:
                        raise ParseError("empty reply")
                    g.replies_pending -= 1
                    return
        if g is None or g.replies_pending == 0:
            g = CmdGroup()
            self.group = g
            s.groups.append(g)
        offset = 0
        if s.connections > 1:
            w = line.split(" ", 1)
            if not w[0].isdigit() or int(w[0]) == 0:
                raise ParseError("Missing client index")
            ci = int(w[0])
            if ci > 100:
                raise ParseError("Too many connections")
            if g.commands and g.conn_idx != ci - 1:
                raise ParseError("All pipelined commands must use the same connection")
            g.conn_idx = ci - 1
            if s.connections < ci:
                s.connections = ci
            offset = len(w[0]) + 1 if len(w) > 1 else len(line)
        rest = line[offset:]
        reply, tag, rest2 = _get_cmd_reply(rest)
        offset += len(rest) - len(rest2)
        rest = rest2
        if tag == 0:
            if g.replies_pending > 0:
                raise ParseError("Missing reply from previous command group")
        else:
            if any(c.tag == tag for c in g.commands):
                raise ParseError("Tag reused within command group")
        if not g.commands:
            kind = _untagged_kind(rest)
            if kind:
                s.banner_check = True
                self.untagged(rest[2:], kind)
                return
        if reply is None:
            g.replies_pending += 1
        g.commands.append(Command(linenum, tag, reply, _segments(line, spans, offset)))

    def parse(self, data):
        text = data.decode("latin-1")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        header = True
        continues = False
        binary = False
        multiline = ""
        start_pos = last_line_end = 0
        spans = []
        start_linenum = 0
        linenum = 0
        for raw in lines:
            linenum += 1
            line = raw
            if continues:
                if not line.startswith("}}}"):
                    multiline += line
                    last_line_end = len(multiline)
                    multiline += "\n" if binary else "\r\n"
                    continue
                multiline = multiline[:last_line_end]
                line = line[3:]
                data_len = len(multiline) - start_pos
                marker = "%s{%d}\r\n" % ("~" if binary else "", data_len)
                multiline = multiline[:start_pos] + marker + multiline[start_pos:]
                spans.append((start_pos, len(marker), data_len, binary))
                if line.endswith("{{{"):
                    body = line[:-3]
                    binary = body.endswith("~")
                    if binary:
                        body = body[:-1]
                    multiline += body
                    start_pos = last_line_end = len(multiline)
                    continue
                multiline += line
                line = multiline
                continues = False
            else:
                start_linenum = linenum
                if line.endswith("\r"):
                    line = line[:-1]
                if line == "":
                    header = False
                    continue
                if line.startswith("#"):
                    continue
                if line.endswith("{{{"):
                    body = line[:-3]
                    binary = body.endswith("~")
                    if binary:
                        body = body[:-1]
                    multiline = body
                    spans = []
                    start_pos = last_line_end = len(multiline)
                    continues = True
                    continue
                spans = []
            try:
                if header:
                    self.header_line(line)
                else:
                    self.command_line(start_linenum, line, spans)
            except ParseError as e:
                raise ParseError("line %d: %s" % (linenum, e))
            except (IndexError, ValueError) as e:
                raise ParseError("line %d: %s" % (linenum, e))
        if continues:
            raise ParseError("Multiline reply at line %d not ended" % start_linenum)
        if self.group is None:
            raise ParseError("No commands in file")
        if self.group.replies_pending > 0:
            raise ParseError("Missing reply from previous command")
        if self.ifenv:
            raise ParseError("!ifenv at line %d not closed" % self.ifenv[0][0])
        # implicit LOGOUT unless the script logs out itself
        has_logout = False
        for g in self.s.groups:
            if g.have_bye:
                has_logout = True
            for c in g.commands:
                if c.text().strip().lower() == "logout":
                    has_logout = True
        if not has_logout:
            g = CmdGroup()
            g.commands.append(Command(0, 0, [("atom", "ok")], [("text", "logout")]))
            self.s.groups.append(g)


def parse_interval_ms(v):
    m = re.match(r"\s*(\d+)\s*([a-z]*)", v)
    if not m:
        raise ParseError("Invalid !sleep value")
    n = int(m.group(1))
    unit = m.group(2)
    mult = {"": 1, "ms": 1, "msec": 1, "msecs": 1, "s": 1000, "sec": 1000, "secs": 1000,
            "m": 60000, "min": 60000, "mins": 60000}.get(unit)
    if mult is None:
        raise ParseError("Invalid !sleep unit")
    return n * mult


def load_scripts(directory):
    names = sorted(n for n in os.listdir(directory)
                   if not n.startswith(".") and not n.endswith(".mbox"))
    default_mbox = os.path.join(directory, "default.mbox")
    out = []
    for n in names:
        path = os.path.join(directory, n)
        if os.path.isdir(path) or n.startswith("COPYING") or n.upper().startswith("README"):
            continue
        mbox = path + ".mbox"
        if not os.path.exists(mbox):
            mbox = default_mbox
        s = Script(n, path, mbox)
        err = None
        try:
            with open(path, "rb") as f:
                ScriptParser(s).parse(f.read())
        except ParseError as e:
            err = str(e)
        out.append((s, err))
    return out


# ---------------------------------------------------------------- mbox source

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FROM_RE = re.compile(r"^From \S+\s+\w{3} (\w{3})\s+(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (\d{4})(?:\s+([+-]\d{4}))?")


def parse_mbox(path):
    with open(path, "rb") as f:
        text = f.read().decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    msgs = []
    cur = None
    date = None
    for line in lines:
        m = FROM_RE.match(line) if line.startswith("From ") else None
        if m and (cur is None or cur):
            if cur is not None:
                msgs.append((date, "".join(cur)))
            mon, day, hh, mm, ss, year, tz = m.groups()
            date = "%02d-%s-%s %02d:%s:%s %s" % (int(day), mon, year, int(hh), mm, ss, tz or "+0000")
            cur = []
            continue
        if cur is None:
            continue
        cur.append(line.rstrip("\r") + "\r\n")
    if cur:
        msgs.append((date, "".join(cur)))
    return msgs


class MboxSource:
    def __init__(self, path):
        self.msgs = parse_mbox(path)
        self.idx = 0

    def eof(self):
        return self.idx >= len(self.msgs)

    def next(self):
        if not self.msgs:
            raise TestFailure("empty mbox")
        if self.idx >= len(self.msgs):
            self.idx = 0
        m = self.msgs[self.idx]
        self.idx += 1
        return m


# ---------------------------------------------------------------- connection

class Conn:
    def __init__(self, runner, idx, username, password):
        self.runner = runner
        self.idx = idx
        self.username = username
        self.password = password
        self.sock = None
        self.buf = b""
        self.closed = False
        self.tagn = 0
        self.msgcount = 0
        self.seen_bye = False
        self.banner = None
        self.caps = []

    def log(self, direction, data):
        if self.runner.verbose:
            s = data if isinstance(data, str) else data.decode("latin-1")
            if len(s) > 2000:
                s = s[:2000] + "...(%d bytes)" % len(s)
            sys.stderr.write("[%d] %s %s\n" % (self.idx + 1, direction, s.rstrip("\r\n")))

    def connect(self):
        o = self.runner.opts
        try:
            s = socket.create_connection((o.host, o.port), timeout=CMD_TIMEOUT)
            if o.tls:
                ctx = ssl.create_default_context(cafile=o.cafile) if o.cafile else ssl._create_unverified_context()
                if o.cafile:
                    ctx.check_hostname = False
                s = ctx.wrap_socket(s, server_hostname=o.host)
        except (OSError, ssl.SSLError) as e:
            raise Disconnected("connect failed: %s" % e)
        self.sock = s
        line = self.read_response(time.time() + CMD_TIMEOUT)
        self.banner = line
        args = line[1]
        if line[0] != "untagged" or not args or up(astring(args[0]) or "") not in ("OK", "PREAUTH"):
            raise Disconnected("bad greeting: %s" % args_to_str(args))
        self.preauth = up(astring(args[0]) or "") == "PREAUTH"
        self._caps_from_code(args)

    def _caps_from_code(self, args):
        if len(args) > 1 and args[1][0] == "atom" and up(args[1][1]) == "[CAPABILITY":
            caps = []
            for a in args[2:]:
                s = astring(a) or ""
                if s.endswith("]"):
                    if s[:-1]:
                        caps.append(s[:-1])
                    break
                caps.append(s)
            self.caps = caps

    def send(self, data):
        if self.closed:
            raise Disconnected("connection closed")
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.log("C:", data)
        try:
            self.sock.settimeout(CMD_TIMEOUT)
            self.sock.sendall(data)
        except OSError as e:
            self.closed = True
            raise Disconnected("send failed: %s" % e)

    def _fill(self, deadline):
        if self.closed:
            raise Disconnected("connection closed")
        remaining = deadline - time.time()
        if remaining <= 0:
            raise Timeout("timeout waiting for server")
        try:
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout("timeout waiting for server")
        except (OSError, ssl.SSLError) as e:
            self.closed = True
            raise Disconnected("recv failed: %s" % e)
        if not data:
            self.closed = True
            raise Disconnected("server closed connection")
        self.buf += data

    def _readline(self, deadline):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = self.buf[:i + 1]
                self.buf = self.buf[i + 1:]
                return line.decode("latin-1")
            self._fill(deadline)

    def _readn(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        d = self.buf[:n]
        self.buf = self.buf[n:]
        return d.decode("latin-1")

    def read_response(self, deadline):
        """Returns (kind, args_or_text, tag) with kind untagged/tagged/cont."""
        parts = []
        while True:
            line = self._readline(deadline)
            parts.append(line)
            body = line.rstrip("\r\n")
            m = re.search(r"~?\{(\d+)\+?\}$", body)
            if m:
                parts.append(self._readn(int(m.group(1)), deadline))
                continue
            break
        raw = "".join(parts)
        self.log("S:", raw)
        if raw.startswith("+"):
            return ("cont", raw, None)
        sp = raw.find(" ")
        tag = raw[:sp] if sp > 0 else raw.strip()
        rest = raw[sp + 1:] if sp > 0 else ""
        try:
            args = parse_imap(rest)
        except ParseError:
            args = [("atom", w) for w in rest.split()]
        if tag == "*":
            self._track(args)
            return ("untagged", args, None)
        return ("tagged", args, tag)

    def _track(self, args):
        if len(args) >= 2 and args[0][0] == "atom" and args[0][1].isdigit() and args[1][0] == "atom":
            n = int(args[0][1])
            w = up(args[1][1])
            if w == "EXISTS":
                self.msgcount = n
            elif w == "EXPUNGE":
                self.msgcount = max(0, self.msgcount - 1)
        elif args and args[0][0] == "atom":
            w = up(args[0][1])
            if w == "BYE":
                self.seen_bye = True
            elif w == "CAPABILITY":
                self.caps = [astring(a) or "" for a in args[1:]]
            elif w in ("OK",):
                self._caps_from_code(args)

    def next_tag(self):
        self.tagn += 1
        return "%d.%d" % (self.idx + 1, self.tagn)

    def simple(self, cmdline, deadline=None, on_untagged=None):
        """Send a command without literals; return (status, args)."""
        deadline = deadline or time.time() + CMD_TIMEOUT
        tag = self.next_tag()
        self.send("%s %s\r\n" % (tag, cmdline))
        while True:
            kind, args, rtag = self.read_response(deadline)
            if kind == "untagged":
                if on_untagged:
                    on_untagged(args)
            elif kind == "tagged" and rtag == tag:
                st = up(astring(args[0]) or "") if args else ""
                return st, args

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.closed = True


# ---------------------------------------------------------------- execution

FULL = 1 << 30


class Exec:
    def __init__(self, runner, script):
        self.runner = runner
        self.s = script
        self.vars = {}
        self.added = []
        self.seqmap = []
        self.hi_modseq_idx = 0
        self.hi_modseq_val = 0
        self.conns = []
        self.deadline_total = time.time() + GROUP_TIMEOUT
        self.group_idx = 0

    # ---- variable expansion
    def relseq(self, n):
        if n == 0:
            return "<zero seq>"
        if n > len(self.seqmap):
            return "<out of range>"
        if self.seqmap[n - 1] == 0:
            return "<expunged>"
        return str(self.seqmap[n - 1])

    def expand_all(self, line, skip_uninit=False):
        if "$" not in line:
            return line
        out = []
        i = 0
        n = len(line)
        while i < n:
            c = line[i]
            if c != "$" or i == n - 1:
                out.append(c)
                i += 1
                continue
            i += 1
            c = line[i]
            if c == "$":
                out.append("$")
                i += 1
                continue
            if c == "!":
                while i < n and line[i] != " ":
                    i += 1
                i += 1
                continue
            if c == "{":
                j = line.find("}", i + 1)
                if j < 0:
                    raise TestFailure("Missing '}'")
                name = line[i + 1:j]
                i = j + 1
            else:
                j = i
                while j < n and is_var_char(line[j]):
                    j += 1
                name = line[i:j]
                i = j
            if name.isdigit():
                val = self.relseq(int(name))
            else:
                val = self.vars.get(name)
                if val is None:
                    if not skip_uninit:
                        raise TestFailure("Uninitialized variable: %s" % name)
                    val = "$"
            out.append(val)
        return "".join(out)

    def expand_input(self, pat, inp):
        """Match pattern pat against input, capturing unset variables.
        Returns (expanded or None, icase)."""
        icase = True
        out = []
        i = 0
        j = 0
        n = len(pat)
        while i < n:
            c = pat[i]
            if c != "$" or (i + 1 < n and pat[i + 1] == "$"):
                if c == "$":
                    i += 1
                    c = pat[i]
                if j >= len(inp) or up(c) != up(inp[j]):
                    return None, icase
                j += 1
                out.append(c)
                i += 1
                continue
            i += 1
            if i < n and pat[i] == "{":
                k = pat.find("}", i + 1)
                if k < 0:
                    return "", icase
                name = pat[i + 1:k]
                i = k + 1
            else:
                k = i
                while k < n and is_var_char(pat[k]):
                    k += 1
                name = pat[i:k]
                i = k
            rest = pat[i:]
            if name.isdigit():
                value = self.relseq(int(name))
            elif name.startswith("case:"):
                icase = False
                value = name[5:]
            else:
                value = self.vars.get(name) if name else None
                if value is None:
                    ticase = True
                    if rest[:1] != "$":
                        tmp = rest
                    else:
                        saved = list(self.added)
                        tmp, ticase = self.expand_input(rest, inp[j:])
                        self.added = saved
                        if tmp is None:
                            tmp = ""
                    p = j
                    if tmp:
                        t0 = tmp[0]
                        if ticase:
                            t0 = up(t0)
                            while p < len(inp) and up(inp[p]) != t0:
                                p += 1
                        else:
                            while p < len(inp) and inp[p] != t0:
                                p += 1
                    else:
                        p = len(inp)
                    value = inp[j:p]
                    if name == "":
                        pass
                    elif name.startswith("modseq") and name[6:].isdigit():
                        value = self._modseq(int(name[6:]), value)
                        self.vars[name] = value
                    else:
                        self.vars[name] = value
                        self.added.append(name)
            out.append(value)
            if inp[j:j + len(value)] != value:
                return None, icase
            j += len(value)
        return "".join(out), icase

    def _modseq(self, idx, value):
        if not value.isdigit():
            return "$modseq-not-number"
        v = int(value)
        if self.hi_modseq_idx > idx:
            return "$modseq-order-mismatch"
        least = self.hi_modseq_val + (idx - self.hi_modseq_idx)
        ret = value
        if v < least:
            ret = "$modseq-at-least-%d" % least
            v = least
        self.hi_modseq_idx = idx
        self.hi_modseq_val = v
        return ret

    # ---- matching
    def match_list(self, match, args):
        unordered = False
        chain = 1
        ignores = []
        bans = []
        noextra = -1
        k = 0
        while k < len(match) and _is_directive(match[k]):
            d = match[k][1][2:]
            if d.startswith("unordered"):
                unordered = True
                if noextra == -1:
                    noextra = 0
                if d[9:10] == "=":
                    chain = int(d[10:] or 1) or 1
            elif d == "ordered":
                unordered = False
            elif d == "extra":
                noextra = 0
            elif d == "noextra":
                noextra = 1
            elif d.startswith("ignore="):
                ignores.append(d[7:])
            elif d.startswith("ban="):
                bans.append(d[4:])
            k += 1
        match = match[k:]
        if noextra == -1:
            noextra = 1
        if not unordered:
            return self.match_args(match, args, FULL, False)
        if len(args) % chain != 0:
            return 0
        matched = [False] * len(args)
        ret = 0
        for mi in range(0, len(match), chain):
            found = False
            for ai in range(0, len(args), chain):
                if self.match_args(match[mi:mi + chain], args[ai:ai + chain], chain, False) == FULL:
                    matched[ai] = True
                    found = True
                    break
            if not found:
                return ret
            ret += 1
        if noextra > 0:
            for ai in range(0, len(args), chain):
                if matched[ai]:
                    continue
                s = astring(args[ai])
                if s is None:
                    continue
                if not any(ieq(x, s) for x in ignores):
                    return ret
        elif bans:
            for ai in range(0, len(args), chain):
                if matched[ai]:
                    continue
                s = astring(args[ai])
                if s is None:
                    continue
                if any(ieq(x, s) for x in bans):
                    return ret
        return FULL

    def match_args(self, match, args, maxn, prefix):
        ret = 0
        mi = ai = 0
        while mi < len(match) and maxn > 0:
            m = match[mi]
            a = args[ai] if ai < len(args) else None
            t = m[0]
            if t == "nil":
                if a is None or a[0] != "nil":
                    return ret
            elif t in ("atom", "str", "lit"):
                ms = m[1]
                if ms == "$" and a is not None and a[0] == "list":
                    pass
                elif ms == "$]":
                    while ai < len(args) and args[ai][0] == "atom" and "]" not in args[ai][1]:
                        ai += 1
                else:
                    s = astring(a)
                    if s is None:
                        return ret
                    exp, icase = self.expand_input(ms, s)
                    if exp is None:
                        return ret
                    if prefix and mi == len(match) - 1:
                        ok = up(s).startswith(up(exp)) if icase else s.startswith(exp)
                    else:
                        ok = ieq(s, exp) if icase else s == exp
                    if not ok:
                        return ret
            elif t == "list":
                if a is None or a[0] != "list":
                    return ret
                sub = self.match_list(m[1], a[1])
                if sub != FULL:
                    return ret + sub
            ret += 1
            mi += 1
            ai += 1
            maxn -= 1
        if prefix or ai >= len(args) or maxn == 0:
            return FULL
        return ret

    # ---- group execution state
    def _handle_untagged(self, g, st, conn, args):
        if not g.untagged:
            if not self.s.ignore_extra_untagged and not st["logout"]:
                st["mismatch"] += 1
                if st["first_extra"] is None:
                    st["first_extra"] = args_to_str(args)
            self._post_untagged(args)
            return
        prefix = bool(args) and args[0][0] == "atom" and up(args[0][1]) in ("OK", "NO", "BAD", "BYE")
        tag = g.commands[0].cur_tag if g.commands else None
        self.added = []
        found_some = False
        for i, (kind, uargs) in enumerate(g.untagged):
            if st["found"][i]:
                continue
            if tag is not None:
                self.vars["tag"] = tag
            cnt = self.match_args(uargs, args, FULL, prefix)
            if tag is not None:
                self.vars.pop("tag", None)
            if cnt == FULL:
                if kind == MUST_NOT:
                    raise TestFailure("Unexpected untagged match:\n    match: %s\n    reply: %s"
                                      % (args_to_str(uargs), args_to_str(args)))
                st["found"][i] = True
                found_some = True
                self.added = []
                if g.ordered:
                    break
                continue
            if st["maybe"][i][0] < cnt:
                st["maybe"][i] = (cnt, args_to_str(args))
            for name in self.added:
                self.vars.pop(name, None)
            self.added = []
            if g.ordered and kind == MUST:
                break
        if not found_some:
            st["mismatch"] += 1
            if not self.s.ignore_extra_untagged and st["first_extra"] is None:
                st["first_extra"] = args_to_str(args)
        self._post_untagged(args)

    def _post_untagged(self, args):
        if len(args) >= 2 and args[0][0] == "atom" and args[0][1].isdigit() and \
                args[1][0] == "atom" and up(args[1][1]) == "EXPUNGE":
            seq = int(args[0][1])
            if seq <= len(self.seqmap):
                for i in range(seq - 1, len(self.seqmap)):
                    if self.seqmap[i] >= seq:
                        if self.seqmap[i] == seq:
                            self.seqmap[i] = 0
                        else:
                            self.seqmap[i] -= 1

    def _handle_tagged(self, g, st, conn, args, rtag):
        cmd = None
        for c in g.commands:
            if c.cur_tag == rtag and c.got_reply is None:
                cmd = c
                break
        if cmd is None:
            # reply to something else (e.g. stale); ignore
            return None
        cmd.got_reply = args
        status = up(astring(args[0]) or "") if args else ""
        if status in ("OK", "NO", "BAD") and _cmd_word(cmd) in ("close", "unselect") and status == "OK":
            conn.msgcount = 0
        self.vars["tag"] = rtag
        cnt = self.match_args(cmd.reply, args, FULL, True)
        self.vars.pop("tag", None)
        if cnt != FULL:
            raise TestFailure("Expected tagged reply '%s', got '%s'"
                              % (args_to_str(cmd.reply), args_to_str(args)))
        return cmd

    def _dispatch(self, g, st, conn, resp):
        kind, args, rtag = resp
        if kind == "untagged":
            self._handle_untagged(g, st, conn, args)
        elif kind == "tagged":
            self._handle_tagged(g, st, conn, args, rtag)
        return kind

    def _deadline(self):
        return min(time.time() + CMD_TIMEOUT, self.deadline_total)

    def _send_command(self, g, st, conn, cmd):
        """Send one command; sync literals wait for '+'."""
        cmd.cur_tag = conn.next_tag()
        cmd.got_reply = None
        segs = []
        for seg in cmd.segments:
            if seg[0] == "text":
                segs.append(("text", self.expand_all(seg[1])))
            else:
                segs.append(seg)
        first = segs[0][1] if segs and segs[0][0] == "text" else ""
        single = len(segs) == 1
        low = first.strip()
        # APPEND without a message body: take the next message from the mbox
        if single and up(low) == "APPEND":
            date, msg = self.source.next()
            segs = [("text", "APPEND %s \"%s\" " % (quote_imap(self.vars["mailbox"]), date)),
                    ("lit", msg, False), ("text", "")]
        elif single and up(low).startswith("APPEND ") and not _append_has_body(low[7:]):
            date, msg = self.source.next()
            segs = [("text", low + " "), ("lit", msg, False), ("text", "")]
        pieces = []
        cur = cmd.cur_tag + " "
        for seg in segs:
            if seg[0] == "text":
                cur += seg[1]
            else:
                cur += "%s{%d}\r\n" % ("~" if seg[2] else "", len(seg[1]))
                pieces.append(cur)
                cur = seg[1]
        cur += "\r\n"
        for p in pieces:
            conn.send(p)
            # wait for continuation (or a tagged reply rejecting the command)
            while True:
                resp = conn.read_response(self._deadline())
                if resp[0] == "cont":
                    break
                self._dispatch(g, st, conn, resp)
                if cmd.got_reply is not None:
                    return
        conn.send(cur)

    def run_group(self, g):
        conn = self.conns[g.conn_idx]
        st = {"found": [False] * len(g.untagged), "maybe": [(0, "")] * len(g.untagged),
              "mismatch": 0, "first_extra": None, "logout": False}
        st["maybe"] = [(0, "") for _ in g.untagged]
        self.seqmap = list(range(1, conn.msgcount + 1))
        if not g.commands:
            # banner check
            if conn.banner is not None:
                self._handle_untagged(g, st, conn, conn.banner[1])
            self._finish_group(g, st)
            return
        if conn.closed:
            raise TestFailure("connection %d already closed" % (g.conn_idx + 1))
        for cmd in g.commands:
            w = _cmd_word(cmd)
            if w == "logout" or cmd.linenum == 0 or g.have_bye:
                st["logout"] = True
        try:
            for cmd in g.commands:
                self._send_command(g, st, conn, cmd)
            while any(c.got_reply is None for c in g.commands):
                resp = conn.read_response(self._deadline())
                self._dispatch(g, st, conn, resp)
        except Disconnected as e:
            if g.have_bye and conn.seen_bye:
                for c in g.commands:
                    if c.got_reply is None and not (len(c.reply) == 1 and c.reply[0][1] == ""):
                        raise TestFailure("Command expected '%s' as tagged reply - only \"\" allowed "
                                          "when BYE happens" % args_to_str(c.reply))
            elif all(c.got_reply is not None for c in g.commands):
                pass
            else:
                raise TestFailure("Unexpected disconnection (%s)" % e)
        except Timeout:
            raise TestFailure("Timeout waiting for reply (%d s per command)" % int(CMD_TIMEOUT))
        self._finish_group(g, st)

    def _finish_group(self, g, st):
        missing = [i for i, (k, a) in enumerate(g.untagged) if k == MUST and not st["found"][i]]
        if missing:
            i = missing[0]
            exp = args_to_str(g.untagged[i][1])
            try:
                expanded = self.expand_all(args_to_str(_strip_directives(g.untagged[i][1])), True)
            except TestFailure:
                expanded = exp
            raise TestFailure("Missing %d untagged replies (%d mismatches)\n    first unexpanded: %s\n"
                              "    first expanded: %s\n    best match: %s"
                              % (len(missing), st["mismatch"], exp, expanded, st["maybe"][i][1]))
        if st["first_extra"] is not None:
            raise TestFailure("%d unexpected untagged replies received, first: %s"
                              % (st["mismatch"], st["first_extra"]))
        for o in g.output:
            print(self.expand_all(o))
        if g.sleep_ms:
            time.sleep(g.sleep_ms / 1000.0)

    # ---- setup / teardown
    def setup(self):
        r = self.runner
        s = self.s
        o = r.opts
        if s.require_user2 and not o.user2:
            raise TestSkip("needs a second user (--user2)")
        self.source = MboxSource(s.mbox)
        mailbox = self.runner.mailbox_name(s.name)
        self.mailbox = mailbox
        for i in range(s.connections):
            u = s.users.get(i)
            if u == "$user2":
                user, pw = o.user2, o.password2
            elif u:
                user, pw = u, o.password
            else:
                user, pw = o.user, o.password
            c = Conn(r, i, user, pw)
            self.conns.append(c)
            key = "" if i == 0 else str(i + 1)
            self.vars["user" + key] = user
            self.vars["username" + key] = user.split("@", 1)[0]
            self.vars["domain" + key] = user.split("@", 1)[1] if "@" in user else o.host
            self.vars["password" + key] = pw
        self.vars["mailbox"] = mailbox
        self.vars["mailbox_url"] = urllib.parse.quote(mailbox, safe="!$&'()*+,=:@-._~")
        try:
            for c in self.conns:
                c.connect()
        except (Disconnected, Timeout) as e:
            raise TestFailure("initialization failed: %s" % e)
        c0 = self.conns[0]
        if s.state == "nonauth":
            caps = c0.caps
            if not caps:
                try:
                    c0.simple("CAPABILITY")
                except (Disconnected, Timeout) as e:
                    raise TestFailure("initialization failed: CAPABILITY: %s" % e)
                caps = c0.caps
            self._check_caps(caps)
            return
        try:
            for c in self.conns:
                if getattr(c, "preauth", False):
                    continue
                stt, args = c.simple("LOGIN %s %s" % (quote_imap(c.username), quote_imap(c.password)))
                if stt != "OK":
                    raise TestFailure("initialization failed: LOGIN %s: %s" % (c.username, args_to_str(args)))
            c0.caps = []
            c0.simple("CAPABILITY")
            self._check_caps(c0.caps)
            self.cleanup_mailboxes(c0)
            if STATES.index(s.state) >= STATES.index("created"):
                stt, args = c0.simple("CREATE %s" % quote_imap(mailbox))
                if stt != "OK":
                    raise TestFailure("initialization failed: CREATE: %s" % args_to_str(args))
            if s.state == "selected":
                count = 0
                while True:
                    if s.messages is None:
                        if self.source.eof():
                            break
                    elif count >= s.messages:
                        break
                    date, msg = self.source.next()
                    self._append_init(c0, mailbox, date, msg)
                    count += 1
                for c in self.conns:
                    c.msgcount = 0
                    stt, args = c.simple("SELECT %s" % quote_imap(mailbox))
                    if stt != "OK":
                        raise TestFailure("initialization failed: SELECT: %s" % args_to_str(args))
        except (Disconnected, Timeout) as e:
            raise TestFailure("initialization failed: %s" % e)

    def _append_init(self, c, mailbox, date, msg):
        tag = c.next_tag()
        c.send("%s APPEND %s \"%s\" {%d}\r\n" % (tag, quote_imap(mailbox), date, len(msg.encode("latin-1"))))
        deadline = time.time() + CMD_TIMEOUT
        while True:
            kind, args, rtag = c.read_response(deadline)
            if kind == "cont":
                break
            if kind == "tagged" and rtag == tag:
                raise TestFailure("initialization failed: APPEND: %s" % args_to_str(args))
        c.send(msg + "\r\n")
        while True:
            kind, args, rtag = c.read_response(deadline)
            if kind == "tagged" and rtag == tag:
                if up(astring(args[0]) or "") != "OK":
                    raise TestFailure("initialization failed: APPEND: %s" % args_to_str(args))
                return

    def _check_caps(self, caps):
        have = set(up(x) for x in caps)
        missing = [x for x in self.s.capabilities if up(x) not in have]
        if missing:
            raise TestSkip("server lacks capabilities: %s" % " ".join(missing))

    def cleanup_mailboxes(self, c):
        mailbox = self.mailbox
        boxes, subs = [], []

        def collect(dest):
            def f(args):
                if len(args) >= 4 and args[0][0] == "atom" and up(args[0][1]) in ("LIST", "LSUB") \
                        and args[1][0] == "list":
                    name = astring(args[3])
                    if name is not None and name not in dest:
                        dest.append(name)
            return f
        pattern = quote_imap(mailbox + "*")
        c.simple('LIST "" %s' % pattern, on_untagged=collect(boxes))
        c.simple('LSUB "" %s' % pattern, on_untagged=collect(subs))
        for b in sorted(boxes, key=up, reverse=True):
            c.simple("DELETE %s" % quote_imap(b))
        for b in sorted(subs, key=up, reverse=True):
            c.simple("UNSUBSCRIBE %s" % quote_imap(b))

    def teardown(self):
        for c in self.conns:
            c.close()
        if STATES.index(self.s.state) == 0 and not self.s.groups:
            return
        try:
            c = Conn(self.runner, 0, self.runner.opts.user, self.runner.opts.password)
            c.connect()
            if not getattr(c, "preauth", False):
                c.simple("LOGIN %s %s" % (quote_imap(c.username), quote_imap(c.password)))
            self.cleanup_mailboxes(c)
            try:
                c.simple("LOGOUT")
            except (Disconnected, Timeout):
                pass
            c.close()
        except (Disconnected, Timeout, TestFailure, OSError):
            pass

    def run(self):
        try:
            self.setup()
            for gi, g in enumerate(self.s.groups):
                self.group_idx = gi
                cmd = g.commands[0] if g.commands else None
                try:
                    self.run_group(g)
                except TestFailure as e:
                    where = "command group %d/%d" % (gi + 1, len(self.s.groups))
                    if cmd is not None:
                        where += " (line %d): %s" % (cmd.linenum, _short(cmd.text()))
                    raise TestFailure("%s\n    failed: %s" % (where, e))
                except Timeout:
                    raise TestFailure("command group %d timed out" % (gi + 1))
            return "pass", ""
        except TestSkip as e:
            return "skipped", str(e)
        except TestFailure as e:
            return "fail", str(e)
        except Exception as e:  # robustness: never crash the run
            return "fail", "runner error: %s: %s" % (type(e).__name__, e)
        finally:
            self.teardown()


def _strip_directives(args):
    out = []
    for a in args:
        if _is_directive(a):
            continue
        if a[0] == "list":
            a = ("list", _strip_directives(a[1]))
        out.append(a)
    return out


def _short(s, n=200):
    s = s.replace("\r", "\\r").replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + "..."


def _cmd_word(cmd):
    t = cmd.segments[0][1] if cmd.segments and cmd.segments[0][0] == "text" else ""
    return t.strip().split(" ", 1)[0].lower() if t.strip() else ""


def _append_has_body(argstr):
    try:
        args = parse_imap(argstr)
    except ParseError:
        return False
    if not args:
        return False
    k = 0
    if len(args) > k + 1 and args[k + 1][0] == "list":
        k += 1
    if len(args) > k + 1 and args[k + 1][0] == "str":
        k += 1
    if len(args) > k + 1:
        a = args[k + 1]
        return a[0] == "lit" or (a[0] == "atom" and up(a[1]) == "CATENATE")
    return False


# ---------------------------------------------------------------- runner

class Runner:
    def __init__(self, opts):
        self.opts = opts
        self.verbose = opts.verbose

    def mailbox_name(self, group):
        clean = re.sub(r"[^A-Za-z0-9_-]", "_", group)
        return "imaptest-%s-%06x" % (clean, random.randrange(1 << 24))

    def precheck(self):
        c = Conn(self, 0, self.opts.user, self.opts.password)
        try:
            c.connect()
            if not getattr(c, "preauth", False):
                st, args = c.simple("LOGIN %s %s" % (quote_imap(c.username), quote_imap(c.password)))
                if st != "OK":
                    return "LOGIN failed: %s" % args_to_str(args)
            try:
                c.simple("LOGOUT")
            except (Disconnected, Timeout):
                pass
        except (Disconnected, Timeout) as e:
            return str(e)
        finally:
            c.close()
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run imaptest scripted tests against an IMAP server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--tls", action="store_true", help="implicit TLS")
    ap.add_argument("--cafile")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--user2")
    ap.add_argument("--password2")
    ap.add_argument("--scripts", required=True)
    ap.add_argument("--only", nargs="+", action="extend", default=[])
    ap.add_argument("--json")
    ap.add_argument("--parse-only", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    try:
        opts = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not os.path.isdir(opts.scripts):
        print("error: --scripts %s is not a directory" % opts.scripts, file=sys.stderr)
        return 2
    scripts = load_scripts(opts.scripts)
    if opts.only:
        wanted = set(opts.only)
        unknown = wanted - set(s.name for s, _ in scripts)
        if unknown:
            print("error: unknown group(s): %s" % " ".join(sorted(unknown)), file=sys.stderr)
            return 2
        scripts = [(s, e) for s, e in scripts if s.name in wanted]

    if opts.parse_only:
        bad = 0
        for s, err in scripts:
            if err:
                bad += 1
                print("PARSE-ERROR %s: %s" % (s.name, err))
            elif opts.verbose:
                print("ok %s: state=%s conns=%d msgs=%s groups=%d caps=%s"
                      % (s.name, s.state, s.connections, "all" if s.messages is None else s.messages,
                         len(s.groups), " ".join(s.capabilities)))
        print("%d scripts parsed, %d parse errors" % (len(scripts), bad))
        return 1 if bad else 0

    if not opts.user or opts.password is None:
        print("error: --user and --password are required", file=sys.stderr)
        return 2
    if opts.user2 and opts.password2 is None:
        opts.password2 = opts.password
    runner = Runner(opts)
    err = runner.precheck()
    if err:
        print("error: cannot use server %s:%d: %s" % (opts.host, opts.port, err), file=sys.stderr)
        return 2
    results = {}
    npass = nfail = nskip = 0
    for s, perr in scripts:
        if perr:
            status, reason = "fail", "parse error: %s" % perr
        else:
            status, reason = Exec(runner, s).run()
        results[s.name] = {"status": status, "reason": reason}
        if status == "pass":
            npass += 1
            print("PASS %s" % s.name)
        elif status == "skipped":
            nskip += 1
            print("SKIP %s: %s" % (s.name, reason))
        else:
            nfail += 1
            print("FAIL %s: %s" % (s.name, reason))
        sys.stdout.flush()
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
    line = "%d passed, %d failed" % (npass, nfail)
    if nskip:
        line += ", %d skipped" % nskip
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

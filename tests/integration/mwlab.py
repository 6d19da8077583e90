"""mwlab — the integration-test laboratory for mailwarden (Python 3 standard library only).

A `Lab` is one throw-away mail system on loopback: a private Postfix instance that relays
everything to an `smtp-sink` next hop, wired to the real `mailwarden-milter` (smtpd_milters and
non_smtpd_milters) and/or `mailwarden-policyd` (check_policy_service), each started from a
config file the test writes.  Tests send real mail (swaks, smtplib, sendmail) and assert on SMTP
replies, the queue, the sink's captured messages, the daemons' stderr and the decision log.

    with mwlab.Lab(milter=True, rules=[mwlab.size_rule("1MiB")]) as lab:
        r = lab.send("a@example.org", ["b@example.com"])
        assert r.reply.code == 250
        lab.wait_for_decision({"event.action": "accept", "email.local_id": r.queue_id})

Everything a Lab starts lives under one directory (MWLAB_TMPDIR, default /tmp, + "/mwlab/")
and is stopped on `close()`, on `__exit__`, at interpreter exit (atexit), on SIGTERM/SIGHUP
(turned into SystemExit so that the `with` blocks unwind), and, if the test process was
SIGKILLed (a ctest timeout), partly by the kernel — the daemons get SIGTERM through
PR_SET_PDEATHSIG — and otherwise by `reap_stale_labs()` at the start of the next Lab: Postfix's
master has daemonized and smtp-sink changed its uid (which clears the parent-death signal), so
the reaper stops those, only for labs whose owning test process is gone and only by the pids the
harness itself recorded.  Set MWLAB_KEEP=1 to keep the lab directories for post-mortems.

Running a private Postfix instance as root — what it takes (Postfix 3.7, Debian 12)
----------------------------------------------------------------------------------------
* `postfix -c DIR start` works with any DIR that holds main.cf + master.cf; the host's
  /etc/postfix/main.cf may be absent.  `alternate_config_directories` is NOT needed as root:
  Postfix only insists that a non-default config directory be listed in the *default* main.cf
  when the caller is not trusted — set-gid programs (postdrop, postqueue) call unsafe(), which is
  false when both the real and the effective uid are 0, and sendmail checks `geteuid() != 0`.
  (A non-root user running `sendmail -C DIR`/`postqueue -c DIR` would need DIR listed in
  /etc/postfix/main.cf's alternate_config_directories; we never touch the host's config.)
* `MAIL_CONFIG`: `postfix -c DIR` exports MAIL_CONFIG=DIR to postfix-script and master; master
  passes it on to every daemon because MAIL_CONFIG is in the default `import_environment`.
  `sendmail -C DIR` likewise hands MAIL_CONFIG to postdrop.  Nothing else to set.
* `queue_directory` must be a separate directory.  `postfix -c DIR start` runs postfix-script
  check-fatal -> `post-install create-missing`, which creates the queue subdirectories with the
  right owners (postfix, and group postdrop for maildrop/ and public/); no separate
  `postfix check` or `set-permissions` is needed (`check` costs ~3 s of find(1) per start).
  We only create the top directory (root-owned, 0755).
* `data_directory` must be owned by the `postfix` user (we chown it), or postfix-script warns
  and the verify/postscreen caches cannot be written.
* Every directory on the path to the queue, data and socket files must be traversable by the
  `postfix` user: tempfile.mkdtemp() creates 0700 directories, so the lab root is chmod 0755.
* `meta_directory` stays /etc/postfix (Debian's postfix-files, dynamicmaps.cf live there); it is
  read-only use of the host's installation and needs no copy.
* `maillog_file` (postlogd; needs the `postlog unix-dgram` service in master.cf) must match
  `maillog_file_prefixes` (default "/var, /dev/stdout"), otherwise *every* postfix command —
  including `postfix check` — dies with exit status 1 and prints NOTHING (its fatal message
  goes to the log it cannot open).  We set maillog_file_prefixes to the lab directory.
  While postlogd is not running (before start), the postfix commands write to the file
  themselves, so start-up errors still land in the maillog.
* chroot must be "n" for every service in master.cf (a chrooted smtpd cannot reach the
  lab's unix sockets and lacks /etc files in the queue directory).
* `mailbox_size_limit` must be >= `message_size_limit` (or 0), or `postfix check` is fatal.
* A milter/policy daemon on a unix socket: smtpd and cleanup run as user `postfix`, so the
  socket must be connectable by it (socket_mode 0666 here, or socket_owner :postfix 0660).
* `postfix stop` returns once master is gone (postfix-script polls up to 5 s and then kills
  the process group with SIGKILL).

Observed Postfix behaviour worth knowing when writing cases
-----------------------------------------------------------
* Milter unreachable, milter_default_action=tempfail, SMTP: smtpd answers
  "451 4.7.1 Service unavailable - try again later" from MAIL FROM on (EHLO still succeeds).
* Milter unreachable, sendmail/pickup (non_smtpd_milters): cleanup logs "milter-reject:
  CONNECT ... 4.7.1 Service unavailable"; the message stays in the maildrop queue
  (postqueue -j queue_name "maildrop") and pickup retries it later; sendmail itself exits 0.
* A milter *reject* of locally submitted mail (sendmail -> postdrop -> pickup -> cleanup with
  non_smtpd_milters): sendmail exits 0 (postdrop queued the file before any check ran);
  cleanup logs "QID: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.3.4 <text>;
  from=<s> to=<r>" and then "QID: to=<r>, relay=none, ..., dsn=5.3.4, status=bounced (<text>)";
  bounce(8) sends a non-delivery notification (MAIL FROM:<>, to the envelope sender) whose
  delivery-status part has "Status: 5.3.4" and "Diagnostic-Code: X-Postfix; <text>" (only the
  original headers are returned for a big message); the recipients get nothing and the queue
  ends up empty.  The 552 reply code itself is dropped, the enhanced code and text are kept.
* A milter quarantine (smfi_quarantine) puts the message in the hold queue: cleanup logs
  "QID: milter-hold: END-OF-MESSAGE ...", postqueue -j shows queue_name "hold".
* Egress loop (conf/postfix-egress.cf, Lab(egress=True)).  content_filter is added only by
  smtpd, pickup and qmqpd: local(8)'s alias and .forward copies and bounce(8)'s notices never
  get it, which is why the loop hangs on default_transport instead.  Through the loop, the
  smtp client sends "RCPT TO:<expanded> ORCPT=rfc822;<original>" for virtual aliases, aliases
  and .forward alike (ORCPT = the address before expansion; = the recipient itself when not
  expanded) — but only when the server offers DSN (smtpd_discard_ehlo_keywords=dsn: no
  ORCPT at all).  XFORWARD carries ADDR/PORT/PROTO/HELO/IDENT (the original queue id) for
  smtpd mail, the same less PORT for local(8) copies (the original message's client and
  queue id), only SOURCE=LOCAL for pickup mail and bounces; milters see none of it in the
  connect macros.  A 550 at RCPT bounces only that
  recipient ("to=<t>, orig_to=<o>, ... dsn=5.7.1, status=bounced (host ... said: 550 ...)");
  the others of the same delivery are accepted; bounce(8) notifies the envelope sender with
  "<t> (expanded from <o>)", Original-Recipient: rfc822;<o> and "Diagnostic-Code: smtp;
  550 5.7.1 <reply>".  `-o milter_macro_daemon_name=X` on the egress smtpd gives the milter
  {daemon_name}=X.
* swaks (20201014) never sends the ESMTP SIZE= parameter; `smtp_send()` (smtplib) gives
  explicit control over it (none, the true size, or any declared value).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import email.message
import email.parser
import email.policy
import email.utils
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

# Loopback ports, shared with the service fixtures (one set of ports handed out per process).
import mwservice
from mwservice import free_port
port_is_free = mwservice.port_is_free  # part of mwlab's interface

# --------------------------------------------------------------------------------------------
# Locations and defaults
# --------------------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
MILTER_NAME = "mailwarden-milter"
POLICYD_NAME = "mailwarden-policyd"


def milter_bin() -> Path:
    """The milter under test: $MW_MILTER_BIN or build/milter/mailwarden-milter."""
    # Absolute: the daemons run in the lab directory.
    return Path(os.environ.get("MW_MILTER_BIN") or REPO_ROOT / "build/milter/mailwarden-milter"
                ).resolve()


def policyd_bin() -> Path:
    """The policy daemon under test: $MW_POLICYD_BIN or build/policyd/mailwarden-policyd."""
    return Path(os.environ.get("MW_POLICYD_BIN") or REPO_ROOT / "build/policyd/mailwarden-policyd"
                ).resolve()


POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/postfix"
POSTCONF = shutil.which("postconf", path="/usr/sbin:/usr/bin") or "/usr/sbin/postconf"
POSTQUEUE = shutil.which("postqueue", path="/usr/sbin:/usr/bin") or "/usr/sbin/postqueue"
POSTSUPER = shutil.which("postsuper", path="/usr/sbin:/usr/bin") or "/usr/sbin/postsuper"
SENDMAIL = "/usr/sbin/sendmail"
SMTP_SINK = shutil.which("smtp-sink", path="/usr/sbin:/usr/bin") or "/usr/sbin/smtp-sink"
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"

READY_TIMEOUT = float(os.environ.get("MWLAB_READY_TIMEOUT", "15"))
LAB_BASE = Path(os.environ.get("MWLAB_TMPDIR", tempfile.gettempdir())) / "mwlab"
KEEP = os.environ.get("MWLAB_KEEP", "") not in ("", "0")

LAB_DOMAIN = "mwlab.example"          # our own senders / recipients
INTERNAL_DOMAIN = "internal.example"  # domains.internal in the generated config


class LabError(RuntimeError):
    """The lab itself could not be set up or torn down (not a product assertion)."""


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------

def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Polls predicate until it returns a truthy value (returned); TimeoutError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def error_location(filename: str, line: int) -> str:
    """Regex for "<...>/filename:LINE:COL" as the daemons print a config error."""
    return rf"(?:^|[\s'\"/(]){re.escape(filename)}:{line}:\d+"


def line_number(text: str, needle: str) -> int:
    """1-based number of the first line of text containing needle."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    raise ValueError(f"{needle!r} not in text")


def tcp_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def read_text(path: Path, offset: int = 0) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def field_of(obj: Mapping[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """field_of(entry, "event.action") — nested lookup by an ECS dotted name."""
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return cur


def matcher(spec: Callable[[dict], bool] | Mapping[str, Any]) -> Callable[[dict], bool]:
    """A predicate from a callable or from {dotted field: expected value}.

    For a list-valued field (email.to.address) the expected scalar must be an element."""
    if callable(spec):
        return spec
    wanted = dict(spec)

    def match(entry: dict) -> bool:
        for key, value in wanted.items():
            got = field_of(entry, key, _MISSING)
            if isinstance(got, list) and not isinstance(value, list):
                if value not in got:
                    return False
            elif got != value:
                return False
        return True
    return match


_MISSING = object()

# --------------------------------------------------------------------------------------------
# Socket specs: inet:HOST:PORT, inet:PORT@HOST, unix:/path, local:/path
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SocketSpec:
    family: str            # "inet" or "unix"
    host: str = ""
    port: int = 0
    path: str = ""

    @staticmethod
    def parse(spec: str) -> "SocketSpec":
        kind, _, rest = spec.partition(":")
        if kind in ("unix", "local"):
            return SocketSpec("unix", path=rest)
        if kind in ("inet", "inet4"):
            if "@" in rest:                       # Sendmail style inet:PORT@HOST
                port, _, host = rest.partition("@")
            else:
                host, _, port = rest.rpartition(":")
            return SocketSpec("inet", host=host.strip("[]") or "127.0.0.1", port=int(port))
        raise ValueError(f"unsupported socket spec {spec!r}")

    def postfix(self) -> str:
        """The same endpoint the way Postfix's smtpd_milters / check_policy_service want it."""
        return f"unix:{self.path}" if self.family == "unix" else f"inet:{self.host}:{self.port}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        if self.family == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.path)
            return s
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def accepts(self) -> bool:
        try:
            with self.connect(timeout=0.5):
                return True
        except OSError:
            return False

    def __str__(self) -> str:
        return self.postfix()


# --------------------------------------------------------------------------------------------
# A YAML emitter for the configs tests write (block style; strings quoted when YAML could read
# them as anything but a string).  Tests that need invalid YAML write text directly.
# --------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"(?:[A-Za-z_/.][A-Za-z0-9_./+@-]*|[0-9]+(?:\.[0-9]+)?[A-Za-z]+)\Z")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _yaml_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj: Any, indent: int = 0) -> str:
    pad = " " * indent
    if isinstance(obj, Mapping):
        if not obj:
            return pad + "{}\n"
        out = []
        for k, v in obj.items():
            if isinstance(v, Mapping) and v:
                out.append(f"{pad}{k}:\n{to_yaml(v, indent + 2)}")
            elif isinstance(v, (list, tuple)) and v and any(
                    isinstance(x, (Mapping, list, tuple)) for x in v):
                out.append(f"{pad}{k}:\n{to_yaml(list(v), indent + 2)}")
            elif isinstance(v, (list, tuple)):
                out.append(f"{pad}{k}: [{', '.join(_yaml_scalar(x) for x in v)}]\n")
            elif isinstance(v, Mapping):
                out.append(f"{pad}{k}: {{}}\n")
            else:
                out.append(f"{pad}{k}: {_yaml_scalar(v)}\n")
        return "".join(out)
    if isinstance(obj, (list, tuple)):
        out = []
        for item in obj:
            if isinstance(item, Mapping) and item:
                body = to_yaml(item, indent + 2)
                out.append(f"{pad}- {body[indent + 2:]}")
            else:
                out.append(f"{pad}- {_yaml_scalar(item)}\n")
        return "".join(out)
    return pad + _yaml_scalar(obj) + "\n"


def deep_merge(base: dict, override: Mapping | None) -> dict:
    """A copy of base with override merged in (nested dicts merged, a None value deletes)."""
    result = {k: (deep_merge(v, None) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in (override or {}).items():
        if v is None:
            result.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(result.get(k), dict):
            result[k] = deep_merge(result[k], v)
        else:
            result[k] = v
    return result


def size_rule(max_size: str = "1MiB", rule_id: str = "message-size", **extra: Any) -> dict:
    return {"id": rule_id, "check": "message_size", "max_size": max_size, "action": "reject",
            **extra}


def sender_blocklist_rule(senders: Sequence[str], rule_id: str = "sender-blocklist",
                          **extra: Any) -> dict:
    return {"id": rule_id, "check": "sender_blocklist", "senders": list(senders),
            "action": "reject", **extra}


def rules_yaml(rules: Sequence[Mapping[str, Any]]) -> str:
    return to_yaml({"version": 1, "rules": list(rules)})


# --------------------------------------------------------------------------------------------
# Process bookkeeping: everything we start is stopped again, whatever happens
# --------------------------------------------------------------------------------------------

_cleanups: dict[int, Callable[[], None]] = {}
_cleanup_ids = itertools.count()


def register_cleanup(fn: Callable[[], None]) -> int:
    token = next(_cleanup_ids)
    _cleanups[token] = fn
    return token


def unregister_cleanup(token: int) -> None:
    _cleanups.pop(token, None)


@atexit.register
def _run_cleanups() -> None:
    for token in sorted(_cleanups, reverse=True):
        fn = _cleanups.pop(token, None)
        if fn:
            with contextlib.suppress(Exception):
                fn()


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP -> SystemExit, so that with-blocks unwind and atexit runs (only where
    the default action would have killed us silently)."""
    if os.getpid() != _MAIN_PID:
        return

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, on_signal)


_MAIN_PID = os.getpid()

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when this test process dies, even by SIGKILL."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def proc_start_time(pid: int) -> str | None:
    """Kernel start time of pid (field 22 of /proc/PID/stat), to detect pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start_time: str | None) -> bool:
    return start_time is not None and proc_start_time(pid) == start_time


def lab_owner_alive(d: Path) -> bool | None:
    """Whether the process that created lab directory d still runs (None: no owner file)."""
    try:
        pid_s, start = (d / "owner").read_text().split()
        return _alive(int(pid_s), start)
    except (OSError, ValueError):
        return None


def stop_lab_dir(d: Path) -> None:
    """Stops what a lab directory's owner started and left running: its Postfix instance
    (postfix -c DIR stop) and the processes it recorded in d/pids (by pid + start time)."""
    conf = d / "postfix" / "conf"
    master_pid = d / "postfix" / "queue" / "pid" / "master.pid"
    if conf.is_dir() and master_pid.exists():
        subprocess.run([POSTFIX, "-c", str(conf), "stop"], capture_output=True, timeout=30)
    for user in read_text(d / "users").split():
        remove_local_user(user)
    for line in read_text(d / "pids").splitlines():
        with contextlib.suppress(ValueError, ProcessLookupError):
            pid_s, start, _what = line.split(" ", 2)
            if _alive(int(pid_s), start):
                os.kill(int(pid_s), signal.SIGKILL)


def remove_local_user(user: str) -> None:
    """userdel for a user a lab created (add_local_user); names always start with "mw"."""
    if user.startswith("mw"):
        subprocess.run(["userdel", user], capture_output=True, timeout=30)


def reap_stale_labs() -> None:
    """Stops what labs of dead test processes left running (their Postfix, sink and daemons),
    by the pids those labs recorded, then removes their directories (unless MWLAB_KEEP)."""
    if not LAB_BASE.is_dir():
        return
    for d in LAB_BASE.iterdir():
        alive = lab_owner_alive(d)
        if alive or (alive is None and time.time() - d.stat().st_mtime < 60):
            continue          # in use, or being created right now
        stop_lab_dir(d)
        if not KEEP:
            shutil.rmtree(d, ignore_errors=True)


class ManagedProcess:
    """A child process that is killed at teardown and dies with us (PR_SET_PDEATHSIG)."""

    def __init__(self, argv: Sequence[str], *, stdout: Path | None = None,
                 stderr: Path | None = None, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, pidfile: Path | None = None):
        self.argv = [str(a) for a in argv]
        self.stdout_path, self.stderr_path = stdout, stderr
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL
        err = open(stderr, "wb") if stderr else subprocess.DEVNULL
        try:
            # Own session: a Ctrl-C in the terminal reaches only the Python process, which
            # then stops everything in order (Postfix first, then the daemons).
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=dict(env) if env else None,
                                         cwd=cwd, preexec_fn=_die_with_parent,
                                         start_new_session=True)
        finally:
            for f in (out, err):
                if f is not subprocess.DEVNULL:
                    f.close()
        self.pid = self.proc.pid
        if pidfile:
            with open(pidfile, "a") as f:
                f.write(f"{self.pid} {proc_start_time(self.pid)} {self.argv[0]}\n")
        self._token = register_cleanup(self.kill)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.running:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Waits for exit; returns the exit status (negative: killed by that signal)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.argv[0]} still running after {timeout:g}s") from None

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status; raises
        TimeoutError (after the SIGKILL) if the process ignored SIGTERM for that long."""
        if not self.running:
            unregister_cleanup(self._token)
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"{self.argv[0]} did not exit within {timeout:g}s of SIGTERM; "
                               "killed") from None
        finally:
            unregister_cleanup(self._token)

    def kill(self) -> None:
        if self.running:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        unregister_cleanup(self._token)


# --------------------------------------------------------------------------------------------
# SMTP clients
# --------------------------------------------------------------------------------------------

_ENHANCED = re.compile(r"([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)")


@dataclass
class SmtpReply:
    code: int
    enhanced: str | None
    text: str                  # all lines, without code and enhanced code, joined by "\n"
    lines: list[str] = field(default_factory=list)  # raw lines as received

    @staticmethod
    def from_lines(lines: Sequence[str]) -> "SmtpReply":
        code, enhanced, texts = 0, None, []
        for raw in lines:
            m = re.match(r"(\d{3})[ -]?(.*)", raw)
            if not m:
                texts.append(raw)
                continue
            code = int(m.group(1))
            rest = m.group(2)
            e = _ENHANCED.match(rest)
            if e:
                enhanced = enhanced or e.group(1)
                rest = rest[e.end():]
            texts.append(rest)
        return SmtpReply(code, enhanced, "\n".join(texts), list(lines))

    @staticmethod
    def from_smtplib(code: int, msg: bytes | str) -> "SmtpReply":
        text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
        lines = [f"{code}{'-' if i < len(text.splitlines()) - 1 else ' '}{line}"
                 for i, line in enumerate(text.splitlines() or [""])]
        return SmtpReply.from_lines(lines)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400

    def __str__(self) -> str:
        return "\n".join(self.lines) or f"{self.code}"


@dataclass
class SendResult:
    """Outcome of one SMTP transaction.

    `reply` is the reply to the end of DATA if the message got that far, else the first
    failing reply (code >= 400), else the last one; `stage` says which step it answered:
    banner, ehlo, mail, rcpt, data (the DATA command), dot (end of data), quit, connect."""
    status: int                # swaks exit status (0 ok, 23 MAIL, 24 RCPT, 25 DATA, 26 dot...)
    transcript: str
    reply: SmtpReply | None
    stage: str
    replies: list[tuple[str, SmtpReply]] = field(default_factory=list)
    token: str = ""            # value of the X-Mwlab-Id header we added

    @property
    def queue_id(self) -> str | None:
        if self.reply and self.stage == "dot" and self.reply.code == 250:
            m = re.search(r"queued as ([0-9A-Za-z]+)", self.reply.text)
            return m.group(1) if m else None
        return None

    @property
    def accepted(self) -> bool:
        return self.stage == "dot" and self.reply is not None and self.reply.code == 250

    def replies_at(self, stage: str) -> list[SmtpReply]:
        return [r for s, r in self.replies if s == stage]

    def __str__(self) -> str:
        return f"[{self.stage}] {self.reply}\n--- transcript ---\n{self.transcript}"


_SENT_HINTS = (" ->", "**>", " ~>", "*~>")
_RECV_HINTS = ("<- ", "<**", "<~ ", "<~*")


def _stage_of_command(cmd: str) -> str:
    word = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
    return {"EHLO": "ehlo", "HELO": "ehlo", "LHLO": "ehlo", "MAIL": "mail", "RCPT": "rcpt",
            "DATA": "data", "QUIT": "quit", "RSET": "rset", "STARTTLS": "starttls",
            "AUTH": "auth", "XCLIENT": "xclient", "BDAT": "dot"}.get(word, word.lower())


def parse_swaks_transcript(text: str) -> list[tuple[str, SmtpReply]]:
    """[(stage, reply), ...] from a swaks transcript (see swaks(1), "transaction hints")."""
    replies: list[tuple[str, SmtpReply]] = []
    stage, pending, after_354 = "banner", [], False
    for line in text.splitlines():
        hint, body = line[:3], line[4:]
        if hint in _SENT_HINTS:
            if after_354:
                stage, after_354 = "dot", False       # data lines or "N lines sent"
            elif stage != "dot" or _stage_of_command(body) in ("quit", "rset", "mail"):
                stage = _stage_of_command(body)
        elif hint in _RECV_HINTS:
            pending.append(body)
            if re.match(r"\d{3}(?: |$)", body):        # last line of a reply
                reply = SmtpReply.from_lines(pending)
                pending = []
                replies.append((stage, reply))
                if stage == "data" and reply.code == 354:
                    after_354 = True
    return replies


def _final_reply(replies: list[tuple[str, SmtpReply]]) -> tuple[str, SmtpReply | None]:
    for stage, reply in replies:
        if stage == "dot":
            return stage, reply
    for stage, reply in replies:
        if reply.code >= 400 and stage != "quit":
            return stage, reply
    meaningful = [(s, r) for s, r in replies if s != "quit"]
    return meaningful[-1] if meaningful else ("connect", None)


def new_token() -> str:
    return secrets.token_hex(8)


def send(port: int, sender: str, recipients: str | Sequence[str], *, host: str = "127.0.0.1",
         headers: Sequence[str] = (), body: str | Path | None = None,
         attach: Sequence[Path | tuple[str, Path] | tuple[str, Path, str]] = (),
         data_file: Path | None = None, helo: str = "client.mwlab.example",
         size: int | None = None, quit_after: str | None = None,
         extra_args: Sequence[str] = (), timeout: float = 60) -> SendResult:
    """Sends one message with swaks and parses the transcript.

    headers: "Name: value" strings (replace a default header of the same name, else added).
    body: text, or a Path whose content becomes the body.  attach: paths, or (name, path) /
    (name, path, mime type) tuples.  data_file: a complete message (headers + body).
    size: swaks cannot send ESMTP SIZE=, so with size given the message is built here and sent
    through smtp_send() with MAIL FROM ... SIZE=size instead.
    Every message gets an "X-Mwlab-Id: <token>" header (result.token) to find it at the sink.
    """
    rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
    token = new_token()
    if size is not None:
        msg = build_message(sender, rcpts, headers=headers, body=body, attach=attach,
                            data_file=data_file, token=token)
        return smtp_send(port, sender, rcpts, msg, size=size, host=host, helo=helo,
                         timeout=timeout, token=token)
    argv = [SWAKS, "--server", f"{host}:{port}", "--from", sender, "--to", ",".join(rcpts),
            "--helo", helo, "--suppress-data", "--timeout", str(int(timeout)),
            "--add-header", f"X-Mwlab-Id: {token}"]
    if data_file is not None:
        argv += ["--data", f"@{data_file}"]
    for h in headers:
        argv += ["--header", h]
    if isinstance(body, Path):
        argv += ["--body", f"@{body}"]
    elif body is not None:
        argv += ["--body", body]
    for a in attach:
        if isinstance(a, tuple):
            name, path, *rest = a
            if rest:
                argv += ["--attach-type", rest[0]]
            argv += ["--attach-name", name, "--attach", f"@{path}"]
        else:
            argv += ["--attach", f"@{a}"]
    if quit_after:
        argv += ["--quit-after", quit_after]
    argv += list(extra_args)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout + 30)
    transcript = proc.stdout.decode("utf-8", "replace")
    replies = parse_swaks_transcript(transcript)
    stage, reply = _final_reply(replies)
    return SendResult(proc.returncode, transcript, reply, stage, replies, token)


def build_message(sender: str, recipients: Sequence[str], *, subject: str = "mwlab test",
                  headers: Sequence[str] = (), body: str | Path | None = None,
                  body_size: int | None = None,
                  attach: Sequence[Path | tuple[str, Path] | tuple[str, Path, str]] = (),
                  data_file: Path | None = None, token: str | None = None) -> bytes:
    """An RFC 5322 message (CRLF line ends).  body_size pads the body with text lines to
    about that many bytes (for size limits)."""
    if data_file is not None:
        raw = Path(data_file).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if token:
            raw = f"X-Mwlab-Id: {token}\r\n".encode() + raw
        return raw
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=LAB_DOMAIN)
    if token:
        msg["X-Mwlab-Id"] = token
    for h in headers:
        name, _, value = h.partition(":")
        del msg[name.strip()]
        msg[name.strip()] = value.strip()
    text = body.read_text() if isinstance(body, Path) else (body or "mwlab test message\n")
    if body_size:
        line = "The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstu\n"
        text += line * (body_size // len(line) + 1)
    msg.set_content(text, cte="7bit" if text.isascii() else "8bit")
    for a in attach:
        name, path, ctype = ((a.name, a, "application/octet-stream") if isinstance(a, Path)
                             else (a[0], a[1], a[2] if len(a) > 2 else "application/octet-stream"))
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(Path(path).read_bytes(), maintype=maintype, subtype=subtype,
                           filename=name)
    return msg.as_bytes()


def smtp_send(port: int, sender: str, recipients: str | Sequence[str], message: bytes | str,
              *, size: int | str | None = None, host: str = "127.0.0.1",
              helo: str = "client.mwlab.example", mail_options: Sequence[str] = (),
              timeout: float = 60, token: str = "") -> SendResult:
    """One SMTP transaction with smtplib and explicit control over MAIL FROM parameters.

    size: None sends no SIZE= (whatever the server advertises), "auto" the true size, an
    int that value (understated or overstated on purpose).  status is 0 when the message was
    accepted, else the swaks-compatible code of the failing step (21-26)."""
    rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
    data = message.encode() if isinstance(message, str) else message
    log: list[str] = []
    replies: list[tuple[str, SmtpReply]] = []

    def record(stage: str, code: int, msg: bytes | str) -> SmtpReply:
        reply = SmtpReply.from_smtplib(code, msg)
        replies.append((stage, reply))
        log.extend("<-  " + line for line in reply.lines)
        return reply

    status = 0
    opts = list(mail_options)
    if size == "auto":
        opts.append(f"SIZE={len(data)}")
    elif size is not None:
        opts.append(f"SIZE={int(size)}")
    client = smtplib.SMTP(timeout=timeout)
    try:
        log.append(f"=== connect {host}:{port}")
        code, msg = client.connect(host, port)
        if record("banner", code, msg).code != 220:
            status = 21
            raise _Stop
        log.append(f" -> EHLO {helo}")
        code, msg = client.ehlo(helo)
        if record("ehlo", code, msg).code != 250:
            status = 22
            raise _Stop
        log.append(f" -> MAIL FROM:<{sender}>{''.join(' ' + o for o in opts)}")
        code, msg = client.mail(sender, opts)
        if record("mail", code, msg).code != 250:
            status = 23
            raise _Stop
        accepted = 0
        for r in rcpts:
            log.append(f" -> RCPT TO:<{r}>")
            code, msg = client.rcpt(r)
            accepted += record("rcpt", code, msg).code in (250, 251)
        if not accepted:
            status = 24
            raise _Stop
        log.append(" -> DATA")
        try:
            code, msg = client.data(data)
            log.append(f" -> {len(data)} bytes sent")
            if record("dot", code, msg).code != 250:
                status = 26
        except smtplib.SMTPDataError as e:
            record("data", e.smtp_code, e.smtp_error)
            status = 25
    except _Stop:
        pass
    except smtplib.SMTPServerDisconnected as e:
        log.append(f"*** disconnected: {e}")
        status = status or 6
    except OSError as e:
        log.append(f"*** {e}")
        status = 2
    finally:
        with contextlib.suppress(Exception):
            log.append(" -> QUIT")
            code, msg = client.quit()
            record("quit", code, msg)
        client.close()
    stage, reply = _final_reply(replies)
    return SendResult(status, "\n".join(log) + "\n", reply, stage, replies, token)


class _Stop(Exception):
    pass


def mail_from_probe(port: int, sender: str, size: int | None, *, host: str = "127.0.0.1",
                    timeout: float = 30) -> SmtpReply:
    """EHLO + MAIL FROM (SIZE=size) + QUIT: the reply to MAIL FROM.  Cheap way to ask what the
    early size check would do, without sending a message."""
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo("probe.mwlab.example")
        code, msg = client.mail(sender, [f"SIZE={size}"] if size is not None else [])
        reply = SmtpReply.from_smtplib(code, msg)
        with contextlib.suppress(Exception):
            client.rset()
        return reply


# --------------------------------------------------------------------------------------------
# Policy delegation protocol clients and raw-socket helpers
# --------------------------------------------------------------------------------------------

def policy_attrs(**overrides: Any) -> dict[str, str]:
    """A complete smtpd_access_policy request as Postfix 3.7 sends it at RCPT."""
    attrs = {
        "request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
        "helo_name": "client.mwlab.example", "queue_id": "", "sender": f"someone@{LAB_DOMAIN}",
        "recipient": f"rcpt@{LAB_DOMAIN}", "recipient_count": "0",
        "client_address": "127.0.0.1", "client_name": "localhost",
        "reverse_client_name": "localhost", "instance": f"{os.getpid():x}.{new_token()}.0",
        "sasl_method": "", "sasl_username": "", "sasl_sender": "", "size": "0",
        "ccert_subject": "", "ccert_issuer": "", "ccert_fingerprint": "",
        "ccert_pubkey_fingerprint": "", "encryption_protocol": "", "encryption_cipher": "",
        "encryption_keysize": "0", "etrn_domain": "", "stress": "", "client_port": "40000",
        "policy_context": "", "server_address": "127.0.0.1", "server_port": "25",
        "compatibility_level": "3.6", "mail_version": "3.7.11",
    }
    attrs.update({k: str(v) for k, v in overrides.items()})
    return attrs


class PolicyClient:
    """A persistent policy connection, the way smtpd uses one (several requests in a row)."""

    def __init__(self, spec: str | SocketSpec, timeout: float = 10.0):
        self.spec = SocketSpec.parse(spec) if isinstance(spec, str) else spec
        self.sock = self.spec.connect(timeout)
        self.buf = b""

    def request_raw(self, attrs: Mapping[str, str]) -> dict[str, str]:
        payload = "".join(f"{k}={v}\n" for k, v in attrs.items()) + "\n"
        self.sock.sendall(payload.encode())
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"policy server closed the connection; got {self.buf!r}")
            self.buf += chunk
        answer, self.buf = self.buf.split(b"\n\n", 1)
        result = {}
        for line in answer.decode("utf-8", "replace").split("\n"):
            k, _, v = line.partition("=")
            result[k] = v
        return result

    def request(self, attrs: Mapping[str, str]) -> str:
        """Returns the action= value, e.g. "DUNNO" or "REJECT 5.7.1 ..."."""
        return self.request_raw(attrs).get("action", "")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "PolicyClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def policy_request(spec: str | SocketSpec, attrs: Mapping[str, str],
                   timeout: float = 10.0) -> str:
    """One request on a fresh connection; returns the action= value."""
    with PolicyClient(spec, timeout) as client:
        return client.request(attrs)


class RawClient:
    """A bare stream connection for bad-input tests: send anything, see how the peer reacts."""

    def __init__(self, spec: str | SocketSpec, timeout: float = 5.0):
        self.spec = SocketSpec.parse(spec) if isinstance(spec, str) else spec
        self.sock = self.spec.connect(timeout)

    def send(self, data: bytes) -> bool:
        """Sends data; False if the peer already closed/reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def read_until_closed(self, timeout: float) -> tuple[bytes, bool]:
        """Reads until the peer closes (-> (data, True)) or timeout passes (-> (data, False))."""
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data, False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def raw_exchange(spec: str | SocketSpec, payload: bytes, timeout: float = 5.0
                 ) -> tuple[bytes, bool]:
    """Connects, sends payload, reads until the peer closes or timeout: (received, closed)."""
    with RawClient(spec, timeout) as c:
        c.send(payload)
        return c.read_until_closed(timeout)


# --------------------------------------------------------------------------------------------
# A minimal milter-protocol (version 6) client: talk to the milter without an MTA
# --------------------------------------------------------------------------------------------

class MilterClient:
    """Speaks the MTA side of the Sendmail milter protocol, enough for probes and short
    sessions.  Each step returns (response code letter, data); steps the milter asked not to
    receive (SMFIP_NO*) are skipped and return ("c", b"")."""

    FINAL = set(b"acrtdy")
    _NO = {"C": 0x1, "H": 0x2, "M": 0x4, "R": 0x8, "B": 0x10, "L": 0x20, "N": 0x40,
           "T": 0x200}
    _NR = {"C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000, "N": 0x40000,
           "B": 0x80000, "L": 0x80}

    def __init__(self, spec: str | SocketSpec, timeout: float = 10.0):
        self.spec = SocketSpec.parse(spec) if isinstance(spec, str) else spec
        self.sock = self.spec.connect(timeout)
        self.protocol = 0
        self.actions = 0

    def _send(self, cmd: str, data: bytes = b"") -> None:
        self.sock.sendall(struct.pack("!I", len(data) + 1) + cmd.encode() + data)

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("milter closed the connection")
            data += chunk
        return data

    def _recv(self) -> tuple[str, bytes]:
        (length,) = struct.unpack("!I", self._recv_exact(4))
        body = self._recv_exact(length)
        return chr(body[0]), body[1:]

    def optneg(self, version: int = 6, actions: int = 0x1FF, protocol: int = 0x1FFFFF
               ) -> tuple[int, int, int]:
        self._send("O", struct.pack("!III", version, actions, protocol))
        cmd, data = self._recv()
        if cmd != "O":
            raise ConnectionError(f"unexpected optneg reply {cmd!r}")
        version, self.actions, self.protocol = struct.unpack("!III", data[:12])
        return version, self.actions, self.protocol

    def macros(self, for_cmd: str, values: Mapping[str, str]) -> None:
        self._send("D", for_cmd.encode() + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0" for k, v in values.items()))

    def _step(self, cmd: str, data: bytes = b"") -> tuple[str, bytes]:
        if self.protocol & self._NO.get(cmd, 0):
            return "c", b""
        self._send(cmd, data)
        if self.protocol & self._NR.get(cmd, 0):
            return "c", b""
        return self._recv_final()

    def _recv_final(self) -> tuple[str, bytes]:
        self.modifications: list[tuple[str, bytes]] = []
        while True:
            cmd, data = self._recv()
            if cmd == "p":          # progress
                continue
            if ord(cmd) in self.FINAL:
                return cmd, data
            self.modifications.append((cmd, data))

    def connect(self, hostname: str = "localhost", addr: str = "127.0.0.1", port: int = 40000
                ) -> tuple[str, bytes]:
        return self._step("C", hostname.encode() + b"\0" + b"4" + struct.pack("!H", port)
                          + addr.encode() + b"\0")

    def helo(self, name: str = "client.mwlab.example") -> tuple[str, bytes]:
        return self._step("H", name.encode() + b"\0")

    def mail(self, sender: str, *esmtp: str) -> tuple[str, bytes]:
        return self._step("M", b"".join(a.encode() + b"\0" for a in (f"<{sender}>", *esmtp)))

    def rcpt(self, rcpt: str) -> tuple[str, bytes]:
        return self._step("R", f"<{rcpt}>".encode() + b"\0")

    def data(self) -> tuple[str, bytes]:
        return self._step("T")

    def header(self, name: str, value: str) -> tuple[str, bytes]:
        return self._step("L", name.encode() + b"\0" + value.encode() + b"\0")

    def eoh(self) -> tuple[str, bytes]:
        return self._step("N")

    def body(self, chunk: bytes) -> tuple[str, bytes]:
        return self._step("B", chunk)

    def eom(self) -> tuple[str, bytes]:
        self._send("E")
        return self._recv_final()

    def greet(self) -> None:
        """Negotiation, connect (with smtpd's connect macros) and HELO, as smtpd starts."""
        self.optneg()
        self.macros("C", postfix_connect_macros())
        self.connect()
        self.helo()

    def start_message(self, sender: str, rcpt: str, subject: str, *esmtp: str
                      ) -> tuple[str, bytes]:
        """MAIL, RCPT, one Subject header and end of headers: the MAIL FROM reply (a
        refusal there ends the message before the rest is sent)."""
        reply = self.mail(sender, *esmtp)
        if reply[0] != "c":
            return reply
        self.rcpt(rcpt)
        self.header("Subject", subject)
        self.eoh()
        return reply

    def quit(self) -> None:
        with contextlib.suppress(OSError):
            self._send("Q")
        self.sock.close()

    def __enter__(self) -> "MilterClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.quit()


def postfix_connect_macros(addr: str = "127.0.0.1", name: str = "localhost") -> dict[str, str]:
    """The connect-stage macros smtpd sends (its defaults plus what a milter usually asks
    for with smfi_setsymlist, which Postfix honours)."""
    return {"j": "mwlab.localdomain", "{daemon_name}": "mwlab", "{daemon_addr}": "127.0.0.1",
            "v": "Postfix 3.7.11", "_": f"{name} [{addr}]", "{client_addr}": addr,
            "{client_name}": name, "{client_port}": "40000"}


def milter_mail_from(spec: str | SocketSpec, sender: str, *esmtp: str,
                     timeout: float = 10.0) -> tuple[str, str]:
    """optneg, connect, helo, MAIL FROM with ESMTP args: (response letter, reply text)."""
    with MilterClient(spec, timeout) as m:
        m.optneg()
        m.macros("C", postfix_connect_macros())
        m.connect()
        m.helo()
        m.macros("M", {"i": "", "{mail_addr}": sender, "{auth_authen}": "",
                       "{daemon_name}": "mwlab"})
        cmd, data = m.mail(sender, *esmtp)
        return cmd, data.rstrip(b"\0").decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Decision log
# --------------------------------------------------------------------------------------------

class DecisionLog:
    """The JSON-lines decision log of one daemon (docs/decision-log.md)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def entries(self, path: Path | None = None) -> list[dict]:
        """All complete lines, parsed.  A complete line that is not a JSON object is a product
        bug and raises AssertionError; a trailing partial line (being written) is ignored."""
        text = read_text(path or self.path)
        out = []
        lines = text.split("\n")
        for n, line in enumerate(lines[:-1], 1):   # the last piece has no newline yet
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise AssertionError(f"{path or self.path}:{n}: not JSON ({e}): {line!r}")
            if not isinstance(obj, dict):
                raise AssertionError(f"{path or self.path}:{n}: not a JSON object: {line!r}")
            out.append(obj)
        return out

    def find(self, spec: Callable[[dict], bool] | Mapping[str, Any]) -> list[dict]:
        pred = matcher(spec)
        return [e for e in self.entries() if pred(e)]

    def wait_for(self, spec: Callable[[dict], bool] | Mapping[str, Any],
                 timeout: float = 10.0) -> dict:
        pred = matcher(spec)
        try:
            return wait_until(lambda: next((e for e in self.entries() if pred(e)), None),
                              timeout, what=f"a decision matching {spec!r}")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.path} has:\n" + "\n".join(
                json.dumps(x) for x in self.entries()[-20:])) from None


# --------------------------------------------------------------------------------------------
# smtp-sink: the next hop
# --------------------------------------------------------------------------------------------

@dataclass
class SinkMessage:
    path: Path
    raw: bytes
    mail_args: str
    rcpt_args: list[str]
    message: email.message.Message

    # smtp-sink records the command arguments without "FROM:"/"TO:": "<addr> PARAM=..."
    @property
    def sender(self) -> str:
        m = re.match(r"(?:FROM:)?\s*<([^>]*)>", self.mail_args, re.I)
        return m.group(1) if m else self.mail_args

    @property
    def recipients(self) -> list[str]:
        return [re.sub(r"(?i)^(?:TO:)?\s*<([^>]*)>.*", r"\1", a) for a in self.rcpt_args]

    @property
    def token(self) -> str | None:
        return self.message.get("X-Mwlab-Id")


class SmtpSink:
    """smtp-sink on a loopback port, capturing every message into dump_dir (one file each)."""

    def __init__(self, root: Path, port: int | None = None, pidfile: Path | None = None):
        self.port = port or free_port()
        self.dump_dir = root / "sink"
        self.dump_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dump_dir, "postfix")      # smtp-sink -u postfix writes here
        self.stderr = root / "sink.stderr"
        self.proc = ManagedProcess(
            # -u: required as root; -d: one file per transaction; -h: our greeting name.
            [SMTP_SINK, "-u", "postfix", "-h", "sink.mwlab.example",
             "-d", f"{self.dump_dir}/msg.", f"127.0.0.1:{self.port}", "64"],
            stderr=self.stderr, pidfile=pidfile)
        try:
            wait_until(lambda: tcp_accepts("127.0.0.1", self.port) or not self.proc.running,
                       10, what="smtp-sink to listen")
        except TimeoutError:
            self.proc.kill()
            raise
        if not self.proc.running:
            raise LabError(f"smtp-sink exited: {read_text(self.stderr)}")

    def messages(self) -> list[SinkMessage]:
        out = []
        for path in sorted(self.dump_dir.glob("msg.*"), key=lambda p: p.stat().st_mtime):
            raw = path.read_bytes()
            msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
            out.append(SinkMessage(path, raw, msg.get("X-Mail-Args", ""),
                                   msg.get_all("X-Rcpt-Args") or [], msg))
        return out

    def find(self, pred: Callable[[SinkMessage], bool]) -> list[SinkMessage]:
        return [m for m in self.messages() if pred(m)]

    def find_token(self, token: str) -> list[SinkMessage]:
        return self.find(lambda m: m.token == token)

    def wait_for(self, pred: Callable[[SinkMessage], bool], timeout: float = 15.0
                 ) -> SinkMessage:
        return wait_until(lambda: next(iter(self.find(pred)), None), timeout,
                          what="a message at the sink")

    def stop(self) -> None:
        self.proc.terminate(5)


# --------------------------------------------------------------------------------------------
# The private Postfix instance
# --------------------------------------------------------------------------------------------

MASTER_CF_SERVICES = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


# The egress listener (conf/postfix-egress.cf) — the lab runs exactly what that file documents,
# with the lab's own port and socket in place of the documented ones.
EGRESS_CF = REPO_ROOT / "conf" / "postfix-egress.cf"
EGRESS_DOC_PORT = "127.0.0.1:10027"        # the egress smtpd in the document
EGRESS_DOC_SOCKET = "inet:127.0.0.1:8892"  # milter.egress_socket in the document


def egress_config(smtpd_port: int, milter_socket: str, path: Path = EGRESS_CF
                  ) -> tuple[dict[str, str], str]:
    """(main.cf parameters, master.cf text) of conf/postfix-egress.cf's "---- main.cf ----"
    and "---- master.cf ----" sections, comments dropped, the documented listener port and
    egress milter socket replaced by the lab's.  LabError if the document no longer has the
    shape this parser (and so the tests) rely on."""
    sections: dict[str, list[str]] = {"main.cf": [], "master.cf": []}
    current: list[str] | None = None
    for line in path.read_text().splitlines():
        m = re.match(r"#\s*-+\s*(main\.cf|master\.cf)\s*-+\s*$", line)
        if m:
            current = sections[m.group(1)]
        elif current is not None and line.strip() and not line.lstrip().startswith("#"):
            current.append(line)
    master = "\n".join(sections["master.cf"]) + "\n"
    main: dict[str, str] = {}
    last = None
    for line in sections["main.cf"]:
        if line[0].isspace() and last:          # continuation line
            main[last] += " " + line.strip()
            continue
        name, eq, value = line.partition("=")
        if not eq:
            raise LabError(f"{path}: not a main.cf parameter line: {line!r}")
        last = name.strip()
        main[last] = value.strip()
    text = master + "".join(f"{k} = {v}\n" for k, v in main.items())
    if (EGRESS_DOC_PORT not in master or "[127.0.0.1]:10027" not in text
            or EGRESS_DOC_SOCKET not in master):
        raise LabError(f"{path}: {EGRESS_DOC_PORT} / {EGRESS_DOC_SOCKET} not found; "
                       "mwlab.egress_config() must follow the document")

    def lab(v: str) -> str:
        return (v.replace("[127.0.0.1]:10027", f"[127.0.0.1]:{smtpd_port}")
                 .replace(EGRESS_DOC_PORT, f"127.0.0.1:{smtpd_port}")
                 .replace(EGRESS_DOC_SOCKET, milter_socket))
    return {k: lab(v) for k, v in main.items()}, lab(master)


class PostfixInstance:
    """A Postfix instance of our own: config, queue, data directory and log under root/."""

    def __init__(self, root: Path, *, smtpd_port: int | None = None, relay_port: int,
                 milter: str | None = None, non_smtpd_milter: str | None | bool = True,
                 policy: str | None = None, policy_stages: Sequence[str] = ("rcpt", "eod"),
                 header_checks: Sequence[str] = (), params: Mapping[str, str] | None = None,
                 extra_master_cf: str = ""):
        self.root = root / "postfix"
        self.conf_dir = self.root / "conf"
        self.queue_dir = self.root / "queue"
        self.data_dir = self.root / "data"
        self.maillog = self.root / "maillog"
        self.smtpd_port = smtpd_port or free_port()
        self.relay_port = relay_port
        self.header_checks = list(header_checks)
        self.extra_master_cf = extra_master_cf
        self.params = self.base_params()
        self.params.update(self.wiring_params(milter, non_smtpd_milter, policy, policy_stages))
        self.params.update(params or {})
        self._token: int | None = None
        self.started = False

    # ---- configuration -------------------------------------------------------------------

    def base_params(self) -> dict[str, str]:
        p = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            # postlogd; the prefix list must allow our path, see the module docstring.
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            "myhostname": "mwlab.localdomain",
            "mydomain": "localdomain",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            # Everything goes to the sink, no DNS anywhere.
            "relayhost": f"[127.0.0.1]:{self.relay_port}",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "smtpd_banner": "$myhostname ESMTP mwlab",
            "biff": "no",
            # mailwarden's own limits must be what refuses, not Postfix's.
            "message_size_limit": "104857600",
            "mailbox_size_limit": "0",
            # Fast tests: no tarpit, quick retries, no flow-control pauses.
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "100",
            "smtpd_hard_error_limit": "1000",
            "in_flow_delay": "0s",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "delay_warning_time": "0h",
            "smtp_connect_timeout": "5s",
            # Tests may impersonate other clients / SASL users with XCLIENT.
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "milter_default_action": "tempfail",
            "milter_protocol": "6",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "20s",
            "milter_content_timeout": "60s",
            "smtpd_policy_service_timeout": "20s",
        }
        if self.header_checks:
            p["header_checks"] = f"regexp:{self.conf_dir / 'header_checks'}"
        return p

    @staticmethod
    def wiring_params(milter: str | None, non_smtpd_milter: str | None | bool,
                      policy: str | None, policy_stages: Sequence[str]) -> dict[str, str]:
        """main.cf settings that connect Postfix to the daemons (empty = not wired)."""
        if non_smtpd_milter is True:
            non_smtpd_milter = milter
        # As conf/postfix-main.cf wires it: a per-service timeout, and DEFER_IF_PERMIT when the
        # daemon cannot be asked (mail is retried, never passed unchecked).
        check = (f"check_policy_service {{ {policy}, timeout=10s, "
                 f"default_action=DEFER_IF_PERMIT }}") if policy else ""
        stages = set(policy_stages)
        # The policy check runs in smtpd_recipient_restrictions, i.e. after the relay check
        # (smtpd_relay_restrictions: permit_mynetworks, reject_unauth_destination), and is not
        # preceded by permit_mynetworks: our loopback clients must reach the policy.
        return {
            "smtpd_milters": milter or "",
            "non_smtpd_milters": non_smtpd_milter or "",
            "smtpd_recipient_restrictions": ", ".join(
                x for x in ((check if "rcpt" in stages else ""), "permit") if x),
            "smtpd_data_restrictions": check if "data" in stages else "",
            "smtpd_end_of_data_restrictions": check if "eod" in stages else "",
        }

    def master_cf(self) -> str:
        return (f"127.0.0.1:{self.smtpd_port} inet n - n - - smtpd\n" + MASTER_CF_SERVICES
                + self.extra_master_cf)

    def write_config(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        lines = ["# Written by tests/integration/mwlab.py — a private, loopback-only instance.\n"]
        lines += [f"{k} = {v}\n" for k, v in self.params.items()]
        (self.conf_dir / "main.cf").write_text("".join(lines))
        (self.conf_dir / "master.cf").write_text(self.master_cf())
        if self.header_checks:
            (self.conf_dir / "header_checks").write_text("\n".join(self.header_checks) + "\n")

    # ---- running -------------------------------------------------------------------------

    def _cmd(self, argv: Sequence[str], *, check: bool = True, timeout: float = 60,
             input: bytes | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(a) for a in argv], input=input, capture_output=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise LabError(f"{' '.join(map(str, argv))} failed with {proc.returncode}:\n"
                           f"{proc.stdout.decode(errors='replace')}"
                           f"{proc.stderr.decode(errors='replace')}\n"
                           f"--- maillog ---\n{tail(self.maillog_text())}")
        return proc

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.queue_dir.mkdir(exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        shutil.chown(self.data_dir, "postfix")
        self.write_config()
        # `start` runs postfix-script check-fatal, whose `post-install create-missing` makes
        # the queue subdirectories with their owners (postfix; group postdrop for maildrop/
        # and public/).  A separate `postfix check` would only add ~3 s of find(1).
        self._token = register_cleanup(self.stop)
        self._cmd([POSTFIX, "-c", self.conf_dir, "start"])
        self.started = True
        wait_until(lambda: tcp_accepts("127.0.0.1", self.smtpd_port), 15,
                   what=f"Postfix smtpd on 127.0.0.1:{self.smtpd_port}")

    def master_pid(self) -> int | None:
        try:
            return int(read_text(self.queue_dir / "pid" / "master.pid").split()[0])
        except (ValueError, IndexError):
            return None

    def running(self) -> bool:
        return self._cmd([POSTFIX, "-c", self.conf_dir, "status"], check=False).returncode == 0

    def stop(self) -> None:
        if self._token is not None:
            unregister_cleanup(self._token)
            self._token = None
        if not self.started:
            return
        self.started = False
        pid = self.master_pid()
        self._cmd([POSTFIX, "-c", self.conf_dir, "stop"], check=False)
        if pid:
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not Path(f"/proc/{pid}").exists()
                           or "Z" in read_text(Path(f"/proc/{pid}/stat")).split(")")[-1][:3],
                           10, what="master to exit")

    def reload(self) -> None:
        self._cmd([POSTFIX, "-c", self.conf_dir, "reload"])
        time.sleep(0.3)   # master re-reads main.cf asynchronously; new smtpd get it

    def set_params(self, **params: str) -> None:
        """Changes main.cf parameters and reloads (only new smtpd/cleanup processes see them)."""
        self.params.update(params)
        self.write_config()
        if self.started:
            self.reload()

    def wire(self, *, milter: str | None = None, non_smtpd_milter: str | None | bool = True,
             policy: str | None = None, policy_stages: Sequence[str] = ("rcpt", "eod")) -> None:
        self.set_params(**self.wiring_params(milter, non_smtpd_milter, policy, policy_stages))

    def postconf(self, *names: str) -> dict[str, str]:
        out = self._cmd([POSTCONF, "-c", self.conf_dir, *names]).stdout.decode()
        return dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)

    def write_table(self, name: str, entries: Mapping[str, str | Sequence[str]],
                    kind: str = "postmap") -> str:
        """Writes conf/NAME and builds NAME.db: kind "postmap" (virtual(5): "key a, b") or
        "postalias" (aliases(5): "name: a, b").  Returns "hash:PATH" for main.cf."""
        path = self.conf_dir / name
        sep = ": " if kind == "postalias" else " "
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(
            f"{k}{sep}{v if isinstance(v, str) else ', '.join(v)}\n" for k, v in entries.items()))
        table = f"hash:{path}"
        self._cmd([shutil.which("postmap" if kind == "postmap" else "postalias",
                                path="/usr/sbin:/usr/bin") or f"/usr/sbin/{kind}",
                   "-c", self.conf_dir, table])
        return table

    def set_virtual_aliases(self, entries: Mapping[str, str | Sequence[str]]) -> None:
        """virtual_alias_maps = a hash table of these entries (address -> targets); reloads."""
        self.set_params(virtual_alias_maps=self.write_table("virtual", entries))

    def set_aliases(self, entries: Mapping[str, str | Sequence[str]]) -> None:
        """alias_maps = an aliases(5) table (local name -> targets) for local(8); reloads."""
        table = self.write_table("aliases", entries, kind="postalias")
        self.set_params(alias_maps=table, alias_database=table)

    # ---- mail in, queue, log -------------------------------------------------------------

    def sendmail(self, sender: str, recipients: str | Sequence[str], message: bytes | str,
                 extra_args: Sequence[str] = (), timeout: float = 60
                 ) -> subprocess.CompletedProcess:
        """Local submission: sendmail -> postdrop -> maildrop -> pickup -> cleanup
        (non_smtpd_milters apply).  Returns when postdrop has queued the file."""
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        data = message.encode() if isinstance(message, str) else message
        return self._cmd([SENDMAIL, "-C", self.conf_dir, "-i", "-f", sender, *extra_args,
                          "--", *rcpts], check=False, input=data, timeout=timeout)

    def queue(self) -> list[dict]:
        """postqueue -j: one dict per queued message; queue_name is maildrop, incoming,
        active, deferred or hold."""
        out = self._cmd([POSTQUEUE, "-c", self.conf_dir, "-j"]).stdout.decode()
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_for_queue_empty(self, timeout: float = 30.0, include_hold: bool = True) -> None:
        def empty() -> bool:
            return not [q for q in self.queue()
                        if include_hold or q.get("queue_name") != "hold"]
        try:
            wait_until(empty, timeout, interval=0.2, what="the queue to drain")
        except TimeoutError as e:
            raise AssertionError(f"{e}: {self.queue()}\n{tail(self.maillog_text())}") from None

    def flush(self) -> None:
        self._cmd([POSTQUEUE, "-c", self.conf_dir, "-f"], check=False)

    def postsuper(self, *args: str) -> subprocess.CompletedProcess:
        return self._cmd([POSTSUPER, "-c", self.conf_dir, *args], check=False)

    def delete_all(self) -> None:
        self.postsuper("-d", "ALL")

    def maillog_text(self, since: int = 0) -> str:
        return read_text(self.maillog, since)

    def maillog_offset(self) -> int:
        return file_size(self.maillog)

    def wait_for_maillog(self, pattern: str, timeout: float = 15.0, since: int = 0
                         ) -> re.Match:
        rx = re.compile(pattern, re.M)
        try:
            return wait_until(lambda: rx.search(self.maillog_text(since)), timeout,
                              what=f"maillog /{pattern}/")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n--- maillog ---\n{tail(self.maillog_text(since))}"
                                 ) from None


# --------------------------------------------------------------------------------------------
# The daemons under test
# --------------------------------------------------------------------------------------------

def run_tool(binary: Path | str, args: Sequence[str], timeout: float = 60,
             input: bytes | None = None) -> subprocess.CompletedProcess:
    """One-shot invocation (--check-config, --test, --print-defaults): text stdout/stderr."""
    binary = Path(binary)
    if not binary.exists():
        raise LabError(f"{binary} does not exist (build the project, or set MW_MILTER_BIN / "
                       "MW_POLICYD_BIN)")
    proc = subprocess.run([str(binary), *map(str, args)], input=input, capture_output=True,
                          timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


class Daemon:
    """mailwarden-milter or mailwarden-policyd running in the foreground, stderr to a file."""

    def __init__(self, name: str, binary: Path, config: Path, workdir: Path,
                 extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 pidfile: Path | None = None):
        self.name = name
        self.binary = Path(binary)
        self.config = Path(config)
        self.workdir = Path(workdir)
        self.extra_args = list(extra_args)
        self.env = env
        self.pidfile = pidfile
        self.proc: ManagedProcess | None = None
        self.spec: SocketSpec | None = None
        self.egress_spec: SocketSpec | None = None
        self.runs = 0

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.{self.runs}.stderr"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"{self.name}.{self.runs}.stdout"

    def start(self, wait_ready: bool = True, timeout: float = READY_TIMEOUT) -> "Daemon":
        if not self.binary.exists():
            raise LabError(f"{self.binary} does not exist (build the project, or set "
                           "MW_MILTER_BIN / MW_POLICYD_BIN)")
        self.runs += 1
        env = dict(os.environ, **(self.env or {}))
        self.proc = ManagedProcess([self.binary, "--config", self.config, *self.extra_args],
                                   stdout=self.stdout_path, stderr=self.stderr_path, env=env,
                                   cwd=self.workdir, pidfile=self.pidfile)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> SocketSpec:
        """Waits for "<name>: ready on SPEC" on stderr; LabError with the stderr if the daemon
        exits first or the line does not come in time."""
        # The milter with milter.egress_socket says "ready on SPEC, egress listener on SPEC2".
        rx = re.compile(rf"^{re.escape(self.name)}: ready on (\S+?)"
                        rf"(?:, egress listener on (\S+))?\s*$", re.M)
        assert self.proc is not None

        def ready() -> re.Match | bool | None:
            m = rx.search(self.stderr_text())
            return m or (not self.proc.running)
        try:
            result = wait_until(ready, timeout, what=f"{self.name} to be ready")
        except TimeoutError:
            self.proc.kill()
            raise LabError(f"{self.name} did not print 'ready on' within {timeout:g}s; "
                           f"stderr:\n{self.stderr_text()}") from None
        if not isinstance(result, re.Match):
            raise LabError(f"{self.name} exited with status {self.proc.returncode} before "
                           f"it was ready; stderr:\n{self.stderr_text()}")
        self.spec = SocketSpec.parse(result.group(1))
        self.egress_spec = SocketSpec.parse(result.group(2)) if result.group(2) else None
        return self.spec

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.running

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stderr_text(self, since: int = 0) -> str:
        return read_text(self.stderr_path, since)

    def stdout_text(self) -> str:
        return read_text(self.stdout_path)

    def stderr_offset(self) -> int:
        return file_size(self.stderr_path)

    def wait_for_stderr(self, pattern: str, timeout: float = 10.0, since: int = 0
                        ) -> re.Match:
        rx = re.compile(pattern, re.M)
        try:
            return wait_until(lambda: rx.search(self.stderr_text(since)), timeout,
                              what=f"{self.name} stderr /{pattern}/")
        except TimeoutError as e:
            raise AssertionError(f"{e}; stderr:\n{self.stderr_text(since)}") from None

    def signal(self, sig: int) -> None:
        if not self.running:
            raise LabError(f"{self.name} is not running (status {self.returncode}); "
                           f"stderr:\n{self.stderr_text()}")
        self.proc.signal(sig)

    def reload(self) -> None:
        """SIGHUP: re-read config and rules (a failed reload keeps the old ones)."""
        self.signal(signal.SIGHUP)

    def reopen_log(self) -> None:
        """SIGUSR1: reopen the decision log file (logrotate)."""
        self.signal(signal.SIGUSR1)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; returns the exit status (None if never started).  Raises
        TimeoutError (after SIGKILL) when it does not exit in time."""
        if self.proc is None:
            return None
        return self.proc.terminate(timeout)

    def wait(self, timeout: float) -> int:
        """For a daemon expected to exit by itself (bad config, socket in use...)."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    def run_tool(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """The same binary one-shot with this config: run_tool("--check-config")."""
        return run_tool(self.binary, ["--config", self.config, *args], timeout=timeout)


# --------------------------------------------------------------------------------------------
# The lab
# --------------------------------------------------------------------------------------------

def base_config(*, milter_socket: str, policyd_listen: str, log_path: Path,
                rule_files: Sequence[str] = ("rules.yaml",),
                internal_domains: Sequence[str] = (INTERNAL_DOMAIN,)) -> dict:
    """The config shape of docs/configuration.md with test-friendly timeouts."""
    return {
        "version": 1,
        "rule_files": list(rule_files),
        "domains": {"internal": list(internal_domains)},
        "milter": {
            "socket": milter_socket,
            "socket_mode": "0666",      # smtpd/cleanup run as user postfix
            "connection_timeout": "60s",
            "shutdown_timeout": "5s",
            "on_internal_error": "tempfail",
            "on_timeout": "tempfail",
        },
        "policyd": {
            "listen": policyd_listen,
            "max_connections": 64,
            "max_line_length": 4096,
            "max_attributes": 128,
            "idle_timeout": "60s",
            "on_internal_error": "tempfail",
        },
        "log": {
            "output": "file",
            "path": str(log_path),
            "log_accepted": True,
            "include_subject": False,
        },
    }


class Lab:
    """Postfix + smtp-sink + the daemons, in one directory; a context manager.

    milter / policyd: start and wire that daemon.  rules: rule dicts for rules.yaml (shared by
    both daemons; default: message-size 1MiB and a sender blocklist).  config: overrides
    deep-merged into both daemons' configs (milter_config / policyd_config: into one only).
    postfix: False runs the daemons only.  unix_sockets: daemons on unix sockets instead of
    loopback ports.  policy_stages: where check_policy_service runs (rcpt, data, eod; default
    rcpt and eod, like conf/postfix-main.cf).  rule_files: what the configs list (default the
    lab's rules.yaml; absolute paths, e.g. the repo's rules/default.yaml, work too).
    single_config: both daemons read one mailwarden.yaml and write one decisions.json, as in
    production (the demo); by default each has its own file so tests can tell them apart.
    root: a fixed directory instead of a fresh one under /tmp/mwlab (kept at close).
    egress: also run the egress listener of conf/postfix-egress.cf (its main.cf and master.cf
    lines, parsed from that file) with milter.egress_socket set; every message to the outside
    then passes the egress smtpd on 127.0.0.1:egress_port before reaching the sink.  Helpers
    for forwarding: postfix.set_virtual_aliases(), postfix.set_aliases(), add_local_user().
    """

    DEFAULT_RULES = [size_rule("1MiB"),
                     sender_blocklist_rule(["blocked@example.net", "@spam.example"])]

    def __init__(self, *, milter: bool = True, policyd: bool = False, postfix: bool = True,
                 rules: Sequence[Mapping[str, Any]] | None = None, rules_text: str | None = None,
                 config: Mapping | None = None, milter_config: Mapping | None = None,
                 policyd_config: Mapping | None = None, unix_sockets: bool = False,
                 policy_stages: Sequence[str] = ("rcpt", "eod"), header_checks: Sequence[str] = (),
                 postfix_params: Mapping[str, str] | None = None,
                 smtpd_port: int | None = None, sink_port: int | None = None,
                 milter_port: int | None = None, policyd_port: int | None = None,
                 rule_files: Sequence[str] = ("rules.yaml",), single_config: bool = False,
                 egress: bool = False, egress_port: int | None = None,
                 root: Path | None = None, name: str = "lab"):
        self.want_milter, self.want_policyd, self.want_postfix = milter, policyd, postfix
        self.rules = list(rules) if rules is not None else list(self.DEFAULT_RULES)
        self.rules_text = rules_text
        self.config_overrides = config
        self.milter_overrides, self.policyd_overrides = milter_config, policyd_config
        self.unix_sockets = unix_sockets
        self.policy_stages = tuple(policy_stages)
        self.header_checks = list(header_checks)
        self.postfix_params = dict(postfix_params or {})
        self.ports = {"smtpd": smtpd_port, "sink": sink_port, "milter": milter_port,
                      "policyd": policyd_port, "egress": None, "egress_smtpd": egress_port}
        self.want_egress = egress
        self._egress_socket = ""
        self.local_users: list[str] = []
        self.rule_files = list(rule_files)
        self.single_config = single_config
        self.fixed_root = root
        self.name = name
        self.dir: Path = Path()
        self.milter: Daemon | None = None
        self.policyd: Daemon | None = None
        self.postfix: PostfixInstance | None = None
        self.sink: SmtpSink | None = None
        self._token: int | None = None
        self._addr_counter = itertools.count(1)

    # ---- files -------------------------------------------------------------------------------

    @property
    def rules_path(self) -> Path:
        return self.dir / "rules.yaml"

    @property
    def milter_config_path(self) -> Path:
        return self.dir / ("mailwarden.yaml" if self.single_config else "milter.yaml")

    @property
    def policyd_config_path(self) -> Path:
        return self.dir / ("mailwarden.yaml" if self.single_config else "policyd.yaml")

    @property
    def milter_log_path(self) -> Path:
        return self.dir / ("decisions.json" if self.single_config else "decisions-milter.json")

    @property
    def policyd_log_path(self) -> Path:
        return self.dir / ("decisions.json" if self.single_config else "decisions-policyd.json")

    def _socket_spec(self, kind: str) -> str:
        if self.unix_sockets:
            return f"unix:{self.dir / (kind + '.sock')}"
        port = self.ports[kind] or free_port()
        self.ports[kind] = port
        return f"inet:127.0.0.1:{port}"

    def config_dict(self, kind: str) -> dict:
        """The full config written for "milter" or "policyd" (before any later rewrite)."""
        cfg = base_config(milter_socket=self._milter_socket, policyd_listen=self._policyd_listen,
                          log_path=self.milter_log_path if kind == "milter"
                          else self.policyd_log_path, rule_files=self.rule_files)
        if self.want_egress and (kind == "milter" or self.single_config):
            cfg["milter"]["egress_socket"] = self._egress_socket
        cfg = deep_merge(cfg, self.config_overrides)
        return deep_merge(cfg, self.milter_overrides if kind == "milter"
                          else self.policyd_overrides)

    def write_config(self, kind: str, content: Mapping | str | None = None) -> Path:
        """(Re)writes milter.yaml / policyd.yaml: a dict (merged over the defaults), raw YAML
        text, or None for the defaults.  Follow with daemon.reload() to apply."""
        path = self.milter_config_path if kind == "milter" else self.policyd_config_path
        if isinstance(content, str):
            text = content
        else:
            text = to_yaml(deep_merge(self.config_dict(kind), content))
        _atomic_write(path, text)
        return path

    def write_rules(self, rules: Sequence[Mapping[str, Any]] | str | None = None) -> Path:
        """(Re)writes rules.yaml from rule dicts or raw YAML text (None: the lab's rules)."""
        if rules is None:
            text = self.rules_text if self.rules_text is not None else rules_yaml(self.rules)
        elif isinstance(rules, str):
            text = rules
        else:
            text = rules_yaml(rules)
        _atomic_write(self.rules_path, text)
        return self.rules_path

    def new_daemon(self, kind: str, config: Mapping | str | None = None,
                   filename: str | None = None, extra_args: Sequence[str] = ()) -> Daemon:
        """Another daemon instance in this lab (not started): its own config file written
        from overrides merged over the lab's config for `kind` (or raw YAML text), and by
        default its own decision log.  For bad-config and socket-in-use tests."""
        filename = filename or f"{kind}-{next(self._addr_counter)}.yaml"
        path = self.dir / filename
        if isinstance(config, str):
            text = config
        else:
            own_log = {"log": {"path": str(path.with_suffix(".decisions.json"))}}
            text = to_yaml(deep_merge(deep_merge(self.config_dict(kind), own_log), config))
        _atomic_write(path, text)
        name = MILTER_NAME if kind == "milter" else POLICYD_NAME
        binary = milter_bin() if kind == "milter" else policyd_bin()
        return Daemon(name, binary, path, self.dir, extra_args=extra_args,
                      pidfile=self.dir / "pids")

    def config_text(self, kind: str) -> str:
        """The YAML currently in milter.yaml / policyd.yaml."""
        return read_text(self.milter_config_path if kind == "milter"
                         else self.policyd_config_path)

    # ---- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> "Lab":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> "Lab":
        install_signal_handlers()
        reap_stale_labs()
        if self.fixed_root:
            self.dir = Path(self.fixed_root)
            self.dir.mkdir(parents=True, exist_ok=True)
        else:
            LAB_BASE.mkdir(parents=True, exist_ok=True)
            os.chmod(LAB_BASE, 0o755)
            self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=LAB_BASE))
        os.chmod(self.dir, 0o755)   # the postfix user must traverse it (queue, sockets)
        (self.dir / "owner").write_text(f"{os.getpid()} {proc_start_time(os.getpid())}\n")
        self._token = register_cleanup(self.close)
        self._milter_socket = self._socket_spec("milter")
        self._policyd_listen = self._socket_spec("policyd")
        if self.want_egress:
            self._egress_socket = self._socket_spec("egress")
        self.write_rules()
        self.write_config("milter")
        if not self.single_config:
            self.write_config("policyd")
        pidfile = self.dir / "pids"
        if self.want_milter:
            self.milter = Daemon(MILTER_NAME, milter_bin(), self.milter_config_path, self.dir,
                                 pidfile=pidfile).start()
        if self.want_policyd:
            self.policyd = Daemon(POLICYD_NAME, policyd_bin(), self.policyd_config_path,
                                  self.dir, pidfile=pidfile).start()
        if self.want_postfix:
            self.sink = SmtpSink(self.dir, self.ports["sink"], pidfile=pidfile)
            egress_params, egress_master = {}, ""
            if self.want_egress:
                self.ports["egress_smtpd"] = self.ports["egress_smtpd"] or free_port()
                egress_params, egress_master = egress_config(
                    self.ports["egress_smtpd"],
                    self.milter.egress_spec.postfix() if self.milter and self.milter.egress_spec
                    else SocketSpec.parse(self._egress_socket).postfix())
            self.postfix = PostfixInstance(
                self.dir, smtpd_port=self.ports["smtpd"], relay_port=self.sink.port,
                milter=self.milter.spec.postfix() if self.milter else None,
                policy=self.policyd.spec.postfix() if self.policyd else None,
                policy_stages=self.policy_stages, header_checks=self.header_checks,
                params={**egress_params, **self.postfix_params}, extra_master_cf=egress_master)
            self.postfix.start()
            if self.want_egress:
                port = self.ports["egress_smtpd"]
                wait_until(lambda: tcp_accepts("127.0.0.1", port), 15,
                           what=f"the egress smtpd on 127.0.0.1:{port}")
        return self

    def close(self) -> None:
        """Stops Postfix, the sink and the daemons; removes the directory unless MWLAB_KEEP."""
        if self._token is not None:
            unregister_cleanup(self._token)
            self._token = None
        errors = []
        for user in reversed(self.local_users):
            remove_local_user(user)
        self.local_users.clear()
        for part in (self.postfix, self.sink, self.milter, self.policyd):
            if part is None:
                continue
            try:
                if isinstance(part, Daemon):
                    if part.running:
                        part.stop(15)
                else:
                    part.stop()
            except Exception as e:   # keep stopping the rest
                errors.append(f"{type(part).__name__}: {e}")
        if self.dir != Path() and self.dir.exists() and not KEEP and not self.fixed_root:
            shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise LabError("teardown: " + "; ".join(errors))

    # ---- conveniences --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self.postfix is not None, "this lab runs without Postfix"
        return self.postfix.smtpd_port

    def address(self, tag: str = "user", domain: str = LAB_DOMAIN) -> str:
        """A fresh address (tag-N-pid@domain) so that tests sharing a lab never confuse lines."""
        return f"{tag}-{next(self._addr_counter)}-{os.getpid()}@{domain}"

    def send(self, sender: str, recipients: str | Sequence[str], **kw: Any) -> SendResult:
        return send(self.port, sender, recipients, **kw)

    def add_local_user(self, forward: Sequence[str] = (), tag: str = "u") -> str:
        """A unix user for local(8) with its home under the lab directory and, if forward is
        given, a ~/.forward with those targets; removed again at close().  Returns the user
        name (mail to NAME@<a domain in mydestination> reaches it).  Its own mailbox, if any
        (a "\\NAME" line in forward), is ~/Maildir/ (home_mailbox)."""
        assert self.postfix is not None
        user = f"mw{tag}{os.getpid() % 100000}x{next(self._addr_counter)}"[:31]
        home = self.dir / "home" / user
        home.mkdir(parents=True)
        os.chmod(home.parent, 0o755)
        with (self.dir / "users").open("a") as f:   # for reap_stale_labs after a SIGKILL
            f.write(user + "\n")
        subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", user],
                       check=True, capture_output=True)
        self.local_users.append(user)
        if forward:
            (home / ".forward").write_text("".join(f"{t}\n" for t in forward))
            shutil.chown(home / ".forward", user)
        shutil.chown(home, user)
        if self.postfix.params.get("home_mailbox") != "Maildir/":
            self.postfix.set_params(home_mailbox="Maildir/")
        return user

    def smtp_send(self, sender: str, recipients: str | Sequence[str],
                  message: bytes | str | None = None, **kw: Any) -> SendResult:
        """smtplib path; message defaults to a small built one (body_size=... to pad it)."""
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        token = new_token()
        if message is None:
            message = build_message(sender, rcpts, token=token,
                                    body_size=kw.pop("body_size", None))
        return smtp_send(self.port, sender, rcpts, message, token=token, **kw)

    def mail_from_probe(self, sender: str, size: int | None) -> SmtpReply:
        return mail_from_probe(self.port, sender, size)

    def sendmail_local(self, sender: str, recipients: str | Sequence[str],
                       message: bytes | str | None = None, **kw: Any
                       ) -> subprocess.CompletedProcess:
        assert self.postfix is not None
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        if message is None:
            message = build_message(sender, rcpts, token=new_token(),
                                    body_size=kw.pop("body_size", None))
        return self.postfix.sendmail(sender, rcpts, message, **kw)

    def queue_json(self) -> list[dict]:
        assert self.postfix is not None
        return self.postfix.queue()

    def wait_for_queue_empty(self, timeout: float = 30.0, include_hold: bool = True) -> None:
        assert self.postfix is not None
        self.postfix.wait_for_queue_empty(timeout, include_hold)

    def maillog_text(self, since: int = 0) -> str:
        return self.postfix.maillog_text(since) if self.postfix else ""

    def decision_log(self, daemon: str = "milter") -> DecisionLog:
        return DecisionLog(self.milter_log_path if daemon == "milter" else self.policyd_log_path)

    def decisions(self, daemon: str | None = None) -> list[dict]:
        """Decision-log entries of one daemon ("milter"/"policyd") or of both (milter first)."""
        if self.single_config:
            entries = self.decision_log().entries()
            if daemon is None:
                return entries
            return [e for e in entries
                    if field_of(e, "event.dataset") == f"mailwarden.{daemon}"]
        kinds = [daemon] if daemon else ["milter", "policyd"]
        return [e for k in kinds for e in self.decision_log(k).entries()]

    def find_decisions(self, spec: Callable[[dict], bool] | Mapping[str, Any],
                       daemon: str | None = None) -> list[dict]:
        pred = matcher(spec)
        return [e for e in self.decisions(daemon) if pred(e)]

    def wait_for_decision(self, spec: Callable[[dict], bool] | Mapping[str, Any],
                          timeout: float = 10.0, daemon: str | None = None) -> dict:
        pred = matcher(spec)
        try:
            return wait_until(lambda: next((e for e in self.decisions(daemon) if pred(e)),
                                           None), timeout, what=f"a decision matching {spec!r}")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.diagnostics()}") from None

    def policy_request(self, attrs: Mapping[str, str] | None = None, **kw: Any) -> str:
        assert self.policyd is not None and self.policyd.spec is not None
        return policy_request(self.policyd.spec, attrs or policy_attrs(**kw))

    def diagnostics(self, lines: int = 30) -> str:
        """Tails of everything, for assertion messages."""
        parts = [f"lab directory: {self.dir}"]
        for d in (self.milter, self.policyd):
            if d is not None:
                state = "running" if d.running else f"exited {d.returncode}"
                parts.append(f"--- {d.name} stderr ({state}) ---\n{tail(d.stderr_text(), lines)}")
        for k in (("milter",) if self.single_config else ("milter", "policyd")):
            log = self.decision_log(k)
            if log.path.exists():
                parts.append(f"--- {log.path.name} ---\n{tail(read_text(log.path), lines)}")
        if self.postfix:
            parts.append(f"--- maillog ---\n{tail(self.maillog_text(), lines)}")
        return "\n".join(parts)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# unittest support
# --------------------------------------------------------------------------------------------

class LabTestCase:
    """Mixin for unittest.TestCase classes sharing one Lab per class.

    Subclasses set LAB_OPTIONS (keyword arguments of Lab) and use self.lab."""

    LAB_OPTIONS: dict[str, Any] = {}
    lab: Lab

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()          # type: ignore[misc]
        cls.lab = Lab(name=cls.__name__, **cls.LAB_OPTIONS)
        cls.lab.__enter__()

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.lab.close()
        finally:
            super().tearDownClass()   # type: ignore[misc]

    def assertReply(self, result: SendResult, code: int, enhanced: str | None = None,
                    stage: str | None = None, text_contains: str | None = None) -> None:
        """Asserts the final reply of a transaction, with the transcript on failure."""
        problems = []
        r = result.reply
        if r is None:
            problems.append("no reply at all")
        else:
            if r.code != code:
                problems.append(f"code {r.code} != {code}")
            if enhanced is not None and r.enhanced != enhanced:
                problems.append(f"enhanced code {r.enhanced} != {enhanced}")
            if text_contains is not None and text_contains not in r.text:
                problems.append(f"{text_contains!r} not in reply text {r.text!r}")
        if stage is not None and result.stage != stage:
            problems.append(f"stage {result.stage} != {stage}")
        if problems:
            self.fail("; ".join(problems) + f"\n{result}\n{self.lab.diagnostics()}")  # type: ignore[attr-defined]

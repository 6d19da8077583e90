"""mwdovecot — a private Dovecot LMTP + Pigeonhole Sieve server for mwlab labs.

    with mwlab.Lab(milter=True, rules=...) as lab:
        dc = mwdovecot.attach(lab, domain="bacgiang.gov.vn",
                              users={"alice": 'redirect "alice@gmail.com";'})
        r = lab.send("bob@outside.example", ["alice@bacgiang.gov.vn"])
        dc.wait_for_mail("alice")          # her own copy (Maildir), if the script keeps one

`attach()` starts a Dovecot of its own in <lab dir>/dovecot/ (base_dir, state, log, users'
homes and Maildirs, Sieve scripts: all inside the lab) with only an LMTP listener on a loopback
port, and routes the domain's mail there from the lab's Postfix (virtual_mailbox_domains,
virtual_mailbox_maps = inline:{the users}, virtual_transport = lmtp:inet:127.0.0.1:PORT, and
an `lmtp` service added to master.cf through PostfixInstance.extra_master_cf).  A Sieve
`redirect` runs sendmail_path, which ends in the lab Postfix's `sendmail -C <lab conf>`:
postdrop -> maildrop -> pickup -> cleanup with non_smtpd_milters, the path a production
Dovecot on a Postfix host takes.  Nothing of the host's Dovecot (/etc/dovecot, a system
instance, /run/dovecot) is read, used or disturbed; the instance stops when the lab closes.

Running a private Dovecot 2.3 / Pigeonhole 0.5 (Debian 12) as root — what it takes
-----------------------------------------------------------------------------------
* `dovecot -F -c CONF` runs the master in the foreground (a ManagedProcess: SIGTERM at
  teardown, PR_SET_PDEATHSIG, pid recorded in the lab's pids file for reap_stale_labs()).
  Its children (log, config, auth, lmtp, anvil, stats) watch the master through a pipe and
  exit when it is gone, also after a SIGKILL of the test.  base_dir must be private (unix
  sockets there, paths < 108 bytes); a unique instance_name keeps it apart from a system
  instance.  `protocols = lmtp` + `ssl = no`: no imap/pop3 listener, no certificate.
* Mail users cannot be root: a uid 0 in a passwd-file is "invalid UID", and mail_uid = root
  fails with "Couldn't drop privileges: Mail access not allowed for root".  Users here are
  passwd-file entries with empty uid/gid and mail_uid = mail_gid = mail (uid 8), homes
  chowned to it.  Per-user settings are passwd-file extra fields, which must be written
  `userdb_<setting>=value` (without the prefix they are silently ignored).
* Sieve's sendmail runs as that user with privileges dropped for good (real and effective
  uid 8; setresuid(0) fails).  Postfix's sendmail and postdrop with a non-default config
  directory insist, for a caller that is not root, that the directory be listed in the
  *host's* /etc/postfix/main.cf alternate_config_directories (mail_conf_checkdir()), which
  a lab must not touch.  So sendmail_path is a small relay client (<lab>/dovecot/sendmail):
  it passes its argv and stdin over a unix socket to a thread of the (root) test process,
  which runs `/usr/sbin/sendmail -C <lab conf> ARGV` and returns its exit status and stderr.
  Every call is recorded verbatim (Dovecot.sendmail_calls: argv, uid, message, status).
  The only visible difference from production is pickup's "(Postfix, from userid 0)".
* A failing sendmail (non-zero exit) makes Pigeonhole fail the whole delivery temporarily
  (keep rolled back, LMTP 4xx, Postfix retries), so the relay must work before any test
  makes sense; a milter refusal in cleanup is not such a failure (postdrop already queued).
* Users come from a passwd-file so that an unknown recipient is refused at RCPT by LMTP.
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import mwlab

DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/dovecot"


def available() -> str | None:
    """None if Dovecot LMTP + Pigeonhole are installed, else what is missing."""
    missing = [what for what, path in (
        ("dovecot-core", DOVECOT),
        ("dovecot-lmtpd", "/usr/lib/dovecot/lmtp"),
        ("dovecot-sieve", "/usr/lib/dovecot/modules/lib90_sieve_plugin.so"),
    ) if not Path(path).exists()]
    return None if not missing else "not installed: " + ", ".join(missing) + \
        " (scripts/install-deps.sh)"


@dataclass
class StoredMessage:
    path: Path
    raw: bytes
    message: email.message.Message

    @property
    def token(self) -> str | None:
        return self.message.get("X-Mwlab-Id")


# --------------------------------------------------------------------------------------------
# The sendmail relay: Dovecot (uid mail) -> wrapper -> unix socket -> root -> sendmail -C LAB
# --------------------------------------------------------------------------------------------

RELAY_CLIENT = """\
# mwdovecot sendmail relay client (sendmail_path of a lab Dovecot); stdlib only.
import json, os, socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("@SOCKET@")
s.sendall(json.dumps({"argv": sys.argv[1:], "uid": os.getuid(), "gid": os.getgid()}).encode()
          + b"\\n" + data)
s.shutdown(socket.SHUT_WR)
answer = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    answer += chunk
reply = json.loads(answer or b'{"rc": 75, "stderr": "mwdovecot relay: no answer\\\\n"}')
sys.stdout.write(reply.get("stdout", ""))
sys.stderr.write(reply.get("stderr", ""))
sys.exit(reply["rc"])
"""


@dataclass
class SendmailCall:
    argv: list[str]            # what Dovecot passed to sendmail_path (without argv[0])
    uid: int                   # the uid Dovecot ran it as
    message: bytes             # the message it piped in
    rc: int                    # sendmail's exit status, returned to Dovecot
    stderr: str

    @property
    def envelope_sender(self) -> str | None:
        """The -f argument ("" for the null sender <>), None if there was none."""
        for i, a in enumerate(self.argv):
            if a == "-f" and i + 1 < len(self.argv):
                return self.argv[i + 1].strip("<>")
            if a.startswith("-f") and len(a) > 2:
                return a[2:].strip("<>")
        return None

    @property
    def recipients(self) -> list[str]:
        return self.argv[self.argv.index("--") + 1:] if "--" in self.argv else []

    @property
    def parsed(self) -> email.message.Message:
        return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(self.message)


class SendmailRelay:
    """A unix socket served by a thread of the (root) test process: each connection is one
    sendmail invocation by Dovecot, run as `/usr/sbin/sendmail -C CONF ARGV...` by root.
    Every call is recorded (self.calls) — what Dovecot asked for, verbatim."""

    def __init__(self, path: Path, postfix_conf: Path | None):
        self.path = Path(path)
        self.postfix_conf = postfix_conf
        self.calls: list[SendmailCall] = []
        self._lock = threading.Lock()
        self.path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        os.chmod(self.path, 0o666)
        self.sock.listen(16)
        self._stopping = False
        self.thread = threading.Thread(target=self._serve, name="mwdovecot-relay", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, message = data.partition(b"\n")
            req = json.loads(head)
            argv = ["/usr/sbin/sendmail"]
            if self.postfix_conf is not None:
                argv += ["-C", str(self.postfix_conf)]
            argv += req["argv"]
            try:
                proc = subprocess.run(argv, input=message, capture_output=True, timeout=60)
                rc, out, err = proc.returncode, proc.stdout, proc.stderr
            except (OSError, subprocess.TimeoutExpired) as e:   # EX_TEMPFAIL for Dovecot
                rc, out, err = 75, b"", f"mwdovecot relay: {e}\n".encode()
            call = SendmailCall(req["argv"], req["uid"], message, rc,
                                err.decode("utf-8", "replace"))
            with self._lock:
                self.calls.append(call)
            conn.sendall(json.dumps({"rc": rc,
                                     "stdout": out.decode("utf-8", "replace"),
                                     "stderr": call.stderr}).encode())

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


class Dovecot:
    """One private Dovecot (LMTP + Sieve) in root/dovecot/.

    users: local part -> Sieve script text (None: no script, plain delivery).
    user_settings: local part -> userdb extra fields, which override plugin settings for that
    user only, e.g. {"dave": {"sieve_redirect_envelope_from": "recipient"}}.
    redirect_envelope_from: Pigeonhole's sieve_redirect_envelope_from (sender, recipient,
    orig_recipient, user_email, postmaster, "<addr>"); user_email: sieve_user_email.
    sendmail_conf: the Postfix config directory sendmail gets with -C (None: host default).
    imap: also an IMAP listener on a loopback port (self.imap_port; users log in with the
    password "x"), for what happens at login (the last_login plugin).
    mail_plugins / imap_plugins: plugins for every protocol / for IMAP only (e.g. "quota",
    "last_login"); extra_config: text appended to dovecot.conf (dict {...} sections).
    """

    def __init__(self, root: Path, *, domain: str, users: Mapping[str, str | None],
                 sendmail_conf: Path | None, lmtp_port: int | None = None,
                 redirect_envelope_from: str = "sender", user_email: str | None = None,
                 extra_plugin_settings: Mapping[str, str] | None = None,
                 user_settings: Mapping[str, Mapping[str, str]] | None = None,
                 pidfile: Path | None = None, debug: bool = True, imap: bool = False,
                 mail_plugins: str = "", imap_plugins: str = "", extra_config: str = ""):
        self.root = Path(root) / "dovecot"
        self.domain = domain
        self.users = dict(users)
        self.sendmail_conf = sendmail_conf
        self.lmtp_port = lmtp_port or mwlab.free_port()
        self.redirect_envelope_from = redirect_envelope_from
        self.user_email = user_email
        self.extra_plugin_settings = dict(extra_plugin_settings or {})
        self.user_settings = {u: dict(v) for u, v in (user_settings or {}).items()}
        self.pidfile = pidfile
        self.debug = debug
        self.imap_port = mwlab.free_port() if imap else None
        self.mail_plugins = mail_plugins
        self.imap_plugins = imap_plugins
        self.extra_config = extra_config
        self.conf = self.root / "dovecot.conf"
        self.base_dir = self.root / "run"
        self.log = self.root / "dovecot.log"
        self.proc: mwlab.ManagedProcess | None = None
        self.relay: SendmailRelay | None = None
        self.instance_name = f"mwlab-dovecot-{os.getpid()}-{self.lmtp_port}"

    # ---- files ---------------------------------------------------------------------------

    def address(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def home(self, user: str) -> Path:
        return self.root / "home" / user

    def maildir(self, user: str) -> Path:
        return self.home(user) / "Maildir"

    def sieve_path(self, user: str) -> Path:
        return self.home(user) / ".dovecot.sieve"

    def sieve_log(self, user: str) -> Path:
        return self.home(user) / ".dovecot.sieve.log"

    def config_text(self) -> str:
        sendmail = str(self.root / "sendmail")
        plugin = {
            "sieve": "file:~/sieve;active=~/.dovecot.sieve",
            "sieve_redirect_envelope_from": self.redirect_envelope_from,
        }
        if self.user_email:
            plugin["sieve_user_email"] = self.user_email
        plugin.update(self.extra_plugin_settings)
        plugin_lines = "".join(f"  {k} = {v}\n" for k, v in plugin.items())
        imap = ""
        if self.imap_port:
            imap = f"""\
disable_plaintext_auth = no
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_plugins = $mail_plugins {self.imap_plugins}
}}
"""
        return f"""\
# Written by tests/integration/mwdovecot.py — a private, loopback-only LMTP instance.
instance_name = {self.instance_name}
base_dir = {self.base_dir}
state_dir = {self.root / "state"}
protocols = lmtp{" imap" if self.imap_port else ""}
listen = 127.0.0.1
ssl = no
log_path = {self.log}
mail_debug = {"yes" if self.debug else "no"}
auth_debug = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 0
first_valid_gid = 0
mail_uid = mail
mail_gid = mail
mail_location = maildir:~/Maildir
postmaster_address = postmaster@{self.domain}
hostname = mx.{self.domain}
sendmail_path = {sendmail}
lmtp_save_to_detail_mailbox = no
mail_plugins = $mail_plugins {self.mail_plugins}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root / "users"}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root / "users"}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
plugin {{
{plugin_lines}}}
{imap}{self.extra_config}"""

    def write_users(self) -> None:
        lines = []
        for user in self.users:
            home = self.home(user)
            home.mkdir(parents=True, exist_ok=True)
            shutil.chown(home, "mail", "mail")
            extra = " ".join(f"userdb_{k}={v}" for k, v in self.user_settings.get(user, {}).items())
            lines.append(f"{self.address(user)}:{{PLAIN}}x::::{home}::{extra}\n"
                         if extra else f"{self.address(user)}:{{PLAIN}}x::::{home}:\n")
        (self.root / "users").write_text("".join(lines))
        for user, script in self.users.items():
            self.set_sieve(user, script)

    def set_sieve(self, user: str, script: str | None) -> None:
        """Installs (None: removes) user's active Sieve script; takes effect on the next
        delivery (Pigeonhole recompiles a script newer than its .svbin)."""
        path = self.sieve_path(user)
        for p in (path, path.with_suffix(".svbin")):
            p.unlink(missing_ok=True)
        if script is not None:
            path.write_text(script if script.endswith("\n") else script + "\n")

    def write_sendmail_wrapper(self) -> None:
        """sendmail_path: a client of the root sendmail relay (see the module docstring)."""
        path = self.root / "sendmail"
        path.write_text("#!/usr/bin/python3\n" + RELAY_CLIENT.replace(
            "@SOCKET@", str(self.relay.path)))
        path.chmod(0o755)

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_sendmail_wrapper()
        (self.root / "state").mkdir(exist_ok=True)
        self.conf.write_text(self.config_text())
        self.write_users()

    # ---- running -------------------------------------------------------------------------

    def start(self) -> "Dovecot":
        missing = available()
        if missing:
            raise mwlab.LabError(missing)
        self.root.mkdir(parents=True, exist_ok=True)
        self.relay = SendmailRelay(self.root / "sendmail.sock", self.sendmail_conf)
        self.write_config()
        check = subprocess.run([DOVECOT, "-c", str(self.conf), "-n"], capture_output=True,
                               text=True, timeout=30)
        if check.returncode != 0:
            raise mwlab.LabError(f"dovecot -n rejected {self.conf}:\n{check.stderr}")
        self.proc = mwlab.ManagedProcess([DOVECOT, "-F", "-c", self.conf],
                                         stdout=self.root / "dovecot.stdout",
                                         stderr=self.root / "dovecot.stderr",
                                         pidfile=self.pidfile)
        try:
            mwlab.wait_until(lambda: (mwlab.tcp_accepts("127.0.0.1", self.lmtp_port) and (
                not self.imap_port or mwlab.tcp_accepts("127.0.0.1", self.imap_port)))
                or not self.proc.running, 15, what="dovecot to listen")
        except TimeoutError:
            self.proc.kill()
            raise mwlab.LabError(f"dovecot did not listen:\n{self.diagnostics()}") from None
        if not self.proc.running:
            raise mwlab.LabError(f"dovecot exited with {self.proc.returncode}:\n"
                                 f"{self.diagnostics()}")
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.running

    def stop(self) -> None:
        if self.proc is not None:
            try:
                self.proc.terminate(10)
            except TimeoutError:
                pass    # killed; the children follow the master's dead pipe
        if self.relay is not None:
            self.relay.stop()

    @property
    def sendmail_calls(self) -> list[SendmailCall]:
        return list(self.relay.calls) if self.relay else []

    def wait_for_sendmail(self, pred: Callable[[SendmailCall], bool] = lambda c: True,
                          timeout: float = 15.0) -> SendmailCall:
        """The first sendmail invocation (a Sieve redirect, a vacation reply...) matching."""
        try:
            return mwlab.wait_until(lambda: next((c for c in self.sendmail_calls if pred(c)),
                                                 None), timeout, what="a sendmail call")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.diagnostics()}") from None

    def reload(self) -> None:
        """Rewrites the config (e.g. after changing redirect_envelope_from) and SIGHUPs."""
        self.write_config()
        assert self.proc is not None
        offset = mwlab.file_size(self.log)
        self.proc.signal(signal.SIGHUP)
        mwlab.wait_until(lambda: "SIGHUP received - reloading" in self.log_text(offset), 10,
                         what="dovecot to reload")

    # ---- what happened ---------------------------------------------------------------------

    def log_text(self, since: int = 0) -> str:
        return mwlab.read_text(self.log, since)

    def log_offset(self) -> int:
        return mwlab.file_size(self.log)

    def wait_for_log(self, pattern: str, timeout: float = 15.0, since: int = 0) -> re.Match:
        rx = re.compile(pattern, re.M)
        try:
            return mwlab.wait_until(lambda: rx.search(self.log_text(since)), timeout,
                                    what=f"dovecot log /{pattern}/")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n--- dovecot log ---\n"
                                 f"{mwlab.tail(self.log_text(since))}") from None

    def messages(self, user: str) -> list[StoredMessage]:
        """Everything in user's INBOX (Maildir new/ and cur/), oldest first."""
        out = []
        paths = [p for sub in ("new", "cur") for p in (self.maildir(user) / sub).glob("*")]
        for path in sorted(paths, key=lambda p: p.stat().st_mtime):
            raw = path.read_bytes()
            out.append(StoredMessage(path, raw, email.parser.BytesParser(
                policy=email.policy.compat32).parsebytes(raw)))
        return out

    def find(self, user: str, pred: Callable[[StoredMessage], bool]) -> list[StoredMessage]:
        return [m for m in self.messages(user) if pred(m)]

    def wait_for_mail(self, user: str, pred: Callable[[StoredMessage], bool] = lambda m: True,
                      timeout: float = 15.0) -> StoredMessage:
        try:
            return mwlab.wait_until(lambda: next(iter(self.find(user, pred)), None), timeout,
                                    what=f"a message in {user}'s Maildir")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.diagnostics()}") from None

    def diagnostics(self, lines: int = 30) -> str:
        parts = [f"--- dovecot log ({self.log}) ---\n{mwlab.tail(self.log_text(), lines)}"]
        err = mwlab.read_text(self.root / "dovecot.stderr")
        if err.strip():
            parts.append(f"--- dovecot stderr ---\n{mwlab.tail(err, lines)}")
        for user in self.users:
            log = mwlab.read_text(self.sieve_log(user))
            if log.strip():
                parts.append(f"--- {user} sieve log ---\n{mwlab.tail(log, lines)}")
        return "\n".join(parts)


LMTP_MASTER_CF = "lmtp      unix  -       -       n       -       -       lmtp\n"


def route_domain_params(domain: str, users: Sequence[str], lmtp_port: int) -> dict[str, str]:
    """main.cf settings that deliver domain's mail (only the listed users) to the LMTP port."""
    mailboxes = ", ".join(f"{u}@{domain}=ok" for u in users)
    return {
        "virtual_mailbox_domains": domain,
        "virtual_mailbox_maps": f"inline:{{{mailboxes}}}",
        "virtual_transport": f"lmtp:inet:127.0.0.1:{lmtp_port}",
        "lmtp_host_lookup": "native",
    }


def attach(lab: mwlab.Lab, *, domain: str, users: Mapping[str, str | None],
           **kw) -> Dovecot:
    """Starts a Dovecot in lab's directory and routes domain's mail to it through the lab's
    Postfix (which must be running).  The lab's master.cf gets an `lmtp` service (mwlab's
    master.cf has none); see the module docstring for the rest.  Stopped with the lab."""
    assert lab.postfix is not None, "mwdovecot needs a lab with Postfix"
    dc = Dovecot(lab.dir, domain=domain, users=users, sendmail_conf=lab.postfix.conf_dir,
                 pidfile=lab.dir / "pids", **kw)
    dc.start()
    # Stop Dovecot when the lab closes, after Postfix: wrap the lab's close().
    token = mwlab.register_cleanup(dc.stop)
    original_close = lab.close

    def close() -> None:
        try:
            original_close()
        finally:
            dc.stop()
            mwlab.unregister_cleanup(token)
    lab.close = close   # type: ignore[method-assign]

    pf = lab.postfix
    if LMTP_MASTER_CF not in pf.master_cf():
        if hasattr(pf, "extra_master_cf"):
            pf.extra_master_cf += LMTP_MASTER_CF
        else:   # an mwlab without the hook
            base_master_cf = pf.master_cf
            pf.master_cf = lambda: base_master_cf() + LMTP_MASTER_CF  # type: ignore
    pf.set_params(**route_domain_params(domain, list(users), dc.lmtp_port))
    return dc

#!/usr/bin/env python3
"""mwdns — a private dnsmasq serving DNS blocklist test zones (Python 3 standard library only).

`DnsServer` runs dnsmasq (Debian package dnsmasq-base) on 127.0.0.1:<a free port>, UDP and
TCP, with its own directory.  It answers A records for exact names (`--host-record`, so a
record for "example.com.dbl.test" does not list "www.example.com.dbl.test") and NXDOMAIN for
every other name under its local domains (default: "test"); it reads no /etc/hosts or
/etc/resolv.conf and forwards nothing.  The host's resolver is never used or touched.

    with mwdns.DnsServer() as dns:
        port = dns.start({mwdns.client_name("192.0.2.1", "zen.test"): "127.0.0.2",
                          "example.com.dbl.test": ["127.0.1.2", "127.0.1.4"]})
        # the milter's spam rule: dnsbl_servers: ["127.0.0.1:%d" % port]
        dns.query_a("example.com.dbl.test")     # ['127.0.1.2', '127.0.1.4']
        dns.query_a("example.net.dbl.test")     # None (NXDOMAIN)
        dns.stop(); dns.start(records)          # the same port again

As a script, for a ctest fixture (FIXTURES_SETUP / FIXTURES_CLEANUP):

    python3 tests/integration/mwdns.py start DIR --record NAME=ADDR [--record ...] [--local DOMAIN]
        starts a daemonized dnsmasq in DIR (created), writes DIR/port, DIR/server
        ("127.0.0.1:PORT"), DIR/dnsmasq.pid, DIR/records.json; a server already running there
        is stopped first.  Run again on a stopped DIR, it reuses DIR/port (and the records
        of DIR/records.json when no --record is given).
    python3 tests/integration/mwdns.py stop DIR     SIGTERM, wait
    python3 tests/integration/mwdns.py kill DIR     SIGKILL (a crash), wait
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import pwd
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import mwservice

DNSMASQ = shutil.which("dnsmasq", path="/usr/sbin:/usr/bin:/usr/local/sbin") or "/usr/sbin/dnsmasq"
START_TIMEOUT = 10.0

Records = Mapping[str, Union[str, Sequence[str]]]


class DnsError(RuntimeError):
    """The server could not be started, stopped or asked (not a product assertion)."""


def client_name(address: str, zone: str) -> str:
    """The name a client blocklist is asked for `address` in `zone`: reversed octets for
    IPv4 ("1.2.0.192.zen.test"), reversed nibbles for IPv6."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        prefix = ".".join(reversed(address.split(".")))
    else:
        prefix = ".".join(reversed(ip.exploded.replace(":", "")))
    return f"{prefix}.{zone}"


def _free_port() -> int:
    """A loopback port free for both UDP and TCP (dnsmasq binds both)."""
    for _ in range(50):
        port = mwservice.free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise DnsError("no loopback port free for UDP and TCP")


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DnsError(f"bad DNS name {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def _skip_name(msg: bytes, pos: int) -> int:
    while True:
        length = msg[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:       # a compression pointer ends the name
            return pos + 2
        pos += 1 + length


def query_a(port: int, name: str, timeout: float = 2.0) -> list[str] | None:
    """Asks 127.0.0.1:port for the A records of `name`: the addresses, [] for a name without
    A records, None for NXDOMAIN.  Raises DnsError on no answer or another error code."""
    qid = random.randrange(65536)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + \
        struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query, ("127.0.0.1", port))
        try:
            msg = s.recv(4096)
        except socket.timeout as e:
            raise DnsError(f"no answer from 127.0.0.1:{port} for {name}") from e
    rid, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if rid != qid:
        raise DnsError("answer to another query")
    rcode = flags & 0x0F
    if rcode == 3:
        return None
    if rcode != 0:
        raise DnsError(f"{name}: rcode {rcode}")
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(msg, pos) + 4
    addresses = []
    for _ in range(ancount):
        pos = _skip_name(msg, pos)
        rtype, _, _, rdlength = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        if rtype == 1 and rdlength == 4:
            addresses.append(socket.inet_ntoa(msg[pos:pos + 4]))
        pos += rdlength
    return addresses


class DnsServer:
    """A private dnsmasq on 127.0.0.1 (see the module docstring)."""

    def __init__(self, root: Path | None = None, *, port: int | None = None):
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="mwdns-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.records: dict[str, list[str]] = {}
        self.local_domains: list[str] = ["test"]
        self.proc: subprocess.Popen | None = None

    # ---- files ---------------------------------------------------------------------------

    @property
    def pid_path(self) -> Path:
        return self.root / "dnsmasq.pid"

    @property
    def log_path(self) -> Path:
        return self.root / "dnsmasq.log"

    def server(self) -> str:
        """The spelling of the milter's dnsbl_servers: "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self.port}"

    def _argv(self, daemonize: bool) -> list[str]:
        argv = [DNSMASQ, "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
                "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={self.port}",
                f"--pid-file={self.pid_path}", f"--log-facility={self.log_path}",
                "--log-queries", f"--user={pwd.getpwuid(os.getuid()).pw_name}"]
        if not daemonize:
            argv.append("--keep-in-foreground")
        argv += [f"--local=/{d}/" for d in self.local_domains]
        for name, addresses in self.records.items():
            argv += [f"--host-record={name},{a}" for a in addresses]
        return argv

    # ---- life cycle ----------------------------------------------------------------------

    def start(self, records: Records | None = None, *, local_domains: Iterable[str] | None = None,
              daemonize: bool = False) -> int:
        """Starts the server with `records` (name -> address or addresses; None keeps the
        previous ones) on the same port as before, waits until it answers, returns the port."""
        if records is not None:
            self.records = {name.rstrip(".").lower(): [v] if isinstance(v, str) else list(v)
                            for name, v in records.items()}
            for name, addresses in self.records.items():
                for a in addresses:
                    if ipaddress.ip_address(a).version != 4:
                        raise DnsError(f"{name}: {a} is not an IPv4 address")
        if local_domains is not None:
            self.local_domains = list(local_domains)
        self.stop()
        self.pid_path.unlink(missing_ok=True)
        if daemonize:
            run = subprocess.run(self._argv(True), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=30, text=True)
            if run.returncode != 0:
                raise DnsError(f"dnsmasq exited ({run.returncode}): {run.stdout}{self.log()}")
        else:
            self.proc = subprocess.Popen(self._argv(False), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + START_TIMEOUT
        probe = f"mwdns-ready.{self.local_domains[0]}" if self.local_domains else "mwdns-ready"
        while True:
            try:
                self.query_a(probe, timeout=0.2)
                return self.port
            except (OSError, DnsError):
                pass
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise DnsError(f"dnsmasq exited ({self.proc.returncode}): {err}{self.log()}")
            if time.monotonic() > deadline:
                raise DnsError(f"dnsmasq not answering on port {self.port}:\n{self.log()}")
            time.sleep(0.05)

    def pid(self) -> int | None:
        return mwservice.service_pid(self.proc, self.pid_path)

    def running(self) -> bool:
        # Only a dnsmasq of ours (its pid file is on the command line).
        return mwservice.service_running(self.proc, self.pid_path, str(self.pid_path))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stops the server (SIGTERM; SIGKILL for a crash) and waits until it is gone."""
        pid = self.pid()
        if pid is None or not self.running():
            self.proc = None
            return
        mwservice.signal_and_wait(self.proc, pid, sig, timeout, self.running)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL: the server dies as in a crash."""
        self.stop(signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "DnsServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- asking --------------------------------------------------------------------------

    def query_a(self, name: str, timeout: float = 2.0) -> list[str] | None:
        return query_a(self.port, name, timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _server_in(root: Path) -> DnsServer:
    server = DnsServer(root, port=mwservice.saved_port(root))
    try:
        saved = json.loads((root / "records.json").read_text())
        server.records = {k: list(v) for k, v in saved["records"].items()}
        server.local_domains = list(saved["local_domains"])
    except (OSError, ValueError, KeyError):
        pass
    return server


def _start(root: Path, args: argparse.Namespace) -> None:
    server = _server_in(root)
    records = None
    if args.record:
        records = {}
        for item in args.record:
            name, sep, addr = item.partition("=")
            if not sep:
                raise DnsError(f"--record {item!r}: expected NAME=ADDR")
            records.setdefault(name, []).append(addr)
    server.start(records, local_domains=args.local or None, daemonize=True)
    (root / "port").write_text(str(server.port))
    (root / "server").write_text(server.server() + "\n")
    (root / "records.json").write_text(json.dumps(
        {"records": server.records, "local_domains": server.local_domains}, indent=1) + "\n")
    print(f"dnsmasq on {server.server()} (pid {server.pid()}), {len(server.records)} names")


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", action="append", default=[],
                        help="NAME=ADDR, an A record (repeat a name for several addresses)")
    parser.add_argument("--local", action="append", default=[],
                        help="a domain answered NXDOMAIN for names without records "
                             "(default: test)")


if __name__ == "__main__":
    mwservice.run_fixture_script(
        "mwdns", "a private dnsmasq serving DNS blocklist test zones", start=_start,
        add_options=_options, stop=lambda root: _server_in(root).stop(),
        kill=lambda root: _server_in(root).kill(),
        errors=(DnsError, OSError, ValueError, subprocess.SubprocessError))

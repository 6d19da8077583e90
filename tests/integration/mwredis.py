#!/usr/bin/env python3
"""mwredis — a private redis-server for tests (Python 3 standard library only).

`RedisServer` runs redis-server on 127.0.0.1:<a free port> (and a unix socket) with its own
directory: no persistence unless asked (persist=True: an append-only file in that directory,
so a restart keeps the data), an optional password (requirepass).  The host's Redis service is
never used or touched.

    with mwredis.RedisServer(password="s3cret") as redis:
        url = redis.url()              # redis://:s3cret@127.0.0.1:PORT/0
        redis.command("SET", "k", "v")
        redis.stop(); redis.start()    # the same port again

As a script, for a ctest fixture (FIXTURES_SETUP / FIXTURES_CLEANUP):

    python3 tests/integration/mwredis.py start DIR [--password PW] [--persist]
        starts a daemonized redis-server in DIR (created), writes DIR/url, DIR/port,
        DIR/redis.pid; a server already running there is stopped first.  Run again on a
        stopped DIR, it reuses DIR/port.
    python3 tests/integration/mwredis.py stop DIR     SIGTERM, wait
    python3 tests/integration/mwredis.py kill DIR     SIGKILL (a crash), wait
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import mwservice

REDIS_SERVER = shutil.which("redis-server", path="/usr/bin:/usr/sbin:/usr/local/bin") or \
    "/usr/bin/redis-server"
START_TIMEOUT = 15.0


class RedisError(RuntimeError):
    """The server could not be started, stopped or asked (not a product assertion)."""


def _encode(args: tuple[Any, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RedisError("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RedisError("connection closed by the server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RedisError(f"unexpected reply {line!r}")


def command(port: int, *args: Any, password: str | None = None, db: int = 0,
            timeout: float = 5.0) -> Any:
    """Runs one command on 127.0.0.1:port (after AUTH/SELECT) and returns its reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        reader = _Reader(s)
        pre = []
        if password:
            pre.append(("AUTH", password))
        if db:
            pre.append(("SELECT", db))
        for p in pre:
            s.sendall(_encode(p))
            reader.reply()
        s.sendall(_encode(args))
        return reader.reply()


class RedisServer:
    """A private redis-server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, root: Path | None = None, *, port: int | None = None,
                 password: str | None = None, persist: bool = False):
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="mwredis-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or mwservice.free_port()
        self.password = password
        self.persist = persist
        self.proc: subprocess.Popen | None = None

    # ---- files ---------------------------------------------------------------------------

    @property
    def conf_path(self) -> Path:
        return self.root / "redis.conf"

    @property
    def pid_path(self) -> Path:
        return self.root / "redis.pid"

    @property
    def log_path(self) -> Path:
        return self.root / "redis.log"

    @property
    def socket_path(self) -> Path:
        return self.root / "redis.sock"

    def url(self, db: int = 0) -> str:
        """redis://[:password@]127.0.0.1:port/db"""
        auth = f":{urllib.parse.quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def unix_url(self, db: int = 0) -> str:
        return f"redis+unix:{self.socket_path}" + (f"?db={db}" if db else "")

    def write_config(self, daemonize: bool) -> None:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode no",
            f"dir {self.root}",
            f"unixsocket {self.socket_path}",
            "unixsocketperm 700",
            f"pidfile {self.pid_path}",
            f"logfile {self.log_path}",
            f"daemonize {'yes' if daemonize else 'no'}",
            'save ""',
            f"appendonly {'yes' if self.persist else 'no'}",
            "databases 16",
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        self.conf_path.write_text("\n".join(lines) + "\n")
        os.chmod(self.conf_path, 0o600)   # it holds the password

    # ---- life cycle ----------------------------------------------------------------------

    def start(self, daemonize: bool = False) -> "RedisServer":
        """Starts the server (on the same port as before, after a stop) and waits for PING."""
        self.write_config(daemonize)
        self.pid_path.unlink(missing_ok=True)
        if daemonize:
            subprocess.run([REDIS_SERVER, str(self.conf_path)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        else:
            self.proc = subprocess.Popen([REDIS_SERVER, str(self.conf_path)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if self.command("PING") == "PONG":
                    return self
            except (OSError, RedisError):
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise RedisError(f"redis-server exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise RedisError(f"redis-server not answering on port {self.port}:\n"
                                 f"{self.log()}")
            time.sleep(0.05)

    def pid(self) -> int | None:
        return mwservice.service_pid(self.proc, self.pid_path)

    def running(self) -> bool:
        # Only a redis-server (the pid file might be stale and the pid reused).
        return mwservice.service_running(self.proc, self.pid_path, "redis-server")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stops the server (SIGTERM; SIGKILL for a crash) and waits until it is gone."""
        pid = self.pid()
        if pid is None or not self.running():
            self.proc = None
            return
        mwservice.signal_and_wait(self.proc, pid, sig, timeout, self.running)
        self.proc = None
        # Until the port is free again, a restart could fail to bind.
        deadline = time.monotonic() + timeout
        while not mwservice.port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server dies as in a crash."""
        self.stop(signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- asking --------------------------------------------------------------------------

    def command(self, *args: Any, db: int = 0) -> Any:
        return command(self.port, *args, password=self.password, db=db)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _server_in(root: Path, password: str | None = None, persist: bool = False) -> RedisServer:
    if password is None and (root / "password").exists():
        password = (root / "password").read_text()
    return RedisServer(root, port=mwservice.saved_port(root), password=password, persist=persist)


def _start(root: Path, args: argparse.Namespace) -> None:
    server = _server_in(root, args.password, args.persist)
    server.stop()
    server.start(daemonize=True)
    (root / "port").write_text(str(server.port))
    if server.password:
        (root / "password").write_text(server.password)
        os.chmod(root / "password", 0o600)
    (root / "url").write_text(server.url() + "\n")
    os.chmod(root / "url", 0o600)
    print(f"redis-server on 127.0.0.1:{server.port} (pid {server.pid()}), url in "
          f"{root / 'url'}")


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password")
    parser.add_argument("--persist", action="store_true")


if __name__ == "__main__":
    mwservice.run_fixture_script(
        "mwredis", "a private redis-server for tests", start=_start, add_options=_options,
        stop=lambda root: _server_in(root).stop(), kill=lambda root: _server_in(root).kill(),
        errors=(RedisError, OSError, subprocess.SubprocessError))

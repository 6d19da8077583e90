"""mwservice — what the private test services share (Python 3 standard library only).

Loopback ports (free_port, port_is_free; mwlab's as well), and the command line of a service
module run as a ctest fixture script (mwpostgres.py, mwredis.py):

    python3 tests/integration/mwX.py start DIR [options]    start a server kept in DIR
    python3 tests/integration/mwX.py stop DIR               stop it, wait
    python3 tests/integration/mwX.py kill DIR               stop it as in a crash, wait

A module defines what start, stop and kill do and hands them to `run_fixture_script`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

_reserved_ports: set[int] = set()


class ServiceError(RuntimeError):
    """A test service could not be set up (not a product assertion)."""


def free_port() -> int:
    """A loopback TCP port nobody listens on now (and that this process has not handed out)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _reserved_ports:
            _reserved_ports.add(port)
            return port
    raise ServiceError("no free loopback port")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def saved_port(root: Path) -> int | None:
    """The port recorded in ROOT/port by an earlier start, if any: a restart keeps it."""
    try:
        return int((root / "port").read_text())
    except (OSError, ValueError):
        return None


def service_pid(proc: "subprocess.Popen | None", pid_path: Path) -> int | None:
    """The pid of a server we started (proc, while it runs) or that a fixture script started
    (the first word of its pid file)."""
    if proc is not None and proc.poll() is None:
        return proc.pid
    try:
        return int(pid_path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def service_running(proc: "subprocess.Popen | None", pid_path: Path, marker: str) -> bool:
    """Whether that server runs; a pid from the file counts only when its command line holds
    `marker` (the pid file might be stale and the pid reused)."""
    pid = service_pid(proc, pid_path)
    if pid is None:
        return False
    if proc is not None and proc.pid == pid:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def signal_and_wait(proc: "subprocess.Popen | None", pid: int, sig: int, timeout: float,
                    running: Callable[[], bool]) -> None:
    """Sends `sig` to `pid` and waits until running() is false; SIGKILL after `timeout`."""
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while running():
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        if proc is not None:
            try:
                proc.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
        else:
            time.sleep(0.05)


def run_fixture_script(prog: str, description: str, *,
                       start: Callable[[Path, argparse.Namespace], None],
                       stop: Callable[[Path], None], kill: Callable[[Path], None],
                       errors: tuple[type[BaseException], ...],
                       add_options: Callable[[argparse.ArgumentParser], None] | None = None
                       ) -> None:
    """Parses sys.argv (the command line of the module docstring) and exits: 0 when done, 1
    with "PROG: message" on stderr after one of `errors`.  start(DIR, args) gets DIR created
    and resolved, and the options `add_options` declared; stop(DIR) and kill(DIR) are called
    only when DIR exists (otherwise there is nothing to stop)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("action", choices=["start", "stop", "kill"])
    parser.add_argument("dir", type=Path)
    if add_options:
        add_options(parser)
    args = parser.parse_args(sys.argv[1:])
    root = args.dir.resolve()
    try:
        if args.action == "start":
            root.mkdir(parents=True, exist_ok=True)
            start(root, args)
        elif root.exists():
            (kill if args.action == "kill" else stop)(root)
    except errors as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)

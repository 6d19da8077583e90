#!/usr/bin/env python3
"""mwpostgres — a private PostgreSQL cluster for tests (Python 3 standard library only).

`PostgresServer` runs Debian's PostgreSQL 15 binaries on a cluster of its own in a temporary
directory: initdb (trust authentication: only local tests connect), listening on
127.0.0.1:<a free port> and on a unix socket in that directory, with durability off (fsync,
synchronous_commit and full_page_writes off: a test cluster is thrown away, and start-up and
writes are fast).  PostgreSQL refuses to run as root: when run as root, the cluster belongs to
the `postgres` user (created by Debian's package) and its programs run through `runuser`.
The host's PostgreSQL service is never used or touched.

    with mwpostgres.PostgresServer() as pg:
        pg.create_database("accounts")
        dsn = pg.dsn("accounts")      # postgresql://postgres@127.0.0.1:PORT/accounts
        pg.psql("SELECT 1", "accounts")
        pg.stop(); pg.start()         # the same port and data again

As a script, for a ctest fixture (FIXTURES_SETUP / FIXTURES_CLEANUP):

    python3 tests/integration/mwpostgres.py start DIR
        initdb in DIR/data when it has no cluster yet, starts the server, writes DIR/dsn (a
        URI of database postgres) and DIR/port; a server already running there is stopped
        first, and a stopped DIR is started again on its port.
    python3 tests/integration/mwpostgres.py stop DIR     fast shutdown, wait
    python3 tests/integration/mwpostgres.py kill DIR     immediate shutdown (a crash)
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import mwservice

PG_BIN = Path(os.environ.get("MW_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"          # the cluster's superuser role (initdb -U)
SYSTEM_USER = "postgres"        # who runs the server when we are root
START_TIMEOUT = 30.0


class PostgresError(RuntimeError):
    """The server could not be set up, started, stopped or asked (not a product assertion)."""


def _as_server_user(cmd: Sequence[str]) -> list[str]:
    """`cmd` run as the server's user: `postgres` through runuser when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SYSTEM_USER, "--", *cmd]
    return list(cmd)


class PostgresServer:
    """A private PostgreSQL cluster (see the module docstring)."""

    def __init__(self, root: Path | None = None, *, port: int | None = None):
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="mwpostgres-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or mwservice.free_port()
        if os.geteuid() == 0:
            # The server's user must own the cluster and reach the socket directory.
            user = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            os.chmod(self.root, 0o755)

    # ---- files ---------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def dsn(self, db: str = "postgres") -> str:
        """postgresql://postgres@127.0.0.1:PORT/db (trust authentication: no password)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def unix_dsn(self, db: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{db}?host={self.socket_dir}&port={self.port}"

    # ---- life cycle ----------------------------------------------------------------------

    def _run(self, cmd: Sequence[str], timeout: float = 60, check: bool = True,
             **kwargs: Any) -> subprocess.CompletedProcess:
        r = subprocess.run(_as_server_user(cmd), capture_output=True, text=True,
                           timeout=timeout, cwd="/", **kwargs)
        if check and r.returncode != 0:
            raise PostgresError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r

    def initdb(self) -> None:
        """Creates the cluster (once: an existing one is kept)."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                   "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], timeout=120)
        with open(self.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write("\n".join([
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{self.socket_dir}'",
                "fsync = off", "synchronous_commit = off", "full_page_writes = off",
                "shared_buffers = 16MB", "max_connections = 100",
                "log_min_messages = warning", "logging_collector = off",
            ]) + "\n")

    def start(self) -> "PostgresServer":
        """Starts the server (initdb first when needed) on self.port and waits until it answers."""
        self.initdb()
        if self.running():
            return self
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                   "-o", f"-p {self.port}", "-w", "-t", str(int(START_TIMEOUT)), "start"],
                  timeout=START_TIMEOUT + 10)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            r = self._run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                          check=False)
            if r.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise PostgresError(f"postgres not answering on port {self.port}:\n{self.log()}")
            time.sleep(0.05)

    def running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        r = self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return r.returncode == 0

    def stop(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stops the server (mode "fast"; "immediate" is a crash) and waits until it is gone."""
        if not self.running():
            return
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w",
                   "-t", str(int(timeout)), "stop"], timeout=timeout + 10, check=False)

    def kill(self) -> None:
        self.stop("immediate")

    def close(self) -> None:
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- asking --------------------------------------------------------------------------

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Runs `sql` (one or more statements) in `db`; the output of the last, unaligned,
        fields separated by '|', without headers. PostgresError when a statement fails."""
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", db],
                           input=sql, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise PostgresError(f"psql in {db}: {r.stderr.strip()}")
        return r.stdout.strip()

    def create_database(self, db: str) -> str:
        """A new empty database `db` (an existing one is dropped first); returns its DSN."""
        quoted = '"' + db.replace('"', '""') + '"'
        self.psql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {quoted} TEMPLATE template0")
        return self.dsn(db)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _server_in(root: Path) -> PostgresServer:
    return PostgresServer(root, port=mwservice.saved_port(root))


def _start(root: Path, _args: argparse.Namespace) -> None:
    server = _server_in(root)
    server.stop()
    server.start()
    (root / "port").write_text(str(server.port))
    (root / "dsn").write_text(server.dsn() + "\n")
    print(f"postgres on 127.0.0.1:{server.port}, dsn in {root / 'dsn'}")


if __name__ == "__main__":
    mwservice.run_fixture_script(
        "mwpostgres", "a private PostgreSQL cluster for tests", start=_start,
        stop=lambda root: _server_in(root).stop(), kill=lambda root: _server_in(root).kill(),
        errors=(PostgresError, OSError, subprocess.SubprocessError))

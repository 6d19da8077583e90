#!/usr/bin/env python3
"""The account rules answering from Dovecot's own dicts, with a real Dovecot delivering.

A private Dovecot (tests/integration/mwdovecot.py) receives the lab Postfix's mail for ORG
over LMTP and keeps, through its dict process and the SQL dict driver on an SQLite file:
  * the quota dict (`quota = dict:User quota::proxy::mw`): quota(username, bytes, messages),
    updated by every delivery;
  * the last_login plugin's dict at each IMAP login: last_login(username, last_login).
mailwarden-policyd reads that same file (accounts.dovecot_quota, accounts.dovecot_last_login)
and nothing copies data between the two. Checked through Postfix: a recipient whose
deliveries filled the mailbox Dovecot counts is refused 552 5.2.2 at RCPT, and an account
the directory never saw log in is suspended as a sender until its owner logs in over IMAP,
after which its mail goes out; `accounts show` reports the login Dovecot recorded.

The same cases run three times, as a site may keep the dicts:
  * SQLite: one file (Debian's dovecot-sqlite driver), the directory in SQLite too;
  * PostgreSQL: Dovecot's pgsql dict driver writing into a private PostgreSQL
    (tests/integration/mwpostgres.py) that also holds the account directory;
  * Redis: the last_login plugin writing straight into a private redis-server
    (`last_login_dict = redis:...`, tests/integration/mwredis.py), the quota in SQLite.
"""

import datetime
import imaplib
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwdovecot  # noqa: E402
import mwlab  # noqa: E402
import mwpostgres  # noqa: E402
import mwredis  # noqa: E402

ORG = "bacgiang.gov.vn"
RULES_FILE = mwlab.REPO_ROOT / "rules" / "accounts.yaml"
OUTSIDE = "someone@example.com"
USERS = ("alice", "bob", "carol")
QUOTA = 30000

# Dovecot's SQL dict maps, as its documentation lays out the quota and last-login tables.
DICT_MAPS = """\
connect = {connect}
map {{
  pattern = priv/quota/storage
  table = quota
  username_field = username
  value_field = bytes
}}
map {{
  pattern = priv/quota/messages
  table = quota
  username_field = username
  value_field = messages
}}
map {{
  pattern = shared/last-login/$user
  table = last_login
  value_field = last_login
  value_type = uint
  fields {{
    username = $user
  }}
}}
"""

DICT_TABLES = """\
CREATE TABLE quota (username TEXT PRIMARY KEY NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,
                    messages INTEGER NOT NULL DEFAULT 0);
CREATE TABLE last_login (username TEXT PRIMARY KEY NOT NULL, last_login INTEGER);
"""


def day(offset_days: int) -> str:
    d = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=offset_days)
    return d.strftime("%Y-%m-%d")


class DovecotDictsCases(mwlab.LabTestCase):
    """The cases; a subclass says where the dicts and the directory live."""
    dovecot: mwdovecot.Dovecot
    tmp: Path

    # ---- where the data lives (per backend) --------------------------------------------

    @classmethod
    def start_stores(cls) -> None:
        """Creates the dict tables (and starts servers); sets accounts_spec, quota_spec,
        last_login_spec, dict_connect (Dovecot's SQL dict driver:connect) and
        last_login_dict (Dovecot's last_login_dict)."""
        raise NotImplementedError

    @classmethod
    def stop_stores(cls) -> None:
        pass

    def dict_row(self, table: str, user: str) -> tuple | None:
        raise NotImplementedError

    def directory_value(self, sql: str, address: str):
        """The first column of `sql` (one %s for the address) in the account directory."""
        raise NotImplementedError

    def break_last_login(self) -> None:
        raise NotImplementedError

    def repair_last_login(self) -> None:
        raise NotImplementedError

    # ---- lab ------------------------------------------------------------------------------

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="mw-dovecot-dicts-"))
        cls.tmp.chmod(0o755)
        cls.start_stores()
        try:
            (cls.tmp / "dict-sql.conf.ext").write_text(DICT_MAPS.format(connect=cls.dict_connect))
            cls.LAB_OPTIONS = dict(
                milter=False, policyd=True, rule_files=[str(RULES_FILE)],
                config={"domains": {"internal": [ORG]}},
                policyd_config={"accounts": {
                    "database": cls.accounts_spec, "cache_ms": 0,
                    "dovecot_quota": cls.quota_spec,
                    "dovecot_last_login": cls.last_login_spec}})
            super().setUpClass()
        except BaseException:
            cls.stop_stores()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        try:
            cls.dovecot = mwdovecot.attach(
                cls.lab, domain=ORG, users={u: None for u in USERS}, imap=True,
                mail_plugins="quota", imap_plugins="last_login imap_quota",
                extra_plugin_settings={
                    "quota": "dict:User quota::proxy::mw",
                    "quota_rule": "*:storage=1G",
                    "last_login_dict": cls.last_login_dict,
                },
                extra_config=f"""\
dict {{
  mw = {cls.dict_driver}:{cls.tmp / "dict-sql.conf.ext"}
}}
service dict {{
  unix_listener dict {{
    mode = 0666
  }}
}}
""")
        except BaseException:
            cls.lab.close()
            cls.stop_stores()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            cls.stop_stores()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------------

    def diag(self) -> str:
        return f"{self.lab.diagnostics()}\n{self.dovecot.diagnostics()}"

    def admin(self, *args: str) -> str:
        r = self.lab.policyd.run_tool("accounts", *args)
        self.assertEqual(r.returncode, 0, f"accounts {' '.join(args)}:\n{r.stdout}{r.stderr}")
        return r.stdout

    def imap_login(self, user: str) -> None:
        with imaplib.IMAP4("127.0.0.1", self.dovecot.imap_port) as imap:
            imap.login(user, "x")
            imap.select("INBOX")
            imap.logout()

    # ---- mailbox usage from Dovecot's quota dict -----------------------------------------

    def test_deliveries_counted_by_dovecot_fill_the_mailbox(self):
        alice = f"alice@{ORG}"
        self.admin("add", alice, "--quota", str(QUOTA), "--last-login", day(-1))
        # Two deliveries of about 12 KB each; Dovecot counts them in its quota row.
        for _ in range(2):
            r = self.lab.smtp_send(OUTSIDE, alice, body_size=12000)
            self.assertReply(r, 250, stage="dot")
            self.dovecot.wait_for_mail("alice", lambda m, t=r.token: m.token == t)
        row = mwlab.wait_until(
            lambda: (lambda r: r if r and r[1] >= 24000 else None)(self.dict_row("quota", alice)),
            15, what="Dovecot's quota row")
        used = row[1]
        self.assertEqual(row[2], 2, row)
        # 10 KB more does not fit: refused at RCPT from the announced size.
        r = self.lab.smtp_send(OUTSIDE, alice, size=10000)
        self.assertReply(r, 552, "5.2.2", stage="rcpt", text_contains="mailbox full")
        entry = self.lab.wait_for_decision({"email.to.address": alice, "event.action": "reject"},
                                           daemon="policyd")
        ev = entry["mailwarden"]["findings"][0]["evidence"]
        self.assertEqual((ev["usage_bytes"], ev["quota_bytes"]), (used, QUOTA), entry)
        # The directory itself holds no usage for her: the figure is Dovecot's.
        self.assertIsNone(self.directory_value("SELECT bytes FROM usage WHERE account = %s",
                                               alice))
        # A small message still fits.
        self.assertReply(self.lab.smtp_send(OUTSIDE, alice, size=1000, body_size=200), 250,
                         stage="dot")

    # ---- last login from the last_login plugin ---------------------------------------------

    def test_a_login_dovecot_records_reactivates_an_inactive_sender(self):
        bob = f"bob@{ORG}"
        # Created 200 days ago and never seen logging in by the directory: inactive.
        self.admin("add", bob, "--created", day(-200))
        r = self.lab.send(bob, OUTSIDE)
        self.assertReply(r, 550, "5.7.1", stage="rcpt", text_contains=f"{bob} is suspended")
        self.assertIsNone(self.dict_row("last_login", bob))

        before = int(time.time())
        self.imap_login(bob)
        row = mwlab.wait_until(lambda: self.dict_row("last_login", bob), 15,
                               what="Dovecot's last-login row")
        self.assertGreaterEqual(int(row[1]), before - 1, row)

        self.assertReply(self.lab.send(bob, OUTSIDE), 250, "2.0.0", stage="dot")
        # The admin view is the daemon's: the login Dovecot recorded.
        shown = self.admin("show", bob)
        self.assertRegex(shown, rf"(?m)^\s*last_login_at:\s+{day(0)}", shown)
        # ... while the directory itself still holds none (nothing was copied into it).
        self.assertIsNone(self.directory_value(
            "SELECT last_login_at FROM accounts WHERE address = %s", bob))

    def test_an_unreadable_dict_defers_and_recovers(self):
        carol = f"carol@{ORG}"
        self.admin("add", carol, "--last-login", day(-1))
        self.assertReply(self.lab.send(carol, OUTSIDE), 250, stage="dot")
        self.break_last_login()
        try:
            r = self.lab.send(carol, OUTSIDE)
            self.assertReply(r, 450, "4.3.0", stage="rcpt",
                             text_contains="account directory temporarily unavailable")
            entry = self.lab.wait_for_decision(
                {"email.from.address": carol, "event.action": "tempfail"}, daemon="policyd")
            self.assertIn("Dovecot last-login dict",
                          entry["mailwarden"]["findings"][0]["evidence"]["error"], entry)
        finally:
            self.repair_last_login()
        time.sleep(1.2)   # the rules' one-second backoff after a failed store
        self.assertReply(self.lab.send(carol, OUTSIDE), 250, stage="dot")



class SqliteMixin:
    """The quota dict (and by default the last-login dict) in one SQLite file Dovecot's dict
    process (user dovecot) writes; the directory in SQLite."""

    @classmethod
    def start_sqlite_dict(cls) -> None:
        dict_dir = cls.tmp / "dict"
        dict_dir.mkdir()
        cls.dict_db = dict_dir / "dovecot-dict.db"
        with sqlite3.connect(cls.dict_db) as c:
            c.executescript(DICT_TABLES)
        for p in (dict_dir, cls.dict_db):
            shutil.chown(p, "dovecot", "dovecot")
        cls.dict_driver, cls.dict_connect = "sqlite", cls.dict_db
        cls.quota_spec = f"sqlite:{cls.dict_db}"
        cls.accounts_db = cls.tmp / "accounts.db"
        cls.accounts_spec = f"sqlite:{cls.accounts_db}"

    def sqlite_dict_row(self, table: str, user: str) -> tuple | None:
        with sqlite3.connect(f"file:{self.dict_db}?mode=ro", uri=True, timeout=10) as c:
            return c.execute(f"SELECT * FROM {table} WHERE username = ?", (user,)).fetchone()

    def directory_value(self, sql: str, address: str):
        with sqlite3.connect(self.accounts_db, timeout=10) as c:
            row = c.execute(sql.replace("%s", "?"), (address,)).fetchone()
        return row[0] if row else None


@unittest.skipIf(mwdovecot.available(), mwdovecot.available() or "")
class SqliteDictsTest(SqliteMixin, DovecotDictsCases, unittest.TestCase):

    @classmethod
    def start_stores(cls) -> None:
        cls.start_sqlite_dict()
        cls.last_login_spec = cls.quota_spec
        cls.last_login_dict = "proxy::mw"

    def dict_row(self, table: str, user: str) -> tuple | None:
        return self.sqlite_dict_row(table, user)

    def break_last_login(self) -> None:
        with sqlite3.connect(self.dict_db, timeout=10) as c:
            c.execute("ALTER TABLE last_login RENAME TO last_login_moved")

    def repair_last_login(self) -> None:
        with sqlite3.connect(self.dict_db, timeout=10) as c:
            c.execute("ALTER TABLE last_login_moved RENAME TO last_login")


@unittest.skipIf(mwdovecot.available() or not Path("/usr/lib/dovecot/modules/libdriver_pgsql.so")
                 .exists(), "needs dovecot-core, dovecot-lmtpd, dovecot-imapd and dovecot-pgsql")
class PostgresDictsTest(DovecotDictsCases, unittest.TestCase):
    """Dovecot's pgsql dict driver and the account directory in one PostgreSQL database."""

    @classmethod
    def start_stores(cls) -> None:
        cls.pg = mwpostgres.PostgresServer(cls.tmp / "postgres").start()
        dsn = cls.pg.create_database("mail")
        cls.pg.psql(DICT_TABLES.replace("INTEGER", "BIGINT"), db="mail")
        cls.dict_driver = "pgsql"
        cls.dict_connect = f"host=127.0.0.1 port={cls.pg.port} dbname=mail user=postgres"
        cls.accounts_spec = cls.quota_spec = cls.last_login_spec = dsn
        cls.last_login_dict = "proxy::mw"

    @classmethod
    def stop_stores(cls) -> None:
        cls.pg.close()

    def dict_row(self, table: str, user: str) -> tuple | None:
        out = self.pg.psql(f"SELECT * FROM {table} WHERE username = '{user}'", db="mail")
        return tuple(int(v) if v.isdigit() else v for v in out.split("|")) if out else None

    def directory_value(self, sql: str, address: str):
        out = self.pg.psql(sql.replace("%s", f"'{address}'"), db="mail")
        return out or None

    def break_last_login(self) -> None:
        self.pg.psql("ALTER TABLE last_login RENAME TO last_login_moved", db="mail")

    def repair_last_login(self) -> None:
        self.pg.psql("ALTER TABLE last_login_moved RENAME TO last_login", db="mail")


@unittest.skipIf(mwdovecot.available(), mwdovecot.available() or "")
class RedisLastLoginTest(SqliteMixin, DovecotDictsCases, unittest.TestCase):
    """The last_login plugin writing into Redis itself (no dict proxy); the quota in SQLite."""

    @classmethod
    def start_stores(cls) -> None:
        cls.start_sqlite_dict()
        cls.redis = mwredis.RedisServer(cls.tmp / "redis").start()
        cls.last_login_spec = cls.redis.url(db=0)
        cls.last_login_dict = f"redis:host=127.0.0.1:port={cls.redis.port}"

    @classmethod
    def stop_stores(cls) -> None:
        cls.redis.close()

    def dict_row(self, table: str, user: str) -> tuple | None:
        if table != "last_login":
            return self.sqlite_dict_row(table, user)
        value = self.redis.command("GET", f"last-login/{user}")
        return (user, int(value)) if value is not None else None

    def break_last_login(self) -> None:
        self.redis.stop()

    def repair_last_login(self) -> None:
        self.redis.start()


if __name__ == "__main__":
    unittest.main()

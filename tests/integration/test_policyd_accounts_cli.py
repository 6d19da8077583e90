#!/usr/bin/env python3
"""`mailwarden-policyd accounts ...` and `report inactive`, the real binary on a real SQLite
file named by a real configuration (docs/accounts.md): add, show, list, set, suspend,
terminate, reactivate, CSV import (good, and bad lines reported with their numbers and
nothing imported), the inactivity report with its notice dates, the exit statuses (0 done,
1 failed, 2 usage), and the file itself (WAL, schema_version) read back with Python's own
sqlite3. The same commands again on a private PostgreSQL server (mwpostgres.py, a fresh
database per case), its tables read back with psql. Needs no Postfix.
"""

import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwpostgres  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MW_POLICYD_BIN") or REPO_ROOT / "build/policyd/mailwarden-policyd")
ORG = "bacgiang.gov.vn"


def today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


class AccountsCliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not BIN.is_absolute():
            raise RuntimeError(f"MW_POLICYD_BIN must be an absolute path, not {BIN}")
        if not BIN.exists():
            raise unittest.SkipTest(f"{BIN} not built")

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="mw-accounts-cli-"))
        self.db = self.tmp / "accounts.db"
        self.config = self.tmp / "mailwarden.yaml"
        self.config.write_text(textwrap.dedent(f"""\
            version: 1
            rule_files: []
            domains:
              internal: [{ORG}]
            accounts:
              database: sqlite:{self.db}
              default_quota: 2GiB
            """))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args: str, config: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(BIN)] + (["--config", str(self.config)] if config else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def ok(self, *args: str) -> str:
        p = self.cli(*args)
        self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
        return p.stdout

    def show(self, address: str) -> dict:
        return json.loads(self.ok("accounts", "show", address, "--json"))

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(textwrap.dedent(text))
        return path

    def test_the_database_is_created_migrated_and_in_wal_mode(self):
        self.ok("accounts", "list")
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            versions = [v for (v,) in db.execute("SELECT version FROM schema_version")]
            tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self.assertEqual(versions, [1])
        self.assertLessEqual({"accounts", "aliases", "usage"}, tables)
        self.ok("accounts", "list")  # a second start applies nothing again
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM schema_version").fetchone()[0], 1)

    def test_account_life_cycle(self):
        out = self.ok("accounts", "add", f"Nguyen.An@{ORG.upper()}", "--kind", "personal",
                      "--role", "admin", "--quota", "5GiB", "--alias", f"an.nguyen@{ORG}")
        self.assertEqual(out, f"added nguyen.an@{ORG} (personal, admin)\n")
        account = self.show(f"AN.NGUYEN@{ORG}")  # through the alias, any case
        self.assertEqual(account["address"], f"nguyen.an@{ORG}")
        self.assertEqual(account["quota_bytes"], 5 << 30)
        self.assertEqual(account["state"], "active")

        self.ok("accounts", "add", f"vanthu@{ORG}", "--kind", "unit")
        listing = self.ok("accounts", "list")
        self.assertTrue(listing.startswith("ADDRESS"))
        self.assertIn(f"vanthu@{ORG}", listing)
        self.assertIn("2GiB (default)", listing)  # accounts.default_quota of the config
        units = [json.loads(line) for line in
                 self.ok("accounts", "list", "--kind", "unit", "--json").splitlines()]
        self.assertEqual([u["address"] for u in units], [f"vanthu@{ORG}"])

        out = self.ok("accounts", "suspend", f"nguyen.an@{ORG}", "--reason",
                      "account used to send spam")
        self.assertEqual(out, f"suspended nguyen.an@{ORG}: account used to send spam\n")
        account = self.show(f"nguyen.an@{ORG}")
        self.assertEqual((account["state"], account["state_reason"]),
                         ("suspended", "account used to send spam"))
        suspended = self.ok("accounts", "list", "--state", "suspended")
        self.assertIn(f"nguyen.an@{ORG}", suspended)
        self.assertNotIn(f"vanthu@{ORG}", suspended)

        self.ok("accounts", "reactivate", f"nguyen.an@{ORG}")
        self.assertEqual(self.show(f"nguyen.an@{ORG}")["state"], "active")

        self.ok("accounts", "set", f"nguyen.an@{ORG}", "--password-changed", "2024-01-15",
                "--last-login", "now", "--terminate-at", "2030-06-30", "--quota", "default")
        account = self.show(f"nguyen.an@{ORG}")
        self.assertEqual(account["password_changed_at"], "2024-01-15T00:00:00Z")
        self.assertEqual(account["terminate_at"], "2030-06-30T00:00:00Z")
        self.assertIsNone(account["quota_bytes"])
        self.assertTrue(account["last_login_at"].startswith(today().isoformat()))

        self.ok("accounts", "terminate", f"nguyen.an@{ORG}", "--reason", "retired")
        self.assertEqual(self.show(f"nguyen.an@{ORG}")["state"], "terminated")

    def test_failures_exit_one_with_a_clear_message(self):
        p = self.cli("accounts", "show", f"nobody@{ORG}")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"no account nobody@{ORG}", p.stderr)
        self.assertEqual(p.stdout, "")
        p = self.cli("accounts", "suspend", f"nobody@{ORG}", "--reason", "x")
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"no account nobody@{ORG}", p.stderr)
        self.ok("accounts", "add", f"a@{ORG}")
        p = self.cli("accounts", "add", f"A@{ORG}")
        self.assertEqual(p.returncode, 1)
        self.assertIn("already exists", p.stderr)
        p = self.cli("--config", str(self.tmp / "missing.yaml"), "accounts", "list", config=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.yaml", p.stderr)

    def test_usage_errors_exit_two(self):
        for args in (["accounts"], ["accounts", "rename", "a@b.c"], ["accounts", "add"],
                     ["accounts", "add", f"a@{ORG}", "--kind", "robot"],
                     ["accounts", "suspend", f"a@{ORG}"],
                     ["report", "inactive", "--over", "a while"]):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
            self.assertIn("usage:", p.stderr)
        self.assertEqual(self.cli("accounts", "--help").returncode, 0)

    def test_database_option_overrides_the_configuration(self):
        other = self.tmp / "other.db"
        p = subprocess.run([str(BIN), "--database", f"sqlite:{other}", "accounts", "add",
                            f"x@{ORG}"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(other.exists())
        self.assertEqual(self.ok("accounts", "list").count(ORG), 0)

    def test_import_bad_lines_named_nothing_imported(self):
        bad = self.write("bad.csv", f"""\
            address,kind,role,state,quota,password_changed_at,last_login_at,created_at,aliases
            a@{ORG},personal,user,active,,2024-01-01,2024-05-01,2023-01-01,
            b@{ORG},robot,user,active,,2024-01-01,2024-05-01,2023-01-01,
            c@{ORG},unit,user,active,,2024-13-01,,2023-01-01,
            d@{ORG},unit,user
            """)
        p = self.cli("accounts", "import", str(bad))
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{bad}:3: kind 'robot' is not personal, unit or shared", p.stderr)
        self.assertIn(f"{bad}:4: '2024-13-01' is not a date", p.stderr)
        self.assertIn(f"{bad}:5: has 3 fields, the header 9", p.stderr)
        self.assertIn("nothing imported", p.stderr)
        self.assertEqual(self.cli("accounts", "show", f"a@{ORG}").returncode, 1)

    def test_import_conflict_with_the_store_imports_nothing(self):
        self.ok("accounts", "add", f"vanthu@{ORG}", "--alias", f"info@{ORG}")
        csv = self.write("conflict.csv", f"""\
            address,aliases
            new1@{ORG},
            new2@{ORG},info@{ORG}
            """)
        p = self.cli("accounts", "import", str(csv))
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{csv}:3: alias info@{ORG} already belongs to vanthu@{ORG}", p.stderr)
        self.assertEqual(self.cli("accounts", "show", f"new1@{ORG}").returncode, 1)

    def test_import_good_file(self):
        csv = self.write("good.csv", f"""\
            address,kind,role,state,state_reason,quota,password_changed_at,last_login_at,created_at,aliases,usage_bytes,usage_messages
            an@{ORG},personal,user,active,,,2024-01-01,2024-05-01T08:00:00+07:00,2023-01-01,"an.nguyen@{ORG}, an.n@{ORG}",1GiB,1200
            vanthu@{ORG},unit,user,suspended,unit dissolved,10GiB,,,2020-05-05,,,
            """)
        self.assertEqual(self.ok("accounts", "import", str(csv)),
                         f"imported 2 accounts from {csv}\n")
        an = self.show(f"an.n@{ORG}")
        self.assertEqual(an["address"], f"an@{ORG}")
        self.assertEqual(an["last_login_at"], "2024-05-01T01:00:00Z")
        self.assertEqual(an["usage"], {"bytes": 1 << 30, "messages": 1200})
        self.assertEqual(sorted(an["aliases"]), [f"an.n@{ORG}", f"an.nguyen@{ORG}"])
        unit = self.show(f"vanthu@{ORG}")
        self.assertEqual((unit["kind"], unit["state"], unit["state_reason"], unit["quota_bytes"]),
                         ("unit", "suspended", "unit dissolved", 10 << 30))
        # Importing again replaces the accounts and keeps their number.
        self.ok("accounts", "import", str(csv))
        self.assertEqual(len(self.ok("accounts", "list", "--json").splitlines()), 2)

    def test_report_inactive_with_notice_dates(self):
        long_ago = (today() - datetime.timedelta(days=400)).isoformat()
        self.ok("accounts", "add", f"old@{ORG}", "--created", "2020-01-01",
                "--last-login", long_ago)
        self.ok("accounts", "add", f"never@{ORG}", "--created", "2020-01-01")
        self.ok("accounts", "add", f"busy@{ORG}", "--created", "2020-01-01", "--last-login", "now")
        self.ok("accounts", "add", f"gone@{ORG}", "--created", "2020-01-01")
        self.ok("accounts", "terminate", f"gone@{ORG}", "--reason", "left")
        lines = [json.loads(line) for line in
                 self.ok("report", "inactive", "--over", "6mo", "--json").splitlines()]
        by_address = {line["address"]: line for line in lines}
        self.assertEqual(set(by_address), {f"old@{ORG}", f"never@{ORG}"})
        for line in lines:
            due = datetime.date.fromisoformat(line["due_date"])
            notice = datetime.date.fromisoformat(line["notice_date"])
            self.assertEqual(due - notice, datetime.timedelta(days=15))
            self.assertEqual(line["status"], "due")
        self.assertIsNone(by_address[f"never@{ORG}"]["last_login_at"])
        self.assertEqual(by_address[f"never@{ORG}"]["inactive_since"], "2020-01-01T00:00:00Z")
        table = self.ok("report", "inactive")
        self.assertTrue(table.startswith("ADDRESS"))
        self.assertIn("NOTICE_DATE", table.splitlines()[0])
        self.assertNotIn(f"busy@{ORG}", table)


class PostgresAccountsCliTest(AccountsCliTest):
    """The same commands on a PostgreSQL directory (accounts.database: postgresql://...)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg_root = Path(tempfile.mkdtemp(prefix="mw-accounts-cli-pg-"))
        cls.pg = mwpostgres.PostgresServer(cls.pg_root).start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()
        shutil.rmtree(cls.pg_root, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.dbname = "cli_" + self.id().rsplit(".", 1)[-1][:40]
        self.dsn = self.pg.create_database(self.dbname)
        self.config.write_text(self.config.read_text().replace(f"sqlite:{self.db}", self.dsn))

    def test_the_database_is_created_migrated_and_in_wal_mode(self):
        self.ok("accounts", "list")
        # 1: the tables; 2: the triggers announcing changes (LISTEN/NOTIFY).
        self.assertEqual(self.pg.psql("SELECT version FROM schema_version ORDER BY version",
                                      self.dbname).split(), ["1", "2"])
        tables = set(self.pg.psql("SELECT table_name FROM information_schema.tables WHERE "
                                  "table_schema = 'public'", self.dbname).split())
        self.assertLessEqual({"accounts", "aliases", "usage", "schema_version"}, tables)
        self.ok("accounts", "list")  # a second start applies nothing again
        self.assertEqual(self.pg.psql("SELECT count(*) FROM schema_version", self.dbname), "2")

    def test_database_option_overrides_the_configuration(self):
        other = self.pg.create_database(self.dbname + "_other")
        p = subprocess.run([str(BIN), "--database", other, "accounts", "add", f"x@{ORG}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.pg.psql("SELECT address FROM accounts", self.dbname + "_other"),
                         f"x@{ORG}")
        self.assertEqual(self.ok("accounts", "list").count(ORG), 0)

    def test_an_unreachable_server_fails_naming_it_without_the_password(self):
        self.config.write_text(self.config.read_text().replace(
            self.dsn, "postgresql://mailwarden:s3cret@127.0.0.1:1/accounts"))
        p = self.cli("accounts", "list")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("127.0.0.1:1/accounts", p.stderr)
        self.assertNotIn("s3cret", p.stderr)


if __name__ == "__main__":
    unittest.main()

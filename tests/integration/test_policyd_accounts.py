#!/usr/bin/env python3
"""mailwarden-policyd's account rules through a real Postfix (REGULATIONS.md A1-A6).

The rules of rules/accounts.yaml (account_state, mailbox_quota, password_age) on an account
directory that the daemon creates empty at start, run twice: on a SQLite file and on a
private PostgreSQL server (mwpostgres.py; the same cases, only the backend object differs).
Accounts are made with the real admin commands (`mailwarden-policyd accounts
add|suspend|terminate ...`), and mailbox usage is written straight into the database (what
Dovecot's quota table or an import does).
A change applies to the next request without a reload.  Checked through Postfix with
swaks/smtplib: a suspended or inactive sender refused 550 5.7.1 with the reason and the
contact, a terminated recipient 550 5.1.1, a suspended one 550 5.2.1 (450 4.2.1 when so
configured), an over-quota recipient 552 5.2.2 at RCPT (SIZE=) and at end of message, the
password-age header in the delivered message, and a directory that cannot be read (a
damaged SQLite file; a PostgreSQL server that stopped): DEFER_IF_PERMIT 4.3.0 at once, never
a hang, and recovery once it is repaired (the file restored; the server started again).
"""

import contextlib
import datetime
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402
import mwpostgres  # noqa: E402

DOMAIN = mwlab.INTERNAL_DOMAIN
CONTACT = "helpdesk@internal.example"
RULES_FILE = mwlab.REPO_ROOT / "rules" / "accounts.yaml"
OUTSIDE = "someone@example.com"


def day(offset_days: int) -> str:
    """A UTC date offset_days from today, as the admin commands take it."""
    d = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=offset_days)
    return d.strftime("%Y-%m-%d")


def sql_text(value: str) -> str:
    """`value` as an SQL string literal (both backends quote the same way)."""
    return "'" + value.replace("'", "''") + "'"


class SqliteBackend:
    """The directory in a SQLite file the daemon creates."""

    def __init__(self, root: Path):
        self.db = root / "accounts.db"

    def spec(self) -> str:
        return f"sqlite:{self.db}"

    def execute(self, sql: str) -> None:
        with sqlite3.connect(self.db, timeout=10) as c:
            c.execute(sql)

    @contextlib.contextmanager
    def broken(self):
        """The database file overwritten in place while inside: what a broken disk or a bad
        copy leaves; restored at the end."""
        with sqlite3.connect(self.db, timeout=10) as c:   # everything into the main file
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        saved = self.db.read_bytes()
        try:
            # A write first (the WAL changes, so the daemon must read the file again).
            self.execute("UPDATE usage SET messages = messages + 1")
            with open(self.db, "r+b") as f:
                f.write(b"\0garbage, not a database\0" * (len(saved) // 26))
            yield
        finally:
            with open(self.db, "r+b") as f:
                f.write(saved)
        # SQLite's connection that met the damage reads the file again once the WAL changes
        # (a write, such as the next login or usage update).
        self.execute("UPDATE usage SET messages = messages + 1")

    def close(self) -> None:
        pass


class PostgresBackend:
    """The directory in a database of a private PostgreSQL server; the daemon creates the
    tables."""

    def __init__(self, root: Path):
        self.server = mwpostgres.PostgresServer(root / "postgres").start()
        self.dsn = self.server.create_database("accounts")

    def spec(self) -> str:
        return self.dsn

    def execute(self, sql: str) -> None:
        self.server.psql(sql, "accounts")

    @contextlib.contextmanager
    def broken(self):
        """The server stopped while inside (its connections gone, nothing listening), and
        started again on the same port at the end."""
        self.server.stop()
        try:
            yield
        finally:
            self.server.start()

    def close(self) -> None:
        self.server.close()


class AccountRulesTest(mwlab.LabTestCase, unittest.TestCase):
    db_dir: Path
    BACKEND = SqliteBackend

    @classmethod
    def setUpClass(cls) -> None:
        cls.db_dir = Path(tempfile.mkdtemp(prefix="mw-accounts-"))
        os.chmod(cls.db_dir, 0o755)   # the PostgreSQL server's user reaches its directory
        cls.backend = cls.BACKEND(cls.db_dir)
        cls.LAB_OPTIONS = dict(
            milter=False, policyd=True, rule_files=[str(RULES_FILE)],
            # cache_ms 0: the cases change accounts between messages and expect the next
            # message to see the change at once (the default reuses answers for 1 s).
            policyd_config={"accounts": {"database": cls.backend.spec(), "contact": CONTACT,
                                         "timeout_ms": 200, "cache_ms": 0}})
        try:
            super().setUpClass()
        except BaseException:
            cls.backend.close()
            shutil.rmtree(cls.db_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            cls.backend.close()
            shutil.rmtree(cls.db_dir, ignore_errors=True)

    # ---- helpers -----------------------------------------------------------------------------

    def admin(self, *args: str) -> str:
        r = self.lab.policyd.run_tool("accounts", *args)
        self.assertEqual(r.returncode, 0, f"accounts {' '.join(args)}:\n{r.stdout}{r.stderr}")
        return r.stdout

    def account(self, tag: str, *options: str) -> str:
        """A fresh active account that logged in yesterday, password changed a month ago."""
        address = self.lab.address(tag, DOMAIN)
        self.admin("add", address, "--last-login", day(-1), "--password-changed", day(-30),
                   *options)
        return address

    def set_usage(self, address: str, used: int) -> None:
        self.backend.execute(
            "INSERT INTO usage (account, bytes, messages, updated_at) "
            f"VALUES ({sql_text(address)}, {int(used)}, 1, {int(time.time())}) "
            "ON CONFLICT (account) DO UPDATE SET bytes = excluded.bytes, "
            "updated_at = excluded.updated_at")

    def decision(self, **fields: str) -> dict:
        return self.lab.wait_for_decision(fields, daemon="policyd")

    # ---- account_state ---------------------------------------------------------------------

    def test_suspended_sender_refused_with_reason_and_contact(self):
        sender = self.account("suspended")
        self.admin("suspend", sender, "--reason", "security incident 42")
        result = self.lab.send(sender, OUTSIDE)
        self.assertReply(result, 550, "5.7.1", stage="rcpt",
                         text_contains=f"sender account {sender} is suspended: security "
                                       f"incident 42; contact {CONTACT}")
        entry = self.decision(**{"email.from.address": sender, "event.action": "reject"})
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "account-state")
        account = entry["mailwarden"]["findings"][0]["evidence"]["account"]
        self.assertEqual(account["stored_state"], "suspended", entry)
        self.assertEqual(account["effective_state"], "suspended", entry)
        self.assertEqual(account["cause"], "stored", entry)
        # Reactivated: the next message goes through, without a reload.
        self.admin("reactivate", sender)
        self.assertReply(self.lab.send(sender, OUTSIDE), 250, "2.0.0", stage="dot")

    def test_sasl_login_of_a_terminated_account_refused(self):
        user = self.account("leaver")
        self.admin("terminate", user, "--reason", "retired")
        result = self.lab.send("anything@example.org", OUTSIDE,
                               extra_args=["--xclient", f"LOGIN={user}"])
        self.assertReply(result, 550, "5.7.1", stage="rcpt",
                         text_contains=f"sender account {user} is terminated: retired")

    def test_inactive_sender_suspended_after_90_days(self):
        # Created long ago: an account added today would have its first 90 days (the
        # inactivity clock starts at the latest of the last login and the activation).
        sender = self.account("idle", "--created", day(-200))
        self.admin("set", sender, "--last-login", day(-100))
        result = self.lab.send(sender, OUTSIDE)
        self.assertReply(result, 550, "5.7.1", stage="rcpt",
                         text_contains=f"is suspended: no login since {day(-100)} (90 days "
                                       "or more)")
        entry = self.decision(**{"email.from.address": sender, "event.action": "reject"})
        account = entry["mailwarden"]["findings"][0]["evidence"]["account"]
        self.assertEqual((account["stored_state"], account["effective_state"], account["cause"]),
                         ("active", "suspended", "inactive"), entry)
        # 89 days: still active.
        self.admin("set", sender, "--last-login", day(-89))
        self.assertReply(self.lab.send(sender, OUTSIDE), 250, "2.0.0", stage="dot")

    def test_terminated_recipient_is_no_such_user(self):
        rcpt = self.account("gone")
        self.admin("terminate", rcpt, "--reason", "transferred to another province")
        result = self.lab.send(OUTSIDE, rcpt)
        self.assertReply(result, 550, "5.1.1", stage="rcpt",
                         text_contains="mailbox terminated, no longer in use")
        self.assertNotIn("transferred", result.reply.text)   # not told to correspondents
        self.lab.postfix.wait_for_maillog(rf"NOQUEUE: reject: RCPT from .*5\.1\.1 .*to=<{rcpt}>")

    def test_terminate_at_in_the_past_terminates(self):
        rcpt = self.account("scheduled")
        self.admin("set", rcpt, "--terminate-at", day(+10))
        self.assertReply(self.lab.send(OUTSIDE, rcpt), 250, "2.0.0", stage="dot")
        self.admin("set", rcpt, "--terminate-at", day(-1))
        self.assertReply(self.lab.send(OUTSIDE, rcpt), 550, "5.1.1", stage="rcpt")

    def test_suspended_recipient_per_config(self):
        rcpt = self.account("resting")
        self.admin("suspend", rcpt, "--reason", "disciplinary matter")
        result = self.lab.send(OUTSIDE, rcpt)
        self.assertReply(result, 550, "5.2.1", stage="rcpt",
                         text_contains="mailbox disabled (account suspended)")
        self.assertNotIn("disciplinary", result.reply.text)
        # suspended_recipient: tempfail -> 450 4.2.1 (the sender retries).
        rules = RULES_FILE.read_text().replace("suspended_recipient: reject",
                                               "suspended_recipient: tempfail")
        self.assertIn("suspended_recipient: tempfail", rules)
        local_rules = self.lab.dir / "accounts-tempfail.yaml"
        local_rules.write_text(rules)
        offset = self.lab.policyd.stderr_offset()
        self.lab.write_config("policyd", {"rule_files": [str(local_rules)]})
        self.lab.policyd.reload()
        try:
            self.lab.policyd.wait_for_stderr("configuration reloaded", since=offset)
            result = self.lab.send(OUTSIDE, rcpt)
            self.assertReply(result, 450, "4.2.1", stage="rcpt")
        finally:
            offset = self.lab.policyd.stderr_offset()
            self.lab.write_config("policyd")
            self.lab.policyd.reload()
            self.lab.policyd.wait_for_stderr("configuration reloaded", since=offset)

    def test_unknown_and_active_accounts_pass(self):
        sender = self.account("fine")
        result = self.lab.send(sender, [OUTSIDE, self.lab.address("unknown", DOMAIN)])
        self.assertReply(result, 250, "2.0.0", stage="dot")
        self.lab.sink.wait_for(lambda m: m.token == result.token)

    # ---- mailbox_quota ---------------------------------------------------------------------

    def test_over_quota_recipient_refused_at_rcpt_with_size(self):
        rcpt = self.account("full", "--quota", "1MiB")
        self.set_usage(rcpt, 900 * 1024)
        result = self.lab.smtp_send(OUTSIDE, rcpt, size=200 * 1024)
        self.assertReply(result, 552, "5.2.2", stage="rcpt", text_contains="mailbox full")
        entry = self.decision(**{"email.to.address": rcpt, "event.action": "reject"})
        ev = entry["mailwarden"]["findings"][0]["evidence"]
        self.assertEqual((ev["usage_bytes"], ev["quota_bytes"], ev["size"], ev["size_source"]),
                         (900 * 1024, 1024 * 1024, 200 * 1024, "announced"), entry)
        # A small one still fits.
        self.assertReply(self.lab.smtp_send(OUTSIDE, rcpt, size="auto"), 250, stage="dot")

    def test_over_quota_recipient_refused_at_end_of_message(self):
        rcpt = self.account("nearlyfull", "--quota", "1MiB")
        self.set_usage(rcpt, 900 * 1024)
        # No SIZE=: RCPT cannot know; the real size is judged at end of message.
        result = self.lab.smtp_send(OUTSIDE, rcpt, body_size=200 * 1024)
        self.assertReply(result, 552, "5.2.2", stage="dot", text_contains="mailbox full")
        entry = self.decision(**{"mailwarden.stage": "end-of-message",
                                 "event.action": "reject"})
        self.assertEqual(entry["mailwarden"]["findings"][0]["evidence"]["size_source"],
                         "message", entry)

    # ---- password_age ----------------------------------------------------------------------

    def test_old_password_adds_a_header_to_the_delivered_message(self):
        sender = self.account("oldpw")
        self.admin("set", sender, "--password-changed", day(-200))
        result = self.lab.send(sender, OUTSIDE)
        self.assertReply(result, 250, "2.0.0", stage="dot")
        message = self.lab.sink.wait_for(lambda m: m.token == result.token)
        self.assertEqual(message.message.get("X-Mailwarden-Password-Age"),
                         "200 days (limit 180 days) (mailwarden rule password-age)")
        entry = self.decision(**{"email.from.address": sender, "event.action": "tag"})
        ev = entry["mailwarden"]["findings"][0]["evidence"]
        self.assertEqual((ev["password_age_days"], ev["max_age_days"], ev["account"]["role"]),
                         (200, 180, "user"), entry)

    def test_admin_password_limit_is_90_days(self):
        sender = self.account("admin", "--role", "admin")
        self.admin("set", sender, "--password-changed", day(-95))
        result = self.lab.send(sender, OUTSIDE)
        message = self.lab.sink.wait_for(lambda m: m.token == result.token)
        self.assertEqual(message.message.get("X-Mailwarden-Password-Age"),
                         "95 days (limit 90 days) (mailwarden rule password-age)")

    # ---- the directory unavailable -----------------------------------------------------------

    def test_unreadable_directory_defers_at_once_and_recovers(self):
        rcpt = self.account("whilebroken")
        self.set_usage(rcpt, 1)
        with self.backend.broken():
            started = time.monotonic()
            result = self.lab.send(OUTSIDE, rcpt)
            elapsed = time.monotonic() - started
            self.assertReply(result, 450, "4.3.0", stage="rcpt",
                             text_contains="account directory temporarily unavailable")
            self.assertLess(elapsed, 5.0, "the answer must come within the time budget")
            entry = self.decision(**{"email.to.address": rcpt, "event.action": "tempfail"})
            finding = entry["mailwarden"]["findings"][0]
            self.assertEqual(finding["evidence"]["on_unavailable"], "tempfail", entry)
            self.assertIn("accounts store", finding["evidence"]["error"], entry)
        # Repaired: after the one-second backoff the answers come from the directory again.
        time.sleep(1.2)
        self.assertReply(self.lab.send(OUTSIDE, rcpt), 250, "2.0.0", stage="dot")


class PostgresAccountRulesTest(AccountRulesTest):
    """The same cases on a PostgreSQL directory."""
    BACKEND = PostgresBackend


class AccountDirectoryStartTest(unittest.TestCase):
    """What the daemon does with accounts.database at start, without Postfix."""

    def test_missing_database_is_created_empty_and_unusable_one_stops_the_start(self):
        with mwlab.Lab(milter=False, policyd=False, postfix=False,
                       rule_files=[str(RULES_FILE)], name="accounts-start") as lab:
            db = lab.dir / "state" / "accounts.db"
            (lab.dir / "state").mkdir()
            fresh = lab.new_daemon("policyd", {"accounts": {"database": f"sqlite:{db}"}}).start()
            try:
                self.assertTrue(db.exists())
                self.assertIn("DUNNO", mwlab.policy_request(fresh.spec, mwlab.policy_attrs(
                    sender=f"nobody@{DOMAIN}", recipient=f"else@{DOMAIN}")))
            finally:
                fresh.stop(10)
            # --check-config does not create the file; a bad spec is an error there too.
            missing = lab.dir / "nowhere" / "accounts.db"
            check = lab.new_daemon("policyd", {"accounts": {"database": f"sqlite:{missing}"}})
            self.assertEqual(check.run_tool("--check-config").returncode, 0)
            self.assertFalse(missing.parent.exists())
            # A PostgreSQL URI passes --check-config (libpq reads it when the daemon connects).
            pg = lab.new_daemon("policyd", {"accounts": {
                "database": "postgresql://mailwarden:s3cret@127.0.0.1:1/accounts"}})
            r = pg.run_tool("--check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            bad = lab.new_daemon("policyd", {"accounts": {"database": "mysql://x"}})
            r = bad.run_tool("--check-config")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("accounts.database", r.stderr)
            # A directory that cannot be opened (no such directory) stops the start.
            check.start(wait_ready=False)
            self.assertEqual(check.wait(15), 1, check.stderr_text())
            self.assertIn("accounts.database", check.stderr_text())


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Users' spam reports reach the classifier (REGULATIONS.md M5): the pipeline a Debian site
with Postfix and Dovecot installs from conf/dovecot/ and systemd/.

A private Dovecot (tests/integration/mwdovecot.py) with IMAP runs the SHIPPED
conf/dovecot/90-mailwarden-report.conf (only its paths moved into the lab): IMAPSieve runs
report-spam.sieve when a user moves a message into Junk and report-ham.sieve when she moves
it out again; both pipe the message to a copy of the shipped hook
(conf/dovecot/mailwarden-report), which runs as the mail user (uid 8) and drops the message
into a spool whose directories are made 3733 as mailwarden.tmpfiles.conf makes them (owned
by root here). Then
`mailwarden-milter train --spool` runs as mailwarden-train-reports.service would, learning
the reports into the store the lab's milter (with the spam rule) classifies with, and
empties the spool. Checked:
  * Junk <- INBOX: one file in spool/spam/new; train: "learned 1 report", the store's spam
    count +1, the spool empty;
  * INBOX <- Junk: one file in spool/ham/new; train: the message moves to ham (spam -1,
    ham +1);
  * Trash <- Junk: no report;
  * the hook itself: an unknown class is refused (exit 64), a message over 32 MiB is
    dropped (exit 1), a report is named <nanoseconds>.<pid>.<host>, mode 0640.

Dovecot runs pipe programs with an environment of its own (the caller's variables do not
pass), so the copies of the Sieve scripts give the hook the lab's spool as its second
argument, as a site with another spool would.
"""

import imaplib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwdovecot  # noqa: E402
import mwlab  # noqa: E402
from test_spam import HAM_WORDS, RULES_YAML, message, train_store  # noqa: E402

ORG = "bacgiang.gov.vn"
USER = "alice"
SHIPPED = mwlab.REPO_ROOT / "conf" / "dovecot"
HOOK = SHIPPED / "mailwarden-report"
SIEVEC = shutil.which("sievec", path="/usr/bin:/usr/sbin:/bin") or "/usr/bin/sievec"
REPORT_NAME = re.compile(r"^\d{19}\.\d+\.[A-Za-z0-9.-]+$")


def store_counts(db: Path) -> tuple[int, int]:
    """(nspam, nham) of the classifier store."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as c:
        meta = dict(c.execute("SELECT key, value FROM meta WHERE key IN ('nspam', 'nham')"))
    return int(meta.get("nspam", 0)), int(meta.get("nham", 0))


def make_spool(spool: Path, owner: str = "root") -> None:
    """The spool as mailwarden.tmpfiles.conf creates it (owner root in the lab)."""
    for d in (spool, spool / "spam", spool / "ham"):
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o711)
    for cls in ("spam", "ham"):
        for sub in ("tmp", "new"):
            d = spool / cls / sub
            d.mkdir(exist_ok=True)
            shutil.chown(d, owner, owner)
            os.chmod(d, 0o3733)


def reports(spool: Path, cls: str, sub: str = "new") -> list[Path]:
    return sorted((spool / cls / sub).iterdir())


@unittest.skipIf(mwdovecot.available() or not Path("/usr/lib/dovecot/imap").exists(),
                 mwdovecot.available() or "needs dovecot-imapd")
class SpamReportsTest(unittest.TestCase):
    work: Path
    lab: mwlab.Lab
    dovecot: mwdovecot.Dovecot

    @classmethod
    def setUpClass(cls) -> None:
        cls.work = Path(tempfile.mkdtemp(prefix="mw-spam-reports-"))
        os.chmod(cls.work, 0o755)
        try:
            cls._start()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def _start(cls) -> None:
        work = cls.work
        (work / "spam-rules.yaml").write_text(RULES_YAML, encoding="utf-8")
        cls.db = work / "bayes.sqlite"
        train_store(work, cls.db)
        rule = {"id": "spam", "check": "spam", "action": "reject", "tag_score": 5,
                "reject_score": 15, "rules_file": str(work / "spam-rules.yaml"),
                "bayes_db": str(cls.db), "dnsbl_budget_ms": 0}
        cls.lab = mwlab.Lab(milter=True, rules=[rule], name="spam-reports")
        cls.lab.__enter__()

        # The shipped hook, Sieve scripts and Dovecot snippet, with paths in the lab.
        cls.spool = cls.lab.dir / "reports"
        make_spool(cls.spool)
        bin_dir, sieve_dir = work / "dovecot-bin", work / "sieve"
        bin_dir.mkdir()
        sieve_dir.mkdir()
        shutil.copy(HOOK, bin_dir / "mailwarden-report")
        os.chmod(bin_dir / "mailwarden-report", 0o755)
        for cls_name in ("spam", "ham"):
            script = (SHIPPED / f"report-{cls_name}.sieve").read_text()
            call = f'"mailwarden-report" ["{cls_name}"]'
            assert call in script, script
            (sieve_dir / f"report-{cls_name}.sieve").write_text(
                script.replace(call, f'"mailwarden-report" ["{cls_name}", "{cls.spool}"]'))
        conf = (SHIPPED / "90-mailwarden-report.conf").read_text()
        for shipped, lab in (("/usr/lib/mailwarden/dovecot", str(bin_dir)),
                             ("/etc/dovecot/sieve/", f"{sieve_dir}/")):
            assert shipped in conf, shipped
            conf = conf.replace(shipped, lab)
        cls.dovecot = mwdovecot.attach(cls.lab, domain=ORG, users={USER: None}, imap=True,
                                       imap_plugins="imap_sieve", extra_config=conf)
        # As the install notes say: compiled by root, where the mail user cannot write.
        for cls_name in ("spam", "ham"):
            compiled = subprocess.run(
                [SIEVEC, "-c", str(cls.dovecot.conf), str(sieve_dir / f"report-{cls_name}.sieve")],
                capture_output=True, text=True, timeout=30)
            assert compiled.returncode == 0, compiled.stdout + compiled.stderr
        with cls.imap() as imap:
            for box in ("Junk", "Trash"):
                imap.create(box)

    @classmethod
    def _stop(cls) -> None:
        try:
            if getattr(cls, "lab", None) is not None:
                cls.lab.close()
        finally:
            shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def tearDownClass(cls) -> None:
        cls._stop()

    # ---- helpers -----------------------------------------------------------------------------

    @classmethod
    def imap(cls) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", cls.dovecot.imap_port)
        imap.login(f"{USER}@{ORG}", "x")
        return imap

    def diag(self) -> str:
        return f"{self.lab.diagnostics()}\n{self.dovecot.diagnostics()}"

    def setUp(self) -> None:
        for cls in ("spam", "ham"):
            for sub in ("tmp", "new"):
                for p in reports(self.spool, cls, sub):
                    p.unlink()

    def deliver(self, seed: int) -> str:
        """A message to alice through Postfix, the milter and LMTP; returns its token."""
        token = mwlab.new_token()
        data = f"X-Mwlab-Id: {token}\r\n".encode() + message(
            f"news{seed}@outside.example", f"Bản tin {seed}", HAM_WORDS, seed)
        r = self.lab.smtp_send(f"news{seed}@outside.example", f"{USER}@{ORG}", data)
        self.assertTrue(r.accepted, f"{r}\n{self.diag()}")
        self.dovecot.wait_for_mail(USER, lambda m: m.token == token)
        return token

    def move(self, token: str, source: str, target: str) -> None:
        """alice's mail client moves the message (IMAP MOVE) from source to target."""
        with self.imap() as imap:
            typ, _ = imap.select(source)
            self.assertEqual(typ, "OK", source)
            typ, data = imap.uid("SEARCH", None, "HEADER", "X-Mwlab-Id", token)
            uids = data[0].split()
            self.assertEqual(len(uids), 1, f"{token} in {source}: {data}")
            typ, data = imap.uid("MOVE", uids[0], target)
            self.assertEqual(typ, "OK", data)
            imap.logout()

    def wait_for_report(self, cls: str) -> Path:
        try:
            return mwlab.wait_until(lambda: next(iter(reports(self.spool, cls)), None), 15,
                                    what=f"a report in spool/{cls}/new")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.diag()}") from None

    def train_spool(self) -> str:
        """What mailwarden-train-reports.service runs, with the lab's config and store."""
        r = mwlab.run_tool(mwlab.milter_bin(), [
            "--config", self.lab.milter_config_path, "train", "--spool", self.spool,
            "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    # ---- the cases ---------------------------------------------------------------------------

    def test_junk_reports_spam_and_back_to_inbox_reports_ham(self):
        token = self.deliver(8101)
        spam0, ham0 = store_counts(self.db)

        self.move(token, "INBOX", "Junk")
        report = self.wait_for_report("spam")
        self.assertRegex(report.name, REPORT_NAME)
        self.assertEqual(report.stat().st_uid, 8, "written by the mail user")
        self.assertEqual(report.stat().st_mode & 0o777, 0o640)
        self.assertIn(f"X-Mwlab-Id: {token}".encode(), report.read_bytes())
        self.assertEqual(reports(self.spool, "ham"), [])
        self.assertEqual(reports(self.spool, "spam", "tmp"), [])

        out = self.train_spool()
        self.assertIn("learned 1 report (1 spam, 0 ham)", out)
        self.assertEqual(store_counts(self.db), (spam0 + 1, ham0))
        self.assertEqual(reports(self.spool, "spam"), [])

        self.move(token, "Junk", "INBOX")
        report = self.wait_for_report("ham")
        self.assertIn(f"X-Mwlab-Id: {token}".encode(), report.read_bytes())
        self.assertEqual(reports(self.spool, "spam"), [])

        out = self.train_spool()
        self.assertIn("learned 1 report (0 spam, 1 ham)", out)
        self.assertEqual(store_counts(self.db), (spam0, ham0 + 1), out)
        self.assertEqual(reports(self.spool, "ham"), [])

    def test_junk_to_trash_reports_nothing(self):
        token = self.deliver(8202)
        self.move(token, "INBOX", "Junk")
        self.wait_for_report("spam")
        self.train_spool()
        counts = store_counts(self.db)
        since = self.dovecot.log_offset()
        self.move(token, "Junk", "Trash")
        # The script ran (IMAPSieve runs it before MOVE is answered), and piped nothing.
        self.dovecot.wait_for_log(r"Started running script .*report-ham(.|\n)*"
                                  r"multi-script: Sequence finished", since=since)
        self.assertEqual(reports(self.spool, "ham"), [])
        self.assertEqual(reports(self.spool, "spam"), [])
        self.assertEqual(store_counts(self.db), counts)

    def test_hook_refuses_unknown_class_and_oversized_message(self):
        spool = self.work / "hook-spool"
        spool.mkdir()
        make_spool(spool)
        env = {"PATH": "/usr/bin:/bin", "MAILWARDEN_REPORT_SPOOL": str(spool)}
        r = subprocess.run([str(HOOK), "junk"], input=b"Subject: x\r\n\r\nx\r\n",
                           capture_output=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 64, r)
        self.assertIn(b"unknown class 'junk'", r.stderr)
        r = subprocess.run([str(HOOK), "spam"], input=b"x" * (32 * 1024 * 1024 + 1),
                           capture_output=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b"over 33554432 bytes", r.stderr)
        for cls in ("spam", "ham"):
            for sub in ("tmp", "new"):
                self.assertEqual(reports(spool, cls, sub), [], f"{cls}/{sub}")
        # The environment names the spool for runs by hand.
        r = subprocess.run([str(HOOK), "ham"], input=b"Subject: x\r\n\r\nx\r\n",
                           capture_output=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        [report] = reports(spool, "ham")
        self.assertRegex(report.name, REPORT_NAME)
        self.assertEqual(report.read_bytes(), b"Subject: x\r\n\r\nx\r\n")


if __name__ == "__main__":
    mwlab.install_signal_handlers()
    unittest.main()

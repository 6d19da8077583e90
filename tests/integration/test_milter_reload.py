#!/usr/bin/env python3
"""The milter's run-time signals through a real Postfix: SIGHUP reload (a failed reload keeps
the running rules), SIGUSR1 log reopen (logrotate), and fail-closed Postfix wiring when the
milter is down (milter_default_action = tempfail).

Each test leaves the lab as it found it (tearDown restores config and rules, reloads, and
waits until the original 1MiB limit answers again).
"""

import os
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

LIMIT = 1024 * 1024
RELOAD_TIMEOUT = 10.0


class MilterReloadTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=True, policyd=False, rules=[mwlab.size_rule("1MiB")])

    def setUp(self):
        self.assertTrue(self.lab.milter.running, self.lab.diagnostics())

    def tearDown(self):
        if not self.lab.milter.running:
            self.lab.milter.start()
        self.lab.write_config("milter")
        self.lab.write_rules()
        self.lab.milter.reload()
        self.wait_for_limit_answer(LIMIT + 1, 552)
        self.wait_for_limit_answer(LIMIT, 250)

    def wait_for_limit_answer(self, size: int, code: int) -> mwlab.SmtpReply:
        """Polls MAIL FROM SIZE=size until Postfix (i.e. the milter) answers code."""
        last = []

        def probe():
            reply = self.lab.mail_from_probe(self.lab.address("probe"), size)
            last[:] = [reply]
            return reply if reply.code == code else None
        try:
            return mwlab.wait_until(probe, RELOAD_TIMEOUT, interval=0.2,
                                    what=f"SIZE={size} to get {code}")
        except TimeoutError as e:
            self.fail(f"{e}; last reply: {last}\n{self.lab.diagnostics()}")

    def assert_still_enforcing_1mib(self) -> None:
        sender = self.lab.address("after-failed-reload")
        reply = self.lab.mail_from_probe(sender, LIMIT + 1)
        self.assertEqual((reply.code, reply.enhanced), (552, "5.3.4"), reply)
        self.assertIn("message-size", reply.text)
        self.lab.wait_for_decision({"email.from.address": sender, "event.action": "reject",
                                    "rule.id": "message-size"}, daemon="milter")
        result = self.lab.send(self.lab.address("after-failed-reload-ok"), "rcpt@example.com")
        self.assertReply(result, 250, "2.0.0", stage="dot")

    # ---- SIGHUP ----------------------------------------------------------------------------

    def test_valid_reload_applies_new_limit(self):
        self.lab.write_rules([mwlab.size_rule("100KiB")])
        self.lab.milter.reload()
        reply = self.wait_for_limit_answer(500 * 1024, 552)
        self.assertEqual(reply.enhanced, "5.3.4", reply)
        self.assertIn("message-size", reply.text)
        # ... and at end of data too (no SIZE=):
        sender = self.lab.address("reloaded-eom")
        result = self.lab.smtp_send(sender, "rcpt@example.com", size=None,
                                    body_size=200 * 1024)
        self.assertReply(result, 552, "5.3.4", stage="dot", text_contains="message-size")
        self.assertTrue(self.lab.milter.running)

    def test_invalid_rules_yaml_at_reload_keeps_old_rules(self):
        good = mwlab.rules_yaml([mwlab.size_rule("100KiB")])
        bad = good.replace("max_size: 100KiB", "max_size: 100KiB: oops")
        bad_line = mwlab.line_number(bad, "oops")
        self.lab.write_rules(bad)
        offset = self.lab.milter.stderr_offset()
        self.lab.milter.reload()
        self.lab.milter.wait_for_stderr(mwlab.error_location("rules.yaml", bad_line), since=offset)
        self.assertTrue(self.lab.milter.running, "a failed reload must not stop the daemon")
        self.assert_still_enforcing_1mib()
        # The 100KiB of the broken file must not have leaked in.
        self.assertEqual(self.lab.mail_from_probe(self.lab.address("p"), 500 * 1024).code, 250)

    def test_invalid_config_yaml_at_reload_keeps_old_config(self):
        text = self.lab.config_text("milter")
        bad = text.replace("shutdown_timeout: 5s", "shutdown_timeout: 5s: oops")
        self.assertNotEqual(bad, text)
        bad_line = mwlab.line_number(bad, "oops")
        self.lab.write_config("milter", bad)
        offset = self.lab.milter.stderr_offset()
        self.lab.milter.reload()
        self.lab.milter.wait_for_stderr(mwlab.error_location("milter.yaml", bad_line), since=offset)
        self.assertTrue(self.lab.milter.running)
        self.assert_still_enforcing_1mib()

    def test_semantically_invalid_rule_at_reload_keeps_old_rules(self):
        bad = mwlab.rules_yaml([mwlab.size_rule("lots")])
        self.lab.write_rules(bad)
        offset = self.lab.milter.stderr_offset()
        self.lab.milter.reload()
        self.lab.milter.wait_for_stderr(mwlab.error_location("rules.yaml", mwlab.line_number(bad, "lots")),
                                        since=offset)
        self.assertTrue(self.lab.milter.running)
        self.assert_still_enforcing_1mib()

    # ---- SIGUSR1 ---------------------------------------------------------------------------

    def test_sigusr1_reopens_decision_log(self):
        log = self.lab.milter_log_path
        before = self.lab.address("before-rotate")
        self.assertEqual(self.lab.mail_from_probe(before, LIMIT + 1).code, 552)
        self.lab.wait_for_decision({"email.from.address": before}, daemon="milter")

        rotated = log.with_name(log.name + ".1")
        os.rename(log, rotated)
        self.lab.milter.reopen_log()
        # The signal is asynchronous: probe until a line lands in the new file (a line that
        # raced ahead of the reopen still goes to the old inode, i.e. the rotated file).
        new_log = mwlab.DecisionLog(log)

        def next_line_in_new_file():
            sender = self.lab.address("after-rotate")
            self.lab.mail_from_probe(sender, LIMIT + 1)
            try:
                return new_log.wait_for({"email.from.address": sender}, timeout=1)
            except AssertionError:
                return None
        entry = mwlab.wait_until(next_line_in_new_file, 10, interval=0.1,
                                 what="a decision line in the reopened log")
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "message-size")
        old = mwlab.DecisionLog(rotated)
        self.assertTrue(old.find({"email.from.address": before}), "old lines stay in .1")
        self.assertFalse(old.find({"email.from.address": entry["email"]["from"]["address"]}))
        self.assertTrue(self.lab.milter.running)

    # ---- milter down ------------------------------------------------------------------------

    def test_milter_down_means_tempfail_then_recovery(self):
        self.assertEqual(self.lab.milter.stop(10), 0)
        result = self.lab.send(self.lab.address("while-down"), "rcpt@example.com")
        self.assertReply(result, 451, "4.7.1", stage="mail")
        self.lab.milter.start()
        result = self.lab.send(self.lab.address("after-restart"), "rcpt@example.com")
        self.assertReply(result, 250, "2.0.0", stage="dot")


if __name__ == "__main__":
    unittest.main(verbosity=2)

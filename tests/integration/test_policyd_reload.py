#!/usr/bin/env python3
"""mailwarden-policyd's run-time signals, with a real policy client on its socket: SIGHUP
applies a changed blocklist, a broken rule file or config at SIGHUP is refused with its
file:line:column and the running rules stay in force, SIGUSR1 reopens the decision log.
"""

import os
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

BLOCKED = "blocked@example.net"
RULES = [mwlab.sender_blocklist_rule([BLOCKED])]
RELOAD_TIMEOUT = 10.0


class PolicydReloadTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=False, policyd=True, postfix=False, rules=RULES)

    def tearDown(self):
        self.lab.write_config("policyd")
        self.lab.write_rules()
        self.lab.policyd.reload()
        self.wait_for_answer(BLOCKED, "550")

    def answer(self, sender: str) -> str:
        return self.lab.policy_request(sender=sender)

    def wait_for_answer(self, sender: str, prefix: str) -> str:
        return mwlab.wait_until(lambda: (a := self.answer(sender)).startswith(prefix) and a,
                                RELOAD_TIMEOUT, interval=0.1,
                                what=f"{sender} to be answered {prefix}")

    def test_valid_reload_applies_a_changed_blocklist(self):
        self.assertTrue(self.answer(BLOCKED).startswith("550 5.7.1"))
        self.lab.write_rules([mwlab.sender_blocklist_rule(["other@example.org"])])
        self.lab.policyd.reload()
        self.wait_for_answer("other@example.org", "550 5.7.1")
        self.assertEqual(self.answer(BLOCKED), "DUNNO")

    def test_broken_rule_file_at_reload_keeps_the_running_rules(self):
        since = self.lab.policyd.stderr_offset()
        text = "version: 1\nrules:\n  - id: sender-blocklist\n    check: sender_blocklist\n" \
               "    senders: [\"not an address\"]\n"
        self.lab.write_rules(text)
        self.lab.policyd.reload()
        self.lab.policyd.wait_for_stderr(r"reload failed", since=since)
        self.lab.policyd.wait_for_stderr(mwlab.error_location("rules.yaml", 5), since=since)
        self.assertTrue(self.answer(BLOCKED).startswith("550 5.7.1"))
        self.assertTrue(self.lab.policyd.running)

    def test_yaml_syntax_error_at_reload_keeps_the_running_config(self):
        since = self.lab.policyd.stderr_offset()
        config = self.lab.config_text("policyd") + "policyd: [unclosed\n"
        self.lab.write_config("policyd", config)
        self.lab.policyd.reload()
        self.lab.policyd.wait_for_stderr(r"reload failed", since=since)
        self.lab.policyd.wait_for_stderr(r"YAML syntax error|duplicate key", since=since)
        self.assertTrue(self.answer(BLOCKED).startswith("550 5.7.1"))

    def test_sigusr1_reopens_the_decision_log(self):
        log = self.lab.policyd_log_path
        self.answer(BLOCKED)
        mwlab.wait_until(lambda: log.exists() and log.stat().st_size > 0, 5)
        rotated = log.with_suffix(".1")
        os.replace(log, rotated)
        since = self.lab.policyd.stderr_offset()
        self.lab.policyd.reopen_log()
        self.lab.policyd.wait_for_stderr(r"reopen", since=since)
        self.answer(BLOCKED)
        entries = mwlab.wait_until(lambda: log.exists() and mwlab.DecisionLog(log).entries(), 5)
        self.assertEqual(mwlab.field_of(entries[-1], "event.action"), "reject", entries)
        os.remove(rotated)


if __name__ == "__main__":
    unittest.main(verbosity=2)

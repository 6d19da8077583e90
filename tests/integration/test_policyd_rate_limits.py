#!/usr/bin/env python3
"""mailwarden-policyd's sender rate limits (check: rate_limit) through a real Postfix.

A SASL user (impersonated with XCLIENT LOGIN=, which the lab's Postfix allows from
loopback) sends its allowance of messages, accepted and counted at END-OF-MESSAGE; the next
one is refused 450 4.7.1 at RCPT, while another user still sends.  The counters live in
their own SQLite file (rate_limits.database): the refusal stands after the daemon is
stopped (SIGTERM) and started again, and after a SIGHUP reload.  With `action: quarantine`
the message over the limit is accepted into Postfix's hold queue instead.
"""

import shutil
import sqlite3
import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

DOMAIN = mwlab.INTERNAL_DOMAIN
OUTSIDE = "someone@example.com"
ALLOWANCE = 3
HOLD_DOMAIN = "hold.example"

RULES = [
    {"id": "sasl-rate", "check": "rate_limit", "key": "sasl_username", "window": "1h",
     "max_messages": ALLOWANCE},
    {"id": "hold-rate", "check": "rate_limit", "key": "sender", "window": "1h",
     "max_messages": 1, "action": "quarantine", "when": {"senders": [f"@{HOLD_DOMAIN}"]}},
]


class RateLimitTest(mwlab.LabTestCase, unittest.TestCase):
    db_dir: Path

    @classmethod
    def setUpClass(cls) -> None:
        cls.db_dir = Path(tempfile.mkdtemp(prefix="mw-ratelimits-"))
        cls.db = cls.db_dir / "ratelimits.db"
        cls.LAB_OPTIONS = dict(
            milter=False, policyd=True, rules=RULES,
            policyd_config={"rate_limits": {"database": f"sqlite:{cls.db}"}})
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.db_dir, ignore_errors=True)

    def send_as(self, user: str) -> mwlab.SendResult:
        return self.lab.send(user, OUTSIDE, extra_args=["--xclient", f"LOGIN={user}"])

    def counted(self, key: str) -> int:
        """Messages stored for counter `key`, read straight from the file."""
        with sqlite3.connect(self.db, timeout=10) as c:
            return c.execute("SELECT coalesce(sum(messages), 0) FROM rate_buckets "
                             "WHERE counter = ?", (key,)).fetchone()[0]

    def assertLimited(self, user: str) -> None:
        self.assertReply(self.send_as(user), 450, "4.7.1", stage="rcpt",
                         text_contains=f"sending limit reached ({ALLOWANCE} messages per 1h)")

    def test_sasl_user_limited_across_restart_and_reload(self):
        user = self.lab.address("hijacked", DOMAIN)
        for i in range(ALLOWANCE):
            self.assertReply(self.send_as(user), 250, "2.0.0", stage="dot")
        self.assertEqual(self.counted(f"sasl-rate|sasl_username|{user}"), ALLOWANCE)
        self.assertLimited(user)
        entry = self.lab.wait_for_decision({"user.name": user, "event.action": "tempfail"},
                                           daemon="policyd")
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "sasl-rate", entry)
        evidence = entry["mailwarden"]["findings"][0]["evidence"]
        self.assertEqual((evidence["identity"], evidence["limit"], evidence["used"]["messages"]),
                         (user, "max_messages", ALLOWANCE), entry)
        # The refused message was not counted.
        self.assertEqual(self.counted(f"sasl-rate|sasl_username|{user}"), ALLOWANCE)

        # Another user is not affected.
        other = self.lab.address("colleague", DOMAIN)
        self.assertReply(self.send_as(other), 250, "2.0.0", stage="dot")

        # The window survives a restart: SIGTERM, then a new process on the same file.
        self.assertEqual(self.lab.policyd.stop(), 0)
        self.lab.policyd.start()
        self.assertLimited(user)

        # ... and a reload.
        since = self.lab.policyd.stderr_offset()
        self.lab.policyd.reload()
        self.lab.policyd.wait_for_stderr(r"configuration reloaded", since=since)
        # Lent to the new rules, not reopened.
        self.assertNotIn("rate limit store", self.lab.policyd.stderr_text(since))
        self.assertLimited(user)
        self.assertReply(self.send_as(other), 250, "2.0.0", stage="dot")

    def test_quarantine_puts_the_message_over_the_limit_on_hold(self):
        sender = self.lab.address("bulk", HOLD_DOMAIN)
        first = self.lab.send(sender, OUTSIDE)
        self.assertReply(first, 250, "2.0.0", stage="dot")
        self.lab.sink.wait_for(lambda m: m.token == first.token)
        result = self.lab.send(sender, OUTSIDE)
        # The client sees an ordinary acceptance; the message waits in the hold queue.
        self.assertReply(result, 250, "2.0.0", stage="dot")
        qid = result.queue_id
        held = mwlab.wait_until(
            lambda: [q for q in self.lab.queue_json()
                     if q.get("queue_id") == qid and q.get("queue_name") == "hold"], 15)
        self.assertEqual(held[0]["sender"], sender, held)
        entry = self.lab.wait_for_decision({"email.from.address": sender,
                                            "event.action": "quarantine"}, daemon="policyd")
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "hold-rate", entry)
        self.assertTrue(mwlab.field_of(entry, "mailwarden.reply").startswith("HOLD "), entry)
        self.lab.postfix.wait_for_maillog(
            rf"NOQUEUE: hold: RCPT from .*sending limit reached \(1 message per 1h\), held "
            rf"for review .*from=<{sender}>")
        self.lab.postfix.postsuper("-d", qid)


if __name__ == "__main__":
    unittest.main()

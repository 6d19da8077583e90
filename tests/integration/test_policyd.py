#!/usr/bin/env python3
"""mailwarden-policyd: the sender blocklist through a real Postfix (REJECT at RCPT), the
policy delegation protocol spoken directly (persistent connections, several clients), and
hostile clients (garbage, overlong lines, idle or vanishing clients) — after each of which
the daemon must still answer a well-formed request.  Also the full stack (milter + policyd).
"""

import sys
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

BLOCKED = "blocked@example.net"
BLOCKED_DOMAIN = "@spam.example"
RULES = [mwlab.size_rule("1MiB"), mwlab.sender_blocklist_rule([BLOCKED, BLOCKED_DOMAIN])]
IDLE_TIMEOUT = 2.0
MAX_LINE = 1024


def is_pass(action: str) -> bool:
    return action.split(" ", 1)[0].upper() in ("DUNNO", "OK")


def is_reject(action: str) -> bool:
    word = action.split(" ", 1)[0].upper()
    return word == "REJECT" or (word.isdigit() and word.startswith("5"))


class PolicydPostfixTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=False, policyd=True, rules=RULES)

    def assertRejectedAtRcpt(self, result: mwlab.SendResult, sender: str) -> dict:
        self.assertIn(result.reply.code if result.reply else None, (550, 554), str(result))
        self.assertReply(result, result.reply.code, "5.7.1", stage="rcpt",
                         text_contains="sender-blocklist")
        self.assertEqual(result.status, 24, "swaks: no recipient accepted")
        entry = self.lab.wait_for_decision({"email.from.address": sender,
                                            "event.action": "reject"}, daemon="policyd")
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "sender-blocklist", entry)
        self.assertEqual(mwlab.field_of(entry, "mailwarden.stage"), "rcpt", entry)
        self.assertEqual(mwlab.field_of(entry, "event.dataset"), "mailwarden.policyd", entry)
        return entry

    def test_blocklisted_sender_rejected_at_rcpt(self):
        result = self.lab.send(BLOCKED, ["a@example.com", "b@example.com"])
        entry = self.assertRejectedAtRcpt(result, BLOCKED)
        self.assertEqual(len(result.replies_at("rcpt")), 2)
        self.assertTrue(all(r.code in (550, 554) for r in result.replies_at("rcpt")))
        self.assertIn(mwlab.field_of(entry, "email.to.address")[0],
                      ("a@example.com", "b@example.com"))
        self.lab.postfix.wait_for_maillog(
            rf"NOQUEUE: reject: RCPT from .*5\.7\.1 .*from=<{BLOCKED}>")

    def test_blocklisted_domain_rejected_at_rcpt(self):
        sender = self.lab.address("anyone", "spam.example")
        self.assertRejectedAtRcpt(self.lab.send(sender, "a@example.com"), sender)

    def test_other_senders_pass_and_are_delivered(self):
        sender = self.lab.address("fine")
        result = self.lab.send(sender, "a@example.com")
        self.assertReply(result, 250, "2.0.0", stage="dot")
        self.lab.sink.wait_for(lambda m: m.token == result.token)
        self.assertEqual(self.lab.find_decisions({"email.from.address": sender,
                                                  "event.action": "reject"}), [])

    def test_lookalike_sender_is_not_blocked(self):
        # "@spam.example" blocks that domain, not every domain ending in it.
        for sender in ("blocked@example.net.other.example", "x@notspam.example"):
            with self.subTest(sender=sender):
                result = self.lab.send(sender, "a@example.com")
                self.assertReply(result, 250, "2.0.0", stage="dot")

    def test_policyd_down_defers_then_recovers(self):
        # Wired like conf/postfix-main.cf (default_action=DEFER_IF_PERMIT): with the daemon
        # gone, mail is deferred (4xx at RCPT), never passed unchecked.
        self.assertEqual(self.lab.policyd.stop(10), 0, self.lab.policyd.stderr_text())
        try:
            result = self.lab.send(self.lab.address("while-down"), "a@example.com")
            self.assertEqual(result.stage, "rcpt", str(result))
            self.assertTrue(result.reply and 400 <= result.reply.code < 500, str(result))
        finally:
            self.lab.policyd.start()
        result = self.lab.send(self.lab.address("after-restart"), "a@example.com")
        self.assertReply(result, 250, "2.0.0", stage="dot")

    def test_direct_request_answers(self):
        self.assertTrue(is_reject(self.lab.policy_request(sender=BLOCKED)))
        self.assertTrue(is_pass(self.lab.policy_request(sender="someone@example.org")))
        self.assertTrue(is_pass(self.lab.policy_request(sender="")), "null sender (bounces)")


class PolicydProtocolTest(unittest.TestCase):
    """Speaks the protocol directly; the policy daemon alone, with short limits."""

    @classmethod
    def setUpClass(cls):
        cls.lab = mwlab.Lab(milter=False, policyd=True, postfix=False, rules=RULES,
                            policyd_config={"policyd": {"idle_timeout": f"{IDLE_TIMEOUT:g}s",
                                                        "max_line_length": MAX_LINE}},
                            name="policyd-protocol").__enter__()
        cls.spec = cls.lab.policyd.spec

    @classmethod
    def tearDownClass(cls):
        cls.lab.close()

    def tearDown(self):
        self.assert_still_answers()

    def assert_still_answers(self):
        self.assertTrue(self.lab.policyd.running, self.lab.diagnostics())
        self.assertTrue(is_reject(mwlab.policy_request(self.spec, mwlab.policy_attrs(
            sender=BLOCKED))))
        self.assertTrue(is_pass(mwlab.policy_request(self.spec, mwlab.policy_attrs())))

    def assert_closed(self, client: mwlab.RawClient, within: float) -> bytes:
        data, closed = client.read_until_closed(within)
        self.assertTrue(closed, f"connection still open after {within:g}s; got {data!r}")
        return data

    def test_persistent_connection_many_requests(self):
        with mwlab.PolicyClient(self.spec) as c:
            for i in range(20):
                sender = BLOCKED if i % 2 else f"ok{i}@example.org"
                action = c.request(mwlab.policy_attrs(sender=sender, recipient_count=i))
                self.assertEqual(is_reject(action), bool(i % 2), f"request {i}: {action}")

    def test_many_clients_at_once(self):
        clients = [mwlab.PolicyClient(self.spec) for _ in range(20)]
        try:
            for c in clients:
                self.assertTrue(is_pass(c.request(mwlab.policy_attrs())))
        finally:
            for c in clients:
                c.close()

    def test_garbage_closes_connection(self):
        with mwlab.RawClient(self.spec) as c:
            c.send(b"\x00\xff\xfe this is not name=value at all\r\n\x16\x03\x01\n\n")
            self.assert_closed(c, 5)

    def test_line_without_equals_closes_connection(self):
        with mwlab.RawClient(self.spec) as c:
            c.send(b"request=smtpd_access_policy\nGET / HTTP/1.0\n\n")
            self.assert_closed(c, 5)

    def test_overlong_line_without_newline_closes_connection(self):
        # The daemon must not buffer without bound while it waits for a newline.
        with mwlab.RawClient(self.spec) as c:
            c.send(b"sender=" + b"a" * (MAX_LINE * 4))
            self.assert_closed(c, 5)

    def test_overlong_line_with_newline_closes_connection(self):
        with mwlab.RawClient(self.spec) as c:
            c.send(b"request=smtpd_access_policy\nsender=" + b"a" * (MAX_LINE * 2) + b"\n\n")
            data = self.assert_closed(c, 5)
            self.assertFalse(data.startswith(b"action=DUNNO"), "must not pass a broken request")

    def test_endless_request_is_cut_off_by_max_attributes(self):
        # ~1 MB of short valid-looking lines and no empty line: max_attributes (128) must end
        # it long before idle_timeout would.
        with mwlab.RawClient(self.spec) as c:
            payload = b"".join(b"x%d=y\n" % i for i in range(100000))
            c.send(payload)     # False if the daemon already hung up mid-way: fine
            self.assert_closed(c, IDLE_TIMEOUT * 0.5)

    def test_idle_client_closed_after_idle_timeout(self):
        with mwlab.RawClient(self.spec) as c:
            started = time.monotonic()
            self.assert_closed(c, IDLE_TIMEOUT + 5)
            self.assertGreaterEqual(time.monotonic() - started, IDLE_TIMEOUT * 0.5,
                                    "closed long before idle_timeout")

    def test_half_request_then_idle_closed(self):
        with mwlab.RawClient(self.spec) as c:
            c.send(b"request=smtpd_access_policy\nsender=x@example.org\n")
            self.assert_closed(c, IDLE_TIMEOUT + 5)

    def test_client_vanishes_mid_request(self):
        for _ in range(10):
            with mwlab.RawClient(self.spec) as c:
                c.send(b"request=smtpd_access_policy\nsender=")

    def test_connect_and_close_immediately(self):
        for _ in range(20):
            mwlab.RawClient(self.spec).close()


class FullStackTest(mwlab.LabTestCase, unittest.TestCase):
    """Both daemons behind one Postfix, as deployed (and as the demo runs)."""

    LAB_OPTIONS = dict(milter=True, policyd=True, rules=RULES)

    def test_clean_message_passes_both(self):
        sender = self.lab.address("both")
        result = self.lab.send(sender, "a@example.com")
        self.assertReply(result, 250, "2.0.0", stage="dot")
        self.lab.sink.wait_for(lambda m: m.token == result.token)
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertEqual(mwlab.field_of(entry, "event.action"), "accept")

    def test_blocklisted_sender_never_reaches_the_milter_eom(self):
        result = self.lab.send(BLOCKED, "a@example.com")
        self.assertIn(result.reply.code, (550, 554), str(result))
        self.assertEqual(result.stage, "rcpt")
        self.lab.wait_for_decision({"email.from.address": BLOCKED}, daemon="policyd")
        time.sleep(0.3)
        self.assertEqual(self.lab.find_decisions({"email.from.address": BLOCKED,
                                                  "mailwarden.stage": "eom"}, daemon="milter"),
                         [])

    def test_oversize_refused_by_milter_blocklist_by_policyd(self):
        big = self.lab.smtp_send(self.lab.address("big"), "a@example.com", size=2 * 1024 * 1024)
        self.assertReply(big, 552, "5.3.4", stage="mail", text_contains="message-size")
        blocked = self.lab.smtp_send(BLOCKED, "a@example.com", size=1000)
        self.assertEqual(blocked.stage, "rcpt", str(blocked))
        self.assertEqual(blocked.reply.enhanced, "5.7.1", str(blocked))


if __name__ == "__main__":
    unittest.main(verbosity=2)

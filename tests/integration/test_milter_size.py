#!/usr/bin/env python3
"""message-size through a real Postfix: SIZE= refused at MAIL FROM, real size refused at end
of data, clean mail accepted and logged, and the local-submission (sendmail) path.

The documented contract: an oversize message is refused with "552 5.3.4 ..." naming the rule id; the
decision log has one JSON line per decision with event.action, rule.id, mailwarden.stage
(mail_from / eom) and email.local_id (the Postfix queue id).
"""

import sys
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

LIMIT = 1024 * 1024          # the lab's message-size rule: 1MiB
OVER = LIMIT + 256 * 1024    # comfortably over, including headers and MIME overhead


class MilterSizeTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=True, policyd=False, rules=[mwlab.size_rule("1MiB")])

    def milter_lines(self, sender: str) -> list[dict]:
        return self.lab.find_decisions({"email.from.address": sender}, daemon="milter")

    def assertDecision(self, entry: dict, action: str, stage: str, rule_id: str | None = None
                       ) -> None:
        got = (mwlab.field_of(entry, "event.action"), mwlab.field_of(entry, "mailwarden.stage"),
               mwlab.field_of(entry, "rule.id"))
        want = (action, stage, rule_id if rule_id is not None else got[2])
        self.assertEqual(got, want, f"decision line: {entry}")
        self.assertEqual(mwlab.field_of(entry, "event.dataset"), "mailwarden.milter", entry)
        self.assertEqual(mwlab.field_of(entry, "event.module"), "mailwarden", entry)
        self.assertIn("@timestamp", entry)

    # ---- accepted mail ---------------------------------------------------------------------

    def test_clean_message_accepted_delivered_and_logged_once(self):
        sender = self.lab.address("clean")
        rcpts = [self.lab.address("to1", "example.com"), self.lab.address("to2", "example.com")]
        result = self.lab.send(sender, rcpts, headers=["Subject: clean message"],
                               body="Nothing to see here.\n")
        self.assertReply(result, 250, "2.0.0", stage="dot")
        self.assertEqual(result.status, 0)
        qid = result.queue_id
        self.assertTrue(qid, result)

        delivered = self.lab.sink.wait_for(lambda m: m.token == result.token)
        self.assertEqual(delivered.sender, sender)
        self.assertEqual(sorted(delivered.recipients), sorted(rcpts))
        # A clean message goes on unchanged: no verdict header by default.
        self.assertNotRegex(delivered.raw.decode("utf-8", "replace"), r"(?m)^X-Mailwarden:")

        entry = self.lab.wait_for_decision({"email.from.address": sender,
                                            "event.action": "accept"}, daemon="milter")
        self.assertDecision(entry, "accept", "eom")
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)
        self.assertEqual(sorted(mwlab.field_of(entry, "email.to.address") or []), sorted(rcpts),
                         entry)
        self.assertEqual(mwlab.field_of(entry, "source.ip"), "127.0.0.1", entry)
        self.assertIs(mwlab.field_of(entry, "mailwarden.smtp"), True, entry)
        time.sleep(0.5)   # a duplicate line would have been written by now
        self.assertEqual(len(self.milter_lines(sender)), 1, self.milter_lines(sender))

    def test_declared_size_within_limit_is_accepted(self):
        sender = self.lab.address("small-size")
        result = self.lab.smtp_send(sender, "rcpt@example.com", size=LIMIT // 2)
        self.assertReply(result, 250, "2.0.0", stage="dot")

    def test_message_just_under_limit_is_accepted(self):
        sender = self.lab.address("under")
        result = self.lab.smtp_send(sender, "rcpt@example.com", body_size=LIMIT - 16 * 1024)
        self.assertReply(result, 250, "2.0.0", stage="dot")
        self.lab.sink.wait_for(lambda m: m.token == result.token)

    # ---- refused at MAIL FROM --------------------------------------------------------------

    def test_oversize_by_size_parameter_refused_at_mail_from(self):
        sender = self.lab.address("size-param")
        result = self.lab.smtp_send(sender, "rcpt@example.com", size=OVER)
        self.assertReply(result, 552, "5.3.4", stage="mail", text_contains="message-size")
        self.assertEqual(result.status, 23)
        self.assertEqual(result.replies_at("rcpt"), [], "no RCPT after a refused MAIL FROM")

        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertDecision(entry, "reject", "mail_from", "message-size")
        self.assertIn("552 5.3.4", mwlab.field_of(entry, "mailwarden.reply", ""), entry)
        self.lab.postfix.wait_for_maillog(
            rf"milter-reject: MAIL from .*552 5\.3\.4 .*from=<{sender}>")

    def test_size_parameter_exactly_at_limit_is_accepted_at_mail_from(self):
        reply = self.lab.mail_from_probe(self.lab.address("at-limit"), LIMIT)
        self.assertEqual(reply.code, 250, reply)
        reply = self.lab.mail_from_probe(self.lab.address("over-limit"), LIMIT + 1)
        self.assertEqual((reply.code, reply.enhanced), (552, "5.3.4"), reply)

    # ---- refused at end of data ------------------------------------------------------------

    def test_oversize_without_size_parameter_refused_at_end_of_data(self):
        # swaks never sends SIZE=, so the milter learns the size only at end of message.
        sender = self.lab.address("no-size")
        big = self.lab.dir / "big-body.txt"
        line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n"
        big.write_text(line * (OVER // len(line) + 1))
        result = self.lab.send(sender, "rcpt@example.com", body=big)
        self.assertReply(result, 552, "5.3.4", stage="dot", text_contains="message-size")
        self.assertEqual(result.status, 26)
        self.assertNotIn("SIZE=", result.transcript.split("MAIL FROM", 1)[1].split("\n", 1)[0])

        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertDecision(entry, "reject", "eom", "message-size")
        self.assertGreater(mwlab.field_of(entry, "mailwarden.size", OVER), LIMIT, entry)
        self.assertEqual(self.lab.sink.find_token(result.token), [], "must not be delivered")

    def test_understated_size_parameter_refused_at_end_of_data(self):
        # A client that lies in SIZE= passes MAIL FROM and is caught at end of message.
        sender = self.lab.address("liar")
        result = self.lab.smtp_send(sender, "rcpt@example.com", size=1000, body_size=OVER)
        self.assertReply(result, 552, "5.3.4", stage="dot", text_contains="message-size")
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertDecision(entry, "reject", "eom", "message-size")
        self.assertEqual(self.lab.sink.find_token(result.token), [])

    def test_smtplib_without_size_refused_at_end_of_data(self):
        sender = self.lab.address("smtplib-no-size")
        result = self.lab.smtp_send(sender, "rcpt@example.com", size=None, body_size=OVER)
        self.assertReply(result, 552, "5.3.4", stage="dot", text_contains="message-size")

    # ---- local submission (sendmail -> pickup -> cleanup -> non_smtpd_milters) ------------

    def test_clean_local_submission_delivered_and_logged(self):
        sender = self.lab.address("local-clean")
        token = mwlab.new_token()
        msg = mwlab.build_message(sender, ["rcpt@example.com"], token=token)
        proc = self.lab.sendmail_local(sender, "rcpt@example.com", msg)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.lab.sink.wait_for(lambda m: m.token == token)
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertDecision(entry, "accept", "eom")
        # The milter knows this message came without an SMTP dialogue.
        self.assertIs(mwlab.field_of(entry, "mailwarden.smtp"), False, entry)
        qid = self.lab.postfix.wait_for_maillog(
            rf"pickup\[\d+\]: (\w+): uid=\d+ from=<{sender}>").group(1)
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)

    def test_oversize_via_sendmail_is_bounced(self):
        # Postfix cannot refuse a local submission in a dialogue: pickup hands the message to
        # cleanup, the milter rejects it at end of message, and Postfix bounces it: the
        # recipients get nothing, the sender gets a non-delivery notification (MAIL FROM:<>)
        # that carries the milter's 5.3.4 reply, and nothing stays in the queue.
        sender = self.lab.address("local-big")
        rcpt = self.lab.address("local-rcpt", "example.com")
        token = mwlab.new_token()
        msg = mwlab.build_message(sender, [rcpt], token=token, body_size=OVER)
        proc = self.lab.sendmail_local(sender, rcpt, msg)
        self.assertEqual(proc.returncode, 0, f"sendmail queues first, then Postfix bounces: "
                                             f"{proc.stderr}")

        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter",
                                           timeout=20)
        self.assertDecision(entry, "reject", "eom", "message-size")

        qid = self.lab.postfix.wait_for_maillog(
            rf"pickup\[\d+\]: (\w+): uid=\d+ from=<{sender}>").group(1)
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)
        self.lab.postfix.wait_for_maillog(
            rf"cleanup\[\d+\]: {qid}: milter-reject: END-OF-MESSAGE .*5\.3\.4 .*from=<{sender}>")
        self.lab.postfix.wait_for_maillog(
            rf"{qid}: to=<{rcpt}>, relay=none, .*dsn=5\.3\.4, status=bounced")
        self.lab.postfix.wait_for_maillog(rf"bounce\[\d+\]: {qid}: sender non-delivery "
                                          r"notification: \w+")
        bounce = self.lab.sink.wait_for(
            lambda m: m.sender == "" and sender in m.recipients, timeout=20)
        report = bounce.raw.decode("utf-8", "replace")
        self.assertIn("Status: 5.3.4", report)
        self.assertIn(f"Final-Recipient: rfc822; {rcpt}", report)
        self.assertIn("message-size", report)
        self.assertEqual(self.lab.sink.find(lambda m: rcpt in m.recipients), [],
                         "the recipient must not get the message")
        self.lab.wait_for_queue_empty(20)


if __name__ == "__main__":
    unittest.main(verbosity=2)

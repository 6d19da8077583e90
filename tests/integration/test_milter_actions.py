#!/usr/bin/env python3
"""Every verdict the milter can apply, through a real Postfix: accept (header added), tag
(header naming the rule), quarantine (Postfix's hold queue, seen with postqueue -j), reject
(552 5.3.4); and the daemon running under an unprivileged user on a unix socket with the
configured owner and mode.

The rules are message_size rules with growing limits and escalating actions, so one message
size selects one verdict.
"""

import os
import pwd
import stat
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

RULES = [
    mwlab.size_rule("2KiB", rule_id="tag-medium", action="tag"),
    mwlab.size_rule("8KiB", rule_id="hold-large", action="quarantine"),
    mwlab.size_rule("32KiB", rule_id="refuse-huge", action="reject"),
]


class MilterActionsTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(milter=True, policyd=False, rules=RULES,
                       milter_config={"milter": {"verdict_header_on_accept": True}})

    def send_sized(self, tag: str, body_bytes: int):
        sender = self.lab.address(tag)
        body = "x\n" if body_bytes < 100 else ("y" * 70 + "\n") * (body_bytes // 71)
        result = self.lab.send(sender, "rcpt@example.com", body=body)
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        return sender, result, entry

    def test_accept_adds_verdict_header(self):
        sender, result, entry = self.send_sized("small", 50)
        self.assertEqual(result.reply.code, 250, result)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "accept", entry)
        delivered = self.lab.sink.wait_for(lambda m: m.token == result.token)
        self.assertRegex(delivered.raw.decode(), r"(?m)^X-Mailwarden: accept \(")

    def test_tag_names_the_rule_in_the_header(self):
        sender, result, entry = self.send_sized("medium", 4000)
        self.assertEqual(result.reply.code, 250, result)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "tag", entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "tag-medium", entry)
        delivered = self.lab.sink.wait_for(lambda m: m.token == result.token)
        self.assertRegex(delivered.raw.decode(), r"(?m)^X-Mailwarden: tag \(.*rules=tag-medium")

    def test_quarantine_puts_the_message_on_hold(self):
        sender, result, entry = self.send_sized("large", 16000)
        # The sender sees an ordinary acceptance: the message is kept, not delivered.
        self.assertEqual(result.reply.code, 250, result)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "quarantine", entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), "hold-large", entry)
        qid = result.queue_id
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)
        held = mwlab.wait_until(
            lambda: [q for q in self.lab.queue_json()
                     if q.get("queue_id") == qid and q.get("queue_name") == "hold"], 15)
        self.assertEqual(held[0]["sender"], sender, held)
        # Postfix logs the hold (without the milter's reason: that is in the decision log).
        self.lab.postfix.wait_for_maillog(rf"{qid}: milter-hold: END-OF-MESSAGE .*HOLD action")
        self.assertFalse(self.lab.sink.find_token(result.token), "a held message was delivered")
        self.lab.postfix.postsuper("-d", qid)

    def test_reject_refuses_with_552(self):
        sender, result, entry = self.send_sized("huge", 40000)
        self.assertEqual((result.reply.code, result.reply.enhanced), (552, "5.3.4"), result)
        self.assertIn("refuse-huge", result.reply.text)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "reject", entry)
        # All three rules fired; the strongest decided and every finding is logged.
        ids = sorted(f["rule_id"] for f in mwlab.field_of(entry, "mailwarden.findings"))
        self.assertEqual(ids, ["hold-large", "refuse-huge", "tag-medium"], entry)


class MilterPrivilegeDropTest(mwlab.LabTestCase, unittest.TestCase):
    """user: nobody, a unix socket owned by postfix with mode 0660: the daemon opens the
    socket as root, hands it to Postfix, then runs unprivileged."""
    LAB_OPTIONS = dict(milter=True, policyd=False, unix_sockets=True,
                       rules=[mwlab.size_rule("1MiB")],
                       milter_config={"milter": {"user": "nobody",
                                                 "socket_owner": "postfix:postfix",
                                                 "socket_mode": "0660"}})

    def test_runs_as_the_configured_user(self):
        pid = self.lab.milter.pid
        status = Path(f"/proc/{pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        nobody = pwd.getpwnam("nobody").pw_uid
        self.assertEqual({int(u) for u in uids}, {nobody}, status)

    def test_socket_has_owner_and_mode(self):
        path = self.lab.milter.spec.path
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_uid, pwd.getpwnam("postfix").pw_uid)

    def test_mail_flows_through_the_unprivileged_milter(self):
        sender = self.lab.address("unpriv")
        result = self.lab.send(sender, "rcpt@example.com", body="hello\n")
        self.assertEqual(result.reply.code, 250, result)
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        self.assertEqual(mwlab.field_of(entry, "event.action"), "accept", entry)


if __name__ == "__main__":
    unittest.main(verbosity=2)

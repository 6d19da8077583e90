#!/usr/bin/env python3
"""The egress listener (conf/postfix-egress.cf) through a real Postfix: Postfix's own
forwarding — virtual_alias_maps, alias_maps, ~/.forward — to a mailbox the state did not
issue is refused by mailwarden's egress socket and bounced; forwarding to a state domain and
ordinary outbound mail are delivered.

The lab runs the main.cf and master.cf lines of conf/postfix-egress.cf as written there
(mwlab.egress_config): default_transport = mailwarden-egress:[127.0.0.1]:PORT, an smtpd on
that port with smtpd_milters = milter.egress_socket, re-injecting with
content_filter = smtp:$relayhost (the lab's smtp-sink).  mydestination = bacgiang.gov.vn,
so local(8) handles aliases and .forward files of unix users the test creates.

The documented contract:
* The egress milter sees RCPT TO:<expanded> ORCPT=rfc822;<original>; a recipient outside the
  state domains whose ORCPT is an internal address is refused at RCPT with 550 5.7.1, the
  reply naming the rule id (auto-forward-out) and the target; the other recipients of the
  same message go on.
* Postfix logs the refused copy as status=bounced and sends a non-delivery notification to
  the envelope sender: "Final-Recipient: rfc822; <target>", "Original-Recipient:
  rfc822;<internal address>", "Status: 5.7.1", "Diagnostic-Code: smtp; 550 5.7.1 <reply>".
* Decision log: rule.id auto-forward-out, mailwarden.role "egress", mailwarden.stage "rcpt",
  and the evidence item {trace: expanded-recipient, value: <internal address>,
  strength: proof, forwarder, target}.
* Must pass: forwarding to another state domain (hanoi.gov.vn); outbound mail to gmail.com
  from an internal sender (trusted network, authenticated, or sendmail); Postfix's bounces.

One lab serves the module.
"""

import json
import re
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

FORWARDING_RULES = mwlab.REPO_ROOT / "rules" / "forwarding.yaml"
ORG = "bacgiang.gov.vn"          # domains.internal, and mydestination (local(8))
STATE_PEER = "hanoi.gov.vn"      # another state domain (domains.state: gov.vn)
RULE = "auto-forward-out"
OUTSIDE_SENDER = "partner@example.org"

# Postfix's own forwarding, set up once for the module.
VIRTUAL = {
    f"alice@{ORG}": "alice.private@gmail.com",
    f"hanoi-desk@{ORG}": f"desk@{STATE_PEER}",
}
ALIASES = {
    "team": "bob.home@gmail.com",
    "liaison": f"liaison@{STATE_PEER}",
}
DOT_FORWARD_TARGET = "carol.home@gmail.com"


def unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", text)


class ForwardingEgressTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(
        egress=True,
        rules=[],
        rule_files=[str(FORWARDING_RULES)],
        config={"domains": {"internal": [ORG], "state": ["gov.vn"],
                            "public_providers": ["gmail.com", "googlemail.com", "yahoo.com"]}},
        postfix_params={"mydestination": ORG},
    )

    @classmethod
    def setUpClass(cls) -> None:
        if not FORWARDING_RULES.exists():
            raise unittest.SkipTest(f"{FORWARDING_RULES} does not exist yet")
        super().setUpClass()
        pf = cls.lab.postfix
        pf.write_table("virtual", VIRTUAL)
        table = pf.write_table("aliases", ALIASES, kind="postalias")
        cls.forwarder = cls.lab.add_local_user([DOT_FORWARD_TARGET], tag="f")
        cls.officer = cls.lab.add_local_user([], tag="o")       # an internal sender's mailbox
        pf.set_params(virtual_alias_maps=f"hash:{pf.conf_dir / 'virtual'}",
                      alias_maps=table, alias_database=table)

    # ---- helpers ---------------------------------------------------------------------------

    def send(self, sender: str, rcpts: list[str], **kw) -> mwlab.SendResult:
        r = self.lab.send(sender, rcpts, **kw)
        self.assertReply(r, 250, stage="dot")
        return r

    def wait_delivered(self, token: str, rcpt: str) -> mwlab.SinkMessage:
        try:
            return self.lab.sink.wait_for(lambda m: m.token == token and rcpt in m.recipients,
                                          timeout=30)
        except TimeoutError:
            self.fail(f"{rcpt} did not reach the next hop\n{self.lab.diagnostics()}")

    def bounce_at_sink(self, token: str, to: str) -> str:
        """The text of the non-delivery notification (null sender) to `to` that returns the
        message with X-Mwlab-Id: token."""
        def find():
            return next((m for m in self.lab.sink.messages()
                         if m.sender == "" and to in m.recipients
                         and token.encode() in m.raw), None)
        try:
            m = mwlab.wait_until(find, 30, what=f"a bounce to {to}")
        except TimeoutError:
            self.fail(f"no bounce to {to}\n{self.lab.diagnostics()}")
        return unfold(m.raw.decode("utf-8", "replace"))

    def bounce_in_maildir(self, user: str, token: str) -> str:
        new = self.lab.dir / "home" / user / "Maildir" / "new"

        def find():
            for p in (new.iterdir() if new.is_dir() else ()):
                raw = p.read_bytes()
                if token.encode() in raw and b"MAILER-DAEMON" in raw:
                    return raw
            return None
        try:
            raw = mwlab.wait_until(find, 30, what=f"a bounce in {new}")
        except TimeoutError:
            self.fail(f"no bounce in {new}\n{self.lab.diagnostics()}")
        return unfold(raw.decode("utf-8", "replace"))

    def assert_dsn(self, text: str, target: str, original: str) -> None:
        self.assertRegex(text, rf"Final-Recipient: rfc822; ?{re.escape(target)}")
        self.assertRegex(text, rf"Original-Recipient: rfc822; ?{re.escape(original)}")
        self.assertIn("Status: 5.7.1", text)
        m = re.search(r"Diagnostic-Code: smtp; ?(550 5\.7\.1 [^\r\n]*)", text)
        self.assertIsNotNone(m, f"no Diagnostic-Code with our reply in:\n{text}")
        self.assertIn(RULE, m.group(1), "the reply names the rule id")
        self.assertIn(target, m.group(1), "the reply names the target")

    def assert_bounced_in_log(self, target: str, original: str) -> None:
        self.lab.postfix.wait_for_maillog(
            rf"to=<{re.escape(target)}>, orig_to=<{re.escape(original)}>, "
            rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{self.lab.ports['egress_smtpd']},.*"
            rf"dsn=5\.7\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.7\.1 ",
            timeout=30)

    def assert_never_delivered(self, token: str, target: str) -> None:
        self.lab.wait_for_queue_empty(30)
        got = [m for m in self.lab.sink.find_token(token) if target in m.recipients]
        self.assertEqual(got, [], f"{target} got the message")

    @staticmethod
    def forwarding_evidence(entry: dict) -> list[dict]:
        items = list(mwlab.field_of(entry, "mailwarden.forwarding.evidence", []) or [])
        for f in mwlab.field_of(entry, "mailwarden.findings", []) or []:
            items += mwlab.field_of(f, "evidence.forwarding.evidence", []) or []
        return items

    def assert_decision(self, target: str, original: str) -> dict:
        def refused(e: dict) -> bool:
            return (mwlab.field_of(e, "rule.id") == RULE
                    and mwlab.field_of(e, "mailwarden.role") == "egress"
                    and target in (mwlab.field_of(e, "email.to.address") or []))
        entry = self.lab.wait_for_decision(refused, timeout=15, daemon="milter")
        self.assertEqual(mwlab.field_of(entry, "event.action"), "reject", entry)
        self.assertEqual(mwlab.field_of(entry, "mailwarden.stage"), "rcpt", entry)
        evidence = self.forwarding_evidence(entry)
        self.assertTrue(any(ev.get("value") == original and ev.get("strength") == "proof"
                            and ev.get("target") == target for ev in evidence),
                        f"no proof evidence naming {original} -> {target}: {entry}")
        return entry

    def assert_no_refusal_for(self, rcpt: str) -> None:
        # A refusal of another recipient of the same message lists this one in
        # email.to.address too; what counts is whether a finding names it.
        bad = self.lab.find_decisions(
            lambda e: mwlab.field_of(e, "event.action") in ("reject", "tempfail")
            and rcpt in json.dumps([mwlab.field_of(e, "event.reason"),
                                    mwlab.field_of(e, "mailwarden.findings")]),
            daemon="milter")
        self.assertEqual(bad, [], f"refused: {bad}")

    def assert_passed_egress(self, rcpt: str) -> None:
        """The recipient went round the loop: delivered to the egress smtpd, re-queued."""
        self.lab.postfix.wait_for_maillog(
            rf"to=<{re.escape(rcpt)}>,.* relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
            rf"{self.lab.ports['egress_smtpd']},.* status=sent \(250 2\.0\.0 Ok: queued as",
            timeout=30)

    # ---- Postfix's own forwarding to a public provider: refused at egress -----------------

    def test_virtual_alias_to_gmail_is_refused_and_bounced_to_sender(self):
        r = self.send(OUTSIDE_SENDER, [f"alice@{ORG}"])
        target, original = VIRTUAL[f"alice@{ORG}"], f"alice@{ORG}"
        self.assert_bounced_in_log(target, original)
        self.assert_dsn(self.bounce_at_sink(r.token, OUTSIDE_SENDER), target, original)
        self.assert_decision(target, original)
        self.assert_never_delivered(r.token, target)

    def test_dot_forward_to_gmail_is_refused_and_bounced_to_sender(self):
        original = f"{self.forwarder}@{ORG}"
        r = self.send(OUTSIDE_SENDER, [original])
        self.assert_bounced_in_log(DOT_FORWARD_TARGET, original)
        self.assert_dsn(self.bounce_at_sink(r.token, OUTSIDE_SENDER), DOT_FORWARD_TARGET,
                        original)
        self.assert_decision(DOT_FORWARD_TARGET, original)
        self.assert_never_delivered(r.token, DOT_FORWARD_TARGET)

    def test_alias_to_gmail_is_refused(self):
        original, target = f"team@{ORG}", ALIASES["team"]
        r = self.send(OUTSIDE_SENDER, [original])
        self.assert_bounced_in_log(target, original)
        self.assert_dsn(self.bounce_at_sink(r.token, OUTSIDE_SENDER), target, original)
        self.assert_decision(target, original)
        self.assert_never_delivered(r.token, target)

    def test_forward_by_sendmail_submission_is_refused(self):
        """Mail that enters through pickup (sendmail) to a forwarded address: same loop."""
        token = mwlab.new_token()
        msg = mwlab.build_message(OUTSIDE_SENDER, [f"alice@{ORG}"], token=token)
        self.assertEqual(self.lab.sendmail_local(OUTSIDE_SENDER, [f"alice@{ORG}"], msg)
                         .returncode, 0)
        target, original = VIRTUAL[f"alice@{ORG}"], f"alice@{ORG}"
        self.assert_dsn(self.bounce_at_sink(token, OUTSIDE_SENDER), target, original)
        self.assert_never_delivered(token, target)

    # ---- must pass -------------------------------------------------------------------------

    def test_forwarding_to_another_state_domain_is_delivered(self):
        for original, target in ((f"hanoi-desk@{ORG}", VIRTUAL[f"hanoi-desk@{ORG}"]),
                                 (f"liaison@{ORG}", ALIASES["liaison"])):
            with self.subTest(original=original):
                r = self.send(OUTSIDE_SENDER, [original])
                m = self.wait_delivered(r.token, target)
                self.assertIn(f"ORCPT=rfc822;{original}", " ".join(m.rcpt_args))
                self.assert_passed_egress(target)
                self.assert_no_refusal_for(target)

    def test_outbound_mail_from_trusted_internal_sender_is_delivered(self):
        sender = f"officer@{ORG}"
        r = self.send(sender, ["friend@gmail.com"])
        self.wait_delivered(r.token, "friend@gmail.com")
        self.assert_passed_egress("friend@gmail.com")
        self.assert_no_refusal_for("friend@gmail.com")
        # Logged once, when it came in; the egress listener logs only what it refuses.
        self.lab.wait_for_decision(
            lambda e: mwlab.field_of(e, "mailwarden.role") is None
            and mwlab.field_of(e, "email.from.address") == sender
            and mwlab.field_of(e, "event.action") == "accept", daemon="milter")
        self.assertFalse(self.lab.find_decisions(
            lambda e: mwlab.field_of(e, "mailwarden.role") == "egress"
            and mwlab.field_of(e, "email.from.address") == sender, daemon="milter"))

    def test_outbound_mail_from_authenticated_sender_is_delivered(self):
        sender = f"{self.officer}@{ORG}"
        r = self.send(sender, ["friend2@gmail.com"],
                      extra_args=["--xclient", f"LOGIN={self.officer}"])
        self.wait_delivered(r.token, "friend2@gmail.com")
        self.assert_no_refusal_for("friend2@gmail.com")

    def test_outbound_mail_by_sendmail_is_delivered(self):
        sender, rcpt = f"{self.officer}@{ORG}", "friend3@gmail.com"
        token = mwlab.new_token()
        msg = mwlab.build_message(sender, [rcpt], token=token)
        self.assertEqual(self.lab.sendmail_local(sender, [rcpt], msg).returncode, 0)
        self.wait_delivered(token, rcpt)
        self.assert_no_refusal_for(rcpt)

    # ---- one message, one forwarded recipient ----------------------------------------------

    def test_only_the_forwarded_recipient_is_refused(self):
        target, original = VIRTUAL[f"alice@{ORG}"], f"alice@{ORG}"
        r = self.send(OUTSIDE_SENDER, [original, f"officer@{STATE_PEER}"])
        self.wait_delivered(r.token, f"officer@{STATE_PEER}")
        self.assert_dsn(self.bounce_at_sink(r.token, OUTSIDE_SENDER), target, original)
        self.assert_never_delivered(r.token, target)

    def test_internal_sender_gets_the_bounce_and_other_recipient_the_mail(self):
        """An internal sender writes to a colleague (virtual alias to Gmail) and to a Gmail
        friend: the friend gets the mail, the sender's mailbox the non-delivery notice."""
        sender = f"{self.officer}@{ORG}"
        target, original = VIRTUAL[f"alice@{ORG}"], f"alice@{ORG}"
        r = self.send(sender, [original, "friend4@gmail.com"])
        self.wait_delivered(r.token, "friend4@gmail.com")
        self.assert_dsn(self.bounce_in_maildir(self.officer, r.token), target, original)
        self.assert_never_delivered(r.token, target)
        self.assert_no_refusal_for("friend4@gmail.com")


if __name__ == "__main__":
    unittest.main()

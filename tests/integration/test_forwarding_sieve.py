#!/usr/bin/env python3
"""A real Dovecot LMTP + Pigeonhole Sieve `redirect` through a real Postfix (issue 4).

Mail from outside to a mailbox of bacgiang.gov.vn is delivered by the lab Postfix over LMTP
to a private Dovecot (tests/integration/mwdovecot.py); the user's Sieve script redirects it.
Pigeonhole hands the redirected copy to Postfix's sendmail, so it comes back through
postdrop -> pickup -> cleanup with non_smtpd_milters, where mailwarden's rule
auto-forward-out (rules/forwarding.yaml) judges it at end of message.

What Pigeonhole 0.5.19 (Debian 12) does, established with this harness:
* The redirected copy is the delivered message with two headers prepended:
      X-Sieve: Pigeonhole Sieve 0.5.19 (4eae2f79)
      X-Sieve-Redirected-From: <sieve_user_email, else the final recipient>
  The LMTP-added Delivered-To: <final recipient> and Received headers stay; Return-Path is
  not passed on.  Dovecot runs `sendmail -i -f <sender> -- <target>` as the mail user.
* The -f address follows sieve_redirect_envelope_from: sender -> the original envelope
  sender (an outside address here); recipient / orig_recipient -> the final recipient
  (Postfix's LMTP client sends no ORCPT to Dovecot, so these are the same even through a
  virtual alias); user_email -> sieve_user_email; postmaster -> postmaster_address.  A null
  sender stays null ("-f <>") whatever the setting.
* A milter refusal in cleanup at end of message does not reach Dovecot: postdrop queued the
  file, sendmail exits 0, Dovecot logs "redirect action: forwarded to <target>" and keeps
  (or not) as the script says.  Postfix logs milter-reject + status=bounced and bounce(8)
  notifies the *envelope sender of the redirected copy*: with the default
  sieve_redirect_envelope_from = sender that is the outside correspondent, not the mailbox
  owner (and the notice returns the copy's headers, naming the redirect target); with
  recipient / user_email it is the mailbox owner, through LMTP and her own Sieve script,
  which redirects the notice as well (envelope <>; refused again; a null-sender refusal
  produces no further notice, so there is no loop).

One lab and one Dovecot serve the module; each test uses its own outside sender.
"""

import re
import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402
import mwdovecot  # noqa: E402

FORWARDING_RULES = mwlab.REPO_ROOT / "rules" / "forwarding.yaml"
ORG = "bacgiang.gov.vn"          # domains.internal, delivered by Dovecot over LMTP
STATE_PEER = "hanoi.gov.vn"      # another state domain (domains.state: gov.vn)
RULE = "auto-forward-out"

ALICE_TARGET = "alice.private@gmail.com"
DAVE_TARGET = "dave.home@gmail.com"
FRANK_TARGET = "frank.home@yahoo.com"
ERIN_TARGET = f"carol@{STATE_PEER}"

USERS = {
    # redirect :copy, default sieve_redirect_envelope_from = sender
    "alice": f'require ["copy"];\nredirect :copy "{ALICE_TARGET}";\n',
    # the same, with sieve_redirect_envelope_from = recipient (USER_SETTINGS)
    "dave": f'require ["copy"];\nredirect :copy "{DAVE_TARGET}";\n',
    # a plain redirect: no copy stays in the mailbox
    "frank": f'redirect "{FRANK_TARGET}";\n',
    # forwarding to another state domain: allowed
    "erin": f'redirect "{ERIN_TARGET}";\n',
    "bob": None,
}
USER_SETTINGS = {"dave": {"sieve_redirect_envelope_from": "recipient"}}


def unfold(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@unittest.skipIf(mwdovecot.available(), mwdovecot.available() or "")
class ForwardingSieveTest(mwlab.LabTestCase, unittest.TestCase):
    LAB_OPTIONS = dict(
        rules=[],
        rule_files=[str(FORWARDING_RULES)],
        config={"domains": {"internal": [ORG], "state": ["gov.vn"],
                            "public_providers": ["gmail.com", "googlemail.com", "yahoo.com"]}},
    )
    dovecot: mwdovecot.Dovecot

    @classmethod
    def setUpClass(cls) -> None:
        if not FORWARDING_RULES.exists():
            raise unittest.SkipTest(f"{FORWARDING_RULES} does not exist yet")
        super().setUpClass()
        try:
            cls.dovecot = mwdovecot.attach(cls.lab, domain=ORG, users=USERS,
                                           user_settings=USER_SETTINGS)
        except BaseException:
            cls.lab.close()
            raise

    # ---- helpers ---------------------------------------------------------------------------

    def diag(self) -> str:
        return f"{self.lab.diagnostics()}\n{self.dovecot.diagnostics()}"

    def deliver(self, user: str) -> tuple[str, mwlab.SendResult]:
        """Mail from a fresh outside sender to user@ORG; returns (sender, result)."""
        sender = self.lab.address("partner", "example.org")
        r = self.lab.send(sender, f"{user}@{ORG}",
                          headers=[f"To: {user}@{ORG}", f"Subject: for {user}"])
        self.assertReply(r, 250, stage="dot")
        return sender, r

    def redirect_call(self, token: str, target: str) -> mwdovecot.SendmailCall:
        return self.dovecot.wait_for_sendmail(
            lambda c: c.recipients == [target] and c.parsed.get("X-Mwlab-Id") == token)

    def milter_reject(self, sender: str, target: str) -> str:
        """The pickup queue id of the copy cleanup refused (maillog milter-reject line)."""
        m = self.lab.postfix.wait_for_maillog(
            rf"(\w+): milter-reject: END-OF-MESSAGE from \S+: 5\.7\.1 .*; "
            rf"from=<{re.escape(sender)}> to=<{re.escape(target)}>")
        return m.group(1)

    def refusal_decision(self, queue_id: str, target: str, forwarder: str) -> dict:
        d = self.lab.wait_for_decision({"email.local_id": queue_id, "rule.id": RULE},
                                       daemon="milter")
        self.assertEqual(mwlab.field_of(d, "event.action"), "reject", d)
        self.assertIn(target, mwlab.field_of(d, "email.to.address", []), d)
        self.assertIs(mwlab.field_of(d, "mailwarden.smtp"), False, d)   # pickup, not smtpd
        fwd = self.forwarding(d)
        self.assertEqual(fwd.get("direction"), "out", d)
        self.assertEqual(fwd.get("forwarder"), forwarder, d)
        self.assertEqual(fwd.get("forwarder_domain_kind"), "internal", d)
        self.assertIn({"address": target, "domain_kind": "public_provider"},
                      fwd.get("targets", []), d)
        sieve = [e for e in fwd.get("evidence", []) if e.get("trace") == "sieve-redirect"]
        self.assertTrue(sieve, f"no sieve-redirect evidence in {d}")
        self.assertEqual(sieve[0].get("source"), "X-Sieve-Redirected-From", d)
        self.assertEqual(sieve[0].get("value"), forwarder, d)
        self.assertEqual(sieve[0].get("strength"), "proof", d)
        self.assertEqual(sieve[0].get("forwarder"), forwarder, d)
        return d

    @staticmethod
    def forwarding(d: dict) -> dict:
        """The auto_forward_out finding's evidence.forwarding (docs/decision-log.md)."""
        for f in mwlab.field_of(d, "mailwarden.findings", []) or []:
            if f.get("check") == "auto_forward_out":
                return mwlab.field_of(f, "evidence.forwarding", {}) or {}
        raise AssertionError(f"no auto_forward_out finding in {d}")

    def bounce_at_sink(self, sender: str, token: str) -> mwlab.SinkMessage:
        return self.lab.sink.wait_for(
            lambda m: m.sender == "" and m.recipients == [sender]
            and token.encode() in m.raw, timeout=20)

    def assert_forbidden_text(self, text: str) -> None:
        flat = unfold(text)
        self.assertIn("5.7.1", flat)
        self.assertRegex(flat, r"automatic forwarding .*is forbidden", flat)
        self.assertIn("state mail system", flat)
        self.assertIn(RULE, flat)

    def assert_nothing_for(self, target: str, token: str) -> None:
        self.lab.wait_for_queue_empty(30)
        got = self.lab.sink.find(lambda m: target in m.recipients)
        self.assertEqual(got, [], f"{target} reached the sink\n{self.diag()}")

    # ---- the cases -------------------------------------------------------------------------

    def test_redirect_copy_to_gmail_refused_and_sender_notified(self) -> None:
        """Default sieve_redirect_envelope_from (sender): the copy is refused at pickup, the
        outside sender gets the notice, alice keeps her own copy, Dovecot never knows."""
        sender, r = self.deliver("alice")
        call = self.redirect_call(r.token, ALICE_TARGET)
        self.assertEqual(call.envelope_sender, sender)
        self.assertEqual(call.rc, 0, call.stderr)     # sendmail cannot know what cleanup does
        copy = call.parsed
        self.assertEqual(copy.get("X-Sieve-Redirected-From"), f"alice@{ORG}")
        self.assertRegex(copy.get("X-Sieve", ""), r"^Pigeonhole Sieve 0\.5")
        self.assertEqual(copy.get("Delivered-To"), f"alice@{ORG}")
        self.assertIsNone(copy.get("Return-Path"))

        qid = self.milter_reject(sender, ALICE_TARGET)
        self.refusal_decision(qid, ALICE_TARGET, f"alice@{ORG}")
        self.lab.postfix.wait_for_maillog(
            rf"{qid}: to=<{re.escape(ALICE_TARGET)}>, relay=none, .*dsn=5\.7\.1, "
            r"status=bounced")

        bounce = self.bounce_at_sink(sender, r.token)
        self.assert_forbidden_text(bounce.raw.decode("utf-8", "replace"))
        self.assertIn(f"Final-Recipient: rfc822; {ALICE_TARGET}", bounce.raw.decode())

        mine = self.dovecot.wait_for_mail("alice", lambda m: m.token == r.token)
        self.assertIsNone(mine.message.get("X-Sieve-Redirected-From"))
        self.dovecot.wait_for_log(rf"redirect action: forwarded to <{re.escape(ALICE_TARGET)}>")
        self.assert_nothing_for(ALICE_TARGET, r.token)

    def test_redirect_with_recipient_envelope_notifies_mailbox_owner(self) -> None:
        """sieve_redirect_envelope_from = recipient: the notice goes to the mailbox owner
        (through LMTP); her script redirects the notice too (null sender), which is refused
        again and produces nothing further."""
        sender, r = self.deliver("dave")
        dave = f"dave@{ORG}"
        call = self.redirect_call(r.token, DAVE_TARGET)
        self.assertEqual(call.envelope_sender, dave)
        qid = self.milter_reject(dave, DAVE_TARGET)
        self.refusal_decision(qid, DAVE_TARGET, dave)

        notice = self.dovecot.wait_for_mail(
            "dave", lambda m: m.message.get("From", "").find("MAILER-DAEMON") >= 0
            and r.token.encode() in m.raw, timeout=20)
        self.assertEqual(notice.message.get("Return-Path"), "<>")
        self.assert_forbidden_text(notice.raw.decode("utf-8", "replace"))
        self.dovecot.wait_for_mail("dave", lambda m: m.token == r.token)   # his own copy

        # The notice itself was redirected by dave's script, with the null sender.
        again = self.dovecot.wait_for_sendmail(
            lambda c: c.recipients == [DAVE_TARGET] and c.envelope_sender == ""
            and r.token.encode() in c.message)
        self.assertEqual(again.parsed.get("X-Sieve-Redirected-From"), dave)
        qid2 = self.milter_reject("", DAVE_TARGET)
        self.refusal_decision(qid2, DAVE_TARGET, dave)
        self.assert_nothing_for(DAVE_TARGET, r.token)
        # Nobody else hears about it: no notice left the lab for the outside sender.
        self.assertEqual(self.lab.sink.find(lambda m: sender in m.recipients), [],
                         self.diag())

    def test_plain_redirect_leaves_no_copy(self) -> None:
        """redirect without :copy: refused copy, notice to the sender, frank has nothing."""
        sender, r = self.deliver("frank")
        self.redirect_call(r.token, FRANK_TARGET)
        qid = self.milter_reject(sender, FRANK_TARGET)
        self.refusal_decision(qid, FRANK_TARGET, f"frank@{ORG}")
        self.bounce_at_sink(sender, r.token)
        self.assert_nothing_for(FRANK_TARGET, r.token)
        self.assertEqual(self.dovecot.find("frank", lambda m: m.token == r.token), [])

    def test_redirect_to_state_domain_delivered(self) -> None:
        """Automatic forwarding between state domains passes."""
        sender, r = self.deliver("erin")
        self.redirect_call(r.token, ERIN_TARGET)
        got = self.lab.sink.wait_for(lambda m: m.token == r.token, timeout=20)
        self.assertEqual(got.recipients, [ERIN_TARGET])
        self.assertEqual(got.message.get("X-Sieve-Redirected-From"), f"erin@{ORG}")
        self.assertEqual(got.sender, sender)
        self.assertEqual(self.lab.find_decisions({"rule.id": RULE, "email.to.address":
                                                  ERIN_TARGET}, daemon="milter"), [])
        self.assertNotRegex(self.lab.maillog_text(), rf"milter-reject: .*to=<{ERIN_TARGET}>")

    def test_plain_delivery_untouched(self) -> None:
        """Control: a mailbox without a Sieve script gets its mail, nothing else happens."""
        sender, r = self.deliver("bob")
        self.dovecot.wait_for_mail("bob", lambda m: m.token == r.token)
        self.lab.wait_for_queue_empty(30)
        self.assertEqual([c for c in self.dovecot.sendmail_calls
                          if c.parsed.get("X-Mwlab-Id") == r.token], [])
        self.assertEqual(self.lab.sink.find_token(r.token), [])


if __name__ == "__main__":
    unittest.main()

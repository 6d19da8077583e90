#!/usr/bin/env python3
"""The automatic forwarding ban (issue 4, REGULATIONS.md M4) judged on the traces forwarding
leaves on a message, through a real Postfix (smtpd_milters and non_smtpd_milters), with the
shipped rules/forwarding.yaml and rules/public-providers.yaml.

The organisation is bacgiang.gov.vn (domains.internal, relay_domains: inbound mail for it is
relayed to the sink), the state is gov.vn (domains.state).  Who hands the message to
Postfix is set with XCLIENT (the lab allows it from loopback):
* an outside MX (ADDR=203.0.113.x, not in mynetworks or trusted_networks): inbound mail;
* the organisation's mail store (ADDR=10.20.0.25, in mynetworks and trusted_networks, not
  logged in): what a Zimbra/Exchange/Dovecot server relays out, forwards included;
* a person (LOGIN=officer, from loopback): authenticated submission;
* sendmail(1) -> pickup -> cleanup (non_smtpd_milters): a Sieve redirect or a script.

Cases (each a row of a table below):
* INBOUND_FORWARDS: mail that a mailbox outside the state forwarded automatically to an
  internal one: 550 5.7.1 by auto-forward-in, the reply naming the rule and the recipient.
* OUTBOUND_FORWARDS: an internal mailbox's rule forwarding to gmail.com through the mail
  store: 550 5.7.1 by auto-forward-out, the reply naming forwarder and target;
  SENDMAIL_FORWARDS: the same through pickup, bounced to the envelope sender (5.7.1).
* MUST_PASS / MUST_PASS_SENDMAIL: forwarding by hand, forwarding between state domains,
  ordinary mail both ways, a list post, a delivery report: delivered, no forwarding finding.
* ConfigurabilityTest: inline rules, `forwarders: public_providers` (refuse) next to
  `action: tag` (the rest of non-state forwarding only marked).
Every refusal is checked in the decision log: rule.id, the trace names in
mailwarden.findings[].evidence.forwarding.evidence[], targets[].domain_kind, forwarder.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import re
import sys
import unittest
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

FORWARDING_RULES = mwlab.REPO_ROOT / "rules" / "forwarding.yaml"
PUBLIC_PROVIDERS = mwlab.REPO_ROOT / "rules" / "public-providers.yaml"
ORG = "bacgiang.gov.vn"
MAIL_STORE = "10.20.0.25"
OFFICER = f"officer@{ORG}"

CONFIG = {
    "trusted_networks": ["10.20.0.0/24"],
    "domains": {"internal": [ORG], "state": ["gov.vn"],
                "public_providers": str(PUBLIC_PROVIDERS)},
}
POSTFIX_PARAMS = {"relay_domains": ORG, "mynetworks": "127.0.0.0/8, 10.20.0.0/24"}

# Who hands the message over (swaks arguments).
OUTSIDE = ("--xclient", "ADDR=203.0.113.25")
STORE = ("--xclient", f"ADDR={MAIL_STORE}")
PERSON = ("--xclient", "LOGIN=officer")


def received(by_host: str, from_host: str, ip: str, date: str = "Mon, 30 Nov 2026 08:14:03 "
             "+0000") -> tuple[str, str]:
    return ("Received", f"from {from_host} ({from_host} [{ip}]) by {by_host} with ESMTPS "
                        f"id 3f1a9c2e; {date}")


@dataclass
class Case:
    name: str
    via: tuple[str, ...]            # swaks arguments (XCLIENT); () with sendmail
    sender: str                     # envelope sender
    rcpt: str                       # envelope recipient
    trace_headers: list[tuple[str, str]]   # prepended by the forwarding system, top first
    from_hdr: str = "Partner <partner@example.org>"
    to_hdr: str | None = None       # default: the recipient
    subject: str = "Hop dong so 12/2026"
    content_type: str | None = None  # raw multipart body instead of plain text
    body: str = "Kinh gui anh chi,\n\nXin gui lai hop dong.\n"
    extra_headers: list[tuple[str, str]] = field(default_factory=list)  # after From/To
    traces: tuple[str, ...] = ()    # trace names expected in the evidence (subset)
    forwarder: str = ""             # expected forwarding.forwarder


def message(case: Case) -> bytes:
    hdrs = list(case.trace_headers)
    hdrs += [("From", case.from_hdr), ("To", case.to_hdr or case.rcpt),
             ("Subject", case.subject),
             ("Date", "Mon, 30 Nov 2026 15:13:55 +0700"),
             ("Message-ID", email.utils.make_msgid(domain="mail.example.org")),
             ("MIME-Version", "1.0")]
    hdrs += case.extra_headers
    hdrs.append(("Content-Type", case.content_type or "text/plain; charset=utf-8"))
    text = "".join(f"{n}: {v}\n" for n, v in hdrs) + "\n" + case.body
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


# --------------------------------------------------------------------------------------------
# Inbound: forwarded automatically by a mailbox outside the state, into an internal one
# --------------------------------------------------------------------------------------------

GMAIL_MX = received("mx.bacgiang.gov.vn", "mail-sor-f41.google.com", "209.85.220.41")
INBOUND_FORWARDS = [
    Case("gmail", OUTSIDE,
         sender=f"nguyen.van.a+caf_={OFFICER.replace('@', '=')}@gmail.com", rcpt=OFFICER,
         trace_headers=[
             GMAIL_MX,
             ("X-Forwarded-To", OFFICER),
             ("X-Forwarded-For", f"nguyen.van.a@gmail.com {OFFICER}"),
             ("Delivered-To", "nguyen.van.a@gmail.com"),
             ("Received", "by 2002:a05:6a10:8f0c:b0:5b1:2c4:6d3e with SMTP id w12csp4411298pxb;"
                          " Mon, 30 Nov 2026 00:13:58 -0800 (PST)")],
         to_hdr="nguyen.van.a@gmail.com",
         traces=("gmail-forward", "gmail-forward-sender"), forwarder="nguyen.van.a@gmail.com"),
    Case("yandex", OUTSIDE, sender="ivan.petrov@yandex.ru", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "forward101a.mail.yandex.net", "178.154.239.84"),
             ("X-Yandex-Forward", "a1f5d0b3c9e27a4c8d6f1e0b2a3c4d5e"),
             ("Received", "from mail.example.org by mxback13o.mail.yandex.net (Yandex) with "
                          "ESMTP id dJ0Yq3aOk8c1; Mon, 30 Nov 2026 11:13:57 +0300")],
         to_hdr="ivan.petrov@yandex.ru",
         traces=("yandex-forward",), forwarder="ivan.petrov@yandex.ru"),
    Case("mailru", OUTSIDE, sender="olga.s@mail.ru", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "f512.i.mail.ru", "217.69.138.48"),
             ("X-MailRu-Forward", "1"),
             ("X-Mailru-Src", "fwd"),
             ("Received", "by f512.i.mail.ru with local (envelope-from <olga.s@mail.ru>) id "
                          "1kR4sZ-0007cE-Ut; Mon, 30 Nov 2026 11:13:57 +0300")],
         to_hdr="olga.s@mail.ru",
         traces=("mailru-forward",), forwarder="olga.s@mail.ru"),
    Case("exchange-inbox-rule", OUTSIDE, sender="tran.b@outlook.com", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "APC01-SG2-obe.outbound.protection.outlook.com",
                      "40.92.53.14"),
             ("X-MS-Exchange-Inbox-Rules-Loop", "tran.b@outlook.com"),
             ("X-MS-Exchange-Organization-AuthAs", "Internal")],
         to_hdr="tran.b@outlook.com",
         traces=("exchange-inbox-rule",), forwarder="tran.b@outlook.com"),
    Case("exchange-forwarding-loop", OUTSIDE, sender="tran.b@outlook.com", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "APC01-PSA-obe.outbound.protection.outlook.com",
                      "40.92.52.61"),
             ("X-MS-Exchange-ForwardingLoop",
              "tran.b@outlook.com;84df9e7f-e9f6-40af-b435-aaaaaaaaaaaa")],
         to_hdr="tran.b@outlook.com",
         traces=("exchange-forwarding",), forwarder="tran.b@outlook.com"),
    Case("exchange-mailbox-rules-agent", OUTSIDE, sender="tran.b@outlook.com", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "APC01-TYZ-obe.outbound.protection.outlook.com",
                      "40.92.107.20"),
             ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),
             ("X-MS-Exchange-Transport-CrossTenantHeadersStamped", "TYZPR06MB4521")],
         to_hdr="tran.b@outlook.com",
         traces=("exchange-mailbox-rule",), forwarder="tran.b@outlook.com"),
    Case("zimbra", OUTSIDE, sender="partner@example.org", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "mail.congty.com.vn", "203.0.113.80"),
             ("X-Zimbra-Forwarded", "ketoan@congty.com.vn"),
             ("X-Originating-IP", "[198.51.100.23]"),
             ("X-Mailer", "Zimbra 9.0.0_GA_4583 (zclient/9.0.0_GA_4583)")],
         to_hdr="ketoan@congty.com.vn",
         traces=("zimbra-forward",), forwarder="ketoan@congty.com.vn"),
    Case("sieve-from-gmail-mailbox", OUTSIDE, sender="partner@example.org", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "mail.le-c.example.net", "203.0.113.90"),
             ("X-Sieve-Redirected-From", "le.c@gmail.com"),
             ("X-Sieve", "Pigeonhole Sieve 0.5.19 (4eae2f79)"),
             ("Delivered-To", "le.c@gmail.com")],
         to_hdr="le.c@gmail.com",
         traces=("sieve-redirect",), forwarder="le.c@gmail.com"),
    Case("srs-from-outlook", OUTSIDE, sender="SRS0=Hx4k=2Q=example.org=partner@outlook.com",
         rcpt=OFFICER,
         trace_headers=[received("mx.bacgiang.gov.vn", "EUR05-VI1-obe.outbound.protection."
                                 "outlook.com", "40.92.90.49")],
         to_hdr="tran.b@outlook.com",
         traces=("srs-sender",), forwarder="@outlook.com"),
    Case("auto-submitted-from-yahoo", OUTSIDE, sender="pham.d@yahoo.com", rcpt=OFFICER,
         trace_headers=[
             received("mx.bacgiang.gov.vn", "sonic317-20.consmr.mail.gq1.yahoo.com",
                      "98.137.66.147"),
             ("Auto-Submitted", "auto-forwarded")],
         to_hdr="pham.d@yahoo.com",
         traces=("auto-submitted-forwarded",), forwarder="pham.d@yahoo.com"),
]

# --------------------------------------------------------------------------------------------
# Outbound: an internal mailbox's rule forwards to a public provider
# --------------------------------------------------------------------------------------------

STORE_RECEIVED = received("mx.bacgiang.gov.vn", "mail.example.org", "192.0.2.10")
OUTBOUND_FORWARDS = [
    Case("exchange-rule-via-mail-store", STORE, sender="partner@example.org",
         rcpt="officer.home@gmail.com",
         trace_headers=[("X-MS-Exchange-Inbox-Rules-Loop", OFFICER),
                        ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),
                        STORE_RECEIVED],
         to_hdr=OFFICER, traces=("exchange-inbox-rule", "foreign-sender-leaving"),
         forwarder=OFFICER),
    Case("zimbra-filter-via-mail-store", STORE, sender="partner@example.org",
         rcpt="clerk.private@gmail.com",
         trace_headers=[("X-Zimbra-Forwarded", f"clerk@{ORG}"), STORE_RECEIVED],
         to_hdr=f"clerk@{ORG}", traces=("zimbra-forward",), forwarder=f"clerk@{ORG}"),
]
SENDMAIL_FORWARDS = [
    Case("exchange-rule-via-sendmail", (), sender="partner@example.org",
         rcpt="officer.home@gmail.com",
         trace_headers=[("X-MS-Exchange-Inbox-Rules-Loop", OFFICER), STORE_RECEIVED],
         to_hdr=OFFICER, traces=("exchange-inbox-rule",), forwarder=OFFICER),
    Case("zimbra-filter-via-sendmail", (), sender="partner@example.org",
         rcpt="clerk.private@gmail.com",
         trace_headers=[("X-Zimbra-Forwarded", f"clerk@{ORG}"), STORE_RECEIVED],
         to_hdr=f"clerk@{ORG}", traces=("zimbra-forward",), forwarder=f"clerk@{ORG}"),
    Case("sieve-redirect-via-sendmail", (), sender="partner@example.org",
         rcpt="officer.home@gmail.com",
         trace_headers=[("X-Sieve-Redirected-From", OFFICER),
                        ("X-Sieve", "Pigeonhole Sieve 0.5.19 (4eae2f79)"),
                        ("Delivered-To", OFFICER), STORE_RECEIVED],
         to_hdr=OFFICER, traces=("sieve-redirect",), forwarder=OFFICER),
]

# --------------------------------------------------------------------------------------------
# Must pass
# --------------------------------------------------------------------------------------------


def hand_forward_body() -> tuple[str, str]:
    """(Content-Type, body) of a person's "Forward as attachment": a note and a
    message/rfc822 part whose own header carries Gmail's forwarding traces."""
    inner = email.message.EmailMessage(policy=email.policy.SMTP)
    inner["X-Forwarded-To"] = OFFICER
    inner["X-Forwarded-For"] = f"nguyen.van.a@gmail.com {OFFICER}"
    inner["Delivered-To"] = "nguyen.van.a@gmail.com"
    inner["From"] = "Partner <partner@example.org>"
    inner["To"] = "nguyen.van.a@gmail.com"
    inner["Subject"] = "Bao gia"
    inner["Date"] = "Mon, 30 Nov 2026 08:00:00 +0000"
    inner.set_content("Bao gia dinh kem.\n")
    outer = email.message.EmailMessage(policy=email.policy.SMTP)
    outer.set_content("Anh xem giup email ben duoi.\n")
    outer.add_attachment(inner)
    raw = outer.as_string()
    head, _, body = raw.partition("\r\n\r\n") if "\r\n\r\n" in raw else raw.partition("\n\n")
    ctype = re.search(r"(?im)^Content-Type: (.*(?:\r?\n[ \t].*)*)", head).group(1)
    return re.sub(r"\r?\n[ \t]+", " ", ctype), body


def dsn_body() -> tuple[str, str]:
    ctype = 'multipart/report; report-type=delivery-status; boundary="dsn-b1"'
    body = ("--dsn-b1\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
            "--dsn-b1\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mx.bacgiang.gov.vn\n\n"
            f"Final-Recipient: rfc822; nobody@{ORG}\nAction: failed\nStatus: 5.1.1\n"
            "Diagnostic-Code: smtp; 550 5.1.1 <nobody@bacgiang.gov.vn>: unknown user\n\n"
            "--dsn-b1\nContent-Type: text/rfc822-headers\n\n"
            "From: Partner <partner@example.org>\n"
            f"To: nobody@{ORG}\nSubject: Hop dong\n"
            "X-Forwarded-To: nobody@bacgiang.gov.vn\n\n--dsn-b1--\n")
    return ctype, body


_FWD_TYPE, _FWD_BODY = hand_forward_body()
_DSN_TYPE, _DSN_BODY = dsn_body()

MUST_PASS = [
    Case("forward-by-hand-authenticated", PERSON, sender=OFFICER, rcpt="friend@gmail.com",
         trace_headers=[], from_hdr=f"Officer <{OFFICER}>",
         subject="Fwd: Bao gia", content_type=_FWD_TYPE, body=_FWD_BODY,
         extra_headers=[("User-Agent", "Mozilla Thunderbird")]),
    Case("inbound-sieve-redirect-from-state-domain", OUTSIDE, sender="partner@example.org",
         rcpt=OFFICER,
         trace_headers=[received("mx.bacgiang.gov.vn", "mail.hanoi.gov.vn", "203.0.113.60"),
                        ("X-Sieve-Redirected-From", "x@hanoi.gov.vn"),
                        ("X-Sieve", "Pigeonhole Sieve 0.5.19 (4eae2f79)"),
                        ("Delivered-To", "x@hanoi.gov.vn")],
         to_hdr="x@hanoi.gov.vn"),
    Case("inbound-gmail-forward-from-state-mailbox", OUTSIDE,
         sender=f"x+caf_={OFFICER.replace('@', '=')}@hanoi.gov.vn", rcpt=OFFICER,
         trace_headers=[GMAIL_MX,
                        ("X-Forwarded-To", OFFICER),
                        ("X-Forwarded-For", f"x@hanoi.gov.vn {OFFICER}"),
                        ("Delivered-To", "x@hanoi.gov.vn")],
         to_hdr="x@hanoi.gov.vn"),
    Case("outbound-forward-to-state-domain", STORE, sender="partner@example.org",
         rcpt="carol@hanoi.gov.vn",
         trace_headers=[("X-Zimbra-Forwarded", OFFICER),
                        ("X-MS-Exchange-Inbox-Rules-Loop", OFFICER), STORE_RECEIVED],
         to_hdr=OFFICER),
    Case("ordinary-mail-from-gmail", OUTSIDE, sender="friend@gmail.com", rcpt=OFFICER,
         trace_headers=[GMAIL_MX,
                        ("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed; d=gmail.com;"
                                           " s=20230601; h=to:subject:message-id:date:from;"
                                           " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
                                           " b=kX9Qm")],
         from_hdr="Friend <friend@gmail.com>"),
    Case("ordinary-mail-to-gmail-via-mail-store", STORE, sender=OFFICER, rcpt="friend@gmail.com",
         trace_headers=[], from_hdr=f"Officer <{OFFICER}>"),
    Case("ordinary-mail-to-gmail-authenticated", PERSON, sender=OFFICER,
         rcpt="friend@gmail.com", trace_headers=[], from_hdr=f"Officer <{OFFICER}>"),
    Case("mailing-list-post", OUTSIDE,
         sender=f"dev-bounces+officer={ORG}@lists.example.org", rcpt=OFFICER,
         trace_headers=[received("mx.bacgiang.gov.vn", "lists.example.org", "203.0.113.70")],
         from_hdr="Someone <someone@gmail.com>", to_hdr="dev@lists.example.org",
         subject="[dev] release 2.1",
         extra_headers=[("List-Id", "Developers <dev.lists.example.org>"),
                        ("List-Post", "<mailto:dev@lists.example.org>"),
                        ("List-Unsubscribe", "<mailto:dev-leave@lists.example.org>"),
                        ("Precedence", "list"),
                        ("Sender", "dev-bounces@lists.example.org"),
                        ("X-BeenThere", "dev@lists.example.org")]),
    Case("dsn-bounce-to-outside", STORE, sender="", rcpt="partner@example.org",
         trace_headers=[],
         from_hdr=f"Mail Delivery System <MAILER-DAEMON@mx.{ORG}>",
         subject="Undelivered Mail Returned to Sender", content_type=_DSN_TYPE, body=_DSN_BODY,
         extra_headers=[("Auto-Submitted", "auto-replied")]),
]
MUST_PASS_SENDMAIL = [
    Case("sieve-redirect-to-state-domain-via-sendmail", (), sender="partner@example.org",
         rcpt="carol@hanoi.gov.vn",
         trace_headers=[("X-Sieve-Redirected-From", OFFICER),
                        ("X-Sieve", "Pigeonhole Sieve 0.5.19 (4eae2f79)"),
                        ("Delivered-To", OFFICER), STORE_RECEIVED],
         to_hdr=OFFICER),
    Case("ordinary-mail-to-gmail-via-sendmail", (), sender=OFFICER, rcpt="friend@gmail.com",
         trace_headers=[], from_hdr=f"Officer <{OFFICER}>"),
    Case("sieve-vacation-reply-via-sendmail", (), sender="", rcpt="friend@gmail.com",
         trace_headers=[], from_hdr=f"Officer <{OFFICER}>",
         subject="Auto: Hop dong so 12/2026", body="Toi dang nghi phep den 7/12.\n",
         extra_headers=[("Auto-Submitted", "auto-replied (vacation)"),
                        ("Precedence", "bulk")]),
]


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------

def unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", text)


_LABS: dict[str, mwlab.Lab] = {}


def tearDownModule() -> None:
    while _LABS:
        _LABS.popitem()[1].close()


class ForwardingCase(mwlab.LabTestCase, unittest.TestCase):
    """Sending one case and judging the outcome."""

    LAB_OPTIONS = dict(rules=[], rule_files=[str(FORWARDING_RULES)], config=CONFIG,
                       postfix_params=POSTFIX_PARAMS)

    @classmethod
    def setUpClass(cls) -> None:
        if not FORWARDING_RULES.exists():
            raise unittest.SkipTest(f"{FORWARDING_RULES} does not exist yet")
        # Classes with the same LAB_OPTIONS share one lab (closed in tearDownModule).
        key = repr(sorted(cls.LAB_OPTIONS.items()))
        if key not in _LABS:
            lab = mwlab.Lab(name="fwdtraces", **cls.LAB_OPTIONS)
            lab.__enter__()
            _LABS[key] = lab
        cls.lab = _LABS[key]

    @classmethod
    def tearDownClass(cls) -> None:
        pass

    # ---- sending ---------------------------------------------------------------------------

    def smtp(self, case: Case) -> tuple[mwlab.SendResult, int]:
        """Sends the case over SMTP; (result, decision-log position before it)."""
        path = self.lab.dir / f"{case.name}.eml"
        path.write_bytes(message(case))
        before = len(self.lab.decision_log().entries())
        # swaks spells the null sender "<>".
        r = self.lab.send(case.sender or "<>", [case.rcpt], data_file=path,
                          extra_args=list(case.via))
        return r, before

    def sendmail(self, case: Case) -> tuple[str, int, int]:
        """Submits the case with sendmail(1): (token, decision-log position, maillog offset)."""
        token = mwlab.new_token()
        data = f"X-Mwlab-Id: {token}\r\n".encode() + message(case)
        before = len(self.lab.decision_log().entries())
        offset = self.lab.postfix.maillog_offset()
        proc = self.lab.sendmail_local(case.sender or "<>", [case.rcpt], data)
        # postdrop queued the file before any check ran: sendmail itself succeeds.
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return token, before, offset

    def decision(self, case: Case, before: int) -> dict:
        """The milter's decision line for this case, written after position `before`."""
        def mine():
            return next((e for e in self.lab.decision_log().entries()[before:]
                         if mwlab.field_of(e, "email.from.address", "") == case.sender
                         and case.rcpt in (mwlab.field_of(e, "email.to.address") or [])), None)
        try:
            return mwlab.wait_until(mine, 15, what=f"the decision on {case.name}")
        except TimeoutError as e:
            self.fail(f"{e}\n{self.lab.diagnostics()}")

    # ---- judging ---------------------------------------------------------------------------

    def forwarding_finding(self, entry: dict, rule_id: str) -> dict:
        found = [f for f in mwlab.field_of(entry, "mailwarden.findings", []) or []
                 if f.get("rule_id") == rule_id]
        self.assertEqual(len(found), 1, f"one {rule_id} finding in {entry}")
        return found[0]

    def assert_logged(self, case: Case, entry: dict, rule_id: str, action: str,
                      target_kind: str, target: str) -> dict:
        self.assertEqual(mwlab.field_of(entry, "event.action"), action, entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), rule_id, entry)
        fwd = mwlab.field_of(self.forwarding_finding(entry, rule_id), "evidence.forwarding")
        self.assertIsInstance(fwd, dict, entry)
        names = [ev.get("trace") for ev in fwd.get("evidence", [])]
        for t in case.traces:
            self.assertIn(t, names, f"{case.name}: trace {t} not in the evidence {fwd}")
        for ev in fwd.get("evidence", []):
            for k in ("trace", "source", "value", "strength"):
                self.assertIn(k, ev, f"{case.name}: evidence item without {k}: {ev}")
        self.assertEqual(fwd.get("targets"), [{"address": target, "domain_kind": target_kind}],
                         f"{case.name}: {fwd}")
        if case.forwarder:
            self.assertEqual(fwd.get("forwarder"), case.forwarder.lower(), f"{case.name}: {fwd}")
        self.assertEqual(fwd.get("direction"), "out" if rule_id == "auto-forward-out" else "in")
        return fwd

    def assert_refused(self, case: Case, rule_id: str, target_kind: str) -> dict:
        r, before = self.smtp(case)
        self.assertReply(r, 550, "5.7.1", stage="dot",
                         text_contains=f"mailwarden rule {rule_id}")
        reply = unfold(r.reply.text)
        self.assertIn(case.rcpt, reply, f"{case.name}: the reply names the recipient")
        if case.forwarder:
            self.assertIn(case.forwarder.lower(), reply,
                          f"{case.name}: the reply names the forwarder")
        entry = self.decision(case, before)
        self.assertTrue(str(mwlab.field_of(entry, "mailwarden.reply", "")).startswith(
            "550 5.7.1 "), entry)
        fwd = self.assert_logged(case, entry, rule_id, "reject", target_kind, case.rcpt)
        self.assertEqual(self.lab.sink.find_token(r.token), [], f"{case.name}: delivered")
        return entry, fwd

    def assert_delivered(self, case: Case, result: mwlab.SendResult | None, token: str,
                         before: int) -> None:
        if result is not None:
            self.assertReply(result, 250, "2.0.0", stage="dot")
        entry = self.decision(case, before)
        findings = [f for f in mwlab.field_of(entry, "mailwarden.findings", []) or []
                    if str(f.get("check", "")).startswith("auto_forward")]
        self.assertEqual(findings, [], f"{case.name}: a forwarding finding on a must-pass "
                                       f"message: {entry}")
        self.assertEqual(mwlab.field_of(entry, "event.action"), "accept", entry)
        try:
            m = self.lab.sink.wait_for(lambda m: m.token == token, timeout=30)
        except TimeoutError:
            self.fail(f"{case.name}: not delivered\n{self.lab.diagnostics()}")
        self.assertEqual(m.recipients, [case.rcpt])
        self.assertEqual(m.sender, case.sender)


class InboundForwardTest(ForwardingCase):
    """Traces of each provider's forwarding, arriving from outside: refused."""

    def test_each_provider_trace_is_refused_by_auto_forward_in(self):
        for case in INBOUND_FORWARDS:
            with self.subTest(case.name):
                self.assert_refused(case, "auto-forward-in", "internal")


class OutboundForwardTest(ForwardingCase):
    """An internal mailbox's forwarding rule, relayed out by the mail store: refused."""

    def test_rule_forward_through_smtpd_is_refused_by_auto_forward_out(self):
        for case in OUTBOUND_FORWARDS:
            with self.subTest(case.name):
                _, fwd = self.assert_refused(case, "auto-forward-out", "public_provider")
                self.assertEqual(fwd.get("forwarder_domain_kind"), "internal", fwd)

    def test_rule_forward_through_sendmail_is_bounced_to_the_sender(self):
        """pickup -> cleanup -> non_smtpd_milters: the refusal at end of message becomes a
        bounce to the envelope sender (the original sender of the forwarded mail), with the
        5.7.1 and the reason; the target gets nothing."""
        for case in SENDMAIL_FORWARDS:
            with self.subTest(case.name):
                token, before, offset = self.sendmail(case)
                entry = self.decision(case, before)
                self.assertIs(mwlab.field_of(entry, "mailwarden.smtp"), False, entry)
                self.assert_logged(case, entry, "auto-forward-out", "reject", "public_provider",
                                   case.rcpt)
                qid = self.lab.postfix.wait_for_maillog(
                    r"(\w+): milter-reject: END-OF-MESSAGE from [^:]*: 5\.7\.1 automatic "
                    rf"forwarding from {re.escape(case.forwarder)} to {re.escape(case.rcpt)} "
                    r"is forbidden", since=offset).group(1)
                self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)
                self.lab.postfix.wait_for_maillog(
                    rf"{qid}: to=<{re.escape(case.rcpt)}>, .*dsn=5\.7\.1, status=bounced",
                    since=offset)
                try:
                    bounce = self.lab.sink.wait_for(
                        lambda m: m.sender == "" and case.sender in m.recipients
                        and token.encode() in m.raw, timeout=30)
                except TimeoutError:
                    self.fail(f"{case.name}: no bounce to {case.sender}\n"
                              f"{self.lab.diagnostics()}")
                text = unfold(bounce.raw.decode("utf-8", "replace"))
                self.assertIn("Status: 5.7.1", text)
                self.assertRegex(text, rf"Final-Recipient: rfc822; ?{re.escape(case.rcpt)}")
                self.assertIn("official mailboxes may forward automatically only to mailboxes "
                              "of the state mail system", text)
                self.assertIn("auto-forward-out", text)
                self.assertEqual([m for m in self.lab.sink.find_token(token)
                                  if case.rcpt in m.recipients], [],
                                 f"{case.name}: the target got the message")
        self.lab.wait_for_queue_empty()


class MustPassTest(ForwardingCase):
    """Forwarding by hand, between state domains, ordinary mail, lists, bounces: delivered."""

    def test_smtp_controls_are_delivered(self):
        for case in MUST_PASS:
            with self.subTest(case.name):
                r, before = self.smtp(case)
                self.assert_delivered(case, r, r.token, before)

    def test_sendmail_controls_are_delivered(self):
        for case in MUST_PASS_SENDMAIL:
            with self.subTest(case.name):
                token, before, _ = self.sendmail(case)
                self.assert_delivered(case, None, token, before)


# --------------------------------------------------------------------------------------------
# Configurability: rules written inline
# --------------------------------------------------------------------------------------------

INLINE_RULES = """\
version: 1
rules:
  # Refuse automatic forwarding from public providers...
  - id: forward-in-public
    check: auto_forward_in
    forwarders: public_providers
    action: reject
  # ...and only mark the rest of non-state forwarding.
  - id: forward-in-mark
    check: auto_forward_in
    forwarders: non_state
    action: tag
"""


class ConfigurabilityTest(ForwardingCase):
    LAB_OPTIONS = dict(rules_text=INLINE_RULES, rule_files=["rules.yaml"], config=CONFIG,
                       postfix_params=POSTFIX_PARAMS)

    def test_forwarders_public_providers_refuses_a_gmail_forward(self):
        case = next(c for c in INBOUND_FORWARDS if c.name == "gmail")
        entry, _ = self.assert_refused(case, "forward-in-public", "internal")
        # The tag rule saw it too; the reject decided.
        ids = sorted(f["rule_id"] for f in mwlab.field_of(entry, "mailwarden.findings"))
        self.assertEqual(ids, ["forward-in-mark", "forward-in-public"], entry)

    def test_action_tag_marks_a_forward_from_a_non_public_domain(self):
        case = next(c for c in INBOUND_FORWARDS if c.name == "zimbra")
        r, before = self.smtp(case)
        self.assertReply(r, 250, "2.0.0", stage="dot")
        entry = self.decision(case, before)
        self.assert_logged(case, entry, "forward-in-mark", "tag", "internal", case.rcpt)
        self.assertNotIn("forward-in-public",
                         [f["rule_id"] for f in mwlab.field_of(entry, "mailwarden.findings")])
        try:
            m = self.lab.sink.wait_for(lambda m: m.token == r.token, timeout=30)
        except TimeoutError:
            self.fail(f"not delivered\n{self.lab.diagnostics()}")
        self.assertRegex(m.raw.decode("utf-8", "replace"),
                         r"(?m)^X-Mailwarden: tag \(.*rules=forward-in-mark")


if __name__ == "__main__":
    unittest.main()

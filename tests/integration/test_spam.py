#!/usr/bin/env python3
"""The spam check (REGULATIONS.md M5, milter/checks/spam.h) through a real Postfix, with a
classifier trained here by `mailwarden-milter train`, the admins' rule file, a real DNS
server (dnsmasq, tests/integration/mwdns.py) answering for the blocklists, and an rspamd
address where nothing listens.

The documented contract (rules/spam.yaml, docs/spam-rules.md, docs/decision-log.md):
* below tag_score the message is delivered unchanged and the decision log has the score
  (a spam finding with action accept, every signal with its score);
* from tag_score it is delivered with X-Spam-Flag: YES, X-Spam-Score and X-Spam-Status
  (naming the signals) and the subject prefix; the log's finding has action tag;
* from reject_score it is refused 550 5.7.1 naming the score; nothing is delivered;
* a client address and a link domain listed in the blocklist zones are signals with the
  zone's scores for the answer codes; an answer code not listed is ignored;
* an external scorer that cannot be reached is logged as skipped; the message is judged on
  the other signals;
* a rule file with an error is refused with file:line:column (--check-config), and a
  reload with it keeps the rules in force.
"""

import os
import random
import shutil
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwdns  # noqa: E402
import mwlab  # noqa: E402

RULE_ID = "spam"
RCPT = f"officer@{mwlab.INTERNAL_DOMAIN}"
LISTED_CLIENT = "203.0.113.25"     # answers 127.0.0.2 in the client zone
ODD_CODE_CLIENT = "203.0.113.26"   # answers 127.0.0.99: a code the zone does not list
CLEAN_CLIENT = "203.0.113.27"      # NXDOMAIN
LISTED_DOMAIN = "cheap-pills.example"

SPAM_WORDS = ("khuyến mãi giảm giá sốc mua ngay hôm nay nhận quà tặng miễn phí casino "
              "cá cược đăng ký ngay viagra cheap pills discount offer limited winner prize "
              "lottery click here unsubscribe credit loan").split()
HAM_WORDS = ("báo cáo tình hình thực hiện kế hoạch công tác tháng cuộc họp giao ban sở "
             "phòng ban tài liệu dự thảo văn bản góp ý hồ sơ meeting agenda minutes draft "
             "review quarterly report budget committee schedule").split()

RULES_YAML = """\
diacritics_insensitive: true
rules:
  - name: TEST_HUGE_OFFER
    body: 'siêu ưu đãi độc quyền'
    score: 20
    description: a phrase the tests use to reach reject_score
  - name: TEST_SUBJECT_WORD
    header: Subject
    pattern: '\\bkhuyến mãi\\b'
    score: 1.5
dnsbl:
  - name: TEST_CLIENT_BL
    zone: bl.mwlab.test
    target: client
    answers:
      - {answer: 127.0.0.2, score: 3.5}
  - name: TEST_URI_BL
    zone: uribl.mwlab.test
    target: uri
    score: 2.5
"""


def message(sender: str, subject: str, words: list[str], seed: int, extra: str = "") -> bytes:
    rnd = random.Random(seed)
    body = " ".join(rnd.choice(words) for _ in range(80))
    return (f"From: {sender}\r\nTo: {RCPT}\r\nSubject: {subject}\r\n"
            f"Date: Tue, 01 Dec 2026 10:00:00 +0700\r\n"
            f"Message-ID: <{seed}.{rnd.random()}@mwlab.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n{extra}\r\n").encode("utf-8")


_WORK: Path | None = None
_DNS: "mwdns.DnsServer | None" = None
_LAB: mwlab.Lab | None = None


def spam_rule(**extra) -> dict:
    rule = {"id": RULE_ID, "check": "spam", "action": "reject", "tag_score": 5,
            "reject_score": 15, "subject_prefix": "[SPAM]",
            "rules_file": str(_WORK / "spam-rules.yaml"),
            "bayes_db": str(_WORK / "bayes.sqlite"),
            "dnsbl_servers": [_DNS.server()], "dnsbl_budget_ms": 3000,
            "rspamd_url": f"http://127.0.0.1:{mwlab.free_port()}", "rspamd_timeout_ms": 2000}
    rule.update(extra)
    return rule


def train_store(work: Path, db: Path) -> None:
    """Trains the classifier store `db` through the real command, with 60 messages of each
    class written under work/train."""
    for kind, words in (("spam", SPAM_WORDS), ("ham", HAM_WORDS)):
        d = work / "train" / kind
        d.mkdir(parents=True)
        for i in range(60):
            (d / f"{i}.eml").write_bytes(
                message(f"{kind}{i}@sender.example", f"{kind} {i}", words, i))
    trained = mwlab.run_tool(mwlab.milter_bin(), [
        "train", "--db", db, "--spam", work / "train" / "spam", "--ham", work / "train" / "ham"])
    assert trained.returncode == 0, trained.stdout + trained.stderr


def setUpModule():
    global _WORK, _DNS, _LAB
    _WORK = Path(tempfile.mkdtemp(prefix="mw-spam-test-"))
    os.chmod(_WORK, 0o755)
    (_WORK / "spam-rules.yaml").write_text(RULES_YAML, encoding="utf-8")
    train_store(_WORK, _WORK / "bayes.sqlite")
    _DNS = mwdns.DnsServer(_WORK / "dns")
    _DNS.start({
        mwdns.client_name(LISTED_CLIENT, "bl.mwlab.test"): "127.0.0.2",
        mwdns.client_name(ODD_CODE_CLIENT, "bl.mwlab.test"): "127.0.0.99",
        f"{LISTED_DOMAIN}.uribl.mwlab.test": "127.0.0.2",
    })
    # Inbound mail for the internal domain is relayed to the sink (relay_domains), so that
    # XCLIENT can play outside clients.
    _LAB = mwlab.Lab(milter=True, policyd=False, rules=[spam_rule()], name="spam",
                     postfix_params={"relay_domains": mwlab.INTERNAL_DOMAIN})
    _LAB.__enter__()


def tearDownModule():
    if _LAB is not None:
        _LAB.close()
    if _DNS is not None:
        _DNS.stop()
    if _WORK is not None:
        shutil.rmtree(_WORK, ignore_errors=True)


class SpamTest(unittest.TestCase):
    def setUp(self):
        self.lab = _LAB

    def send(self, tag: str, data: bytes, client: str = CLEAN_CLIENT):
        sender = self.lab.address(tag)
        data = data.replace(b"From: x@x", f"From: {sender}".encode())
        path = self.lab.dir / f"{tag}-{self.lab.address(tag)}.eml"
        path.write_bytes(data)
        result = self.lab.send(sender, RCPT, data_file=path,
                               extra_args=["--xclient", f"ADDR={client}"])
        return sender, result

    def finding(self, sender: str) -> tuple[dict, dict]:
        entry = self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")
        found = [f for f in mwlab.field_of(entry, "mailwarden.findings", [])
                 if f.get("check") == "spam"]
        self.assertEqual(len(found), 1, entry)
        self.assertEqual(found[0].get("rule_id"), RULE_ID)
        return entry, found[0]

    def signals(self, finding: dict) -> dict[str, float]:
        return {s["name"]: s["score"] for s in mwlab.field_of(finding, "evidence.signals", [])}

    def delivered(self, result) -> "mwlab.SinkMessage":
        self.assertTrue(result.accepted, str(result))
        return self.lab.sink.wait_for(lambda m: m.token == result.token)

    def test_ham_is_delivered_untagged_and_its_score_logged(self):
        sender, result = self.send("ham", message("x@x", "Báo cáo tháng 11", HAM_WORDS, 1001))
        msg = self.delivered(result)
        self.assertIsNone(msg.message.get("X-Spam-Flag"))
        self.assertFalse(str(msg.message.get("Subject", "")).startswith("[SPAM]"))
        _, f = self.finding(sender)
        self.assertEqual(f.get("action"), "accept")
        score = mwlab.field_of(f, "evidence.score")
        self.assertLess(score, 5)
        self.assertIn("BAYES", self.signals(f))
        self.assertLess(self.signals(f)["BAYES"], 0)

    def test_spam_is_tagged_with_headers_and_subject_prefix(self):
        sender, result = self.send("spam", message("x@x", "Offer", SPAM_WORDS, 2002))
        msg = self.delivered(result)
        self.assertEqual(msg.message.get("X-Spam-Flag"), "YES")
        status = " ".join(msg.message.get("X-Spam-Status", "").split())
        self.assertTrue(status.startswith("Yes, score="), status)
        self.assertIn("BAYES=", status)
        self.assertTrue(msg.message.get("Subject", "").startswith("[SPAM] "),
                        msg.message.get("Subject"))
        _, f = self.finding(sender)
        self.assertEqual(f.get("action"), "tag")
        score = mwlab.field_of(f, "evidence.score")
        self.assertGreaterEqual(score, 5)
        self.assertLess(score, 15)
        self.assertEqual(msg.message.get("X-Spam-Score"), f"{score:.1f}")
        self.assertGreater(self.signals(f)["BAYES"], 0)

    def test_reject_score_refuses_with_the_score(self):
        sender, result = self.send("reject", message(
            "x@x", "Chào anh", HAM_WORDS, 3003, extra="SIÊU ƯU ĐÃI ĐỘC QUYỀN"))
        self.assertFalse(result.accepted, str(result))
        self.assertEqual(result.stage, "dot", str(result))
        self.assertEqual(result.reply.code, 550, str(result))
        self.assertIn("5.7.1", str(result.reply))
        self.assertIn("scored", str(result.reply))
        _, f = self.finding(sender)
        self.assertEqual(f.get("action"), "reject")
        self.assertIn("TEST_HUGE_OFFER", self.signals(f))
        self.assertEqual(self.signals(f)["TEST_HUGE_OFFER"], 20)

    def test_diacritics_insensitive_rule_matches_plain_ascii(self):
        sender, result = self.send("ascii", message(
            "x@x", "Chao anh", HAM_WORDS, 3004, extra="sieu uu dai doc quyen"))
        self.assertFalse(result.accepted, str(result))
        _, f = self.finding(sender)
        self.assertIn("TEST_HUGE_OFFER", self.signals(f))

    def test_client_blocklist_answer_codes(self):
        sender, result = self.send("bl", message("x@x", "Báo cáo", HAM_WORDS, 4004),
                                   client=LISTED_CLIENT)
        self.delivered(result)
        _, f = self.finding(sender)
        self.assertEqual(self.signals(f).get("TEST_CLIENT_BL"), 3.5, f)
        sender, result = self.send("odd", message("x@x", "Báo cáo", HAM_WORDS, 4005),
                                   client=ODD_CODE_CLIENT)
        self.delivered(result)
        _, f = self.finding(sender)
        self.assertNotIn("TEST_CLIENT_BL", self.signals(f))

    def test_uri_blocklist(self):
        sender, result = self.send("uri", message(
            "x@x", "Báo cáo", HAM_WORDS, 5005,
            extra=f"Xem http://www.{LISTED_DOMAIN}/offer va https://docs.mwlab.example/a"))
        self.delivered(result)
        _, f = self.finding(sender)
        self.assertEqual(self.signals(f).get("TEST_URI_BL"), 2.5, f)

    def test_unreachable_scorer_is_logged_and_skipped(self):
        sender, result = self.send("scorer", message("x@x", "Báo cáo", HAM_WORDS, 6006))
        self.delivered(result)
        _, f = self.finding(sender)
        skipped = mwlab.field_of(f, "evidence.skipped", [])
        self.assertTrue([s for s in skipped if s.get("signal") == "RSPAMD"], f)
        self.assertNotIn("RSPAMD", self.signals(f))

    def test_bad_rule_file_is_refused_and_old_rules_stay(self):
        bad = _WORK / "spam-rules-bad.yaml"
        bad.write_text("rules:\n  - name: BROKEN\n    body: 'unclosed (group'\n    score: 1\n",
                       encoding="utf-8")
        rules = mwlab.rules_yaml([spam_rule(rules_file=str(bad))])
        checked = mwlab.run_tool(mwlab.milter_bin(), [
            "--config", self._config_with_rules(rules, "bad"), "--check-config"])
        self.assertEqual(checked.returncode, 1, checked.stdout + checked.stderr)
        self.assertIn(f"{bad}:3:11", checked.stderr)
        # The running milter is reloaded with the broken file: it keeps its rules.
        since = self.lab.milter.stderr_offset()
        self.lab.write_rules([spam_rule(rules_file=str(bad))])
        self.lab.milter.reload()
        self.lab.milter.wait_for_stderr(f"{bad}:3:11", since=since)
        self.assertTrue(self.lab.milter.running)
        self.lab.write_rules([spam_rule()])
        sender, result = self.send("after", message(
            "x@x", "Chao", HAM_WORDS, 7007, extra="siêu ưu đãi độc quyền"))
        self.assertFalse(result.accepted, str(result))

    def test_reported_spam_is_learned_without_a_reload(self):
        """A user's report (train --spam on one message) reaches the running milter: it
        looks at the store's generation every 30 s and reads a changed store again."""
        report = _WORK / "report"
        report.mkdir(exist_ok=True)
        (report / "reported.eml").write_bytes(
            message("reporter@sender.example", "reported", SPAM_WORDS, 9009))
        since = self.lab.milter.stderr_offset()
        trained = mwlab.run_tool(mwlab.milter_bin(), [
            "train", "--db", _WORK / "bayes.sqlite", "--spam", report])
        self.assertEqual(trained.returncode, 0, trained.stdout + trained.stderr)
        self.assertIn("1 learned", trained.stdout)
        # A message after the look is due starts it; the store is read in the background.
        wanted = "the classifier store changed; now 61 spam"
        end = time.monotonic() + 45
        while time.monotonic() < end and wanted not in self.lab.milter.stderr_text(since):
            self.send("poke", message("x@x", "Báo cáo", HAM_WORDS, 9100))
            time.sleep(2)
        self.assertIn(wanted, self.lab.milter.stderr_text(since))

    def _config_with_rules(self, rules_text: str, tag: str) -> Path:
        rules_path = self.lab.dir / f"rules-{tag}.yaml"
        rules_path.write_text(rules_text, encoding="utf-8")
        cfg = mwlab.deep_merge(self.lab.config_dict("milter"), {"rule_files": [str(rules_path)]})
        path = self.lab.dir / f"milter-{tag}.yaml"
        path.write_text(mwlab.to_yaml(cfg), encoding="utf-8")
        return path


if __name__ == "__main__":
    mwlab.install_signal_handlers()
    unittest.main()

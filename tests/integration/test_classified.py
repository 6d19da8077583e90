#!/usr/bin/env python3
"""Classified documents (REGULATIONS.md M7) and legacy Vietnamese encodings (M8) through a
real Postfix, with the shipped rule pack (rules/default.yaml: classified-document, action
quarantine) and, in a second lab, the same check with action reject.

The documented contract (rules/default.yaml, docs/decision-log.md,
milter/checks/classified_document.h):
* a message with a classification marking in its subject, bodies or attached documents is
  accepted (250) and held: Postfix's hold queue (postqueue -j queue_name "hold"), not
  delivered; the decision log line has event.action quarantine, rule.id
  classified-document, event.kind alert, event.severity 73, and the finding's evidence
  names the marking (degree, kind, where, part path, file name, legacy encoding) and never
  a word of the document;
* with action reject: 550 5.7.1 at end of data, nothing queued or delivered;
* prose ("mật khẩu", "bí mật", "mật ong", the law's title) is delivered;
* Vietnamese text in windows-1258 is delivered, logged with a legacy_encoding finding.

Messages and documents come from tests/data/classified/make_fixtures.py (the golden
matrix), so the two tests share their fixtures.
"""

import sys
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mwlab  # noqa: E402

sys.path.insert(0, str(mwlab.REPO_ROOT / "tests" / "data" / "classified"))
import make_fixtures as fx  # noqa: E402

DEFAULT_RULES = mwlab.REPO_ROOT / "rules" / "default.yaml"
RCPT = "rcpt@example.com"
RULE_ID = "classified-document"

_LAB: mwlab.Lab | None = None


def setUpModule():
    global _LAB
    _LAB = mwlab.Lab(milter=True, policyd=False, rule_files=[str(DEFAULT_RULES)],
                     name="classified")
    _LAB.__enter__()


def tearDownModule():
    if _LAB is not None:
        _LAB.close()


class ClassifiedCase(unittest.TestCase):
    """Sending a fixture and judging the outcome; self.lab is set by the subclasses."""

    lab: mwlab.Lab

    def send_fixture(self, tag: str, data: bytes) -> tuple[str, mwlab.SendResult]:
        sender = self.lab.address(tag)
        path = self.lab.dir / f"{tag}.eml"
        path.write_bytes(fx.crlf(data))
        return sender, self.lab.send(sender, RCPT, data_file=path)

    def decision(self, sender: str) -> dict:
        return self.lab.wait_for_decision({"email.from.address": sender}, daemon="milter")

    def findings(self, entry: dict, check: str) -> list[dict]:
        return [f for f in mwlab.field_of(entry, "mailwarden.findings", [])
                if f.get("check") == check]

    def marking(self, entry: dict, **want) -> dict:
        """The one classified_document finding's marking with the wanted evidence keys."""
        found = self.findings(entry, "classified_document")
        self.assertEqual(len(found), 1, entry)
        self.assertEqual(found[0].get("rule_id"), RULE_ID, entry)
        markings = mwlab.field_of(found[0], "evidence.markings", [])
        hits = [m for m in markings if all(m.get(k) == v for k, v in want.items())]
        self.assertTrue(hits, f"no marking with {want} in {markings}")
        return hits[0]

    def assertAlert(self, entry: dict, action: str) -> None:
        self.assertEqual(mwlab.field_of(entry, "event.action"), action, entry)
        self.assertEqual(mwlab.field_of(entry, "rule.id"), RULE_ID, entry)
        self.assertEqual(mwlab.field_of(entry, "rule.name"), "classified_document", entry)
        self.assertEqual(mwlab.field_of(entry, "event.kind"), "alert", entry)
        self.assertEqual(mwlab.field_of(entry, "event.severity"), 73, entry)

    def assertHeld(self, result: mwlab.SendResult, sender: str) -> dict:
        """250 at end of data, in the hold queue and not delivered; returns the decision."""
        self.assertEqual((result.reply.code, result.stage), (250, "dot"),
                         f"{result}\n{self.lab.diagnostics()}")
        entry = self.decision(sender)
        self.assertAlert(entry, "quarantine")
        qid = result.queue_id
        self.assertEqual(mwlab.field_of(entry, "email.local_id"), qid, entry)
        held = mwlab.wait_until(
            lambda: [q for q in self.lab.queue_json()
                     if q.get("queue_id") == qid and q.get("queue_name") == "hold"], 15,
            what=f"{qid} in the hold queue")
        self.assertEqual(held[0]["sender"], sender, held)
        self.lab.postfix.wait_for_maillog(rf"{qid}: milter-hold: END-OF-MESSAGE")
        self.assertEqual(self.lab.sink.find_token(result.token), [], "a held message was delivered")
        self.addCleanup(self.lab.postfix.postsuper, "-d", qid)
        return entry

    def assertDelivered(self, result: mwlab.SendResult, sender: str) -> dict:
        self.assertEqual((result.reply.code, result.stage), (250, "dot"),
                         f"{result}\n{self.lab.diagnostics()}")
        entry = self.decision(sender)
        self.assertEqual(mwlab.field_of(entry, "event.action"), "accept", entry)
        self.assertEqual(self.findings(entry, "classified_document"), [], entry)
        try:
            self.lab.sink.wait_for(lambda m: m.token == result.token)
        except TimeoutError:
            self.fail(f"not delivered; queue: {self.lab.queue_json()}\n{self.lab.diagnostics()}")
        return entry

    def assertNoDocumentText(self, *texts: str) -> None:
        """Neither the decision log nor the milter's stderr holds any of texts."""
        logs = (mwlab.read_text(self.lab.milter_log_path), self.lab.milter.stderr_text())
        for text in texts:
            for log in logs:
                self.assertNotIn(text, log, "document text in the milter's logs")


class ClassifiedQuarantineTest(ClassifiedCase):
    """The shipped rule: quarantine."""

    @classmethod
    def setUpClass(cls):
        cls.lab = _LAB

    def test_docx_stamp_in_table_cell_is_held(self):
        msg = fx.with_attachment("it-docx", "Gửi báo cáo", "bao_cao.docx",
                                 fx.docx_table_cell(), fx.CT_DOCX)
        sender, result = self.send_fixture("docx", msg)
        entry = self.assertHeld(result, sender)
        self.marking(entry, degree="TỐI MẬT", kind="standalone_line", where="attachment",
                     part="1/2", name="bao_cao.docx")
        self.assertNoDocumentText(fx.SECRET, "Nguyễn Văn Mật", "giữ bí mật trong nội bộ")

    def test_tcvn3_docx_is_held(self):
        msg = fx.with_attachment("it-tcvn3", "Gửi công văn", "cong_van_vntime.docx",
                                 fx.docx_tcvn3(), fx.CT_DOCX)
        sender, result = self.send_fixture("tcvn3", msg)
        entry = self.assertHeld(result, sender)
        self.marking(entry, degree="TỐI MẬT", where="attachment", part="1/2",
                     encoding="tcvn3")
        legacy = self.findings(entry, "legacy_encoding")
        self.assertEqual(len(legacy), 1, entry)
        self.assertEqual(mwlab.field_of(legacy[0], "evidence.encodings"), ["tcvn3"], entry)
        self.assertNoDocumentText(fx.SECRET, fx.tcvn3_text(fx.SECRET))

    def test_prose_is_delivered(self):
        body = fx.letter("Đề nghị không chia sẻ mật khẩu hộp thư công vụ.") + (
            "Thông tin này cần được giữ bí mật trong nội bộ.\n"
            "Hội chợ giới thiệu sản phẩm mật ong của huyện.\n"
            "LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC\n")
        msg = fx.message("it-prose", fx.subject_header("Hướng dẫn bảo mật hộp thư"),
                         fx.text_leaf(body.encode(), "utf-8"))
        sender, result = self.send_fixture("prose", msg)
        entry = self.assertDelivered(result, sender)
        self.assertEqual(self.findings(entry, "legacy_encoding"), [], entry)

    def test_windows1258_body_is_delivered_with_a_legacy_finding(self):
        data, charset, cte, _ = fx.encode_body(
            fx.letter("Thông tin này cần được giữ bí mật trong nội bộ."), "cp1258")
        msg = fx.message("it-cp1258", fx.subject_header("Báo cáo tháng 11"),
                         fx.text_leaf(data, charset, cte))
        sender, result = self.send_fixture("cp1258", msg)
        entry = self.assertDelivered(result, sender)
        legacy = self.findings(entry, "legacy_encoding")
        self.assertEqual(len(legacy), 1, entry)
        self.assertEqual(legacy[0].get("action"), "accept", entry)
        self.assertEqual(mwlab.field_of(legacy[0], "evidence.encodings"), ["windows-1258"],
                         entry)
        self.assertIn(("1", "windows-1258"),
                      [(p.get("part"), p.get("encoding"))
                       for p in mwlab.field_of(legacy[0], "evidence.parts", [])], entry)
        self.assertNoDocumentText(fx.SECRET)

    def test_rfc2047_subject_tag_is_held(self):
        subject = "[MẬT] Báo cáo"
        msg = fx.message("it-subject", fx.b_word(subject),
                         fx.text_leaf(fx.letter("Gửi anh chị báo cáo.").encode(), "utf-8"))
        self.assertIn(b"Subject: =?UTF-8?B?", msg)
        sender, result = self.send_fixture("subject", msg)
        entry = self.assertHeld(result, sender)
        self.marking(entry, degree="MẬT", kind="subject_tag", where="subject")
        self.assertNoDocumentText(fx.SECRET)


class ClassifiedRejectTest(ClassifiedCase):
    """The same check with action reject (its own lab: the rule alone)."""

    @classmethod
    def setUpClass(cls):
        cls.lab = mwlab.Lab(milter=True, policyd=False, name="classified-reject", rules=[
            {"id": RULE_ID, "check": "classified_document", "action": "reject"}])
        cls.lab.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.lab.close()

    def test_docx_stamp_is_refused(self):
        msg = fx.with_attachment("it-reject", "Gửi báo cáo", "bao_cao.docx",
                                 fx.docx_table_cell(), fx.CT_DOCX)
        sender, result = self.send_fixture("reject", msg)
        self.assertEqual((result.reply.code, result.reply.enhanced, result.stage),
                         (550, "5.7.1", "dot"), f"{result}\n{self.lab.diagnostics()}")
        self.assertIn(f"mailwarden rule {RULE_ID}", result.reply.text, result)
        entry = self.decision(sender)
        self.assertAlert(entry, "reject")
        self.assertTrue(mwlab.field_of(entry, "mailwarden.reply", "").startswith("550 5.7.1 "),
                        entry)
        self.marking(entry, degree="TỐI MẬT", where="attachment", part="1/2")
        self.assertEqual(self.lab.sink.find_token(result.token), [], "refused but delivered")
        self.assertEqual([q for q in self.lab.queue_json() if q.get("sender") == sender], [],
                         "a refused message is in the queue")
        self.assertNoDocumentText(fx.SECRET)


if __name__ == "__main__":
    unittest.main(verbosity=2)

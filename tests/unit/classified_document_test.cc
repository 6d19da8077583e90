// ClassifiedDocumentCheck through the Engine: where markings are looked for (subject,
// bodies in every charset, attachments), the verdict and the decision record, legacy
// encodings (M8), and what happens when the text cannot be fully read.
#include "milter/checks/classified_document.h"

#include <gtest/gtest.h>

#include <string>

#include "milter/eml_reader.h"
#include "milter/engine.h"
#include "milter/mime/vietnamese_text.h"
#include "tests/unit/mail_builder.h"
#include "tests/unit/test_files.h"
#include "tests/unit/zip_builder.h"

namespace mailwarden {
namespace {

using namespace testing::mail;  // NOLINT: the message builders

std::shared_ptr<const Engine> EngineWith(const std::string& extra_keys = "") {
  auto config = testing::ConfigWithRules(
      "  - id: classified-document\n"
      "    check: classified_document\n" +
      extra_keys);
  auto engine = Engine::Build(config);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  return *engine;
}

Envelope Outbound() {
  Envelope env;
  env.client_addr = "10.0.0.5";
  env.mail_from = "vanthu@bacgiang.gov.vn";
  env.recipients = {"someone@example.com"};
  return env;
}

struct Judged {
  std::unique_ptr<Message> message;
  Verdict verdict;
  nlohmann::json record;
};

Judged Judge(const Engine& engine, const std::string& raw) {
  Judged j;
  j.message = engine.NewMessage(Outbound());
  ReadMessageText(raw, j.message.get());
  j.verdict = engine.AtEndOfMessage(*j.message);
  j.record = engine.DecisionRecord(*j.message, j.verdict, Stage::kEndOfMessage);
  return j;
}

const Finding* FindingOf(const Verdict& v, std::string_view check) {
  for (const Finding& f : v.findings) {
    if (f.check == check) return &f;
  }
  return nullptr;
}

std::string Describe(const Verdict& v) {
  std::string s = std::string(ActionName(v.action));
  for (const Finding& f : v.findings) s += " | " + f.check + ": " + f.evidence.dump();
  return s;
}

// A text body in `charset`, 8bit, with `bytes` as they are.
std::string BodyIn(const std::string& charset, const std::string& bytes) {
  return Entity(
      "Content-Type: text/plain; charset=" + charset + "\r\nContent-Transfer-Encoding: 8bit\r\n",
      bytes);
}

TEST(ClassifiedDocument, StampInTheBodyHoldsTheMessageAsAnAlert) {
  auto engine = EngineWith();
  Judged j = Judge(*engine, Mail(Text("Kính gửi,\r\n\r\nTỐI MẬT\r\n\r\nBáo cáo tháng 11.\r\n")));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  const Finding* f = FindingOf(j.verdict, "classified_document");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->alert);
  const auto& m = f->evidence["markings"][0];
  EXPECT_EQ(m["degree"], "TỐI MẬT");
  EXPECT_EQ(m["kind"], "standalone_line");
  EXPECT_EQ(m["where"], "body");
  EXPECT_EQ(m["part"], "1");
  EXPECT_EQ(m["line"], 3);
  EXPECT_EQ(j.record["event"]["kind"], "alert");
  EXPECT_EQ(j.record["event"]["severity"], 73);
  EXPECT_EQ(j.record["event"]["action"], "quarantine");
  // The log says where, never what the text says.
  EXPECT_EQ(j.record.dump().find("Báo cáo tháng"), std::string::npos);
  EXPECT_NE(j.verdict.text.find("TOI MAT"), std::string::npos) << j.verdict.text;
}

TEST(ClassifiedDocument, ProseIsNotAMarking) {
  auto engine = EngineWith();
  Judged j = Judge(*engine, Mail(Text("Vui lòng đổi mật khẩu trước thứ Hai.\r\n"
                                      "Đây là bí mật của cơ quan, mua mật ong cho hội nghị.\r\n"
                                      "LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC\r\n"
                                      "Mật Sơn, ông Nguyễn Văn Mật.\r\n"
                                      "Độ mật: mật khẩu\r\n")));
  EXPECT_EQ(j.verdict.action, Action::kAccept) << Describe(j.verdict);
  EXPECT_TRUE(j.verdict.findings.empty()) << Describe(j.verdict);
  EXPECT_EQ(j.record["event"]["kind"], "event");
}

TEST(ClassifiedDocument, SubjectTagIsFound) {
  auto engine = EngineWith();
  // "[MẬT] Báo cáo" in an RFC 2047 encoded word.
  Judged j = Judge(*engine, Mail(Text("Xin gửi.\r\n"), "=?UTF-8?B?W03huqxUXSBCw6FvIGPDoW8=?="));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  const auto& m = FindingOf(j.verdict, "classified_document")->evidence["markings"][0];
  EXPECT_EQ(m["where"], "subject");
  EXPECT_EQ(m["kind"], "subject_tag");
}

TEST(ClassifiedDocument, DecomposedBodyIsNormalisedFirst) {
  auto engine = EngineWith();
  std::string nfd = "Độ mật: Tuyệt mật\r\n";
  // NFD: "Đ" stays, "ộ" = o + U+0323 + U+0302, "ậ" = a + U+0323 + U+0302, "ệ" = e + U+0323 +
  // U+0302.
  nfd =
      "\xC4\x90o\xCC\xA3\xCC\x82 ma\xCC\xA3\xCC\x82t: Tuye\xCC\xA3\xCC\x82t "
      "ma\xCC\xA3\xCC\x82t\r\n";
  Judged j = Judge(*engine, Mail(Text(nfd)));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  const auto& m = FindingOf(j.verdict, "classified_document")->evidence["markings"][0];
  EXPECT_EQ(m["degree"], "TUYỆT MẬT");
  EXPECT_EQ(m["kind"], "field");
}

TEST(ClassifiedDocument, Windows1258BodyIsReadAndCounted) {
  auto engine = EngineWith();
  // windows-1258: "MẬT" = M, Â (0xC2), combining dot below (0xF2), T.
  Judged j =
      Judge(*engine, Mail(BodyIn("windows-1258", "Ba\xEC\x6F ca\xEC\x6F\r\nM\xC2\xF2T\r\n")));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  const Finding* legacy = FindingOf(j.verdict, "legacy_encoding");
  ASSERT_NE(legacy, nullptr) << Describe(j.verdict);
  EXPECT_EQ(legacy->action, Action::kAccept);
  EXPECT_EQ(legacy->evidence["encodings"], nlohmann::json::array({"windows-1258"}));
  EXPECT_EQ(legacy->evidence["parts"][0]["part"], "1");
}

TEST(ClassifiedDocument, MislabelledTcvn3BodyIsRecognisedByItsContent) {
  auto engine = EngineWith();
  std::string text =
      "Kính gửi các đồng chí lãnh đạo sở,\r\nVăn phòng xin gửi báo cáo tình hình tháng này.\r\n"
      "MẬT\r\nĐề nghị các đơn vị nghiên cứu và thực hiện.\r\n";
  std::string bytes = mime::UnicodeToLegacyBytes(text, mime::LegacyEncoding::kTcvn3);
  Judged j = Judge(*engine, Mail(BodyIn("windows-1252", bytes)));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  EXPECT_EQ(FindingOf(j.verdict, "classified_document")->evidence["markings"][0]["encoding"],
            "tcvn3");
  const Finding* legacy = FindingOf(j.verdict, "legacy_encoding");
  ASSERT_NE(legacy, nullptr);
  EXPECT_EQ(legacy->evidence["encodings"], nlohmann::json::array({"tcvn3"}));
}

TEST(ClassifiedDocument, HtmlTableCellIsALine) {
  auto engine = EngineWith();
  Judged j = Judge(*engine, Mail(Text("<html><body><table><tr><td>MẬT</td><td>Số: 12/BC</td>"
                                      "</tr></table><p>Nội dung</p></body></html>",
                                      "text/html")));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
}

TEST(ClassifiedDocument, DocxAttachmentIsOpened) {
  auto engine = EngineWith();
  std::string docx = testing::Docx(testing::WordParagraph("Báo cáo") + "<w:tbl><w:tr><w:tc>" +
                                   testing::WordParagraph("TUYỆT MẬT") + "</w:tc></w:tr></w:tbl>");
  Judged j = Judge(*engine, MailWith({Attachment("Báo cáo.docx",
                                                 "application/vnd.openxmlformats-officedocument."
                                                 "wordprocessingml.document",
                                                 docx)}));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  const auto& m = FindingOf(j.verdict, "classified_document")->evidence["markings"][0];
  EXPECT_EQ(m["where"], "attachment");
  EXPECT_EQ(m["part"], "1/2");
  EXPECT_EQ(m["name"], "Báo cáo.docx");
  EXPECT_EQ(m["text"], "office");
  EXPECT_NE(j.verdict.text.find("part 1/2"), std::string::npos) << j.verdict.text;
}

TEST(ClassifiedDocument, RejectWhenConfigured) {
  auto engine = EngineWith("    action: reject\n");
  Judged j = Judge(*engine, Mail(Text("M Ậ T\r\n")));
  ASSERT_EQ(j.verdict.action, Action::kReject) << Describe(j.verdict);
  EXPECT_EQ(j.verdict.ReplyLine().substr(0, 9), "550 5.7.1");
  EXPECT_EQ(j.record["event"]["kind"], "alert");
}

TEST(ClassifiedDocument, UnreadableDocumentIsLoggedWithOnIncomplete) {
  // The zip is sound (the archive walk passes it); its XML is not.
  std::string docx = testing::Docx(testing::WordParagraph("Nội dung") + "<w:p><w:r>");
  std::string mail = MailWith({Attachment("hong.docx", "application/octet-stream", docx)});
  Judged accepted = Judge(*EngineWith(), mail);
  EXPECT_EQ(accepted.verdict.action, Action::kAccept) << Describe(accepted.verdict);
  const Finding* f = FindingOf(accepted.verdict, "classified_incomplete");
  ASSERT_NE(f, nullptr) << Describe(accepted.verdict);
  EXPECT_EQ(f->evidence["parts"][0]["part"], "1/2");
  EXPECT_EQ(f->evidence["parts"][0]["problem"], "malformed XML in word/document.xml");

  Judged held = Judge(*EngineWith("    on_incomplete: tempfail\n"), mail);
  EXPECT_EQ(held.verdict.action, Action::kTempfail) << Describe(held.verdict);
}

TEST(ClassifiedDocument, TextLimitIsLogged) {
  auto engine = EngineWith("    max_text: 4KiB\n");
  std::string body;
  while (body.size() < 10000) body += "Nội dung bình thường của văn bản.\r\n";
  Judged j = Judge(*engine, Mail(Text(body + "MẬT\r\n")));
  const Finding* f = FindingOf(j.verdict, "classified_incomplete");
  ASSERT_NE(f, nullptr) << Describe(j.verdict);
  EXPECT_EQ(f->evidence["parts"][0]["limit"], "max_text");
  EXPECT_EQ(j.verdict.action, Action::kAccept);
}

TEST(ClassifiedDocument, LegacyReportCanBeTurnedOff) {
  auto engine = EngineWith("    report_legacy_encoding: false\n");
  Judged j = Judge(*engine, Mail(BodyIn("windows-1258", "Ba\xEC\x6F ca\xEC\x6F\r\n")));
  EXPECT_TRUE(j.verdict.findings.empty()) << Describe(j.verdict);
}

TEST(ClassifiedDocument, DocumentsInsideArchivesAreRead) {
  auto engine = EngineWith();
  std::string docx =
      testing::Docx(testing::WordParagraph("Kính gửi") + testing::WordParagraph("TỐI MẬT"));
  std::string inner = testing::Zip({{"ghi-chu.txt", "Độ mật: Tuyệt mật\n"}});
  std::string zip = testing::Zip({{"ho-so/bao-cao.docx", docx}, {"them.zip", inner}});
  Judged j = Judge(*engine, MailWith({Attachment("ho-so.zip", "application/zip", zip)}));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);
  const auto& markings = FindingOf(j.verdict, "classified_document")->evidence["markings"];
  ASSERT_EQ(markings.size(), 2u) << markings.dump();
  EXPECT_EQ(markings[0]["part"], "1/2:ho-so/bao-cao.docx");
  EXPECT_EQ(markings[0]["where"], "archive");
  EXPECT_EQ(markings[0]["degree"], "TỐI MẬT");
  EXPECT_EQ(markings[1]["part"], "1/2:them.zip/ghi-chu.txt");
  EXPECT_EQ(markings[1]["degree"], "TUYỆT MẬT");
  EXPECT_NE(j.verdict.text.find("in archive \"ho-so.zip\""), std::string::npos) << j.verdict.text;
}

TEST(ClassifiedDocument, ArchivedDocumentsBeyondTheBudgetAreLogged) {
  std::string docx = testing::Docx(testing::WordParagraph("MẬT"));
  std::string zip = testing::Zip({{"a.docx", docx}, {"b.docx", docx}});
  Judged j = Judge(*EngineWith("    max_archived_documents: " + std::to_string(docx.size()) + "\n"),
                   MailWith({Attachment("hai.zip", "application/zip", zip)}));
  EXPECT_EQ(j.verdict.action, Action::kQuarantine) << Describe(j.verdict);  // a.docx was read
  const Finding* f = FindingOf(j.verdict, "classified_incomplete");
  ASSERT_NE(f, nullptr) << Describe(j.verdict);
  EXPECT_EQ(f->evidence["parts"][0]["part"], "1/2:b.docx");
  EXPECT_EQ(f->evidence["parts"][0]["limit"], "max_archived_documents");

  Judged off = Judge(*EngineWith("    max_archived_documents: 0\n"),
                     MailWith({Attachment("hai.zip", "application/zip", zip)}));
  EXPECT_EQ(off.verdict.action, Action::kAccept) << Describe(off.verdict);
}

}  // namespace
}  // namespace mailwarden

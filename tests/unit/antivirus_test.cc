// The antivirus check with the real libclamav and signatures written by the test (ClamAV's
// official database is not available here): EICAR in every place a message can carry it,
// clean mail, scan limits, no signatures, and reloads (a new signature becomes active, a
// corrupt database leaves the old signatures in force, scans go on during a reload).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "milter/eml_reader.h"
#include "milter/engine.h"
#include "milter/scan/virus_scanner.h"
#include "tests/unit/mail_builder.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using namespace testing::mail;  // NOLINT: the message builders

// The EICAR test file, assembled so that this source file is not itself a test virus.
std::string Eicar() {
  return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
}

const char kSignature[] = "Mw-Test-Eicar.UNOFFICIAL";
const char kSecondMarker[] = "MAILWARDEN-SECOND-SIGNATURE-TEST-CONTENT-0123456789";

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// An .ndb line: NAME matches BYTES anywhere in any file type.
std::string NdbLine(const std::string& name, std::string_view bytes) {
  return name + ":0:*:" + Hex(bytes) + "\n";
}

// A signature directory holding eicar.ndb, and the rule set scanning with it.
struct Scanning {
  explicit Scanning(const std::string& extra_antivirus = "", bool with_eicar = true,
                    const std::string& self_check = "0s") {
    if (with_eicar) db.Write("eicar.ndb", NdbLine("Mw-Test-Eicar", Eicar()));
    config = testing::ConfigWithRules(
        "  - id: antivirus\n    check: antivirus\n",
        "antivirus:\n  database: " + db.path() + "\n  self_check: " + self_check + "\n" +
            extra_antivirus);
    auto built = Engine::Build(config);
    EXPECT_TRUE(built.ok()) << built.status().message();
    if (built.ok()) engine = *built;
  }

  Verdict Judge(std::string_view raw) const {
    if (engine == nullptr) {
      ADD_FAILURE() << "no engine";
      return Verdict();
    }
    Envelope env;
    env.client_addr = "203.0.113.25";
    env.mail_from = "sender@example.net";
    env.recipients = {"staff@bacgiang.gov.vn"};
    auto message = engine->NewMessage(std::move(env));
    ReadMessageText(raw, message.get());
    return engine->AtEndOfMessage(*message);
  }

  testing::TempDir db;
  std::shared_ptr<const Config> config;
  std::shared_ptr<const Engine> engine;
};

std::string Reply(const Verdict& v) { return v.ReplyLine(); }

::testing::AssertionResult RefusedAsVirus(const Verdict& v, std::string_view signature,
                                          std::string_view part) {
  if (v.action != Action::kReject || v.deciding == nullptr ||
      v.deciding->rule_id != "antivirus" || v.smtp_code != 550 || v.enhanced_code != "5.7.1" ||
      v.text.find(signature) == std::string::npos || v.text.find(part) == std::string::npos) {
    return ::testing::AssertionFailure() << "verdict: " << ActionName(v.action) << " ["
                                         << Reply(v) << "]";
  }
  const nlohmann::json& e = v.deciding->evidence;
  if (e.value("signature", "") != signature || e.value("part", "") != part ||
      e.value("sha256", "").size() != 64) {
    return ::testing::AssertionFailure() << "evidence: " << e.dump();
  }
  return ::testing::AssertionSuccess();
}

std::string QuotedPrintableAttachment(const std::string& name, std::string_view bytes) {
  std::string qp;
  for (unsigned char c : bytes) {
    if (c == '=' || c < 33 || c > 126) {
      static const char kDigits[] = "0123456789ABCDEF";
      qp += '=';
      qp += kDigits[c >> 4];
      qp += kDigits[c & 15];
    } else {
      qp += static_cast<char>(c);
    }
  }
  return Entity("Content-Type: application/octet-stream; name=\"" + name +
                    "\"\r\nContent-Disposition: attachment; filename=\"" + name +
                    "\"\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                qp + "\r\n");
}

std::string ZipOf(const std::string& name, const std::string& data) {
  testing::TempDir dir;
  dir.Write(name, data);
  std::string cmd = "cd " + dir.path() + " && zip -q out.zip " + name;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return testing::ReadFile(dir.Path("out.zip"));
}

TEST(Antivirus, EicarAttachmentInBase64IsRefusedWithItsSignature) {
  Scanning s;
  Verdict v = s.Judge(MailWith({Attachment("eicar.com.txt", "text/plain", Eicar())}));
  EXPECT_TRUE(RefusedAsVirus(v, kSignature, "1/2"));
  EXPECT_NE(v.text.find("\"eicar.com.txt\""), std::string::npos) << v.text;
}

TEST(Antivirus, ARuleMayHoldInsteadAndWordItsOwnReply) {
  testing::TempDir db;
  db.Write("eicar.ndb", NdbLine("Mw-Test-Eicar", Eicar()));
  auto config = testing::ConfigWithRules(
      "  - id: antivirus-hold\n    check: antivirus\n    action: quarantine\n"
      "    reply: \"held for the security team\"\n",
      "antivirus:\n  database: " + db.path() + "\n  self_check: 0s\n");
  auto engine = Engine::Build(config);
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  Envelope env;
  env.mail_from = "sender@example.net";
  auto message = (*engine)->NewMessage(std::move(env));
  ReadMessageText(MailWith({Attachment("e.txt", "text/plain", Eicar())}), message.get());
  Verdict v = (*engine)->AtEndOfMessage(*message);
  EXPECT_EQ(v.action, Action::kQuarantine) << v.ReplyLine();
  ASSERT_NE(v.deciding, nullptr);
  EXPECT_EQ(v.deciding->reason, "held for the security team");
  EXPECT_EQ(v.deciding->evidence.value("signature", ""), kSignature);
}

TEST(Antivirus, EicarAttachmentInQuotedPrintable) {
  Scanning s;
  EXPECT_TRUE(RefusedAsVirus(s.Judge(MailWith({QuotedPrintableAttachment("e.txt", Eicar())})),
                             kSignature, "1/2"));
}

TEST(Antivirus, EicarInThePlainTextBody) {
  Scanning s;
  EXPECT_TRUE(RefusedAsVirus(s.Judge(Mail(Text(Eicar() + "\r\n"))), kSignature, "1"));
}

TEST(Antivirus, EicarInsideAZip) {
  Scanning s;
  Verdict v = s.Judge(MailWith({Attachment("docs.zip", "application/zip", ZipOf("e.com", Eicar()))}));
  EXPECT_TRUE(RefusedAsVirus(v, kSignature, "1/2"));
}

TEST(Antivirus, EicarInsideAnAttachedMessage) {
  Scanning s;
  std::string inner = Mail(Multipart("mixed", {Text("see attached\r\n"),
                                                Attachment("e.bin", "application/octet-stream",
                                                           Eicar())}));
  Verdict v = s.Judge(Mail(Multipart("mixed", {Text("fwd\r\n"), Forwarded(inner)})));
  EXPECT_TRUE(RefusedAsVirus(v, kSignature, "1/2/1/2"));
}

TEST(Antivirus, CleanMailIsAccepted) {
  Scanning s;
  Verdict v = s.Judge(MailWith({Attachment("report.txt", "text/plain", TextOfSize(20000)),
                                Attachment("docs.zip", "application/zip",
                                           ZipOf("a.txt", TextOfSize(5000)))}));
  EXPECT_EQ(v.action, Action::kAccept) << Reply(v);
  EXPECT_TRUE(v.findings.empty());
}

TEST(Antivirus, EveryInfectedPartIsLogged) {
  Scanning s;
  Verdict v = s.Judge(MailWith({Attachment("a.txt", "text/plain", Eicar()),
                                Attachment("b.txt", "text/plain", Eicar())}));
  EXPECT_TRUE(RefusedAsVirus(v, kSignature, "1/2"));
  ASSERT_EQ(v.findings.size(), 2u);
  EXPECT_EQ(v.findings[1].evidence.value("part", ""), "1/3");
}

TEST(Antivirus, PartBeyondMaxFileSizeIsAScanLimitNotAPass) {
  Scanning s("  max_file_size: 4KiB\n");
  Verdict v = s.Judge(MailWith({Attachment("big.txt", "text/plain", TextOfSize(10000))}));
  EXPECT_EQ(v.action, Action::kReject) << Reply(v);
  EXPECT_EQ(v.smtp_code, 550);
  EXPECT_EQ(v.enhanced_code, "5.7.1");
  EXPECT_NE(v.text.find("could not be fully scanned"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("antivirus.max_file_size"), std::string::npos) << v.text;
}

TEST(Antivirus, ScanLimitVerdictIsConfigurable) {
  Scanning s("  max_file_size: 4KiB\n  on_scan_limit: tempfail\n");
  Verdict v = s.Judge(MailWith({Attachment("big.txt", "text/plain", TextOfSize(10000))}));
  EXPECT_EQ(v.action, Action::kTempfail) << Reply(v);
  EXPECT_EQ(v.smtp_code, 451);
}

TEST(Antivirus, NoSignaturesMeansTempfailNeverAPass) {
  Scanning s("", /*with_eicar=*/false);
  Verdict v = s.Judge(MailWith({Attachment("a.txt", "text/plain", "hello\r\n")}));
  EXPECT_EQ(v.action, Action::kTempfail) << Reply(v);
  EXPECT_EQ(v.smtp_code, 451);
  EXPECT_EQ(v.enhanced_code, "4.3.0");
  ASSERT_NE(v.deciding, nullptr);
  EXPECT_NE(v.deciding->evidence.value("error", "").find("no virus signatures"),
            std::string::npos);
}

TEST(Antivirus, ReloadActivatesANewSignatureAndACorruptDatabaseKeepsTheOld) {
  Scanning s;
  std::string second = MailWith({Attachment("x.txt", "text/plain", kSecondMarker)});
  EXPECT_EQ(s.Judge(second).action, Action::kAccept);

  s.db.Write("second.ndb", NdbLine("Mw-Test-Second", kSecondMarker));
  ReloadVirusScanners();
  EXPECT_TRUE(RefusedAsVirus(s.Judge(second), "Mw-Test-Second.UNOFFICIAL", "1/2"));

  s.db.Write("broken.ndb", "this is not a signature line\n");
  ReloadVirusScanners();
  // The failed load changed nothing: both signatures still work.
  EXPECT_TRUE(RefusedAsVirus(s.Judge(second), "Mw-Test-Second.UNOFFICIAL", "1/2"));
  EXPECT_TRUE(RefusedAsVirus(s.Judge(MailWith({Attachment("e.txt", "text/plain", Eicar())})),
                             kSignature, "1/2"));
}

TEST(Antivirus, ScansGoOnWhileTheSignaturesAreReloaded) {
  Scanning s;
  std::string infected = MailWith({Attachment("e.txt", "text/plain", Eicar())});
  std::atomic<bool> done{false};
  std::atomic<int> scanned{0}, wrong{0};
  std::vector<std::thread> scanners;
  for (int t = 0; t < 3; ++t) {
    scanners.emplace_back([&] {
      while (!done.load()) {
        Verdict v = s.Judge(infected);
        if (v.action != Action::kReject || v.text.find(kSignature) == std::string::npos) ++wrong;
        ++scanned;
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    s.db.Write("more" + std::to_string(i) + ".ndb",
               NdbLine("Mw-Test-More" + std::to_string(i), "more-" + std::to_string(i) + "-x"));
    ReloadVirusScanners();
  }
  done = true;
  for (auto& t : scanners) t.join();
  EXPECT_GT(scanned.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Antivirus, SelfCheckNoticesAChangedDatabase) {
  Scanning s("", /*with_eicar=*/true, "1s");
  // A different option set from the other tests: this engine has its own scanner.
  std::string second = MailWith({Attachment("x.txt", "text/plain", kSecondMarker)});
  EXPECT_EQ(s.Judge(second).action, Action::kAccept);
  // cl_statchkdir compares modification times in seconds.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  s.db.Write("second.ndb", NdbLine("Mw-Test-Second", kSecondMarker));
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    seen = s.Judge(second).action == Action::kReject;
  }
  EXPECT_TRUE(seen) << "the new signature was not picked up within 10 s";
}

}  // namespace
}  // namespace mailwarden

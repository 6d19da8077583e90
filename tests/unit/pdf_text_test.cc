// PDF text extraction (milter/text/pdf_text.h). The PDFs are made at test time by
// tests/data/make_pdf.py (reportlab with DejaVu Sans, so Vietnamese text has a ToUnicode
// map, as word processors write it); a missing script or reportlab fails the tests.
#include "milter/text/pdf_text.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "milter/mime/signature_scan.h"
#include "milter/mime/vietnamese_text.h"
#include "tests/unit/test_files.h"

namespace mailwarden::text {
namespace {

using testing::ReadFile;
using testing::TempDir;

// '...' for a POSIX shell.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// The lines of `text` (each ended by '\n').
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  EXPECT_EQ(start, text.size()) << "the last line has no line break";
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

// Bytes as latin-1 characters, in UTF-8 (how make_pdf.py --latin1-bytes takes them).
std::string LatinReading(const std::string& bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    if (b < 0x80) {
      out += static_cast<char>(b);
    } else {
      out += static_cast<char>(0xC0 | (b >> 6));
      out += static_cast<char>(0x80 | (b & 0x3F));
    }
  }
  return out;
}

// The fixtures: name -> make_pdf.py arguments.
std::map<std::string, std::string> FixtureArgs() {
  std::map<std::string, std::string> args;
  const std::string vietnamese =
      "--line 'CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM' --line 'TỐI MẬT' "
      "--line 'Độ mật: Mật' --line 'Vui lòng không chia sẻ mật khẩu'";
  args["vietnamese"] = vietnamese;
  // A letterhead: the stamp sits beside the right column, on the same baseline.
  args["letterhead"] =
      "--at '60,60,BỘ QUỐC PHÒNG' --at '300,60,CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM' "
      "--at '70,80,TỐI MẬT' --at '320,80,Độc lập - Tự do - Hạnh phúc' "
      "--at '60,110,Số: 123/QĐ-BQP' --at '330,110,Hà Nội, ngày 15 tháng 1 năm 2024' "
      "--at '60,140,Độ mật: Mật' --at '60,200,Kính gửi: Các đơn vị trực thuộc'";
  args["pages"] = "--pages 5 --line 'Trang số {page} của công văn' --line 'MẬT'";
  args["prose"] = "--pages 2 --prose-lines 40";
  args["user_password"] = vietnamese + " --user-password secret --owner-password owner";
  args["owner_password"] = vietnamese + " --owner-password owner";
  args["signed"] = vietnamese + " --signed";
  args["unicode_signs"] = "--line 'Nhiệt độ 25°C, phòng 3×4 m², © 2024 «Báo cáo» ½ ngày'";
  args["legacy_tcvn3"] =
      "--font-legacy-bytes --line 'TỐI MẬT' --line 'Độ mật: Tuyệt mật' --line 'Công văn số 12'";
  const std::string vni = "--font-legacy-bytes --latin1-bytes --legacy-font VNI-Times --line ";
  auto vni_bytes = [](const char* text) {
    return ShellQuote(LatinReading(mime::UnicodeToLegacyBytes(text, mime::LegacyEncoding::kVni)));
  };
  args["legacy_vni"] = vni + vni_bytes("Độ mật: Mật") + " --line 'Cong van'";
  args["gate_tcvn3_upper"] = "--font-legacy-bytes --line 'MẬT'";
  args["gate_tcvn3_title"] = "--font-legacy-bytes --legacy-font .VnTime --line 'Mật'";
  args["gate_vni_upper"] = vni + vni_bytes("MẬT");
  args["gate_vni_lower"] = vni + vni_bytes("mật");
  return args;
}

// Each PDF is made when a test first asks for it (ctest runs every test in a process of
// its own, so making them all up front would cost every test all of them).
class PdfTextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pdfs_ = new std::map<std::string, std::string>();
  }
  static void TearDownTestSuite() {
    delete pdfs_;
    delete dir_;
  }

  // The bytes of fixture `name`; fails the test when make_pdf.py cannot make it.
  static const std::string& Pdf(const std::string& name) {
    if (auto it = pdfs_->find(name); it != pdfs_->end()) return it->second;
    std::string& bytes = (*pdfs_)[name];
    static const std::map<std::string, std::string> args = FixtureArgs();
    auto arg = args.find(name);
    if (arg == args.end()) {
      ADD_FAILURE() << "no fixture " << name;
      return bytes;
    }
    // Debian's reportlab is for Debian's Python; make_pdf.py re-runs itself there when
    // started by another one, but starting there saves a second start-up.
    std::string python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    std::string out = dir_->Path(name + ".pdf");
    std::string cmd =
        python + " " MW_SOURCE_DIR "/tests/data/make_pdf.py " + ShellQuote(out) + " " + arg->second;
    int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << "make_pdf.py failed (python3-reportlab and fonts-dejavu-core needed): "
                     << cmd;
    bytes = ReadFile(out);
    EXPECT_FALSE(bytes.empty()) << name;
    return bytes;
  }

  static TempDir* dir_;
  static std::map<std::string, std::string>* pdfs_;
};

TempDir* PdfTextTest::dir_ = nullptr;
std::map<std::string, std::string>* PdfTextTest::pdfs_ = nullptr;

TEST_F(PdfTextTest, VietnameseStampsAndFieldAreLinesOfTheirOwn) {
  ExtractedText t = ExtractPdfText(Pdf("vietnamese"), TextLimits());
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_FALSE(t.truncated);
  EXPECT_EQ(t.legacy, 0u);
  EXPECT_EQ(Lines(t.text),
            (std::vector<std::string>{"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "TỐI MẬT",
                                      "Độ mật: Mật", "Vui lòng không chia sẻ mật khẩu"}));
  EXPECT_EQ(t.text, mime::NfcNormalize(t.text));
}

// Reading order puts a stamp set beside the letterhead's right column on a line of its own
// (physical layout would write "TỐI MẬT      Độc lập - Tự do - Hạnh phúc").
TEST_F(PdfTextTest, StampBesideLetterheadColumnStaysAlone) {
  ExtractedText t = ExtractPdfText(Pdf("letterhead"), TextLimits());
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_TRUE(HasLine(t.text, "TỐI MẬT")) << t.text;
  EXPECT_TRUE(HasLine(t.text, "Độ mật: Mật")) << t.text;
  EXPECT_TRUE(HasLine(t.text, "Độc lập - Tự do - Hạnh phúc")) << t.text;
  EXPECT_TRUE(HasLine(t.text, "Kính gửi: Các đơn vị trực thuộc")) << t.text;
}

TEST_F(PdfTextTest, PagesAreSeparatedByLineBreaksWithoutFormFeeds) {
  ExtractedText t = ExtractPdfText(Pdf("pages"), TextLimits());
  EXPECT_FALSE(t.truncated);
  EXPECT_EQ(t.text.find('\f'), std::string::npos);
  std::vector<std::string> expected;
  for (int page = 1; page <= 5; ++page) {
    expected.push_back("Trang số " + std::to_string(page) + " của công văn");
    expected.push_back("MẬT");
  }
  EXPECT_EQ(Lines(t.text), expected);
}

TEST_F(PdfTextTest, PageLimitKeepsTheFirstPages) {
  TextLimits limits;
  limits.pdf_max_pages = 3;
  ExtractedText t = ExtractPdfText(Pdf("pages"), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "pdf_max_pages");
  EXPECT_FALSE(t.damaged);
  EXPECT_TRUE(HasLine(t.text, "Trang số 1 của công văn"));
  EXPECT_TRUE(HasLine(t.text, "Trang số 3 của công văn"));
  EXPECT_EQ(t.text.find("Trang số 4"), std::string::npos);
  EXPECT_EQ(t.text.find("Trang số 5"), std::string::npos);
}

TEST_F(PdfTextTest, PageLimitEqualToThePageCountIsNotTruncation) {
  TextLimits limits;
  limits.pdf_max_pages = 5;
  ExtractedText t = ExtractPdfText(Pdf("pages"), limits);
  EXPECT_FALSE(t.truncated);
  EXPECT_TRUE(HasLine(t.text, "Trang số 5 của công văn"));
}

TEST_F(PdfTextTest, ZeroTimeReadsExactlyTheFirstPage) {
  TextLimits limits;
  limits.pdf_max_time_ms = 0;
  ExtractedText t = ExtractPdfText(Pdf("pages"), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "pdf_max_time");
  EXPECT_EQ(Lines(t.text), (std::vector<std::string>{"Trang số 1 của công văn", "MẬT"}));

  // A one-page document is read whole: nothing was left out.
  ExtractedText one = ExtractPdfText(Pdf("vietnamese"), limits);
  EXPECT_FALSE(one.truncated);
  EXPECT_TRUE(HasLine(one.text, "TỐI MẬT"));
}

TEST_F(PdfTextTest, TextLimitCutsAtACharacterBoundary) {
  TextLimits limits;
  limits.max_text_bytes = 14;  // the first line starts "Căn cứ Luật": byte 14 is inside "ậ"
  ExtractedText t = ExtractPdfText(Pdf("prose"), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "max_text");
  EXPECT_EQ(t.text, "Căn cứ Lu");  // 12 bytes: the cut backs off to a character boundary

  limits.max_text_bytes = 8ull << 20;
  ExtractedText whole = ExtractPdfText(Pdf("prose"), limits);
  EXPECT_FALSE(whole.truncated);
  EXPECT_EQ(whole.text.substr(0, t.text.size()), t.text);
}

TEST_F(PdfTextTest, UnreadableInputIsDamagedNotACrash) {
  const std::string garbage = "%PDF-1.7\n\x01\x02 this is not a PDF at all \xff\xfe trailer <<>>";
  for (const std::string& bytes :
       {garbage, std::string(), std::string("hello world"), std::string(4096, '\0')}) {
    ExtractedText t = ExtractPdfText(bytes, TextLimits());
    EXPECT_TRUE(t.damaged);
    EXPECT_EQ(t.problem, "not a readable PDF");
    EXPECT_TRUE(t.text.empty());
  }
}

TEST_F(PdfTextTest, TruncatedPdfIsDamaged) {
  const std::string& whole = Pdf("pages");
  for (size_t keep : {whole.size() / 2, whole.size() - 10, size_t{100}}) {
    ExtractedText t = ExtractPdfText(std::string_view(whole).substr(0, keep), TextLimits());
    EXPECT_TRUE(t.damaged) << keep;
    EXPECT_TRUE(t.problem == "truncated" || t.problem == "not a readable PDF") << t.problem;
  }
}

TEST_F(PdfTextTest, UserPasswordMakesItDamaged) {
  ExtractedText t = ExtractPdfText(Pdf("user_password"), TextLimits());
  EXPECT_TRUE(t.damaged);
  EXPECT_EQ(t.problem, "encrypted: a password is needed");
  EXPECT_TRUE(t.text.empty());
}

TEST_F(PdfTextTest, OwnerPasswordOnlyIsRead) {
  ExtractedText t = ExtractPdfText(Pdf("owner_password"), TextLimits());
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_TRUE(HasLine(t.text, "TỐI MẬT")) << t.text;
  EXPECT_TRUE(HasLine(t.text, "Độ mật: Mật"));
}

// A signed PDF (an incremental update holding the signature) reads like any other.
TEST_F(PdfTextTest, SignedPdfIsRead) {
  ExtractedText t = ExtractPdfText(Pdf("signed"), TextLimits());
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_TRUE(HasLine(t.text, "TỐI MẬT"));
}

TEST_F(PdfTextTest, LegacyTcvn3FontIsConverted) {
  ExtractedText t = ExtractPdfText(Pdf("legacy_tcvn3"), TextLimits());
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(t.legacy, static_cast<uint32_t>(kLegacyTcvn3));
  // .VnTimeH draws every letter as a capital.
  EXPECT_EQ(Lines(t.text),
            (std::vector<std::string>{"TỐI MẬT", "ĐỘ MẬT: TUYỆT MẬT", "CÔNG VĂN SỐ 12"}));
}

TEST_F(PdfTextTest, LegacyVniFontIsConverted) {
  ExtractedText t = ExtractPdfText(Pdf("legacy_vni"), TextLimits());
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(t.legacy, static_cast<uint32_t>(kLegacyVni));
  EXPECT_EQ(Lines(t.text), (std::vector<std::string>{"Độ mật: Mật", "Cong van"}));
}

// Latin-1 signs in a Unicode document are not taken for a legacy encoding.
TEST_F(PdfTextTest, UnicodeSignsAreKeptAsTheyAre) {
  ExtractedText t = ExtractPdfText(Pdf("unicode_signs"), TextLimits());
  EXPECT_EQ(t.text, "Nhiệt độ 25°C, phòng 3×4 m², © 2024 «Báo cáo» ½ ngày\n");
  EXPECT_EQ(t.legacy, 0u);
}

TEST_F(PdfTextTest, ConcurrentCallsGiveTheSameText) {
  const std::string& pdf = Pdf("prose");  // made before the threads start
  const std::string expected = ExtractPdfText(pdf, TextLimits()).text;
  ASSERT_FALSE(expected.empty());
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 3; ++round) got[i] = ExtractPdfText(pdf, TextLimits()).text;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& text : got) EXPECT_EQ(text, expected);
}

TEST(LooksLikePdfTest, HeaderWithinTheFirstKilobyte) {
  EXPECT_TRUE(LooksLikePdf("%PDF-1.7\n"));
  EXPECT_TRUE(LooksLikePdf(std::string(1000, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(LooksLikePdf(std::string(1020, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(LooksLikePdf("PK\x03\x04"));
  EXPECT_FALSE(LooksLikePdf(""));
  EXPECT_FALSE(LooksLikePdf("%PDF"));
}

// Legacy conversion runs on pages with a character typical of a legacy reading. Every
// marking holds a form of "mật", whose "ậ" is such a character in TCVN3 ("Ë") and VNI
// ("Ä"/"ä"): a page holding nothing but that word is converted.
TEST_F(PdfTextTest, LoneMarkingWordIsConverted) {
  const std::vector<std::pair<std::string, std::string>> cases = {{"gate_tcvn3_upper", "MẬT"},
                                                                  {"gate_tcvn3_title", "Mật"},
                                                                  {"gate_vni_upper", "MẬT"},
                                                                  {"gate_vni_lower", "mật"}};
  for (const auto& [name, expected] : cases) {
    ExtractedText t = ExtractPdfText(Pdf(name), TextLimits());
    EXPECT_EQ(t.text, expected + "\n") << name;
    EXPECT_NE(t.legacy, 0u) << name;
  }
}

}  // namespace
}  // namespace mailwarden::text

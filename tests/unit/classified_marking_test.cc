// Classification markings: every positive and negative example of the semantics in
// classified_marking.h, in UTF-8 NFC and NFD, windows-1258, TCVN3 and VNI.
#include "milter/checks/classified_marking.h"

#include <gtest/gtest.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <optional>
#include <string>
#include <vector>

#include "milter/mime/header_words.h"
#include "milter/mime/vietnamese_text.h"

namespace mailwarden {
namespace {

using mime::LegacyEncoding;
using Degree = ClassificationDegree;

struct Expected {
  Degree degree;
  Marking::Kind kind;
  size_t line;
};

struct Case {
  std::string text;
  bool subject;
  std::vector<Expected> expected;
};

std::string Nfd(const std::string& utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString out = nfd->normalize(icu::UnicodeString::fromUTF8(utf8), status);
  std::string result;
  out.toUTF8String(result);
  return result;
}

// windows-1258 bytes of NFC text, written as Vietnamese editors do: base letters with
// circumflex, breve and horn precomposed, tone marks as separate combining characters.
std::string ToWindows1258(const std::string& utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  icu::UnicodeString decomposed = nfd->normalize(icu::UnicodeString::fromUTF8(utf8), status);
  icu::UnicodeString base, tones, result;
  auto flush = [&] {
    result += nfc->normalize(base, status);
    result += tones;
    base.remove();
    tones.remove();
  };
  for (int32_t i = 0; i < decomposed.length(); ++i) {
    char16_t c = decomposed.charAt(i);
    bool tone = c == 0x0300 || c == 0x0301 || c == 0x0303 || c == 0x0309 || c == 0x0323;
    bool mark = tone || c == 0x0302 || c == 0x0306 || c == 0x031B;
    if (!mark) flush();
    (tone ? tones : base) += c;
  }
  flush();
  std::string bytes(static_cast<size_t>(result.length()) * 2 + 8, '\0');
  int32_t n = result.extract(0, result.length(), bytes.data(), static_cast<uint32_t>(bytes.size()),
                             "windows-1258");
  bytes.resize(static_cast<size_t>(n));
  return bytes;
}

std::string Latin1(std::string_view bytes) { return mime::ToUtf8(bytes, "ISO-8859-1"); }

void ExpectMarkings(const std::vector<Marking>& got, const Case& c, const std::string& form) {
  ASSERT_EQ(got.size(), c.expected.size()) << form << ": " << c.text;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].degree, c.expected[i].degree) << form << ": " << c.text;
    EXPECT_EQ(got[i].kind, c.expected[i].kind) << form << ": " << c.text;
    EXPECT_EQ(got[i].line, c.expected[i].line) << form << ": " << c.text;
  }
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      // Standalone lines.
      {"MẬT", false, {{Degree::kMat, Marking::kStandaloneLine, 1}}},
      {"TỐI MẬT", false, {{Degree::kToiMat, Marking::kStandaloneLine, 1}}},
      {"TUYỆT MẬT", false, {{Degree::kTuyetMat, Marking::kStandaloneLine, 1}}},
      {"  *** TỐI MẬT ***  ", false, {{Degree::kToiMat, Marking::kStandaloneLine, 1}}},
      {"│ MẬT │", false, {{Degree::kMat, Marking::kStandaloneLine, 1}}},
      {"M Ậ T", false, {{Degree::kMat, Marking::kStandaloneLine, 1}}},
      {"T U Y Ệ T   M Ậ T", false, {{Degree::kTuyetMat, Marking::kStandaloneLine, 1}}},
      {"Kính gửi: Phòng Tổ chức\r\n\r\n   MẬT\r\n\r\nNội dung báo cáo quý.",
       false,
       {{Degree::kMat, Marking::kStandaloneLine, 3}}},
      // Fields.
      {"Độ mật: Tối mật", false, {{Degree::kToiMat, Marking::kField, 1}}},
      {"ĐỘ MẬT: TUYỆT MẬT", false, {{Degree::kTuyetMat, Marking::kField, 1}}},
      {"độ mật : mật", false, {{Degree::kMat, Marking::kField, 1}}},
      {"Số: 12/BC   Độ mật: Mật   Độ khẩn: Thượng khẩn",
       false,
       {{Degree::kMat, Marking::kField, 1}}},
      {"Độ mật: Mật.", false, {{Degree::kMat, Marking::kField, 1}}},
      // Subject tags.
      {"[MẬT] Báo cáo quý", true, {{Degree::kMat, Marking::kSubjectTag, 1}}},
      {"Re: (TỐI MẬT) Kế hoạch năm", true, {{Degree::kToiMat, Marking::kSubjectTag, 1}}},
      {"Fwd: [T U Y Ệ T M Ậ T] Hồ sơ", true, {{Degree::kTuyetMat, Marking::kSubjectTag, 1}}},
      {"[MẬT]", true, {{Degree::kMat, Marking::kStandaloneLine, 1}}},
      // Prose and look-alikes.
      {"Vui lòng đổi mật khẩu trước thứ Hai.", false, {}},
      {"Đây là bí mật, đừng nói với ai.", false, {}},
      {"Mật ong rừng nguyên chất", false, {}},
      {"Mật", false, {}},
      {"mật", false, {}},
      {"Mật.\nMật ong ngon.", false, {}},
      {"LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", false, {}},
      {"BÍ MẬT", false, {}},
      {"Ông Nguyễn Văn Mật", false, {}},
      {"MẬT 2", false, {}},
      {"Độ mật: mật khẩu", false, {}},
      {"Độ mật", false, {}},
      {"Báo cáo [MẬT] trong câu", false, {}},
      {"Thông tin mật ong [quảng cáo]", true, {}},
      {"Đổi mật khẩu (mật)", true, {}},
  };
  return cases;
}

TEST(FindMarkings, Utf8Nfc) {
  for (const Case& c : Cases()) ExpectMarkings(FindMarkings(c.text, c.subject), c, "nfc");
}

TEST(FindMarkings, Utf8NfdThroughNormalisation) {
  for (const Case& c : Cases()) {
    std::string nfd = Nfd(c.text);
    LegacyEncoding detected = LegacyEncoding::kVni;
    ExpectMarkings(
        FindMarkingsInText(nfd, c.subject, std::nullopt, mime::TcvnCase::kHarmonize, 16, &detected),
        c, "nfd");
    EXPECT_EQ(detected, LegacyEncoding::kNone) << c.text;
    // Without normalisation the decomposed text is not matched: NFC is required.
    if (nfd != c.text && !c.expected.empty()) {
      EXPECT_TRUE(FindMarkings(nfd, c.subject).empty()) << c.text;
    }
  }
}

TEST(FindMarkings, Windows1258) {
  for (const Case& c : Cases()) {
    std::string bytes = ToWindows1258(c.text);
    ExpectMarkings(FindMarkingsInText(mime::ToUtf8(bytes, "windows-1258"), c.subject), c,
                   "windows-1258");
  }
}

TEST(FindMarkings, Tcvn3WithKnownEncoding) {
  for (const Case& c : Cases()) {
    std::string reading = Latin1(mime::UnicodeToLegacyBytes(c.text, LegacyEncoding::kTcvn3));
    ExpectMarkings(FindMarkingsInText(reading, c.subject, LegacyEncoding::kTcvn3), c, "tcvn3");
  }
}

TEST(FindMarkings, VniDetected) {
  for (const Case& c : Cases()) {
    std::string reading = Latin1(mime::UnicodeToLegacyBytes(c.text, LegacyEncoding::kVni));
    ExpectMarkings(FindMarkingsInText(reading, c.subject), c, "vni");
  }
}

TEST(FindMarkings, LegacyDocumentsDetected) {
  const std::string document =
      "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
      "Độc lập - Tự do - Hạnh phúc\n"
      "\n"
      "TỐI MẬT\n"
      "\n"
      "Báo cáo tình hình thực hiện nhiệm vụ năm 2024 của đơn vị\n";
  for (LegacyEncoding encoding : {LegacyEncoding::kTcvn3, LegacyEncoding::kVni}) {
    std::string reading = Latin1(mime::UnicodeToLegacyBytes(document, encoding));
    LegacyEncoding detected = LegacyEncoding::kNone;
    std::vector<Marking> got =
        FindMarkingsInText(reading, false, std::nullopt, mime::TcvnCase::kHarmonize, 16, &detected);
    EXPECT_EQ(detected, encoding) << mime::LegacyEncodingName(encoding);
    ASSERT_EQ(got.size(), 1u) << mime::LegacyEncodingName(encoding);
    EXPECT_EQ(got[0].degree, Degree::kToiMat);
    EXPECT_EQ(got[0].line, 4u);
  }
  // The law's title in an ".VnTimeH" run, typed in lower case: upper case only by font.
  std::string title = Latin1(
      mime::UnicodeToLegacyBytes("luật bảo vệ bí mật nhà nước\nmật", LegacyEncoding::kTcvn3));
  std::vector<Marking> got =
      FindMarkingsInText(title, false, LegacyEncoding::kTcvn3, mime::TcvnCase::kUpperFont);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, 2u);
  EXPECT_TRUE(FindMarkingsInText(title, false, LegacyEncoding::kTcvn3).empty());
}

TEST(FindMarkings, Limits) {
  std::string many;
  for (int i = 0; i < 40; ++i) many += "MẬT\n";
  EXPECT_EQ(FindMarkings(many).size(), 16u);
  EXPECT_EQ(FindMarkings(many, false, 3).size(), 3u);
  EXPECT_TRUE(FindMarkings(many, false, 0).empty());
  // Past the scan limit nothing is read.
  std::string big(kMaxMarkingScanBytes, 'x');
  big += "\nMẬT\n";
  EXPECT_TRUE(FindMarkings(big).empty());
  // An unclosed bracket and invalid UTF-8 are harmless.
  EXPECT_TRUE(FindMarkings("Re: [MẬT Báo cáo", true).empty());
  EXPECT_EQ(FindMarkings("[MẬT", true).size(), 1u);  // a standalone line: '[' is a frame
  EXPECT_EQ(FindMarkings("\xFF\xFEMẬT\xFF").size(), 1u);
  EXPECT_EQ(ClassificationDegreeName(Degree::kToiMat), "TỐI MẬT");
}

}  // namespace
}  // namespace mailwarden

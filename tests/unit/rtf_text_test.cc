// ExtractRtfText: lines, code pages, legacy Vietnamese fonts, skipped destinations, damage
// and limits.
#include "milter/text/rtf_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "milter/mime/vietnamese_text.h"

namespace mailwarden::text {
namespace {

using mime::LegacyEncoding;

// The bytes `unicode` has in a legacy encoding, written as RTF text (\'hh above ASCII).
std::string LegacyRtf(std::string_view unicode, LegacyEncoding encoding) {
  std::string bytes = mime::UnicodeToLegacyBytes(unicode, encoding);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : bytes) {
    auto b = static_cast<unsigned char>(ch);
    if (b >= 0x80 || b < 0x20) {
      out += "\\'";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    } else {
      if (b == '\\' || b == '{' || b == '}') out.push_back('\\');
      out.push_back(static_cast<char>(b));
    }
  }
  return out;
}

// A document as Word writes one: code page 1252, the font table of the tests, a colour
// table, a generator, then `body`.
std::string WordDoc(std::string_view body) {
  return std::string(
             "{\\rtf1\\adeflang1025\\ansi\\ansicpg1252\\uc1\\adeff0\\deff0\\stshfdbch0\n"
             "{\\fonttbl{\\f0\\froman\\fcharset0\\fprq2{\\*\\panose 02020603050405020304}"
             "Times New Roman;}\n"
             "{\\f1\\fswiss\\fcharset0\\fprq2 .VnTimeH;}{\\f2\\fswiss\\fcharset0\\fprq2 .VnTime;}\n"
             "{\\f3\\fnil\\fcharset0\\fprq2 VNI-Times;}{\\f4\\froman\\fcharset163\\fprq2 Times "
             "New Roman;}{\\f5\\fnil\\fcharset0 VISCII Times;}}\n"
             "{\\colortbl;\\red0\\green0\\blue0;\\red255\\green0\\blue0;}\n"
             "{\\*\\generator Microsoft Word 16.0;}{\\info{\\title Secret title}{\\author "
             "Nobody}}\n"
             "\\viewkind1\\pard\\plain \\f0\\fs24 ") +
         std::string(body) + "\n}";
}

std::vector<std::string> Lines(const ExtractedText& t) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < t.text.size()) {
    size_t end = t.text.find('\n', start);
    if (end == std::string::npos) end = t.text.size();
    lines.push_back(t.text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

ExtractedText Extract(std::string_view rtf) { return ExtractRtfText(rtf, TextLimits{}); }

TEST(RtfText, LooksLikeRtf) {
  EXPECT_TRUE(LooksLikeRtf("{\\rtf1\\ansi"));
  EXPECT_TRUE(LooksLikeRtf("\xEF\xBB\xBF \r\n{\\rtf1"));
  EXPECT_FALSE(LooksLikeRtf("{\\rt"));
  EXPECT_FALSE(LooksLikeRtf("%PDF-1.7"));
}

TEST(RtfText, NotRtfIsDamagedAndEmpty) {
  ExtractedText t = Extract("Hello {\\rtf1 x}");
  EXPECT_TRUE(t.damaged);
  EXPECT_FALSE(t.problem.empty());
  EXPECT_EQ(t.text, "");
}

TEST(RtfText, ParagraphsAreLinesAndEmptyOnesAreDropped) {
  ExtractedText t = Extract(WordDoc("First\\par\\par Second line\\line Third\\par"));
  EXPECT_EQ(t.text, "First\nSecond line\nThird\n");
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(t.legacy, 0u);
}

TEST(RtfText, Tcvn3UpperCaseFontGivesCapitals) {
  std::string bytes = LegacyRtf("mật", LegacyEncoding::kTcvn3);
  ASSERT_EQ(bytes, "m\\'cbt");  // "mËt": the file says lower case, the font upper
  ExtractedText t = Extract(WordDoc("{\\f1 " + bytes + "}\\par"));
  EXPECT_EQ(t.text, "MẬT\n");
  EXPECT_EQ(t.legacy, uint32_t{kLegacyTcvn3});
}

TEST(RtfText, Tcvn3FontProseStaysLowerCase) {
  ExtractedText t =
      Extract(WordDoc("{\\f2 " + LegacyRtf("mật khẩu", LegacyEncoding::kTcvn3) + "}\\par"));
  EXPECT_EQ(t.text, "mật khẩu\n");
  EXPECT_EQ(t.legacy, uint32_t{kLegacyTcvn3});
}

TEST(RtfText, VniFont) {
  ExtractedText t =
      Extract(WordDoc("{\\f3 " + LegacyRtf("TỐI MẬT", LegacyEncoding::kVni) + "}\\par"));
  EXPECT_EQ(t.text, "TỐI MẬT\n");
  EXPECT_EQ(t.legacy, uint32_t{kLegacyVni});
}

TEST(RtfText, VisciiNamedFont) {
  ExtractedText t =
      Extract(WordDoc("{\\f5 " + LegacyRtf("TUYỆT MẬT", LegacyEncoding::kViscii) + "}\\par"));
  EXPECT_EQ(t.text, "TUYỆT MẬT\n");
  EXPECT_EQ(t.legacy, uint32_t{kLegacyViscii});
}

TEST(RtfText, Windows1258CharsetIsComposedToNfc) {
  // "Độ mật" in windows-1258: ô + combining dot below, â + combining dot below.
  ExtractedText t = Extract(WordDoc("{\\f4 \\'d0\\'f4\\'f2 m\\'e2\\'f2t}\\par"));
  EXPECT_EQ(t.text, "Độ mật\n");
  EXPECT_EQ(t.legacy, uint32_t{kLegacyWindows1258});
}

TEST(RtfText, UnicodeEscapesSkipTheirFallback) {
  ExtractedText t = Extract(WordDoc("M\\u7852?T\\par{\\uc2 M\\u7852\\'41\\'42T}\\par"));
  EXPECT_EQ(t.text, "MẬT\nMẬT\n");
  EXPECT_EQ(t.legacy, 0u);
}

TEST(RtfText, UnicodeEscapesNegativeAndSurrogatePairs) {
  // \u-3913 is U+F0B7; U+1F600 is the surrogate pair D83D DE00.
  ExtractedText t = Extract(WordDoc("a\\u-3913?b \\u-10179?\\u-8704?\\par"));
  EXPECT_EQ(t.text, "a\uF0B7b \U0001F600\n");
}

TEST(RtfText, UnicodeEscapeInLegacyFontIsTheFontsByte) {
  // LibreOffice writes the windows-1252 character of the byte ("Ë", U+00CB) as \u203.
  ExtractedText t = Extract(WordDoc("{\\f1 m\\u203\\'cbt}\\par{\\f2 M\\u7852?T}\\par"));
  EXPECT_EQ(t.text, "MẬT\nMẬT\n");
}

TEST(RtfText, TableCellsAreLines) {
  ExtractedText t =
      Extract(WordDoc("\\trowd\\trgaph108\\cellx3000\\cellx6000\\pard\\intbl A\\cell TUY\\u7878?T "
                      "M\\u7852?T\\cell \\row\\pard After\\par"));
  EXPECT_EQ(Lines(t), (std::vector<std::string>{"A", "TUYỆT MẬT", "After"}));
}

TEST(RtfText, HeaderAndFooterTextIsKept) {
  ExtractedText t = Extract(WordDoc(
      "{\\header \\pard\\plain M\\u7852?T\\par}{\\footer \\pard Page \\chpgn\\par}Body\\par"));
  EXPECT_EQ(Lines(t), (std::vector<std::string>{"MẬT", "Page", "Body"}));
}

TEST(RtfText, TextBoxIsOnItsOwnLines) {
  ExtractedText t = Extract(WordDoc(
      "Before {\\shp{\\*\\shpinst\\shpleft0{\\sp{\\sn shapeType}{\\sv 202}}"
      "{\\sp{\\sn wzDescription}{\\sv alt text}}{\\shptxt \\pard T\\u7888?I M\\u7852?T\\par "
      "Second\\par}}{\\shprslt{\\*\\do\\dobxcolumn{\\dptxbxtext \\pard T\\u7888?I "
      "M\\u7852?T\\par}}}}after\\par"));
  EXPECT_EQ(Lines(t), (std::vector<std::string>{"TỐI MẬT", "Second", "Before after"}));
}

TEST(RtfText, SkippedDestinationsGiveNoText) {
  ExtractedText t = Extract(
      WordDoc("{\\*\\bkmkstart hidden_name}{\\pict\\pngblip\\picw10 89504e470d0a1a0a}"
              "{\\field{\\*\\fldinst {HYPERLINK \"http://example.test/\"}}{\\fldrslt {Link text}}}"
              "{\\*\\unknowndest Secret}{\\*\\themedata 504b0304}{\\listtable{\\list{\\leveltext "
              "\\'01\\u-3913 ?;}}}\\par"));
  EXPECT_EQ(t.text, "Link text\n");
  EXPECT_FALSE(t.damaged) << t.problem;
}

TEST(RtfText, TrackedDeletionsAreNotText) {
  ExtractedText t = Extract(WordDoc("Kept {\\deleted\\revauth1 M\\u7852?T }text\\par"));
  EXPECT_EQ(t.text, "Kept text\n");
}

TEST(RtfText, FontTableAndInfoAreNotText) {
  ExtractedText t = Extract(WordDoc("x\\par"));
  EXPECT_EQ(t.text, "x\n");  // no font names, colours, generator or title
}

TEST(RtfText, GroupEndRestoresFontAndPlainResetsIt) {
  ExtractedText t = Extract(WordDoc("{\\f1 m\\'cbt}m\\'cbt\\par{\\f1\\plain m\\'cbt}\\par"));
  // Outside the .VnTimeH group and after \plain, the bytes are windows-1252.
  EXPECT_EQ(t.text, "MẬTmËt\nmËt\n");
  EXPECT_EQ(t.legacy, uint32_t{kLegacyTcvn3});
}

TEST(RtfText, LegacyMaskHasExactlyTheEncodingsUsed) {
  EXPECT_EQ(Extract(WordDoc("caf\\'e9 {\\f4 abc}{\\f1 ascii}\\par")).legacy, 0u);
  ExtractedText t = Extract(
      WordDoc("{\\f1 m\\'cbt}\\par{\\f3 " + LegacyRtf("MẬT", LegacyEncoding::kVni) + "}\\par"));
  EXPECT_EQ(t.legacy, uint32_t{kLegacyTcvn3 | kLegacyVni});
}

TEST(RtfText, Windows1252Bytes) {
  ExtractedText t = Extract(WordDoc("caf\\'e9 \\'80 \\'93x\\'94\\par"));
  EXPECT_EQ(t.text, "café € “x”\n");
  EXPECT_EQ(t.legacy, 0u);
}

TEST(RtfText, AnsiCodePageDecodesBytesOfFontsWithoutCharset) {
  std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1251\\deff0{\\fonttbl{\\f0 Arial;}}\\f0 \\'cf\\'f0\\'e8\\par}";
  EXPECT_EQ(Extract(rtf).text, "При\n");
}

TEST(RtfText, DoubleByteCharsetDecodesPairs) {
  std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fcharset128 MS Mincho;}}\\f0 "
      "\\'82\\'a0\\'82\\'a2\\par}";
  EXPECT_EQ(Extract(rtf).text, "あい\n");
}

TEST(RtfText, ControlSymbols) {
  ExtractedText t = Extract(WordDoc("a\\~b\\-c\\_d \\{x\\}\\\\ e\\tab f\\emdash g\\par"));
  EXPECT_EQ(t.text, "a bc-d {x}\\ e\tf\u2014g\n");
}

TEST(RtfText, TruncatedInputIsDamagedAndKeepsText) {
  std::string rtf = WordDoc("Kept line\\par Partial");
  rtf.pop_back();  // the final brace
  ExtractedText t = Extract(rtf);
  EXPECT_TRUE(t.damaged);
  EXPECT_FALSE(t.problem.empty());
  EXPECT_EQ(t.text, "Kept line\nPartial\n");
}

TEST(RtfText, UnbalancedBracesAreDamaged) {
  ExtractedText t = Extract(WordDoc("{{Open\\par"));
  EXPECT_TRUE(t.damaged);
  EXPECT_EQ(t.text, "Open\n");
}

TEST(RtfText, DataAfterTheFinalBraceIsDamaged) {
  EXPECT_FALSE(Extract(WordDoc("x\\par") + "\r\n").damaged);
  ExtractedText t = Extract(WordDoc("x\\par") + "} M\\u7852?T");
  EXPECT_TRUE(t.damaged);
  EXPECT_EQ(t.text, "x\n");
}

TEST(RtfText, DeepNestingIsDamagedQuickly) {
  std::string rtf =
      "{\\rtf1 Before\\par" + std::string(10000, '{') + "x" + std::string(10000, '}') + "}";
  auto start = std::chrono::steady_clock::now();
  ExtractedText t = Extract(rtf);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_TRUE(t.damaged);
  EXPECT_NE(t.problem.find("nested"), std::string::npos) << t.problem;
  EXPECT_EQ(t.text, "Before\n");
}

TEST(RtfText, BinSkipsRawBytes) {
  ExtractedText t = Extract(WordDoc("a{\\pict\\bin5 }{\\'x}b\\par"));
  EXPECT_EQ(t.text, "ab\n");
  EXPECT_FALSE(t.damaged) << t.problem;
}

TEST(RtfText, BinWithHugeLengthIsBounded) {
  ExtractedText t = Extract(WordDoc("Kept\\par{\\pict\\bin2147483647 abc}"));
  EXPECT_TRUE(t.damaged);
  EXPECT_EQ(t.text, "Kept\n");
  ExtractedText over = Extract(WordDoc("Kept\\par{\\bin99999999999999999999 abc}"));
  EXPECT_TRUE(over.damaged);
  EXPECT_EQ(over.text, "Kept\n");
}

TEST(RtfText, MaxTextTruncates) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += "Line number " + std::to_string(i) + "\\par ";
  TextLimits limits;
  limits.max_text_bytes = 100;
  ExtractedText t = ExtractRtfText(WordDoc(body), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "max_text");
  EXPECT_LE(t.text.size(), 100u);
  EXPECT_EQ(t.text.rfind("Line number 0\n", 0), 0u);
  EXPECT_FALSE(t.damaged);
}

TEST(RtfText, MaxTextCutsOneLongParagraph) {
  TextLimits limits;
  limits.max_text_bytes = 1000;
  std::string body;
  for (int i = 0; i < 100000; ++i) body += "M\\u7852?T ";
  ExtractedText t = ExtractRtfText(WordDoc(body), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_LE(t.text.size(), 1000u);
  EXPECT_GT(t.text.size(), 900u);
}

}  // namespace
}  // namespace mailwarden::text

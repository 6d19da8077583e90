#include <gtest/gtest.h>

#include <string>

#include "milter/mime/header_words.h"

namespace mailwarden::mime {
namespace {

// "Nguyễn Văn Anh" and "Báo cáo tài chính quý 3.pdf" in UTF-8.
constexpr char kNguyen[] = "Nguy\xe1\xbb\x85n V\xc4\x83n Anh";
constexpr char kBaoCao[] = "B\xc3\xa1o c\xc3\xa1o t\xc3\xa0i ch\xc3\xadnh qu\xc3\xbd 3.pdf";

TEST(MimeToUtf8Test, ConvertsKnownCharsets) {
  EXPECT_EQ(ToUtf8("caf\xe9", "ISO-8859-1"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8(kNguyen, "utf-8"), kNguyen);
  // windows-1258 writes Vietnamese with combining tone marks: e-circumflex + combining tilde.
  EXPECT_EQ(ToUtf8("Nguy\xea\xden", "windows-1258"), "Nguy\xc3\xaa\xcc\x83n");
  EXPECT_EQ(ToUtf8("Nguy\xea\xden", "CP1258"), "Nguy\xc3\xaa\xcc\x83n");
}

TEST(MimeToUtf8Test, InvalidBytesBecomeReplacementCharacter) {
  EXPECT_EQ(ToUtf8("a\xff"
                   "b",
                   "utf-8"),
            "a\xef\xbf\xbd"
            "b");
}

TEST(MimeToUtf8Test, UnknownCharsetIsReadAsUtf8) {
  EXPECT_EQ(ToUtf8(kNguyen, "x-no-such-charset"), kNguyen);
  EXPECT_EQ(ToUtf8(kNguyen, ""), kNguyen);
  // An RTLO (U+202E) under a bogus label stays visible to the name checks.
  EXPECT_EQ(ToUtf8("a\xe2\x80\xae"
                   "b",
                   "bogus"),
            "a\xe2\x80\xae"
            "b");
}

TEST(MimeEncodedWordsTest, DecodesBAndQ) {
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?B?Tmd1eeG7hW4gVsSDbiBBbmg=?="), kNguyen);
  EXPECT_EQ(DecodeEncodedWords("=?UTF-8?Q?Nguy=E1=BB=85n_V=C4=83n_Anh?="), kNguyen);
  EXPECT_EQ(DecodeEncodedWords("=?iso-8859-1?q?caf=E9?= au lait"), "caf\xc3\xa9 au lait");
  EXPECT_EQ(DecodeEncodedWords("=?windows-1258?Q?Nguy=EA=DEn?="), "Nguy\xc3\xaa\xcc\x83n");
}

TEST(MimeEncodedWordsTest, JoinsAdjacentWordsEvenInsideACharacter) {
  // "ễ" (E1 BB 85) split between two words, separated by folding whitespace.
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?Q?Nguy=E1=BB?=\n =?utf-8?Q?=85n?="), "Nguy\xe1\xbb\x85n");
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?Q?a?= =?utf-8?Q?b?=  c"), "ab  c");
  // Text between words is kept, with its spaces.
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?Q?a?= x =?utf-8?Q?b?="), "a x b");
  // The language suffix of RFC 2231 §5 is dropped.
  EXPECT_EQ(DecodeEncodedWords("=?utf-8*vi?Q?Anh?="), "Anh");
}

TEST(MimeEncodedWordsTest, MalformedWordsAreLeftAsIs) {
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?Q?no end"), "=?utf-8?Q?no end");
  EXPECT_EQ(DecodeEncodedWords("=??Q?abc?="), "=??Q?abc?=");
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?Q?has space?="), "=?utf-8?Q?has space?=");
  EXPECT_EQ(DecodeEncodedWords("plain"), "plain");
  EXPECT_EQ(DecodeEncodedWords(""), "");
}

TEST(MimeParameterizedHeaderTest, ParsesTypeAndParams) {
  ParameterizedHeader h = ParseParameterizedHeader(
      "Multipart/Mixed (comment); boundary=\"b\\\"1 x\"; charset=UTF-8 (c);\n\tname=a b.txt");
  EXPECT_EQ(h.value, "multipart/mixed");
  ASSERT_NE(h.Find("boundary"), nullptr);
  EXPECT_EQ(h.Find("boundary")->value, "b\"1 x");
  EXPECT_EQ(h.Find("charset")->value, "UTF-8");
  EXPECT_EQ(h.Find("name")->value, "a b.txt");
  EXPECT_EQ(h.Find("missing"), nullptr);
}

TEST(MimeParameterizedHeaderTest, FirstDuplicateWinsAndCountIsBounded) {
  ParameterizedHeader h = ParseParameterizedHeader("attachment; filename=a.pdf; filename=b.exe");
  EXPECT_EQ(h.DecodedValue("filename"), "a.pdf");
  std::string many = "text/plain";
  for (int i = 0; i < 10000; ++i) many += "; p" + std::to_string(i) + "=v";
  h = ParseParameterizedHeader(many, 64);
  EXPECT_TRUE(h.too_many_params);
  EXPECT_EQ(h.params.size(), 64u);
}

TEST(MimeParameterizedHeaderTest, Rfc2231VietnameseContinuations) {
  ParameterizedHeader h = ParseParameterizedHeader(
      "attachment;\n filename*0*=utf-8''B%C3%A1o%20c%C3%A1o%20t%C3%A0i%20;\n"
      " filename*1*=ch%C3%ADnh%20qu%C3%BD;\n filename*2=\" 3.pdf\"");
  EXPECT_EQ(h.value, "attachment");
  EXPECT_EQ(h.DecodedValue("filename"), kBaoCao);
  // Sections out of order are put in order; an RFC 2231 form wins over a plain one.
  h = ParseParameterizedHeader(
      "attachment; filename=fallback.pdf; filename*1*=%20Anh; filename*0*=utf-8'vi'Nguy%E1%BB%85n");
  EXPECT_EQ(h.DecodedValue("filename"), "Nguy\xe1\xbb\x85n Anh");
  // Single extended form, windows-1258.
  h = ParseParameterizedHeader("inline; filename*=windows-1258''Nguy%EA%DEn.txt");
  EXPECT_EQ(h.DecodedValue("filename"), "Nguy\xc3\xaa\xcc\x83n.txt");
}

TEST(MimeParameterizedHeaderTest, Rfc2231DamageIsTolerated) {
  // A gap ends the value; a huge section number is ignored; a missing section 0 falls back.
  ParameterizedHeader h =
      ParseParameterizedHeader("a; filename*0=x; filename*2=z; filename*99999=w");
  EXPECT_EQ(h.DecodedValue("filename"), "x");
  h = ParseParameterizedHeader("a; name=plain.txt; name*1=tail");
  EXPECT_EQ(h.DecodedValue("name"), "plain.txt");
  // Bad percent escapes stay literal; missing charset quotes read as UTF-8.
  h = ParseParameterizedHeader("a; filename*=%ZZ%41.txt");
  EXPECT_EQ(h.DecodedValue("filename"), "%ZZA.txt");
}

TEST(MimeParameterizedHeaderTest, Rfc2047InQuotedFileName) {
  ParameterizedHeader h = ParseParameterizedHeader(
      "application/pdf; name=\"=?utf-8?B?Tmd1eeG7hW4gVsSDbiBBbmg=?=.pdf\"");
  EXPECT_EQ(h.DecodedValue("name"), std::string(kNguyen) + ".pdf");
  // The raw value is kept byte-exact (boundaries must not be decoded).
  EXPECT_EQ(h.Find("name")->value, "=?utf-8?B?Tmd1eeG7hW4gVsSDbiBBbmg=?=.pdf");
}

TEST(MimeParameterizedHeaderTest, UnterminatedQuotesAndCommentsEnd) {
  ParameterizedHeader h = ParseParameterizedHeader("text/plain (unclosed; name=\"x");
  EXPECT_EQ(h.value, "text/plain");
  h = ParseParameterizedHeader("text/plain; name=\"unterminated");
  EXPECT_EQ(h.DecodedValue("name"), "unterminated");
}

}  // namespace
}  // namespace mailwarden::mime

#include "audit/sieve_scan.h"

#include <gtest/gtest.h>

namespace mailwarden::audit {
namespace {

std::vector<std::string> Targets(const SieveScan& s) {
  std::vector<std::string> out;
  for (const auto& r : s.redirects) out.push_back(r.target);
  return out;
}

TEST(SieveTokenizerTest, TokenKindsAndLines) {
  SieveTokens t = TokenizeSieve("require [\"copy\"];\nredirect :copy \"a@b\"; # x\nsize :over 100K;");
  ASSERT_TRUE(t.error.empty()) << t.error;
  ASSERT_EQ(t.tokens.size(), 13u);
  EXPECT_EQ(t.tokens[0].kind, SieveToken::Kind::kIdentifier);
  EXPECT_EQ(t.tokens[2].kind, SieveToken::Kind::kString);
  EXPECT_EQ(t.tokens[2].text, "copy");
  EXPECT_EQ(t.tokens[6].kind, SieveToken::Kind::kTag);
  EXPECT_EQ(t.tokens[6].text, "copy");
  EXPECT_EQ(t.tokens[6].line, 2);
  EXPECT_EQ(t.tokens[11].kind, SieveToken::Kind::kNumber);
  EXPECT_EQ(t.tokens[11].text, "100K");
  EXPECT_EQ(t.tokens[11].line, 3);
}

TEST(SieveTokenizerTest, QuotedStringEscapes) {
  SieveTokens t = TokenizeSieve(R"("a\"b\\c\d")");
  ASSERT_EQ(t.tokens.size(), 1u);
  EXPECT_EQ(t.tokens[0].text, "a\"b\\cd");
}

TEST(SieveTokenizerTest, MultiLineStringWithDotStuffing) {
  SieveTokens t = TokenizeSieve("x text: # comment\r\nline one\r\n..dot\r\n.\r\n;");
  ASSERT_TRUE(t.error.empty()) << t.error;
  ASSERT_EQ(t.tokens.size(), 3u);
  EXPECT_EQ(t.tokens[1].text, "line one\n.dot\n");
  EXPECT_EQ(t.tokens[2].line, 5);
}

TEST(SieveTokenizerTest, ErrorsStopWithALine) {
  EXPECT_EQ(TokenizeSieve("a;\n\"open").error, "unterminated string");
  EXPECT_EQ(TokenizeSieve("a;\n\"open").error_line, 2);
  EXPECT_EQ(TokenizeSieve("/* never closed").error, "unterminated /* comment");
  EXPECT_FALSE(TokenizeSieve("x text:\nno end\n").error.empty());
  EXPECT_FALSE(TokenizeSieve("a;\n\n  @").error.empty());
  EXPECT_EQ(TokenizeSieve("a;\n\n  @").error_line, 3);
}

TEST(SieveScanTest, PlainAndCopyRedirects) {
  SieveScan s = ScanSieveRedirects(
      "require [\"copy\"];\n"
      "if address :is \"from\" \"boss@x.vn\" { redirect :copy \"a@gmail.com\"; }\n"
      "else { redirect \"b@yahoo.com\"; stop; }\n");
  ASSERT_TRUE(s.error.empty()) << s.error;
  ASSERT_EQ(s.redirects.size(), 2u);
  EXPECT_EQ(s.redirects[0].target, "a@gmail.com");
  EXPECT_TRUE(s.redirects[0].copy);
  EXPECT_EQ(s.redirects[0].line, 2);
  EXPECT_EQ(s.redirects[1].target, "b@yahoo.com");
  EXPECT_FALSE(s.redirects[1].copy);
  EXPECT_EQ(s.redirects[1].line, 3);
}

TEST(SieveScanTest, CommentedAndQuotedRedirectsAreNotLive) {
  SieveScan s = ScanSieveRedirects(
      "# redirect \"a@gmail.com\";\n"
      "/* redirect \"b@gmail.com\";\n   redirect \"c@gmail.com\"; */\n"
      "if header :contains \"subject\" \"redirect \\\"d@gmail.com\\\";\" { keep; }\n"
      "vacation text:\nredirect \"e@gmail.com\";\n.\n;\n"
      "fileinto \"redirect\";\n");
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_TRUE(s.redirects.empty()) << Targets(s)[0];
}

TEST(SieveScanTest, TextLiteralAndTagsWithArguments) {
  SieveScan s = ScanSieveRedirects(
      "redirect :notify \"success\" :ret \"hdrs\" text:\nx@gmail.com\n.\n;\n"
      "redirect :by 30 :bymode \"notify\" \"y@mail.ru\";");
  ASSERT_EQ(s.redirects.size(), 2u) << s.error;
  EXPECT_EQ(s.redirects[0].target, "x@gmail.com\n");
  EXPECT_EQ(s.redirects[0].line, 1);
  EXPECT_EQ(s.redirects[1].target, "y@mail.ru");
  EXPECT_EQ(s.redirects[1].line, 5);
}

TEST(SieveScanTest, VariablesFromSetResolve) {
  SieveScan s = ScanSieveRedirects(
      "require [\"variables\"];\nset \"fwd\" \"me@gmail.com\";\nredirect \"${FWD}\";\n"
      "redirect \"${unknown}\";\nredirect :list \"friends\";");
  ASSERT_EQ(s.redirects.size(), 3u);
  EXPECT_EQ(s.redirects[0].target, "me@gmail.com");
  EXPECT_FALSE(s.redirects[0].unresolved);
  EXPECT_TRUE(s.redirects[1].unresolved);
  EXPECT_TRUE(s.redirects[2].list);
}

TEST(SieveScanTest, RedirectsBeforeAnErrorAreKept) {
  SieveScan s = ScanSieveRedirects("redirect \"a@gmail.com\";\nredirect \"b@gmail.com\"\n}\x01");
  ASSERT_EQ(s.redirects.size(), 2u);
  EXPECT_FALSE(s.error.empty());
}

TEST(SieveScanTest, GarbageNeverThrows) {
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage += static_cast<char>((i * 7919) % 256);
  EXPECT_NO_THROW(ScanSieveRedirects(garbage));
  EXPECT_NO_THROW(ScanSieveRedirects("redirect"));
  EXPECT_NO_THROW(ScanSieveRedirects("redirect ["));
  EXPECT_NO_THROW(ScanSieveRedirects(";;;redirect :notify"));
}

}  // namespace
}  // namespace mailwarden::audit

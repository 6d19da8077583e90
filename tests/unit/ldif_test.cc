#include "audit/ldif.h"

#include <gtest/gtest.h>

#include <sstream>

namespace mailwarden::audit {
namespace {

std::vector<LdifEntry> Read(const std::string& text, std::vector<std::string>* problems) {
  std::istringstream in(text);
  std::vector<LdifEntry> out;
  ReadLdif(in, [&](const LdifEntry& e) { out.push_back(e); }, problems);
  return out;
}

TEST(LdifTest, EntriesAttributesAndVersion) {
  std::vector<std::string> problems;
  auto entries = Read(
      "version: 1\n\n# comment\ndn: uid=alice,ou=people,dc=x\nmail: alice@x.vn\n"
      "zimbraPrefMailForwardingAddress: alice@gmail.com\n\n"
      "dn: uid=bob,ou=people,dc=x\nMail;lang-vi: bob@x.vn\n",
      &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].dn, "uid=alice,ou=people,dc=x");
  EXPECT_EQ(entries[0].line, 4);
  EXPECT_EQ(entries[0].Values("zimbraprefmailforwardingaddress"),
            std::vector<std::string>{"alice@gmail.com"});
  EXPECT_EQ(entries[1].Values("mail"), std::vector<std::string>{"bob@x.vn"});
}

TEST(LdifTest, Base64AndFoldedLines) {
  std::vector<std::string> problems;
  // "carol@gmail.com" in base64, folded; a folded plain value; CRLF line ends.
  auto entries = Read(
      "dn: uid=carol,dc=x\r\nmailForwardingAddress:: Y2Fyb2xA\r\n Z21haWwuY29t\r\n"
      "description: a long\r\n  value\r\n",
      &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].Values("mailforwardingaddress"),
            std::vector<std::string>{"carol@gmail.com"});
  EXPECT_EQ(entries[0].Values("description"), std::vector<std::string>{"a long value"});
}

TEST(LdifTest, FoldedCommentIsSkipped) {
  std::vector<std::string> problems;
  auto entries = Read("# search result\n  mail: no@gmail.com\ndn: a=b\nmail: a@x.vn\n", &problems);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].Values("mail"), std::vector<std::string>{"a@x.vn"});
}

TEST(LdifTest, BadLinesAreProblemsNotFailures) {
  std::vector<std::string> problems;
  auto entries = Read(
      "mail: orphan@x.vn\ndn: a=b\nno colon here\njpegPhoto:< file:///etc/passwd\nmail: a@x.vn\n",
      &problems);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].Values("mail"), std::vector<std::string>{"a@x.vn"});
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].rfind("line 1:", 0), 0u);
  EXPECT_EQ(problems[1].rfind("line 3:", 0), 0u);
}

TEST(LdifTest, OverlongLineIsCapped) {
  std::vector<std::string> problems;
  std::string text = "dn: a=b\ndescription: " + std::string(kMaxLdifLineBytes + 10, 'x') +
                     "\n more\nmail: a@x.vn\n";
  auto entries = Read(text, &problems);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].Values("description").empty());
  EXPECT_EQ(entries[0].Values("mail"), std::vector<std::string>{"a@x.vn"});
  EXPECT_EQ(problems.size(), 1u);
}

}  // namespace
}  // namespace mailwarden::audit

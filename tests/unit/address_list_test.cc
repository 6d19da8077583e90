#include "common/address_list.h"

#include <gtest/gtest.h>

#include <string>

namespace mailwarden {
namespace {

TEST(AddressList, AddressesAreCaseInsensitive) {
  auto list = AddressList::Parse({"Blocked@Example.NET"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->Match("blocked@example.net"), "blocked@example.net");
  EXPECT_EQ(list->Match("BLOCKED@EXAMPLE.NET"), "blocked@example.net");
  EXPECT_EQ(list->Match("<blocked@example.net>"), "blocked@example.net");
  EXPECT_EQ(list->Match("blocked@example.net."), "blocked@example.net");
  EXPECT_FALSE(list->Match("other@example.net"));
  EXPECT_FALSE(list->Match("blocked@sub.example.net"));
}

TEST(AddressList, DomainMeansExactlyThatDomain) {
  auto list = AddressList::Parse({"@spam.example"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->Match("anyone@SPAM.example"), "@spam.example");
  EXPECT_FALSE(list->Match("anyone@mx.spam.example"));
  EXPECT_FALSE(list->Match("anyone@notspam.example"));
}

TEST(AddressList, DotDomainMeansSubdomainsOnly) {
  auto list = AddressList::Parse({"@.spam.example"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->Match("a@mx.spam.example"), "@.spam.example");
  EXPECT_EQ(list->Match("a@x.y.Spam.Example"), "@.spam.example");
  EXPECT_FALSE(list->Match("a@spam.example"));
  EXPECT_FALSE(list->Match("a@xspam.example"));
}

TEST(AddressList, NullAndUnqualifiedSendersNeverMatch) {
  auto list = AddressList::Parse({"@example.org", "@.org", "a@example.org"});
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(list->Match(""));
  EXPECT_FALSE(list->Match("<>"));
  EXPECT_FALSE(list->Match("postmaster"));
  EXPECT_FALSE(list->Match("@example.org"));
  EXPECT_FALSE(list->Match("a@"));
}

TEST(AddressList, QuotedLocalPartUsesTheLastAt) {
  auto list = AddressList::Parse({"@example.org"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->Match("\"a@b\"@example.org"), "@example.org");
}

TEST(AddressList, BadEntriesAreAllReported) {
  auto list = AddressList::Parse({"ok@example.org", "", "noat", "a@", "@", "@.", "a b@example.org",
                                  "<a@example.org>", "@example..org", "a@b@", "x@y.org,z@y.org",
                                  "@.example.org."});
  ASSERT_FALSE(list.ok());
  const std::string& m = list.status().message();
  for (const char* entry :
       {"''", "'noat'", "'a@'", "'@'", "'@.'", "'a b@example.org'", "'<a@example.org>'",
        "'@example..org'", "'a@b@'", "'x@y.org,z@y.org'", "'@.example.org.'"}) {
    EXPECT_NE(m.find(std::string(entry) + " is not an address"), std::string::npos) << entry << "\n"
                                                                                    << m;
  }
  EXPECT_EQ(m.find("ok@example.org"), std::string::npos);
}

TEST(AddressList, EntryProblemAgreesWithParse) {
  EXPECT_EQ(AddressList::EntryProblem("a@example.org"), "");
  EXPECT_EQ(AddressList::EntryProblem("@Example.org"), "");
  EXPECT_EQ(AddressList::EntryProblem("@.example.org"), "");
  EXPECT_EQ(AddressList::EntryProblem("noat"),
            "'noat' is not an address (user@example.org), \"@domain\" or \"@.domain\": it "
            "has no '@'");
  // One printable line, whatever the entry holds.
  std::string problem = AddressList::EntryProblem("a\nb@example.org" + std::string(200, 'x'));
  EXPECT_EQ(problem.find('\n'), std::string::npos) << problem;
  EXPECT_NE(problem.find("'a?b@example.org"), std::string::npos) << problem;
  EXPECT_LT(problem.size(), 400u);
  EXPECT_EQ(AddressList::Parse({"noat", "a@example.org"}).status().message(),
            AddressList::EntryProblem("noat"));
}

TEST(AddressList, SizeCountsDistinctEntries) {
  auto list =
      AddressList::Parse({"A@example.org", "a@example.org", "@example.org", "@.example.org"});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
  auto empty = AddressList::Parse({});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->Match("a@example.org"));
}

}  // namespace
}  // namespace mailwarden

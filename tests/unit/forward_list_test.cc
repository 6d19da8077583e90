#include "audit/forward_list.h"

#include <gtest/gtest.h>

namespace mailwarden::audit {
namespace {

using Kind = ForwardItem::Kind;

TEST(ForwardListTest, AddressesSeparatedByCommasWhitespaceAndLines) {
  auto items = ParseForwardList("a@gmail.com, b@yahoo.com c@x.vn\n<d@hotmail.com>\n");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].value, "a@gmail.com");
  EXPECT_EQ(items[1].value, "b@yahoo.com");
  EXPECT_EQ(items[2].value, "c@x.vn");
  EXPECT_EQ(items[3].value, "d@hotmail.com");
  EXPECT_EQ(items[3].line, 2);
  for (const auto& i : items) EXPECT_EQ(i.kind, Kind::kAddress);
}

TEST(ForwardListTest, CommentLinesAreSkipped) {
  auto items = ParseForwardList("# a@gmail.com\n  # b@gmail.com\nc@gmail.com\n");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].value, "c@gmail.com");
  EXPECT_EQ(items[0].line, 3);
}

TEST(ForwardListTest, CommandsFilesIncludesAndLocalNames) {
  auto items = ParseForwardList(
      "\"|/usr/bin/procmail -f-\", /var/mail/archive, :include:/etc/mail/list, \\alice, bob");
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].kind, Kind::kCommand);
  EXPECT_EQ(items[0].value, "/usr/bin/procmail -f-");
  EXPECT_EQ(items[1].kind, Kind::kFile);
  EXPECT_EQ(items[2].kind, Kind::kInclude);
  EXPECT_EQ(items[2].value, "/etc/mail/list");
  EXPECT_EQ(items[3].kind, Kind::kLocal);
  EXPECT_EQ(items[3].value, "alice");
  EXPECT_EQ(items[4].kind, Kind::kLocal);
}

TEST(ForwardListTest, UnquotedCommandKeepsItsArguments) {
  auto items = ParseForwardList("|/usr/bin/vacation -a alice alice, x@gmail.com");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, Kind::kCommand);
  EXPECT_EQ(items[0].value, "/usr/bin/vacation -a alice alice");
  EXPECT_EQ(items[1].value, "x@gmail.com");
}

TEST(ForwardListTest, DisplayNameFormGivesTheAddress) {
  auto items = ParseForwardList("Alice Nguyen <alice@gmail.com>, \"Bob, B.\" <bob@yahoo.com>");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].value, "alice@gmail.com");
  EXPECT_EQ(items[1].value, "bob@yahoo.com");
}

TEST(ForwardListTest, GarbageNeverThrows) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131) % 256);
  EXPECT_NO_THROW(ParseForwardList(garbage));
  EXPECT_TRUE(ParseForwardList("").empty());
  EXPECT_TRUE(ParseForwardList("\"unterminated, , ,").size() <= 1);
}

}  // namespace
}  // namespace mailwarden::audit

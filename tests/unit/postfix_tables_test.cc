#include "audit/postfix_tables.h"

#include <gtest/gtest.h>

namespace mailwarden::audit {
namespace {

TEST(PostfixTablesTest, SplitListKeepsBraces) {
  EXPECT_EQ(SplitPostfixList("hash:/etc/aliases, ldap:/etc/postfix/ldap.cf"),
            (std::vector<std::string>{"hash:/etc/aliases", "ldap:/etc/postfix/ldap.cf"}));
  EXPECT_EQ(SplitPostfixList(" inline:{ a@x=b@y, {c@x = d@y, e@z} }  hash:/v "),
            (std::vector<std::string>{"inline:{ a@x=b@y, {c@x = d@y, e@z} }", "hash:/v"}));
  EXPECT_TRUE(SplitPostfixList("").empty());
}

TEST(PostfixTablesTest, TableOutputOfPostaliasDropsBookkeeping) {
  auto entries = ParseTableOutput(
      "@:\t@\nYP_MASTER_NAME:\thost\nalice:\talice@gmail.com, bob\nnot a line\n", true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "alice");
  EXPECT_EQ(entries[0].second, "alice@gmail.com, bob");
  auto v = ParseTableOutput("@x.vn\ty@gmail.com\n", false);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].first, "@x.vn");
}

TEST(PostfixTablesTest, RunCommandReportsMissingProgramAndOutput) {
  EXPECT_EQ(RunCommand({"mailwarden-no-such-program"}, "", 5, 100).status().code(),
            Status::Code::kNotFound);
  auto r = RunCommand({"cat"}, "hello\n", 5, 100);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "hello\n");
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_EQ(RunCommand({"sleep", "5"}, "", 1, 100).status().code(), Status::Code::kTimeout);
  EXPECT_EQ(RunCommand({"yes"}, "", 5, 1000).status().code(), Status::Code::kLimitExceeded);
}

TEST(PostfixTablesTest, UnlistableTypes) {
  EXPECT_FALSE(PostfixTable("/etc/postfix", "ldap:/etc/postfix/ldap.cf", false).MaybeListable());
  EXPECT_FALSE(PostfixTable("/etc/postfix", "proxy:mysql:/x.cf", false).MaybeListable());
  EXPECT_TRUE(PostfixTable("/etc/postfix", "hash:/etc/postfix/virtual", false).MaybeListable());
}

}  // namespace
}  // namespace mailwarden::audit

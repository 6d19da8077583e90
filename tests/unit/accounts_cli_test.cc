// `mailwarden-policyd accounts ...` and `report inactive` through RunAdminCommand, on a real
// SQLite file, with a fixed clock: output, exit statuses, and what ends up in the store.
#include "policyd/accounts_cli.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "policyd/store/account_directory.h"
#include "policyd/store/civil_time.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using testing::TempDir;

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

class AccountsCliTest : public ::testing::Test {
 protected:
  AccountsCliTest() {
    env_.database = "sqlite:" + dir_.Path("accounts.db");
    env_.now = *ParseUtcTime("2024-07-01T12:00:00Z");
  }

  CliRun Cli(std::vector<std::string> args) {
    std::ostringstream out, err;
    int status = RunAdminCommand(args, env_, out, err);
    return {status, out.str(), err.str()};
  }

  std::optional<Account> Stored(const std::string& address) {
    auto d = OpenAccountDirectory(env_.database);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    auto found = (*d)->Find(address);
    EXPECT_TRUE(found.ok());
    return found.ok() ? *found : std::nullopt;
  }

  TempDir dir_;
  AdminCommandEnv env_;
};

TEST_F(AccountsCliTest, AddShowAndList) {
  CliRun add =
      Cli({"accounts", "add", "Alice@Example.org", "--kind", "unit", "--role", "admin", "--quota",
           "5GiB", "--alias", "a.smith@example.org", "--password-changed", "2024-06-01"});
  ASSERT_EQ(add.status, 0) << add.err;
  EXPECT_EQ(add.out, "added alice@example.org (unit, admin)\n");
  auto a = Stored("alice@example.org");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->created_at, env_.now);
  EXPECT_EQ(a->quota_bytes, int64_t{5} << 30);
  EXPECT_EQ(a->password_changed_at, *ParseUtcTime("2024-06-01"));

  CliRun show = Cli({"accounts", "show", "A.SMITH@example.org"});
  ASSERT_EQ(show.status, 0) << show.err;
  EXPECT_NE(show.out.find("address:              alice@example.org"), std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("quota:                5GiB"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("last_login_at:        never"), std::string::npos) << show.out;

  CliRun json = Cli({"accounts", "show", "alice@example.org", "--json"});
  ASSERT_EQ(json.status, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["kind"], "unit");
  EXPECT_EQ(j["aliases"], nlohmann::json::array({"a.smith@example.org"}));
  EXPECT_TRUE(j["usage"].is_null());
  EXPECT_EQ(j["created_at"], "2024-07-01T12:00:00Z");

  ASSERT_EQ(Cli({"accounts", "add", "bob@example.org"}).status, 0);
  CliRun list = Cli({"accounts", "list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(list.out.rfind("ADDRESS", 0), 0u);
  EXPECT_NE(list.out.find("\nalice@example.org  unit "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\nbob@example.org    personal"), std::string::npos) << list.out;
  CliRun units = Cli({"accounts", "list", "--kind", "unit", "--json"});
  EXPECT_EQ(units.out.find("bob@"), std::string::npos);
  EXPECT_NE(units.out.find("\"address\":\"alice@example.org\""), std::string::npos);
}

TEST_F(AccountsCliTest, SuspendTerminateReactivate) {
  ASSERT_EQ(Cli({"accounts", "add", "a@example.org"}).status, 0);
  CliRun suspend = Cli({"accounts", "suspend", "a@example.org", "--reason", "phishing reported"});
  ASSERT_EQ(suspend.status, 0) << suspend.err;
  EXPECT_EQ(suspend.out, "suspended a@example.org: phishing reported\n");
  EXPECT_EQ(Stored("a@example.org")->state, AccountState::kSuspended);
  EXPECT_EQ(Stored("a@example.org")->state_reason, "phishing reported");

  ASSERT_EQ(Cli({"accounts", "terminate", "a@example.org", "--reason", "retired"}).status, 0);
  EXPECT_EQ(Stored("a@example.org")->state, AccountState::kTerminated);
  CliRun again = Cli({"accounts", "suspend", "a@example.org", "--reason", "x"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("is terminated; reactivate it first"), std::string::npos);

  ASSERT_EQ(Cli({"accounts", "set", "a@example.org", "--terminate-at", "2024-06-30"}).status, 0);
  CliRun reactivate = Cli({"accounts", "reactivate", "a@example.org"});
  ASSERT_EQ(reactivate.status, 0) << reactivate.err;
  EXPECT_EQ(reactivate.out, "reactivated a@example.org; termination date 2024-06-30 cleared\n");
  auto a = Stored("a@example.org");
  EXPECT_EQ(a->state, AccountState::kActive);
  EXPECT_EQ(a->state_reason, "");
  EXPECT_EQ(a->state_since, env_.now);
  EXPECT_FALSE(a->terminate_at.has_value());
}

TEST_F(AccountsCliTest, SetChangesOnlyWhatIsGiven) {
  ASSERT_EQ(Cli({"accounts", "add", "a@example.org", "--alias", "x@example.org", "--quota", "1GiB"})
                .status,
            0);
  ASSERT_EQ(Cli({"accounts", "set", "a@example.org", "--role", "admin", "--last-login", "now",
                 "--terminate-at", "2025-01-01"})
                .status,
            0);
  auto a = Stored("a@example.org");
  EXPECT_EQ(a->role, AccountRole::kAdmin);
  EXPECT_EQ(a->last_login_at, env_.now);
  EXPECT_EQ(a->terminate_at, *ParseUtcTime("2025-01-01"));
  EXPECT_EQ(a->quota_bytes, int64_t{1} << 30);
  EXPECT_EQ(a->aliases, std::vector<std::string>{"x@example.org"});
  ASSERT_EQ(Cli({"accounts", "set", "a@example.org", "--quota", "default", "--no-aliases",
                 "--terminate-at", "none"})
                .status,
            0);
  a = Stored("a@example.org");
  EXPECT_FALSE(a->quota_bytes.has_value());
  EXPECT_TRUE(a->aliases.empty());
  EXPECT_FALSE(a->terminate_at.has_value());
}

TEST_F(AccountsCliTest, UnknownAccountsAndAliasesFailWithExitOne) {
  ASSERT_EQ(Cli({"accounts", "add", "a@example.org", "--alias", "x@example.org"}).status, 0);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"accounts", "show", "nobody@example.org"},
        {"accounts", "set", "nobody@example.org", "--role", "admin"},
        {"accounts", "suspend", "nobody@example.org", "--reason", "x"},
        {"accounts", "reactivate", "nobody@example.org"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.status, 1) << args[1];
    EXPECT_NE(r.err.find("no account nobody@example.org"), std::string::npos) << r.err;
  }
  CliRun alias = Cli({"accounts", "suspend", "x@example.org", "--reason", "x"});
  EXPECT_EQ(alias.status, 1);
  EXPECT_NE(alias.err.find("x@example.org is an alias of a@example.org"), std::string::npos);
  CliRun twice = Cli({"accounts", "add", "A@example.org"});
  EXPECT_EQ(twice.status, 1);
  EXPECT_NE(twice.err.find("account a@example.org already exists"), std::string::npos);
}

TEST_F(AccountsCliTest, UsageErrorsExitTwo) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"accounts"},
        {"accounts", "frobnicate"},
        {"accounts", "add"},
        {"accounts", "add", "a@example.org", "--kind", "robot"},
        {"accounts", "add", "a@example.org", "--quota", "lots"},
        {"accounts", "add", "a@example.org", "--password-changed", "yesterday"},
        {"accounts", "add", "a@example.org", "--bogus"},
        {"accounts", "suspend", "a@example.org"},
        {"accounts", "set", "a@example.org"},
        {"report", "inactive", "--over", "soon"},
        {"report", "busiest"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.status, 2) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("usage:"), std::string::npos);
  }
  EXPECT_EQ(Cli({"accounts", "--help"}).status, 0);
}

TEST_F(AccountsCliTest, ImportIsAllOrNothingWithLineNumbers) {
  std::string bad = dir_.Write("bad.csv",
                               "address,kind,role,last_login_at\n"
                               "a@example.org,personal,user,2024-01-01\n"
                               "b@example.org,personal,boss,2024-01-01\n");
  CliRun r = Cli({"accounts", "import", bad});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(bad + ":3: role 'boss' is not user or admin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing imported"), std::string::npos);
  EXPECT_FALSE(Stored("a@example.org"));

  ASSERT_EQ(Cli({"accounts", "add", "owner@example.org", "--alias", "info@example.org"}).status, 0);
  std::string conflict = dir_.Write("conflict.csv",
                                    "address,aliases\n"
                                    "a@example.org,\n"
                                    "b@example.org,info@example.org\n");
  r = Cli({"accounts", "import", conflict});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(conflict + ":3: alias info@example.org already belongs to owner@"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(Stored("a@example.org"));

  std::string good = dir_.Write("good.csv",
                                "address,kind,usage_bytes,usage_messages\n"
                                "a@example.org,unit,1MiB,7\n"
                                "b@example.org,shared,,\n");
  r = Cli({"accounts", "import", good});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "imported 2 accounts from " + good + "\n");
  EXPECT_EQ(Stored("a@example.org")->kind, AccountKind::kUnit);
  CliRun show = Cli({"accounts", "show", "a@example.org"});
  EXPECT_NE(show.out.find("usage:                1MiB in 7 messages"), std::string::npos)
      << show.out;

  CliRun missing = Cli({"accounts", "import", dir_.Path("missing.csv")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos);
}

// A3: unused for over 6 months, revocable after 15 days' notice. The clock is 2024-07-01.
TEST_F(AccountsCliTest, ReportInactiveListsNoticeAndDueMailboxes) {
  auto add = [&](const std::string& address, const std::string& created,
                 const std::string& last_login) {
    std::vector<std::string> args = {"accounts", "add", address, "--created", created};
    if (!last_login.empty()) {
      args.push_back("--last-login");
      args.push_back(last_login);
    }
    ASSERT_EQ(Cli(args).status, 0) << address;
  };
  add("due@example.org", "2023-01-01", "2023-12-01");     // due 2024-06-01
  add("notice@example.org", "2023-01-01", "2024-01-10");  // due 2024-07-10, notice 06-25
  add("recent@example.org", "2023-01-01", "2024-06-01");  // not listed
  add("never@example.org", "2023-11-01", "");             // never: from creation, due 05-01
  add("gone@example.org", "2023-01-01", "2023-01-02");    // terminated: not listed
  ASSERT_EQ(Cli({"accounts", "terminate", "gone@example.org", "--reason", "left"}).status, 0);

  CliRun r = Cli({"report", "inactive", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<nlohmann::json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0]["address"], "never@example.org");
  EXPECT_EQ(lines[0]["last_login_at"], nullptr);
  EXPECT_EQ(lines[0]["due_date"], "2024-05-01");
  EXPECT_EQ(lines[0]["status"], "due");
  EXPECT_EQ(lines[1]["address"], "due@example.org");
  EXPECT_EQ(lines[1]["notice_date"], "2024-05-17");
  EXPECT_EQ(lines[1]["due_date"], "2024-06-01");
  EXPECT_EQ(lines[2]["address"], "notice@example.org");
  EXPECT_EQ(lines[2]["notice_date"], "2024-06-25");
  EXPECT_EQ(lines[2]["due_date"], "2024-07-10");
  EXPECT_EQ(lines[2]["status"], "notice");

  CliRun table = Cli({"report", "inactive", "--over", "1mo"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("recent@example.org"), std::string::npos) << table.out;  // 07-01
  EXPECT_EQ(table.out.find("gone@example.org"), std::string::npos);
  EXPECT_EQ(table.out.rfind("ADDRESS", 0), 0u);
}

TEST_F(AccountsCliTest, ArgvDispatch) {
  const char* report[] = {"mailwarden-policyd", "--database", "sqlite:/x.db", "report", "inactive"};
  const char* daemon[] = {"mailwarden-policyd", "--config", "c.yaml", "--check-config"};
  const char* accounts[] = {"mailwarden-policyd", "-c", "c.yaml", "accounts", "list"};
  EXPECT_TRUE(IsAdminCommand(5, const_cast<char**>(report)));
  EXPECT_FALSE(IsAdminCommand(4, const_cast<char**>(daemon)));
  EXPECT_TRUE(IsAdminCommand(5, const_cast<char**>(accounts)));
}

}  // namespace
}  // namespace mailwarden

// Dovecot's quota and last-login dicts read from a real SQLite file laid out as Dovecot's
// SQL dict writes it, and the directory that merges them into accounts.
#include "policyd/store/dovecot_dicts.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/config.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/dovecot_directory.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using testing::TempDir;

constexpr int64_t kDay = 86400;
constexpr int64_t kNow = 1'790'000'000;

// Runs `sql` on the SQLite file at `path` (what Dovecot's dict process does); "" or the error.
std::string Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* error = nullptr;
  sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string out = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  return out;
}

constexpr const char* kDovecotTables =
    "CREATE TABLE quota (username TEXT PRIMARY KEY, bytes INTEGER NOT NULL DEFAULT 0,"
    " messages INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE last_login (username TEXT PRIMARY KEY, last_login INTEGER);";

class DovecotDictsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(Exec(dict_, kDovecotTables), ""); }

  DovecotDictOptions Options(std::string table) {
    DovecotDictOptions o;
    o.timeout_ms = 1000;
    o.table = std::move(table);
    return o;
  }

  // A directory holding alice (never logged in per the directory, an imported usage) and bob.
  std::unique_ptr<AccountDirectory> Directory(const std::string& file = "accounts.db") {
    auto d = OpenAccountDirectory("sqlite:" + dir_.Path(file));
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    Account alice;
    alice.address = "alice@example.org";
    alice.created_at = alice.state_since = kNow - 400 * kDay;
    EXPECT_TRUE((*d)->Add(alice).ok());
    EXPECT_TRUE((*d)->SetUsage("alice@example.org", {100, 1}).ok());
    Account bob = alice;
    bob.address = "bob@example.org";
    bob.last_login_at = kNow - 10 * kDay;
    EXPECT_TRUE((*d)->Add(bob).ok());
    return std::move(d).value();
  }

  TempDir dir_;
  std::string dict_ = dir_.Path("dovecot-dict.db");
};

TEST(DovecotLoginTimeTest, TellsTheUnitFromTheMagnitude) {
  EXPECT_EQ(ParseDovecotLoginTime("1790000000"), 1790000000);           // s (default)
  EXPECT_EQ(ParseDovecotLoginTime("1790000000123"), 1790000000);        // ms
  EXPECT_EQ(ParseDovecotLoginTime("1790000000123456"), 1790000000);     // us
  EXPECT_EQ(ParseDovecotLoginTime("1790000000123456000"), 1790000000);  // ns
  EXPECT_EQ(ParseDovecotLoginTime("0"), 0);
  for (const char* bad : {"", "-5", "+5", "12a", " 12", "1.5", "99999999999999999999"}) {
    EXPECT_EQ(ParseDovecotLoginTime(bad), std::nullopt) << bad;
  }
}

TEST_F(DovecotDictsTest, ReadsTheQuotaRowOrNothing) {
  ASSERT_EQ(Exec(dict_, "INSERT INTO quota VALUES ('alice@example.org', 5000, 7)"), "");
  auto quota = OpenDovecotQuota("sqlite:" + dict_, Options("quota"));
  ASSERT_TRUE(quota.ok()) << quota.status().ToString();
  auto u = (*quota)->Usage("alice@example.org");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->bytes, 5000);
  EXPECT_EQ((*u)->messages, 7);
  auto none = (*quota)->Usage("carol@example.org");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // Dovecot's writes after the open are seen by the next read.
  ASSERT_EQ(Exec(dict_, "UPDATE quota SET bytes = bytes + 1000"), "");
  EXPECT_EQ((*(*quota)->Usage("alice@example.org"))->bytes, 6000);
}

TEST_F(DovecotDictsTest, ABrokenValueIsAnErrorNotAGuess) {
  ASSERT_EQ(Exec(dict_,
                 "INSERT INTO quota VALUES ('alice@example.org', -1, 0);"
                 "INSERT INTO last_login VALUES ('alice@example.org', 'yesterday');"),
            "");
  auto quota = OpenDovecotQuota("sqlite:" + dict_, Options("quota"));
  ASSERT_TRUE(quota.ok());
  EXPECT_EQ((*quota)->Usage("alice@example.org").status().code(), Status::Code::kUnavailable);
  auto login = OpenDovecotLastLogin("sqlite:" + dict_, Options("last_login"));
  ASSERT_TRUE(login.ok());
  auto l = (*login)->LastLogin("alice@example.org");
  EXPECT_EQ(l.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(l.status().message().find("not a time"), std::string::npos);
}

TEST_F(DovecotDictsTest, OpeningChecksTheSpecTheTableAndTheFile) {
  EXPECT_EQ(OpenDovecotQuota("mysql://x", Options("quota")).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(OpenDovecotQuota("sqlite:" + dict_, Options("quota; DROP TABLE quota")).status().code(),
            Status::Code::kInvalidArgument);
  auto missing_table = OpenDovecotQuota("sqlite:" + dict_, Options("quota2"));
  EXPECT_EQ(missing_table.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(missing_table.status().message().find("quota2"), std::string::npos)
      << missing_table.status().message();
  // Dovecot's file is never created by a reader.
  auto missing_file = OpenDovecotLastLogin("sqlite:" + dir_.Path("none.db"), Options("last_login"));
  EXPECT_EQ(missing_file.status().code(), Status::Code::kUnavailable);
  EXPECT_FALSE(std::filesystem::exists(dir_.Path("none.db")));
}

TEST_F(DovecotDictsTest, TheDirectoryTakesTheLaterLoginAndDovecotsUsage) {
  ASSERT_EQ(Exec(dict_,
                 "INSERT INTO quota VALUES ('bob@example.org', 9000, 3);"
                 "INSERT INTO last_login VALUES ('alice@example.org', " +
                     std::to_string(kNow - 2 * kDay) +
                     ");"
                     // older than the directory's: the directory's stays
                     "INSERT INTO last_login VALUES ('bob@example.org', " +
                     std::to_string((kNow - 50 * kDay) * 1000) + ");"),
            "");
  auto quota = OpenDovecotQuota("sqlite:" + dict_, Options("quota"));
  auto login = OpenDovecotLastLogin("sqlite:" + dict_, Options("last_login"));
  ASSERT_TRUE(quota.ok() && login.ok());
  auto d = WithDovecotDicts(Directory(), std::move(quota).value(), std::move(login).value());

  auto alice = d->Find("Alice@Example.org");
  ASSERT_TRUE(alice.ok() && alice->has_value());
  EXPECT_EQ((*alice)->last_login_at, kNow - 2 * kDay);
  auto bob = d->Find("bob@example.org");
  EXPECT_EQ((*bob)->last_login_at, kNow - 10 * kDay);

  EXPECT_EQ((*d->Usage("bob@example.org"))->bytes, 9000);
  // Dovecot has no row for alice: the imported usage.
  EXPECT_EQ((*d->Usage("alice@example.org"))->bytes, 100);

  auto all = d->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].last_login_at, kNow - 2 * kDay);

  // Writes go to the directory alone.
  Account carol;
  carol.address = "carol@example.org";
  EXPECT_TRUE(d->Add(carol).ok());
  EXPECT_TRUE(d->Find("carol@example.org")->has_value());
}

TEST_F(DovecotDictsTest, AFailingSourceFailsTheLookup) {
  auto login = OpenDovecotLastLogin("sqlite:" + dict_, Options("last_login"));
  ASSERT_TRUE(login.ok());
  auto d = WithDovecotDicts(Directory(), nullptr, std::move(login).value());
  ASSERT_TRUE(d->Find("alice@example.org").ok());
  ASSERT_EQ(Exec(dict_, "DROP TABLE last_login"), "");
  auto after = d->Find("alice@example.org");
  EXPECT_EQ(after.status().code(), Status::Code::kUnavailable) << after.status().ToString();
  // An unknown address needs no login record.
  auto unknown = d->Find("nobody@example.org");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(DovecotDictsTest, AttachedFromTheConfigurationWithTheSettingNamedInErrors) {
  std::string conf = dir_.Path("mailwarden.yaml");
  std::ofstream(conf) << "version: 1\nrule_files: []\naccounts:\n  dovecot_quota: sqlite:" << dict_
                      << "\n  dovecot_quota_table: usage_by_user\n";
  auto config = LoadConfig(conf);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto attached = AttachDovecotDicts(Directory(), **config, 1000);
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(attached.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(attached.status().message().starts_with("accounts.dovecot_quota 'sqlite:"))
      << attached.status().message();
  EXPECT_NE(attached.status().message().find("usage_by_user"), std::string::npos);

  std::ofstream(conf) << "version: 1\nrule_files: []\naccounts:\n  dovecot_last_login: sqlite:"
                      << dict_ << "\n";
  config = LoadConfig(conf);
  ASSERT_TRUE(config.ok());
  attached = AttachDovecotDicts(Directory("second.db"), **config, 1000);
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
}

}  // namespace
}  // namespace mailwarden

// The account directory on both stores: a real SQLite file in a temporary directory, and a
// real PostgreSQL server (a fresh database per test). Migrations, lookups, writes, imports,
// concurrency, lock timeouts and lost connections; and the CSV and date parsers feeding it.
//
// The PostgreSQL server is the ctest fixture's (tests/unit/policyd_tests.cmake, started by
// tests/integration/mwpostgres.py): MW_TEST_POSTGRES_DSN holds a postgresql:// URI of a
// database the tests may create databases from, or the path of a file holding one (what the
// fixture gives). Without it the PostgreSQL tests fail, saying so: they are never skipped.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "policyd/store/account_csv.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/civil_time.h"
#include "policyd/store/pg_account_directory.h"
#include "policyd/store/sqlite_account_directory.h"
#include "tests/unit/raw_sessions.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using std::chrono::milliseconds;
using testing::PostgresServerDsn;
using testing::RawPostgres;
using testing::RawSession;
using testing::RawSqlite;
using testing::TempDir;
using testing::WithDatabase;

enum class Backend { kSqlite, kPostgres };

Account MakeAccount(const std::string& address, std::vector<std::string> aliases = {}) {
  Account a;
  a.address = address;
  a.aliases = std::move(aliases);
  a.created_at = 1700000000;
  a.state_since = 1700000000;
  return a;
}

// Each test on a store of its own: a new SQLite file, or a new PostgreSQL database (created
// from template0, dropped at the end).
class AccountStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      spec_ = "sqlite:" + path_;
      return;
    }
    server_dsn_ = PostgresServerDsn();
    ASSERT_FALSE(server_dsn_.empty())
        << "MW_TEST_POSTGRES_DSN is not set: the PostgreSQL tests need a server. Run them "
           "through ctest (the fixture.postgres.start test starts one), or start one with "
           "`python3 tests/integration/mwpostgres.py start DIR` and set "
           "MW_TEST_POSTGRES_DSN=DIR/dsn";
    static std::atomic<int> counter{0};
    db_ = "mwtest_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    RawPostgres admin(server_dsn_);
    admin.Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    ASSERT_EQ(admin.Exec("CREATE DATABASE " + db_ + " TEMPLATE template0"), "");
    spec_ = WithDatabase(server_dsn_, db_);
  }

  void TearDown() override {
    if (db_.empty()) return;
    RawPostgres(server_dsn_).Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }

  bool postgres() const { return GetParam() == Backend::kPostgres; }

  Result<std::unique_ptr<AccountDirectory>> TryOpen(int64_t timeout_ms = 2000,
                                                    int connections = 4) {
    AccountDirectoryOptions options;
    options.timeout_ms = timeout_ms;
    options.max_connections = connections;
    return OpenAccountDirectory(spec_, options);
  }

  std::unique_ptr<AccountDirectory> OpenOrDie(int64_t timeout_ms = 2000, int connections = 4) {
    auto d = TryOpen(timeout_ms, connections);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  std::unique_ptr<RawSession> Raw() {
    if (postgres()) return std::make_unique<RawPostgres>(spec_);
    return std::make_unique<RawSqlite>(path_);
  }

  static Result<int> SchemaVersion(const AccountDirectory& d) {
    if (auto* pg = dynamic_cast<const PgAccountDirectory*>(&d)) return pg->SchemaVersion();
    return dynamic_cast<const SqliteAccountDirectory&>(d).SchemaVersion();
  }
  int LatestSchemaVersion() const {
    return postgres() ? PgAccountDirectory::LatestSchemaVersion()
                      : SqliteAccountDirectory::LatestSchemaVersion();
  }

  TempDir dir_;
  std::string path_ = dir_.Path("accounts.db");
  std::string server_dsn_;  // PostgreSQL: the fixture's server
  std::string db_;          // PostgreSQL: this test's database
  std::string spec_;        // accounts.database of this test's store
};

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

INSTANTIATE_TEST_SUITE_P(Stores, AccountStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

// The tables of a fresh store, whichever the backend.
TEST_P(AccountStoreTest, MigratesAFreshDatabase) {
  auto d = OpenOrDie();
  ASSERT_NE(d, nullptr);
  auto version = SchemaVersion(*d);
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, LatestSchemaVersion());
  const std::string tables =
      postgres() ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                   "current_schema() AND table_name IN "
                   "('accounts', 'aliases', 'usage', 'schema_version')"
                 : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                   "('accounts', 'aliases', 'usage', 'schema_version')";
  EXPECT_EQ(Raw()->Scalar(tables), "4");
}

TEST_P(AccountStoreTest, ReopeningAMigratedDatabaseKeepsDataAndAppliesNothingTwice) {
  ASSERT_TRUE(OpenOrDie()->Add(MakeAccount("a@example.org")).ok());
  auto again = OpenOrDie();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*SchemaVersion(*again), LatestSchemaVersion());
  auto found = again->Find("a@example.org");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
  EXPECT_EQ(Raw()->Scalar("SELECT count(*) FROM schema_version"),
            std::to_string(LatestSchemaVersion()));
}

// Daemons starting together on a fresh store: each migration is applied once, and every
// one of them opens the store.
TEST_P(AccountStoreTest, ConcurrentOpensMigrateOnce) {
  std::vector<std::thread> openers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    openers.emplace_back([&] {
      auto d = TryOpen(5000, 1);
      if (!d.ok()) {
        ADD_FAILURE() << d.status().ToString();
        ++failures;
      }
    });
  }
  for (auto& t : openers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Raw()->Scalar("SELECT count(*) FROM schema_version"),
            std::to_string(LatestSchemaVersion()));
}

TEST_P(AccountStoreTest, RefusesADatabaseFromANewerVersion) {
  OpenOrDie();
  EXPECT_EQ(Raw()->Exec("INSERT INTO schema_version VALUES (999, 'future', 0)"), "");
  auto d = TryOpen();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(d.status().message().find("schema version 999 is newer"), std::string::npos)
      << d.status().message();
}

TEST_P(AccountStoreTest, StoresEveryField) {
  auto d = OpenOrDie();
  Account a = MakeAccount("boss@example.org", {"director@example.org"});
  a.kind = AccountKind::kUnit;
  a.role = AccountRole::kAdmin;
  a.state = AccountState::kSuspended;
  a.state_reason = "misuse reported by IT";
  a.state_since = 1710000000;
  a.terminate_at = 1720000000;
  a.quota_bytes = int64_t{5} << 30;
  a.password_changed_at = 1705000000;
  a.last_login_at = 1709000000;
  ASSERT_TRUE(d->Add(a).ok());
  auto found = d->Find("boss@example.org");
  ASSERT_TRUE(found.ok() && found->has_value());
  const Account& b = **found;
  EXPECT_EQ(b.kind, AccountKind::kUnit);
  EXPECT_EQ(b.role, AccountRole::kAdmin);
  EXPECT_EQ(b.state, AccountState::kSuspended);
  EXPECT_EQ(b.state_reason, "misuse reported by IT");
  EXPECT_EQ(b.state_since, 1710000000);
  EXPECT_EQ(b.terminate_at, 1720000000);
  EXPECT_EQ(b.quota_bytes, int64_t{5} << 30);
  EXPECT_EQ(b.password_changed_at, 1705000000);
  EXPECT_EQ(b.last_login_at, 1709000000);
  EXPECT_EQ(b.created_at, 1700000000);
  EXPECT_EQ(b.aliases, std::vector<std::string>{"director@example.org"});
}

TEST_P(AccountStoreTest, FindIsCaseInsensitiveAndResolvesAliases) {
  auto d = OpenOrDie();
  ASSERT_TRUE(d->Add(MakeAccount("Alice@Example.ORG", {"A.Smith@example.org"})).ok());
  for (const char* query : {"alice@example.org", "ALICE@EXAMPLE.ORG", " <alice@example.org> ",
                            "a.smith@EXAMPLE.org", "<A.SMITH@example.org>"}) {
    auto found = d->Find(query);
    ASSERT_TRUE(found.ok()) << query;
    ASSERT_TRUE(found->has_value()) << query;
    EXPECT_EQ((*found)->address, "alice@example.org") << query;
    EXPECT_EQ((*found)->aliases, std::vector<std::string>{"a.smith@example.org"});
  }
  auto unknown = d->Find("bob@example.org");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

TEST_P(AccountStoreTest, AnAddressBelongsToOneAccountOnly) {
  auto d = OpenOrDie();
  ASSERT_TRUE(d->Add(MakeAccount("a@example.org", {"info@example.org"})).ok());
  EXPECT_EQ(d->Add(MakeAccount("A@example.org")).code(), Status::Code::kAlreadyExists);
  Status as_alias = d->Add(MakeAccount("b@example.org", {"a@example.org"}));
  EXPECT_EQ(as_alias.code(), Status::Code::kAlreadyExists);
  EXPECT_NE(as_alias.message().find("is an account of its own"), std::string::npos);
  Status taken = d->Add(MakeAccount("c@example.org", {"INFO@example.org"}));
  EXPECT_EQ(taken.code(), Status::Code::kAlreadyExists);
  EXPECT_NE(taken.message().find("already belongs to a@example.org"), std::string::npos);
  EXPECT_EQ(d->Add(MakeAccount("info@example.org")).code(), Status::Code::kAlreadyExists);
  // A failed Add leaves nothing behind (one transaction).
  EXPECT_FALSE(d->Find("c@example.org")->has_value());
  EXPECT_FALSE(d->Find("b@example.org")->has_value());
}

TEST_P(AccountStoreTest, UpdateReplacesFieldsAndAliases) {
  auto d = OpenOrDie();
  ASSERT_TRUE(d->Add(MakeAccount("a@example.org", {"old@example.org"})).ok());
  Account a = MakeAccount("a@example.org", {"new1@example.org", "new2@example.org"});
  a.quota_bytes = 1024;
  ASSERT_TRUE(d->Update(a).ok());
  EXPECT_FALSE(d->Find("old@example.org")->has_value());
  EXPECT_EQ((*d->Find("new2@example.org"))->quota_bytes, 1024);
  EXPECT_EQ(d->Update(MakeAccount("nobody@example.org")).code(), Status::Code::kNotFound);
}

TEST_P(AccountStoreTest, RefusesValuesThatCannotBeUsed) {
  auto d = OpenOrDie();
  for (const char* bad :
       {"", "no-at-sign", "@example.org", "a@", "a@b@c", "a b@example.org", "a,b@example.org"}) {
    EXPECT_EQ(d->Add(MakeAccount(bad)).code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(d->Add(MakeAccount("a@example.org", {"A@example.org"})).code(),
            Status::Code::kInvalidArgument);
  Account injected = MakeAccount("a@example.org");
  injected.state_reason = "x\r\n250 OK";  // would end up in an SMTP reply
  EXPECT_EQ(d->Add(injected).code(), Status::Code::kInvalidArgument);
  Account negative = MakeAccount("a@example.org");
  negative.quota_bytes = -1;
  EXPECT_EQ(d->Add(negative).code(), Status::Code::kInvalidArgument);
  // Quotes and backslashes are data, bound as values (never part of the SQL).
  Account quoted = MakeAccount("o'brien@example.org");
  quoted.state_reason = "it's a \\ test'); DROP TABLE accounts; --";
  ASSERT_TRUE(d->Add(quoted).ok());
  EXPECT_EQ((*d->Find("O'Brien@example.org"))->state_reason, quoted.state_reason);
  EXPECT_EQ(d->List()->size(), 1u);
}

TEST_P(AccountStoreTest, UsageAndLogins) {
  auto d = OpenOrDie();
  ASSERT_TRUE(d->Add(MakeAccount("a@example.org")).ok());
  EXPECT_FALSE(d->Usage("a@example.org")->has_value());
  ASSERT_TRUE(d->SetUsage("A@example.org", {1000, 3}).ok());
  ASSERT_TRUE(d->SetUsage("a@example.org", {int64_t{3} << 40, 4}).ok());  // beyond 32 bits
  auto usage = d->Usage("a@example.org");
  ASSERT_TRUE(usage.ok() && usage->has_value());
  EXPECT_EQ((*usage)->bytes, int64_t{3} << 40);
  EXPECT_EQ((*usage)->messages, 4);
  EXPECT_EQ(d->SetUsage("nobody@example.org", {1, 1}).code(), Status::Code::kNotFound);
  EXPECT_EQ(d->SetUsage("a@example.org", {-1, 0}).code(), Status::Code::kInvalidArgument);

  ASSERT_TRUE(d->RecordLogin("a@example.org", 1710000000).ok());
  ASSERT_TRUE(d->RecordLogin("a@example.org", 1700000500).ok());  // late report: ignored
  EXPECT_EQ((*d->Find("a@example.org"))->last_login_at, 1710000000);
  EXPECT_EQ(d->RecordLogin("nobody@example.org", 1).code(), Status::Code::kNotFound);
}

TEST_P(AccountStoreTest, ImportIsAllOrNothing) {
  auto d = OpenOrDie();
  ASSERT_TRUE(d->Add(MakeAccount("owner@example.org", {"taken@example.org"})).ok());
  std::vector<AccountDirectory::ImportRecord> records(3);
  records[0].account = MakeAccount("one@example.org");
  records[0].usage = MailboxUsage{10, 1};
  records[0].origin = "f.csv:2";
  records[1].account = MakeAccount("two@example.org");
  records[1].origin = "f.csv:3";
  records[2].account = MakeAccount("three@example.org", {"taken@example.org"});
  records[2].origin = "f.csv:4";
  Status s = d->Import(records);
  EXPECT_EQ(s.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(s.message().rfind("f.csv:4: alias taken@example.org already belongs to", 0), 0u)
      << s.message();
  EXPECT_EQ(d->List()->size(), 1u);
  EXPECT_FALSE(d->Usage("one@example.org")->has_value());

  records.pop_back();
  ASSERT_TRUE(d->Import(records).ok());
  EXPECT_EQ(d->List()->size(), 3u);
  EXPECT_EQ((*d->Usage("one@example.org"))->bytes, 10);

  // Importing again replaces; a record without created_at keeps the stored one.
  records[0].account.created_at = 0;
  records[0].account.kind = AccountKind::kShared;
  ASSERT_TRUE(d->Import(std::span(records).first(1)).ok());
  auto one = *d->Find("one@example.org");
  EXPECT_EQ(one->kind, AccountKind::kShared);
  EXPECT_EQ(one->created_at, 1700000000);
}

// Readers see each account whole (its row and its aliases from one snapshot) while a writer
// keeps changing it, and none of them fails.
TEST_P(AccountStoreTest, ConcurrentFindsWhileUpdating) {
  auto d = OpenOrDie(/*timeout_ms=*/5000, /*connections=*/4);
  Account personal = MakeAccount("a@example.org", {"p@example.org"});
  Account unit = MakeAccount("a@example.org", {"u1@example.org", "u2@example.org"});
  unit.kind = AccountKind::kUnit;
  ASSERT_TRUE(d->Add(personal).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> finds{0}, failures{0}, torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto found = d->Find("A@example.org");
        if (!found.ok() || !found->has_value()) {
          ++failures;
          continue;
        }
        const Account& a = **found;
        bool whole = (a.kind == AccountKind::kPersonal && a.aliases == personal.aliases) ||
                     (a.kind == AccountKind::kUnit && a.aliases == unit.aliases);
        if (!whole) ++torn;
        ++finds;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(d->Update(i % 2 ? personal : unit).ok()) << i;
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(finds.load(), 0);
}

// ---- SQLite only -------------------------------------------------------------------------

class SqliteAccountStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteAccountDirectory> OpenOrDie(int64_t timeout_ms = 2000) {
    auto d = SqliteAccountDirectory::Open(path_, {.timeout_ms = timeout_ms});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  TempDir dir_;
  std::string path_ = dir_.Path("accounts.db");
};

TEST_F(SqliteAccountStoreTest, UsesAWalJournal) {
  ASSERT_NE(OpenOrDie(), nullptr);
  EXPECT_EQ(RawSqlite(path_).Scalar("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteAccountStoreTest, AFileThatCannotBeOpenedIsUnavailableNamingIt) {
  auto d = OpenAccountDirectory("sqlite:" + dir_.Path("missing-dir/accounts.db"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(d.status().message().find("missing-dir/accounts.db"), std::string::npos);
  EXPECT_EQ(OpenAccountDirectory("mysql://db/accounts").status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(OpenAccountDirectory("sqlite:").status().code(), Status::Code::kInvalidArgument);
}

// Another process holding the file locked: the call gives up at its budget, with kTimeout.
TEST_F(SqliteAccountStoreTest, ALockedDatabaseTimesOutWithinTheBudget) {
  constexpr int64_t kBudgetMs = 150;
  auto d = OpenOrDie(kBudgetMs);
  ASSERT_TRUE(d->Add(MakeAccount("a@example.org")).ok());

  {
    RawSqlite writer(path_);
    ASSERT_EQ(writer.Exec("BEGIN IMMEDIATE"), "");
    auto start = std::chrono::steady_clock::now();
    Status s = d->Update(MakeAccount("a@example.org"));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
    EXPECT_GE(took, milliseconds(kBudgetMs - 10));
    EXPECT_LT(took, milliseconds(kBudgetMs + 1000));
    // WAL: readers are not blocked by a writer.
    EXPECT_TRUE(d->Find("a@example.org").ok());
    writer.Exec("ROLLBACK");
  }
  // WAL readers never wait for a writer; what can lock them out is a process holding the
  // whole file exclusively. Opening the store then gives up at its open budget.
  d.reset();
  {
    RawSqlite exclusive(path_);
    ASSERT_EQ(exclusive.Exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
                             "UPDATE accounts SET role = 'admin'"),
              "");
    auto start = std::chrono::steady_clock::now();
    auto blocked = SqliteAccountDirectory::Open(path_, {.timeout_ms = kBudgetMs});
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(blocked.ok());
    EXPECT_TRUE(blocked.status().code() == Status::Code::kTimeout ||
                blocked.status().code() == Status::Code::kUnavailable)
        << blocked.status().ToString();
    EXPECT_LT(took, milliseconds(SqliteAccountDirectory::kOpenTimeoutMs + 1000));
  }
  d = OpenOrDie(kBudgetMs);
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->Find("a@example.org").ok());  // the lock gone, the store works again
}

// ---- PostgreSQL only ---------------------------------------------------------------------

class PgAccountStoreTest : public AccountStoreTest {};
INSTANTIATE_TEST_SUITE_P(Stores, PgAccountStoreTest, ::testing::Values(Backend::kPostgres),
                         BackendName);

// Another session holding the table locked: every call, reader or writer, gives up at its
// budget with kTimeout (its statement cancelled), and the pool works again once the lock
// is gone.
TEST_P(PgAccountStoreTest, ALockedTableTimesOutWithinTheBudgetAndThePoolRecovers) {
  constexpr int64_t kBudgetMs = 150;
  auto d = OpenOrDie(kBudgetMs, /*connections=*/2);
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->Add(MakeAccount("a@example.org")).ok());
  {
    auto locker = Raw();
    ASSERT_EQ(locker->Exec("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE"), "");
    for (int i = 0; i < 3; ++i) {  // more calls than connections: none is lost to the lock
      auto start = std::chrono::steady_clock::now();
      Status s =
          i == 1 ? d->Find("a@example.org").status() : d->Update(MakeAccount("a@example.org"));
      auto took = std::chrono::steady_clock::now() - start;
      EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
      EXPECT_GE(took, milliseconds(kBudgetMs - 10));
      EXPECT_LT(took, milliseconds(kBudgetMs + 1000));
    }
    locker->Exec("ROLLBACK");
  }
  auto found = d->Find("a@example.org");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->has_value());
  EXPECT_TRUE(d->Update(MakeAccount("a@example.org")).ok());
  // Nothing was left waiting on the server: no session of ours still runs a statement.
  EXPECT_EQ(Raw()->Scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND state = 'active' AND pid <> pg_backend_pid()"),
            "0");
}

// A daemon's pool is connected by Open(), not by its first lookups (which, on a server busy
// starting backends, could exceed their budget); the CLI's single connection is the one
// that migrated.
TEST_P(PgAccountStoreTest, ADaemonsPoolIsConnectedAtOpen) {
  auto d = OpenOrDie(1000, 3);
  ASSERT_NE(d, nullptr);
  const std::string sessions =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid()";
  EXPECT_EQ(Raw()->Scalar(sessions), "3");
  d.reset();
  auto cli = OpenOrDie(1000, 1);
  ASSERT_NE(cli, nullptr);
  // The closed sessions' backends end a moment after their clients said goodbye.
  std::string left;
  for (int i = 0; i < 50 && (left = Raw()->Scalar(sessions)) != "1"; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(left, "1");
}

// The server drops the connections (a restart does that): the call that finds its
// connection dead is kUnavailable, the next one connects again.
TEST_P(PgAccountStoreTest, ALostConnectionIsReopenedOnTheNextCall) {
  auto d = OpenOrDie(1000, 4);
  ASSERT_TRUE(d->Add(MakeAccount("a@example.org")).ok());
  auto killed = Raw()->Scalar(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
      "current_database() AND pid <> pg_backend_pid()");
  EXPECT_NE(killed, "0");
  auto lost = d->Find("a@example.org");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), Status::Code::kUnavailable) << lost.status().ToString();
  EXPECT_NE(lost.status().message().find("accounts store 127.0.0.1"), std::string::npos)
      << lost.status().message();
  auto again = d->Find("a@example.org");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->has_value());
}

// A server that is not there: kUnavailable within the budget, naming host and database but
// never the password. A URI libpq cannot parse is kInvalidArgument.
TEST(PgAccountStoreOpenTest, AnUnreachableServerIsUnavailableWithoutThePassword) {
  auto start = std::chrono::steady_clock::now();
  auto d = OpenAccountDirectory("postgresql://mailwarden:s3cret@127.0.0.1:1/accounts",
                                {.timeout_ms = 300});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().code() == Status::Code::kUnavailable ||
              d.status().code() == Status::Code::kTimeout)
      << d.status().ToString();
  EXPECT_NE(d.status().message().find("accounts store 127.0.0.1:1/accounts"), std::string::npos)
      << d.status().message();
  EXPECT_EQ(d.status().message().find("s3cret"), std::string::npos) << d.status().message();
  EXPECT_LT(took, milliseconds(PgAccountDirectory::kOpenTimeoutMs + 1000));
  auto bad = OpenAccountDirectory("postgresql://h/db?no_such_option=1");
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument) << bad.status().ToString();
  EXPECT_EQ(bad.status().message().find("s3cret"), std::string::npos);
}

TEST(AccountDirectorySpecTest, ALoggedSpecHoldsNoPassword) {
  EXPECT_EQ(AccountDirectorySpecForLog("postgresql://mw:s3cret@db.example.org:5433/mail"),
            "postgresql://mw:***@db.example.org:5433/mail");
  EXPECT_EQ(
      AccountDirectorySpecForLog("postgres://db/mail?user=mw&password=s3cret&sslmode=require"),
      "postgres://db/mail?user=mw&password=***&sslmode=require");
  EXPECT_EQ(AccountDirectorySpecForLog("postgresql://mw@db/mail"), "postgresql://mw@db/mail");
  EXPECT_EQ(AccountDirectorySpecForLog("sqlite:/var/lib/a:b@c.db"), "sqlite:/var/lib/a:b@c.db");
}

// ---- CSV ------------------------------------------------------------------------------

TEST(AccountCsvTest, ReadsAGoodFile) {
  const std::string text =
      "\xEF\xBB\xBF"
      "Address,kind,role,state,quota,password_changed_at,last_login_at,created_at,aliases\r\n"
      "Alice@Example.org,personal,user,active,5GiB,2024-01-02,2024-03-04T05:06:07Z,"
      "2023-01-01,\"a.smith@example.org, alice.s@example.org\"\r\n"
      "\r\n"
      "hr@example.org,unit,,suspended,default,,,,hr-team@example.org;jobs@example.org\n"
      "root@example.org , shared , admin , active , , , , , \n";
  auto records = ParseAccountCsv(text, "dir.csv");
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 3u);
  const Account& alice = (*records)[0].account;
  EXPECT_EQ((*records)[0].origin, "dir.csv:2");
  EXPECT_EQ(alice.address, "alice@example.org");
  EXPECT_EQ(alice.quota_bytes, int64_t{5} << 30);
  EXPECT_EQ(alice.password_changed_at, *ParseUtcTime("2024-01-02"));
  EXPECT_EQ(alice.last_login_at, *ParseUtcTime("2024-03-04T05:06:07Z"));
  EXPECT_EQ(alice.created_at, *ParseUtcTime("2023-01-01"));
  EXPECT_EQ(alice.aliases,
            (std::vector<std::string>{"a.smith@example.org", "alice.s@example.org"}));
  const Account& hr = (*records)[1].account;
  EXPECT_EQ((*records)[1].origin, "dir.csv:4");
  EXPECT_EQ(hr.kind, AccountKind::kUnit);
  EXPECT_EQ(hr.role, AccountRole::kUser);
  EXPECT_EQ(hr.state, AccountState::kSuspended);
  EXPECT_FALSE(hr.quota_bytes.has_value());
  EXPECT_EQ(hr.created_at, 0);  // not given: the store decides
  EXPECT_EQ(hr.aliases.size(), 2u);
  EXPECT_EQ((*records)[2].account.role, AccountRole::kAdmin);
  EXPECT_FALSE((*records)[2].usage.has_value());
}

TEST(AccountCsvTest, ReadsUsageColumns) {
  auto records =
      ParseAccountCsv("address,usage_bytes,usage_messages\na@x.org,1MiB,12\nb@x.org,,\n", "u.csv");
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_TRUE((*records)[0].usage.has_value());
  EXPECT_EQ((*records)[0].usage->bytes, 1 << 20);
  EXPECT_EQ((*records)[0].usage->messages, 12);
  EXPECT_FALSE((*records)[1].usage.has_value());
}

TEST(AccountCsvTest, ReportsEveryBadLineWithItsNumberAndReturnsNothing) {
  const std::string text =
      "address,kind,last_login_at,aliases\n"
      "ok@example.org,personal,2024-01-01,\n"
      "bad-kind@example.org,person,2024-01-01,\n"
      "bad-date@example.org,unit,2024-02-30,\n"
      "short@example.org,unit\n"
      "\"unterminated@example.org,unit,,\n"
      "dup@example.org,unit,,ok@example.org\n";
  auto records = ParseAccountCsv(text, "in.csv");
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), Status::Code::kParseError);
  const std::string& m = records.status().message();
  EXPECT_NE(m.find("in.csv:3: kind 'person' is not personal, unit or shared"), std::string::npos)
      << m;
  EXPECT_NE(m.find("in.csv:4: '2024-02-30' is not a date"), std::string::npos) << m;
  EXPECT_NE(m.find("in.csv:5: has 2 fields, the header 4"), std::string::npos) << m;
  EXPECT_NE(m.find("in.csv:6: unterminated quoted field"), std::string::npos) << m;
  EXPECT_NE(m.find("in.csv:7: ok@example.org already listed on line 2"), std::string::npos) << m;
  EXPECT_EQ(m.find("in.csv:2:"), std::string::npos) << m;
  EXPECT_NE(m.find("nothing imported"), std::string::npos);
}

TEST(AccountCsvTest, NeedsAHeaderWithAnAddressColumn) {
  auto no_header = ParseAccountCsv("a@example.org,personal\n", "h.csv");
  ASSERT_FALSE(no_header.ok());
  EXPECT_NE(no_header.status().message().find("h.csv:1: unknown column 'a@example.org'"),
            std::string::npos);
  auto no_address = ParseAccountCsv("kind,role\npersonal,user\n", "h.csv");
  ASSERT_FALSE(no_address.ok());
  EXPECT_NE(no_address.status().message().find("h.csv:1: the header has no 'address' column"),
            std::string::npos);
  EXPECT_FALSE(ParseAccountCsv("", "empty.csv").ok());
  EXPECT_FALSE(ParseAccountCsv("address,address\n", "twice.csv").ok());
}

TEST(AccountCsvTest, StopsCountingErrorsAtTheLimit) {
  std::string text = "address,kind\n";
  for (int i = 0; i < 50; ++i) text += "x" + std::to_string(i) + "@example.org,nope\n";
  auto records = ParseAccountCsv(text, "many.csv");
  ASSERT_FALSE(records.ok());
  EXPECT_NE(records.status().message().find("many.csv: 30 more errors"), std::string::npos);
}

// ---- Dates ----------------------------------------------------------------------------

TEST(CivilTimeTest, ParsesAndFormats) {
  EXPECT_EQ(*ParseUtcTime("1970-01-01"), 0);
  EXPECT_EQ(*ParseUtcTime("2024-02-29"), 1709164800);
  EXPECT_EQ(*ParseUtcTime("2024-02-29T01:02:03Z"), 1709164800 + 3723);
  EXPECT_EQ(*ParseUtcTime("2024-02-29 01:02"), 1709164800 + 3720);
  EXPECT_EQ(*ParseUtcTime("2024-02-29T07:00:00+07:00"), 1709164800);
  EXPECT_EQ(*ParseUtcTime("2024-02-29T00:00:00.250Z"), 1709164800);
  for (const char* bad : {"", "2024", "2024-13-01", "2023-02-29", "2024-01-01T24:00", "2024-01-01x",
                          "1969-12-31", "2024-1-01", "2024-01-01T10:00+7"}) {
    EXPECT_FALSE(ParseUtcTime(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatUtcDate(1709164800 + 3723), "2024-02-29");
  EXPECT_EQ(FormatUtcTime(1709164800 + 3723), "2024-02-29T01:02:03Z");
}

TEST(CivilTimeTest, AddsCalendarMonthsClampingTheDay) {
  EXPECT_EQ(FormatUtcDate(AddMonths(*ParseUtcTime("2023-08-31"), 6)), "2024-02-29");
  EXPECT_EQ(FormatUtcDate(AddMonths(*ParseUtcTime("2024-01-15"), 6)), "2024-07-15");
  EXPECT_EQ(FormatUtcDate(AddMonths(*ParseUtcTime("2024-11-30"), 3)), "2025-02-28");
  EXPECT_EQ(FormatUtcDate(AddMonths(*ParseUtcTime("2024-03-31"), -1)), "2024-02-29");
  EXPECT_EQ(FormatUtcTime(AddMonths(*ParseUtcTime("2024-01-01T10:20:30Z"), 12)),
            "2025-01-01T10:20:30Z");
}

}  // namespace
}  // namespace mailwarden

// The PostgreSQL directory's change marks on a real server (the ctest fixture's, see
// account_store_test.cc): the triggers of schema version 2 notify channel
// mailwarden_directory, the listener started by the first mark counts the notifications,
// reconnects after a lost connection, and stops at once with its directory. Each test has a
// fresh database. Nothing here asserts a delay: a change is awaited for a generous time.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "policyd/store/account_directory.h"
#include "policyd/store/pg_account_directory.h"
#include "policyd/store/pg_db.h"
#include "tests/unit/raw_sessions.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Long enough for any loaded machine: the listener reacts in milliseconds, reconnects after
// its 1 s backoff.
constexpr auto kPatience = std::chrono::seconds(10);

// Polls `done` every 10 ms until it holds or kPatience passed; whether it held.
bool Eventually(const std::function<bool()>& done) {
  const auto until = Clock::now() + kPatience;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

using testing::PostgresServerDsn;
using testing::RawPostgres;
using testing::WithDatabase;

Account MakeAccount(const std::string& address) {
  Account a;
  a.address = address;
  a.created_at = 1700000000;
  a.state_since = 1700000000;
  return a;
}

class PgAccountMarksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_dsn_ = PostgresServerDsn();
    ASSERT_FALSE(server_dsn_.empty())
        << "MW_TEST_POSTGRES_DSN is not set: run through ctest (fixture.postgres.start), or "
           "start `python3 tests/integration/mwpostgres.py start DIR` and set "
           "MW_TEST_POSTGRES_DSN=DIR/dsn";
    static std::atomic<int> counter{0};
    db_ = "mwmarks_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    RawPostgres admin(server_dsn_);
    admin.Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    ASSERT_EQ(admin.Exec("CREATE DATABASE " + db_ + " TEMPLATE template0"), "");
    spec_ = WithDatabase(server_dsn_, db_);
  }

  void TearDown() override {
    if (!db_.empty())
      RawPostgres(server_dsn_).Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }

  std::unique_ptr<PgAccountDirectory> Open() {
    AccountDirectoryOptions options;
    options.timeout_ms = 2000;
    options.max_connections = 2;
    auto d = PgAccountDirectory::Open(spec_, options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  // Asks for the marks (starting the listener) until they have values.
  static bool Listening(const AccountDirectory& d) {
    return Eventually([&] { return d.AccountsMark() && d.UsageMark(); });
  }

  std::string server_dsn_;
  std::string db_;
  std::string spec_;
};

// Migration 2 creates the function and its three triggers, once.
TEST_F(PgAccountMarksTest, TheMigrationCreatesTheTriggersOnce) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_NE(Open(), nullptr);  // reopened: nothing applied twice
  EXPECT_EQ(PgAccountDirectory::LatestSchemaVersion(), 2);
  RawPostgres raw(spec_);
  EXPECT_EQ(raw.Scalar("SELECT max(version) FROM schema_version"), "2");
  EXPECT_EQ(raw.Scalar("SELECT count(*) FROM schema_version"), "2");
  EXPECT_EQ(raw.Scalar("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname IN "
                       "('accounts_notify', 'aliases_notify', 'usage_notify')"),
            "3");
  EXPECT_EQ(raw.Scalar("SELECT count(*) FROM pg_proc WHERE proname = "
                       "'mailwarden_directory_notify'"),
            "1");
}

// Writes through another directory object (another daemon or the CLI) move the marks of the
// listening one: an account's change its AccountsMark, a usage change its UsageMark.
TEST_F(PgAccountMarksTest, CommittedWritesMoveTheMarks) {
  auto writer = Open();
  auto reader = Open();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(Listening(*reader));

  auto accounts = reader->AccountsMark();
  ASSERT_TRUE(writer->Add(MakeAccount("alice@example.org")).ok());
  EXPECT_TRUE(Eventually([&] { return reader->AccountsMark() != accounts; }));

  accounts = reader->AccountsMark();
  Account changed = MakeAccount("alice@example.org");
  changed.state = AccountState::kSuspended;
  changed.state_reason = "left";
  ASSERT_TRUE(writer->Update(changed).ok());
  EXPECT_TRUE(Eventually([&] { return reader->AccountsMark() != accounts; }));

  auto usage = reader->UsageMark();
  ASSERT_TRUE(writer->SetUsage("alice@example.org", {1000, 3}).ok());
  EXPECT_TRUE(Eventually([&] { return reader->UsageMark() != usage; }));

  // The listening object's own writes are heard the same way.
  accounts = reader->AccountsMark();
  ASSERT_TRUE(reader->RecordLogin("alice@example.org", 1700000100).ok());
  EXPECT_TRUE(Eventually([&] { return reader->AccountsMark() != accounts; }));
}

// A DBA's statements are heard too, and a rolled-back one is not: after a rolled-back
// change of accounts and a committed change of usage, only UsageMark moved.
TEST_F(PgAccountMarksTest, SqlFromOutsideIsHeardAndARollbackIsNot) {
  auto d = Open();
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->Add(MakeAccount("bob@example.org")).ok());
  ASSERT_TRUE(d->SetUsage("bob@example.org", {10, 1}).ok());
  ASSERT_TRUE(Listening(*d));  // started after the writes above: they are not heard
  RawPostgres raw(spec_);

  auto accounts = d->AccountsMark();
  auto usage = d->UsageMark();
  ASSERT_EQ(raw.Exec("BEGIN"), "");
  ASSERT_EQ(raw.Exec("UPDATE accounts SET state_reason = 'x'"), "");
  ASSERT_EQ(raw.Exec("ROLLBACK"), "");
  ASSERT_EQ(raw.Exec("UPDATE usage SET bytes = 20"), "");
  EXPECT_TRUE(Eventually([&] { return d->UsageMark() != usage; }));
  EXPECT_EQ(d->AccountsMark(), accounts);

  ASSERT_EQ(raw.Exec("INSERT INTO aliases VALUES ('robert@example.org', 'bob@example.org')"), "");
  EXPECT_TRUE(Eventually([&] { return d->AccountsMark() != accounts; }));

  accounts = d->AccountsMark();
  ASSERT_EQ(raw.Exec("TRUNCATE aliases"), "");
  EXPECT_TRUE(Eventually([&] { return d->AccountsMark() != accounts; }));
}

// The listening connection killed by the server (a restart does that): the marks are
// nullopt until the listener is back, then differ from every mark before, as a change made
// meanwhile was not heard.
TEST_F(PgAccountMarksTest, ALostListenerReconnectsAndMovesTheMarks) {
  auto d = Open();
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(Listening(*d));
  const auto accounts = d->AccountsMark();
  const auto usage = d->UsageMark();
  RawPostgres raw(spec_);
  EXPECT_NE(raw.Scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND pid <> pg_backend_pid()"),
            "0");
  EXPECT_TRUE(Eventually([&] { return !d->AccountsMark() && !d->UsageMark(); }));
  EXPECT_EQ(raw.Exec("INSERT INTO accounts VALUES ('carol@example.org', 'personal', 'user', "
                     "'active', '', 0, NULL, NULL, NULL, NULL, 0)"),
            "");
  ASSERT_TRUE(Listening(*d));
  EXPECT_GT(*d->AccountsMark(), *accounts);
  EXPECT_GT(*d->UsageMark(), *usage);
  auto found = d->Find("carol@example.org");  // the pool reconnects on its own
  if (!found.ok()) found = d->Find("carol@example.org");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->has_value());
}

// A listening directory is destroyed at once (its thread woken, not waited out).
TEST_F(PgAccountMarksTest, DestroyingAListeningDirectoryIsPrompt) {
  auto d = Open();
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(Listening(*d));
  const auto start = Clock::now();
  d.reset();
  EXPECT_LT(Clock::now() - start, milliseconds(PgListener::kStopWaitMs + 1000));
  // Its listening session is gone.
  EXPECT_TRUE(Eventually([&] {
    return RawPostgres(spec_).Scalar(
               "SELECT count(*) FROM pg_stat_activity WHERE datname = "
               "current_database() AND pid <> pg_backend_pid()") == "0";
  }));
}

// A directory whose marks were never asked for has no listener (the CLI's case).
TEST_F(PgAccountMarksTest, NoListenerUntilAMarkIsAskedFor) {
  auto d = Open();
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->Add(MakeAccount("dave@example.org")).ok());
  RawPostgres raw(spec_);
  EXPECT_EQ(raw.Scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND query LIKE 'LISTEN%'"),
            "0");
}

// A server that is not there: no counts, and the listener stops at once while it waits to
// try again.
TEST(PgListenerTest, WithoutAServerCountsAreUnknownAndStoppingIsPrompt) {
  auto l = PgListener::Start({.conninfo = "postgresql://mw:s3cret@127.0.0.1:1/accounts",
                              .label = "accounts store",
                              .channel = "mailwarden_directory",
                              .counters = {{"accounts"}},
                              .timeout_ms = 500});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  std::this_thread::sleep_for(milliseconds(200));  // a failed attempt, now in its backoff
  EXPECT_FALSE((*l)->listening());
  EXPECT_EQ((*l)->Count(0), std::nullopt);
  EXPECT_EQ((*l)->Count(1), std::nullopt);  // no such counter
  const auto start = Clock::now();
  l->reset();
  EXPECT_LT(Clock::now() - start, milliseconds(PgListener::kStopWaitMs + 1000));
}

TEST(PgListenerTest, RefusesWhatItCannotUse) {
  auto bad_channel = PgListener::Start({.conninfo = "postgresql://127.0.0.1/x",
                                        .label = "accounts store",
                                        .channel = "x; DROP TABLE accounts",
                                        .counters = {{"accounts"}}});
  EXPECT_EQ(bad_channel.status().code(), Status::Code::kInvalidArgument);
  auto no_counters = PgListener::Start({.conninfo = "postgresql://127.0.0.1/x",
                                        .label = "accounts store",
                                        .channel = "c",
                                        .counters = {}});
  EXPECT_EQ(no_counters.status().code(), Status::Code::kInvalidArgument);
  auto bad_uri = PgListener::Start({.conninfo = "postgresql://h/db?no_such_option=1",
                                    .label = "accounts store",
                                    .channel = "c",
                                    .counters = {{"accounts"}}});
  EXPECT_EQ(bad_uri.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace mailwarden

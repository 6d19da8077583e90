// The SQLite account store.
//
// Distrusts: the addresses and values callers pass (normalised and validated before any SQL;
// every value is bound, never spliced into SQL text) and the file itself (a row with an
// unknown kind or state is reported as a broken store, not guessed at). Limits: one deadline
// per call (see the header), and those of account_validation.h (address length, aliases per
// account, reason length). Fails with a Status; never throws, never exits.
#include "policyd/store/sqlite_account_directory.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "policyd/store/account_sql.h"
#include "policyd/store/account_validation.h"
#include "policyd/store/account_writer.h"
#include "policyd/store/connection_pool.h"
#include "policyd/store/sqlite_db.h"

namespace mailwarden {
namespace {

using Clock = std::chrono::steady_clock;
using Connection = SqliteConnection;
using Query = SqliteQuery;
using WriteTransaction = SqliteWriteTransaction;

// Append-only: a released migration is never edited, a change is a new version.
constexpr SqliteMigration kMigrations[] = {
    {1, "accounts, aliases and mailbox usage", R"SQL(
CREATE TABLE accounts (
  address             TEXT PRIMARY KEY NOT NULL,
  kind                TEXT NOT NULL CHECK (kind IN ('personal', 'unit', 'shared')),
  role                TEXT NOT NULL CHECK (role IN ('user', 'admin')),
  state               TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'terminated')),
  state_reason        TEXT NOT NULL DEFAULT '',
  state_since         INTEGER NOT NULL,
  terminate_at        INTEGER,
  quota_bytes         INTEGER CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
  password_changed_at INTEGER,
  last_login_at       INTEGER,
  created_at          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE aliases (
  alias   TEXT PRIMARY KEY NOT NULL,
  account TEXT NOT NULL REFERENCES accounts (address) ON DELETE CASCADE ON UPDATE CASCADE
) WITHOUT ROWID;
CREATE INDEX aliases_by_account ON aliases (account);
CREATE TABLE usage (
  account    TEXT PRIMARY KEY NOT NULL
             REFERENCES accounts (address) ON DELETE CASCADE ON UPDATE CASCADE,
  bytes      INTEGER NOT NULL CHECK (bytes >= 0),
  messages   INTEGER NOT NULL CHECK (messages >= 0),
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
)SQL"},
};

// The statements of account_sql.h in SQLite's dialect. Literals: their addresses key the
// connection's statement cache.
constexpr const char* kFindSql = MW_ACCOUNT_FIND_SQL("group_concat(alias, ' ')");
constexpr const char* kListSql = MW_ACCOUNT_LIST_SQL("group_concat(alias, ' ')");
constexpr const char* kRecordLoginSql = MW_ACCOUNT_RECORD_LOGIN_SQL("max");
using account_sql::kStoreLabel;
using account_sql::kVersionTable;

// The row operations of account_writer.h on one connection.
class SqliteRowWriter final : public AccountRowWriter {
 public:
  explicit SqliteRowWriter(Connection& c) : c_(c) {}

  Result<std::optional<StoredAccountState>> Existing(const std::string& address) override {
    Query q(c_, account_sql::kExisting);
    q.Text(address);
    auto row = q.Step("look up " + address);
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<StoredAccountState>();
    return std::optional<StoredAccountState>(
        StoredAccountState{ParseAccountState(q.ColumnText(0)).value_or(AccountState::kActive),
                           q.ColumnInt(1), q.ColumnInt(2)});
  }

  Result<std::optional<std::string>> AliasOwner(const std::string& alias) override {
    Query q(c_, account_sql::kAliasOwner);
    q.Text(alias);
    auto row = q.Step("look up alias " + alias);
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(q.ColumnText(0));
  }

  Status DeleteAliases(const std::string& address) override {
    return Query(c_, account_sql::kDeleteAliases).Text(address).Run("replace aliases");
  }

  Status InsertAlias(const std::string& alias, const std::string& address) override {
    return Query(c_, account_sql::kInsertAlias).Text(alias).Text(address).Run("add alias " + alias);
  }

  Result<int64_t> WriteRow(const Account& a, bool insert) override {
    Query q(c_, insert ? account_sql::kInsert : account_sql::kUpdate);
    q.Text(a.address)
        .Text(AccountKindName(a.kind))
        .Text(AccountRoleName(a.role))
        .Text(AccountStateName(a.state))
        .Text(a.state_reason)
        .Int(a.state_since)
        .OptionalInt(a.terminate_at)
        .OptionalInt(a.quota_bytes)
        .OptionalInt(a.password_changed_at)
        .OptionalInt(a.last_login_at)
        .Int(a.created_at);
    if (Status s = q.Run((insert ? "add " : "update ") + a.address); !s.ok()) return s;
    return int64_t{q.Changes()};
  }

  Result<int64_t> WriteUsageRow(const std::string& address, const MailboxUsage& usage,
                                int64_t now) override {
    Query q(c_, account_sql::kSetUsage);
    q.Text(address).Int(usage.bytes).Int(usage.messages).Int(now);
    if (Status s = q.Run("set usage of " + address); !s.ok()) return s;
    return int64_t{q.Changes()};
  }

 private:
  Connection& c_;
};

}  // namespace

// Connections for concurrent calls (connection_pool.h), each call under one deadline.
class SqliteAccountDirectory::Pool {
 public:
  Pool(std::string path, const AccountDirectoryOptions& options)
      : path_(std::move(path)),
        options_(options),
        connections_(std::string(kStoreLabel) + " " + path_, options.max_connections) {}

  const std::string& path() const { return path_; }

  // The first connection, opened (and used to migrate) by Open().
  void Adopt(std::unique_ptr<Connection> c) { connections_.Adopt(std::move(c)); }

  // Runs fn(Connection&) with a connection whose call deadline is the budget from now;
  // returns what fn returns, or the Status saying why no connection could be had.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    auto c = connections_.Acquire(deadline, options_.timeout_ms, [&] {
      // create=false: the file was created by Open(); a vanished file is an error, not a
      // new empty directory that would accept everyone as unknown.
      return Connection::Open(path_, /*create=*/false, options_.timeout_ms, kStoreLabel);
    });
    if (!c.ok()) return c.status();
    (*c)->StartCall(options_.timeout_ms);
    auto result = fn(**c);
    (*c)->RollbackIfOpen();  // defensive: a connection goes back with no transaction open
    connections_.Release(std::move(c).value());
    return result;
  }

  // Runs fn(AccountRowWriter&) in one write transaction, committed when fn succeeds.
  template <typename Fn>
  Status Write(Fn&& fn) {
    return Run([&](Connection& c) -> Status {
      WriteTransaction tx(c);
      if (Status s = tx.Begin(); !s.ok()) return s;
      SqliteRowWriter w(c);
      if (Status s = fn(w); !s.ok()) return s;
      return tx.Commit();
    });
  }

 private:
  const std::string path_;
  const AccountDirectoryOptions options_;
  ConnectionPool<Connection> connections_;
};

int SqliteAccountDirectory::LatestSchemaVersion() { return std::end(kMigrations)[-1].version; }

SqliteAccountDirectory::SqliteAccountDirectory(std::unique_ptr<Pool> pool)
    : pool_(std::move(pool)) {}

SqliteAccountDirectory::~SqliteAccountDirectory() = default;

Result<std::unique_ptr<SqliteAccountDirectory>> SqliteAccountDirectory::Open(
    const std::string& path, const AccountDirectoryOptions& options) {
  if (options.timeout_ms <= 0 || options.max_connections < 1) {
    return Status::InvalidArgument("accounts store " + path +
                                   ": timeout and connection count must be positive");
  }
  auto c = Connection::Open(path, /*create=*/true,
                            std::max<int64_t>(options.timeout_ms, kOpenTimeoutMs), kStoreLabel);
  if (!c.ok()) return c.status();
  if (Status s = (*c)->UseWal(); !s.ok()) return s;
  if (Status s = ApplySqliteMigrations(**c, kVersionTable, kMigrations); !s.ok()) return s;
  auto pool = std::make_unique<Pool>(path, options);
  pool->Adopt(std::move(c).value());
  return std::unique_ptr<SqliteAccountDirectory>(new SqliteAccountDirectory(std::move(pool)));
}

Result<std::optional<Account>> SqliteAccountDirectory::Find(std::string_view address) const {
  const std::string key = NormalizeAddress(address);
  return pool_->Run([&](Connection& c) -> Result<std::optional<Account>> {
    Query q(c, kFindSql);
    q.Text(key);
    auto row = q.Step("find " + key);
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<Account>();
    auto a = AccountFromRow(q, std::string(kStoreLabel) + " " + pool_->path());
    if (!a.ok()) return a.status();
    return std::optional<Account>(std::move(a).value());
  });
}

Result<std::optional<MailboxUsage>> SqliteAccountDirectory::Usage(
    std::string_view account_address) const {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](Connection& c) -> Result<std::optional<MailboxUsage>> {
    Query q(c, account_sql::kUsage);
    q.Text(key);
    auto row = q.Step("read usage of " + key);
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<MailboxUsage>();
    return std::optional<MailboxUsage>(MailboxUsage{q.ColumnInt(0), q.ColumnInt(1)});
  });
}

Status SqliteAccountDirectory::Add(const Account& account) {
  auto a = NewAccountToAdd(account);
  if (!a.ok()) return a.status();
  return pool_->Write([&](AccountRowWriter& w) { return AddAccount(w, *a); });
}

Status SqliteAccountDirectory::Update(const Account& account) {
  auto a = ValidatedAccount(account);
  if (!a.ok()) return a.status();
  return pool_->Write([&](AccountRowWriter& w) { return WriteAccount(w, *a, /*insert=*/false); });
}

Result<std::vector<Account>> SqliteAccountDirectory::List() const {
  return pool_->Run([&](Connection& c) -> Result<std::vector<Account>> {
    std::vector<Account> out;
    Query q(c, kListSql);
    // One row per account; the statement's deadline bounds a huge table.
    for (;;) {
      auto row = q.Step("list accounts");
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto a = AccountFromRow(q, std::string(kStoreLabel) + " " + pool_->path());
      if (!a.ok()) return a.status();
      out.push_back(std::move(a).value());
    }
    return out;
  });
}

Status SqliteAccountDirectory::SetUsage(std::string_view account_address,
                                        const MailboxUsage& usage) {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](Connection& c) {
    SqliteRowWriter w(c);
    return WriteUsage(w, key, usage);
  });
}

Status SqliteAccountDirectory::RecordLogin(std::string_view account_address, int64_t when) {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](Connection& c) -> Status {
    Query q(c, kRecordLoginSql);
    q.Text(key).Int(when);
    if (Status s = q.Run("record login of " + key); !s.ok()) return s;
    if (q.Changes() == 0) return Status::NotFound("no account " + key);
    return Status::Ok();
  });
}

Status SqliteAccountDirectory::Import(std::span<const ImportRecord> records) {
  auto accounts = AccountsToImport(records);
  if (!accounts.ok()) return accounts.status();
  const int64_t now = AccountStoreNow();
  return pool_->Write(
      [&](AccountRowWriter& w) { return ImportAccounts(w, records, *accounts, now); });
}

std::optional<uint64_t> SqliteAccountDirectory::AccountsMark() const {
  if (watch_.PollDue()) {
    std::unique_lock lock(watch_mu_, std::try_to_lock);
    if (lock.owns_lock()) {
      if (!watch_connection_) {
        // Short budget: this runs on the event loop, and a failure only means "unknown"
        // (caches fall back to accounts.cache_ms) until the next poll opens it again.
        auto c = Connection::Open(pool_->path(), /*create=*/false, 20, kStoreLabel);
        if (c.ok()) watch_connection_ = std::move(c).value();
      }
      watch_.Poll(watch_connection_.get());
      if (!watch_.Mark()) watch_connection_.reset();
    }
  }
  return watch_.Mark();
}

Result<int> SqliteAccountDirectory::SchemaVersion() const {
  return pool_->Run([&](Connection& c) { return SqliteSchemaVersion(c, kVersionTable); });
}

}  // namespace mailwarden

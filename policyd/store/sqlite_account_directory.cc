// The SQLite account store.
//
// Distrusts: the addresses and values callers pass (normalised and validated before any SQL;
// every value is bound, never spliced into SQL text) and the file itself (a row with an
// unknown kind or state is reported as a broken store, not guessed at). Limits: one deadline
// per call (see the header), kMaxAddressLength per address, kMaxAliases per account,
// kMaxReasonLength per state reason. Fails with a Status; never throws, never exits.
#include "policyd/store/sqlite_account_directory.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <utility>

#include "policyd/store/sqlite_db.h"

namespace mailwarden {
namespace {

using Clock = std::chrono::steady_clock;
using Connection = SqliteConnection;
using Query = SqliteQuery;
using WriteTransaction = SqliteWriteTransaction;

constexpr size_t kMaxAddressLength = 320;  // 64 (local part) + 1 + 255 (domain)
constexpr size_t kMaxAliases = 1000;
// State reasons end up in SMTP replies (effective_state.h), which Postfix limits per line.
constexpr size_t kMaxReasonLength = 200;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

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

// The account columns in the order RowToAccount reads them. The aliases come from a
// correlated subquery so that one statement (one WAL snapshot) returns a consistent account.
#define MW_ACCOUNT_COLUMNS                                                              \
  "a.address, a.kind, a.role, a.state, a.state_reason, a.state_since, a.terminate_at, " \
  "a.quota_bytes, a.password_changed_at, a.last_login_at, a.created_at, "               \
  "(SELECT group_concat(alias, ' ') FROM aliases WHERE account = a.address)"

constexpr const char* kFindSql = "SELECT " MW_ACCOUNT_COLUMNS
                                 " FROM accounts a WHERE a.address IN "
                                 "(?1, (SELECT account FROM aliases WHERE alias = ?1))";
constexpr const char* kListSql = "SELECT " MW_ACCOUNT_COLUMNS " FROM accounts a ORDER BY a.address";
#undef MW_ACCOUNT_COLUMNS
constexpr const char* kExistingSql =
    "SELECT state, state_since, created_at FROM accounts WHERE address = ?1";
constexpr const char* kAliasOwnerSql = "SELECT account FROM aliases WHERE alias = ?1";
constexpr const char* kInsertSql =
    "INSERT INTO accounts (address, kind, role, state, state_reason, state_since, "
    "terminate_at, quota_bytes, password_changed_at, last_login_at, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr const char* kUpdateSql =
    "UPDATE accounts SET kind = ?2, role = ?3, state = ?4, state_reason = ?5, "
    "state_since = ?6, terminate_at = ?7, quota_bytes = ?8, password_changed_at = ?9, "
    "last_login_at = ?10, created_at = ?11 WHERE address = ?1";
constexpr const char* kDeleteAliasesSql = "DELETE FROM aliases WHERE account = ?1";
constexpr const char* kInsertAliasSql = "INSERT INTO aliases (alias, account) VALUES (?1, ?2)";
constexpr const char* kUsageSql = "SELECT bytes, messages FROM usage WHERE account = ?1";
// INSERT ... SELECT ... WHERE: nothing is written for an unknown account (0 changes), and
// the WHERE also settles SQLite's INSERT-SELECT-UPSERT parsing ambiguity.
constexpr const char* kSetUsageSql =
    "INSERT INTO usage (account, bytes, messages, updated_at) "
    "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM accounts WHERE address = ?1) "
    "ON CONFLICT (account) DO UPDATE SET bytes = excluded.bytes, "
    "messages = excluded.messages, updated_at = excluded.updated_at";
// Logins reported out of order never move last_login_at back.
constexpr const char* kRecordLoginSql =
    "UPDATE accounts SET last_login_at = max(coalesce(last_login_at, ?2), ?2) "
    "WHERE address = ?1";
constexpr std::string_view kVersionTable = "schema_version";
constexpr const char* kStoreLabel = "accounts store";

// A copy of `s` whose message starts with `origin` ("accounts.csv:12"); store failures
// (timeouts, I/O) are not about the record and keep their message.
Status Prefixed(const Status& s, const std::string& origin) {
  if (origin.empty()) return s;
  std::string m = origin + ": " + s.message();
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(m));
    case Status::Code::kAlreadyExists:
      return Status::AlreadyExists(std::move(m));
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(m));
    default:
      return s;
  }
}

// kInvalidArgument unless `address` (normalised) looks like local@domain and holds nothing
// that would break a CSV line, a table column or an SMTP reply.
Status CheckAddress(std::string_view address, std::string_view what) {
  if (address.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  const std::string quoted = std::string(what) + " '" + std::string(address) + "'";
  if (address.size() > kMaxAddressLength) {
    return Status::InvalidArgument(quoted + " is longer than " + std::to_string(kMaxAddressLength) +
                                   " characters");
  }
  size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos) {
    return Status::InvalidArgument(quoted + " is not local@domain");
  }
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == ',' || c == ';' || c == '<' || c == '>' || c == '"') {
      return Status::InvalidArgument(quoted +
                                     " contains a space, a control character or one of , ; < > \"");
    }
  }
  return Status::Ok();
}

// `a` with its addresses normalised and every field checked.
Result<Account> Validated(const Account& in) {
  Account a = in;
  a.address = NormalizeAddress(a.address);
  if (Status s = CheckAddress(a.address, "address"); !s.ok()) return s;
  if (a.aliases.size() > kMaxAliases) {
    return Status::InvalidArgument(a.address + ": more than " + std::to_string(kMaxAliases) +
                                   " aliases");
  }
  for (std::string& alias : a.aliases) {
    alias = NormalizeAddress(alias);
    if (Status s = CheckAddress(alias, "alias"); !s.ok()) return s;
    if (alias == a.address) {
      return Status::InvalidArgument("alias '" + alias + "' is the account's own address");
    }
  }
  std::sort(a.aliases.begin(), a.aliases.end());
  a.aliases.erase(std::unique(a.aliases.begin(), a.aliases.end()), a.aliases.end());
  if (a.quota_bytes && *a.quota_bytes < 0) {
    return Status::InvalidArgument(a.address + ": negative quota");
  }
  if (a.state_reason.size() > kMaxReasonLength) {
    return Status::InvalidArgument(a.address + ": reason longer than " +
                                   std::to_string(kMaxReasonLength) + " characters");
  }
  for (char c : a.state_reason) {
    auto u = static_cast<unsigned char>(c);
    if (u < ' ' || u == 0x7f) {
      return Status::InvalidArgument(a.address + ": reason contains a control character");
    }
  }
  return a;
}

// The account in the current row of a kFindSql/kListSql query.
Result<Account> RowToAccount(const Query& q, const std::string& path) {
  Account a;
  a.address = q.ColumnText(0);
  auto kind = ParseAccountKind(q.ColumnText(1));
  auto role = ParseAccountRole(q.ColumnText(2));
  auto state = ParseAccountState(q.ColumnText(3));
  if (!kind || !role || !state) {
    return Status::Unavailable(std::string(kStoreLabel) + " " + path + ": account " + a.address +
                               " has kind/role/state '" + q.ColumnText(1) + "/" + q.ColumnText(2) +
                               "/" + q.ColumnText(3) + "', unknown to this version");
  }
  a.kind = *kind;
  a.role = *role;
  a.state = *state;
  a.state_reason = q.ColumnText(4);
  a.state_since = q.ColumnInt(5);
  a.terminate_at = q.ColumnOptionalInt(6);
  a.quota_bytes = q.ColumnOptionalInt(7);
  a.password_changed_at = q.ColumnOptionalInt(8);
  a.last_login_at = q.ColumnOptionalInt(9);
  a.created_at = q.ColumnInt(10);
  std::string aliases = q.ColumnText(11);  // space-separated; addresses hold no spaces
  for (size_t start = 0; start < aliases.size();) {
    size_t end = std::min(aliases.find(' ', start), aliases.size());
    if (end > start) a.aliases.push_back(aliases.substr(start, end - start));
    start = end + 1;
  }
  std::sort(a.aliases.begin(), a.aliases.end());
  return a;
}

// The account `alias` is an alias of, if any.
Result<std::optional<std::string>> AliasOwner(Connection& c, const std::string& alias) {
  Query q(c, kAliasOwnerSql);
  q.Text(alias);
  auto row = q.Step("look up alias " + alias);
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

struct StoredState {
  AccountState state;
  int64_t state_since;
  int64_t created_at;
};

// What is stored for the primary address `address`, if it is one.
Result<std::optional<StoredState>> Existing(Connection& c, const std::string& address) {
  Query q(c, kExistingSql);
  q.Text(address);
  auto row = q.Step("look up " + address);
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<StoredState>();
  return std::optional<StoredState>(
      StoredState{ParseAccountState(q.ColumnText(0)).value_or(AccountState::kActive),
                  q.ColumnInt(1), q.ColumnInt(2)});
}

// Replaces the aliases of `address` by `aliases`. Inside a write transaction.
Status PutAliases(Connection& c, const std::string& address,
                  const std::vector<std::string>& aliases) {
  if (Status s = Query(c, kDeleteAliasesSql).Text(address).Run("replace aliases"); !s.ok()) {
    return s;
  }
  for (const std::string& alias : aliases) {
    auto account = Existing(c, alias);
    if (!account.ok()) return account.status();
    if (*account) return Status::AlreadyExists("alias " + alias + " is an account of its own");
    auto owner = AliasOwner(c, alias);
    if (!owner.ok()) return owner.status();
    if (*owner) return Status::AlreadyExists("alias " + alias + " already belongs to " + **owner);
    Status s = Query(c, kInsertAliasSql).Text(alias).Text(address).Run("add alias " + alias);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Writes `a` (validated; its times filled in) as a new row (`insert`) or over the existing
// one, then its aliases. Inside a write transaction.
Status PutAccount(Connection& c, const Account& a, bool insert) {
  if (insert) {
    // An address that is already someone's alias would make Find ambiguous.
    auto owner = AliasOwner(c, a.address);
    if (!owner.ok()) return owner.status();
    if (*owner) {
      return Status::AlreadyExists(a.address + " is already an alias of " + **owner);
    }
  }
  Query q(c, insert ? kInsertSql : kUpdateSql);
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
  if (!insert && q.Changes() == 0) return Status::NotFound("no account " + a.address);
  return PutAliases(c, a.address, a.aliases);
}

Status PutUsage(Connection& c, const std::string& address, const MailboxUsage& usage) {
  if (usage.bytes < 0 || usage.messages < 0) {
    return Status::InvalidArgument(address + ": negative mailbox usage");
  }
  Query q(c, kSetUsageSql);
  q.Text(address).Int(usage.bytes).Int(usage.messages).Int(Now());
  if (Status s = q.Run("set usage of " + address); !s.ok()) return s;
  if (q.Changes() == 0) return Status::NotFound("no account " + address);
  return Status::Ok();
}

}  // namespace

// Connections for concurrent calls: idle ones are reused, new ones opened up to the limit,
// and a caller finding none waits until its deadline.
class SqliteAccountDirectory::Pool {
 public:
  Pool(std::string path, const AccountDirectoryOptions& options)
      : path_(std::move(path)), options_(options) {}

  const std::string& path() const { return path_; }

  // The first connection, opened (and used to migrate) by Open().
  void Adopt(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    ++open_;
    idle_.push_back(std::move(c));
  }

  // Runs fn(Connection&) with a connection whose call deadline is the budget from now;
  // returns what fn returns, or the Status saying why no connection could be had.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    auto c = Acquire(deadline);
    if (!c.ok()) return c.status();
    (*c)->StartCall(options_.timeout_ms);
    auto result = fn(**c);
    Release(std::move(c).value());
    return result;
  }

 private:
  Result<std::unique_ptr<Connection>> Acquire(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    // Each pass takes an idle connection, opens one, or waits; the wait ends at the deadline.
    for (;;) {
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      if (open_ < options_.max_connections) {
        ++open_;
        lock.unlock();
        // create=false: the file was created by Open(); a vanished file is an error, not a
        // new empty directory that would accept everyone as unknown.
        auto c = Connection::Open(path_, /*create=*/false, options_.timeout_ms, kStoreLabel);
        if (!c.ok()) {
          lock.lock();
          --open_;
          cv_.notify_one();
        }
        return c;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty()) {
        return Status::Timeout(std::string(kStoreLabel) + " " + path_ + ": all " +
                               std::to_string(options_.max_connections) + " connections busy for " +
                               std::to_string(options_.timeout_ms) + " ms");
      }
    }
  }

  void Release(std::unique_ptr<Connection> c) {
    c->RollbackIfOpen();  // defensive: a connection goes back with no transaction open
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
    cv_.notify_one();
  }

  const std::string path_;
  const AccountDirectoryOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle and lent out
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
    auto a = RowToAccount(q, pool_->path());
    if (!a.ok()) return a.status();
    return std::optional<Account>(std::move(a).value());
  });
}

Result<std::optional<MailboxUsage>> SqliteAccountDirectory::Usage(
    std::string_view account_address) const {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](Connection& c) -> Result<std::optional<MailboxUsage>> {
    Query q(c, kUsageSql);
    q.Text(key);
    auto row = q.Step("read usage of " + key);
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<MailboxUsage>();
    return std::optional<MailboxUsage>(MailboxUsage{q.ColumnInt(0), q.ColumnInt(1)});
  });
}

Status SqliteAccountDirectory::Add(const Account& account) {
  auto a = Validated(account);
  if (!a.ok()) return a.status();
  const int64_t now = Now();
  if (a->created_at == 0) a->created_at = now;
  if (a->state_since == 0) a->state_since = a->created_at;
  return pool_->Run([&](Connection& c) -> Status {
    WriteTransaction tx(c);
    if (Status s = tx.Begin(); !s.ok()) return s;
    auto existing = Existing(c, a->address);
    if (!existing.ok()) return existing.status();
    if (*existing) return Status::AlreadyExists("account " + a->address + " already exists");
    if (Status s = PutAccount(c, *a, /*insert=*/true); !s.ok()) return s;
    return tx.Commit();
  });
}

Status SqliteAccountDirectory::Update(const Account& account) {
  auto a = Validated(account);
  if (!a.ok()) return a.status();
  return pool_->Run([&](Connection& c) -> Status {
    WriteTransaction tx(c);
    if (Status s = tx.Begin(); !s.ok()) return s;
    if (Status s = PutAccount(c, *a, /*insert=*/false); !s.ok()) return s;
    return tx.Commit();
  });
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
      auto a = RowToAccount(q, pool_->path());
      if (!a.ok()) return a.status();
      out.push_back(std::move(a).value());
    }
    return out;
  });
}

Status SqliteAccountDirectory::SetUsage(std::string_view account_address,
                                        const MailboxUsage& usage) {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](Connection& c) { return PutUsage(c, key, usage); });
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
  // Validate everything first: a bad value fails the batch before any lock is taken.
  std::vector<Account> accounts;
  accounts.reserve(records.size());
  for (const ImportRecord& r : records) {
    auto a = Validated(r.account);
    if (!a.ok()) return Prefixed(a.status(), r.origin);
    accounts.push_back(std::move(a).value());
  }
  const int64_t now = Now();
  return pool_->Run([&](Connection& c) -> Status {
    WriteTransaction tx(c);
    if (Status s = tx.Begin(); !s.ok()) return s;
    for (size_t i = 0; i < records.size(); ++i) {
      Account& a = accounts[i];
      auto existing = Existing(c, a.address);
      if (!existing.ok()) return existing.status();
      if (*existing) {
        const StoredState& stored = **existing;
        if (a.created_at == 0) a.created_at = stored.created_at;
        if (a.state == stored.state) a.state_since = stored.state_since;
      }
      if (a.created_at == 0) a.created_at = now;
      if (a.state_since == 0) a.state_since = *existing ? now : a.created_at;
      if (Status s = PutAccount(c, a, /*insert=*/!*existing); !s.ok()) {
        return Prefixed(s, records[i].origin);
      }
      if (records[i].usage) {
        if (Status s = PutUsage(c, a.address, *records[i].usage); !s.ok()) {
          return Prefixed(s, records[i].origin);
        }
      }
    }
    return tx.Commit();
  });
}

Result<int> SqliteAccountDirectory::SchemaVersion() const {
  return pool_->Run([&](Connection& c) { return SqliteSchemaVersion(c, kVersionTable); });
}

}  // namespace mailwarden

// The PostgreSQL account store.
//
// Distrusts: the addresses and values callers pass (normalised and validated before any SQL,
// account_validation.h; every value is bound, never spliced into SQL text) and the database
// (a row with an unknown kind or state is reported as a broken store, not guessed at).
// Limits: one deadline per call (see the header) and those of account_validation.h. Fails
// with a Status; never throws, never exits.
#include "policyd/store/pg_account_directory.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "policyd/store/account_sql.h"
#include "policyd/store/account_validation.h"
#include "policyd/store/account_writer.h"
#include "policyd/store/pg_db.h"

namespace mailwarden {
namespace {

// Append-only: a released migration is never edited, a change is a new version. The
// schema of the SQLite store, in PostgreSQL's types.
constexpr PgMigration kMigrations[] = {
    {1, "accounts, aliases and mailbox usage", R"SQL(
CREATE TABLE accounts (
  address             TEXT PRIMARY KEY NOT NULL,
  kind                TEXT NOT NULL CHECK (kind IN ('personal', 'unit', 'shared')),
  role                TEXT NOT NULL CHECK (role IN ('user', 'admin')),
  state               TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'terminated')),
  state_reason        TEXT NOT NULL DEFAULT '',
  state_since         BIGINT NOT NULL,
  terminate_at        BIGINT,
  quota_bytes         BIGINT CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
  password_changed_at BIGINT,
  last_login_at       BIGINT,
  created_at          BIGINT NOT NULL
);
CREATE TABLE aliases (
  alias   TEXT PRIMARY KEY NOT NULL,
  account TEXT NOT NULL REFERENCES accounts (address) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX aliases_by_account ON aliases (account);
CREATE TABLE usage (
  account    TEXT PRIMARY KEY NOT NULL
             REFERENCES accounts (address) ON DELETE CASCADE ON UPDATE CASCADE,
  bytes      BIGINT NOT NULL CHECK (bytes >= 0),
  messages   BIGINT NOT NULL CHECK (messages >= 0),
  updated_at BIGINT NOT NULL
);
)SQL"},
    // Change marks (AccountsMark, UsageMark): every statement changing a table, whoever runs
    // it (the CLI on any host, a DBA's UPDATE, a sync script), notifies channel
    // mailwarden_directory with the table's name, and the daemons listening there drop what
    // they cached from it. The server delivers a NOTIFY when the transaction commits and
    // only if it commits: a rolled-back write is never announced, and a committed one is
    // announced once its data is visible. Identical notifications of one transaction are
    // sent once, so an import of many rows is one notification per table. Statement-level:
    // a statement changing no row (an UPDATE of an unknown account) notifies too, which
    // costs a cache miss, never a stale answer.
    {2, "notify channel mailwarden_directory of every change", R"SQL(
CREATE FUNCTION mailwarden_directory_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mailwarden_directory', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
CREATE TRIGGER accounts_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION mailwarden_directory_notify();
CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aliases
  FOR EACH STATEMENT EXECUTE FUNCTION mailwarden_directory_notify();
CREATE TRIGGER usage_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON usage
  FOR EACH STATEMENT EXECUTE FUNCTION mailwarden_directory_notify();
)SQL"},
};

// The channel the triggers of migration 2 notify, and which of its payloads (table names)
// move which mark: Find() reads accounts and aliases, Usage() reads usage.
constexpr char kChangeChannel[] = "mailwarden_directory";
constexpr size_t kAccountsCounter = 0;
constexpr size_t kUsageCounter = 1;

// Advisory lock keys (pg_advisory_xact_lock): one for migrations, one for writers. Fixed
// numbers of ours ("mwacct" and "mwacc1" in ASCII), unlikely to meet another application's.
constexpr int64_t kMigrationLockKey = 0x6d7761636374;
constexpr int64_t kWriteLockKey = 0x6d7761636331;

// The statements (account_sql.h) in PostgreSQL's placeholders, converted once.
struct Statements {
  std::string find = PgPlaceholders(MW_ACCOUNT_FIND_SQL("string_agg(alias, ' ' ORDER BY alias)"));
  std::string list = PgPlaceholders(MW_ACCOUNT_LIST_SQL("string_agg(alias, ' ' ORDER BY alias)"));
  std::string record_login = PgPlaceholders(MW_ACCOUNT_RECORD_LOGIN_SQL("greatest"));
  std::string existing = PgPlaceholders(account_sql::kExisting);
  std::string alias_owner = PgPlaceholders(account_sql::kAliasOwner);
  std::string insert = PgPlaceholders(account_sql::kInsert);
  std::string update = PgPlaceholders(account_sql::kUpdate);
  std::string delete_aliases = PgPlaceholders(account_sql::kDeleteAliases);
  std::string insert_alias = PgPlaceholders(account_sql::kInsertAlias);
  std::string usage = PgPlaceholders(account_sql::kUsage);
  std::string set_usage = PgPlaceholders(account_sql::kSetUsage);
};
const Statements& Sql() {
  static const Statements* const sql = new Statements();  // never destroyed: no exit order
  return *sql;
}

// The row operations of account_writer.h on one connection.
class PgRowWriter final : public AccountRowWriter {
 public:
  explicit PgRowWriter(PgConnection& c) : c_(c) {}

  Result<std::optional<StoredAccountState>> Existing(const std::string& address) override {
    auto rows = c_.Query(Sql().existing, {PgText(address)}, "look up " + address);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<StoredAccountState>();
    return std::optional<StoredAccountState>(
        StoredAccountState{ParseAccountState(rows->Text(0, 0)).value_or(AccountState::kActive),
                           rows->Int(0, 1), rows->Int(0, 2)});
  }

  Result<std::optional<std::string>> AliasOwner(const std::string& alias) override {
    auto rows = c_.Query(Sql().alias_owner, {PgText(alias)}, "look up alias " + alias);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<std::string>();
    return std::optional<std::string>(rows->Text(0, 0));
  }

  Status DeleteAliases(const std::string& address) override {
    return c_.Query(Sql().delete_aliases, {PgText(address)}, "replace aliases").status();
  }

  Status InsertAlias(const std::string& alias, const std::string& address) override {
    return c_.Query(Sql().insert_alias, {PgText(alias), PgText(address)}, "add alias " + alias)
        .status();
  }

  Result<int64_t> WriteRow(const Account& a, bool insert) override {
    auto written = c_.Query(
        insert ? Sql().insert : Sql().update,
        {PgText(a.address), PgText(AccountKindName(a.kind)), PgText(AccountRoleName(a.role)),
         PgText(AccountStateName(a.state)), PgText(a.state_reason), PgInt(a.state_since),
         PgOptionalInt(a.terminate_at), PgOptionalInt(a.quota_bytes),
         PgOptionalInt(a.password_changed_at), PgOptionalInt(a.last_login_at), PgInt(a.created_at)},
        (insert ? "add " : "update ") + a.address);
    if (!written.ok()) return written.status();
    return written->affected();
  }

  Result<int64_t> WriteUsageRow(const std::string& address, const MailboxUsage& usage,
                                int64_t now) override {
    auto written = c_.Query(
        Sql().set_usage, {PgText(address), PgInt(usage.bytes), PgInt(usage.messages), PgInt(now)},
        "set usage of " + address);
    if (!written.ok()) return written.status();
    return written->affected();
  }

 private:
  PgConnection& c_;
};

// Runs fn(AccountRowWriter&) in one write transaction on a connection of `pool`, committed
// when fn succeeds.
template <typename Fn>
Status InWriteTransaction(PgPool& pool, Fn&& fn) {
  return pool.Run([&](PgConnection& c) -> Status {
    PgTransaction tx(c);
    if (Status s = tx.Begin(kWriteLockKey); !s.ok()) return s;
    PgRowWriter w(c);
    if (Status s = fn(w); !s.ok()) return s;
    return tx.Commit();
  });
}

}  // namespace

int PgAccountDirectory::LatestSchemaVersion() { return std::end(kMigrations)[-1].version; }

PgAccountDirectory::PgAccountDirectory(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

PgAccountDirectory::~PgAccountDirectory() = default;  // stops the listener, if any

const PgListener* PgAccountDirectory::Listener() const {
  std::call_once(listener_once_, [this] {
    auto listener = PgListener::Start({
        .conninfo = pool_->options().conninfo,
        .label = account_sql::kStoreLabel,
        .channel = kChangeChannel,
        .counters = {{"accounts", "aliases"}, {"usage"}},
        // In the background: connecting may take the time Open() is allowed.
        .timeout_ms = std::max<int64_t>(pool_->options().timeout_ms, kOpenTimeoutMs),
    });
    if (!listener.ok()) {
      LogWarn(listener.status().message() + " (changes not heard: answers kept for a fixed time)");
      return;
    }
    listener_ = std::move(listener).value();
  });
  return listener_.get();
}

std::optional<uint64_t> PgAccountDirectory::AccountsMark() const {
  const PgListener* l = Listener();
  return l ? l->Count(kAccountsCounter) : std::nullopt;
}

std::optional<uint64_t> PgAccountDirectory::UsageMark() const {
  const PgListener* l = Listener();
  return l ? l->Count(kUsageCounter) : std::nullopt;
}

Result<std::unique_ptr<PgAccountDirectory>> PgAccountDirectory::Open(
    const std::string& conninfo, const AccountDirectoryOptions& options) {
  auto pool = PgPool::Create({.conninfo = conninfo,
                              .label = account_sql::kStoreLabel,
                              .timeout_ms = options.timeout_ms,
                              .max_connections = options.max_connections});
  if (!pool.ok()) return pool.status();
  Status migrated = (*pool)->Run(
      [](PgConnection& c) {
        return ApplyPgMigrations(c, account_sql::kVersionTable, kMigrationLockKey, kMigrations);
      },
      std::max<int64_t>(options.timeout_ms, kOpenTimeoutMs));
  if (!migrated.ok()) return migrated;
  // A daemon's pool (the CLI has one connection): connected now, not by its first requests.
  if (options.max_connections > 1) (*pool)->Warm(kOpenTimeoutMs);
  return std::unique_ptr<PgAccountDirectory>(new PgAccountDirectory(std::move(pool).value()));
}

Result<std::optional<Account>> PgAccountDirectory::Find(std::string_view address) const {
  const std::string key = NormalizeAddress(address);
  return pool_->Run([&](PgConnection& c) -> Result<std::optional<Account>> {
    auto rows = c.Query(Sql().find, {PgText(key)}, "find " + key);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<Account>();
    auto a = AccountFromRow(rows->row(0), pool_->name());
    if (!a.ok()) return a.status();
    return std::optional<Account>(std::move(a).value());
  });
}

Result<std::optional<MailboxUsage>> PgAccountDirectory::Usage(
    std::string_view account_address) const {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](PgConnection& c) -> Result<std::optional<MailboxUsage>> {
    auto rows = c.Query(Sql().usage, {PgText(key)}, "read usage of " + key);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<MailboxUsage>();
    return std::optional<MailboxUsage>(MailboxUsage{rows->Int(0, 0), rows->Int(0, 1)});
  });
}

Status PgAccountDirectory::Add(const Account& account) {
  auto a = NewAccountToAdd(account);
  if (!a.ok()) return a.status();
  return InWriteTransaction(*pool_, [&](AccountRowWriter& w) { return AddAccount(w, *a); });
}

Status PgAccountDirectory::Update(const Account& account) {
  auto a = ValidatedAccount(account);
  if (!a.ok()) return a.status();
  return InWriteTransaction(
      *pool_, [&](AccountRowWriter& w) { return WriteAccount(w, *a, /*insert=*/false); });
}

Result<std::vector<Account>> PgAccountDirectory::List() const {
  return pool_->Run([&](PgConnection& c) -> Result<std::vector<Account>> {
    auto rows = c.Query(Sql().list, {}, "list accounts");
    if (!rows.ok()) return rows.status();
    std::vector<Account> out;
    out.reserve(rows->size());
    for (size_t i = 0; i < rows->size(); ++i) {
      auto a = AccountFromRow(rows->row(i), pool_->name());
      if (!a.ok()) return a.status();
      out.push_back(std::move(a).value());
    }
    return out;
  });
}

Status PgAccountDirectory::SetUsage(std::string_view account_address, const MailboxUsage& usage) {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](PgConnection& c) {
    PgRowWriter w(c);
    return WriteUsage(w, key, usage);
  });
}

Status PgAccountDirectory::RecordLogin(std::string_view account_address, int64_t when) {
  const std::string key = NormalizeAddress(account_address);
  return pool_->Run([&](PgConnection& c) -> Status {
    auto written =
        c.Query(Sql().record_login, {PgText(key), PgInt(when)}, "record login of " + key);
    if (!written.ok()) return written.status();
    if (written->affected() == 0) return Status::NotFound("no account " + key);
    return Status::Ok();
  });
}

Status PgAccountDirectory::Import(std::span<const ImportRecord> records) {
  auto accounts = AccountsToImport(records);
  if (!accounts.ok()) return accounts.status();
  const int64_t now = AccountStoreNow();
  return InWriteTransaction(
      *pool_, [&](AccountRowWriter& w) { return ImportAccounts(w, records, *accounts, now); });
}

Result<int> PgAccountDirectory::SchemaVersion() const {
  return pool_->Run(
      [&](PgConnection& c) { return PgSchemaVersion(c, account_sql::kVersionTable); });
}

}  // namespace mailwarden

// PgAccountDirectory: the account directory in a PostgreSQL database, for several MTAs
// sharing one directory (accounts.database: postgresql://mailwarden@db.example.org/mail).
//
// The schema is the SQLite store's (tables accounts, aliases and usage, the same columns;
// integers are BIGINT) and versioned the same way: table schema_version records each
// migration, and Open() applies the missing ones in one transaction holding an advisory
// lock, so two daemons starting together apply each exactly once. A database from a newer
// mailwarden (a higher version) is refused. The role needs CREATE on the schema the first
// time (or a DBA creates the tables), and for version 2 (a function and triggers) also
// TRIGGER on the tables (their owner has it); then SELECT, INSERT, UPDATE and DELETE.
//
// Semantics are the SQLite store's: Find resolves an alias and returns the account with
// its aliases in one statement (one snapshot); Add, Update and Import run in a transaction
// holding a writers' advisory lock (writers one at a time, as SQLite's), Import all or
// nothing; RecordLogin never moves a login back; the same validation and messages
// (account_validation.h).
//
// Threads: every method may be called from any thread; calls borrow a connection from a
// pool of options.max_connections (pg_db.h).
//
// Changes: triggers (schema version 2) notify channel mailwarden_directory with the table's
// name on every committed change of accounts, aliases or usage, whoever makes it. The first
// AccountsMark() or UsageMark() starts a listener (pg_db.h's PgListener: a thread and a
// connection of its own, not taken from the pool; the CLI never asks, so never has one):
// `accounts` and `aliases` move AccountsMark, `usage` moves UsageMark. While the listener is
// not connected (starting, or the connection lost until a reconnection, tried after 1 s
// doubling up to 30 s) the marks are nullopt and caches fall back to accounts.cache_ms; on
// reconnection both move on, as changes may have been missed. The marks read atomics only.
//
// Time: every call ends within options.timeout_ms (the pool's wait, connecting, lock waits
// and the statements), kTimeout past it with the statement cancelled and the transaction
// rolled back. A connection broken by a server restart makes its call kUnavailable; the next
// call connects again. Open() allows itself at least kOpenTimeoutMs. Messages name the store
// by host and database, never the password. The destructor stops the listener at once.
#ifndef MAILWARDEN_POLICYD_STORE_PG_ACCOUNT_DIRECTORY_H_
#define MAILWARDEN_POLICYD_STORE_PG_ACCOUNT_DIRECTORY_H_

#include <memory>
#include <mutex>
#include <string>

#include "policyd/store/account_directory.h"

namespace mailwarden {

class PgListener;
class PgPool;

class PgAccountDirectory final : public AccountDirectory {
 public:
  static constexpr int64_t kOpenTimeoutMs = 5000;

  // Connects to `conninfo` (a libpq URI, passed as is) and migrates the database.
  // kInvalidArgument for a URI libpq cannot parse; kUnavailable or kTimeout when the server
  // cannot be used.
  static Result<std::unique_ptr<PgAccountDirectory>> Open(const std::string& conninfo,
                                                          const AccountDirectoryOptions& options);
  // The schema version this build creates and understands.
  static int LatestSchemaVersion();

  ~PgAccountDirectory() override;
  PgAccountDirectory(const PgAccountDirectory&) = delete;
  PgAccountDirectory& operator=(const PgAccountDirectory&) = delete;

  Result<std::optional<Account>> Find(std::string_view address) const override;
  Result<std::optional<MailboxUsage>> Usage(std::string_view account_address) const override;
  Status Add(const Account& account) override;
  Status Update(const Account& account) override;
  Result<std::vector<Account>> List() const override;
  Status SetUsage(std::string_view account_address, const MailboxUsage& usage) override;
  Status RecordLogin(std::string_view account_address, int64_t when) override;
  Status Import(std::span<const ImportRecord> records) override;
  // Counts of the notifications heard (see "Changes" above); the first call starts the
  // listener, and the marks are nullopt until it listens.
  std::optional<uint64_t> AccountsMark() const override;
  std::optional<uint64_t> UsageMark() const override;

  // The schema version recorded in the database.
  Result<int> SchemaVersion() const;

 private:
  explicit PgAccountDirectory(std::unique_ptr<PgPool> pool);

  // The listener, started by the first call (nullptr when it could not be).
  const PgListener* Listener() const;

  std::unique_ptr<PgPool> pool_;
  mutable std::once_flag listener_once_;
  mutable std::unique_ptr<PgListener> listener_;  // set once, under listener_once_
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_PG_ACCOUNT_DIRECTORY_H_

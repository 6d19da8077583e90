// PgAccountDirectory: the account directory in a PostgreSQL database, for several MTAs
// sharing one directory (accounts.database: postgresql://mailwarden@db.example.org/mail).
//
// The schema is the SQLite store's (tables accounts, aliases and usage, the same columns;
// integers are BIGINT) and versioned the same way: table schema_version records each
// migration, and Open() applies the missing ones in one transaction holding an advisory
// lock, so two daemons starting together apply each exactly once. A database from a newer
// mailwarden (a higher version) is refused. The role needs CREATE on the schema the first
// time (or a DBA creates the tables), then SELECT, INSERT, UPDATE and DELETE on the tables.
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
// Time: every call ends within options.timeout_ms (the pool's wait, connecting, lock waits
// and the statements), kTimeout past it with the statement cancelled and the transaction
// rolled back. A connection broken by a server restart makes its call kUnavailable; the next
// call connects again. Open() allows itself at least kOpenTimeoutMs. Messages name the store
// by host and database, never the password.
#ifndef MAILWARDEN_POLICYD_STORE_PG_ACCOUNT_DIRECTORY_H_
#define MAILWARDEN_POLICYD_STORE_PG_ACCOUNT_DIRECTORY_H_

#include <memory>
#include <string>

#include "policyd/store/account_directory.h"

namespace mailwarden {

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

  // The schema version recorded in the database.
  Result<int> SchemaVersion() const;

 private:
  explicit PgAccountDirectory(std::unique_ptr<PgPool> pool);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_PG_ACCOUNT_DIRECTORY_H_

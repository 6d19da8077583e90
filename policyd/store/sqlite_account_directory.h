// SqliteAccountDirectory: the account directory in one SQLite file, the embedded default
// (accounts.database: sqlite:/var/lib/mailwarden/accounts.db).
//
// The file: WAL journal (readers never wait for a writer, a writer never waits for
// readers), foreign keys on, synchronous=NORMAL (durable across a process crash; the last
// commits may be lost on power failure, which an imported or re-recorded login survives).
// The schema is versioned: table schema_version records each migration applied, and Open()
// applies the missing ones in one IMMEDIATE transaction, so two processes starting together
// apply each exactly once. A file from a newer mailwarden (a higher version) is refused.
//
// Threads: every method may be called from any thread. A call borrows a connection
// (sqlite_db.h) from a small pool (options.max_connections), each with its own prepared statements;
// readers therefore run in parallel and writers are serialised by SQLite itself.
//
// Time: a call has one deadline, options.timeout_ms from its start, covering the wait for a
// pooled connection, SQLite's lock waits (a busy handler that gives up at the deadline) and
// the statements themselves (a progress handler interrupts them). Past it the call returns
// kTimeout; nothing is left half-written (the transaction is rolled back). Open() allows
// itself at least kOpenTimeoutMs, as a migration may have to wait for another writer.
// Other failures (cannot open, I/O error, corrupt file, disk full) are kUnavailable naming
// the file and SQLite's reason.
#ifndef MAILWARDEN_POLICYD_STORE_SQLITE_ACCOUNT_DIRECTORY_H_
#define MAILWARDEN_POLICYD_STORE_SQLITE_ACCOUNT_DIRECTORY_H_

#include <memory>
#include <mutex>
#include <string>

#include "policyd/store/account_directory.h"
#include "policyd/store/sqlite_db.h"

namespace mailwarden {

class SqliteAccountDirectory final : public AccountDirectory {
 public:
  static constexpr int64_t kOpenTimeoutMs = 5000;

  // Opens (creating when missing) the database at `path` and migrates it.
  static Result<std::unique_ptr<SqliteAccountDirectory>> Open(
      const std::string& path, const AccountDirectoryOptions& options);
  // The schema version this build creates and understands.
  static int LatestSchemaVersion();

  ~SqliteAccountDirectory() override;
  SqliteAccountDirectory(const SqliteAccountDirectory&) = delete;
  SqliteAccountDirectory& operator=(const SqliteAccountDirectory&) = delete;

  Result<std::optional<Account>> Find(std::string_view address) const override;
  Result<std::optional<MailboxUsage>> Usage(std::string_view account_address) const override;
  Status Add(const Account& account) override;
  Status Update(const Account& account) override;
  Result<std::vector<Account>> List() const override;
  Status SetUsage(std::string_view account_address, const MailboxUsage& usage) override;
  Status RecordLogin(std::string_view account_address, int64_t when) override;
  Status Import(std::span<const ImportRecord> records) override;
  // PRAGMA data_version on a connection of their own (sqlite_db.h, SqliteChangeWatch): one
  // file holds accounts, aliases and usage, so both marks are the same.
  std::optional<uint64_t> AccountsMark() const override;
  std::optional<uint64_t> UsageMark() const override { return AccountsMark(); }

  // The schema version recorded in the file.
  Result<int> SchemaVersion() const;

 private:
  class Pool;
  explicit SqliteAccountDirectory(std::unique_ptr<Pool> pool);

  std::unique_ptr<Pool> pool_;
  mutable SqliteChangeWatch watch_{kChangeLagMs};
  mutable std::mutex watch_mu_;
  mutable std::unique_ptr<SqliteConnection> watch_connection_;  // guarded by watch_mu_
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_SQLITE_ACCOUNT_DIRECTORY_H_

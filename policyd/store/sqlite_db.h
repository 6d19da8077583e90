// SQLite plumbing for the policy daemon's stores (the rate counters, and any other store
// kept in an SQLite file): a connection whose every call has a deadline, its cached
// prepared statements, bound queries, IMMEDIATE write transactions and versioned
// migrations.
//
// Time: SqliteConnection::StartCall() sets a deadline; SQLite's lock waits (a busy handler
// that gives up at the deadline) and the statements themselves (a progress handler that
// interrupts them) end there, and the failure is kTimeout. Other failures (cannot open,
// I/O error, corrupt file, disk full) are kUnavailable naming the store, the file and
// SQLite's reason; a constraint violation is kInvalidArgument. Nothing throws.
//
// Threads: a connection, and the queries and transactions on it, belong to one thread at a
// time (opened SQLITE_OPEN_NOMUTEX); the owner serialises access (a mutex or a pool).
#ifndef MAILWARDEN_POLICYD_STORE_SQLITE_DB_H_
#define MAILWARDEN_POLICYD_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace mailwarden {

class SqliteConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens `path` (creating it only when `create`) with foreign keys on and
  // synchronous=NORMAL; its set-up runs under `budget_ms`. `label` names the store in every
  // error message ("rate limit store").
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path, bool create,
                                                        int64_t budget_ms, std::string label);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Switches the file to a WAL journal (readers never wait for the writer); kUnavailable
  // when SQLite keeps another mode (a network file system, an in-memory database).
  Status UseWal();

  // Starts a call: its deadline is `budget_ms` from now.
  void StartCall(int64_t budget_ms);
  // The call's deadline, for waits outside SQLite (a mutex, a pool).
  Clock::time_point deadline() const { return deadline_; }

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

  // The prepared statement for `sql`, a string literal (its address keys the cache),
  // prepared on first use.
  Result<sqlite3_stmt*> Statement(const char* sql);
  // Runs `sql` (statements without parameters or rows: BEGIN, PRAGMA, a migration).
  Status Exec(const char* sql);
  // Ends an open transaction whatever the deadline: a rollback only releases locks.
  void RollbackIfOpen();

  // The Status for SQLite result `rc` while doing `what`.
  Status Error(int rc, std::string_view what) const;

 private:
  SqliteConnection(std::string path, std::string label)
      : path_(std::move(path)), label_(std::move(label)) {}
  static int OnBusy(void* self, int attempts);
  static int OnProgress(void* self);

  std::string path_;
  std::string label_;
  sqlite3* db_ = nullptr;
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unordered_map<const char*, std::unique_ptr<sqlite3_stmt, StmtFinalizer>> statements_;
  Clock::time_point deadline_ = Clock::time_point::max();
  int64_t budget_ms_ = 0;
};

// One use of a cached prepared statement: binds in order, steps, and resets the statement
// (releasing its read snapshot) when it goes out of scope. A failed prepare or bind is
// reported by the first Step()/Run().
class SqliteQuery {
 public:
  SqliteQuery(SqliteConnection& c, const char* sql);
  ~SqliteQuery();
  SqliteQuery(const SqliteQuery&) = delete;
  SqliteQuery& operator=(const SqliteQuery&) = delete;

  SqliteQuery& Text(std::string_view v);
  SqliteQuery& Int(int64_t v);
  SqliteQuery& OptionalInt(std::optional<int64_t> v);

  // true: a row is there to read; false: done.
  Result<bool> Step(std::string_view what);
  // Runs a statement that returns no rows.
  Status Run(std::string_view what);
  int Changes() const { return sqlite3_changes(c_.db()); }

  std::string ColumnText(int i) const;
  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::optional<int64_t> ColumnOptionalInt(int i) const;

 private:
  SqliteQuery& Check(int rc);

  SqliteConnection& c_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
  int index_ = 0;
};

// BEGIN IMMEDIATE ... COMMIT; rolled back when it goes out of scope uncommitted, so an
// error or a timeout half way leaves nothing behind. IMMEDIATE takes the write lock at
// once, so lock waits happen there, under the busy handler, and never as a deadlock-prone
// upgrade later.
class SqliteWriteTransaction {
 public:
  explicit SqliteWriteTransaction(SqliteConnection& c) : c_(c) {}
  ~SqliteWriteTransaction() { c_.RollbackIfOpen(); }
  SqliteWriteTransaction(const SqliteWriteTransaction&) = delete;
  SqliteWriteTransaction& operator=(const SqliteWriteTransaction&) = delete;

  Status Begin() { return c_.Exec("BEGIN IMMEDIATE"); }
  Status Commit() { return c_.Exec("COMMIT"); }

 private:
  SqliteConnection& c_;
};

// Change marks of an SQLite file (AccountDirectory::AccountsMark,
// RateCounterStore::ChangeMark): PRAGMA data_version on a connection moves on when another
// connection, of this process or another, commits to the file, and not for the
// connection's own commits. Mark() reads two atomics; Poll() asks SQLite, and the owner
// calls it when PollDue() (every `interval_ms`), holding the connection. A mark is never
// reused: after a failed poll (nullopt) the next good one is a new number.
class SqliteChangeWatch {
 public:
  using Clock = SqliteConnection::Clock;

  explicit SqliteChangeWatch(int64_t interval_ms) : interval_(interval_ms) {}

  std::optional<uint64_t> Mark() const {
    uint64_t m = mark_.load(std::memory_order_acquire);
    return m == 0 ? std::nullopt : std::optional<uint64_t>(m);
  }
  // True for one caller per interval: that caller then calls Poll().
  bool PollDue();
  // Reads data_version on `c` (null: the connection could not be had; the mark becomes
  // unknown) with a short budget of its own. Callers are serialised by the owner.
  void Poll(SqliteConnection* c);

 private:
  const std::chrono::milliseconds interval_;
  std::atomic<int64_t> next_poll_{0};  // steady-clock ticks
  std::atomic<uint64_t> mark_{0};      // 0: unknown
  uint64_t last_mark_ = 0;             // the last one handed out (guarded by the owner)
  std::optional<int64_t> data_version_;
};

// One schema step. A released migration is never edited: a change is a new version.
struct SqliteMigration {
  int version;
  const char* description;
  const char* sql;
};

// Applies the `migrations` (ascending versions) newer than the version recorded in
// `version_table` (created when missing: version, description, applied_at), in one
// IMMEDIATE transaction, so two processes starting together apply each exactly once. A file
// recorded at a version above the last migration (a newer mailwarden) is kUnavailable.
// `version_table` is a literal of ours, never input.
Status ApplySqliteMigrations(SqliteConnection& c, std::string_view version_table,
                             std::span<const SqliteMigration> migrations);

// The version recorded in `version_table` (0 when none).
Result<int> SqliteSchemaVersion(SqliteConnection& c, std::string_view version_table);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_SQLITE_DB_H_

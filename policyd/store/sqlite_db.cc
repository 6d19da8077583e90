// SQLite plumbing (see the header). Every value is bound, never spliced into SQL text; the
// only SQL built at run time names a version table, which is a literal of the caller's.
#include "policyd/store/sqlite_db.h"

#include <algorithm>
#include <ctime>
#include <thread>

namespace mailwarden {
namespace {

// The progress handler runs every this many SQLite VM instructions: a few microseconds,
// so a statement overruns its deadline by that much at most.
constexpr int kProgressInterval = 1000;

}  // namespace

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                 bool create, int64_t budget_ms,
                                                                 std::string label) {
  auto c = std::unique_ptr<SqliteConnection>(new SqliteConnection(path, std::move(label)));
  c->StartCall(budget_ms);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr);
  // Even a failed open returns a handle, closed by the destructor.
  if (rc != SQLITE_OK) return c->Error(rc, "cannot open");
  sqlite3_extended_result_codes(c->db_, 1);
  sqlite3_busy_handler(c->db_, &SqliteConnection::OnBusy, c.get());
  sqlite3_progress_handler(c->db_, kProgressInterval, &SqliteConnection::OnProgress, c.get());
  for (const char* pragma : {"PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"}) {
    if (Status s = c->Exec(pragma); !s.ok()) return s;
  }
  return c;
}

SqliteConnection::~SqliteConnection() {
  statements_.clear();  // finalised before the close
  sqlite3_close_v2(db_);
}

Status SqliteConnection::UseWal() {
  // Switching the journal needs the file to itself for a moment, and SQLite answers
  // SQLITE_BUSY at once, without calling the busy handler, while another connection is
  // reading the same new file (two daemons, or a daemon and a command, opening it
  // together). So the switch is retried here, with the busy handler's pauses, until the
  // call's deadline.
  for (int attempt = 0;; ++attempt) {
    SqliteQuery q(*this, "PRAGMA journal_mode = WAL");
    auto row = q.Step("switch to WAL");
    if (!row.ok()) {
      if (row.status().code() != Status::Code::kTimeout || !OnBusy(this, attempt)) {
        return row.status();
      }
      continue;
    }
    std::string mode = *row ? q.ColumnText(0) : std::string();
    if (mode == "wal") return Status::Ok();
    return Status::Unavailable(label_ + " " + path_ + ": cannot use a WAL journal (journal mode '" +
                               mode + "')");
  }
}

void SqliteConnection::StartCall(int64_t budget_ms) {
  budget_ms_ = budget_ms;
  deadline_ = Clock::now() + std::chrono::milliseconds(budget_ms);
}

Result<sqlite3_stmt*> SqliteConnection::Statement(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, "prepare");
  return statements_.emplace(sql, std::move(stmt)).first->second.get();
}

Status SqliteConnection::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(rc, sql);
}

void SqliteConnection::RollbackIfOpen() {
  if (sqlite3_get_autocommit(db_)) return;
  deadline_ = Clock::time_point::max();
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status SqliteConnection::Error(int rc, std::string_view what) const {
  std::string reason = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string m = label_ + " " + path_ + ": " + std::string(what) + ": " + reason;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Timeout(m + " (still locked after " + std::to_string(budget_ms_) + " ms)");
    case SQLITE_INTERRUPT:
      return Status::Timeout(m + " (over the " + std::to_string(budget_ms_) + " ms budget)");
    case SQLITE_CONSTRAINT:
      return Status::InvalidArgument(m);
    default:
      return Status::Unavailable(m);
  }
}

// SQLite's busy handler: wait a little and retry until the call's deadline, never beyond.
int SqliteConnection::OnBusy(void* self, int attempts) {
  auto* c = static_cast<SqliteConnection*>(self);
  const auto now = Clock::now();
  if (now >= c->deadline_) return 0;
  static constexpr int kBackoffMs[] = {1, 2, 5, 10, 20};
  const int step = std::min(attempts, static_cast<int>(std::size(kBackoffMs)) - 1);
  std::this_thread::sleep_for(
      std::min<Clock::duration>(std::chrono::milliseconds(kBackoffMs[step]), c->deadline_ - now));
  return 1;
}

// SQLite's progress handler: a non-zero answer interrupts the running statement.
int SqliteConnection::OnProgress(void* self) {
  return Clock::now() >= static_cast<SqliteConnection*>(self)->deadline_ ? 1 : 0;
}

// ---- SqliteQuery -------------------------------------------------------------------------

SqliteQuery::SqliteQuery(SqliteConnection& c, const char* sql) : c_(c) {
  auto s = c.Statement(sql);
  if (s.ok()) {
    stmt_ = *s;
  } else {
    status_ = s.status();
  }
}

SqliteQuery::~SqliteQuery() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

SqliteQuery& SqliteQuery::Text(std::string_view v) {
  return Check(stmt_ ? sqlite3_bind_text(stmt_, ++index_, v.data(), static_cast<int>(v.size()),
                                         SQLITE_TRANSIENT)
                     : SQLITE_OK);
}

SqliteQuery& SqliteQuery::Int(int64_t v) {
  return Check(stmt_ ? sqlite3_bind_int64(stmt_, ++index_, v) : SQLITE_OK);
}

SqliteQuery& SqliteQuery::OptionalInt(std::optional<int64_t> v) {
  if (v) return Int(*v);
  return Check(stmt_ ? sqlite3_bind_null(stmt_, ++index_) : SQLITE_OK);
}

Result<bool> SqliteQuery::Step(std::string_view what) {
  if (!status_.ok()) return status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return c_.Error(rc, what);
}

Status SqliteQuery::Run(std::string_view what) {
  auto r = Step(what);
  return r.ok() ? Status::Ok() : r.status();
}

std::string SqliteQuery::ColumnText(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
}

std::optional<int64_t> SqliteQuery::ColumnOptionalInt(int i) const {
  if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) return std::nullopt;
  return ColumnInt(i);
}

SqliteQuery& SqliteQuery::Check(int rc) {
  if (rc != SQLITE_OK && status_.ok()) status_ = c_.Error(rc, "bind");
  return *this;
}

// ---- migrations --------------------------------------------------------------------------

namespace {

// Runs `sql` (built here, not cached) binding `ints` in order; the first column of its
// first row when `row` is given.
Status RunOnce(SqliteConnection& c, const std::string& sql, std::span<const int64_t> ints,
               std::string_view text, int64_t* row) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(c.db(), sql.c_str(), -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) return c.Error(rc, "prepare");
  int index = 0;
  for (int64_t v : ints) sqlite3_bind_int64(raw, ++index, v);
  if (!text.empty()) {
    sqlite3_bind_text(raw, ++index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  rc = sqlite3_step(raw);
  if (rc == SQLITE_ROW && row != nullptr) {
    *row = sqlite3_column_int64(raw, 0);
    return Status::Ok();
  }
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  return c.Error(rc, sql);
}

std::string VersionSql(std::string_view table) {
  return "SELECT coalesce(max(version), 0) FROM " + std::string(table);
}

}  // namespace

Status ApplySqliteMigrations(SqliteConnection& c, std::string_view version_table,
                             std::span<const SqliteMigration> migrations) {
  const std::string table(version_table);
  SqliteWriteTransaction tx(c);
  if (Status s = tx.Begin(); !s.ok()) return s;
  std::string create = "CREATE TABLE IF NOT EXISTS " + table +
                       " (version INTEGER PRIMARY KEY NOT NULL, description TEXT NOT NULL,"
                       " applied_at INTEGER NOT NULL)";
  if (Status s = c.Exec(create.c_str()); !s.ok()) return s;
  int64_t current = 0;
  if (Status s = RunOnce(c, VersionSql(table), {}, "", &current); !s.ok()) return s;
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (current > latest) {
    return Status::Unavailable(c.path() + ": schema version " + std::to_string(current) +
                               " is newer than this mailwarden (" + std::to_string(latest) +
                               "); upgrade mailwarden");
  }
  const std::string record =
      "INSERT INTO " + table + " (version, applied_at, description) VALUES (?1, ?2, ?3)";
  for (const SqliteMigration& m : migrations) {
    if (m.version <= current) continue;
    if (Status s = c.Exec(m.sql); !s.ok()) return s;
    const int64_t values[] = {m.version, static_cast<int64_t>(std::time(nullptr))};
    if (Status s = RunOnce(c, record, values, m.description, nullptr); !s.ok()) return s;
  }
  return tx.Commit();
}

Result<int> SqliteSchemaVersion(SqliteConnection& c, std::string_view version_table) {
  int64_t version = 0;
  if (Status s = RunOnce(c, VersionSql(version_table), {}, "", &version); !s.ok()) return s;
  return static_cast<int>(version);
}

// ---- SqliteChangeWatch ------------------------------------------------------------------

bool SqliteChangeWatch::PollDue() {
  const int64_t now = Clock::now().time_since_epoch().count();
  int64_t due = next_poll_.load(std::memory_order_relaxed);
  return now >= due &&
         next_poll_.compare_exchange_strong(
             due, now + std::chrono::duration_cast<Clock::duration>(interval_).count());
}

void SqliteChangeWatch::Poll(SqliteConnection* c) {
  // A poll must never hold its caller (the event loop) long: a locked file means "unknown"
  // until the next one.
  constexpr int64_t kPollBudgetMs = 20;
  std::optional<int64_t> version;
  if (c != nullptr) {
    c->StartCall(kPollBudgetMs);
    SqliteQuery q(*c, "PRAGMA data_version");
    auto row = q.Step("read data_version");
    if (row.ok() && *row) version = q.ColumnInt(0);
  }
  if (!version) {
    data_version_.reset();
    mark_.store(0, std::memory_order_release);
    return;
  }
  if (!data_version_ || *data_version_ != *version || mark_.load() == 0) {
    data_version_ = version;
    mark_.store(++last_mark_, std::memory_order_release);
  }
}

}  // namespace mailwarden

// PostgreSQL plumbing for the policy daemon's stores (the account directory, and any other
// reader of a PostgreSQL table such as Dovecot's quota or last-login table): a pool of libpq
// connections whose every call has one deadline, queries with bound parameters, their rows,
// transactions and versioned migrations.
//
//   PgPool pool(PgPool::Options{.conninfo = "postgresql://mail@db/mail", .label = "quota"});
//   auto rows = pool.Query("SELECT bytes, messages FROM quota WHERE username = $1",
//                          {PgText(user)});
//   if (rows.ok() && rows->size() == 1) use(rows->Int(0, 0), rows->Int(0, 1));
//
// Time: a call (PgPool::Run or PgPool::Query) has one deadline, options.timeout_ms from its
// start, covering the wait for a pooled connection, connecting (non-blocking, libpq's
// connect_timeout as well), sending, the server's work and lock waits, and reading the
// result. Past it the running statement is cancelled (PQcancel) and the call returns kTimeout.
// Each connection also carries statement_timeout = timeout_ms, so the server gives up on
// its own should the cancel be lost.
//
// Failures: a connection that breaks (the server restarted or went away) is dropped, and so
// are the idle ones opened before it, so the call that found it returns kUnavailable and the
// next call connects afresh. Messages name the store by its label and host/database (never
// the password) and carry the server's message. A constraint violation (SQLSTATE class 23)
// is kInvalidArgument; a cancelled statement or a lock not obtained is kTimeout; the rest is
// kUnavailable. Nothing throws.
//
// Threads: a PgPool may be used from any thread; a PgConnection belongs to the one call that
// borrowed it.
//
// PgListener (at the end) listens on a channel (LISTEN/NOTIFY) over a connection of its own
// and counts the notifications, for a store that keeps answers until the database says
// they changed.
#ifndef MAILWARDEN_POLICYD_STORE_PG_DB_H_
#define MAILWARDEN_POLICYD_STORE_PG_DB_H_

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "policyd/store/connection_pool.h"

using PGconn = struct pg_conn;  // libpq's handle; libpq-fe.h stays out of this header

namespace mailwarden {

// One bound parameter: its text (nullopt: NULL) and the type the server reads it as.
struct PgParam {
  std::optional<std::string> value;
  enum class Type { kText, kBigint } type = Type::kText;
};
PgParam PgText(std::string_view v);
PgParam PgInt(int64_t v);
PgParam PgOptionalInt(std::optional<int64_t> v);

// The rows a statement returned, as text (libpq's text format), and how many rows it
// changed. Plain values, copied out of libpq's result.
class PgRows {
 public:
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  // Rows an INSERT/UPDATE/DELETE changed.
  int64_t affected() const { return affected_; }

  bool IsNull(size_t row, int column) const;
  // The column's text ("" for NULL).
  const std::string& Text(size_t row, int column) const;
  // The column as a 64-bit integer (0 for NULL or not a number).
  int64_t Int(size_t row, int column) const;
  std::optional<int64_t> OptionalInt(size_t row, int column) const;

  // One row, read with the same names as a SQLite query's columns (ColumnText(i), ...), so
  // row decoders can be shared between stores.
  class Row {
   public:
    Row(const PgRows& rows, size_t row) : rows_(rows), row_(row) {}
    std::string ColumnText(int i) const { return rows_.Text(row_, i); }
    int64_t ColumnInt(int i) const { return rows_.Int(row_, i); }
    std::optional<int64_t> ColumnOptionalInt(int i) const { return rows_.OptionalInt(row_, i); }

   private:
    const PgRows& rows_;
    size_t row_;
  };
  Row row(size_t i) const { return Row(*this, i); }

 private:
  friend class PgConnection;
  std::vector<std::vector<std::optional<std::string>>> rows_;
  int64_t affected_ = 0;
};

// One libpq connection. Created and lent out by a PgPool.
class PgConnection {
 public:
  using Clock = std::chrono::steady_clock;

  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs `sql` with `params` ($1, $2, ...) before the call's deadline; `what` says what it
  // was doing in an error ("find alice@example.org").
  Result<PgRows> Query(std::string_view sql, std::span<const PgParam> params,
                       std::string_view what);
  Result<PgRows> Query(std::string_view sql, std::initializer_list<PgParam> params,
                       std::string_view what) {
    return Query(sql, std::span<const PgParam>(params.begin(), params.size()), what);
  }
  // A statement without parameters whose rows do not matter (BEGIN, a migration).
  Status Exec(std::string_view sql);

  // False once the connection is unusable (the server went away, a cancel went unanswered).
  bool usable() const;
  // True inside a transaction (BEGIN without COMMIT/ROLLBACK yet).
  bool in_transaction() const;
  // Ends an open transaction, allowing itself a short grace past the deadline (a rollback
  // only releases locks); a connection where that fails is marked unusable.
  void RollbackIfOpen();

  // Starts a call of `budget_ms` ending at `deadline`.
  void StartCall(int64_t budget_ms, Clock::time_point deadline) {
    budget_ms_ = budget_ms;
    deadline_ = deadline;
  }
  Clock::time_point deadline() const { return deadline_; }
  // "<label> <host>/<database>", the start of every error message.
  const std::string& name() const { return name_; }

 private:
  friend class PgPool;
  explicit PgConnection(std::string name) : name_(std::move(name)) {}
  // Opens a connection to `conninfo` before `deadline` (`budget_ms` from the call's start); its
  // statements time out on the server after `statement_timeout_ms`. `stop_fd`: see stop_fd_.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo,
                                                       std::string name, int64_t budget_ms,
                                                       Clock::time_point deadline,
                                                       int64_t statement_timeout_ms,
                                                       int stop_fd = -1);
  // Sends `sql` (with `params` unless `simple`: the simple protocol, several statements) and
  // collects its result before the deadline.
  Result<PgRows> Run(const std::string& sql, std::span<const PgParam> params, bool simple,
                     std::string_view what);
  // Sends what a PQsend* call queued and collects its result before the deadline.
  Result<PgRows> Await(std::string_view what);
  // Marks the connection broken; kUnavailable with libpq's message.
  Status Lost(std::string_view what);
  // Waits until the socket is readable (or writable) or the deadline passes.
  bool WaitSocket(bool for_write) const;
  // Cancels the running statement and drains its result; unusable if that does not work.
  void Cancel();
  Status Error(std::string_view what, const std::string& reason, const char* sqlstate) const;

  friend class PgListener;
  // True once `stop_fd_` (when set) is readable: the owner wants the call to end now.
  bool Stopping() const;

  std::string name_;
  int64_t budget_ms_ = 0;
  PGconn* conn_ = nullptr;
  // A PgListener's stop event: waits end when it becomes readable (as at the deadline), and
  // a statement so ended is not cancelled (the connection is dropped instead). -1: none.
  int stop_fd_ = -1;
  bool broken_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> prepared statement name
  uint64_t prepare_attempts_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
};

// BEGIN ... COMMIT, rolled back when it goes out of scope uncommitted, so an error or a
// timeout half way leaves nothing behind. `lock_key`, when given, is taken as a
// transaction-level advisory lock right after BEGIN: writers using the same key run one at
// a time (as SQLite's IMMEDIATE transactions do), bounded by the call's deadline.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& c) : c_(c) {}
  ~PgTransaction() { c_.RollbackIfOpen(); }
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  Status Begin(std::optional<int64_t> lock_key = std::nullopt);
  Status Commit() { return c_.Exec("COMMIT"); }

 private:
  PgConnection& c_;
};

// Connections for concurrent calls: idle ones are reused, new ones opened up to the limit,
// and a caller finding none waits until its deadline.
class PgPool {
 public:
  struct Options {
    std::string conninfo;  // a libpq URI ("postgresql://user@host:port/db?sslmode=require")
    std::string label;     // names the store in errors ("accounts store")
    int64_t timeout_ms = 200;
    int max_connections = 8;
  };
  using Clock = PgConnection::Clock;

  // kInvalidArgument when the conninfo cannot be parsed or the limits are not positive.
  // Connects nothing yet.
  static Result<std::unique_ptr<PgPool>> Create(Options options);
  ~PgPool();

  // "<label> <host>/<database>".
  const std::string& name() const { return name_; }
  const Options& options() const { return options_; }

  // Opens connections until options.max_connections are open, within `budget_ms` in all:
  // a daemon's first requests under load then do not pay for connecting, which on a busy
  // server (a backend process to start, authentication) can take longer than one
  // request's budget. What cannot be opened now is left to the calls that need it.
  void Warm(int64_t budget_ms);

  // Runs fn(PgConnection&) with a connection whose deadline is `budget_ms` (default:
  // options.timeout_ms) from now; returns what fn returns, or the Status saying why no
  // connection could be had.
  template <typename Fn>
  auto Run(Fn&& fn, std::optional<int64_t> budget_ms = std::nullopt)
      -> decltype(fn(std::declval<PgConnection&>())) {
    const int64_t budget = budget_ms.value_or(options_.timeout_ms);
    const auto deadline = Clock::now() + std::chrono::milliseconds(budget);
    auto c = Acquire(budget, deadline);
    if (!c.ok()) return c.status();
    (*c)->StartCall(budget, deadline);
    auto result = fn(**c);
    Release(std::move(c).value());
    return result;
  }

  // One statement on a pooled connection, within the budget.
  Result<PgRows> Query(std::string_view sql, std::initializer_list<PgParam> params,
                       std::string_view what);

 private:
  PgPool(Options options, std::string name)
      : options_(std::move(options)),
        name_(std::move(name)),
        connections_(name_, options_.max_connections) {}
  // An idle connection, a new one, or (all busy) the first one released before `deadline`.
  Result<std::unique_ptr<PgConnection>> Acquire(int64_t budget_ms, Clock::time_point deadline);
  void Release(std::unique_ptr<PgConnection> c);

  const Options options_;
  const std::string name_;
  ConnectionPool<PgConnection> connections_;
};

// One schema step. A released migration is never edited: a change is a new version.
struct PgMigration {
  int version;
  const char* description;
  const char* sql;  // may hold several statements
};

// Applies the `migrations` (ascending versions) newer than the version recorded in
// `version_table` (created when missing: version, description, applied_at) in one
// transaction holding the advisory lock `lock_key`, so two processes starting together apply
// each exactly once. A database recorded at a version above the last migration (a newer
// mailwarden) is kUnavailable. `version_table` is a literal of ours, never input.
Status ApplyPgMigrations(PgConnection& c, std::string_view version_table, int64_t lock_key,
                         std::span<const PgMigration> migrations);

// `sql` with SQLite's numbered placeholders (?1, ?2, ...) written as PostgreSQL's ($1, $2,
// ...), for SQL shared with an SQLite store. Every '?' followed by a digit is one: `sql` is
// a text of ours that holds no '?' in a string literal.
std::string PgPlaceholders(std::string_view sql);

// The version recorded in `version_table` (0 when none).
Result<int> PgSchemaVersion(PgConnection& c, std::string_view version_table);

// Listens on one channel (LISTEN) over a connection of its own, in a thread of its own, and
// counts the notifications (NOTIFY, pg_notify()) in a few counters, so that another thread
// can tell, reading memory only, whether the database announced a change since it last
// looked. The server delivers a notification when the transaction sending it commits, never
// for one rolled back.
//
//   auto l = PgListener::Start({.conninfo = uri, .label = "accounts store",
//                               .channel = "mailwarden_directory",
//                               .counters = {{"accounts", "aliases"}, {"usage"}}});
//   std::optional<uint64_t> before = (*l)->Count(0);  // nullopt: not listening
//
// Counters: a notification whose payload is listed in counters[i] adds one to counter i; any
// other payload (an empty one included) to every counter. Count(i) is nullopt while the
// listener is not listening (before its first LISTEN succeeded, after the connection broke)
// and after each (re)connection every counter moves on, as notifications may have been
// missed while it was down. A count is never the same as one before it, nor as one of
// another listener of this process. Count() is lock-free and never waits.
//
// Failures: a connection that cannot be opened or breaks is opened again after a backoff
// (retry_min_ms, doubling up to retry_max_ms). A silent connection is checked (SELECT 1)
// after check_interval_ms without traffic, so a server or network gone quietly is noticed
// within check_interval_ms + timeout_ms. One warning is logged when listening stops (or
// cannot start) and one line when it resumes; messages name the store by label,
// host/database and channel, never the password.
//
// Time: the destructor ends the thread at once, whatever it waits for: connecting, a
// statement, a notification, a backoff. libpq resolves host names before connecting
// without a bound of ours; a thread still in there after kStopWaitMs is left to finish on
// its own (it then touches nothing of its owner's).
class PgListener {
 public:
  struct Options {
    std::string conninfo;  // a libpq URI
    std::string label;     // names the store in messages ("accounts store")
    std::string channel;   // an identifier of ours (never input): it is spliced into LISTEN
    std::vector<std::vector<std::string>> counters;  // payloads counted by each counter
    int64_t timeout_ms = 5000;                       // connecting + LISTEN, and each check
    int64_t retry_min_ms = 1000;                     // first wait before connecting again
    int64_t retry_max_ms = 30000;                    // longest wait before connecting again
    int64_t check_interval_ms = 5000;                // a connection silent this long is checked
  };
  static constexpr int64_t kStopWaitMs = 800;

  // Starts the thread (it connects in the background). kInvalidArgument when the conninfo
  // cannot be parsed, the channel is not a plain identifier, there are no counters or a
  // limit is not positive; kIoError when its wake-up event or its thread cannot be made.
  static Result<std::unique_ptr<PgListener>> Start(Options options);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  // Counter `i`, nullopt while not listening (see above) or when there is no counter `i`.
  std::optional<uint64_t> Count(size_t i) const;
  // True while LISTEN is in force.
  bool listening() const;

  struct State;  // shared with the thread (pg_db.cc)

 private:
  explicit PgListener(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // The thread: connect, LISTEN, count, until the stop event.
  static void Run(const std::shared_ptr<State>& state);
  // Waits on `c` for notifications until the stop event (Ok) or a failure (why).
  static Status Serve(PgConnection& c, State& state);

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_PG_DB_H_

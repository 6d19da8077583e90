// PostgreSQL plumbing (see the header).
//
// Distrusts: the server (it may vanish mid-answer, stall, or never answer a cancel) and the
// connection string (parsed by libpq; only its host, port and database name are ever shown,
// never its password). Every value is bound as a parameter, never spliced into SQL text; the
// only SQL built at run time names a version table (a literal of the caller's), a LISTEN
// channel (a plain identifier of the caller's, checked) or carries a number we computed. Limits:
// one deadline per call, kCancelGraceMs after it for a cancelled statement to end. libpq 15's
// PQcancel opens its own connection and is not bounded by our deadline; it is sent to a server that
// just answered on the same address, and should it hang or be lost, the server's statement_timeout
// (the budget, set on every connection) ends the statement anyway. Fails with a Status; never
// throws.
#include "policyd/store/pg_db.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <future>
#include <system_error>
#include <thread>

#include "common/log.h"
#include "common/unique_fd.h"

namespace mailwarden {
namespace {

using Clock = PgConnection::Clock;

// After the deadline, how long a cancelled statement (or a rollback) may take to end before
// the connection is given up: short, as the call's caller is already over its budget.
constexpr int64_t kCancelGraceMs = 300;

constexpr unsigned kTextOid = 25;    // pg_type.oid of text
constexpr unsigned kBigintOid = 20;  // pg_type.oid of int8

// libpq writes NOTICEs ("relation already exists, skipping") to stderr by default; they are
// not errors and the daemon's stderr is its log.
void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

std::string Trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  // libpq's multi-line messages ("...\nDETAIL: ...") on one log line.
  std::replace(m.begin(), m.end(), '\n', ' ');
  return m;
}

int64_t MsUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max<int64_t>(0, left.count());
}

// True when `fd` (an event, -1: none) is readable now.
bool Readable(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// Waits for `events` on `fd` until `deadline`; false when the deadline passed first, or
// `stop_fd` (-1: none) became readable.
bool WaitFd(int fd, short events, Clock::time_point deadline, int stop_fd = -1) {
  for (;;) {
    const int64_t left = MsUntil(deadline);
    if (left <= 0) return false;
    pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(p, stop_fd >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(left, 60000)));
    if (n > 0 && stop_fd >= 0 && (p[1].revents & POLLIN)) return false;
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq find and report the error
  }
}

// "<host>[:port]/<database>" from a connection string, for messages. The password is never
// looked at. nullopt with libpq's reason when the string cannot be parsed.
Result<std::string> Describe(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string reason = error ? Trimmed(error) : "out of memory";
    PQfreemem(error);
    return Status::InvalidArgument("not a PostgreSQL connection URI: " + reason);
  }
  std::string host, port, db, user;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    std::string_view k = o->keyword;
    std::string v = o->val ? o->val : "";
    if (k == "host" && !v.empty()) host = v;
    if (k == "hostaddr" && host.empty()) host = v;
    if (k == "port") port = v;
    if (k == "dbname") db = v;
    if (k == "user") user = v;
  }
  PQconninfoFree(options);
  if (host.empty()) host = "localhost";
  if (db.empty()) db = user.empty() ? "(default database)" : user;
  return host + (port.empty() ? "" : ":" + port) + "/" + db;
}

}  // namespace

// ---- parameters and rows -----------------------------------------------------------------

PgParam PgText(std::string_view v) { return {std::string(v), PgParam::Type::kText}; }
PgParam PgInt(int64_t v) { return {std::to_string(v), PgParam::Type::kBigint}; }
PgParam PgOptionalInt(std::optional<int64_t> v) {
  return v ? PgInt(*v) : PgParam{std::nullopt, PgParam::Type::kBigint};
}

bool PgRows::IsNull(size_t row, int column) const {
  return row >= rows_.size() || column < 0 || static_cast<size_t>(column) >= rows_[row].size() ||
         !rows_[row][column].has_value();
}

const std::string& PgRows::Text(size_t row, int column) const {
  static const std::string kEmpty;
  return IsNull(row, column) ? kEmpty : *rows_[row][column];
}

int64_t PgRows::Int(size_t row, int column) const { return OptionalInt(row, column).value_or(0); }

std::optional<int64_t> PgRows::OptionalInt(size_t row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  const std::string& s = *rows_[row][column];
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// ---- PgConnection ------------------------------------------------------------------------

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo,
                                                            std::string name, int64_t budget_ms,
                                                            Clock::time_point deadline,
                                                            int64_t statement_timeout_ms,
                                                            int stop_fd) {
  auto c = std::unique_ptr<PgConnection>(new PgConnection(std::move(name)));
  c->StartCall(budget_ms, deadline);
  c->stop_fd_ = stop_fd;
  // libpq's own bound as well (whole seconds, at least 2); the URI's wins when it has one,
  // and our deadline below ends the wait anyway.
  const std::string connect_timeout =
      std::to_string(std::max<int64_t>(2, (budget_ms + 999) / 1000));
  const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(), "mailwarden", conninfo.c_str(), nullptr};
  c->conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (c->conn_ == nullptr) return Status::Unavailable(c->name_ + ": cannot connect: out of memory");
  PQsetNoticeProcessor(c->conn_, IgnoreNotice, nullptr);
  PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
  while (PQstatus(c->conn_) != CONNECTION_BAD && polling != PGRES_POLLING_OK &&
         polling != PGRES_POLLING_FAILED) {
    const short events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!WaitFd(PQsocket(c->conn_), events, deadline, stop_fd)) {
      return Status::Timeout(c->name_ + ": cannot connect within " + std::to_string(budget_ms) +
                             " ms");
    }
    polling = PQconnectPoll(c->conn_);
  }
  if (PQstatus(c->conn_) != CONNECTION_OK) {
    return Status::Unavailable(c->name_ + ": cannot connect: " + Trimmed(PQerrorMessage(c->conn_)));
  }
  if (PQsetnonblocking(c->conn_, 1) != 0) {
    return Status::Unavailable(c->name_ + ": " + Trimmed(PQerrorMessage(c->conn_)));
  }
  // The server's own bound on every statement, should a cancel of ours be lost. A number we
  // computed, not input.
  const std::string set_timeout =
      "SET statement_timeout = " + std::to_string(std::max<int64_t>(1, statement_timeout_ms));
  if (Status s = c->Exec(set_timeout); !s.ok()) return s;
  return c;
}

bool PgConnection::usable() const {
  return !broken_ && conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

bool PgConnection::in_transaction() const {
  if (conn_ == nullptr) return false;
  PGTransactionStatusType t = PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

void PgConnection::RollbackIfOpen() {
  if (!usable() || !in_transaction()) return;
  StartCall(kCancelGraceMs, Clock::now() + std::chrono::milliseconds(kCancelGraceMs));
  if (!Exec("ROLLBACK").ok()) broken_ = true;
}

bool PgConnection::WaitSocket(bool for_write) const {
  return WaitFd(PQsocket(conn_), for_write ? POLLIN | POLLOUT : POLLIN, deadline_, stop_fd_);
}

bool PgConnection::Stopping() const { return Readable(stop_fd_); }

void PgConnection::Cancel() {
  if (Stopping()) {  // the owner is going away: no cancel to wait for, drop the connection
    broken_ = true;
    return;
  }
  if (PGcancel* cancel = PQgetCancel(conn_)) {
    char error[256];
    PQcancel(cancel, error, sizeof error);
    PQfreeCancel(cancel);
  }
  // The statement ends with an error ("canceling statement due to user request"); read it so
  // that the connection can be used again. If it does not come, the connection is dropped.
  deadline_ = Clock::now() + std::chrono::milliseconds(kCancelGraceMs);
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!WaitSocket(false) || !PQconsumeInput(conn_)) {
        broken_ = true;
        return;
      }
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) return;
    PQclear(r);
  }
}

Status PgConnection::Error(std::string_view what, const std::string& reason,
                           const char* sqlstate) const {
  std::string m = name_ + ": " + std::string(what) + ": " + reason;
  const std::string_view state = sqlstate ? sqlstate : "";
  if (state.starts_with("23")) return Status::InvalidArgument(m);  // integrity constraint
  // query_canceled (statement_timeout), lock_not_available, deadlock_detected
  if (state == "57014" || state == "55P03" || state == "40P01") {
    return Status::Timeout(m + " (over the " + std::to_string(budget_ms_) + " ms budget)");
  }
  return Status::Unavailable(m);
}

Result<PgRows> PgConnection::Query(std::string_view sql, std::span<const PgParam> params,
                                   std::string_view what) {
  return Run(std::string(sql), params, /*simple=*/false, what);
}

Status PgConnection::Exec(std::string_view sql) {
  // Errors quote the statement's start: enough to tell BEGIN from a migration.
  constexpr size_t kQuoted = 60;
  auto r = Run(std::string(sql), {}, /*simple=*/true, sql.substr(0, kQuoted));
  return r.ok() ? Status::Ok() : r.status();
}

Result<PgRows> PgConnection::Run(const std::string& sql, std::span<const PgParam> params,
                                 bool simple, std::string_view what) {
  if (!usable()) {
    broken_ = true;
    return Status::Unavailable(name_ + ": " + std::string(what) + ": connection lost" +
                               (conn_ ? ": " + Trimmed(PQerrorMessage(conn_)) : ""));
  }
  if (Clock::now() >= deadline_) {
    return Status::Timeout(name_ + ": " + std::string(what) + ": over the " +
                           std::to_string(budget_ms_) + " ms budget");
  }
  if (simple) {
    if (!PQsendQuery(conn_, sql.c_str())) return Lost(what);
    return Await(what);
  }
  std::vector<const char*> values;
  std::vector<unsigned> types;
  for (const PgParam& p : params) {
    values.push_back(p.value ? p.value->c_str() : nullptr);
    types.push_back(p.type == PgParam::Type::kBigint ? kBigintOid : kTextOid);
  }
  const int n = static_cast<int>(params.size());
  // Each statement is parsed and planned once per connection (a named prepared statement),
  // not on every call: for the short indexed lookups of the stores that is most of the
  // server's work.
  auto prepared = prepared_.find(sql);
  if (prepared == prepared_.end()) {
    // A fresh name each try: a PREPARE whose answer was lost to the deadline may still
    // have been done by the server.
    std::string name = "mw_" + std::to_string(++prepare_attempts_);
    if (!PQsendPrepare(conn_, name.c_str(), sql.c_str(), n, types.data())) return Lost(what);
    if (auto done = Await(what); !done.ok()) return done.status();
    prepared = prepared_.emplace(sql, std::move(name)).first;
  }
  if (!PQsendQueryPrepared(conn_, prepared->second.c_str(), n, values.data(), nullptr, nullptr,
                           /*resultFormat=*/0)) {
    return Lost(what);
  }
  return Await(what);
}

Status PgConnection::Lost(std::string_view what) {
  broken_ = true;
  return Status::Unavailable(name_ + ": " + std::string(what) + ": " +
                             Trimmed(PQerrorMessage(conn_)));
}

Result<PgRows> PgConnection::Await(std::string_view what) {
  auto lost = [&]() -> Status { return Lost(what); };
  auto timed_out = [&]() -> Status {
    Cancel();
    return Status::Timeout(name_ + ": " + std::string(what) + ": no answer within the " +
                           std::to_string(budget_ms_) + " ms budget");
  };
  // Non-blocking: the query may not all be sent at once.
  for (int flushed; (flushed = PQflush(conn_)) != 0;) {
    if (flushed < 0) return lost();
    if (!WaitSocket(true)) return timed_out();
    if (!PQconsumeInput(conn_)) return lost();
  }
  PgRows rows;
  std::optional<Status> failure;
  for (;;) {
    while (PQisBusy(conn_)) {
      if (!WaitSocket(false)) return timed_out();
      if (!PQconsumeInput(conn_)) return lost();
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) break;
    ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      // With several statements (simple protocol), the last one's rows are kept.
      rows.rows_.clear();
      const int n = PQntuples(r), columns = PQnfields(r);
      rows.rows_.reserve(n);
      for (int i = 0; i < n; ++i) {
        auto& row = rows.rows_.emplace_back();
        row.reserve(columns);
        for (int j = 0; j < columns; ++j) {
          if (PQgetisnull(r, i, j)) {
            row.emplace_back();
          } else {
            row.emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
          }
        }
      }
      const char* affected = PQcmdTuples(r);
      rows.affected_ = affected && *affected ? std::strtoll(affected, nullptr, 10) : 0;
    } else if (!failure) {
      failure =
          Error(what, Trimmed(PQresultErrorMessage(r)), PQresultErrorField(r, PG_DIAG_SQLSTATE));
    }
    PQclear(r);
  }
  if (PQstatus(conn_) == CONNECTION_BAD) {
    broken_ = true;
    if (!failure) return lost();
    return Status::Unavailable(failure->message());
  }
  if (failure) return *failure;
  return rows;
}

// ---- PgTransaction -----------------------------------------------------------------------

Status PgTransaction::Begin(std::optional<int64_t> lock_key) {
  if (Status s = c_.Exec("BEGIN"); !s.ok()) return s;
  if (!lock_key) return Status::Ok();
  auto locked =
      c_.Query("SELECT pg_advisory_xact_lock($1)", {PgInt(*lock_key)}, "take the write lock");
  return locked.ok() ? Status::Ok() : locked.status();
}

// ---- PgPool ------------------------------------------------------------------------------

Result<std::unique_ptr<PgPool>> PgPool::Create(Options options) {
  auto name = Describe(options.conninfo);
  if (!name.ok()) return Status::InvalidArgument(options.label + ": " + name.status().message());
  if (options.timeout_ms <= 0 || options.max_connections < 1) {
    return Status::InvalidArgument(options.label + " " + *name +
                                   ": timeout and connection count must be positive");
  }
  std::string full = options.label + " " + *name;
  return std::unique_ptr<PgPool>(new PgPool(std::move(options), std::move(full)));
}

PgPool::~PgPool() = default;

Result<PgRows> PgPool::Query(std::string_view sql, std::initializer_list<PgParam> params,
                             std::string_view what) {
  return Run([&](PgConnection& c) { return c.Query(sql, params, what); });
}

Result<std::unique_ptr<PgConnection>> PgPool::Acquire(int64_t budget_ms,
                                                      Clock::time_point deadline) {
  return connections_.Acquire(deadline, budget_ms, [&] {
    return PgConnection::Connect(options_.conninfo, name_, budget_ms, deadline,
                                 options_.timeout_ms);
  });
}

void PgPool::Warm(int64_t budget_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(budget_ms);
  std::vector<std::unique_ptr<PgConnection>> held;
  // Held until the end, so each Acquire opens a new one once the idle ones are taken.
  while (static_cast<int>(held.size()) < options_.max_connections) {
    auto c = Acquire(budget_ms, deadline);
    if (!c.ok()) break;
    held.push_back(std::move(c).value());
  }
  for (auto& c : held) Release(std::move(c));
}

void PgPool::Release(std::unique_ptr<PgConnection> c) {
  c->RollbackIfOpen();  // a connection goes back with no transaction open
  if (!c->usable()) {
    // The server went away (restarted, or the network): reconnect rather than hand out the
    // idle connections, most likely dead too.
    connections_.DropWithIdle(std::move(c));
    return;
  }
  connections_.Release(std::move(c));
}

// ---- migrations --------------------------------------------------------------------------

Status ApplyPgMigrations(PgConnection& c, std::string_view version_table, int64_t lock_key,
                         std::span<const PgMigration> migrations) {
  const std::string table(version_table);
  PgTransaction tx(c);
  if (Status s = tx.Begin(); !s.ok()) return s;
  // Waiting for another process's migration may take longer than one call's budget; the
  // whole remaining open budget is allowed (a number of ours).
  const std::string timeout = "SET LOCAL statement_timeout = " +
                              std::to_string(std::max<int64_t>(1, MsUntil(c.deadline())));
  if (Status s = c.Exec(timeout); !s.ok()) return s;
  auto locked =
      c.Query("SELECT pg_advisory_xact_lock($1)", {PgInt(lock_key)}, "wait for other migrations");
  if (!locked.ok()) return locked.status();
  const std::string create = "CREATE TABLE IF NOT EXISTS " + table +
                             " (version INTEGER PRIMARY KEY NOT NULL, description TEXT NOT NULL,"
                             " applied_at BIGINT NOT NULL)";
  if (Status s = c.Exec(create); !s.ok()) return s;
  auto current = PgSchemaVersion(c, table);
  if (!current.ok()) return current.status();
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (*current > latest) {
    return Status::Unavailable(c.name() + ": schema version " + std::to_string(*current) +
                               " is newer than this mailwarden (" + std::to_string(latest) +
                               "); upgrade mailwarden");
  }
  const std::string record =
      "INSERT INTO " + table + " (version, applied_at, description) VALUES ($1, $2, $3)";
  for (const PgMigration& m : migrations) {
    if (m.version <= *current) continue;
    if (Status s = c.Exec(m.sql); !s.ok()) return s;
    auto recorded = c.Query(
        record,
        {PgInt(m.version), PgInt(static_cast<int64_t>(std::time(nullptr))), PgText(m.description)},
        "record schema version " + std::to_string(m.version));
    if (!recorded.ok()) return recorded.status();
  }
  return tx.Commit();
}

std::string PgPlaceholders(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '?' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '$';
  }
  return out;
}

Result<int> PgSchemaVersion(PgConnection& c, std::string_view version_table) {
  auto rows = c.Query("SELECT coalesce(max(version), 0) FROM " + std::string(version_table), {},
                      "read the schema version");
  if (!rows.ok()) return rows.status();
  return static_cast<int>(rows->Int(0, 0));
}

// ---- PgListener --------------------------------------------------------------------------

struct PgListener::State {
  Options options;
  std::string name;  // "<label> <host>/<database>"
  UniqueFd stop;     // an eventfd the destructor writes once
  std::atomic<bool> listening{false};
  std::unique_ptr<std::atomic<uint64_t>[]> counts;
  std::promise<void> done;  // set when the thread ends
  std::future<void> finished = done.get_future();
};

namespace {

// Every listener of the process counts from a base of its own, so that no two hand out the
// same number (2^40 notifications apart).
std::atomic<uint64_t> listener_bases{0};

bool PlainIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Waits `ms` or until `stop_fd` is readable; false when it is.
bool Pause(int stop_fd, int64_t ms) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    const int64_t left = MsUntil(until);
    if (left <= 0) return !Readable(stop_fd);
    pollfd p{stop_fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 60000)));
    if (n > 0) return false;
  }
}

}  // namespace

Result<std::unique_ptr<PgListener>> PgListener::Start(Options options) {
  auto name = Describe(options.conninfo);
  if (!name.ok()) return Status::InvalidArgument(options.label + ": " + name.status().message());
  const std::string full = options.label + " " + *name;
  if (!PlainIdentifier(options.channel)) {
    return Status::InvalidArgument(full + ": not a channel name: " + options.channel);
  }
  if (options.counters.empty() || options.timeout_ms <= 0 || options.retry_min_ms <= 0 ||
      options.retry_max_ms < options.retry_min_ms || options.check_interval_ms <= 0) {
    return Status::InvalidArgument(full + ": listener needs counters and positive limits");
  }
  auto state = std::make_shared<State>();
  state->stop.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!state->stop.valid()) {
    return Status::IoError(full + ": eventfd: " + std::string(std::strerror(errno)));
  }
  const size_t n = options.counters.size();
  const uint64_t base = (listener_bases.fetch_add(1) + 1) << 40;
  state->counts.reset(new std::atomic<uint64_t>[n]);
  for (size_t i = 0; i < n; ++i) state->counts[i].store(base);
  state->options = std::move(options);
  state->name = full;
  auto listener = std::unique_ptr<PgListener>(new PgListener(state));
  try {
    listener->thread_ = std::thread([state] { Run(state); });
  } catch (const std::system_error& e) {
    return Status::IoError(full + ": cannot start the listener thread: " + e.what());
  }
  return listener;
}

PgListener::~PgListener() {
  const uint64_t one = 1;
  if (write(state_->stop.get(), &one, sizeof one) != sizeof one) {
    // An eventfd write fails only when its counter would overflow: it is set already.
  }
  if (state_->finished.wait_for(std::chrono::milliseconds(kStopWaitMs)) ==
      std::future_status::ready) {
    thread_.join();
  } else {
    thread_.detach();  // stuck in libpq's name resolution: it ends on its own (see header)
  }
}

std::optional<uint64_t> PgListener::Count(size_t i) const {
  // `listening` first: it is set after the counters moved on, so a count read while it is
  // true is one of the current connection's.
  if (i >= state_->options.counters.size() || !state_->listening.load()) return std::nullopt;
  return state_->counts[i].load();
}

bool PgListener::listening() const { return state_->listening.load(); }

void PgListener::Run(const std::shared_ptr<State>& state) {
  State& s = *state;
  const Options& o = s.options;
  const int stop_fd = s.stop.get();
  int64_t backoff = o.retry_min_ms;
  bool complained = false;  // a warning logged since listening last started
  try {
    while (!Readable(stop_fd)) {
      Status failed = Status::Ok();
      {
        const auto deadline = Clock::now() + std::chrono::milliseconds(o.timeout_ms);
        auto c = PgConnection::Connect(o.conninfo, s.name, o.timeout_ms, deadline, o.timeout_ms,
                                       stop_fd);
        // The channel is a plain identifier of ours (checked by Start), not input.
        failed = c.ok() ? (*c)->Exec("LISTEN " + o.channel) : c.status();
        if (failed.ok()) {
          // Changes committed while nobody listened were not heard: every count moves on
          // before any is shown again.
          for (size_t i = 0; i < o.counters.size(); ++i) s.counts[i].fetch_add(1);
          s.listening.store(true);
          backoff = o.retry_min_ms;
          LogInfo(s.name + ": listening on channel " + o.channel + (complained ? " again" : ""));
          complained = false;
          failed = Serve(**c, s);
          s.listening.store(false);
        }
      }  // the connection is closed here
      if (Readable(stop_fd)) break;
      if (!complained) {
        LogWarn(failed.message() + " (not listening on channel " + o.channel + "; trying again)");
        complained = true;
      }
      if (!Pause(stop_fd, backoff)) break;
      backoff = std::min(backoff * 2, o.retry_max_ms);
    }
  } catch (...) {
    // Out of memory: stop listening, the counts go back to "unknown".
    s.listening.store(false);
  }
  s.done.set_value();
}

Status PgListener::Serve(PgConnection& c, State& s) {
  const Options& o = s.options;
  PGconn* conn = c.conn_;
  auto quiet_since = Clock::now();
  for (;;) {
    // Notifications libpq has read (while waiting below, or during LISTEN or a check).
    while (PGnotify* n = PQnotifies(conn)) {
      const std::string_view payload = n->extra ? n->extra : "";
      bool counted = false;
      for (size_t i = 0; i < o.counters.size(); ++i) {
        if (std::find(o.counters[i].begin(), o.counters[i].end(), payload) != o.counters[i].end()) {
          s.counts[i].fetch_add(1);
          counted = true;
        }
      }
      if (!counted) {
        for (size_t i = 0; i < o.counters.size(); ++i) s.counts[i].fetch_add(1);
      }
      PQfreemem(n);
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
      return Status::Unavailable(c.name() + ": connection lost: " + Trimmed(PQerrorMessage(conn)));
    }
    const int64_t wait = MsUntil(quiet_since + std::chrono::milliseconds(o.check_interval_ms));
    if (wait <= 0) {
      // Silent for a while: make sure the server is still there.
      c.StartCall(o.timeout_ms, Clock::now() + std::chrono::milliseconds(o.timeout_ms));
      if (Status checked = c.Exec("SELECT 1"); !checked.ok()) return checked;
      quiet_since = Clock::now();
      continue;
    }
    pollfd p[2] = {{PQsocket(conn), POLLIN, 0}, {s.stop.get(), POLLIN, 0}};
    const int n = poll(p, 2, static_cast<int>(std::min<int64_t>(wait, 60000)));
    if (n < 0 && errno != EINTR) {
      return Status::Unavailable(c.name() + ": poll: " + std::string(std::strerror(errno)));
    }
    if (n <= 0) continue;
    if (p[1].revents & POLLIN) return Status::Ok();
    if (p[0].revents != 0) {
      if (!PQconsumeInput(conn)) {
        return Status::Unavailable(c.name() +
                                   ": connection lost: " + Trimmed(PQerrorMessage(conn)));
      }
      quiet_since = Clock::now();
    }
  }
}

}  // namespace mailwarden

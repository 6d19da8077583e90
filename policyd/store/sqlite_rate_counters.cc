// The SQLite rate counter store (see the header).
//
// Distrusts: the keys (they carry a SASL login or an address from the SMTP client): bound,
// never spliced into SQL, and capped at kMaxKeyLength; the deltas (negative ones are
// refused). Limits: one deadline per call (rate_limits.timeout_ms), kPurgeBatch rows per
// purge. Fails with a Status; never throws, never exits.
#include "policyd/store/sqlite_rate_counters.h"

#include <chrono>

#include "common/log.h"

namespace mailwarden {
namespace {
constexpr char kLabel[] = "rate limit store";
constexpr char kVersionTable[] = "rate_limit_schema_version";
constexpr SqliteMigration kMigrations[] = {
    {1, "rate counter buckets", R"SQL(
CREATE TABLE rate_buckets (
  counter    TEXT NOT NULL,
  bucket     INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  messages   INTEGER NOT NULL CHECK (messages >= 0),
  recipients INTEGER NOT NULL CHECK (recipients >= 0),
  bytes      INTEGER NOT NULL CHECK (bytes >= 0),
  PRIMARY KEY (counter, bucket)
) WITHOUT ROWID;
CREATE INDEX rate_buckets_by_expiry ON rate_buckets (expires_at);
)SQL"},
};

// A bucket's expiry only moves forward: a window made longer by a reload keeps its buckets.
constexpr const char* kAddSql =
    "INSERT INTO rate_buckets (counter, bucket, expires_at, messages, recipients, bytes) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (counter, bucket) DO UPDATE SET "
    "expires_at = max(expires_at, excluded.expires_at), "
    "messages = messages + excluded.messages, recipients = recipients + excluded.recipients, "
    "bytes = bytes + excluded.bytes";
constexpr const char* kSumSql =
    "SELECT coalesce(sum(messages), 0), coalesce(sum(recipients), 0), coalesce(sum(bytes), 0) "
    "FROM rate_buckets WHERE counter = ?1 AND bucket >= ?2";
constexpr const char* kPurgeSql =
    "DELETE FROM rate_buckets WHERE (counter, bucket) IN (SELECT counter, bucket FROM "
    "rate_buckets WHERE expires_at <= ?1 LIMIT ?2)";
constexpr const char* kCountSql = "SELECT count(*) FROM rate_buckets";

// The totals of `key` from `oldest` on.
Result<RateUsage> Sum(SqliteConnection& c, std::string_view key, int64_t oldest) {
  SqliteQuery q(c, kSumSql);
  q.Text(key).Int(oldest);
  auto row = q.Step("sum counter");
  if (!row.ok()) return row.status();
  if (!*row) return RateUsage{};
  return RateUsage{q.ColumnInt(0), q.ColumnInt(1), q.ColumnInt(2)};
}

Status CheckKey(std::string_view key) {
  if (key.empty() || key.size() > SqliteRateCounterStore::kMaxKeyLength) {
    return Status::InvalidArgument(std::string(kLabel) + ": counter key empty or longer than " +
                                   std::to_string(SqliteRateCounterStore::kMaxKeyLength) +
                                   " bytes");
  }
  return Status::Ok();
}

}  // namespace

// ---- SqliteRateCounterStore --------------------------------------------------------------

int SqliteRateCounterStore::LatestSchemaVersion() { return std::end(kMigrations)[-1].version; }

Result<std::unique_ptr<SqliteRateCounterStore>> SqliteRateCounterStore::Open(
    const std::string& path, const RateCounterOptions& options) {
  if (options.timeout_ms <= 0) {
    return Status::InvalidArgument(std::string(kLabel) + " " + path + ": timeout must be positive");
  }
  auto c = SqliteConnection::Open(path, /*create=*/true,
                                  std::max<int64_t>(options.timeout_ms, kOpenTimeoutMs), kLabel);
  if (!c.ok()) return c.status();
  if (Status s = (*c)->UseWal(); !s.ok()) return s;
  if (Status s = ApplySqliteMigrations(**c, kVersionTable, kMigrations); !s.ok()) return s;
  return std::unique_ptr<SqliteRateCounterStore>(
      new SqliteRateCounterStore(std::move(c).value(), options));
}

template <typename Fn>
auto SqliteRateCounterStore::Locked(Fn&& fn) const
    -> decltype(fn(std::declval<SqliteConnection&>())) {
  const auto deadline =
      SqliteConnection::Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  std::unique_lock lock(mu_, std::defer_lock);
  if (!lock.try_lock_until(deadline)) {
    return Status::Timeout(std::string(kLabel) + " " + connection_->path() + ": busy for " +
                           std::to_string(options_.timeout_ms) + " ms");
  }
  connection_->StartCall(options_.timeout_ms);
  return fn(*connection_);
}

Result<RateUsage> SqliteRateCounterStore::Add(std::string_view key, const RateWindow& window,
                                              const RateUsage& delta, int64_t now) {
  if (Status s = CheckKey(key); !s.ok()) return s;
  if (delta.messages < 0 || delta.recipients < 0 || delta.bytes < 0 || window.seconds <= 0) {
    return Status::InvalidArgument(std::string(kLabel) + ": negative count or empty window");
  }
  const int64_t bucket = window.BucketStart(now);
  auto total = Locked([&](SqliteConnection& c) -> Result<RateUsage> {
    SqliteWriteTransaction tx(c);
    if (Status s = tx.Begin(); !s.ok()) return s;
    Status s = SqliteQuery(c, kAddSql)
                   .Text(key)
                   .Int(bucket)
                   .Int(window.ExpiresAt(bucket))
                   .Int(delta.messages)
                   .Int(delta.recipients)
                   .Int(delta.bytes)
                   .Run("add to counter");
    if (!s.ok()) return s;
    auto sum = Sum(c, key, window.OldestCounted(now));
    if (!sum.ok()) return sum.status();
    if (Status commit = tx.Commit(); !commit.ok()) return commit;
    return sum;
  });
  if (total.ok()) PurgeIfDue(now);
  return total;
}

Result<RateUsage> SqliteRateCounterStore::Read(std::string_view key, const RateWindow& window,
                                               int64_t now) const {
  if (Status s = CheckKey(key); !s.ok()) return s;
  if (window.seconds <= 0) return Status::InvalidArgument(std::string(kLabel) + ": empty window");
  return Locked([&](SqliteConnection& c) { return Sum(c, key, window.OldestCounted(now)); });
}

std::optional<uint64_t> SqliteRateCounterStore::ChangeMark() const {
  if (watch_.PollDue()) {
    // Called on the event loop: a connection busy with an Add is not waited for; the
    // next poll is one interval later.
    std::unique_lock lock(mu_, std::try_to_lock);
    if (lock.owns_lock()) watch_.Poll(connection_.get());
  }
  return watch_.Mark();
}

void SqliteRateCounterStore::PurgeIfDue(int64_t now) {
  int64_t due = next_purge_.load();
  if (now < due || !next_purge_.compare_exchange_strong(due, now + kPurgeInterval)) return;
  auto purged = Locked([&](SqliteConnection& c) -> Result<int> {
    SqliteQuery q(c, kPurgeSql);
    q.Int(now).Int(kPurgeBatch);
    if (Status s = q.Run("purge expired buckets"); !s.ok()) return s;
    return q.Changes();
  });
  if (!purged.ok()) {
    LogWarn(purged.status().message() + " (retried later)");
  } else if (*purged == kPurgeBatch) {
    next_purge_.store(now);  // more to do: the next Add continues
  }
}

Result<int> SqliteRateCounterStore::SchemaVersion() const {
  return Locked([](SqliteConnection& c) { return SqliteSchemaVersion(c, kVersionTable); });
}

Result<int64_t> SqliteRateCounterStore::BucketCount() const {
  return Locked([](SqliteConnection& c) -> Result<int64_t> {
    SqliteQuery q(c, kCountSql);
    auto row = q.Step("count buckets");
    if (!row.ok()) return row.status();
    return *row ? q.ColumnInt(0) : 0;
  });
}

}  // namespace mailwarden

// SqliteRateCounterStore: the rate counters in one SQLite file of their own
// (rate_limits.database: sqlite:/var/lib/mailwarden/ratelimits.db), so that windows survive
// a reload and a restart of the daemon.
//
// The file: WAL journal, synchronous=NORMAL (a process crash loses nothing; a power
// failure may lose the last commits, i.e. forget a few counted messages). Its schema is
// versioned in table rate_limit_schema_version (not schema_version, so the file may even
// be shared with another store); Open() applies missing migrations in one transaction and
// refuses a file from a newer mailwarden.
//
// One row per counter and bucket: (counter, bucket start, expires_at, messages,
// recipients, bytes). Add() is one IMMEDIATE transaction (upsert the bucket, sum the
// window), so concurrent adds, from threads or processes, are exact. Expired buckets are
// purged after an Add, at most kPurgeBatch rows at a time and at most once per
// kPurgeInterval unless the last batch was full; a failed purge is retried later and never
// fails the Add.
//
// Threads: one connection behind a mutex; a caller waits for it at most the budget
// (then kTimeout). The daemon's workers (policyd.workers) share it: calls are short (two
// indexed statements), shorter than a second connection's own file locking would cost.
#ifndef MAILWARDEN_POLICYD_STORE_SQLITE_RATE_COUNTERS_H_
#define MAILWARDEN_POLICYD_STORE_SQLITE_RATE_COUNTERS_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "policyd/store/rate_counters.h"
#include "policyd/store/sqlite_db.h"

namespace mailwarden {

class SqliteRateCounterStore final : public RateCounterStore {
 public:
  static constexpr int64_t kOpenTimeoutMs = 5000;
  static constexpr int64_t kPurgeInterval = 60;  // seconds of `now`
  static constexpr int64_t kPurgeBatch = 1000;   // rows per purge
  static constexpr size_t kMaxKeyLength = 1024;  // bytes; longer keys are kInvalidArgument

  // Opens (creating when missing) the database at `path` and migrates it.
  static Result<std::unique_ptr<SqliteRateCounterStore>> Open(const std::string& path,
                                                              const RateCounterOptions& options);
  // The schema version this build creates and understands.
  static int LatestSchemaVersion();

  Result<RateUsage> Add(std::string_view key, const RateWindow& window, const RateUsage& delta,
                        int64_t now) override;
  Result<RateUsage> Read(std::string_view key, const RateWindow& window,
                         int64_t now) const override;
  // data_version of the store's own connection (sqlite_db.h, SqliteChangeWatch): another
  // process's commits move it, this store's Add() calls do not.
  std::optional<uint64_t> ChangeMark() const override;

  // The schema version recorded in the file.
  Result<int> SchemaVersion() const;
  // Buckets stored, expired or not (for tests).
  Result<int64_t> BucketCount() const;

 private:
  SqliteRateCounterStore(std::unique_ptr<SqliteConnection> c, const RateCounterOptions& options)
      : options_(options), connection_(std::move(c)) {}
  // Runs fn(SqliteConnection&) holding the connection, with a fresh deadline.
  template <typename Fn>
  auto Locked(Fn&& fn) const -> decltype(fn(std::declval<SqliteConnection&>()));
  // Deletes up to kPurgeBatch buckets expired at `now`, when due.
  void PurgeIfDue(int64_t now);

  const RateCounterOptions options_;
  mutable std::timed_mutex mu_;
  std::unique_ptr<SqliteConnection> connection_;  // guarded by mu_
  std::atomic<int64_t> next_purge_{0};            // `now` from which to purge again
  mutable SqliteChangeWatch watch_{100};          // AccountDirectory::kChangeLagMs
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_SQLITE_RATE_COUNTERS_H_

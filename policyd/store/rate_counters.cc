// The window arithmetic of the rate counters and the store factory.
#include "policyd/store/rate_counters.h"

#include "policyd/store/redis_client.h"
#include "policyd/store/redis_rate_counters.h"
#include "policyd/store/sqlite_rate_counters.h"

namespace mailwarden {
namespace {

constexpr char kSqlitePrefix[] = "sqlite:";

}  // namespace

// ---- RateWindow --------------------------------------------------------------------------

int64_t RateWindow::BucketSeconds() const {
  int64_t width = (seconds + kBuckets - 1) / kBuckets;
  return width < 1 ? 1 : width;
}

int64_t RateWindow::BucketStart(int64_t t) const {
  const int64_t width = BucketSeconds();
  int64_t rem = t % width;
  if (rem < 0) rem += width;  // times before 1970 (tests) floor too
  return t - rem;
}

// ---- factory -----------------------------------------------------------------------------

Status CheckRateCounterSpec(const std::string& spec) {
  if (spec.starts_with(kSqlitePrefix) && spec.size() > sizeof(kSqlitePrefix) - 1) {
    return Status::Ok();
  }
  if (LooksLikeRedisUrl(spec)) {
    // The URL may carry a password: the message names the mistake, not the URL.
    auto endpoint = ParseRedisUrl(spec);
    if (!endpoint.ok()) {
      return Status::InvalidArgument("rate_limits.database: " + endpoint.status().message());
    }
    return Status::Ok();
  }
  return Status::InvalidArgument("rate_limits.database '" + spec +
                                 "': unsupported; expected sqlite:/path/to/ratelimits.db, "
                                 "redis://[:password@]host:port[/db] or "
                                 "redis+unix:/path/to/redis.sock[?db=N]");
}

std::string RateCounterSpecForLog(const std::string& spec) { return RedactRedisUrl(spec); }

Result<std::unique_ptr<RateCounterStore>> OpenRateCounterStore(const std::string& spec,
                                                               const RateCounterOptions& options) {
  if (Status s = CheckRateCounterSpec(spec); !s.ok()) return s;
  if (LooksLikeRedisUrl(spec)) {
    auto redis = RedisRateCounterStore::Open(spec, options);
    if (!redis.ok()) return redis.status();
    return std::unique_ptr<RateCounterStore>(std::move(redis).value());
  }
  auto store = SqliteRateCounterStore::Open(spec.substr(sizeof(kSqlitePrefix) - 1), options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<RateCounterStore>(std::move(store).value());
}

}  // namespace mailwarden

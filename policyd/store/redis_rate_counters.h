// RedisRateCounterStore: the rate counters in a Redis server shared by several policy
// daemons (rate_limits.database: redis://[:password@]host:port[/db] or
// redis+unix:/path/to/redis.sock[?db=N]), so that the Postfix hosts of one site enforce
// one limit together.
//
// Keys: one hash per counter and bucket, "mailwarden:rate:{<counter key>}:<bucket start>",
// fields m (messages), r (recipients), b (bytes) and e (the bucket's expiry, Unix seconds
// of the callers' clock). The braces are a Redis Cluster hash tag: every bucket of a
// counter lives in one slot, so one script may touch them all.
//
// Add() is one server-side Lua script, atomic and one round trip: HINCRBY the bucket
// holding `now`, give it a time to live reaching RateWindow::ExpiresAt() (PEXPIRE with
// the remaining seconds; an expiry only moves forward, as a longer window after a reload
// needs), and sum the window's buckets. Read() sums them with a read-only script. Redis
// forgets expired buckets by itself: nothing to purge.
//
// Time is the caller's `now`, not Redis's clock (so tests can drive it); the hosts sharing
// a server need synchronised clocks (NTP). Buckets are aligned on the epoch, so a skew of
// a few seconds only moves an event to the neighbouring bucket; the sum reaches one bucket
// past the one holding `now`, as the SQLite store sums every bucket from the oldest on, so
// a peer slightly ahead is counted too.
//
// Failures (no server, lost connection, timeout, Redis error replies) are kUnavailable or
// kTimeout naming host:port, within the budget (RedisClient); a lost connection is made
// anew on a later call. Opening tries the server once: an unreachable server is logged,
// not fatal (the rules answer rate_limits.on_unavailable until it is back).
//
// Thread-safe: a pool of kPoolSize connections (RedisClient).
#ifndef MAILWARDEN_POLICYD_STORE_REDIS_RATE_COUNTERS_H_
#define MAILWARDEN_POLICYD_STORE_REDIS_RATE_COUNTERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/store/rate_counters.h"
#include "policyd/store/redis_client.h"

namespace mailwarden {

class RedisRateCounterStore final : public RateCounterStore {
 public:
  static constexpr std::string_view kKeyPrefix = "mailwarden:rate:";
  static constexpr size_t kMaxKeyLength = 1024;  // bytes; longer keys are kInvalidArgument
  static constexpr int kPoolSize = 4;

  // A store on the server `url` names; kInvalidArgument for a bad URL or options.
  static Result<std::unique_ptr<RedisRateCounterStore>> Open(std::string_view url,
                                                             const RateCounterOptions& options);

  Result<RateUsage> Add(std::string_view key, const RateWindow& window, const RateUsage& delta,
                        int64_t now) override;
  Result<RateUsage> Read(std::string_view key, const RateWindow& window,
                         int64_t now) const override;

  // The Redis key of `key`'s bucket starting at `bucket_start`.
  static std::string BucketKey(std::string_view key, int64_t bucket_start);
  const RedisClient& client() const { return *client_; }

 private:
  explicit RedisRateCounterStore(std::unique_ptr<RedisClient> client)
      : client_(std::move(client)) {}
  // The keys a window ending at `now` sums, the bucket holding `now` first.
  static std::vector<std::string> WindowKeys(std::string_view key, const RateWindow& window,
                                             int64_t now);
  // The totals in a script's reply ({m, r, b}).
  Result<RateUsage> Totals(const Result<RedisReply>& reply) const;

  std::unique_ptr<RedisClient> client_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_REDIS_RATE_COUNTERS_H_

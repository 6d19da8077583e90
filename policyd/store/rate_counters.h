// Counters of accepted mail per sender identity over a sliding window, for the rate_limit
// rules of mailwarden-policyd (policyd/checks/rate_limit.h).
//
// A counter is named by a key of the caller's ("<rule id>|sasl_username|alice@example.org")
// and counts messages, recipients and bytes. Time is cut into fixed buckets of
// RateWindow::BucketSeconds() (a twelfth of the window, at least one second), aligned on
// the Unix epoch; a sum over the window adds the buckets from the one holding `now -
// window` to the one holding `now`. So the sliding window is approximated from above: an
// event counts for at least `window` seconds and at most `window + bucket`; a limit never
// lets through more than it says. A bucket no window can reach any more has expired and
// is purged by the store (SQLite), or expires by itself (Redis EXPIRE).
//
// Two stores: SQLite (sqlite_rate_counters.h), for one host, and Redis
// (redis_rate_counters.h), shared by the policy daemons of several hosts (a server-side
// script doing HINCRBY on the bucket and summing the window, with an expiry on the
// bucket). Both offer one atomic add-and-read and a plain read, each bounded in time.
//
// Every method is thread-safe and bounded by the store's budget: a store that cannot
// answer in time returns kTimeout or kUnavailable, never hangs, and never throws.
#ifndef MAILWARDEN_POLICYD_STORE_RATE_COUNTERS_H_
#define MAILWARDEN_POLICYD_STORE_RATE_COUNTERS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mailwarden {

// What a counter counts: accepted messages, their recipients and their bytes.
struct RateUsage {
  int64_t messages = 0;
  int64_t recipients = 0;
  int64_t bytes = 0;

  bool operator==(const RateUsage&) const = default;
};

// A window of `seconds`, cut into buckets (see the top of this file).
struct RateWindow {
  static constexpr int64_t kBuckets = 12;

  int64_t seconds = 3600;  // > 0

  // Width of one bucket: ceil(seconds / kBuckets), at least 1.
  int64_t BucketSeconds() const;
  // Start (Unix seconds) of the bucket holding `t`.
  int64_t BucketStart(int64_t t) const;
  // Start of the oldest bucket the window ending at `now` sums.
  int64_t OldestCounted(int64_t now) const { return BucketStart(now - seconds); }
  // From when the bucket starting at `bucket_start` is no longer summed by any window.
  int64_t ExpiresAt(int64_t bucket_start) const { return bucket_start + BucketSeconds() + seconds; }
};

class RateCounterStore {
 public:
  virtual ~RateCounterStore() = default;

  // Adds `delta` to the counter `key` in the bucket holding `now` (Unix seconds) and
  // returns the counter's totals over `window` ending at `now`, the delta included; no
  // other Add to `key` comes between the two.
  virtual Result<RateUsage> Add(std::string_view key, const RateWindow& window,
                                const RateUsage& delta, int64_t now) = 0;
  // The totals of `key` over `window` ending at `now` (zero for a key never counted).
  virtual Result<RateUsage> Read(std::string_view key, const RateWindow& window,
                                 int64_t now) const = 0;
  // A number that moves on once another process may have changed the counters (this
  // store's own Add() calls do not move it), for a cache of the totals that keeps them
  // until then; nullopt when the store cannot tell (the cache then keeps them for
  // rate_limits.cache_ms). Never waits on the store longer than a local read; see
  // AccountDirectory::AccountsMark for how a caller uses it.
  virtual std::optional<uint64_t> ChangeMark() const { return std::nullopt; }
};

// How a RateCounterStore is opened.
struct RateCounterOptions {
  // Budget for one call, lock waits included (rate_limits.timeout_ms).
  int64_t timeout_ms = 200;
};

// Opens the store named by `spec`: "sqlite:/var/lib/mailwarden/ratelimits.db" (creating
// the database and applying pending schema migrations), "redis://[:password@]host:port[/db]"
// or "redis+unix:/path/to/redis.sock[?db=N]" (an unreachable server is logged, not fatal).
// kInvalidArgument for a spec it does not understand, kUnavailable (with the path and the
// reason) when the store cannot be used.
Result<std::unique_ptr<RateCounterStore>> OpenRateCounterStore(
    const std::string& spec, const RateCounterOptions& options = {});

// kInvalidArgument unless OpenRateCounterStore() understands the form of `spec`; opens
// nothing (for --check-config).
Status CheckRateCounterSpec(const std::string& spec);

// `spec` as logs may show it: a Redis URL's password replaced by "***".
std::string RateCounterSpecForLog(const std::string& spec);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_RATE_COUNTERS_H_

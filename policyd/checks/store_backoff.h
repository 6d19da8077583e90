// After a store (the account directory, the rate counters) fails, the rules leave it alone
// for a second: their lookups fail at once instead of each waiting out the time budget, so
// a dead store costs the daemon one timeout per second rather than one per request, and
// does not tie up every worker (policyd.workers) in waits. Thread-safe.
#ifndef MAILWARDEN_POLICYD_CHECKS_STORE_BACKOFF_H_
#define MAILWARDEN_POLICYD_CHECKS_STORE_BACKOFF_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mailwarden {

class StoreBackoff {
 public:
  static constexpr int64_t kBackoffMs = 1000;

  // kUnavailable while backing off after a failure of `store` (named in the message).
  Status MayAsk(std::string_view store) const {
    int64_t until = until_ms_.load(std::memory_order_relaxed);
    if (until != 0 && NowMs() < until) {
      return Status::Unavailable("the " + std::string(store) + " failed less than " +
                                 std::to_string(kBackoffMs) + " ms ago; not asked");
    }
    return Status::Ok();
  }
  // Starts a backoff when `status` is a failure; true when this failure started one (the
  // caller logs it, so a dead store logs once a second).
  bool Note(const Status& status) const {
    if (status.ok()) return false;
    int64_t now = NowMs();
    return until_ms_.exchange(now + kBackoffMs, std::memory_order_relaxed) < now;
  }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  mutable std::atomic<int64_t> until_ms_{0};
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_STORE_BACKOFF_H_

// Recent answers of a store, kept for a short time (accounts.cache_ms): one policy request
// asks about its sender and its recipient from several rules, and an SMTP session asks
// about the same sender for every recipient, while each read of the SQLite directory costs
// file-locking system calls. Only answers are cached, never failures; an entry older than
// the time to live is not used, so a change made with the CLI is seen within it. At most
// `max_entries` are kept (the cache starts afresh when full). Thread-safe.
#ifndef MAILWARDEN_POLICYD_CHECKS_LOOKUP_CACHE_H_
#define MAILWARDEN_POLICYD_CHECKS_LOOKUP_CACHE_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace mailwarden {

template <typename V>
class LookupCache {
 public:
  explicit LookupCache(int64_t ttl_ms = 0, size_t max_entries = 65536)
      : ttl_ms_(ttl_ms), max_entries_(max_entries) {}

  // The value stored for `key` less than the time to live ago.
  std::optional<V> Get(const std::string& key) const {
    if (ttl_ms_ <= 0) return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || NowMs() >= it->second.first) return std::nullopt;
    return it->second.second;
  }
  void Put(const std::string& key, V value) const {
    if (ttl_ms_ <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.insert_or_assign(key, std::make_pair(NowMs() + ttl_ms_, std::move(value)));
  }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  const int64_t ttl_ms_;
  const size_t max_entries_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::pair<int64_t, V>> entries_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_LOOKUP_CACHE_H_

// Recent answers of a store, kept so that most requests are answered from memory: one
// policy request asks about its sender and its recipient from several rules, an SMTP
// session asks about the same sender for every recipient, and each read of a store costs
// system calls (SQLite's file locks) or a network round trip (PostgreSQL, Redis).
//
// How long an answer stays good depends on what the store can tell (AccountDirectory::
// AccountsMark, RateCounterStore::ChangeMark):
//   - a change mark: the answer is kept until the store's mark moves on (a write by anyone),
//     so a change is seen within the store's kChangeLagMs and an unchanged answer is never
//     read twice;
//   - no mark (nullopt): the answer is kept for the time to live (accounts.cache_ms,
//     rate_limits.cache_ms), so a change is seen within it.
// A time to live of 0 keeps nothing by time (marked answers are still kept: a cache that
// must not keep anything is not built). Only answers are cached, never failures. The caller takes
// the mark *before* the read whose answer it Put()s (see account_directory.h). At most
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
  using Mark = std::optional<uint64_t>;

  explicit LookupCache(int64_t ttl_ms = 0, size_t max_entries = 65536)
      : ttl_ms_(ttl_ms), max_entries_(max_entries) {}

  // The value stored for `key` that is still good under `mark` (see the top of the file).
  std::optional<V> Get(const std::string& key, Mark mark) const {
    if (!Keeps(mark)) return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    const Entry* e = Find(key, mark, 0);
    if (e == nullptr) return std::nullopt;
    return e->value;
  }
  // True when Get(key, mark) would find a value and, for one kept by time, still will
  // `margin_ms` from now: a probe on the event loop, whose evaluation follows at once.
  bool Has(const std::string& key, Mark mark, int64_t margin_ms) const {
    if (!Keeps(mark)) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    return Find(key, mark, margin_ms) != nullptr;
  }
  void Put(const std::string& key, V value, Mark mark) const {
    if (!Keeps(mark)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    Store(key, std::move(value), mark);
  }
  // Put(), except that when a good value is stored already the new one is
  // `merge(stored, value)`: answers of concurrent writes may arrive out of order.
  template <typename Merge>
  void PutMerged(const std::string& key, V value, Mark mark, Merge merge) const {
    if (!Keeps(mark)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (const Entry* e = Find(key, mark, 0)) value = merge(e->value, std::move(value));
    Store(key, std::move(value), mark);
  }

 private:
  struct Entry {
    int64_t expires_ms;  // for an entry kept by time (no mark)
    Mark mark;
    V value;
  };
  bool Keeps(Mark mark) const { return mark.has_value() || ttl_ms_ > 0; }
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  const Entry* Find(const std::string& key, Mark mark, int64_t margin_ms) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    const Entry& e = it->second;
    if (mark) return e.mark == mark ? &e : nullptr;
    return !e.mark && NowMs() + margin_ms < e.expires_ms ? &e : nullptr;
  }
  void Store(const std::string& key, V value, Mark mark) const {
    if (entries_.size() >= max_entries_ && entries_.find(key) == entries_.end()) {
      entries_.clear();
    }
    entries_.insert_or_assign(key, Entry{NowMs() + ttl_ms_, mark, std::move(value)});
  }

  const int64_t ttl_ms_;
  const size_t max_entries_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Entry> entries_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_LOOKUP_CACHE_H_

// SnapshotHolder<T>: the object in force (a configuration, an engine, a log), replaceable
// while readers use it.
//
// Readers take a snapshot (a shared_ptr) and keep using it for as long as they need, e.g.
// a whole message; Replace() installs a new object atomically and never disturbs a snapshot
// already taken. The old object is freed when its last reader lets go. Thread-safe.
#ifndef MAILWARDEN_COMMON_SNAPSHOT_H_
#define MAILWARDEN_COMMON_SNAPSHOT_H_

#include <memory>
#include <mutex>

namespace mailwarden {

template <typename T>
class SnapshotHolder {
 public:
  explicit SnapshotHolder(std::shared_ptr<T> initial = nullptr) : current_(std::move(initial)) {}
  std::shared_ptr<T> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void Replace(std::shared_ptr<T> next) {
    std::shared_ptr<T> old;
    {
      std::lock_guard<std::mutex> lock(mu_);
      old = std::move(current_);
      current_ = std::move(next);
    }
    // `old` is released here, outside the lock.
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<T> current_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_SNAPSHOT_H_

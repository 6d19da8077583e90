// The bookkeeping of a pool of store connections (pg_db.h's PgPool, the SQLite account
// store's pool): idle ones are reused, new ones opened up to a limit, and a caller finding
// none waits until its deadline. The owner says how a connection is opened (Acquire's
// `open`) and resets one before giving it back.
//
// Threads: every member may be called from any thread; a connection belongs to the one
// caller that acquired it until it is released or dropped.
#ifndef MAILWARDEN_POLICYD_STORE_CONNECTION_POOL_H_
#define MAILWARDEN_POLICYD_STORE_CONNECTION_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace mailwarden {

template <typename Conn>
class ConnectionPool {
 public:
  using Clock = std::chrono::steady_clock;

  // `name` starts the busy message ("accounts store /var/lib/mailwarden/accounts.db");
  // `max_connections` (positive) bounds the connections open at once, idle and lent out.
  ConnectionPool(std::string name, int max_connections)
      : name_(std::move(name)), max_connections_(max_connections) {}

  // Adds an already open connection (counted as open) to the idle ones.
  void Adopt(std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu_);
    ++open_;
    idle_.push_back(std::move(c));
  }

  // An idle connection, else a new one from open() (a Result<std::unique_ptr<Conn>>, called
  // without the lock held) while fewer than the limit are open, else the first one given back
  // before `deadline`. Past it, kTimeout "<name>: all N connections busy for `budget_ms` ms".
  // A failed open() is returned as it is.
  template <typename Open>
  Result<std::unique_ptr<Conn>> Acquire(Clock::time_point deadline, int64_t budget_ms,
                                        Open&& open) {
    std::unique_lock lock(mu_);
    // Each pass takes an idle connection, opens one, or waits; the wait ends at the deadline.
    for (;;) {
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      if (open_ < max_connections_) {
        ++open_;
        lock.unlock();
        Result<std::unique_ptr<Conn>> c = open();
        if (!c.ok()) {
          lock.lock();
          --open_;
          cv_.notify_one();
        }
        return c;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= max_connections_) {
        return Status::Timeout(name_ + ": all " + std::to_string(max_connections_) +
                               " connections busy for " + std::to_string(budget_ms) + " ms");
      }
    }
  }

  // Gives `c` (reset by the owner: no transaction open) back to the idle ones.
  void Release(std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
    cv_.notify_one();
  }

  // Closes `c` and every idle connection (the server went away: they are most likely dead
  // too, and each would cost the next callers one failed call); the next callers open anew.
  void DropWithIdle(std::unique_ptr<Conn> c) {
    std::vector<std::unique_ptr<Conn>> dropped;
    {
      std::lock_guard lock(mu_);
      open_ -= 1 + static_cast<int>(idle_.size());
      dropped.swap(idle_);
      cv_.notify_all();
    }
    c.reset();
  }

 private:
  const std::string name_;
  const int max_connections_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;  // idle and lent out
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_CONNECTION_POOL_H_

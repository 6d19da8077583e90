// WorkerPool: a fixed number of threads running tasks in the order they were submitted.
//
// The policy server hands each complete request whose rules call a store (SQLite,
// PostgreSQL, Redis: each call bounded by its timeout_ms) to the pool, so one slow store
// call holds one worker instead of the event loop and every connection on it. The pool
// has no bound of its own on queued tasks: its one user submits at most one task per
// connection at a time, so policyd.max_connections bounds the queue.
//
// Threads are created by Create() and inherit the creating thread's signal mask (the
// daemon blocks its signals before). Submit() and Shutdown() are thread-safe. A task
// must not throw (an escaping exception would end the process): the server's tasks
// catch everything.
#ifndef MAILWARDEN_POLICYD_WORKER_POOL_H_
#define MAILWARDEN_POLICYD_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace mailwarden {

class WorkerPool {
 public:
  static constexpr int kMaxThreads = 256;

  // Starts `threads` threads (1..kMaxThreads). kInvalidArgument for a count out of
  // range, kInternal when the system refuses a thread (the started ones are joined).
  static Result<std::unique_ptr<WorkerPool>> Create(int threads);
  // Shutdown().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` for the next free thread. False (and `task` is dropped) once
  // Shutdown() has begun.
  bool Submit(std::function<void()> task);
  // Drops the tasks not yet started, waits for the running ones and joins every
  // thread. Idempotent; must not be called from a task.
  void Shutdown();
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  WorkerPool() = default;
  void Work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_WORKER_POOL_H_

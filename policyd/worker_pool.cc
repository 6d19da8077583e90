#include "policyd/worker_pool.h"

#include <exception>
#include <string>
#include <system_error>

namespace mailwarden {

Result<std::unique_ptr<WorkerPool>> WorkerPool::Create(int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    return Status::InvalidArgument("worker threads must be 1.." + std::to_string(kMaxThreads) +
                                   ", not " + std::to_string(threads));
  }
  std::unique_ptr<WorkerPool> pool(new WorkerPool());
  try {
    pool->threads_.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) pool->threads_.emplace_back([p = pool.get()] { p->Work(); });
  } catch (const std::exception& e) {
    pool->Shutdown();
    return Status::Internal("cannot start worker threads: " + std::string(e.what()));
  }
  return pool;
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

void WorkerPool::Shutdown() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(tasks_);
  }
  ready_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  // `dropped` (and what its tasks captured) is released here, outside the lock.
}

void WorkerPool::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace mailwarden

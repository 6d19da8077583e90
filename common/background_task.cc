#include "common/background_task.h"

#include <utility>

namespace mailwarden {

BackgroundTask::BackgroundTask(std::function<void()> task)
    : task_(std::move(task)), thread_([this] { Loop(); }) {}

BackgroundTask::~BackgroundTask() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void BackgroundTask::Request() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
  }
  cv_.notify_one();
}

uint64_t BackgroundTask::completed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_;
}

void BackgroundTask::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_) return;
    pending_ = false;
    lock.unlock();
    task_();
    lock.lock();
    ++completed_;
  }
}

}  // namespace mailwarden

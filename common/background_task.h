// BackgroundTask: runs one task in a thread of its own whenever asked, e.g. a reload on
// SIGHUP, so that the thread asking (a signal loop, an event loop) never waits for it.
//
// Requests made while the task runs fold into one more run. Request() and completed() are
// thread-safe; the destructor waits for a run in progress and then stops the thread.
#ifndef MAILWARDEN_COMMON_BACKGROUND_TASK_H_
#define MAILWARDEN_COMMON_BACKGROUND_TASK_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace mailwarden {

class BackgroundTask {
 public:
  explicit BackgroundTask(std::function<void()> task);
  ~BackgroundTask();
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;

  // Asks for a run; returns at once.
  void Request();
  // Runs finished so far.
  uint64_t completed() const;

 private:
  void Loop();

  std::function<void()> task_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  uint64_t completed_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_BACKGROUND_TASK_H_

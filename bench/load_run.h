// The run loop shared by the two load generators (mw-milter-bench and
// mw-policy-bench): a stop flag raised by SIGINT/SIGTERM, a Phase that hands
// work items to the worker threads until its count, its deadline or its
// error budget runs out, the statistics every run keeps, and RunPhase(),
// which starts the workers, waits for them and merges what they counted.
//
// Thread-safety: Phase is shared by the workers of one phase (its methods
// are safe to call concurrently); each worker fills its own Stats, which are
// merged after the threads are joined. The stop flag is process-wide.

#ifndef MAILWARDEN_BENCH_LOAD_RUN_H_
#define MAILWARDEN_BENCH_LOAD_RUN_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_net.h"
#include "bench_util.h"

namespace mailwarden::bench {

// Options both load generators take, with the same meaning and bounds. A
// tool's Config derives from it and sets its own defaults.
struct LoadOptions {
  std::string socket_text;  // --socket, as given (ParseBenchSocket after the loop)
  SocketSpec spec;          // parsed socket_text
  int concurrency = 1;      // --concurrency, 1..1024 threads
  double duration_s = 0;    // --duration; > 0: run for a time, not a count
  uint64_t warmup = 0;      // --warmup, unmeasured items first
  double timeout_s = 10;    // --timeout, connect and per-read
  uint64_t max_errors = 1000;
  bool allow_remote = false;
  bool json = false;
};

// What ParseLoadOption() did with the current argument.
enum class OptionResult { kNotMine, kTaken, kBad };

// Takes args.arg() if it is a shared option (--socket, --concurrency,
// --duration, --warmup, --timeout, --max-errors, --allow-remote, --json) and
// its value; kBad with *error saying what the option needs.
OptionResult ParseLoadOption(ArgReader& args, LoadOptions* options, std::string* error);

// Makes SIGINT and SIGTERM raise the stop flag (a run then ends after the
// items in flight) and ignores SIGPIPE. Call once, before the workers start.
void InstallStopSignals();

// True once SIGINT or SIGTERM arrived.
bool StopRequested();

// Work of one phase (warmup or measured run), shared by its workers.
class Phase {
 public:
  // At most `limit` items, until `end`, and until `max_errors` errors.
  Phase(uint64_t limit, Clock::time_point end, uint64_t max_errors)
      : limit_(limit), end_(end), max_errors_(max_errors) {}

  // Claims the next item index; false when the phase is over.
  bool Claim(uint64_t* index);

  // Charges one error to the phase's budget.
  void CountError() { errors_.fetch_add(1, std::memory_order_relaxed); }

 private:
  const uint64_t limit_;
  const Clock::time_point end_;
  const uint64_t max_errors_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> errors_{0};
};

// What every load generator counts. A tool derives its own Stats from it
// and extends Merge().
struct LoadStats {
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t connections = 0;
  LatencyHistogram latency;
  std::map<std::string, uint64_t> errors;  // per error kind
  std::vector<std::string> error_samples;  // at most 5 per thread, 10 merged

  // Counts one failed item of `kind` (charged to `phase`) and keeps `sample`
  // if there is room.
  void RecordError(const std::string& kind, std::string sample, Phase* phase);

  // Adds the counters of `other`.
  void Merge(const LoadStats& other);

  // Sum of the error counters.
  uint64_t TotalErrors() const;

  // The error counters with every kind the tools report ("connect",
  // "timeout", "io", "protocol") present, zero when none occurred.
  std::map<std::string, uint64_t> ErrorsByKind() const;
};

// Runs `worker(thread_index, &phase, &stats)` on `concurrency` threads for
// at most `limit` items, `duration_s` seconds when > 0, and `max_errors`
// errors; returns the merged Stats and sets *elapsed_s to the wall time.
template <typename Stats>
Stats RunPhase(int concurrency, uint64_t limit, double duration_s, uint64_t max_errors,
               const std::function<void(int, Phase*, Stats*)>& worker, double* elapsed_s) {
  const Clock::time_point start = Clock::now();
  Clock::time_point end = Clock::time_point::max();
  if (duration_s > 0) {
    end = start +
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  }
  Phase phase(limit, end, max_errors);
  std::vector<Stats> per_thread(static_cast<size_t>(concurrency));
  std::vector<std::thread> threads;
  threads.reserve(per_thread.size());
  for (int i = 0; i < concurrency; ++i) {
    threads.emplace_back(worker, i, &phase, &per_thread[static_cast<size_t>(i)]);
  }
  for (std::thread& t : threads) t.join();
  *elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  Stats total;
  for (const Stats& s : per_thread) total.Merge(s);
  return total;
}

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_LOAD_RUN_H_

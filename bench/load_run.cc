// The load generators' run loop (see load_run.h).

#include "load_run.h"

#include <csignal>
#include <utility>

namespace mailwarden::bench {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

}  // namespace

OptionResult ParseLoadOption(ArgReader& args, LoadOptions* options, std::string* error) {
  const std::string& arg = args.arg();
  auto bad = [error](const char* why) {
    *error = why;
    return OptionResult::kBad;
  };
  uint64_t n = 0;
  if (arg == "--socket") {
    if (!args.Value(&options->socket_text)) return bad("--socket needs a value");
  } else if (arg == "--concurrency") {
    if (!args.Uint(1, 1024, &n)) return bad("--concurrency needs 1..1024");
    options->concurrency = static_cast<int>(n);
  } else if (arg == "--duration") {
    if (!args.Seconds(86400, &options->duration_s)) {
      return bad("--duration needs seconds in (0, 86400]");
    }
  } else if (arg == "--warmup") {
    if (!args.Uint(0, 100000000, &options->warmup)) return bad("--warmup needs a count");
  } else if (arg == "--timeout") {
    if (!args.Seconds(3600, &options->timeout_s)) {
      return bad("--timeout needs seconds in (0, 3600]");
    }
  } else if (arg == "--max-errors") {
    if (!args.Uint(1, 1000000000, &options->max_errors)) {
      return bad("--max-errors needs a positive count");
    }
  } else if (arg == "--allow-remote") {
    options->allow_remote = true;
  } else if (arg == "--json") {
    options->json = true;
  } else {
    return OptionResult::kNotMine;
  }
  return OptionResult::kTaken;
}

void InstallStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool StopRequested() { return g_stop.load(std::memory_order_relaxed); }

bool Phase::Claim(uint64_t* index) {
  if (StopRequested()) return false;
  if (errors_.load(std::memory_order_relaxed) >= max_errors_) return false;
  if (Clock::now() >= end_) return false;
  uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
  if (i >= limit_) return false;
  *index = i;
  return true;
}

void LoadStats::RecordError(const std::string& kind, std::string sample, Phase* phase) {
  ++failed;
  ++errors[kind];
  phase->CountError();
  if (error_samples.size() < 5) error_samples.push_back(std::move(sample));
}

void LoadStats::Merge(const LoadStats& other) {
  completed += other.completed;
  failed += other.failed;
  connections += other.connections;
  latency.Merge(other.latency);
  for (const auto& [kind, n] : other.errors) errors[kind] += n;
  for (const std::string& sample : other.error_samples) {
    if (error_samples.size() < 10) error_samples.push_back(sample);
  }
}

uint64_t LoadStats::TotalErrors() const {
  uint64_t total = 0;
  for (const auto& [kind, n] : errors) total += n;
  return total;
}

std::map<std::string, uint64_t> LoadStats::ErrorsByKind() const {
  std::map<std::string, uint64_t> all = {
      {"connect", 0}, {"timeout", 0}, {"io", 0}, {"protocol", 0}};
  for (const auto& [kind, n] : errors) all[kind] += n;
  return all;
}

}  // namespace mailwarden::bench

// Small utilities shared by the benchmark tools: a fixed-memory latency
// histogram, a minimal JSON object writer, and strict number parsing for
// command-line options.
//
// Thread-safety: none of these types synchronise; give each thread its own
// LatencyHistogram and Merge() them after the threads are joined.

#ifndef MAILWARDEN_BENCH_BENCH_UTIL_H_
#define MAILWARDEN_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::bench {

// Log-linear histogram of durations in nanoseconds. Memory is fixed (about
// 60 KB) whatever the number of samples, so a --duration run cannot grow
// without bound. Values below 256 ns are exact; above, the relative error of
// a reported percentile is below 1/128 (0.8%). Min, max and mean are exact.
class LatencyHistogram {
 public:
  LatencyHistogram();

  // Adds one sample.
  void Record(std::chrono::nanoseconds value);

  // Adds all samples of `other`.
  void Merge(const LatencyHistogram& other);

  // Number of samples.
  uint64_t count() const { return count_; }

  // Value at percentile `p` (0 < p <= 100), in nanoseconds; 0 when empty.
  uint64_t PercentileNs(double p) const;

  uint64_t min_ns() const { return count_ == 0 ? 0 : min_; }
  uint64_t max_ns() const { return max_; }
  double mean_ns() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

 private:
  static size_t BucketOf(uint64_t v);
  static uint64_t BucketMid(size_t bucket);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;  // 2^64 ns is 584 years of summed latency
};

// Builds one JSON object, key by key, in insertion order. Keys and string
// values are escaped; numbers are written as given. Nested objects are
// passed pre-rendered through AddRaw().
class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, uint64_t value);
  JsonObject& Add(std::string_view key, int64_t value);
  JsonObject& Add(std::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  JsonObject& Add(std::string_view key, double value);
  JsonObject& Add(std::string_view key, bool value);
  // Adds a value that is already valid JSON (object, array, number).
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  // Adds {"k":n,...} from a map of counters.
  JsonObject& AddCounts(std::string_view key, const std::map<std::string, uint64_t>& counts);

  // Returns the rendered object.
  std::string Render() const { return "{" + body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_;
};

// Returns `text` as a quoted, escaped JSON string.
std::string JsonQuote(std::string_view text);

// Parses a decimal unsigned integer in [min, max]; false on junk or range.
bool ParseUint(std::string_view text, uint64_t min, uint64_t max, uint64_t* out);

// Parses seconds as a decimal number ("10", "0.5") in (0, max_seconds].
bool ParseSeconds(std::string_view text, double max_seconds, double* out);

// Formats nanoseconds as milliseconds with three decimals.
std::string FormatMs(uint64_t ns);

// Appends "name=count" pairs separated by spaces; "-" when empty.
std::string FormatCounts(const std::map<std::string, uint64_t>& counts);

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_BENCH_UTIL_H_

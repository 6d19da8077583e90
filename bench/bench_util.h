// Small utilities shared by the benchmark tools: a fixed-memory latency
// histogram, the pieces of their JSON reports (nlohmann::ordered_json, so
// keys keep the order they are added in), a command-line reader and strict
// number parsing for its values.
//
// Thread-safety: none of these types synchronise; give each thread its own
// LatencyHistogram and Merge() them after the threads are joined.

#ifndef MAILWARDEN_BENCH_BENCH_UTIL_H_
#define MAILWARDEN_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
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

// JSON value of the reports; keys stay in insertion order.
using Json = nlohmann::ordered_json;

// `value` rounded to three decimals (the precision of every fractional number
// in the reports), or null when it is not finite.
Json Decimal3(double value);

// {"p50":..,"p90":..,"p99":..,"max":..,"min":..,"mean":..} in milliseconds.
Json LatencyJson(const LatencyHistogram& h);

// {"name":count,...} in the map's order; {} when empty.
Json CountsJson(const std::map<std::string, uint64_t>& counts);

// Prints `report` on one line of stdout, compact ("key":value, no spaces).
// Bytes that are not UTF-8 are replaced rather than thrown about.
void PrintJson(const Json& report);

// Returns "0x" and `value` in lower-case hex.
std::string HexString(uint32_t value);

// Parses a decimal unsigned integer in [min, max]; false on junk or range.
bool ParseUint(std::string_view text, uint64_t min, uint64_t max, uint64_t* out);

// Parses seconds as a decimal number ("10", "0.5") in (0, max_seconds].
bool ParseSeconds(std::string_view text, double max_seconds, double* out);

// Formats nanoseconds as milliseconds with three decimals.
std::string FormatMs(uint64_t ns);

// Appends "name=count" pairs separated by spaces; "-" when empty.
std::string FormatCounts(const std::map<std::string, uint64_t>& counts);

// "p50 X  p90 X  p99 X  max X" with FormatMs values, for the text reports.
std::string FormatLatencyLine(const LatencyHistogram& h);

// Reads a tool's command line: options "--name VALUE" and, when `inline_values`,
// also "--name=VALUE"; anything else is left to the tool. Typical use:
//   ArgReader args(argc, argv, true);
//   while (args.Next()) {
//     if (args.arg() == "--count") { if (!args.Uint(1, 100, &count)) return Usage(...); }
//   }
class ArgReader {
 public:
  ArgReader(int argc, char** argv, bool inline_values)
      : argc_(argc), argv_(argv), inline_values_(inline_values) {}

  // Moves to the next argument; false when there is none left.
  bool Next();

  // The current argument, without its "=VALUE" part.
  const std::string& arg() const { return arg_; }

  // Takes the current option's value ("=VALUE" or the next argument); false
  // when there is none.
  bool Value(std::string* out);

  // Value() parsed by ParseUint(text, min, max, out); false on no value or junk.
  bool Uint(uint64_t min, uint64_t max, uint64_t* out);

  // Value() parsed by ParseSeconds(text, max_seconds, out).
  bool Seconds(double max_seconds, double* out);

 private:
  int argc_;
  char** argv_;
  bool inline_values_;
  int index_ = 0;
  std::string arg_;
  std::string inline_value_;
  bool has_inline_ = false;
};

// Prints "TOOL: ERROR" (unless `error` is null) and `usage` on stderr;
// returns 2, the tools' exit status for bad usage.
int UsageError(const char* tool, const char* usage, const char* error);

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_BENCH_UTIL_H_

// Utilities for the benchmark tools (see bench_util.h).

#include "bench_util.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mailwarden::bench {
namespace {

// Values below 2^kExactBits are their own bucket; above, each power of two
// is split into 2^kSubBits buckets.
constexpr unsigned kExactBits = 8;
constexpr unsigned kSubBits = 7;
constexpr size_t kExact = size_t{1} << kExactBits;
constexpr size_t kSub = size_t{1} << kSubBits;
constexpr size_t kBuckets = kExact + (64 - kExactBits) * kSub;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

size_t LatencyHistogram::BucketOf(uint64_t v) {
  if (v < kExact) return static_cast<size_t>(v);
  unsigned exp = 63u - static_cast<unsigned>(std::countl_zero(v));
  size_t sub = static_cast<size_t>((v >> (exp - kSubBits)) & (kSub - 1));
  return kExact + (exp - kExactBits) * kSub + sub;
}

uint64_t LatencyHistogram::BucketMid(size_t bucket) {
  if (bucket < kExact) return bucket;
  size_t rel = bucket - kExact;
  unsigned exp = static_cast<unsigned>(rel / kSub) + kExactBits;
  uint64_t sub = rel % kSub;
  uint64_t width = uint64_t{1} << (exp - kSubBits);
  uint64_t low = (uint64_t{1} << exp) + sub * width;
  return low + width / 2;
}

void LatencyHistogram::Record(std::chrono::nanoseconds value) {
  uint64_t v = value.count() < 0 ? 0 : static_cast<uint64_t>(value.count());
  ++buckets_[BucketOf(v)];
  ++count_;
  sum_ += v;
  if (v < min_) min_ = v;
  if (v > max_) max_ = v;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.count_ > 0) {
    if (other.min_ < min_) min_ = other.min_;
    if (other.max_ > max_) max_ = other.max_;
  }
}

uint64_t LatencyHistogram::PercentileNs(double p) const {
  if (count_ == 0) return 0;
  if (p >= 100.0) return max_;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * count_));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t mid = BucketMid(i);
      // A bucket midpoint can lie outside the observed range.
      if (mid > max_) return max_;
      if (mid < min_) return min_;
      return mid;
    }
  }
  return max_;
}

Json Decimal3(double value) {
  if (!std::isfinite(value)) return nullptr;
  return std::round(value * 1000.0) / 1000.0;
}

Json LatencyJson(const LatencyHistogram& h) {
  Json o = Json::object();
  o["p50"] = Decimal3(h.PercentileNs(50) / 1e6);
  o["p90"] = Decimal3(h.PercentileNs(90) / 1e6);
  o["p99"] = Decimal3(h.PercentileNs(99) / 1e6);
  o["max"] = Decimal3(h.max_ns() / 1e6);
  o["min"] = Decimal3(h.min_ns() / 1e6);
  o["mean"] = Decimal3(h.mean_ns() / 1e6);
  return o;
}

Json CountsJson(const std::map<std::string, uint64_t>& counts) {
  Json o = Json::object();
  for (const auto& [name, n] : counts) o[name] = n;
  return o;
}

void PrintJson(const Json& report) {
  std::string line = report.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::printf("%s\n", line.c_str());
}

std::string HexString(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", value);
  return buf;
}

bool ParseUint(std::string_view text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

bool ParseSeconds(std::string_view text, double max_seconds, double* out) {
  if (text.empty() || text.size() > 32) return false;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end == copy.c_str() || *end != '\0') return false;
  if (!std::isfinite(value) || value <= 0 || value > max_seconds) return false;
  *out = value;
  return true;
}

std::string FormatMs(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

std::string FormatCounts(const std::map<std::string, uint64_t>& counts) {
  std::string out;
  for (const auto& [name, n] : counts) {
    if (!out.empty()) out += ' ';
    out += name + "=" + std::to_string(n);
  }
  return out.empty() ? "-" : out;
}

std::string FormatLatencyLine(const LatencyHistogram& h) {
  return "p50 " + FormatMs(h.PercentileNs(50)) + "  p90 " + FormatMs(h.PercentileNs(90)) +
         "  p99 " + FormatMs(h.PercentileNs(99)) + "  max " + FormatMs(h.max_ns());
}

bool ArgReader::Next() {
  if (index_ + 1 >= argc_) return false;
  arg_ = argv_[++index_];
  has_inline_ = false;
  inline_value_.clear();
  if (inline_values_ && arg_.starts_with("--")) {
    if (size_t eq = arg_.find('='); eq != std::string::npos) {
      inline_value_ = arg_.substr(eq + 1);
      arg_.resize(eq);
      has_inline_ = true;
    }
  }
  return true;
}

bool ArgReader::Value(std::string* out) {
  if (has_inline_) {
    *out = inline_value_;
    return true;
  }
  if (index_ + 1 >= argc_) return false;
  *out = argv_[++index_];
  return true;
}

bool ArgReader::Uint(uint64_t min, uint64_t max, uint64_t* out) {
  std::string text;
  return Value(&text) && ParseUint(text, min, max, out);
}

bool ArgReader::Seconds(double max_seconds, double* out) {
  std::string text;
  return Value(&text) && ParseSeconds(text, max_seconds, out);
}

int UsageError(const char* tool, const char* usage, const char* error) {
  if (error != nullptr) std::fprintf(stderr, "%s: %s\n", tool, error);
  std::fputs(usage, stderr);
  return 2;
}

}  // namespace mailwarden::bench

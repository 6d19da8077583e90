#include "common/units.h"

#include <array>
#include <cctype>
#include <limits>

#include "common/ascii.h"

namespace mailwarden {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Splits "15MiB" into 15 and "mib"; false when there are no leading digits or the number
// overflows.
bool SplitNumber(std::string_view text, uint64_t* number, std::string* unit) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return false;
  std::string_view rest = text.substr(i);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  *number = n;
  *unit = AsciiLower(rest);
  return true;
}

bool MultiplyChecked(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  static constexpr std::array<Unit, 10> kUnits = {{{"", 1},
                                                   {"b", 1},
                                                   {"kb", 1000},
                                                   {"mb", 1000 * 1000},
                                                   {"gb", 1000ull * 1000 * 1000},
                                                   {"kib", 1024},
                                                   {"mib", 1024 * 1024},
                                                   {"gib", 1024ull * 1024 * 1024},
                                                   {"tb", 1000ull * 1000 * 1000 * 1000},
                                                   {"tib", 1024ull * 1024 * 1024 * 1024}}};
  uint64_t number;
  std::string unit;
  if (!SplitNumber(text, &number, &unit)) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a size (expected e.g. 15MiB, 2GiB, 10MB, 4096)");
  }
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      uint64_t bytes;
      if (!MultiplyChecked(number, u.factor, &bytes)) {
        return Status::InvalidArgument("size '" + std::string(text) + "' is too large");
      }
      return bytes;
    }
  }
  return Status::InvalidArgument("unknown size unit '" + unit + "' in '" + std::string(text) +
                                 "' (use B, KB, MB, GB, KiB, MiB or GiB)");
}

Result<int64_t> ParseDuration(std::string_view text) {
  static constexpr std::array<Unit, 6> kUnits = {
      {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}}};
  uint64_t number;
  std::string unit;
  if (!SplitNumber(text, &number, &unit)) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration (expected e.g. 30s, 5m, 12h, 90d)");
  }
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      uint64_t seconds;
      if (!MultiplyChecked(number, u.factor, &seconds) ||
          seconds > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::InvalidArgument("duration '" + std::string(text) + "' is too large");
      }
      return static_cast<int64_t>(seconds);
    }
  }
  return Status::InvalidArgument("unknown duration unit '" + unit + "' in '" + std::string(text) +
                                 "' (use s, m, h, d or w)");
}

std::string FormatSize(uint64_t bytes) {
  static constexpr std::array<Unit, 4> kUnits = {{{"TiB", 1024ull * 1024 * 1024 * 1024},
                                                  {"GiB", 1024ull * 1024 * 1024},
                                                  {"MiB", 1024 * 1024},
                                                  {"KiB", 1024}}};
  if (bytes == 0) return "0";
  for (const Unit& u : kUnits) {
    if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
  }
  return std::to_string(bytes);
}

std::string FormatDuration(int64_t seconds) {
  static constexpr std::array<Unit, 4> kUnits = {
      {{"w", 7 * 86400}, {"d", 86400}, {"h", 3600}, {"m", 60}}};
  if (seconds <= 0) return std::to_string(seconds) + "s";
  for (const Unit& u : kUnits) {
    if (static_cast<uint64_t>(seconds) % u.factor == 0) {
      return std::to_string(static_cast<uint64_t>(seconds) / u.factor) + std::string(u.name);
    }
  }
  return std::to_string(seconds) + "s";
}

}  // namespace mailwarden

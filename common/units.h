// Parsing and printing of the sizes and durations that appear in configuration files.
//
// Sizes: a non-negative integer with an optional unit: B, KB/MB/GB (powers of 1000) or
// KiB/MiB/GiB (powers of 1024), case-insensitive for the letters, e.g. "15MiB", "2GiB", "512".
// Durations: an integer with a unit s, m, h, d or w ("90d", "30s"); a bare integer is seconds.
// Overflow and negative values are errors, never wrapped. Pure functions, thread-safe.
#ifndef MAILWARDEN_COMMON_UNITS_H_
#define MAILWARDEN_COMMON_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mailwarden {

// Bytes in `text`, or kInvalidArgument naming what is wrong.
Result<uint64_t> ParseSize(std::string_view text);
// Seconds in `text`, or kInvalidArgument naming what is wrong.
Result<int64_t> ParseDuration(std::string_view text);
// The shortest exact spelling in binary units: 15728640 -> "15MiB", 1000 -> "1000".
std::string FormatSize(uint64_t bytes);
// The shortest exact spelling: 7776000 -> "90d", 90 -> "90s".
std::string FormatDuration(int64_t seconds);

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_UNITS_H_

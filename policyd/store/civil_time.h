// UTC calendar dates for the account directory: parsing what administrators type or export
// ("2024-03-01", "2024-03-01T08:30:00Z", "2024-03-01 08:30+07:00"), printing dates back, and
// calendar-month arithmetic for "unused for over 6 months" (A3).
//
// Times are Unix seconds. Years 1970-9999 only: an account older than the epoch is a typo.
// Pure functions, thread-safe; no locale, no time zone database (offsets must be explicit,
// a time without one is UTC).
#ifndef MAILWARDEN_POLICYD_STORE_CIVIL_TIME_H_
#define MAILWARDEN_POLICYD_STORE_CIVIL_TIME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mailwarden {

// "YYYY-MM-DD", optionally followed by 'T' or ' ' and "HH:MM[:SS]" with an optional "Z" or
// "+HH:MM"/"-HH:MM" offset. kInvalidArgument naming the problem ("month 13", "not a date").
Result<int64_t> ParseUtcTime(std::string_view text);
// "2024-03-01".
std::string FormatUtcDate(int64_t t);
// "2024-03-01T08:30:00Z".
std::string FormatUtcTime(int64_t t);
// `t` moved by `months` calendar months (negative: back), the day clamped to the end of a
// shorter month (Aug 31 + 6 months = Feb 28/29), the time of day kept.
int64_t AddMonths(int64_t t, int months);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_CIVIL_TIME_H_

// Proleptic Gregorian calendar arithmetic, shared by the date readers (the account
// directory's dates, the Date header of the spam heuristics). No time zones, no locale.
#ifndef MAILWARDEN_COMMON_CIVIL_DATE_H_
#define MAILWARDEN_COMMON_CIVIL_DATE_H_

#include <cstdint>

namespace mailwarden {

// Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil); m 1-12, d 1-31.
constexpr int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Days in month `m` (1-12) of year `y`.
constexpr int DaysInMonth(int64_t y, int m) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_CIVIL_DATE_H_

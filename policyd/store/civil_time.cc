// Parses dates typed by administrators or exported by other systems: untrusted text. Only
// fixed-width digit fields are read (no strtol, no locale), every field is range-checked
// (Feb 30 and 24:00 are errors, not normalised), and the result is bounded to 1970-9999.
#include "policyd/store/civil_time.h"

#include <cstdio>

#include "common/civil_date.h"

namespace mailwarden {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

struct Civil {
  int64_t year;
  int month;
  int day;
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

// Reads exactly `width` digits at text[*pos]; false when any is not a digit.
bool Digits(std::string_view text, size_t* pos, size_t width, int* out) {
  if (*pos + width > text.size()) return false;
  int n = 0;
  for (size_t i = 0; i < width; ++i) {
    char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *pos += width;
  *out = n;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

Status Bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("'" + std::string(text) + "' is not a date (" + std::string(why) +
                                 "; expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
}

}  // namespace

Result<int64_t> ParseUtcTime(std::string_view text) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!Digits(text, &pos, 4, &year) || !Expect(text, &pos, '-') || !Digits(text, &pos, 2, &month) ||
      !Expect(text, &pos, '-') || !Digits(text, &pos, 2, &day)) {
    return Bad(text, "not YYYY-MM-DD");
  }
  if (year < 1970) return Bad(text, "year before 1970");
  if (month < 1 || month > 12) return Bad(text, "month " + std::to_string(month));
  if (day < 1 || day > DaysInMonth(year, month)) {
    return Bad(text, "day " + std::to_string(day) + " of month " + std::to_string(month));
  }
  int hour = 0, minute = 0, second = 0, offset_seconds = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') {
      return Bad(text, "unexpected text after the date");
    }
    ++pos;
    if (!Digits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
        !Digits(text, &pos, 2, &minute)) {
      return Bad(text, "time not HH:MM");
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!Digits(text, &pos, 2, &second)) return Bad(text, "seconds not SS");
    }
    if (pos < text.size() && text[pos] == '.') {  // fractions of a second: dropped
      ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    }
    if (hour > 23 || minute > 59 || second > 59) return Bad(text, "time out of range");
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
      ++pos;
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      const int sign = text[pos] == '-' ? -1 : 1;
      ++pos;
      int oh = 0, om = 0;
      if (!Digits(text, &pos, 2, &oh) || !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &om) ||
          oh > 14 || om > 59) {
        return Bad(text, "offset not +HH:MM");
      }
      offset_seconds = sign * (oh * 3600 + om * 60);
    }
    if (pos != text.size()) return Bad(text, "unexpected text after the time");
  }
  return DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + second -
         offset_seconds;
}

std::string FormatUtcDate(int64_t t) {
  Civil c = CivilFromDays(t >= 0 ? t / kSecondsPerDay : (t - kSecondsPerDay + 1) / kSecondsPerDay);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

std::string FormatUtcTime(int64_t t) {
  int64_t days = t >= 0 ? t / kSecondsPerDay : (t - kSecondsPerDay + 1) / kSecondsPerDay;
  int64_t secs = t - days * kSecondsPerDay;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%sT%02d:%02d:%02dZ", FormatUtcDate(t).c_str(),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

int64_t AddMonths(int64_t t, int months) {
  int64_t days = t >= 0 ? t / kSecondsPerDay : (t - kSecondsPerDay + 1) / kSecondsPerDay;
  int64_t time_of_day = t - days * kSecondsPerDay;
  Civil c = CivilFromDays(days);
  int64_t index = c.year * 12 + (c.month - 1) + months;  // months since year 0
  int64_t year = index >= 0 ? index / 12 : (index - 11) / 12;
  int month = static_cast<int>(index - year * 12) + 1;
  int day = c.day < DaysInMonth(year, month) ? c.day : DaysInMonth(year, month);
  return DaysFromCivil(year, month, day) * kSecondsPerDay + time_of_day;
}

}  // namespace mailwarden

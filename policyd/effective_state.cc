#include "policyd/effective_state.h"

#include <algorithm>
#include <limits>

#include "policyd/store/civil_time.h"

namespace mailwarden {
namespace {

// a + b without overflow (dates come from imports; a typo must not wrap around).
int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) {
    return std::numeric_limits<int64_t>::max();
  }
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b) {
    return std::numeric_limits<int64_t>::min();
  }
  return a + b;
}

std::string StoredReason(const Account& account, std::string_view fallback) {
  return account.state_reason.empty() ? std::string(fallback) : account.state_reason;
}

}  // namespace

std::string_view StateCauseName(StateCause cause) {
  switch (cause) {
    case StateCause::kNone:
      return "none";
    case StateCause::kStored:
      return "stored";
    case StateCause::kTerminationDate:
      return "termination_date";
    case StateCause::kInactive:
      return "inactive";
  }
  return "?";
}

EffectiveState ComputeEffectiveState(const Account& account, int64_t now,
                                     const EffectiveStateOptions& options) {
  EffectiveState e;
  e.active_since = account.last_login_at ? std::min(*account.last_login_at, now)
                                         : SaturatingAdd(account.created_at, options.login_grace);
  if (account.state == AccountState::kActive) {
    e.active_since = std::max(e.active_since, account.state_since);
  }
  if (options.suspend_after_inactive > 0) {
    e.inactive_at = SaturatingAdd(e.active_since, options.suspend_after_inactive);
  }

  if (account.state == AccountState::kTerminated) {
    e.state = AccountState::kTerminated;
    e.cause = StateCause::kStored;
    e.reason = StoredReason(account, "terminated by the administrators");
  } else if (account.terminate_at && *account.terminate_at <= now) {
    e.state = AccountState::kTerminated;
    e.cause = StateCause::kTerminationDate;
    e.reason = "terminated on " + FormatUtcDate(*account.terminate_at);
  } else if (account.state == AccountState::kSuspended) {
    e.state = AccountState::kSuspended;
    e.cause = StateCause::kStored;
    e.reason = StoredReason(account, "suspended by the administrators");
  } else if (e.inactive_at && *e.inactive_at <= now) {
    e.state = AccountState::kSuspended;
    e.cause = StateCause::kInactive;
    int64_t days = options.suspend_after_inactive / 86400;
    std::string period = days * 86400 == options.suspend_after_inactive
                             ? std::to_string(days) + (days == 1 ? " day" : " days")
                             : std::to_string(options.suspend_after_inactive) + " seconds";
    e.reason = account.last_login_at
                   ? "no login since " + FormatUtcDate(*account.last_login_at) + " (" + period +
                         " or more)"
                   : "never logged in since its creation on " + FormatUtcDate(account.created_at) +
                         " (" + period + " or more)";
  }
  return e;
}

}  // namespace mailwarden

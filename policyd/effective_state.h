// The effective state of an account: what mailwarden-policyd acts on (REGULATIONS.md A2,
// A4, A5), computed at request time from the stored account, the clock and the accounts.*
// settings, so that a mailbox unused for 90 days is suspended without a job having to run.
//
// In order of precedence:
//   terminated  when stored so, or when its terminate_at has come (terminate_at <= now);
//   suspended   when stored so, or when inactive: suspend_after_inactive (default 90 days)
//               or more has passed since the account's activity clock started;
//   active      otherwise.
// The activity clock starts at the latest of:
//   - the last login (last_login_at);
//   - for an account that never logged in: its creation plus login_grace (default 30
//     days), so a new mailbox is suspended 30 + 90 days after creation if nobody ever
//     uses it (login_grace 0: 90 days after creation, the regulation's letter);
//   - for a stored-active account: state_since, so that reactivating an account (which
//     sets state_since) restarts the clock; otherwise it would fall back at once.
// Exactly suspend_after_inactive after the clock started counts as inactive. A last login
// in the future (clock skew between hosts) counts as now. suspend_after_inactive 0 turns
// inactivity suspension off.
//
// Pure functions of their arguments: thread-safe, no I/O, no clock of their own.
#ifndef MAILWARDEN_POLICYD_EFFECTIVE_STATE_H_
#define MAILWARDEN_POLICYD_EFFECTIVE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policyd/store/account_directory.h"

namespace mailwarden {

struct EffectiveStateOptions {
  int64_t suspend_after_inactive = 90 * 86400;  // seconds; 0: never suspend for inactivity
  int64_t login_grace = 30 * 86400;             // seconds added for never-logged-in accounts
};

// Why an account is not active.
enum class StateCause {
  kNone,             // active
  kStored,           // an administrator suspended or terminated it
  kTerminationDate,  // terminate_at has come
  kInactive,         // no login for suspend_after_inactive
};

// "none", "stored", "termination_date", "inactive" (for the decision log).
std::string_view StateCauseName(StateCause cause);

struct EffectiveState {
  AccountState state = AccountState::kActive;
  StateCause cause = StateCause::kNone;
  // Why, in one line for a reply to the account's owner: the stored reason, "terminated on
  // 2024-05-01", "no login since 2024-01-02 (90 days or more)"; "" when active.
  std::string reason;
  // When the activity clock started (see above).
  int64_t active_since = 0;
  // When inactivity suspends (or suspended) the account; nothing when that is off.
  std::optional<int64_t> inactive_at;
};

// The effective state of `account` at `now` (Unix seconds).
EffectiveState ComputeEffectiveState(const Account& account, int64_t now,
                                     const EffectiveStateOptions& options);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_EFFECTIVE_STATE_H_

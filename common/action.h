// The actions a decision can take, ordered by strength.
//
// A verdict takes the strongest action among its findings:
// reject > tempfail > quarantine > tag > accept. Failure modes (on_internal_error, ...) use
// the subset accept / tempfail / reject. Pure values and functions, thread-safe.
#ifndef MAILWARDEN_COMMON_ACTION_H_
#define MAILWARDEN_COMMON_ACTION_H_

#include <optional>
#include <string_view>

namespace mailwarden {

enum class Action { kAccept = 0, kTag = 1, kQuarantine = 2, kTempfail = 3, kReject = 4 };

// "accept", "tag", "quarantine", "tempfail", "reject".
std::string_view ActionName(Action action);
// The action spelled `name`, or nothing.
std::optional<Action> ParseAction(std::string_view name);
// The stronger of two actions.
inline Action Strongest(Action a, Action b) { return a > b ? a : b; }

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_ACTION_H_

#include "common/action.h"

namespace mailwarden {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAccept:
      return "accept";
    case Action::kTag:
      return "tag";
    case Action::kQuarantine:
      return "quarantine";
    case Action::kTempfail:
      return "tempfail";
    case Action::kReject:
      return "reject";
  }
  return "reject";
}

std::optional<Action> ParseAction(std::string_view name) {
  for (Action a :
       {Action::kAccept, Action::kTag, Action::kQuarantine, Action::kTempfail, Action::kReject}) {
    if (ActionName(a) == name) return a;
  }
  return std::nullopt;
}

}  // namespace mailwarden

// Diagnostics of the daemons themselves (not the decision log): startup, reloads, errors.
//
// Four levels with fixed meaning, as in Postfix: Info (what happened), Warn (recoverable,
// keep going), Error (an operation failed; the daemon goes on), Fatal (configuration or
// environment makes running impossible: the caller exits). Lines go to stderr (journald
// under systemd) with the program name; thread-safe.
#ifndef MAILWARDEN_COMMON_LOG_H_
#define MAILWARDEN_COMMON_LOG_H_

#include <string_view>

namespace mailwarden {

void SetProgramName(std::string_view name);
void LogInfo(std::string_view message);
void LogWarn(std::string_view message);
void LogError(std::string_view message);
void LogFatal(std::string_view message);  // logs only; the caller decides how to exit

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_LOG_H_

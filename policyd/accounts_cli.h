// The administrators' commands of mailwarden-policyd (docs/accounts.md):
//
//   mailwarden-policyd [--config FILE] [--database SPEC] accounts COMMAND ARGS...
//       add ADDRESS [--kind K] [--role R] [--quota SIZE] [--alias A]... [--password-changed DATE]
//                   [--last-login DATE] [--created DATE]
//       set ADDRESS [--kind K] [--role R] [--quota SIZE|default] [--password-changed DATE]
//                   [--last-login DATE] [--terminate-at DATE|none] [--alias A]... [--no-aliases]
//       suspend ADDRESS --reason TEXT | terminate ADDRESS --reason TEXT | reactivate ADDRESS
//       show ADDRESS [--json] | list [--state S] [--kind K] [--json] | import FILE.csv
//   mailwarden-policyd [--config FILE] [--database SPEC] report inactive [--over PERIOD]
//       [--notice DURATION] [--json]
//
// They work on the directory named by accounts.database in the configuration (or
// --database SPEC), through the AccountDirectory the daemon reads, so a change applies to
// the running daemon's next request without a reload. A write waits at most
// kAdminTimeoutMs for the store (a daemon's reads never block it: WAL).
//
// Exit status: 0 done; 1 the command failed (unknown account, bad CSV, store unavailable or
// busy); 2 usage error (unknown command or option, missing or malformed argument). Results
// go to stdout (a table, or JSON lines with --json); problems to stderr, one line each.
// Single-threaded; nothing here runs inside the daemon.
#ifndef MAILWARDEN_POLICYD_ACCOUNTS_CLI_H_
#define MAILWARDEN_POLICYD_ACCOUNTS_CLI_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace mailwarden {

inline constexpr int64_t kAdminTimeoutMs = 10000;

struct AdminCommandEnv {
  std::string config_path;  // the configuration to read accounts.database from
  std::string database;     // --database: used instead of the configuration when not ""
  int64_t now = 0;          // Unix seconds; 0 means the clock (tests fix it)
};

// Whether argv names an admin command: its first argument after any leading --config FILE /
// --database SPEC is "accounts" or "report".
bool IsAdminCommand(int argc, char** argv);

// Runs the admin command of argv (IsAdminCommand() is true) with `default_config` unless
// --config is given; returns the exit status.
int RunAdminCommand(int argc, char** argv, const std::string& default_config, std::ostream& out,
                    std::ostream& err);

// The same on split arguments: args[0] is "accounts" or "report".
int RunAdminCommand(const std::vector<std::string>& args, const AdminCommandEnv& env,
                    std::ostream& out, std::ostream& err);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_ACCOUNTS_CLI_H_

// The daemons' command lines: a table of options, parsed the same way by every program.
//
// An option has one or more names ("--config", "-c") and is a flag (sets a bool), takes a
// value ("--config FILE"), or takes a value and may repeat ("--rcpt A --rcpt B").
// "--help" and "-h" print the usage on stdout and exit 0. Pure, single-threaded use at
// start-up.
#ifndef MAILWARDEN_COMMON_COMMAND_LINE_H_
#define MAILWARDEN_COMMON_COMMAND_LINE_H_

#include <functional>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mailwarden {

struct CommandLineOption {
  std::initializer_list<std::string_view> names;
  bool* flag = nullptr;                        // a flag: set to true when given
  std::string* value = nullptr;                // takes a value, stored here
  std::vector<std::string>* values = nullptr;  // takes a value, may repeat
};

// Parses argv[1..] against `options`. An unknown argument or a missing value prints a
// message naming it and the usage on stderr, and returns false.
bool ParseCommandLine(std::string_view program, int argc, char** argv,
                      std::initializer_list<CommandLineOption> options,
                      const std::function<void(std::ostream&)>& usage);

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_COMMAND_LINE_H_

#include "common/command_line.h"

#include <cstdlib>
#include <iostream>

namespace mailwarden {

bool ParseCommandLine(std::string_view program, int argc, char** argv,
                      std::initializer_list<CommandLineOption> options,
                      const std::function<void(std::ostream&)>& usage) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      std::exit(0);
    }
    const CommandLineOption* found = nullptr;
    for (const CommandLineOption& o : options) {
      for (std::string_view name : o.names) {
        if (name == arg) found = &o;
      }
    }
    if (found == nullptr) {
      std::cerr << program << ": unknown argument '" << arg << "'\n";
      usage(std::cerr);
      return false;
    }
    if (found->flag != nullptr) {
      *found->flag = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << program << ": " << arg << " needs a value\n";
      return false;
    }
    std::string value = argv[++i];
    if (found->values != nullptr) {
      found->values->push_back(std::move(value));
    } else {
      *found->value = std::move(value);
    }
  }
  return true;
}

}  // namespace mailwarden

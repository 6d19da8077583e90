#include "common/command_line.h"

#include <gtest/gtest.h>

#include <sstream>

namespace mailwarden {
namespace {

struct Parsed {
  std::string config;
  bool check = false;
  std::vector<std::string> rcpts;
};

bool Parse(std::vector<std::string> args, Parsed* p) {
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseCommandLine("prog", static_cast<int>(argv.size()), argv.data(),
                          {{{"--config", "-c"}, nullptr, &p->config},
                           {{"--check-config"}, &p->check},
                           {{"--rcpt"}, nullptr, nullptr, &p->rcpts}},
                          [](std::ostream& out) { out << "usage\n"; });
}

TEST(CommandLine, FlagsValuesAndRepeatedValues) {
  Parsed p;
  ASSERT_TRUE(Parse({"-c", "a.yaml", "--check-config", "--rcpt", "x", "--rcpt", "y"}, &p));
  EXPECT_EQ(p.config, "a.yaml");
  EXPECT_TRUE(p.check);
  EXPECT_EQ(p.rcpts, (std::vector<std::string>{"x", "y"}));
}

TEST(CommandLine, UnknownArgumentsAndMissingValuesFail) {
  Parsed p;
  EXPECT_FALSE(Parse({"--bogus"}, &p));
  EXPECT_FALSE(Parse({"--config"}, &p));
  EXPECT_TRUE(Parse({}, &p));
}

}  // namespace
}  // namespace mailwarden

#include "common/decision_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(DecisionLog, WritesOneParsableLinePerRecordFromManyThreads) {
  testing::TempDir dir;
  LogOptions options;
  options.path = dir.Path("decisions.json");
  auto log = DecisionLog::Open(options);
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        nlohmann::json r = NewDecisionRecord("milter");
        r["n"] = t * 1000 + i;
        r["pad"] = std::string(500, 'x');
        (*log)->Write(r);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto lines = ReadLines(options.path);
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_EQ(lines[0]["event"]["dataset"], "mailwarden.milter");
  EXPECT_EQ(lines[0]["@timestamp"].get<std::string>().size(), 24u);
}

TEST(DecisionLog, ReopenFollowsARotatedFile) {
  testing::TempDir dir;
  LogOptions options;
  options.path = dir.Path("decisions.json");
  auto log = DecisionLog::Open(options);
  ASSERT_TRUE(log.ok());
  (*log)->Write({{"n", 1}});
  std::filesystem::rename(options.path, options.path + ".1");
  (*log)->Write({{"n", 2}});  // still goes to the renamed file
  ASSERT_TRUE((*log)->Reopen().ok());
  (*log)->Write({{"n", 3}});
  EXPECT_EQ(ReadLines(options.path + ".1").size(), 2u);
  auto fresh = ReadLines(options.path);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0]["n"], 3);
}

TEST(DecisionLog, InvalidUtf8IsReplacedNotFatal) {
  testing::TempDir dir;
  LogOptions options;
  options.path = dir.Path("d.json");
  auto log = DecisionLog::Open(options);
  ASSERT_TRUE(log.ok());
  (*log)->Write({{"subject", std::string("bad \xff\xfe bytes")}});
  auto lines = ReadLines(options.path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0]["subject"].get<std::string>().find("bad"), std::string::npos);
}

TEST(DecisionLog, UnwritableDirectoryIsAnError) {
  LogOptions options;
  options.path = "/nonexistent-dir/decisions.json";
  auto log = DecisionLog::Open(options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kIoError);
}

}  // namespace
}  // namespace mailwarden

#include "common/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using testing::TempDir;

constexpr const char* kRules = R"(version: 1
rules:
  - id: message-size
    check: message_size
    max_size: 15MiB
  - id: blocked
    check: sender_blocklist
    senders: [a@example.net, "@spam.example"]
    action: tempfail
)";

std::string ErrorsOf(const std::string& path) {
  auto r = LoadConfig(path);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

// The errors of a config whose one rule file, dir/r.yaml, holds `rules`.
std::string RuleFileErrors(const TempDir& dir, const std::string& rules) {
  dir.Write("r.yaml", rules);
  return ErrorsOf(dir.Write("c.yaml", "version: 1\nrule_files: [r.yaml]\n"));
}

TEST(Config, LoadsShippedFilesInTheirInstalledLayout) {
  // Installed as /etc/mailwarden/mailwarden.yaml with rules/ beside it.
  TempDir dir;
  std::filesystem::copy_file(MW_SOURCE_DIR "/conf/mailwarden.yaml", dir.Path("mailwarden.yaml"));
  std::filesystem::create_directories(dir.Path("rules"));
  std::filesystem::copy(MW_SOURCE_DIR "/rules", dir.Path("rules"));
  auto config = LoadConfig(dir.Path("mailwarden.yaml"));
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ((*config)->milter.socket, "inet:127.0.0.1:8891");
  EXPECT_EQ((*config)->policyd.listen, "inet:127.0.0.1:10040");
  EXPECT_FALSE((*config)->rules.empty());
  // Virus scanning is on in the shipped configuration, with freshclam's signatures.
  bool antivirus = false;
  for (const RuleSpec& r : (*config)->rules) antivirus = antivirus || r.check == "antivirus";
  EXPECT_TRUE(antivirus);
  EXPECT_EQ((*config)->value("antivirus.database").text, "/var/lib/clamav");
}

TEST(Config, DefaultsApplyAndRulesGetTheirParameters) {
  TempDir dir;
  dir.Write("rules.yaml", kRules);
  std::string path = dir.Write("c.yaml", "version: 1\nrule_files: [rules.yaml]\n");
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  const Config& c = **config;
  EXPECT_EQ(c.milter.shutdown_timeout, 30);
  EXPECT_EQ(c.milter.on_internal_error, Action::kTempfail);
  EXPECT_EQ(c.policyd.max_line_length, 4096);
  EXPECT_EQ(c.milter.socket_mode, 0660);
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[0].param("max_size").number, 15 * 1024 * 1024);
  EXPECT_EQ(c.rules[0].action, Action::kReject);  // the check's default
  EXPECT_EQ(c.rules[0].where.line, 3);
  EXPECT_EQ(c.rules[1].action, Action::kTempfail);
  EXPECT_EQ(c.rules[1].param("senders").list.size(), 2u);
  EXPECT_EQ(c.RulesFor(CheckHost::kMilter).size(), 1u);
  EXPECT_EQ(c.RulesFor(CheckHost::kPolicyd).size(), 1u);
}

TEST(Config, ErrorsNameFileLineAndColumn) {
  TempDir dir;
  std::string path = dir.Write("c.yaml",
                               "version: 1\n"
                               "rule_files: []\n"
                               "milter:\n"
                               "  socket: inet:127.0.0.1:99999\n"
                               "  sokcet_mode: \"0660\"\n"
                               "  shutdown_timeout: 5y\n"
                               "log:\n"
                               "  output: fil\n");
  std::string errors = ErrorsOf(path);
  EXPECT_NE(errors.find(path + ":4:11: milter.socket"), std::string::npos) << errors;
  EXPECT_NE(errors.find(path + ":5:3: unknown key 'milter.sokcet_mode'"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(path + ":6:21: milter.shutdown_timeout"), std::string::npos) << errors;
  EXPECT_NE(errors.find(path + ":8:11: log.output"), std::string::npos) << errors;
}

TEST(Config, YamlSyntaxErrorHasPosition) {
  TempDir dir;
  std::string path = dir.Write("c.yaml", "version: 1\nmilter: [a\n");
  std::string errors = ErrorsOf(path);
  EXPECT_NE(errors.find(path + ":"), std::string::npos);
  EXPECT_NE(errors.find("YAML syntax error"), std::string::npos) << errors;
}

TEST(Config, RejectsOutOfRangeAndWrongTypes) {
  TempDir dir;
  std::string path = dir.Write("c.yaml",
                               "version: 1\nrule_files: []\n"
                               "policyd:\n  max_line_length: 10\n  max_connections: lots\n"
                               "log:\n  log_accepted: maybe\n");
  std::string errors = ErrorsOf(path);
  EXPECT_NE(errors.find(":4:20: policyd.max_line_length: 10 is outside the allowed range"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(":5:20: policyd.max_connections: 'lots' is not an integer"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(":7:17: log.log_accepted"), std::string::npos) << errors;
}

TEST(Config, RejectsDuplicateKeysMissingVersionAndMissingFiles) {
  TempDir dir;
  std::string path = dir.Write("c.yaml", "rule_files: [nope.yaml]\nlog:\n  path: a\n  path: b\n");
  std::string errors = ErrorsOf(path);
  EXPECT_NE(errors.find("duplicate key 'log.path'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("missing 'version: 1'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("nope.yaml:0:0: cannot read: no such file"), std::string::npos) << errors;
  EXPECT_NE(ErrorsOf(dir.Path("absent.yaml")).find("no such file"), std::string::npos);
}

TEST(Config, RuleFileErrors) {
  TempDir dir;
  std::string errors = RuleFileErrors(dir,
                                      "version: 1\n"
                                      "rules:\n"
                                      "  - id: a\n"
                                      "    check: message_size\n"
                                      "    max_size: 15Mo\n"
                                      "  - id: b\n"
                                      "    check: nope\n"
                                      "  - id: Bad Id\n"
                                      "    check: message_size\n"
                                      "    action: drop\n"
                                      "    foo: 1\n"
                                      "  - id: a\n"
                                      "    check: message_size\n"
                                      "  - check: message_size\n");
  std::string r = dir.Path("r.yaml");
  EXPECT_NE(errors.find(r + ":5:15: max_size: unknown size unit"), std::string::npos) << errors;
  EXPECT_NE(errors.find(r + ":7:12: unknown check 'nope'"), std::string::npos) << errors;
  EXPECT_NE(errors.find(r + ":8:9: id 'Bad Id'"), std::string::npos) << errors;
  EXPECT_NE(errors.find(r + ":10:13: action: 'drop'"), std::string::npos) << errors;
  EXPECT_NE(errors.find(r + ":11:5: unknown key 'foo' for check message_size"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("duplicate rule id 'a'"), std::string::npos) << errors;
  EXPECT_NE(errors.find(r + ":14:5: rule without 'id'"), std::string::npos) << errors;
}

TEST(Config, BadAddressListEntriesAreReportedAtTheirOwnPosition) {
  // Both daemons load the whole file, so --check-config of either refuses a bad
  // policyd list.
  TempDir dir;
  std::string errors = RuleFileErrors(dir,
                                      "version: 1\n"
                                      "rules:\n"
                                      "  - id: blocked\n"
                                      "    check: sender_blocklist\n"
                                      "    senders: [ok@example.org, \"bad entry\", \"@\"]\n");
  std::string r = dir.Path("r.yaml");
  EXPECT_NE(errors.find(r + ":5:31: senders: 'bad entry' is not an address"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":5:44: senders: '@' is not an address"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("ok@example.org"), std::string::npos) << errors;
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
}

TEST(Config, PrintedDefaultsLoadAsAConfig) {
  // --print-defaults must print a file that means exactly the defaults.
  std::ostringstream out;
  PrintDefaults(out);
  TempDir dir;
  dir.Write("rules/default.yaml", "version: 1\nrules: []\n");
  std::string path = dir.Write("c.yaml", out.str());
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status().message() << "\n" << out.str();
  auto defaults = DefaultConfig();
  EXPECT_EQ((*config)->milter.socket, defaults->milter.socket);
  EXPECT_EQ((*config)->milter.socket_mode, defaults->milter.socket_mode);
  EXPECT_EQ((*config)->policyd.idle_timeout, defaults->policyd.idle_timeout);
  EXPECT_EQ((*config)->log.path, defaults->log.path);
  EXPECT_NE(out.str().find("check: message_size"), std::string::npos);
}

}  // namespace
}  // namespace mailwarden

namespace mailwarden {
namespace {

TEST(Config, ReferenceDocumentsEveryParameterAndCheck) {
  std::ifstream in(MW_SOURCE_DIR "/docs/configuration.md");
  std::stringstream doc;
  doc << in.rdbuf();
  std::string text = doc.str();
  ASSERT_FALSE(text.empty());
  for (const Param& p : ConfigParams()) {
    std::string name(p.name);
    std::string key = name.substr(name.find('.') + 1);
    bool documented = text.find("`" + key + "`") != std::string::npos ||
                      text.find("`" + name + "`") != std::string::npos;
    EXPECT_TRUE(documented) << name << " is not documented";
  }
  for (const CheckSchema& s : CheckSchemas()) {
    EXPECT_NE(text.find("`" + std::string(s.name) + "`"), std::string::npos) << s.name;
    for (const Param& p : s.params) {
      EXPECT_NE(text.find("`" + std::string(p.name) + "`"), std::string::npos) << p.name;
    }
  }
}

}  // namespace
}  // namespace mailwarden

namespace mailwarden {
namespace {

TEST(Config, ListParametersMayNameAListFile) {
  testing::TempDir dir;
  dir.Write("rules/blocked.yaml",
            "# senders refused everywhere\nversion: 1\nentries:\n  - a@example.net\n  - "
            "\"@spam.example\"\n");
  dir.Write(
      "rules/r.yaml",
      "version: 1\nrules:\n  - id: b\n    check: sender_blocklist\n    senders: blocked.yaml\n");
  std::string path = dir.Write("c.yaml", "version: 1\nrule_files: [rules/r.yaml]\n");
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ((*config)->rules[0].param("senders").list,
            (std::vector<std::string>{"a@example.net", "@spam.example"}));
}

TEST(Config, ListFileErrorsPointIntoTheListFile) {
  testing::TempDir dir;
  dir.Write("rules/bad.yaml", "version: 1\nentries:\n  - ok@example.org\n  - \"not an address\"\n");
  dir.Write("rules/r.yaml",
            "version: 1\nrules:\n  - id: b\n    check: sender_blocklist\n    senders: bad.yaml\n"
            "  - id: c\n    check: sender_blocklist\n    senders: missing.yaml\n");
  std::string path = dir.Write("c.yaml", "version: 1\nrule_files: [rules/r.yaml]\n");
  std::string errors = ErrorsOf(path);
  EXPECT_NE(errors.find(dir.Path("rules/bad.yaml") + ":4:5: senders:"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("missing.yaml:0:0: cannot read: no such file"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(dir.Path("rules/r.yaml") + ":8:14: senders: list file"), std::string::npos)
      << errors;
}

TEST(Config, DecimalParametersTakePlainNumbers) {
  TempDir dir;
  dir.Write("r.yaml",
            "version: 1\nrules:\n"
            "  - id: scored\n    check: spam\n"
            "    tag_score: 2.5\n    quarantine_score: 7\n    reject_score: -3.25\n"
            "    bayes_weight: .5\n    rspamd_weight: +1.5\n    spamd_weight: 0\n"
            "  - id: defaults\n    check: spam\n");
  auto config = LoadConfig(dir.Write("c.yaml", "version: 1\nrule_files: [r.yaml]\n"));
  ASSERT_TRUE(config.ok()) << config.status().message();
  const RuleSpec& r = (*config)->rules[0];
  EXPECT_DOUBLE_EQ(r.param("tag_score").decimal, 2.5);
  EXPECT_DOUBLE_EQ(r.param("quarantine_score").decimal, 7);
  EXPECT_DOUBLE_EQ(r.param("reject_score").decimal, -3.25);
  EXPECT_DOUBLE_EQ(r.param("bayes_weight").decimal, 0.5);
  EXPECT_DOUBLE_EQ(r.param("rspamd_weight").decimal, 1.5);
  EXPECT_DOUBLE_EQ(r.param("spamd_weight").decimal, 0);
  const RuleSpec& d = (*config)->rules[1];
  EXPECT_DOUBLE_EQ(d.param("tag_score").decimal, 5);
  EXPECT_DOUBLE_EQ(d.param("quarantine_score").decimal, 0);
  EXPECT_DOUBLE_EQ(d.param("reject_score").decimal, 15);
  EXPECT_DOUBLE_EQ(d.param("bayes_weight").decimal, 1);
}

TEST(Config, DecimalParameterErrorsNameTheirPosition) {
  TempDir dir;
  std::string errors = RuleFileErrors(dir,
                                      "version: 1\n"
                                      "rules:\n"
                                      "  - id: a\n"
                                      "    check: spam\n"
                                      "    tag_score: abc\n"
                                      "    reject_score: nan\n"
                                      "    quarantine_score: 1e3\n"
                                      "    bayes_weight: 101\n"
                                      "    rspamd_weight: -0.5\n"
                                      "    spamd_weight: 0x10\n"
                                      "  - id: b\n"
                                      "    check: spam\n"
                                      "    tag_score: 1.2.3\n"
                                      "    reject_score: 1000.5\n"
                                      "    bayes_weight: inf\n"
                                      "    rspamd_weight: \"-\"\n");
  std::string r = dir.Path("r.yaml");
  EXPECT_NE(errors.find(r + ":5:16: tag_score: 'abc' is not a number"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":6:19: reject_score: 'nan' is not a number"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":7:23: quarantine_score: '1e3' is not a number"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":8:19: bayes_weight: 101 is outside the allowed range 0 .. 100"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":9:20: rspamd_weight: -0.5 is outside the allowed range"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":10:19: spamd_weight: '0x10' is not a number"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":13:16: tag_score: '1.2.3' is not a number"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":14:19: reject_score: 1000.5 is outside the allowed range"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":15:19: bayes_weight: 'inf' is not a number"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(r + ":16:20: rspamd_weight: '-' is not a number"), std::string::npos)
      << errors;
}

}  // namespace
}  // namespace mailwarden

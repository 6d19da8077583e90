// SpamCheck through the Engine: the verdict by score (accept, tag, quarantine, reject), the
// X-Spam-* header fields and the subject tag, the classifier's signal and its absence,
// external scorers that are down, configuration errors, raw rules and the raw message a
// Message keeps, and one engine judging from several threads at once.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "milter/checks/spam.h"
#include "milter/eml_reader.h"
#include "milter/engine.h"
#include "milter/spam/bayes.h"
#include "milter/spam/train.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using testing::TempDir;

// Rules of known scores: each word adds its score once, so that a message reaches an exact
// total by the words it carries ("zulu4 zulu1" scores 5.0). The raw rule looks for the
// base64 of "zebra stripes", which only the undecoded message shows.
constexpr char kScoreRules[] = R"(version: 1
rules:
  - name: T_HALF
    body: '\bzulu05\b'
    score: 0.5
  - name: T_ONE
    body: '\bzulu1\b'
    score: 1
  - name: T_TWO
    body: '\bzulu2\b'
    score: 2
  - name: T_FOUR
    body: '\bzulu4\b'
    score: 4
  - name: T_EIGHT
    body: '\bzulu8\b'
    score: 8
  - name: T_ZEBRA_TEXT
    body: 'zebra stripes|emVicmEgc3RyaXBlcw'
    score: 0
  - name: T_RAW_BASE64
    raw: 'emVicmEgc3RyaXBlcw'
    score: 5
)";

// kScoreRules and twelve rules with long names, 0.1 each, on the word "longnames": enough
// signals to fold X-Spam-Status.
std::string RulesWithLongNames() {
  std::string rules = kScoreRules;
  for (int i = 1; i <= 12; ++i) {
    rules += "  - name: T_A_RATHER_LONG_SIGNAL_NAME_" + std::string(i < 10 ? "0" : "") +
             std::to_string(i) + "\n    body: '\\blongnames\\b'\n    score: 0.1\n";
  }
  return rules;
}

// Configurations of one spam rule, written into a directory of their own.
class SpamSite {
 public:
  // Builds the engine of a configuration whose spam rule has `rule_keys` (YAML lines
  // indented by four) and reads `spam_rules` as its rules file (unless the keys name
  // another). Without a bayes_db among the keys the rule has none.
  Result<std::shared_ptr<const Engine>> Build(const std::string& rule_keys,
                                              const std::string& spam_rules = kScoreRules) {
    const std::string n = std::to_string(++files_);
    spam_rules_path_ = dir_.Write("spam-rules" + n + ".yaml", spam_rules);
    std::string rule = "version: 1\nrules:\n  - id: spam\n    check: spam\n" + rule_keys;
    if (rule_keys.find("rules_file:") == std::string::npos)
      rule += "    rules_file: " + spam_rules_path_ + "\n";
    if (rule_keys.find("bayes_db:") == std::string::npos) rule += "    bayes_db: \"\"\n";
    std::string rule_file = dir_.Write("spam" + n + ".yaml", rule);
    std::string config_path =
        dir_.Write("c" + n + ".yaml", "version: 1\nrule_files: [" + rule_file +
                                          "]\ndomains:\n  internal: [site.example]\n");
    auto config = LoadConfig(config_path);
    if (!config.ok()) return config.status();
    config_ = *config;
    return Engine::Build(*config);
  }

  // Build that must succeed.
  std::shared_ptr<const Engine> EngineWith(const std::string& rule_keys = "",
                                           const std::string& spam_rules = kScoreRules) {
    auto engine = Build(rule_keys, spam_rules);
    EXPECT_TRUE(engine.ok()) << engine.status().message();
    return engine.ok() ? *engine : nullptr;
  }

  // The message of Build's failure ("" when it did not fail).
  std::string ErrorOf(const std::string& rule_keys, const std::string& spam_rules = kScoreRules) {
    auto engine = Build(rule_keys, spam_rules);
    EXPECT_FALSE(engine.ok());
    return engine.ok() ? "" : engine.status().message();
  }

  const std::string& spam_rules_path() const { return spam_rules_path_; }
  std::shared_ptr<const Config> config() const { return config_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  int files_ = 0;
  std::string spam_rules_path_;
  std::shared_ptr<const Config> config_;
};

// A plain-text letter from outside, with a Date and a Message-ID (so that no header
// heuristic fires). No Subject field when `subject` is empty.
std::string Letter(const std::string& body,
                   const std::optional<std::string>& subject = "Quarterly figures") {
  static std::atomic<int> n{0};
  std::string s = "From: Nguyen Van A <a@outside.example>\r\nTo: user@site.example\r\n";
  if (subject) s += "Subject: " + *subject + "\r\n";
  s += "Date: Mon, 3 Nov 2025 09:00:00 +0700\r\nMessage-ID: <letter" + std::to_string(++n) +
       "@outside.example>\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
       body;
  return s;
}

Envelope Inbound() {
  Envelope env;
  env.client_addr = "192.0.2.10";
  env.client_name = "mx.outside.example";
  env.helo = "mx.outside.example";
  env.mail_from = "a@outside.example";
  env.recipients = {"user@site.example"};
  env.queue_id = "Q1";
  return env;
}

struct Judged {
  std::unique_ptr<Message> message;
  Verdict verdict;
  const Finding* spam = nullptr;  // the spam finding, null when none

  // The finding's total score.
  double score() const { return spam ? spam->evidence["score"].get<double>() : -999; }
  // The signals' names, in the order the finding lists them.
  std::vector<std::string> signals() const {
    std::vector<std::string> names;
    if (spam == nullptr) return names;
    for (const auto& s : spam->evidence["signals"]) names.push_back(s["name"]);
    return names;
  }
  // The score of signal `name`; nullopt when it is not listed.
  std::optional<double> signal(const std::string& name) const {
    if (spam == nullptr) return std::nullopt;
    for (const auto& s : spam->evidence["signals"]) {
      if (s["name"] == name) return s["score"].get<double>();
    }
    return std::nullopt;
  }
  // Why `name` was left out, "" when it was not.
  std::string skipped(const std::string& name) const {
    if (spam == nullptr || !spam->evidence.contains("skipped")) return "";
    for (const auto& s : spam->evidence["skipped"]) {
      if (s["signal"] == name) return s["why"];
    }
    return "";
  }
  std::string Describe() const {
    std::string s = std::string(ActionName(verdict.action)) + " " + verdict.ReplyLine();
    for (const Finding& f : verdict.findings) s += " | " + f.check + ": " + f.evidence.dump();
    return s;
  }
};

Judged Judge(const Engine& engine, const std::string& raw, Envelope env = Inbound()) {
  Judged j;
  j.message = engine.NewMessage(std::move(env));
  ReadMessageText(raw, j.message.get());
  j.verdict = engine.AtEndOfMessage(*j.message);
  for (const Finding& f : j.verdict.findings) {
    if (f.check == "spam") j.spam = &f;
  }
  return j;
}

// The value of the first field named `name` in `fields`; nullopt when there is none.
std::optional<std::string> Field(const std::vector<HeaderField>& fields, const std::string& name) {
  for (const HeaderField& h : fields) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

bool HasSpamFields(const std::vector<HeaderField>& fields) {
  for (const HeaderField& h : fields) {
    if (h.name.rfind("X-Spam-", 0) == 0) return true;
  }
  return false;
}

// A loopback TCP port nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

// ---- verdicts by score ----

TEST(SpamCheck, BelowTagIsAcceptedAndLoggedWithItsSignals) {
  SpamSite site;
  auto engine = site.EngineWith();
  Judged j = Judge(*engine, Letter("Figures attached. zulu4 zulu05\r\n"));
  EXPECT_EQ(j.verdict.action, Action::kAccept) << j.Describe();
  ASSERT_EQ(j.verdict.findings.size(), 1u) << j.Describe();
  ASSERT_NE(j.spam, nullptr);
  EXPECT_EQ(j.spam->rule_id, "spam");
  EXPECT_EQ(j.spam->action, Action::kAccept);
  EXPECT_DOUBLE_EQ(j.score(), 4.5);
  EXPECT_EQ(j.spam->evidence["tag_score"], 5.0);
  EXPECT_EQ(j.spam->evidence["reject_score"], 15.0);
  EXPECT_FALSE(j.spam->evidence.contains("quarantine_score"));
  EXPECT_EQ(j.signals(), (std::vector<std::string>{"T_HALF", "T_FOUR"}));
  EXPECT_EQ(j.spam->evidence["signals"][1]["detail"], "body");
  EXPECT_EQ(j.skipped("BAYES"), "no bayes_db configured");
  // Below the tag the message goes on unchanged.
  EXPECT_FALSE(HasSpamFields(j.verdict.add_headers));
  EXPECT_TRUE(j.verdict.change_headers.empty());
  // The decision record carries the score.
  nlohmann::json record = engine->DecisionRecord(*j.message, j.verdict, Stage::kEndOfMessage);
  EXPECT_NE(record.dump().find("T_FOUR"), std::string::npos) << record.dump();
}

TEST(SpamCheck, HeuristicsScoreTooAndNothingScoresZero) {
  SpamSite site;
  auto engine = site.EngineWith();
  Judged clean = Judge(*engine, Letter("Nothing to see.\r\n"));
  EXPECT_EQ(clean.verdict.action, Action::kAccept);
  EXPECT_DOUBLE_EQ(clean.score(), 0.0);
  EXPECT_TRUE(clean.signals().empty()) << clean.Describe();
  // No Date, no Message-ID: the built-in heuristics add their signals.
  Judged bare = Judge(*engine,
                      "From: a@outside.example\r\nTo: user@site.example\r\nSubject: hello\r\n"
                      "\r\nzulu4\r\n");
  EXPECT_TRUE(bare.signal("DATE_MISSING").has_value()) << bare.Describe();
  EXPECT_TRUE(bare.signal("MSGID_MISSING").has_value()) << bare.Describe();
  EXPECT_DOUBLE_EQ(bare.score(), 4 + *bare.signal("DATE_MISSING") + *bare.signal("MSGID_MISSING"));
  // The rules file can turn them off.
  auto quiet = site.EngineWith(
      "", std::string(kScoreRules) + "heuristics:\n  DATE_MISSING: 0\n  MSGID_MISSING: 0\n");
  Judged off = Judge(*quiet,
                     "From: a@outside.example\r\nTo: user@site.example\r\nSubject: hello\r\n"
                     "\r\nzulu4\r\n");
  EXPECT_EQ(off.signals(), std::vector<std::string>{"T_FOUR"});
  EXPECT_DOUBLE_EQ(off.score(), 4.0);
}

TEST(SpamCheck, HeadersOnAllMarksMessagesBelowTheTagToo) {
  SpamSite site;
  auto engine = site.EngineWith("    headers_on_all: true\n");
  Judged j = Judge(*engine, Letter("zulu4 zulu05\r\n"));
  EXPECT_EQ(j.verdict.action, Action::kAccept) << j.Describe();
  EXPECT_EQ(Field(j.verdict.add_headers, "X-Spam-Score"), "4.5");
  EXPECT_EQ(Field(j.verdict.add_headers, "X-Spam-Status"),
            "No, score=4.5 tag=5.0 reject=15.0 tests=T_HALF=0.5,T_FOUR=4.0");
  EXPECT_FALSE(Field(j.verdict.add_headers, "X-Spam-Flag").has_value());
  EXPECT_TRUE(j.verdict.change_headers.empty());

  Judged clean = Judge(*engine, Letter("Nothing to see.\r\n"));
  EXPECT_EQ(Field(clean.verdict.add_headers, "X-Spam-Score"), "0.0");
  EXPECT_EQ(Field(clean.verdict.add_headers, "X-Spam-Status"),
            "No, score=0.0 tag=5.0 reject=15.0 tests=none");
}

TEST(SpamCheck, TagFromTheTagScoreOn) {
  SpamSite site;
  auto engine = site.EngineWith();
  Judged j = Judge(*engine, Letter("zulu4 and zulu1\r\n"));
  ASSERT_EQ(j.verdict.action, Action::kTag) << j.Describe();
  EXPECT_DOUBLE_EQ(j.score(), 5.0);
  EXPECT_EQ(j.spam->action, Action::kTag);
  EXPECT_EQ(Field(j.verdict.add_headers, "X-Spam-Flag"), "YES");
  EXPECT_EQ(Field(j.verdict.add_headers, "X-Spam-Score"), "5.0");
  EXPECT_EQ(Field(j.verdict.add_headers, "X-Spam-Status"),
            "Yes, score=5.0 tag=5.0 reject=15.0 tests=T_ONE=1.0,T_FOUR=4.0");
  // No subject_prefix: the Subject stays.
  EXPECT_TRUE(j.verdict.change_headers.empty());
  EXPECT_FALSE(Field(j.verdict.add_headers, "Subject").has_value());
}

TEST(SpamCheck, StatusFieldFoldsBefore78Columns) {
  SpamSite site;
  auto engine = site.EngineWith("", RulesWithLongNames());
  Judged j = Judge(*engine, Letter("longnames zulu4 zulu1\r\n"));
  ASSERT_EQ(j.verdict.action, Action::kTag) << j.Describe();
  EXPECT_DOUBLE_EQ(j.score(), 6.2);
  auto status = Field(j.verdict.add_headers, "X-Spam-Status");
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(status->find(",\n\t"), std::string::npos) << *status;
  // Line by line as the field is written: "X-Spam-Status: " then the folds.
  std::istringstream lines("X-Spam-Status: " + *status);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_LE(line.size(), 78u) << "line " << count << ": " << line;
    if (count > 1) {
      EXPECT_EQ(line.substr(0, 1), "\t") << line;
      EXPECT_NE(line.substr(1, 1), ",") << line;
    }
    EXPECT_NE(line.back(), ' ') << line;
  }
  EXPECT_GE(count, 3);
  // Unfolded, every signal is there once, in order.
  std::string unfolded = *status;
  for (size_t p; (p = unfolded.find("\n\t")) != std::string::npos;) unfolded.erase(p, 2);
  std::string tests = "T_ONE=1.0,T_FOUR=4.0";
  for (int i = 1; i <= 12; ++i) {
    tests += ",T_A_RATHER_LONG_SIGNAL_NAME_" + std::string(i < 10 ? "0" : "") + std::to_string(i) +
             "=0.1";
  }
  EXPECT_EQ(unfolded, "Yes, score=6.2 tag=5.0 reject=15.0 tests=" + tests);
}

TEST(SpamCheck, SubjectPrefixOnTaggedMessages) {
  SpamSite site;
  auto engine = site.EngineWith("    subject_prefix: \"[SPAM]\"\n");
  Judged tagged = Judge(*engine, Letter("zulu4 zulu1\r\n"));
  ASSERT_EQ(tagged.verdict.action, Action::kTag) << tagged.Describe();
  ASSERT_EQ(tagged.verdict.change_headers.size(), 1u);
  EXPECT_EQ(tagged.verdict.change_headers[0].name, "Subject");
  EXPECT_EQ(tagged.verdict.change_headers[0].value, "[SPAM] Quarterly figures");
  EXPECT_FALSE(Field(tagged.verdict.add_headers, "Subject").has_value());

  // Without a Subject, one is added.
  Judged none = Judge(*engine, Letter("zulu4 zulu1\r\n", std::nullopt));
  ASSERT_EQ(none.verdict.action, Action::kTag) << none.Describe();
  EXPECT_TRUE(none.verdict.change_headers.empty());
  EXPECT_EQ(Field(none.verdict.add_headers, "Subject"), "[SPAM]");

  // Tagged before (a message passing twice): left as it is.
  Judged again = Judge(*engine, Letter("zulu4 zulu1\r\n", "[SPAM] Quarterly figures"));
  ASSERT_EQ(again.verdict.action, Action::kTag) << again.Describe();
  EXPECT_TRUE(again.verdict.change_headers.empty());
  EXPECT_FALSE(Field(again.verdict.add_headers, "Subject").has_value());

  // Below the tag nothing changes.
  Judged clean = Judge(*engine, Letter("zulu4\r\n"));
  EXPECT_EQ(clean.verdict.action, Action::kAccept);
  EXPECT_TRUE(clean.verdict.change_headers.empty());
  EXPECT_FALSE(Field(clean.verdict.add_headers, "Subject").has_value());
}

TEST(SpamCheck, QuarantineScoreHoldsBetweenItAndTheRejectScore) {
  SpamSite site;
  auto engine = site.EngineWith("    quarantine_score: 10\n");
  Judged below = Judge(*engine, Letter("zulu8 zulu1 zulu05\r\n"));
  EXPECT_EQ(below.verdict.action, Action::kTag) << below.Describe();
  EXPECT_DOUBLE_EQ(below.score(), 9.5);

  Judged held = Judge(*engine, Letter("zulu8 zulu2\r\n"));
  ASSERT_EQ(held.verdict.action, Action::kQuarantine) << held.Describe();
  EXPECT_DOUBLE_EQ(held.score(), 10.0);
  EXPECT_EQ(held.spam->evidence["quarantine_score"], 10.0);
  EXPECT_NE(held.verdict.text.find("spam score 10.0"), std::string::npos) << held.verdict.text;
  EXPECT_NE(held.verdict.text.find("rule spam"), std::string::npos) << held.verdict.text;
  // A held message is marked as well, for whoever releases it.
  EXPECT_EQ(Field(held.verdict.add_headers, "X-Spam-Flag"), "YES");
  EXPECT_EQ(Field(held.verdict.add_headers, "X-Spam-Score"), "10.0");

  Judged refused = Judge(*engine, Letter("zulu8 zulu4 zulu2 zulu1\r\n"));
  EXPECT_EQ(refused.verdict.action, Action::kReject) << refused.Describe();
}

TEST(SpamCheck, RejectScoreRefusesWithTheScore) {
  SpamSite site;
  auto engine = site.EngineWith();
  Judged almost = Judge(*engine, Letter("zulu8 zulu4 zulu2 zulu05\r\n"));
  EXPECT_EQ(almost.verdict.action, Action::kTag) << almost.Describe();
  EXPECT_DOUBLE_EQ(almost.score(), 14.5);

  Judged j = Judge(*engine, Letter("zulu8 zulu4 zulu2 zulu1\r\n"));
  ASSERT_EQ(j.verdict.action, Action::kReject) << j.Describe();
  EXPECT_DOUBLE_EQ(j.score(), 15.0);
  EXPECT_EQ(j.verdict.smtp_code, 550);
  EXPECT_EQ(j.verdict.enhanced_code, "5.7.1");
  EXPECT_EQ(j.verdict.ReplyLine().rfind("550 5.7.1 message scored 15.0 as spam (limit 15.0)", 0),
            0u)
      << j.verdict.ReplyLine();
  EXPECT_NE(j.verdict.text.find("scored"), std::string::npos);
  // A refused message is not marked.
  EXPECT_FALSE(HasSpamFields(j.verdict.add_headers));
  EXPECT_TRUE(j.verdict.change_headers.empty());
}

TEST(SpamCheck, ActionQuarantineHoldsAtTheRejectScoreInstead) {
  SpamSite site;
  auto engine = site.EngineWith("    action: quarantine\n");
  Judged j = Judge(*engine, Letter("zulu8 zulu4 zulu2 zulu1\r\n"));
  ASSERT_EQ(j.verdict.action, Action::kQuarantine) << j.Describe();
  EXPECT_EQ(j.verdict.smtp_code, 250);
  EXPECT_NE(j.verdict.text.find("scored 15.0"), std::string::npos) << j.verdict.text;
  EXPECT_EQ(Field(j.verdict.add_headers, "X-Spam-Flag"), "YES");
  Judged tagged = Judge(*engine, Letter("zulu4 zulu1\r\n"));
  EXPECT_EQ(tagged.verdict.action, Action::kTag) << tagged.Describe();
}

// ---- the classifier ----

// Synthetic mail of two vocabularies, message `n` of its class.
std::string TrainingMail(bool spam, int n) {
  static const std::vector<std::string> kSpam = {
      "casino",    "jackpot",    "winner",   "lottery", "pills",  "discount",
      "refinance", "bonus",      "cheap",    "prize",   "loan",   "bitcoin",
      "offer",     "guaranteed", "investor", "profit",  "viagra", "clearance"};
  static const std::vector<std::string> kHam = {
      "meeting",  "agenda",     "minutes",    "budget",    "report",    "schedule",
      "review",   "draft",      "project",    "committee", "quarterly", "deadline",
      "province", "department", "inspection", "training",  "archive",   "proposal"};
  const auto& words = spam ? kSpam : kHam;
  std::string body;
  for (int i = 0; i < 12; ++i) body += words[(n * 7 + i * 5) % words.size()] + " ";
  body += "\r\nnumber " + std::to_string(n) + "\r\n";
  return std::string("From: ") + (spam ? "promo@deals.example" : "colleague@partner.example") +
         "\r\nTo: user@site.example\r\nSubject: " + words[n % words.size()] + " " +
         words[(n + 3) % words.size()] + "\r\nDate: Mon, 3 Nov 2025 09:00:00 +0700\r\n" +
         "Message-ID: <" + std::to_string(n) + (spam ? "s" : "h") + "@train.example>\r\n\r\n" +
         body;
}

// A store trained on 60 spam and 60 ham (bayes.sqlite), an untrained one (empty.sqlite).
std::string PrepareBayes(const TempDir& dir) {
  for (int n = 0; n < 60; ++n) {
    dir.Write("spam/" + std::to_string(n) + ".eml", TrainingMail(true, n));
    dir.Write("ham/" + std::to_string(n) + ".eml", TrainingMail(false, n));
  }
  spam::TrainOptions o;
  o.db_path = dir.Path("bayes.sqlite");
  o.spam_paths = {dir.Path("spam")};
  o.ham_paths = {dir.Path("ham")};
  o.quiet = true;
  std::ostringstream out, err;
  if (int rc = spam::RunTrain(o, out, err); rc != 0)
    return "train exited " + std::to_string(rc) + ": " + err.str();
  auto empty = spam::BayesStore::Open(dir.Path("empty.sqlite"), true);
  if (!empty.ok()) return empty.status().message();
  if (Status s = (*empty)->Commit(); !s.ok()) return s.message();
  return "";
}

// The stores of PrepareBayes, made once per test program.
class BayesStores {
 public:
  ::testing::AssertionResult Ready() {
    std::call_once(once_, [this] { error_ = PrepareBayes(dir_); });
    if (error_.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << error_;
  }
  std::string trained() const { return dir_.Path("bayes.sqlite"); }
  std::string untrained() const { return dir_.Path("empty.sqlite"); }

 private:
  TempDir dir_;
  std::once_flag once_;
  std::string error_;
};

BayesStores& Bayes() {
  static BayesStores stores;
  return stores;
}

std::string BayesKeys(const std::string& store, const std::string& more = "") {
  return "    bayes_db: " + store + "\n" + more;
}

TEST(SpamCheck, TrainedClassifierGivesTheBayesSignal) {
  ASSERT_TRUE(Bayes().Ready());
  SpamSite site;
  auto engine = site.EngineWith(BayesKeys(Bayes().trained()));
  Judged spam = Judge(
      *engine, Letter("jackpot casino winner bonus lottery prize offer\r\n", "casino jackpot"));
  ASSERT_TRUE(spam.signal("BAYES").has_value()) << spam.Describe();
  EXPECT_GT(*spam.signal("BAYES"), 2.0) << spam.Describe();
  EXPECT_EQ(spam.skipped("BAYES"), "");
  std::string detail;
  for (const auto& s : spam.spam->evidence["signals"]) {
    if (s["name"] == "BAYES") detail = s["detail"];
  }
  ASSERT_EQ(detail.rfind("p=", 0), 0u) << detail;
  EXPECT_GT(std::stod(detail.substr(2)), 0.9) << detail;
  EXPECT_NE(detail.find(" tokens="), std::string::npos) << detail;

  Judged ham = Judge(
      *engine, Letter("meeting agenda budget report schedule review draft\r\n", "project meeting"));
  ASSERT_TRUE(ham.signal("BAYES").has_value()) << ham.Describe();
  EXPECT_LT(*ham.signal("BAYES"), -1.0) << ham.Describe();
  EXPECT_EQ(ham.verdict.action, Action::kAccept);

  // The rules and the classifier add up.
  Judged both =
      Judge(*engine, Letter("jackpot casino winner bonus lottery zulu1\r\n", "casino jackpot"));
  EXPECT_NEAR(both.score(), 1 + *both.signal("BAYES"), 0.06) << both.Describe();

  // bayes_weight scales the signal.
  auto half = site.EngineWith(BayesKeys(Bayes().trained(), "    bayes_weight: 0.5\n"));
  Judged halved =
      Judge(*half, Letter("jackpot casino winner bonus lottery prize offer\r\n", "casino jackpot"));
  ASSERT_TRUE(halved.signal("BAYES").has_value());
  EXPECT_NEAR(*halved.signal("BAYES"), *spam.signal("BAYES") / 2, 0.011);
}

TEST(SpamCheck, MissingOrUntrainedStoreLeavesTheSignalOut) {
  ASSERT_TRUE(Bayes().Ready());
  SpamSite site;
  const std::string absent = site.dir().Path("absent.sqlite");
  auto engine = site.EngineWith(BayesKeys(absent));
  Judged j = Judge(*engine, Letter("jackpot casino zulu4 zulu1\r\n"));
  EXPECT_FALSE(j.signal("BAYES").has_value()) << j.Describe();
  EXPECT_NE(j.skipped("BAYES").find(absent), std::string::npos) << j.Describe();
  EXPECT_NE(j.skipped("BAYES").find("no classifier store"), std::string::npos) << j.Describe();
  // Judged on the rest.
  EXPECT_EQ(j.verdict.action, Action::kTag) << j.Describe();
  EXPECT_DOUBLE_EQ(j.score(), 5.0);
  EXPECT_EQ(j.verdict.findings.size(), 1u);

  auto untrained = site.EngineWith(BayesKeys(Bayes().untrained()));
  Judged u = Judge(*untrained, Letter("jackpot casino zulu4\r\n"));
  EXPECT_FALSE(u.signal("BAYES").has_value()) << u.Describe();
  EXPECT_EQ(u.skipped("BAYES"), "the store is not trained enough");
  EXPECT_DOUBLE_EQ(u.score(), 4.0);
}

TEST(SpamCheck, BayesScoreCurve) {
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(0), -2);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(0.1), -1);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(0.5), 0);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(0.9), 2);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(0.99), 5);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(0.999), 7);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(1), 8);
  // Straight lines between the points.
  EXPECT_NEAR(SpamCheck::BayesScore(0.05), -1.5, 1e-9);
  EXPECT_NEAR(SpamCheck::BayesScore(0.3), -0.5, 1e-9);
  EXPECT_NEAR(SpamCheck::BayesScore(0.7), 1, 1e-9);
  EXPECT_NEAR(SpamCheck::BayesScore(0.945), 3.5, 1e-9);
  EXPECT_NEAR(SpamCheck::BayesScore(0.9995), 7.5, 1e-9);
  // Outside 0..1: the ends.
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(-0.5), -2);
  EXPECT_DOUBLE_EQ(SpamCheck::BayesScore(1.5), 8);
  // Rising everywhere.
  for (double p = 0; p < 1; p += 0.001)
    EXPECT_LT(SpamCheck::BayesScore(p), SpamCheck::BayesScore(p + 0.001)) << p;
}

// ---- external scorers ----

TEST(SpamCheck, UnreachableExternalScorersAreSkipped) {
  SpamSite site;
  const std::string rspamd = "http://127.0.0.1:" + std::to_string(ClosedPort());
  const std::string spamd = "127.0.0.1:" + std::to_string(ClosedPort());
  auto engine = site.EngineWith("    rspamd_url: " + rspamd + "\n    spamd_address: " + spamd +
                                "\n    rspamd_timeout_ms: 2000\n    spamd_timeout_ms: 2000\n");
  Judged j = Judge(*engine, Letter("zulu4 zulu1\r\n"));
  // Judged on the rest; no failure finding, no tempfail.
  EXPECT_EQ(j.verdict.action, Action::kTag) << j.Describe();
  EXPECT_EQ(j.verdict.findings.size(), 1u) << j.Describe();
  EXPECT_DOUBLE_EQ(j.score(), 5.0);
  EXPECT_FALSE(j.signal("RSPAMD").has_value());
  EXPECT_FALSE(j.signal("SPAMD").has_value());
  EXPECT_NE(j.skipped("RSPAMD").find("connect"), std::string::npos) << j.Describe();
  EXPECT_NE(j.skipped("SPAMD").find("connect"), std::string::npos) << j.Describe();
}

// ---- configuration errors ----

TEST(SpamCheck, ThresholdsOutOfOrderAreRefused) {
  SpamSite site;
  std::string e = site.ErrorOf("    tag_score: 5\n    reject_score: 5\n");
  EXPECT_NE(e.find("rule 'spam'"), std::string::npos) << e;
  EXPECT_NE(e.find("reject_score must be above tag_score"), std::string::npos) << e;
  e = site.ErrorOf("    tag_score: 6.5\n    reject_score: 2\n");
  EXPECT_NE(e.find("reject_score must be above tag_score"), std::string::npos) << e;
  e = site.ErrorOf("    quarantine_score: 20\n");
  EXPECT_NE(e.find("quarantine_score must lie between tag_score and reject_score"),
            std::string::npos)
      << e;
  e = site.ErrorOf("    quarantine_score: 2.5\n");
  EXPECT_NE(e.find("quarantine_score must lie between"), std::string::npos) << e;
  // Decimals and negative scores are fine where they are in order.
  auto ordered =
      site.Build("    tag_score: -1.5\n    quarantine_score: 2.5\n    reject_score: 7.25\n");
  EXPECT_TRUE(ordered.ok()) << ordered.status().message();
}

TEST(SpamCheck, BrokenRulesFileIsRefusedWithItsPosition) {
  SpamSite site;
  std::string e = site.ErrorOf("",
                               "version: 1\nrules:\n  - name: T_BAD\n"
                               "    body: 'unclosed (paren'\n    score: 1\n");
  const std::string where = site.spam_rules_path() + ":4:";
  size_t at = e.find(where);
  ASSERT_NE(at, std::string::npos) << e;
  ASSERT_GT(e.size(), at + where.size());
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(e[at + where.size()]))) << e;

  e = site.ErrorOf("", std::string(kScoreRules) + "heuristics:\n  NOT_A_HEURISTIC: 1\n");
  EXPECT_NE(e.find("NOT_A_HEURISTIC"), std::string::npos) << e;
  EXPECT_NE(e.find(site.spam_rules_path()), std::string::npos) << e;

  e = site.ErrorOf("",
                   "version: 1\nrules:\n  - name: T_A\n    body: x\n    score: 1\n"
                   "  - name: T_M\n    meta: 'T_A && T_NOPE'\n    score: 1\n");
  EXPECT_NE(e.find(site.spam_rules_path() + ":7:"), std::string::npos) << e;
  EXPECT_NE(e.find("T_NOPE"), std::string::npos) << e;

  // A rules file that is not there.
  const std::string none = site.dir().Path("none.yaml");
  e = site.ErrorOf("    rules_file: " + none + "\n");
  EXPECT_NE(e.find(none), std::string::npos) << e;
}

// ---- the raw message ----

// A letter whose text is base64: "zebra stripes" decoded, its base64 only in the raw form.
std::string Base64Letter() {
  return "From: a@outside.example\r\nTo: user@site.example\r\nSubject: stripes\r\n"
         "Date: Mon, 3 Nov 2025 09:00:00 +0700\r\nMessage-ID: <b64@outside.example>\r\n"
         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\nemVicmEgc3RyaXBlcw==\r\n";
}

TEST(SpamCheck, RawRulesSeeTheMessageAsReceived) {
  SpamSite site;
  auto engine = site.EngineWith();
  EXPECT_EQ(engine->content_limits().keep_raw_bytes, 256u << 10);
  Judged j = Judge(*engine, Base64Letter());
  EXPECT_EQ(j.signals(), std::vector<std::string>{"T_RAW_BASE64"}) << j.Describe();
  EXPECT_EQ(j.spam->evidence["signals"][0]["detail"], "raw");
  EXPECT_EQ(j.verdict.action, Action::kTag) << j.Describe();
  // The body rule T_ZEBRA_TEXT (scored 0, so not listed) saw the decoded text; the base64
  // is not in it.
  EXPECT_NE(j.message->raw().find("emVicmEgc3RyaXBlcw==\n"), std::string::npos) << j.message->raw();
  EXPECT_EQ(j.message->raw().find('\r'), std::string::npos);

  // max_raw bounds what is kept.
  auto small = site.EngineWith("    max_raw: 64\n");
  EXPECT_EQ(small->content_limits().keep_raw_bytes, 64u);
  Judged cut = Judge(*small, Base64Letter());
  EXPECT_EQ(cut.message->raw().size(), 64u);
  EXPECT_TRUE(cut.message->raw_truncated());
  EXPECT_TRUE(cut.signals().empty()) << cut.Describe();

  // No spam rule: nothing kept.
  auto plain = Engine::Build(
      testing::ConfigWithRules("  - id: size\n    check: message_size\n    max_size: 1MiB\n"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->content_limits().keep_raw_bytes, 0u);
  EXPECT_EQ(ContentLimitsOf(*site.config()).keep_raw_bytes, 64u);
}

Message RawMessage(size_t keep) {
  ContentLimits limits;
  limits.keep_raw_bytes = keep;
  return Message(Envelope{}, limits);
}

TEST(SpamCheck, MessageRawKeepsCrlfAsLfAcrossChunks) {
  Message m = RawMessage(1000);
  m.AddHeader("Subject", "hi");
  m.AddHeader("X-Folded", "one\n\ttwo");
  m.AppendBody("one\r");
  m.AppendBody("\ntwo\r\nthree\rfour\r");
  m.AppendBody("five\r\n");
  m.AppendBody("a\r");
  m.AppendBody("\r");
  m.AppendBody("\nend\r\n");
  EXPECT_EQ(m.raw(),
            "Subject: hi\nX-Folded: one\n\ttwo\n\none\ntwo\nthree\rfour\rfive\na\r\nend\n");
  EXPECT_FALSE(m.raw_truncated());

  // Empty chunks change nothing, also between a CR and its LF.
  Message e = RawMessage(1000);
  e.AddHeader("Subject", "hi");
  e.AppendBody("x\r");
  e.AppendBody("");
  e.AppendBody("\ny\r\n");
  EXPECT_EQ(e.raw(), "Subject: hi\n\nx\ny\n");

  // Not asked for: nothing kept.
  Message none = RawMessage(0);
  none.AddHeader("Subject", "hi");
  none.AppendBody("body\r\n");
  EXPECT_EQ(none.raw(), "");
  EXPECT_FALSE(none.raw_truncated());
}

TEST(SpamCheck, MessageRawStopsAtTheLimit) {
  Message m = RawMessage(20);
  m.AddHeader("Subject", "hello");  // 15 bytes with its line end, then the empty line
  m.AppendBody("abcd\r\nefgh\r\n");
  EXPECT_EQ(m.raw(), "Subject: hello\n\nabcd");
  EXPECT_TRUE(m.raw_truncated());
  m.AppendBody("more\r\n");
  EXPECT_EQ(m.raw().size(), 20u);

  // Cut inside the header: the body adds nothing.
  Message h = RawMessage(10);
  h.AddHeader("Subject", "hello");
  h.AddHeader("To", "x@example.net");
  h.AppendBody("body\r\n");
  EXPECT_EQ(h.raw(), "Subject: h");
  EXPECT_TRUE(h.raw_truncated());

  // Filling the limit exactly is no cut.
  Message x = RawMessage(16);
  x.AddHeader("Subject", "hello");
  x.AppendBody("");
  EXPECT_EQ(x.raw(), "Subject: hello\n\n");
  EXPECT_FALSE(x.raw_truncated());
}

// ---- threads ----

TEST(SpamCheck, SameScoresFromFourThreads) {
  ASSERT_TRUE(Bayes().Ready());
  SpamSite site;
  auto engine = site.EngineWith(BayesKeys(Bayes().trained()), RulesWithLongNames());
  std::vector<std::string> messages = {
      Letter("jackpot casino winner bonus lottery zulu1\r\n", "casino jackpot"),
      Letter("meeting agenda budget report zulu4\r\n", "project meeting"),
      Letter("longnames zulu4 zulu1 prize offer\r\n"),
      Letter("zulu8 zulu4 zulu2 zulu1 discount\r\n"),
      Base64Letter(),
      "From: a@outside.example\r\nSubject: NO DATE AND ALL CAPITALS HERE\r\n\r\nzulu2\r\n",
  };
  std::vector<std::string> expected;
  for (const std::string& m : messages) {
    Judged j = Judge(*engine, m);
    ASSERT_NE(j.spam, nullptr);
    expected.push_back(j.spam->evidence.dump() + " " + std::string(ActionName(j.verdict.action)));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 25; ++round) {
        for (size_t i = 0; i < messages.size(); ++i) {
          size_t k = (i + t) % messages.size();
          Judged j = Judge(*engine, messages[k]);
          std::string got = j.spam == nullptr ? "none"
                                              : j.spam->evidence.dump() + " " +
                                                    std::string(ActionName(j.verdict.action));
          if (got != expected[k]) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace mailwarden

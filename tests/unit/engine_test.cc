#include "milter/engine.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "milter/eml_reader.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

std::shared_ptr<const Engine> EngineWith(const std::string& rules, const std::string& extra = "") {
  auto engine = Engine::Build(testing::ConfigWithRules(rules, extra));
  EXPECT_TRUE(engine.ok());
  return *engine;
}

constexpr const char* kSizeRule =
    "  - id: message-size\n    check: message_size\n    max_size: 1KiB\n";

Message MessageOfSize(size_t body_bytes) {
  Envelope env;
  env.mail_from = "a@example.net";
  env.recipients = {"b@bacgiang.gov.vn"};
  Message m(env);
  m.AddHeader("Subject", "test");
  m.AppendBody(std::string(body_bytes, 'x'));
  return m;
}

TEST(Engine, RefusesAnnouncedSizeAtMailFrom) {
  auto engine = EngineWith(kSizeRule);
  Envelope env;
  env.announced_size = 5000;
  Verdict v = engine->AtMailFrom(env);
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.smtp_code, 552);
  EXPECT_EQ(v.enhanced_code, "5.3.4");
  EXPECT_NE(v.text.find("message-size"), std::string::npos);
  EXPECT_EQ(v.ReplyLine().substr(0, 10), "552 5.3.4 ");
  env.announced_size = 1000;
  EXPECT_EQ(engine->AtMailFrom(env).action, Action::kAccept);
  env.announced_size.reset();
  EXPECT_EQ(engine->AtMailFrom(env).action, Action::kAccept);
}

TEST(Engine, RefusesRealSizeAtEndOfMessage) {
  auto engine = EngineWith(kSizeRule);
  Message small = MessageOfSize(100);
  Verdict ok = engine->AtEndOfMessage(small);
  EXPECT_EQ(ok.action, Action::kAccept);
  EXPECT_TRUE(ok.add_headers.empty());  // clean mail goes on unchanged by default
  Message big = MessageOfSize(2000);
  Verdict v = engine->AtEndOfMessage(big);
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.smtp_code, 552);
  ASSERT_NE(v.deciding, nullptr);
  EXPECT_EQ(v.deciding->evidence["size"], big.size());
  EXPECT_TRUE(v.add_headers.empty());
}

TEST(Engine, VerdictHeaderOnAcceptedMailWhenAsked) {
  auto engine = EngineWith(kSizeRule, "milter:\n  verdict_header_on_accept: true\n");
  Message small = MessageOfSize(100);
  Verdict ok = engine->AtEndOfMessage(small);
  EXPECT_EQ(ok.action, Action::kAccept);
  ASSERT_EQ(ok.add_headers.size(), 1u);
  EXPECT_EQ(ok.add_headers[0].name, "X-Mailwarden");
  EXPECT_EQ(ok.add_headers[0].value.rfind("accept (", 0), 0u) << ok.add_headers[0].value;
}

TEST(Engine, ReplyTextOverrideAndTagAction) {
  auto engine = EngineWith(
      "  - id: big\n    check: message_size\n    max_size: 10\n    action: tag\n"
      "    reply: \"too large for us\"\n");
  Message m = MessageOfSize(100);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.action, Action::kTag);
  ASSERT_EQ(v.add_headers.size(), 1u);
  EXPECT_NE(v.add_headers[0].value.find("rules=big"), std::string::npos);
  EXPECT_EQ(v.deciding->reason, "too large for us");
}

TEST(Engine, StrongestActionWinsAndEveryFindingIsKept) {
  auto engine = EngineWith(
      "  - id: soft\n    check: message_size\n    max_size: 10\n    action: quarantine\n"
      "  - id: hard\n    check: message_size\n    max_size: 20\n    action: reject\n");
  Message m = MessageOfSize(100);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.deciding->rule_id, "hard");
  EXPECT_EQ(v.findings.size(), 2u);
  nlohmann::json record = engine->DecisionRecord(m, v, Stage::kEndOfMessage);
  EXPECT_EQ(record["rule"]["id"], "hard");
  EXPECT_EQ(record["event"]["action"], "reject");
  EXPECT_EQ(record["mailwarden"]["findings"].size(), 2u);
  EXPECT_EQ(record["mailwarden"]["stage"], "eom");
  EXPECT_EQ(record["mailwarden"]["reply"].get<std::string>().substr(0, 3), "552");
}

TEST(Engine, QuarantineCarriesAReason) {
  auto engine = EngineWith(
      "  - id: hold\n    check: message_size\n    max_size: 10\n    action: quarantine\n");
  Message m = MessageOfSize(100);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.action, Action::kQuarantine);
  EXPECT_NE(v.text.find("hold"), std::string::npos);
  EXPECT_TRUE(v.ReplyLine().empty());
}

// A check that fails the way a broken scanner or a bug would.
class FailingCheck : public Check {
 public:
  FailingCheck(const RuleSpec& rule, Status status, bool throws)
      : Check(rule), status_(std::move(status)), throws_(throws) {}
  Status Inspect(const Message&, std::vector<Finding>*) const override {
    if (throws_) throw std::runtime_error("boom");
    return status_;
  }

 private:
  Status status_;
  bool throws_;
};

std::shared_ptr<const Engine> FailingEngine(const std::string& milter_options, Status status,
                                            bool throws = false) {
  auto config = testing::ConfigWithRules("", "milter:\n" + milter_options);
  RuleSpec rule;
  rule.id = "flaky";
  std::vector<std::unique_ptr<Check>> checks;
  checks.push_back(std::make_unique<FailingCheck>(rule, std::move(status), throws));
  return Engine::FromChecks(config, std::move(checks));
}

TEST(Engine, FailingCheckTempfailsByDefault) {
  auto engine = FailingEngine("  on_timeout: tempfail\n", Status::Unavailable("scanner down"));
  Message m = MessageOfSize(10);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.action, Action::kTempfail);
  EXPECT_EQ(v.smtp_code, 451);
  EXPECT_EQ(v.enhanced_code, "4.3.0");
  EXPECT_EQ(v.deciding->rule_id, "flaky");
  EXPECT_EQ(v.deciding->check, "on_internal_error");
}

TEST(Engine, ExceptionInACheckIsAnInternalError) {
  auto engine = FailingEngine("  on_internal_error: reject\n", Status::Ok(), /*throws=*/true);
  Message m = MessageOfSize(10);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.smtp_code, 550);
  EXPECT_NE(v.deciding->evidence["error"].get<std::string>().find("boom"), std::string::npos);
}

TEST(Engine, TimeoutUsesItsOwnFailureModeAndFailOpenIsLogged) {
  auto engine = FailingEngine("  on_timeout: accept\n", Status::Timeout("slow"));
  Message m = MessageOfSize(10);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.action, Action::kAccept);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].check, "on_timeout");
  EXPECT_TRUE(v.findings[0].evidence["fail_open"].get<bool>());
  EXPECT_TRUE(engine->ShouldLog(v));
}

TEST(Engine, ReplyTextIsOneCleanLine) {
  auto engine = EngineWith(
      "  - id: x\n    check: message_size\n    max_size: 10\n    reply: \"100% bad\\r\\nInjected: "
      "yes\"\n");
  Message m = MessageOfSize(100);
  Verdict v = engine->AtEndOfMessage(m);
  EXPECT_EQ(v.text.find('\n'), std::string::npos);
  EXPECT_EQ(v.text.find('%'), std::string::npos);
}

TEST(Engine, ScopedRulesApplyOnlyWhereTheySay) {
  // Size limit for inbound mail only, except from one sender and one network.
  auto engine = EngineWith(
      "  - id: inbound-size\n    check: message_size\n    max_size: 10\n"
      "    when: { direction: [inbound] }\n"
      "    except: { senders: [boss@partner.example], client_networks: [192.0.2.0/24] }\n",
      "domains:\n  internal: [bacgiang.gov.vn]\n");
  auto verdict_for = [&](const std::string& from, const std::string& to, const std::string& ip) {
    Envelope env;
    env.mail_from = from;
    env.recipients = {to};
    env.client_addr = ip;
    Message m(env);
    m.AppendBody(std::string(100, 'x'));
    return engine->AtEndOfMessage(m).action;
  };
  EXPECT_EQ(verdict_for("x@gmail.com", "a@bacgiang.gov.vn", "203.0.113.5"), Action::kReject);
  EXPECT_EQ(verdict_for("a@bacgiang.gov.vn", "x@gmail.com", "203.0.113.5"), Action::kAccept);
  EXPECT_EQ(verdict_for("boss@partner.example", "a@bacgiang.gov.vn", "203.0.113.5"),
            Action::kAccept);
  EXPECT_EQ(verdict_for("x@gmail.com", "a@bacgiang.gov.vn", "192.0.2.9"), Action::kAccept);
  // At MAIL FROM the direction is unknown: the scoped rule waits for end of message.
  Envelope early;
  early.mail_from = "x@gmail.com";
  early.announced_size = 5000;
  EXPECT_EQ(engine->AtMailFrom(early).action, Action::kAccept);
}

}  // namespace
}  // namespace mailwarden

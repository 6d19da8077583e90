#include "milter/engine.h"

#include <unistd.h>

#include <exception>

#include "common/decision_log.h"
#include "common/log.h"

namespace mailwarden {
namespace {

// SMTP replies longer than this are cut: RFC 5321 allows 512 octets per reply line.
constexpr size_t kMaxReplyText = 400;

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

std::string_view StageName(Stage stage) { return stage == Stage::kMailFrom ? "mail_from" : "eom"; }

std::string Verdict::ReplyLine() const {
  if (action != Action::kReject && action != Action::kTempfail) return "";
  return std::to_string(smtp_code) + " " + enhanced_code + " " + text;
}

Result<std::shared_ptr<const Engine>> Engine::Assemble(std::shared_ptr<const Config> config,
                                                       std::vector<std::unique_ptr<Check>> checks,
                                                       std::vector<const RuleSpec*> rules) {
  auto locality = Locality::Build(*config);
  if (!locality.ok()) return locality.status();
  std::shared_ptr<Engine> engine(new Engine(config, std::move(locality).value()));
  for (size_t i = 0; i < checks.size(); ++i) {
    RuleScope scope;
    if (i < rules.size()) {
      auto built = RuleScope::Build(*rules[i]);
      if (!built.ok()) {
        return Status::InvalidArgument(rules[i]->where.ToString() + ": " +
                                       built.status().message());
      }
      scope = std::move(built).value();
    }
    engine->checks_.push_back({std::move(checks[i]), std::move(scope)});
  }
  return std::shared_ptr<const Engine>(std::move(engine));
}

Result<std::shared_ptr<const Engine>> Engine::Build(std::shared_ptr<const Config> config) {
  std::vector<const RuleSpec*> rules = config->RulesFor(CheckHost::kMilter);
  std::vector<std::unique_ptr<Check>> checks;
  for (const RuleSpec* rule : rules) {
    auto check = MakeCheck(*rule);
    if (!check.ok()) return check.status();
    checks.push_back(std::move(check).value());
  }
  return Assemble(std::move(config), std::move(checks), std::move(rules));
}

std::shared_ptr<const Engine> Engine::FromChecks(std::shared_ptr<const Config> config,
                                                 std::vector<std::unique_ptr<Check>> checks) {
  auto engine = Assemble(std::move(config), std::move(checks), {});
  return engine.ok() ? *engine : nullptr;
}

Direction Engine::DirectionOf(const Envelope& envelope) const {
  return locality_.Classify(ScopeOf(envelope));
}

Finding Engine::FailureFinding(const Check& check, const Status& status) const {
  bool timeout = status.code() == Status::Code::kTimeout;
  Finding f;
  f.rule_id = check.rule_id();
  f.check = timeout ? "on_timeout" : "on_internal_error";
  f.action = timeout ? config_->milter.on_timeout : config_->milter.on_internal_error;
  if (f.action == Action::kReject) {
    f.smtp_code = 550;
    f.enhanced_code = "5.3.0";
    f.reason = "message could not be checked";
  } else {
    f.smtp_code = 451;
    f.enhanced_code = "4.3.0";
    f.reason = "temporary failure while checking the message, try again later";
  }
  f.evidence = {{"error", status.ToString()}, {"fail_open", f.action == Action::kAccept}};
  LogError("rule " + check.rule_id() + " failed: " + status.ToString() + " -> " +
           std::string(ActionName(f.action)));
  return f;
}

Verdict Engine::Decide(std::vector<Finding> findings) const {
  Verdict v;
  v.findings = std::move(findings);
  for (const Finding& f : v.findings) {
    if (v.deciding == nullptr || f.action > v.deciding->action) v.deciding = &f;
  }
  if (v.deciding == nullptr) return v;
  const Finding& d = *v.deciding;
  v.action = d.action;
  if (v.action == Action::kReject || v.action == Action::kTempfail) {
    v.smtp_code = d.smtp_code;
    v.enhanced_code = d.enhanced_code;
    // A tempfail must carry a 4xx code whatever the finding said, and a reject a 5xx.
    if (v.action == Action::kTempfail && v.smtp_code / 100 != 4) {
      v.smtp_code = 451;
      v.enhanced_code = "4" + (v.enhanced_code.size() > 1 ? v.enhanced_code.substr(1) : ".7.1");
    } else if (v.action == Action::kReject && v.smtp_code / 100 != 5) {
      v.smtp_code = 550;
      v.enhanced_code = "5" + (v.enhanced_code.size() > 1 ? v.enhanced_code.substr(1) : ".7.1");
    }
    std::string text = d.reason.substr(0, kMaxReplyText);
    for (char& c : text) {
      if (c == '\r' || c == '\n' || c == '%') c = ' ';  // keep the reply one clean line
    }
    v.text = text + " (mailwarden rule " + d.rule_id + ")";
  } else if (v.action == Action::kQuarantine) {
    v.text = "mailwarden rule " + d.rule_id + ": " + d.reason;
  }
  return v;
}

Verdict Engine::AtMailFrom(const Envelope& envelope) const {
  std::vector<Finding> findings;
  ScopeInput in = ScopeOf(envelope);
  Direction direction = locality_.Classify(in);
  for (const auto& [check, scope] : checks_) {
    // A rule scoped by direction or recipients cannot be judged before RCPT: it decides
    // at end of message.
    if (scope.needs_recipients() || !scope.Applies(in, direction)) continue;
    Status s;
    try {
      s = check->OnMailFrom(envelope, &findings);
    } catch (const std::exception& e) {
      s = Status::Internal(e.what());
    }
    if (!s.ok()) findings.push_back(FailureFinding(*check, s));
  }
  return Decide(std::move(findings));
}

Verdict Engine::AtEndOfMessage(const Message& message) const {
  std::vector<Finding> findings;
  ScopeInput in = ScopeOf(message.envelope());
  Direction direction = locality_.Classify(in);
  for (const auto& [check, scope] : checks_) {
    if (!scope.Applies(in, direction)) continue;
    Status s;
    try {
      s = check->Inspect(message, &findings);
    } catch (const std::exception& e) {
      s = Status::Internal(e.what());
    }
    if (!s.ok()) findings.push_back(FailureFinding(*check, s));
  }
  Verdict v = Decide(std::move(findings));
  if (v.action == Action::kTag || v.action == Action::kQuarantine || v.action == Action::kAccept) {
    std::string rules;
    for (const Finding& f : v.findings) {
      if (f.action != Action::kAccept) rules += (rules.empty() ? "" : ",") + f.rule_id;
    }
    if (!config_->milter.verdict_header.empty()) {
      static const std::string kHost = Hostname();
      std::string value = std::string(ActionName(v.action)) + " (" + kHost + ")";
      if (!rules.empty()) value += " rules=" + rules;
      v.add_headers.push_back({config_->milter.verdict_header, value});
    }
  }
  return v;
}

bool Engine::ShouldLog(const Verdict& verdict) const {
  return verdict.action != Action::kAccept || config_->log.log_accepted;
}

nlohmann::json Engine::DecisionRecord(const Message& message, const Verdict& verdict,
                                      Stage stage) const {
  const Envelope& env = message.envelope();
  nlohmann::json r = NewDecisionRecord("milter");
  auto& event = r["event"];
  event["action"] = ActionName(verdict.action);
  event["category"] = nlohmann::json::array({"email"});
  event["type"] = nlohmann::json::array(
      {verdict.action == Action::kReject || verdict.action == Action::kTempfail ? "denied"
                                                                                : "allowed"});
  event["outcome"] = "success";
  if (verdict.deciding != nullptr) {
    event["reason"] = verdict.deciding->reason;
    r["rule"] = {{"id", verdict.deciding->rule_id}, {"name", verdict.deciding->check}};
  }
  nlohmann::json email;
  if (!env.queue_id.empty()) email["local_id"] = env.queue_id;
  if (const HeaderField* mid = message.FindHeader("Message-ID")) email["message_id"] = mid->value;
  if (config_->log.include_subject) {
    if (const HeaderField* subj = message.FindHeader("Subject")) email["subject"] = subj->value;
  }
  email["from"]["address"] = env.mail_from;
  email["to"]["address"] = env.recipients;
  // Before RCPT (a refusal at MAIL FROM) there are no recipients to judge a direction by.
  if (!env.recipients.empty()) {
    email["direction"] = DirectionName(DirectionOf(env));
  }
  r["email"] = std::move(email);
  if (!env.client_addr.empty()) r["source"]["ip"] = env.client_addr;
  // "[192.0.2.1]" is how the MTA says the address has no name.
  if (!env.client_name.empty() && env.client_name.front() != '[') {
    r["source"]["domain"] = env.client_name;
  }
  if (!env.auth_user.empty()) r["user"]["name"] = env.auth_user;
  nlohmann::json mw;
  mw["stage"] = StageName(stage);
  mw["smtp"] = env.smtp;
  if (stage == Stage::kEndOfMessage) mw["size"] = message.size();
  if (env.announced_size) mw["announced_size"] = *env.announced_size;
  std::string reply = verdict.ReplyLine();
  if (!reply.empty()) mw["reply"] = reply;
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : verdict.findings) {
    findings.push_back(FindingRecord(f.rule_id, f.check, f.action, f.reason, f.evidence));
  }
  mw["findings"] = std::move(findings);
  r["mailwarden"] = std::move(mw);
  return r;
}

}  // namespace mailwarden

// Evaluates policy requests against the policyd rules of one configuration.
//
// Distrusts the request's values (they come from the SMTP client through Postfix): they
// are only compared and copied into the decision log, never into a reply, so a hostile
// sender address cannot inject text into what Postfix sees. Reply text comes from the
// rule (its id and the admin's `reply`) and is cleaned to one printable line.
#include "policyd/policy_rules.h"

#include <chrono>
#include <exception>
#include <sstream>

#include "common/address_list.h"
#include "common/decision_log.h"
#include "common/log.h"
#include "policyd/checks/account_check.h"
#include "policyd/checks/account_state.h"
#include "policyd/checks/mailbox_quota.h"
#include "policyd/checks/password_age.h"
#include "policyd/checks/rate_limit.h"

namespace mailwarden {
namespace {

// Reply text longer than this is cut: RFC 5321 allows 512 octets per reply line, and
// Postfix adds the code and " (mailwarden rule <id>)" to it.
constexpr size_t kMaxReplyText = 400;
constexpr char kHeaderName[] = "X-Mailwarden-Policy";

// One printable line: control characters become spaces, the text is capped.
std::string CleanText(std::string_view text) {
  std::string out(text.substr(0, kMaxReplyText));
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  size_t end = out.find_last_not_of(' ');
  out.erase(end == std::string::npos ? 0 : end + 1);
  return out;
}

class SenderBlocklistCheck : public PolicyCheck {
 public:
  SenderBlocklistCheck(const RuleSpec& rule, AddressList senders)
      : PolicyCheck(rule), senders_(std::move(senders)) {}

  Status Evaluate(const PolicyRequest& request, std::vector<PolicyFinding>* out) const override {
    std::optional<std::string> entry = senders_.Match(request.sender());
    if (entry) {
      out->push_back(MakeFinding("5.7.1", "sender blocked by policy", {{"matched", *entry}}));
    }
    return Status::Ok();
  }

 private:
  AddressList senders_;
};

// The checks that read the account directory.
bool IsAccountCheck(std::string_view check) {
  return check == "account_state" || check == "mailbox_quota" || check == "password_age";
}

int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- PolicyCheck -------------------------------------------------------------------------

PolicyFinding PolicyCheck::MakeFinding(std::string enhanced_code, std::string reason,
                                       nlohmann::json evidence) const {
  PolicyFinding f;
  f.rule_id = rule_id_;
  f.check = check_;
  f.action = action_;
  f.enhanced_code = std::move(enhanced_code);
  if (reply_.empty()) {
    f.reason = std::move(reason);
  } else {
    f.reason = reply_;
  }
  f.evidence = std::move(evidence);
  return f;
}

// ---- PolicyRules -------------------------------------------------------------------------

bool PolicyRules::NeedsRateCounters(const Config& config) {
  for (const RuleSpec* rule : config.RulesFor(CheckHost::kPolicyd)) {
    if (rule->check == "rate_limit") return true;
  }
  return false;
}

bool PolicyRules::NeedsAccountDirectory(const Config& config) {
  for (const RuleSpec* rule : config.RulesFor(CheckHost::kPolicyd)) {
    if (IsAccountCheck(rule->check)) return true;
  }
  return false;
}

Result<std::shared_ptr<const PolicyRules>> PolicyRules::Build(std::shared_ptr<const Config> config,
                                                              PolicyServices services) {
  auto locality = Locality::Build(*config);
  if (!locality.ok()) return locality.status();
  std::shared_ptr<PolicyRules> rules(new PolicyRules(std::move(config), *locality));
  rules->accounts_ = services.accounts;
  std::shared_ptr<const AccountContext> account_context;
  if (NeedsAccountDirectory(*rules->config_)) {
    auto context = std::make_shared<AccountContext>();
    context->directory = services.accounts;
    context->now = services.clock ? services.clock : SystemNow;
    context->options = AccountsOptions::FromConfig(*rules->config_);
    if (context->options.cache_ms > 0) {
      context->accounts = std::make_unique<LookupCache<CachedAccount>>(context->options.cache_ms);
      context->usage = std::make_unique<LookupCache<MailboxUsage>>(context->options.cache_ms);
    }
    context->locality = std::move(locality).value();
    account_context = std::move(context);
  }
  rules->rate_counters_ = services.rate_counters;
  std::shared_ptr<const RateLimitContext> rate_context;
  if (NeedsRateCounters(*rules->config_)) {
    auto context = std::make_shared<RateLimitContext>();
    context->store = services.rate_counters;
    context->now = services.clock ? services.clock : SystemNow;
    context->on_unavailable = rules->config_->value("rate_limits.on_unavailable").action;
    context->cache = std::make_unique<LookupCache<RateLimitContext::Totals>>(
        rules->config_->value("rate_limits.cache_ms").number);
    rate_context = std::move(context);
  }
  std::string errors;
  // `prefix` goes before each line of `message` (e.g. the key it is about).
  auto add_error = [&](const RuleSpec& rule, const std::string& prefix,
                       const std::string& message) {
    std::istringstream lines(message);
    for (std::string line; std::getline(lines, line);) {
      if (!errors.empty()) errors += "\n";
      errors += rule.where.ToString() + ": rule '" + rule.id + "': " + prefix + line;
    }
  };
  for (const RuleSpec* rule : rules->config_->RulesFor(CheckHost::kPolicyd)) {
    auto scope = RuleScope::Build(*rule);
    if (!scope.ok()) {
      add_error(*rule, "", scope.status().message());
      continue;
    }
    if (rule->check == "sender_blocklist") {
      // LoadConfig has checked every entry (kAddressList); this only guards the invariant.
      auto senders = AddressList::Parse(rule->param("senders").list);
      if (!senders.ok()) {
        add_error(*rule, "senders: ", senders.status().message());
        continue;
      }
      rules->checks_.push_back(
          {std::make_unique<SenderBlocklistCheck>(*rule, std::move(senders).value()),
           std::move(scope).value()});
    } else if (rule->check == "account_state") {
      rules->checks_.push_back(
          {std::make_unique<AccountStateCheck>(*rule, account_context), std::move(scope).value()});
    } else if (rule->check == "mailbox_quota") {
      rules->checks_.push_back(
          {std::make_unique<MailboxQuotaCheck>(*rule, account_context), std::move(scope).value()});
    } else if (rule->check == "rate_limit") {
      auto limits = RateLimitCheck::LimitsOf(*rule);
      if (!limits.ok()) {
        add_error(*rule, "", limits.status().message());
        continue;
      }
      rules->checks_.push_back({std::make_unique<RateLimitCheck>(*rule, *limits, rate_context),
                                std::move(scope).value()});
    } else if (rule->check == "password_age") {
      rules->checks_.push_back(
          {std::make_unique<PasswordAgeCheck>(*rule, account_context), std::move(scope).value()});
    } else {
      add_error(*rule, "", "check '" + rule->check + "' is not implemented by mailwarden-policyd");
    }
  }
  if (!errors.empty()) return Status::InvalidArgument(errors);
  return std::shared_ptr<const PolicyRules>(std::move(rules));
}

PolicyFinding FailureModeFinding(Action mode, const FailureTexts& texts) {
  PolicyFinding f;
  switch (mode) {
    case Action::kReject:
      f.action = Action::kReject;
      f.enhanced_code = "5.3.0";
      f.reason = std::string(texts.reject);
      break;
    case Action::kAccept:
      f.action = Action::kAccept;
      f.reason = std::string(texts.accept);
      break;
    default:
      f.action = Action::kTempfail;
      f.enhanced_code = "4.3.0";
      f.reason = std::string(texts.tempfail);
      break;
  }
  return f;
}

PolicyFinding PolicyRules::FailureFinding(std::string_view rule_id, std::string_view what) const {
  PolicyFinding f = FailureModeFinding(
      config_->policyd.on_internal_error,
      {"policy check failed", "policy check failed; accepted as policyd.on_internal_error says",
       "temporary failure in the policy check, try again later"});
  f.rule_id = std::string(rule_id);
  f.check = "on_internal_error";
  f.evidence = {{"error", std::string(what)}, {"fail_open", f.action == Action::kAccept}};
  LogError("policy rule " + (rule_id.empty() ? std::string("(none)") : f.rule_id) +
           " failed: " + std::string(what) + " -> " + std::string(ActionName(f.action)));
  return f;
}

PolicyDecision PolicyRules::Decide(std::vector<PolicyFinding> findings,
                                   std::string_view stage) const {
  PolicyDecision d;
  d.findings = std::move(findings);
  for (size_t i = 0; i < d.findings.size(); ++i) {
    if (d.findings[i].check == "on_internal_error") d.internal_error = true;
    if (!d.deciding || d.findings[i].action > d.findings[*d.deciding].action) d.deciding = i;
  }
  if (!d.deciding) return d;
  const PolicyFinding& f = d.findings[*d.deciding];
  d.action = f.action;
  std::string text = CleanText(f.reason);
  std::string tail = f.rule_id.empty() ? "(mailwarden)" : "(mailwarden rule " + f.rule_id + ")";
  // The class digit must agree with the action whatever the check wrote.
  auto code = [&](char klass) {
    std::string detail = f.enhanced_code.size() > 1 ? f.enhanced_code.substr(1) : ".7.1";
    return klass + detail;
  };
  // The finding's own basic code in class `klass`: 552 -> "452" for a tempfail.
  auto basic = [&](char klass) {
    int detail = f.reply_code % 100;
    return std::string(1, klass) + static_cast<char>('0' + detail / 10) +
           static_cast<char>('0' + detail % 10);
  };
  switch (f.action) {
    case Action::kReject:
      // A numeric reply, not REJECT: REJECT would answer $access_map_reject_code (554 by
      // default), while 550 is RFC 5321's code for a refusal by policy at RCPT.
      d.reply = (f.reply_code > 0 ? basic('5') : std::string("550")) + " " + code('5') + " " +
                text + " " + tail;
      break;
    case Action::kTempfail:
      // 450 4.x.x unless a later restriction rejects for good: a message that will be
      // refused anyway is not retried in vain. A finding with its own code (452 4.2.2)
      // is answered with it: DEFER_IF_PERMIT always says $access_map_defer_code.
      d.reply = (f.reply_code > 0 ? basic('4') : std::string("DEFER_IF_PERMIT")) + " " + code('4') +
                " " + text + " " + tail;
      break;
    case Action::kQuarantine:
      d.reply = "HOLD " + text + " " + tail;
      break;
    case Action::kTag:
      // Postfix cannot prepend a header once the content is in (access(5), PREPEND).
      if (stage != "end-of-message") {
        d.reply = f.header.empty() ? std::string("PREPEND ") + kHeaderName + ": tag " + tail
                                   : "PREPEND " + CleanText(f.header) + " " + tail;
      }
      break;
    case Action::kAccept:
      break;
  }
  return d;
}

PolicyDecision PolicyRules::Evaluate(const PolicyRequest& request) const {
  try {
    std::vector<PolicyFinding> findings;
    // Postfix asks about one recipient at a time; the scope sees that one.
    std::string recipient(request.recipient());
    ScopeInput in;
    in.sender = request.sender();
    if (!recipient.empty()) in.recipients = std::span<const std::string>(&recipient, 1);
    in.authenticated = !request.sasl_username().empty();
    in.client_address = request.client_address();
    Direction direction = locality_.Classify(in);
    std::vector<const PolicyCheck*> applied;
    for (const auto& [check, scope] : checks_) {
      if (!scope.Applies(in, direction)) continue;
      applied.push_back(check.get());
      Status s;
      try {
        s = check->Evaluate(request, &findings);
      } catch (const std::exception& e) {
        s = Status::Internal(e.what());
      }
      if (!s.ok()) findings.push_back(FailureFinding(check->rule_id(), s.ToString()));
    }
    PolicyDecision decision = Decide(std::move(findings), request.Stage());
    for (const PolicyCheck* check : applied) Observe(*check, request, &decision);
    return decision;
  } catch (const std::exception& e) {
    return InternalError("", e.what());
  }
}

bool PolicyRules::AnswersFromMemory(const PolicyRequest& request) const {
  try {
    for (const auto& scoped : checks_) {
      if (!scoped.check->AnswersFromMemory(request)) return false;
    }
    return true;
  } catch (const std::exception&) {
    return false;  // Evaluate() in the pool answers as on_internal_error says
  }
}

void PolicyRules::Observe(const PolicyCheck& check, const PolicyRequest& request,
                          PolicyDecision* decision) {
  Status s;
  try {
    s = check.Observe(request, *decision);
  } catch (const std::exception& e) {
    s = Status::Internal(e.what());
  }
  if (s.ok()) return;
  // The answer stands; the log says what was missed.
  LogError("policy rule " + check.rule_id() + ": " + s.ToString());
  PolicyFinding f;
  f.rule_id = check.rule_id();
  f.check = check.check();
  f.reason = "not recorded: " + s.message();
  f.evidence = {{"error", s.ToString()}};
  decision->findings.push_back(std::move(f));
}

PolicyDecision PolicyRules::InternalError(std::string_view rule_id, std::string_view what) const {
  std::vector<PolicyFinding> findings;
  findings.push_back(FailureFinding(rule_id, what));
  return Decide(std::move(findings), "");
}

bool PolicyRules::ShouldLog(const PolicyDecision& decision, bool all) {
  return all || !decision.IsDunno() || !decision.findings.empty();
}

nlohmann::json PolicyRules::DecisionRecord(const PolicyRequest& request,
                                           const PolicyDecision& decision) const {
  nlohmann::json r = NewDecisionRecord("policyd");
  auto& event = r["event"];
  bool refused = decision.action == Action::kReject || decision.action == Action::kTempfail;
  event["action"] = ActionName(decision.action);
  event["category"] = nlohmann::json::array({"email"});
  event["type"] = nlohmann::json::array({refused ? "denied" : "allowed"});
  event["outcome"] = "success";
  if (const PolicyFinding* f = decision.deciding_finding()) {
    event["reason"] = f->reason;
    r["rule"] = {{"id", f->rule_id}, {"name", f->check}};
  }
  nlohmann::json email;
  if (!request.queue_id().empty()) email["local_id"] = request.queue_id();
  email["from"]["address"] = request.sender();  // "" is the null sender
  nlohmann::json to = nlohmann::json::array();
  if (!request.recipient().empty()) to.push_back(request.recipient());
  email["to"]["address"] = std::move(to);
  r["email"] = std::move(email);
  if (!request.client_address().empty()) r["source"]["ip"] = request.client_address();
  if (!request.client_name().empty() && request.client_name() != "unknown") {
    r["source"]["domain"] = request.client_name();
  }
  if (!request.sasl_username().empty()) r["user"]["name"] = request.sasl_username();
  nlohmann::json mw;
  mw["stage"] = request.Stage();
  mw["reply"] = decision.reply;
  if (!request.instance().empty()) mw["instance"] = request.instance();
  if (auto size = request.size(); size && *size > 0) mw["size"] = *size;
  nlohmann::json findings = nlohmann::json::array();
  for (const PolicyFinding& f : decision.findings) {
    findings.push_back(FindingRecord(f.rule_id, f.check, f.action, f.reason, f.evidence));
  }
  mw["findings"] = std::move(findings);
  r["mailwarden"] = std::move(mw);
  return r;
}

}  // namespace mailwarden

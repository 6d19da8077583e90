// The rate_limit check (see the header).
//
// Distrusts the request's identities (a SASL login or an address the client chose): they
// are lower-cased, cut to kMaxIdentity bytes and only ever bound into the store's
// queries and copied into the decision log, never into a reply. Numbers (size,
// recipient_count) are Postfix's; absent ones count as 0 (a message as 1 recipient).
#include "policyd/checks/rate_limit.h"

#include <chrono>

#include "common/ascii.h"
#include "common/log.h"
#include "common/units.h"

namespace mailwarden {
namespace {

std::string_view KeyName(RateLimitCheck::KeyKind kind) {
  switch (kind) {
    case RateLimitCheck::KeyKind::kSender:
      return "sender";
    case RateLimitCheck::KeyKind::kClientAddress:
      return "client_address";
    case RateLimitCheck::KeyKind::kSaslUsername:
      break;
  }
  return "sasl_username";
}

nlohmann::json UsageJson(const RateUsage& u) {
  return {{"messages", u.messages}, {"recipients", u.recipients}, {"bytes", u.bytes}};
}

bool Refuses(const PolicyDecision& decision) {
  return decision.action == Action::kReject || decision.action == Action::kTempfail;
}

}  // namespace

Result<RateLimitCheck::Limits> RateLimitCheck::LimitsOf(const RuleSpec& rule) {
  Limits l;
  const std::string& key = rule.param("key").text;
  if (key == "sasl_username") {
    l.key = KeyKind::kSaslUsername;
  } else if (key == "sender") {
    l.key = KeyKind::kSender;
  } else if (key == "client_address") {
    l.key = KeyKind::kClientAddress;
  } else {
    return Status::InvalidArgument("key: '" + key +
                                   "' is not one of sasl_username, sender, client_address");
  }
  l.window.seconds = rule.param("window").number;
  l.max_messages = rule.param("max_messages").number;
  l.max_recipients = rule.param("max_recipients").number;
  l.max_bytes = rule.param("max_bytes").number;
  if (l.max_messages == 0 && l.max_recipients == 0 && l.max_bytes == 0) {
    return Status::InvalidArgument(
        "limits nothing: set max_messages, max_recipients and/or max_bytes");
  }
  return l;
}

std::optional<RateLimitCheck::Counter> RateLimitCheck::CounterOf(
    const PolicyRequest& request) const {
  std::string_view identity;
  switch (limits_.key) {
    case KeyKind::kSaslUsername:
      identity = request.sasl_username();
      break;
    case KeyKind::kSender:
      identity = request.sender();
      break;
    case KeyKind::kClientAddress:
      identity = request.client_address();
      break;
  }
  if (identity.empty()) return std::nullopt;
  Counter c;
  c.identity = AsciiLower(identity.substr(0, RateLimitCheck::kMaxIdentity));
  c.key = rule_id() + "|" + std::string(KeyName(limits_.key)) + "|" + c.identity;
  return c;
}

Status RateLimitCheck::MayAsk() const {
  if (!context_->store) return Status::Unavailable("no rate limit store is open");
  return context_->backoff.MayAsk("rate limit store");
}

void RateLimitCheck::NoteFailure(const Status& status) const {
  if (context_->backoff.Note(status)) LogError("rule " + rule_id() + ": " + status.ToString());
}

PolicyFinding RateLimitCheck::UnavailableFinding(const Status& status) const {
  PolicyFinding f = FailureModeFinding(
      context_->on_unavailable,
      {"sending limits cannot be checked",
       "sending limits cannot be checked; accepted as rate_limits.on_unavailable says",
       "sending limits cannot be checked now, try again later"});
  f.rule_id = rule_id();
  f.check = check();
  f.evidence = {{"error", status.ToString()},
                {"on_unavailable", ActionName(f.action)},
                {"fail_open", f.action == Action::kAccept}};
  return f;
}

Status RateLimitCheck::Evaluate(const PolicyRequest& request,
                                std::vector<PolicyFinding>* out) const {
  const std::string stage = request.Stage();
  if (stage != "mail" && stage != "rcpt") return Status::Ok();
  std::optional<Counter> counter = CounterOf(request);
  if (!counter) return Status::Ok();
  Status may = MayAsk();
  if (!may.ok()) {
    out->push_back(UnavailableFinding(may));
    return Status::Ok();
  }
  auto used = context_->store->Read(counter->key, limits_.window, context_->now());
  if (!used.ok()) {
    NoteFailure(used.status());
    out->push_back(UnavailableFinding(used.status()));
    return Status::Ok();
  }
  const int64_t announced = static_cast<int64_t>(request.size().value_or(0));
  // The first limit reached, in this order; `what` is for the reply.
  std::string limit;
  int64_t max = 0;
  std::string what;
  if (limits_.max_messages > 0 && used->messages >= limits_.max_messages) {
    limit = "max_messages", max = limits_.max_messages, what = "messages";
  } else if (limits_.max_recipients > 0 && used->recipients >= limits_.max_recipients) {
    limit = "max_recipients", max = limits_.max_recipients, what = "recipients";
  } else if (limits_.max_bytes > 0 && used->bytes + announced > limits_.max_bytes) {
    limit = "max_bytes", max = limits_.max_bytes, what = FormatSize(limits_.max_bytes);
  }
  if (limit.empty()) return Status::Ok();
  if (limit != "max_bytes") {
    if (max == 1) what.pop_back();  // "1 message"
    what = std::to_string(max) + " " + what;
  }
  const std::string window = FormatDuration(limits_.window.seconds);
  nlohmann::json evidence = {{"key", KeyName(limits_.key)},
                             {"identity", counter->identity},
                             {"window", window},
                             {"used", UsageJson(*used)},
                             {"limit", limit},
                             {"max", max}};
  if (announced > 0) evidence["announced_size"] = announced;
  // A held message is accepted: "try again" would mislead its sender.
  const char* next = action() == Action::kQuarantine ? "held for review" : "try again later";
  PolicyFinding f =
      MakeFinding("4.7.1", "sending limit reached (" + what + " per " + window + "), " + next,
                  std::move(evidence));
  f.reply_code = 450;  // "450 4.7.1": an explicit code, not DEFER_IF_PERMIT's default
  out->push_back(std::move(f));
  return Status::Ok();
}

Status RateLimitCheck::Observe(const PolicyRequest& request, const PolicyDecision& decision) const {
  if (request.Stage() != "end-of-message" || Refuses(decision)) return Status::Ok();
  std::optional<Counter> counter = CounterOf(request);
  if (!counter) return Status::Ok();
  if (Status may = MayAsk(); !may.ok()) {
    return Status::Unavailable("message not counted: " + may.message());
  }
  RateUsage delta;
  delta.messages = 1;
  delta.recipients = static_cast<int64_t>(request.recipient_count().value_or(1));
  delta.bytes = static_cast<int64_t>(request.size().value_or(0));
  auto total = context_->store->Add(counter->key, limits_.window, delta, context_->now());
  NoteFailure(total.status());
  if (!total.ok()) return total.status();
  return Status::Ok();
}

}  // namespace mailwarden

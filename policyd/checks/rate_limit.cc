// The rate_limit check (see the header).
//
// Distrusts the request's identities (a SASL login or an address the client chose): they
// are lower-cased, cut to kMaxIdentity bytes and only ever bound into the store's
// queries and copied into the decision log, never into a reply. Numbers (size,
// recipient_count) are Postfix's; absent ones count as 0 (a message as 1 recipient).
#include "policyd/checks/rate_limit.h"

#include <algorithm>
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

std::optional<RateUsage> RateLimitCheck::Cached(const std::string& key, int64_t now,
                                                int64_t announced) const {
  const LookupCache<RateLimitContext::Totals>* cache = context_->cache.get();
  if (cache == nullptr) return std::nullopt;
  auto cached = cache->Get(key, context_->store->ChangeMark());
  if (!cached) return std::nullopt;
  const int64_t oldest = limits_.window.OldestCounted(now);
  if (cached->oldest == oldest) return cached->used;
  // Totals of an earlier window start still count buckets that have left the window, so
  // they are at least the true ones: under every limit, the true totals are too (and the
  // answer is the same). Only one that reaches a limit needs the exact figures. Without
  // this, every counter's totals would be read again each time the window moves on by a
  // bucket, all at once.
  if (cached->oldest < oldest && Limit(cached->used, announced) == nullptr) return cached->used;
  return std::nullopt;
}

Result<RateUsage> RateLimitCheck::ReadTotals(const std::string& key, int64_t now) const {
  const LookupCache<RateLimitContext::Totals>* cache = context_->cache.get();
  // Taken before the read (account_directory.h, AccountsMark).
  const auto mark = cache ? context_->store->ChangeMark() : std::nullopt;
  auto used = context_->store->Read(key, limits_.window, now);
  if (used.ok() && cache) cache->Put(key, {*used, limits_.window.OldestCounted(now)}, mark);
  return used;
}

const char* RateLimitCheck::Limit(const RateUsage& used, int64_t announced) const {
  if (limits_.max_messages > 0 && used.messages >= limits_.max_messages) return "max_messages";
  if (limits_.max_recipients > 0 && used.recipients >= limits_.max_recipients) {
    return "max_recipients";
  }
  if (limits_.max_bytes > 0 && used.bytes + announced > limits_.max_bytes) return "max_bytes";
  return nullptr;
}

bool RateLimitCheck::AnswersFromMemory(const PolicyRequest& request) const {
  const std::string stage = request.Stage();
  const bool reads = stage == "mail" || stage == "rcpt";
  if (!reads && stage != "end-of-message") return true;
  std::optional<Counter> counter = CounterOf(request);
  if (!counter || !MayAsk().ok()) return true;  // nothing to count, or failing at once
  if (!reads) return false;
  // A total kept by time (Redis) is renewed rarely enough that a probe's margin hardly
  // matters here.
  return Cached(counter->key, context_->now(), Announced(request)).has_value();
}

Status RateLimitCheck::Evaluate(const PolicyRequest& request,
                                std::vector<PolicyFinding>* out) const {
  const std::string stage = request.Stage();
  if (stage != "mail" && stage != "rcpt") return Status::Ok();
  std::optional<Counter> counter = CounterOf(request);
  if (!counter) return Status::Ok();
  const int64_t announced = Announced(request);
  std::optional<RateUsage> cached;
  if (context_->store) cached = Cached(counter->key, context_->now(), announced);
  // Cached totals need no store: they stand during a backoff too.
  if (!cached) {
    if (Status may = MayAsk(); !may.ok()) {
      out->push_back(UnavailableFinding(may));
      return Status::Ok();
    }
  }
  Result<RateUsage> used =
      cached ? Result<RateUsage>(*cached) : ReadTotals(counter->key, context_->now());
  if (!used.ok()) {
    NoteFailure(used.status());
    out->push_back(UnavailableFinding(used.status()));
    return Status::Ok();
  }
  const char* reached = Limit(*used, announced);
  if (reached == nullptr) return Status::Ok();
  // `what` is for the reply.
  const std::string limit = reached;
  int64_t max = 0;
  std::string what;
  if (limit == "max_messages") {
    max = limits_.max_messages, what = "messages";
  } else if (limit == "max_recipients") {
    max = limits_.max_recipients, what = "recipients";
  } else {
    max = limits_.max_bytes, what = FormatSize(limits_.max_bytes);
  }
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
  const LookupCache<RateLimitContext::Totals>* cache = context_->cache.get();
  const int64_t now = context_->now();
  const auto mark = cache ? context_->store->ChangeMark() : std::nullopt;
  auto total = context_->store->Add(counter->key, limits_.window, delta, now);
  NoteFailure(total.status());
  if (!total.ok()) return total.status();
  if (cache) {
    // Totals only grow within one window start: of two answers of concurrent Adds, the
    // later one in the store has the larger counts, whichever arrives here last.
    cache->PutMerged(counter->key, {*total, limits_.window.OldestCounted(now)}, mark,
                     [](const RateLimitContext::Totals& a, RateLimitContext::Totals b) {
                       if (a.oldest != b.oldest) return b;
                       b.used.messages = std::max(a.used.messages, b.used.messages);
                       b.used.recipients = std::max(a.used.recipients, b.used.recipients);
                       b.used.bytes = std::max(a.used.bytes, b.used.bytes);
                       return b;
                     });
  }
  return Status::Ok();
}

}  // namespace mailwarden

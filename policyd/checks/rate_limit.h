// RateLimitCheck (`check: rate_limit`; issue 6, "sender rate limits"): stops a hijacked
// account or a runaway client by capping the mail one identity may send per window.
//
// Rule keys: `key` (sasl_username | sender | client_address: whose mail is counted; a
// request without that identity, e.g. no login or the null sender, is neither counted nor
// limited), `window` (default 1h), `max_messages`, `max_recipients`, `max_bytes` (0: no
// limit on that measure). The counter is per rule and identity (the login or address in
// lower case), so renaming a rule starts its counters afresh.
//
// Counting: only accepted mail, at END-OF-MESSAGE (+1 message, +recipient_count, +size),
// and only when the answer to that request, every rule included, is not a refusal
// (Observe()). A restriction Postfix applies after the policy service may still refuse
// the message; it is then counted anyway (the limit errs on the safe side).
//
// Enforcement: at MAIL and RCPT, when the window's counts have reached a limit (messages
// >= max_messages, recipients >= max_recipients, bytes >= max_bytes), or when the size the
// client announced (ESMTP SIZE=) would take the bytes over max_bytes. Postfix only says
// how many recipients a message has from DATA on (recipient_count is 0 at RCPT), so the
// message in progress may take the recipients over max_recipients by its own recipients
// (at most smtpd_recipient_limit); the next message is refused.
//
// Answer: the rule's action, tempfail by default: "450 4.7.1 ... try again later" (Postfix
// retries, and the client's own queue holds the mail until the window has room);
// quarantine: HOLD, so the mail is accepted but waits in the hold queue for an admin
// (postsuper -r / -d); reject: 550 5.7.1.
//
// Store failures (kTimeout past rate_limits.timeout_ms, kUnavailable, no store): at
// MAIL/RCPT a finding with rate_limits.on_unavailable (tempfail: DEFER_IF_PERMIT 4.3.0,
// reject: 550 5.3.0, accept: DUNNO, logged fail-open); at END-OF-MESSAGE the message goes
// uncounted, with a log line. After a failure the store is left alone for kBackoffMs.
//
// Built once per configuration load and then const: Evaluate() and Observe() may run on
// several threads.
#ifndef MAILWARDEN_POLICYD_CHECKS_RATE_LIMIT_H_
#define MAILWARDEN_POLICYD_CHECKS_RATE_LIMIT_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "policyd/checks/lookup_cache.h"
#include "policyd/checks/store_backoff.h"
#include "policyd/policy_request.h"
#include "policyd/policy_rules.h"
#include "policyd/store/rate_counters.h"

namespace mailwarden {

// What the rate_limit rules of one configuration share.
struct RateLimitContext {
  std::shared_ptr<RateCounterStore> store;    // null: every count fails
  std::function<int64_t()> now;               // Unix seconds; never empty
  Action on_unavailable = Action::kTempfail;  // rate_limits.on_unavailable
  // The window totals last read or written per counter key (lookup_cache.h), with the
  // oldest bucket they sum: good only while the window starts in that same bucket. Kept
  // until the store's ChangeMark moves (SQLite), or for rate_limits.cache_ms when the
  // store cannot tell (Redis; 0 by default: read every time, so that several hosts'
  // counts add up at once). This daemon's own counts enter at once either way.
  struct Totals {
    RateUsage used;
    int64_t oldest = 0;
  };
  std::unique_ptr<LookupCache<Totals>> cache;
  StoreBackoff backoff;  // after a failure, the store is not asked for a while
};

class RateLimitCheck : public PolicyCheck {
 public:
  static constexpr int64_t kBackoffMs = StoreBackoff::kBackoffMs;
  // Longer identities are cut to this many bytes in the counter key.
  static constexpr size_t kMaxIdentity = 512;

  enum class KeyKind { kSaslUsername, kSender, kClientAddress };
  struct Limits {
    KeyKind key = KeyKind::kSaslUsername;
    RateWindow window;
    int64_t max_messages = 0;  // 0: no limit
    int64_t max_recipients = 0;
    int64_t max_bytes = 0;
  };

  // The limits a rule's keys describe; kInvalidArgument naming the key for a bad `key` or
  // a rule that limits nothing.
  static Result<Limits> LimitsOf(const RuleSpec& rule);

  RateLimitCheck(const RuleSpec& rule, Limits limits,
                 std::shared_ptr<const RateLimitContext> context)
      : PolicyCheck(rule), limits_(limits), context_(std::move(context)) {}

  // At MAIL and RCPT: a finding when the identity's window is at a limit.
  Status Evaluate(const PolicyRequest& request, std::vector<PolicyFinding>* out) const override;
  // At END-OF-MESSAGE: counts the message unless `decision` refuses it.
  Status Observe(const PolicyRequest& request, const PolicyDecision& decision) const override;
  // At MAIL and RCPT when the counter's totals are cached; never at END-OF-MESSAGE of a
  // counted identity (a write).
  bool AnswersFromMemory(const PolicyRequest& request) const override;

 private:
  // Whose mail a request is, and the key of their counter.
  struct Counter {
    std::string identity;  // lower case, cut to kMaxIdentity
    std::string key;       // "<rule id>|<key>|<identity>"
  };
  // The counter of `request`: nothing when it lacks the identity.
  std::optional<Counter> CounterOf(const PolicyRequest& request) const;
  // Why the store must not be asked now (none, backing off); OK when it may.
  Status MayAsk() const;
  // Starts a backoff after a failed store call.
  void NoteFailure(const Status& status) const;
  PolicyFinding UnavailableFinding(const Status& status) const;
  // The totals of `key` over the window ending at `now`, read from the store (and kept in
  // the cache).
  Result<RateUsage> ReadTotals(const std::string& key, int64_t now) const;
  // The cached totals of `key` that answer as the true ones would: those of this window
  // start, or those of an earlier one (an upper bound) when they reach no limit.
  std::optional<RateUsage> Cached(const std::string& key, int64_t now, int64_t announced) const;
  // The first limit `used` reaches with `announced` more bytes (max_messages, then
  // max_recipients, then max_bytes); null for none.
  const char* Limit(const RateUsage& used, int64_t announced) const;
  // The size the client announced (ESMTP SIZE=), 0 when none.
  // Capped at 2^50 (a petabyte, past any limit) so that sums cannot overflow.
  static int64_t Announced(const PolicyRequest& request) {
    return static_cast<int64_t>(std::min<uint64_t>(request.size().value_or(0), uint64_t{1} << 50));
  }

  Limits limits_;
  std::shared_ptr<const RateLimitContext> context_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_RATE_LIMIT_H_

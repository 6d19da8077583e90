// What the account rules of mailwarden-policyd share (account_state, mailbox_quota,
// password_age; REGULATIONS.md A1-A6): the accounts.* settings, the directory and the
// clock, whose account a request speaks for, and what to answer when the directory
// cannot.
//
// Whose account: on the sender side, the SASL login (sasl_username) when the client
// authenticated, and the envelope sender when its domain is in domains.internal (both when
// they differ: a suspended mailbox may not send, whoever logged in); on the recipient side,
// the recipient. An address the directory does not know is not judged (DUNNO): Postfix's
// own recipient checks refuse unknown users.
//
// Directory failures: any non-OK Status from the directory (kTimeout past
// accounts.timeout_ms, kUnavailable, ...) becomes a finding with the action of
// accounts.on_unavailable: tempfail (DEFER_IF_PERMIT 4.3.0, the default), reject (550
// 5.3.0) or accept (DUNNO, logged with fail_open). It is never a hang and never an
// exception; a stderr line reports it, at most one per kFailureReportInterval. After a
// failure the directory is left alone for kBackoffMs (lookups fail at once), so that a
// store that does not answer costs the daemon's single event loop one timeout per
// kBackoffMs, not one per lookup.
//
// A rule's `action` is the strongest answer the rule may give: each outcome has its own
// (a suspended sender is rejected, a suspended recipient as the rule's keys say), capped
// at the rule's action, so `action: accept` only logs what the rule would do and `action:
// tempfail` turns every refusal temporary. Directory failures are not capped.
//
// Built once per configuration load and then const: Evaluate() may run on several threads.
#ifndef MAILWARDEN_POLICYD_CHECKS_ACCOUNT_CHECK_H_
#define MAILWARDEN_POLICYD_CHECKS_ACCOUNT_CHECK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/rule_scope.h"
#include "policyd/checks/lookup_cache.h"
#include "policyd/checks/store_backoff.h"
#include "policyd/effective_state.h"
#include "policyd/policy_request.h"
#include "policyd/policy_rules.h"
#include "policyd/store/account_directory.h"

namespace mailwarden {

// The accounts.* settings (docs/configuration.md).
struct AccountsOptions {
  std::string database;                      // "sqlite:/var/lib/mailwarden/accounts.db"
  int64_t default_quota = int64_t{2} << 30;  // bytes, for accounts without their own
  EffectiveStateOptions state;
  int64_t timeout_ms = 200;  // budget of one directory call
  int64_t cache_ms = 1000;   // how long an answer of the directory is reused
  Action on_unavailable = Action::kTempfail;
  std::string contact;  // appended to refusals: "contact <contact>"; "" for none

  static AccountsOptions FromConfig(const Config& config);
};

// An account as the caches keep it: shared, not copied per lookup; null for none.
using CachedAccount = std::shared_ptr<const Account>;

// Everything an account rule consults besides the request; one per PolicyRules, shared.
struct AccountContext {
  std::shared_ptr<const AccountDirectory> directory;  // null: every lookup fails
  std::function<int64_t()> now;                       // Unix seconds; never empty
  AccountsOptions options;
  Locality locality;     // domains.internal, for the envelope sender
  StoreBackoff backoff;  // after a failure, the directory is not asked for a while
  // Recent answers (lookup_cache.h), by looked-up address (null: no such account) and by
  // account address; null when accounts.cache_ms is 0.
  std::unique_ptr<LookupCache<CachedAccount>> accounts;
  std::unique_ptr<LookupCache<MailboxUsage>> usage;
};

// An address the request speaks for, and the attribute it came from.
struct AccountRef {
  std::string address;   // lower case
  std::string_view via;  // "sasl_username", "sender" or "recipient"
};

// "2 GiB" style, for replies: whole units, KiB to TiB.
std::string HumanSize(int64_t bytes);
// Whole days in `seconds` (rounded down).
inline int64_t Days(int64_t seconds) { return seconds / 86400; }

class AccountCheck : public PolicyCheck {
 public:
  static constexpr int64_t kFailureReportInterval = 10;  // seconds
  static constexpr int64_t kBackoffMs = StoreBackoff::kBackoffMs;

 protected:
  AccountCheck(const RuleSpec& rule, std::shared_ptr<const AccountContext> context)
      : PolicyCheck(rule), context_(std::move(context)) {}

  const AccountContext& context() const { return *context_; }
  int64_t Now() const { return context_->now(); }

  // The sender-side addresses of `request` (see the top of this file), without
  // duplicates; empty for the null sender without a login.
  std::vector<AccountRef> SenderAccounts(const PolicyRequest& request) const;

  // The account `ref` belongs to. On a directory failure appends the on_unavailable
  // finding to `out` and returns null; an unknown address also returns null.
  std::shared_ptr<const Account> Find(const AccountRef& ref, std::vector<PolicyFinding>* out) const;
  // The usage of `account`: {0, 0} when the directory has none; nothing after a failure
  // (the finding is appended to `out`).
  std::optional<MailboxUsage> UsageOf(const Account& account,
                                      std::vector<PolicyFinding>* out) const;

  // True when Find(ref) (and, with `with_usage`, UsageOf() its account) would answer
  // without asking the directory: from the caches, or at once with a failure (no
  // directory, backing off). For AnswersFromMemory().
  bool InMemory(const AccountRef& ref, bool with_usage) const;
  // A value cached by time must outlive a probe by this much: the evaluation that
  // follows the probe at once then finds it.
  static constexpr int64_t kProbeMarginMs = 50;

  // Who reads a refusal: the account's owner (a sender), or anybody (a recipient's
  // correspondents, who are not told the stored reason).
  enum class Audience { kOwner, kAnybody };
  // A finding with `natural` capped at the rule's action and the admin's `reply` (when
  // set) in place of `reason`. A refusal says whom to contact: "; contact
  // <accounts.contact>", or for the owner when that is empty "; contact your mail
  // administrators".
  PolicyFinding Outcome(Action natural, Audience audience, int reply_code,
                        std::string enhanced_code, std::string reason,
                        nlohmann::json evidence) const;

  // The log's view of `account` and its effective state.
  static nlohmann::json AccountEvidence(const Account& account, const AccountRef& ref,
                                        const EffectiveState& state);

 private:
  PolicyFinding UnavailableFinding(const Status& status, std::string_view what) const;
  // Why the directory must not be asked now (no directory, backing off); OK when it may.
  Status MayAsk() const;
  // Starts a backoff after `status` from the directory, when it is a failure.
  void NoteResult(const Status& status) const;

  std::shared_ptr<const AccountContext> context_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_ACCOUNT_CHECK_H_

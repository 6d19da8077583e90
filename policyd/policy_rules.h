// The policy daemon's rules: what to answer Postfix for one request.
//
// PolicyRules is built from one Config snapshot (its policyd rules, in file order) and is
// immutable afterwards: all connections share it through std::shared_ptr<const
// PolicyRules>, and a reload builds a new one, exactly like the milter's Engine. All
// methods are const and thread-safe. Evaluate() always answers: a rule that fails or
// throws yields the configured policyd.on_internal_error answer (only running out of
// memory while building that answer can escape as std::bad_alloc).
//
// Answers use the actions of Postfix's access(5) table:
//   reject      action=550 5.7.1 <reason> (mailwarden rule <id>)
//               (the finding's own code when it has one: 552 5.2.2, 550 5.1.1, ...)
//   tempfail    action=DEFER_IF_PERMIT 4.7.1 <reason> (mailwarden rule <id>)
//               (or 4NN x.y.z with the finding's own code: 452 4.2.2, 450 4.2.1, ...)
//   quarantine  action=HOLD <reason> (mailwarden rule <id>)
//   tag         action=PREPEND X-Mailwarden-Policy: tag (mailwarden rule <id>)
//               (or the finding's own header; DUNNO at END-OF-MESSAGE, where Postfix
//               cannot prepend a header)
//   accept      action=DUNNO, and no rule matched: action=DUNNO
// When several rules match, the strongest action wins (reject > tempfail > quarantine >
// tag > accept); among equals, the first rule in file order.
#ifndef MAILWARDEN_POLICYD_POLICY_RULES_H_
#define MAILWARDEN_POLICYD_POLICY_RULES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/action.h"
#include "common/config.h"
#include "common/rule_scope.h"
#include "common/status.h"
#include "policyd/policy_request.h"

namespace mailwarden {

class AccountDirectory;  // policyd/store/account_directory.h
class RateCounterStore;  // policyd/store/rate_counters.h

// What one rule found about a request.
struct PolicyFinding {
  std::string rule_id;
  std::string check;  // "sender_blocklist", or "on_internal_error"
  Action action = Action::kAccept;
  std::string enhanced_code;  // RFC 3463 detail for refusals, e.g. "5.7.1"
  // The basic SMTP code when the check needs its own (552 "mailbox full", 550 with 5.1.1
  // "no such user"); 0 for the defaults. Only its last two digits count: the class digit
  // always follows the action, and a tempfail with its own code is answered "4NN x.y.z"
  // instead of DEFER_IF_PERMIT.
  int reply_code = 0;
  // For a tag: the "Name: value" header line to prepend instead of X-Mailwarden-Policy.
  std::string header;
  std::string reason;       // for the sender and the log: short, one line
  nlohmann::json evidence;  // metadata for the log (which list entry matched, ...)
};

// The answer to one request.
struct PolicyDecision {
  Action action = Action::kAccept;
  std::string reply = "DUNNO";          // the value of the "action=" attribute
  std::vector<PolicyFinding> findings;  // every rule that matched or failed
  std::optional<size_t> deciding;       // index into findings
  bool internal_error = false;          // a rule failed; on_internal_error applied

  // "action=<reply>", without the line terminators.
  std::string ActionLine() const { return "action=" + reply; }
  bool IsDunno() const { return reply == "DUNNO"; }
  const PolicyFinding* deciding_finding() const {
    return deciding ? &findings[*deciding] : nullptr;
  }
};

// The texts of a failure handled by a configured failure mode (policyd.on_internal_error,
// accounts.on_unavailable, rate_limits.on_unavailable).
struct FailureTexts {
  std::string_view reject;
  std::string_view accept;
  std::string_view tempfail;
};
// A finding for failure mode `mode`: reject (5.3.0), accept (logged only), anything else
// tempfail (4.3.0), with the matching text. The caller sets rule_id, check and evidence.
PolicyFinding FailureModeFinding(Action mode, const FailureTexts& texts);

// One rule of the policy daemon. Built once per configuration load, then const.
class PolicyCheck {
 public:
  explicit PolicyCheck(const RuleSpec& rule)
      : rule_id_(rule.id), check_(rule.check), action_(rule.action), reply_(rule.reply) {}
  virtual ~PolicyCheck() = default;
  PolicyCheck(const PolicyCheck&) = delete;
  PolicyCheck& operator=(const PolicyCheck&) = delete;

  const std::string& rule_id() const { return rule_id_; }
  const std::string& check() const { return check_; }

  // Appends a finding when the rule matches `request`. A non-OK Status means the rule
  // could not decide; the caller applies on_internal_error.
  virtual Status Evaluate(const PolicyRequest& request, std::vector<PolicyFinding>* out) const = 0;
  // True when Evaluate() and Observe() for `request` need no store call: every rule that
  // only reads memory, and a store rule whose answers are in its cache (or that fails at
  // once). The server evaluates such requests on its event loop, the others in its worker
  // pool (server.h). A wrong `true` costs one store call on the loop, never a wrong answer.
  virtual bool AnswersFromMemory(const PolicyRequest& /*request*/) const { return true; }
  // Called with the answer once every rule has evaluated `request`, for rules that keep
  // state about accepted mail (rate_limit counts it at END-OF-MESSAGE). The answer is
  // final: a non-OK Status is only logged.
  virtual Status Observe(const PolicyRequest& /*request*/,
                         const PolicyDecision& /*decision*/) const {
    return Status::Ok();
  }

 protected:
  // A finding with the rule's configured action; the rule's `reply` text, when the admin
  // wrote one, replaces `reason`.
  PolicyFinding MakeFinding(std::string enhanced_code, std::string reason,
                            nlohmann::json evidence) const;
  Action action() const { return action_; }            // the rule's `action`
  const std::string& reply() const { return reply_; }  // the rule's `reply`, "" if none

 private:
  std::string rule_id_;
  std::string check_;
  Action action_;
  std::string reply_;
};

// What rules may consult besides the request, opened by the daemon (reload.h) and shared
// by the rules built with it. Tests pass fakes.
struct PolicyServices {
  // The account directory (accounts.database); null when none is open: account rules then
  // answer as accounts.on_unavailable says.
  std::shared_ptr<const AccountDirectory> accounts;
  // The rate counters (rate_limits.database); null when none is open: rate_limit rules
  // then answer as rate_limits.on_unavailable says. Kept across reloads, so windows are.
  std::shared_ptr<RateCounterStore> rate_counters = nullptr;
  // Unix seconds; empty: the system clock.
  std::function<int64_t()> clock;
};

class PolicyRules {
 public:
  // Builds every policyd rule of `config`. kInvalidArgument with one
  // "file:line:column: reason" line per bad rule (the rule's position).
  static Result<std::shared_ptr<const PolicyRules>> Build(std::shared_ptr<const Config> config,
                                                          PolicyServices services = {});
  // True when a policyd rule of `config` reads the account directory.
  static bool NeedsAccountDirectory(const Config& config);
  // True when a policyd rule of `config` counts mail (rate_limit).
  static bool NeedsRateCounters(const Config& config);

  const Config& config() const { return *config_; }
  size_t size() const { return checks_.size(); }
  // The account directory the rules were built with (a reload keeps it when
  // accounts.database does not change); may be null.
  const std::shared_ptr<const AccountDirectory>& accounts() const { return accounts_; }
  // The rate counters the rules were built with (kept by a reload like accounts()); may
  // be null.
  const std::shared_ptr<RateCounterStore>& rate_counters() const { return rate_counters_; }

  // The answer for `request`; see the top of this file for failures.
  PolicyDecision Evaluate(const PolicyRequest& request) const;
  // True when every rule answers `request` from memory (PolicyCheck::AnswersFromMemory;
  // rules out of scope included, which errs towards the pool).
  bool AnswersFromMemory(const PolicyRequest& request) const;
  // The answer when a request could not be evaluated at all (`what` is logged), per
  // policyd.on_internal_error.
  PolicyDecision InternalError(std::string_view rule_id, std::string_view what) const;

  // True when `decision` belongs in the decision log: every answer but DUNNO, plus the
  // DUNNO answers a rule or a failure produced (accept rules, fail-open). `all` logs
  // every answer (--debug).
  static bool ShouldLog(const PolicyDecision& decision, bool all);
  // The decision-log record (ECS names) for `decision` on `request`.
  nlohmann::json DecisionRecord(const PolicyRequest& request, const PolicyDecision& decision) const;

 private:
  PolicyRules(std::shared_ptr<const Config> config, Locality locality)
      : config_(std::move(config)), locality_(std::move(locality)) {}
  PolicyFinding FailureFinding(std::string_view rule_id, std::string_view what) const;
  // Picks the deciding finding and spells the reply; `stage` is PolicyRequest::Stage().
  PolicyDecision Decide(std::vector<PolicyFinding> findings, std::string_view stage) const;
  // Shows `check` the final `decision`; a failure is logged and added to its findings
  // (an accept finding: the reply does not change).
  static void Observe(const PolicyCheck& check, const PolicyRequest& request,
                      PolicyDecision* decision);

  // A check with the scope (`when:` / `except:`) of its rule.
  struct ScopedCheck {
    std::unique_ptr<PolicyCheck> check;
    RuleScope scope;
  };

  std::shared_ptr<const Config> config_;
  Locality locality_;
  std::shared_ptr<const AccountDirectory> accounts_;
  std::shared_ptr<RateCounterStore> rate_counters_;
  std::vector<ScopedCheck> checks_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_POLICY_RULES_H_

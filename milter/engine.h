// The inspection engine: the checks of one configuration, and how their findings become a
// verdict. Knows nothing of the milter protocol; the milter glue, --test mode, unit tests and
// benchmarks all drive it the same way.
//
// An Engine is built from one Config snapshot and is immutable afterwards: connections
// share it through std::shared_ptr<const Engine> and a reload builds a new one, so a
// message in flight finishes under the rules it started with. All methods are thread-safe.
#ifndef MAILWARDEN_MILTER_ENGINE_H_
#define MAILWARDEN_MILTER_ENGINE_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rule_scope.h"
#include "milter/checks/check.h"
#include "milter/message.h"

namespace mailwarden {

struct Verdict {
  Action action = Action::kAccept;
  int smtp_code = 250;                // reject and tempfail only
  std::string enhanced_code;          // reject and tempfail only
  std::string text;                   // reply text for reject/tempfail, reason for quarantine
  const Finding* deciding = nullptr;  // into findings; null when accepted without findings
  std::vector<Finding> findings;      // every finding, the deciding one included
  std::vector<HeaderField> add_headers;
  // Fields whose first occurrence is replaced (the Subject, with a finding's prefix).
  std::vector<HeaderField> change_headers;

  Verdict() = default;
  Verdict(const Verdict&) = delete;  // `deciding` points into `findings`
  Verdict& operator=(const Verdict&) = delete;
  Verdict(Verdict&&) = default;
  Verdict& operator=(Verdict&&) = default;

  // "552 5.3.4 text" for reject and tempfail, "" otherwise.
  std::string ReplyLine() const;
};

// Where in the dialogue a decision was taken.
enum class Stage { kMailFrom, kRecipient, kEndOfMessage };
std::string_view StageName(Stage stage);

// The content limits (mime.*, archive.*, tnef.*) of `config`, and what its rules need kept
// (text bodies, the raw message): how a message is read for this configuration.
ContentLimits ContentLimitsOf(const Config& config);

class Engine {
 public:
  // Builds the checks of every milter rule in `config`.
  static Result<std::shared_ptr<const Engine>> Build(std::shared_ptr<const Config> config);

  // An engine running exactly `checks`, unconditionally (for tests that need a check of
  // their own, such as one that fails), with `config`'s options.
  static std::shared_ptr<const Engine> FromChecks(std::shared_ptr<const Config> config,
                                                  std::vector<std::unique_ptr<Check>> checks);

  // The direction of `envelope` under this configuration.
  Direction DirectionOf(const Envelope& envelope) const;

  const Config& config() const { return *config_; }

  // A message to feed, with this configuration's content limits (mime.*, archive.*, tnef.*).
  std::unique_ptr<Message> NewMessage(Envelope envelope) const;
  const ContentLimits& content_limits() const { return content_limits_; }

  // At MAIL FROM. An accept verdict means "go on", not "deliver".
  Verdict AtMailFrom(const Envelope& envelope) const;
  // At RCPT, for the recipient just added to `envelope` (its last one), on the egress
  // listener: a reject or tempfail verdict refuses that recipient only.
  Verdict AtRecipient(const Envelope& envelope) const;
  // At end of message: finishes the message's content (Message::FinishContent) and gives
  // the final verdict. Content that could not be fully inspected (a limit hit, a damaged
  // container) is a finding of its own, per mime.on_limit_exceeded and mime.on_damaged.
  Verdict AtEndOfMessage(Message& message) const;

  // The decision-log record for `verdict`. `message` may lack a body before kEndOfMessage.
  nlohmann::json DecisionRecord(const Message& message, const Verdict& verdict, Stage stage) const;
  // True when the decision must be logged (refusals always; accepts if log_accepted).
  bool ShouldLog(const Verdict& verdict) const;

 private:
  Engine(std::shared_ptr<const Config> config, Locality locality);
  // Turns findings into a verdict; `failures` are findings made from checks that failed.
  Verdict Decide(std::vector<Finding> findings) const;
  // A finding for a check that could not do its job, per the configured failure mode.
  Finding FailureFinding(const Check& check, const Status& status) const;
  // Findings for content that could not be fully inspected.
  void IncompleteContentFindings(const MessageContent& content, std::vector<Finding>* out) const;

  // A check with the scope (`when:` / `except:`) of its rule.
  struct ScopedCheck {
    std::unique_ptr<Check> check;
    RuleScope scope;
  };
  // Builds an engine running `checks`; kInvalidArgument when a scope cannot be built.
  static Result<std::shared_ptr<const Engine>> Assemble(std::shared_ptr<const Config> config,
                                                        std::vector<std::unique_ptr<Check>> checks,
                                                        std::vector<const RuleSpec*> rules);

  std::shared_ptr<const Config> config_;
  Locality locality_;
  ContentLimits content_limits_;
  std::vector<ScopedCheck> checks_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_ENGINE_H_

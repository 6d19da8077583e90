// The interface every message check implements.
//
// A check is built once per configuration load from its RuleSpec and is then immutable, so
// one instance serves all connections at once (its methods are const and thread-safe).
// It reads the Envelope or the Message and reports Findings; it never talks to the MTA and
// never includes libmilter. A check that cannot do its job returns a non-OK Status
// (kTimeout, kUnavailable, kInternal, ...): the engine then applies the configured failure
// mode, so a broken check never passes mail silently.
#ifndef MAILWARDEN_MILTER_CHECKS_CHECK_H_
#define MAILWARDEN_MILTER_CHECKS_CHECK_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/action.h"
#include "common/config.h"
#include "common/status.h"
#include "milter/message.h"

namespace mailwarden {

// What a check found: enough for the SMTP reply and the decision log.
struct Finding {
  std::string rule_id;
  std::string check;  // the check's name, e.g. "message_size"
  Action action = Action::kAccept;
  int smtp_code = 550;        // used when action is reject or tempfail
  std::string enhanced_code;  // RFC 3463, e.g. "5.3.4"
  std::string reason;         // for the sender: short, no message content
  nlohmann::json evidence;    // metadata for the log (sizes, part path, hash, ...)
  // A finding the security team must see at once (a classified document): the decision
  // record is an alert of high severity when such a finding is not an accept.
  bool alert = false;
  // For a message that is accepted, tagged or held: header fields to add (a spam score),
  // and text to put before its Subject (a spam tag). Ignored when the message is refused.
  std::vector<HeaderField> add_headers;
  std::string subject_prefix;
};

class Check {
 public:
  explicit Check(const RuleSpec& rule)
      : rule_id_(rule.id), action_(rule.action), reply_(rule.reply) {}
  virtual ~Check() = default;
  Check(const Check&) = delete;
  Check& operator=(const Check&) = delete;

  const std::string& rule_id() const { return rule_id_; }

  // At MAIL FROM, with what the envelope holds so far. Only for refusals that cannot wait.
  virtual Status OnMailFrom(const Envelope& /*envelope*/, std::vector<Finding>* /*out*/) const {
    return Status::Ok();
  }
  // At RCPT, for recipient `index` of `envelope`, where the MTA waits for a verdict on each
  // recipient (the egress listener). A finding refuses that recipient only.
  virtual Status OnRecipient(const Envelope& /*envelope*/, size_t /*index*/,
                             std::vector<Finding>* /*out*/) const {
    return Status::Ok();
  }
  // At end of message.
  virtual Status Inspect(const Message& message, std::vector<Finding>* out) const = 0;
  // Whether the check runs on the egress listener too (Envelope::egress), where mail that
  // has passed every check already leaves the queue.
  virtual bool RunsAtEgress() const { return false; }

 protected:
  // A finding for this rule with its configured action; `reason` is replaced by the rule's
  // reply text when the admin wrote one.
  Finding MakeFinding(std::string check, int smtp_code, std::string enhanced_code,
                      std::string reason, nlohmann::json evidence) const;

 private:
  std::string rule_id_;
  Action action_;
  std::string reply_;
};

// Builds the check a rule names, with the configuration it was loaded with (for settings
// outside the rule, such as antivirus.*). kInvalidArgument when the rule cannot be turned
// into a working check (the config loader has already checked types and bounds).
Result<std::unique_ptr<Check>> MakeCheck(const RuleSpec& rule, const Config& config);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_CHECK_H_

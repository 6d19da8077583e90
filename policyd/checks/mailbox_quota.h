// MailboxQuotaCheck (`check: mailbox_quota`; REGULATIONS.md A1): refuses a recipient whose
// mailbox cannot take the message.
//
//   at RCPT: current usage + the size the client announced (ESMTP SIZE=, request `size`;
//     0 when none) above the quota -> 552 5.2.2 "mailbox full" (with `action: tempfail`,
//     452 4.2.2: the sender retries, and the mailbox may have room by then);
//   at END-OF-MESSAGE, when the message has exactly one recipient (recipient_count=1, the
//     only case where Postfix names it): the same with the real size. With several
//     recipients Postfix cannot refuse one of them any more; the RCPT check stands.
// The quota is the account's own (quota_bytes) or accounts.default_quota; 0 means no
// limit. Usage the directory does not know counts as 0. A mailbox exactly full still
// takes nothing more: usage + size must not exceed the quota. The log gets the account,
// the usage, the quota and where it came from, and the size judged.
#ifndef MAILWARDEN_POLICYD_CHECKS_MAILBOX_QUOTA_H_
#define MAILWARDEN_POLICYD_CHECKS_MAILBOX_QUOTA_H_

#include <memory>

#include "policyd/checks/account_check.h"

namespace mailwarden {

class MailboxQuotaCheck : public AccountCheck {
 public:
  MailboxQuotaCheck(const RuleSpec& rule, std::shared_ptr<const AccountContext> context)
      : AccountCheck(rule, std::move(context)) {}
  Status Evaluate(const PolicyRequest& request, std::vector<PolicyFinding>* out) const override;
  bool AnswersFromMemory(const PolicyRequest& request) const override;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_MAILBOX_QUOTA_H_

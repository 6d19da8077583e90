// AccountStateCheck (`check: account_state`; REGULATIONS.md A2, A4, A5): refuses mail
// from and to accounts whose effective state (effective_state.h) is not active.
//
//   sender side (at MAIL and RCPT): a suspended or terminated account (see account_check.h
//     for whose) is refused with 550 5.7.1 saying which account, why (the stored reason,
//     the termination date, or the last login) and whom to contact;
//   recipient side (at RCPT): a terminated mailbox gets 550 5.1.1 (no longer exists); a
//     suspended one 550 5.2.1 (mailbox disabled) or, with `suspended_recipient: tempfail`,
//     450 4.2.1, or is only logged with `accept`. Correspondents are not told the stored
//     reason; the decision log has it.
// Other protocol states, unknown addresses and active accounts: no finding. The log gets
// the account, its stored and effective state, the cause and the dates behind it.
#ifndef MAILWARDEN_POLICYD_CHECKS_ACCOUNT_STATE_H_
#define MAILWARDEN_POLICYD_CHECKS_ACCOUNT_STATE_H_

#include <memory>

#include "policyd/checks/account_check.h"

namespace mailwarden {

class AccountStateCheck : public AccountCheck {
 public:
  AccountStateCheck(const RuleSpec& rule, std::shared_ptr<const AccountContext> context);
  Status Evaluate(const PolicyRequest& request, std::vector<PolicyFinding>* out) const override;
  bool AnswersFromMemory(const PolicyRequest& request) const override;

 private:
  void JudgeSender(const PolicyRequest& request, std::vector<PolicyFinding>* out) const;
  void JudgeRecipient(const PolicyRequest& request, std::vector<PolicyFinding>* out) const;

  Action suspended_recipient_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_ACCOUNT_STATE_H_

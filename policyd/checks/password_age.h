// PasswordAgeCheck (`check: password_age`; REGULATIONS.md A6): passwords are changed every
// 6 months by users and every 3 months by administrators.
//
// At MAIL and RCPT, for each sender-side account (account_check.h): when its password is
// max_age_user (180d) old or older, max_age_admin (90d) for role admin, the rule fires.
// The age counts from password_changed_at, or from the account's creation when no change
// was ever recorded.
//   action tag (the default): PREPEND "X-Mailwarden-Password-Age: 200 days (limit 180
//     days)" (mailwarden rule <id>), and the decision log records the account, its role,
//     the date of the last change, the age and the limit. Postfix prepends the line once
//     per recipient the answer is given for, and the header travels with the message:
//     it names no account.
//   action reject: 550 5.7.1 telling the user to change the password and whom to contact.
// Other states and unknown accounts: no finding.
#ifndef MAILWARDEN_POLICYD_CHECKS_PASSWORD_AGE_H_
#define MAILWARDEN_POLICYD_CHECKS_PASSWORD_AGE_H_

#include <cstdint>
#include <memory>

#include "policyd/checks/account_check.h"

namespace mailwarden {

class PasswordAgeCheck : public AccountCheck {
 public:
  static constexpr char kHeaderName[] = "X-Mailwarden-Password-Age";

  PasswordAgeCheck(const RuleSpec& rule, std::shared_ptr<const AccountContext> context);
  Status Evaluate(const PolicyRequest& request, std::vector<PolicyFinding>* out) const override;
  bool AnswersFromMemory(const PolicyRequest& request) const override;

 private:
  int64_t max_age_user_;   // seconds
  int64_t max_age_admin_;  // seconds
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_CHECKS_PASSWORD_AGE_H_

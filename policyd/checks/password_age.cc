#include "policyd/checks/password_age.h"

#include "policyd/store/civil_time.h"

namespace mailwarden {
namespace {

std::string DaysText(int64_t seconds) {
  int64_t days = Days(seconds);
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

}  // namespace

PasswordAgeCheck::PasswordAgeCheck(const RuleSpec& rule,
                                   std::shared_ptr<const AccountContext> context)
    : AccountCheck(rule, std::move(context)),
      max_age_user_(rule.param("max_age_user").number),
      max_age_admin_(rule.param("max_age_admin").number) {}

bool PasswordAgeCheck::AnswersFromMemory(const PolicyRequest& request) const {
  std::string stage = request.Stage();
  if (stage != "mail" && stage != "rcpt") return true;
  for (const AccountRef& ref : SenderAccounts(request)) {
    if (!InMemory(ref, false)) return false;
  }
  return true;
}

Status PasswordAgeCheck::Evaluate(const PolicyRequest& request,
                                  std::vector<PolicyFinding>* out) const {
  std::string stage = request.Stage();
  if (stage != "mail" && stage != "rcpt") return Status::Ok();
  for (const AccountRef& ref : SenderAccounts(request)) {
    CachedAccount account = Find(ref, out);
    if (!account) continue;
    int64_t changed = account->password_changed_at.value_or(account->created_at);
    int64_t age = Now() - changed;
    int64_t limit = account->role == AccountRole::kAdmin ? max_age_admin_ : max_age_user_;
    if (age < limit) continue;
    nlohmann::json evidence = {
        {"side", "sender"},
        {"account",
         {{"address", account->address},
          {"via", ref.via},
          {"role", AccountRoleName(account->role)}}},
        {"password_changed_at", FormatUtcTime(changed)},
        {"password_change_recorded", account->password_changed_at.has_value()},
        {"password_age_days", Days(age)},
        {"max_age_days", Days(limit)},
    };
    if (ref.address != account->address) evidence["account"]["matched"] = ref.address;
    std::string reason = "the password of " + account->address + " is " + DaysText(age) +
                         " old (limit " + DaysText(limit) + " for " +
                         std::string(AccountRoleName(account->role)) + " accounts)";
    if (action() == Action::kReject || action() == Action::kTempfail) {
      reason += ": change it, then send again";
    }
    PolicyFinding f =
        Outcome(action(), Audience::kOwner, 0, "5.7.1", std::move(reason), std::move(evidence));
    f.header = std::string(kHeaderName) + ": " + DaysText(age) + " (limit " + DaysText(limit) + ")";
    out->push_back(std::move(f));
  }
  return Status::Ok();
}

}  // namespace mailwarden

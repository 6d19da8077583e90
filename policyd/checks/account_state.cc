#include "policyd/checks/account_state.h"

namespace mailwarden {

AccountStateCheck::AccountStateCheck(const RuleSpec& rule,
                                     std::shared_ptr<const AccountContext> context)
    : AccountCheck(rule, std::move(context)),
      suspended_recipient_(rule.param("suspended_recipient").action) {}

Status AccountStateCheck::Evaluate(const PolicyRequest& request,
                                   std::vector<PolicyFinding>* out) const {
  std::string stage = request.Stage();
  if (stage == "mail" || stage == "rcpt") JudgeSender(request, out);
  if (stage == "rcpt") JudgeRecipient(request, out);
  return Status::Ok();
}

bool AccountStateCheck::AnswersFromMemory(const PolicyRequest& request) const {
  std::string stage = request.Stage();
  if (stage != "mail" && stage != "rcpt") return true;
  for (const AccountRef& ref : SenderAccounts(request)) {
    if (!InMemory(ref, false)) return false;
  }
  if (stage != "rcpt") return true;
  AccountRef ref{NormalizeAddress(request.recipient()), "recipient"};
  return ref.address.empty() || InMemory(ref, false);
}

void AccountStateCheck::JudgeSender(const PolicyRequest& request,
                                    std::vector<PolicyFinding>* out) const {
  for (const AccountRef& ref : SenderAccounts(request)) {
    CachedAccount account = Find(ref, out);
    if (!account) continue;
    EffectiveState state = ComputeEffectiveState(*account, Now(), context().options.state);
    if (state.state == AccountState::kActive) continue;
    std::string reason = "sender account " + account->address + " is " +
                         std::string(AccountStateName(state.state)) + ": " + state.reason;
    out->push_back(
        Outcome(Action::kReject, Audience::kOwner, 550, "5.7.1", std::move(reason),
                {{"side", "sender"}, {"account", AccountEvidence(*account, ref, state)}}));
  }
}

void AccountStateCheck::JudgeRecipient(const PolicyRequest& request,
                                       std::vector<PolicyFinding>* out) const {
  AccountRef ref{NormalizeAddress(request.recipient()), "recipient"};
  if (ref.address.empty()) return;
  CachedAccount account = Find(ref, out);
  if (!account) return;
  EffectiveState state = ComputeEffectiveState(*account, Now(), context().options.state);
  nlohmann::json evidence = {{"side", "recipient"},
                             {"account", AccountEvidence(*account, ref, state)}};
  if (state.state == AccountState::kTerminated) {
    out->push_back(Outcome(Action::kReject, Audience::kAnybody, 550, "5.1.1",
                           "mailbox terminated, no longer in use", std::move(evidence)));
  } else if (state.state == AccountState::kSuspended) {
    out->push_back(Outcome(suspended_recipient_, Audience::kAnybody, 550, "5.2.1",
                           "mailbox disabled (account suspended)", std::move(evidence)));
  }
}

}  // namespace mailwarden

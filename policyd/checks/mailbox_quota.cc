#include "policyd/checks/mailbox_quota.h"

#include <algorithm>

namespace mailwarden {

namespace {

// Whether the rule judges a request at this stage: at RCPT, and at END-OF-MESSAGE of a
// message for one recipient (the recipient attribute is then that one).
bool Judged(const PolicyRequest& request, std::string_view stage) {
  return stage == "rcpt" || (stage == "end-of-message" && request.recipient_count() == uint64_t{1});
}

}  // namespace

bool MailboxQuotaCheck::AnswersFromMemory(const PolicyRequest& request) const {
  if (!Judged(request, request.Stage())) return true;
  AccountRef ref{NormalizeAddress(request.recipient()), "recipient"};
  return ref.address.empty() || InMemory(ref, true);
}

Status MailboxQuotaCheck::Evaluate(const PolicyRequest& request,
                                   std::vector<PolicyFinding>* out) const {
  std::string stage = request.Stage();
  bool at_end = stage == "end-of-message";
  if (!Judged(request, stage)) return Status::Ok();
  AccountRef ref{NormalizeAddress(request.recipient()), "recipient"};
  if (ref.address.empty()) return Status::Ok();
  CachedAccount account = Find(ref, out);
  if (!account) return Status::Ok();
  int64_t quota = account->quota_bytes.value_or(context().options.default_quota);
  if (quota <= 0) return Status::Ok();  // no limit
  std::optional<MailboxUsage> usage = UsageOf(*account, out);
  if (!usage) return Status::Ok();
  // Sizes come from the client (SIZE=) and from imports; cap both so the sum cannot
  // overflow (2^50 bytes is a petabyte, far past any quota).
  constexpr int64_t kMaxSize = int64_t{1} << 50;
  int64_t size = static_cast<int64_t>(
      std::min<uint64_t>(request.size().value_or(0), static_cast<uint64_t>(kMaxSize)));
  int64_t bytes = std::clamp<int64_t>(usage->bytes, 0, kMaxSize);
  if (bytes + size <= quota) return Status::Ok();

  std::string reason = "mailbox full";
  if (size > 0 && bytes <= quota) {
    reason += ": a message of " + HumanSize(size) + " does not fit";
  }
  nlohmann::json evidence = {
      {"side", "recipient"},
      {"account", {{"address", account->address}, {"via", ref.via}}},
      {"usage_bytes", usage->bytes},
      {"usage_messages", usage->messages},
      {"quota_bytes", quota},
      {"quota_source", account->quota_bytes ? "account" : "accounts.default_quota"},
      {"size", size},
      {"size_source", at_end ? "message" : "announced"},
  };
  if (ref.address != account->address) evidence["account"]["matched"] = ref.address;
  out->push_back(Outcome(Action::kReject, Audience::kAnybody, 552, "5.2.2", std::move(reason),
                         std::move(evidence)));
  return Status::Ok();
}

}  // namespace mailwarden

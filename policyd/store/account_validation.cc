// Validation of account values before any store writes them (see the header).
//
// Distrusts: every address, alias and reason a caller passes (the CLI, a CSV import). Limits:
// kMaxAccountAddressLength per address, kMaxAccountAliases per account,
// kMaxStateReasonLength per reason. Fails with kInvalidArgument; never throws.
#include "policyd/store/account_validation.h"

#include <algorithm>
#include <ctime>
#include <utility>

namespace mailwarden {

Status PrefixedWithOrigin(const Status& s, const std::string& origin) {
  if (origin.empty()) return s;
  std::string m = origin + ": " + s.message();
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(m));
    case Status::Code::kAlreadyExists:
      return Status::AlreadyExists(std::move(m));
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(m));
    default:
      return s;
  }
}

Status CheckAccountAddress(std::string_view address, std::string_view what) {
  if (address.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  const std::string quoted = std::string(what) + " '" + std::string(address) + "'";
  if (address.size() > kMaxAccountAddressLength) {
    return Status::InvalidArgument(quoted + " is longer than " +
                                   std::to_string(kMaxAccountAddressLength) + " characters");
  }
  size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos) {
    return Status::InvalidArgument(quoted + " is not local@domain");
  }
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == ',' || c == ';' || c == '<' || c == '>' || c == '"') {
      return Status::InvalidArgument(quoted +
                                     " contains a space, a control character or one of , ; < > \"");
    }
  }
  return Status::Ok();
}

Result<Account> ValidatedAccount(const Account& in) {
  Account a = in;
  a.address = NormalizeAddress(a.address);
  if (Status s = CheckAccountAddress(a.address, "address"); !s.ok()) return s;
  if (a.aliases.size() > kMaxAccountAliases) {
    return Status::InvalidArgument(a.address + ": more than " + std::to_string(kMaxAccountAliases) +
                                   " aliases");
  }
  for (std::string& alias : a.aliases) {
    alias = NormalizeAddress(alias);
    if (Status s = CheckAccountAddress(alias, "alias"); !s.ok()) return s;
    if (alias == a.address) {
      return Status::InvalidArgument("alias '" + alias + "' is the account's own address");
    }
  }
  std::sort(a.aliases.begin(), a.aliases.end());
  a.aliases.erase(std::unique(a.aliases.begin(), a.aliases.end()), a.aliases.end());
  if (a.quota_bytes && *a.quota_bytes < 0) {
    return Status::InvalidArgument(a.address + ": negative quota");
  }
  if (a.state_reason.size() > kMaxStateReasonLength) {
    return Status::InvalidArgument(a.address + ": reason longer than " +
                                   std::to_string(kMaxStateReasonLength) + " characters");
  }
  for (char c : a.state_reason) {
    auto u = static_cast<unsigned char>(c);
    if (u < ' ' || u == 0x7f) {
      return Status::InvalidArgument(a.address + ": reason contains a control character");
    }
  }
  return a;
}

int64_t AccountStoreNow() { return static_cast<int64_t>(std::time(nullptr)); }

void MergeImportedDates(Account& a, const std::optional<StoredAccountState>& stored, int64_t now) {
  if (stored) {
    if (a.created_at == 0) a.created_at = stored->created_at;
    if (a.state == stored->state) a.state_since = stored->state_since;
  }
  if (a.created_at == 0) a.created_at = now;
  if (a.state_since == 0) a.state_since = stored ? now : a.created_at;
}

}  // namespace mailwarden

// The write logic the SQL account stores share (see the header). The values reach here
// validated (ValidatedAccount); what is still checked is what only the stored rows can say
// (an existing account, an alias owned elsewhere). Fails with a Status; never throws.
#include "policyd/store/account_writer.h"

#include <utility>

namespace mailwarden {
namespace {

// Replaces the aliases of `address` by `aliases`.
Status ReplaceAliases(AccountRowWriter& w, const std::string& address,
                      const std::vector<std::string>& aliases) {
  if (Status s = w.DeleteAliases(address); !s.ok()) return s;
  for (const std::string& alias : aliases) {
    auto account = w.Existing(alias);
    if (!account.ok()) return account.status();
    if (*account) return Status::AlreadyExists("alias " + alias + " is an account of its own");
    auto owner = w.AliasOwner(alias);
    if (!owner.ok()) return owner.status();
    if (*owner) return Status::AlreadyExists("alias " + alias + " already belongs to " + **owner);
    if (Status s = w.InsertAlias(alias, address); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status WriteAccount(AccountRowWriter& w, const Account& a, bool insert) {
  if (insert) {
    // An address that is already someone's alias would make Find ambiguous.
    auto owner = w.AliasOwner(a.address);
    if (!owner.ok()) return owner.status();
    if (*owner) return Status::AlreadyExists(a.address + " is already an alias of " + **owner);
  }
  auto changed = w.WriteRow(a, insert);
  if (!changed.ok()) return changed.status();
  if (!insert && *changed == 0) return Status::NotFound("no account " + a.address);
  return ReplaceAliases(w, a.address, a.aliases);
}

Status WriteUsage(AccountRowWriter& w, const std::string& address, const MailboxUsage& usage) {
  if (usage.bytes < 0 || usage.messages < 0) {
    return Status::InvalidArgument(address + ": negative mailbox usage");
  }
  auto changed = w.WriteUsageRow(address, usage, AccountStoreNow());
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::NotFound("no account " + address);
  return Status::Ok();
}

Result<Account> NewAccountToAdd(const Account& account) {
  auto a = ValidatedAccount(account);
  if (!a.ok()) return a.status();
  if (a->created_at == 0) a->created_at = AccountStoreNow();
  if (a->state_since == 0) a->state_since = a->created_at;
  return a;
}

Status AddAccount(AccountRowWriter& w, const Account& a) {
  auto existing = w.Existing(a.address);
  if (!existing.ok()) return existing.status();
  if (*existing) return Status::AlreadyExists("account " + a.address + " already exists");
  return WriteAccount(w, a, /*insert=*/true);
}

Result<std::vector<Account>> AccountsToImport(
    std::span<const AccountDirectory::ImportRecord> records) {
  std::vector<Account> accounts;
  accounts.reserve(records.size());
  for (const AccountDirectory::ImportRecord& r : records) {
    auto a = ValidatedAccount(r.account);
    if (!a.ok()) return PrefixedWithOrigin(a.status(), r.origin);
    accounts.push_back(std::move(a).value());
  }
  return accounts;
}

Status ImportAccounts(AccountRowWriter& w, std::span<const AccountDirectory::ImportRecord> records,
                      std::vector<Account>& accounts, int64_t now) {
  for (size_t i = 0; i < records.size(); ++i) {
    Account& a = accounts[i];
    auto existing = w.Existing(a.address);
    if (!existing.ok()) return existing.status();
    MergeImportedDates(a, *existing, now);
    if (Status s = WriteAccount(w, a, /*insert=*/!*existing); !s.ok()) {
      return PrefixedWithOrigin(s, records[i].origin);
    }
    if (records[i].usage) {
      if (Status s = WriteUsage(w, a.address, *records[i].usage); !s.ok()) {
        return PrefixedWithOrigin(s, records[i].origin);
      }
    }
  }
  return Status::Ok();
}

}  // namespace mailwarden

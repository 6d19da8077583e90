// The write logic the SQL account stores share: what Add, Update, SetUsage and Import do
// inside the store's write transaction (the existence and alias checks, the order of the
// writes, the messages), over the few row operations each store implements on its own
// connection (AccountRowWriter). Shared by sqlite_account_directory.cc and
// pg_account_directory.cc so that both accept and refuse exactly the same writes.
//
// The caller validates first (ValidatedAccount, account_validation.h), holds the write
// transaction around these calls and commits; a failed call leaves it to be rolled back.
// An AccountRowWriter belongs to the one call that made it; these functions keep nothing.
#ifndef MAILWARDEN_POLICYD_STORE_ACCOUNT_WRITER_H_
#define MAILWARDEN_POLICYD_STORE_ACCOUNT_WRITER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/account_validation.h"

namespace mailwarden {

// The row operations of one store on one connection, inside a write transaction. Each
// returns the store's Status on failure (a timeout, a broken store).
class AccountRowWriter {
 public:
  virtual ~AccountRowWriter() = default;

  // What is stored for the primary address `address`, if it is one.
  virtual Result<std::optional<StoredAccountState>> Existing(const std::string& address) = 0;
  // The account `alias` is an alias of, if any.
  virtual Result<std::optional<std::string>> AliasOwner(const std::string& alias) = 0;
  // Deletes every alias of `address`.
  virtual Status DeleteAliases(const std::string& address) = 0;
  virtual Status InsertAlias(const std::string& alias, const std::string& address) = 0;
  // Inserts `a` as a new row (`insert`) or writes it over the row of a.address; returns the
  // number of rows changed.
  virtual Result<int64_t> WriteRow(const Account& a, bool insert) = 0;
  // Sets the usage row of `address` at `now`, only when the account exists; returns the
  // number of rows changed.
  virtual Result<int64_t> WriteUsageRow(const std::string& address, const MailboxUsage& usage,
                                        int64_t now) = 0;
};

// Writes `a` (validated; its dates filled in) as a new account (`insert`: refused when the
// address is already someone's alias) or over the existing one (kNotFound when there is
// none), then replaces its aliases (refused when one is an account or another's alias).
Status WriteAccount(AccountRowWriter& w, const Account& a, bool insert);

// Sets the mailbox usage of `address`: kInvalidArgument when negative, kNotFound for an
// unknown account.
Status WriteUsage(AccountRowWriter& w, const std::string& address, const MailboxUsage& usage);

// Add()'s preparation, outside any transaction: `account` validated, a 0 created_at set to
// now and a 0 state_since to created_at.
Result<Account> NewAccountToAdd(const Account& account);

// Add()'s writes: kAlreadyExists when `a` (from NewAccountToAdd) is an account already.
Status AddAccount(AccountRowWriter& w, const Account& a);

// Import()'s preparation, outside any transaction: every record's account validated, so a
// bad value fails the batch before any lock is taken (errors prefixed with its origin).
Result<std::vector<Account>> AccountsToImport(
    std::span<const AccountDirectory::ImportRecord> records);

// Import()'s writes: accounts[i] (from AccountsToImport, their dates merged with what is
// stored, at `now`) and records[i]'s usage, for every i; errors prefixed with the origin.
Status ImportAccounts(AccountRowWriter& w, std::span<const AccountDirectory::ImportRecord> records,
                      std::vector<Account>& accounts, int64_t now);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_ACCOUNT_WRITER_H_

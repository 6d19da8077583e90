// The account directory mailwarden-policyd answers from: who may send and receive, with
// which quota, and when they last logged in (REGULATIONS.md A1-A8).
//
// An Account is what the directory stores; its *effective* state (effective_state.h) is
// computed at request time from the stored state, the dates and the configuration, so a
// mailbox unused for 90 days is suspended without a job having to run.
//
// AccountDirectory is the storage interface. Implementations: SQLite (the embedded
// default, one file, WAL) and PostgreSQL (several MTAs sharing one directory). Every method
// is thread-safe and bounded in time: a store that cannot answer within its budget returns
// kTimeout or kUnavailable, never hangs, and the caller applies
// accounts.on_unavailable. Addresses are compared case-insensitively (stored lower case);
// an alias resolves to the account it names.
#ifndef MAILWARDEN_POLICYD_STORE_ACCOUNT_DIRECTORY_H_
#define MAILWARDEN_POLICYD_STORE_ACCOUNT_DIRECTORY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mailwarden {

enum class AccountKind { kPersonal, kUnit, kShared };
enum class AccountRole { kUser, kAdmin };
enum class AccountState { kActive, kSuspended, kTerminated };

std::string_view AccountKindName(AccountKind k);    // "personal", "unit", "shared"
std::string_view AccountRoleName(AccountRole r);    // "user", "admin"
std::string_view AccountStateName(AccountState s);  // "active", "suspended", "terminated"
std::optional<AccountKind> ParseAccountKind(std::string_view s);
std::optional<AccountRole> ParseAccountRole(std::string_view s);
std::optional<AccountState> ParseAccountState(std::string_view s);

// Times are Unix seconds (UTC).
struct Account {
  std::string address;  // the primary address, lower case
  AccountKind kind = AccountKind::kPersonal;
  AccountRole role = AccountRole::kUser;
  AccountState state = AccountState::kActive;  // as stored
  std::string state_reason;                    // why suspended or terminated ("" if active)
  // When the stored state was last set: for an active account its creation or its last
  // `accounts reactivate`, so an effective-state rule may restart the inactivity clock
  // there. Add/Import: 0 means "now".
  int64_t state_since = 0;
  std::optional<int64_t> terminate_at;  // scheduled termination
  std::optional<int64_t> quota_bytes;   // per-account override of accounts.default_quota
  std::optional<int64_t> password_changed_at;
  std::optional<int64_t> last_login_at;
  int64_t created_at = 0;            // Add: 0 means "now"; Import: 0 keeps the stored date
  std::vector<std::string> aliases;  // other addresses delivering to this account
};

// The address as the directory stores and compares it: ASCII lower case, surrounding
// blanks and one pair of angle brackets removed ("<Alice@Example.ORG>" -> "alice@example.org").
std::string NormalizeAddress(std::string_view address);

// Current mailbox usage, as the mail store counts it (Dovecot's quota table, or imported).
struct MailboxUsage {
  int64_t bytes = 0;
  int64_t messages = 0;
};

class AccountDirectory {
 public:
  virtual ~AccountDirectory() = default;

  // The account `address` (or an alias of it) belongs to; nullopt when none.
  virtual Result<std::optional<Account>> Find(std::string_view address) const = 0;
  // The mailbox usage of `account_address` (a primary address); nullopt when unknown.
  virtual Result<std::optional<MailboxUsage>> Usage(std::string_view account_address) const = 0;

  // Administration (the CLI, imports, tests). kNotFound for an unknown account,
  // kInvalidArgument for a bad value, kAlreadyExists when adding an existing address.
  virtual Status Add(const Account& account) = 0;
  virtual Status Update(const Account& account) = 0;  // by account.address; aliases replaced
  virtual Result<std::vector<Account>> List() const = 0;
  virtual Status SetUsage(std::string_view account_address, const MailboxUsage& usage) = 0;
  virtual Status RecordLogin(std::string_view account_address, int64_t when) = 0;

  // Change marks, so that a cache may keep answers until the data changes instead of for
  // a fixed time: a number that differs from every earlier one once data Find()
  // (AccountsMark) or Usage() (UsageMark) serves may have changed, whoever changed it
  // (the CLI, another host, a trigger); nullopt when the store cannot tell (a cache then
  // falls back to accounts.cache_ms). A change is reflected within about kChangeLagMs.
  // Called on every cached lookup, on the event loop too, so it must stay cheap: memory
  // reads, plus at most one local poll per kChangeLagMs with a short budget of its own
  // (SQLite's PRAGMA data_version; PostgreSQL's listener runs in a thread of its own), and
  // it never waits for a busy store. A caller takes the mark *before* the read whose
  // answer it caches, so an answer read before a change is never filed under a mark taken
  // after it.
  static constexpr int64_t kChangeLagMs = 100;
  virtual std::optional<uint64_t> AccountsMark() const { return std::nullopt; }
  virtual std::optional<uint64_t> UsageMark() const { return std::nullopt; }

  // One line of an import (accounts_cli's CSV): the account, and its usage when given.
  struct ImportRecord {
    Account account;
    std::optional<MailboxUsage> usage;
    std::string origin;  // where it was read ("accounts.csv:12"), prefixed to errors about it
  };
  // Adds or replaces every record as one transaction: all are applied or none is. A
  // replaced account keeps its created_at when the record has 0, and its state_since when
  // the state does not change. The default refuses (kInvalidArgument): a store that cannot
  // apply a batch atomically must not pretend to.
  virtual Status Import(std::span<const ImportRecord> records);
};

// How an AccountDirectory is opened.
struct AccountDirectoryOptions {
  // Budget for one call (lock waits included). A daemon answering Postfix keeps it well
  // under Postfix's policy timeout (accounts.timeout_ms); the admin CLI uses more.
  int64_t timeout_ms = 200;
  // Connections kept for concurrent callers; a caller finding all of them busy waits at
  // most timeout_ms (then kTimeout).
  int max_connections = 8;
};

// Opens the directory named by `spec`, "sqlite:/var/lib/mailwarden/accounts.db" or a libpq
// URI "postgresql://user@host:port/db?..." (also "postgres://", passed to libpq as it is),
// creating the database file or the tables and applying pending schema migrations.
// kInvalidArgument for a spec it does not understand, kUnavailable (with the path or
// host/database and the reason; never a password) or kTimeout when the store cannot be used.
Result<std::unique_ptr<AccountDirectory>> OpenAccountDirectory(
    const std::string& spec, const AccountDirectoryOptions& options = {});

// `spec` as it may be logged: a PostgreSQL URI's password (user:PASSWORD@ or ?password=)
// replaced by "***"; other specs unchanged.
std::string AccountDirectorySpecForLog(const std::string& spec);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_ACCOUNT_DIRECTORY_H_

// What every SQL account store shares: the checks before a write (addresses normalised and
// shaped like local@domain, the explicit limits on aliases and state reasons), the origin
// prefix of import errors, how an import merges a record with the stored account, and the
// decoding of an account row. Shared by the SQLite and PostgreSQL stores so that both accept
// and refuse exactly the same values with the same messages. Pure functions; thread-safe.
#ifndef MAILWARDEN_POLICYD_STORE_ACCOUNT_VALIDATION_H_
#define MAILWARDEN_POLICYD_STORE_ACCOUNT_VALIDATION_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "policyd/store/account_directory.h"

namespace mailwarden {

inline constexpr size_t kMaxAccountAddressLength = 320;  // 64 (local part) + 1 + 255 (domain)
inline constexpr size_t kMaxAccountAliases = 1000;
// State reasons end up in SMTP replies (effective_state.h), which Postfix limits per line.
inline constexpr size_t kMaxStateReasonLength = 200;

// kInvalidArgument unless `address` (normalised) looks like local@domain and holds nothing
// that would break a CSV line, a table column or an SMTP reply; `what` names it ("alias").
Status CheckAccountAddress(std::string_view address, std::string_view what);

// `in` with its addresses normalised, its aliases sorted and deduplicated, and every field
// checked (kInvalidArgument naming the account otherwise).
Result<Account> ValidatedAccount(const Account& in);

// A copy of `s` whose message starts with `origin` ("accounts.csv:12"); store failures
// (timeouts, I/O) are not about the record and keep their message.
Status PrefixedWithOrigin(const Status& s, const std::string& origin);

// The current time, Unix seconds: what Add/Import fill in for a 0 date.
int64_t AccountStoreNow();

// What an import keeps of an account already stored under the same address.
struct StoredAccountState {
  AccountState state;
  int64_t state_since;
  int64_t created_at;
};

// Fills the dates of imported `a` (Import's contract in account_directory.h): a replaced
// account keeps its created_at when the record has 0 and its state_since when the state does
// not change; what is still 0 becomes `now` (state_since: the creation for a new account).
void MergeImportedDates(Account& a, const std::optional<StoredAccountState>& stored, int64_t now);

// The account in `row`, whose columns are, in order: address, kind, role, state,
// state_reason, state_since, terminate_at, quota_bytes, password_changed_at, last_login_at,
// created_at, and the aliases separated by spaces. `Row` reads them with ColumnText(i),
// ColumnInt(i) and ColumnOptionalInt(i) (sqlite_db.h's SqliteQuery, pg_db.h's PgRows::Row).
// A kind, role or state unknown to this version is kUnavailable naming `store`: a broken
// store, not something to guess at.
template <typename Row>
Result<Account> AccountFromRow(const Row& row, std::string_view store) {
  Account a;
  a.address = row.ColumnText(0);
  auto kind = ParseAccountKind(row.ColumnText(1));
  auto role = ParseAccountRole(row.ColumnText(2));
  auto state = ParseAccountState(row.ColumnText(3));
  if (!kind || !role || !state) {
    return Status::Unavailable(std::string(store) + ": account " + a.address +
                               " has kind/role/state '" + row.ColumnText(1) + "/" +
                               row.ColumnText(2) + "/" + row.ColumnText(3) +
                               "', unknown to this version");
  }
  a.kind = *kind;
  a.role = *role;
  a.state = *state;
  a.state_reason = row.ColumnText(4);
  a.state_since = row.ColumnInt(5);
  a.terminate_at = row.ColumnOptionalInt(6);
  a.quota_bytes = row.ColumnOptionalInt(7);
  a.password_changed_at = row.ColumnOptionalInt(8);
  a.last_login_at = row.ColumnOptionalInt(9);
  a.created_at = row.ColumnInt(10);
  std::string aliases = row.ColumnText(11);  // space-separated; addresses hold no spaces
  for (size_t start = 0; start < aliases.size();) {
    size_t end = std::min(aliases.find(' ', start), aliases.size());
    if (end > start) a.aliases.push_back(aliases.substr(start, end - start));
    start = end + 1;
  }
  std::sort(a.aliases.begin(), a.aliases.end());
  return a;
}

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_ACCOUNT_VALIDATION_H_

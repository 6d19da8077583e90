// Accounts from CSV, for `mailwarden-policyd accounts import FILE.csv` (docs/accounts.md):
// a site without Dovecot exports its directory, logins and usage from whatever it runs.
//
// The first line is a header naming the columns, in any order, case-insensitive:
//   address (required), kind, role, state, state_reason, quota, password_changed_at,
//   last_login_at, created_at, terminate_at, aliases, usage_bytes, usage_messages
// An empty cell means the default: kind personal, role user, state active, the default
// quota (also spelled "default"), no date; created_at empty keeps an existing account's
// date. Dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] (civil_time.h); sizes as in
// the configuration ("2GiB", "512MB", bytes). Aliases in one cell are separated by spaces,
// ';' or (inside quotes) commas. Fields follow RFC 4180 (double quotes, "" inside quotes),
// except that a record is exactly one line: a quoted line break is an error, so that line
// numbers in messages are the editor's. A UTF-8 byte-order mark and CRLF line ends are
// accepted (spreadsheet exports); blank lines are skipped.
//
// Pure and thread-safe. Checks the file as a whole: on any problem it returns kParseError
// with one "FILE:LINE: reason" line per problem (the first kMaxCsvErrors) and no records,
// so an import is all or nothing from the first step.
#ifndef MAILWARDEN_POLICYD_STORE_ACCOUNT_CSV_H_
#define MAILWARDEN_POLICYD_STORE_ACCOUNT_CSV_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policyd/store/account_directory.h"

namespace mailwarden {

inline constexpr size_t kMaxCsvLines = 1000000;
inline constexpr size_t kMaxCsvLineLength = 65536;
inline constexpr size_t kMaxCsvErrors = 20;

// The records of `text`, each with origin "FILE:LINE" (`file_name` as given).
Result<std::vector<AccountDirectory::ImportRecord>> ParseAccountCsv(std::string_view text,
                                                                    std::string_view file_name);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_ACCOUNT_CSV_H_

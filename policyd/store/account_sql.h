// The SQL of the account stores (sqlite_account_directory.cc, pg_account_directory.cc),
// written once. Internal to those two files.
//
// The texts use SQLite's numbered placeholders (?1, ?2, ...): the SQLite store passes these
// literals as they are (its statement cache is keyed by their address), the PostgreSQL store
// turns them into $1, $2, ... once (PgPlaceholders, pg_db.h). The few pieces where the
// dialects differ are arguments of the macros below; the schemas (column types) stay with
// each store's migrations. Every value is bound: nothing here is ever built from input.
#ifndef MAILWARDEN_POLICYD_STORE_ACCOUNT_SQL_H_
#define MAILWARDEN_POLICYD_STORE_ACCOUNT_SQL_H_

#include <string_view>

// The account columns in the order AccountFromRow (account_validation.h) reads them.
// `ALIAS_LIST` aggregates `alias` into one space-separated text (SQLite's group_concat,
// PostgreSQL's string_agg). The aliases come from a correlated subquery so that one statement
// (one snapshot) returns a consistent account.
#define MW_ACCOUNT_COLUMNS(ALIAS_LIST)                                                  \
  "a.address, a.kind, a.role, a.state, a.state_reason, a.state_since, a.terminate_at, " \
  "a.quota_bytes, a.password_changed_at, a.last_login_at, a.created_at, "               \
  "(SELECT " ALIAS_LIST " FROM aliases WHERE account = a.address)"

// The account whose address or alias is ?1.
#define MW_ACCOUNT_FIND_SQL(ALIAS_LIST) \
  "SELECT " MW_ACCOUNT_COLUMNS(ALIAS_LIST) " FROM accounts a WHERE a.address IN " \
                                           "(?1, (SELECT account FROM aliases WHERE alias = ?1))"

// Every account, by address.
#define MW_ACCOUNT_LIST_SQL(ALIAS_LIST) \
  "SELECT " MW_ACCOUNT_COLUMNS(ALIAS_LIST) " FROM accounts a ORDER BY a.address"

// Logins reported out of order never move last_login_at back. `MAX` is the two-argument
// maximum (SQLite's max, PostgreSQL's greatest).
#define MW_ACCOUNT_RECORD_LOGIN_SQL(MAX)     \
  "UPDATE accounts SET last_login_at = " MAX \
  "(coalesce(last_login_at, ?2), ?2) "       \
  "WHERE address = ?1"

namespace mailwarden::account_sql {

inline constexpr char kExisting[] =
    "SELECT state, state_since, created_at FROM accounts WHERE address = ?1";
inline constexpr char kAliasOwner[] = "SELECT account FROM aliases WHERE alias = ?1";
// The parameters of kInsert and kUpdate are the same, in the order of the columns.
inline constexpr char kInsert[] =
    "INSERT INTO accounts (address, kind, role, state, state_reason, state_since, "
    "terminate_at, quota_bytes, password_changed_at, last_login_at, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
inline constexpr char kUpdate[] =
    "UPDATE accounts SET kind = ?2, role = ?3, state = ?4, state_reason = ?5, "
    "state_since = ?6, terminate_at = ?7, quota_bytes = ?8, password_changed_at = ?9, "
    "last_login_at = ?10, created_at = ?11 WHERE address = ?1";
inline constexpr char kDeleteAliases[] = "DELETE FROM aliases WHERE account = ?1";
inline constexpr char kInsertAlias[] = "INSERT INTO aliases (alias, account) VALUES (?1, ?2)";
inline constexpr char kUsage[] = "SELECT bytes, messages FROM usage WHERE account = ?1";
// INSERT ... SELECT ... WHERE: nothing is written for an unknown account (0 rows changed),
// and the WHERE also settles SQLite's INSERT-SELECT-UPSERT parsing ambiguity.
inline constexpr char kSetUsage[] =
    "INSERT INTO usage (account, bytes, messages, updated_at) "
    "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM accounts WHERE address = ?1) "
    "ON CONFLICT (account) DO UPDATE SET bytes = excluded.bytes, "
    "messages = excluded.messages, updated_at = excluded.updated_at";

inline constexpr std::string_view kVersionTable = "schema_version";
inline constexpr char kStoreLabel[] = "accounts store";

}  // namespace mailwarden::account_sql

#endif  // MAILWARDEN_POLICYD_STORE_ACCOUNT_SQL_H_

// An account directory whose mailbox usage and last logins come from Dovecot's dicts
// (dovecot_dicts.h) rather than from imports: accounts.dovecot_quota and
// accounts.dovecot_last_login.
//
// It wraps the directory that holds the accounts (SQLite or PostgreSQL) and answers:
//  * Usage(): Dovecot's quota row for the account's primary address; when Dovecot has none
//    (a mailbox it has never opened), what the directory holds (an import), else nullopt;
//  * Find() and List(): the account with last_login_at the later of the directory's and
//    Dovecot's, so an account is inactive only when neither knows of a login;
//  * everything else: the wrapped directory.
// A Dovecot source that fails or runs out of time fails the call (the rule's on_unavailable
// then applies): a suspension must never rest on a login record that could not be read.
// Find() makes two bounded calls, so it may take up to twice accounts.timeout_ms.
#ifndef MAILWARDEN_POLICYD_STORE_DOVECOT_DIRECTORY_H_
#define MAILWARDEN_POLICYD_STORE_DOVECOT_DIRECTORY_H_

#include <memory>

#include "common/config.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/dovecot_dicts.h"

namespace mailwarden {

// `quota` and `last_login` may each be null (that source is not used); with both null,
// `directory` itself is returned.
std::unique_ptr<AccountDirectory> WithDovecotDicts(std::unique_ptr<AccountDirectory> directory,
                                                   std::unique_ptr<DovecotQuota> quota,
                                                   std::unique_ptr<DovecotLastLogin> last_login);

// `directory` with the Dovecot dicts `config` names (accounts.dovecot_quota,
// accounts.dovecot_last_login, their _table and _key settings) attached, each read within
// `timeout_ms` per call; `directory` itself when neither is set. Errors name the setting:
// kInvalidArgument for a value this build does not understand, kUnavailable for a source
// that cannot be opened (a missing file, table or server).
Result<std::unique_ptr<AccountDirectory>> AttachDovecotDicts(
    std::unique_ptr<AccountDirectory> directory, const Config& config, int64_t timeout_ms);

// Whether the two settings differ between `a` and `b` (a reload reopens the directory).
bool DovecotDictSettingsDiffer(const Config& a, const Config& b);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_DOVECOT_DIRECTORY_H_

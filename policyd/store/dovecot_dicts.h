// Dovecot's own record of a mailbox, read where Dovecot writes it, so that a site running
// Dovecot needs no job copying usage and logins into the account directory:
//
//  * the quota dict (`quota = dict:User quota::proxy::<name>` with an SQL dict): Dovecot keeps
//    one row per user in a table laid out as its documentation shows,
//        quota(username, bytes, messages)
//    updated on every delivery and expunge;
//  * the last-login dict of the last_login plugin (`last_login_dict`), written at each IMAP or
//    POP3 login: with an SQL dict, a map of `shared/last-login/$user` onto
//        last_login(username, last_login)
//    and with Redis (`last_login_dict = redis:...`), the key `last_login_key` ("last-login/%u"
//    by default) holding the time as text.
//
// The username is Dovecot's %u; the directory looks an account up by its primary address,
// so Dovecot's usernames must be full addresses (the common `user@domain` login). A value
// is Unix time in the plugin's last_login_precision (s, ms, us or ns); the unit is told
// from the magnitude (any real time in seconds is below 10^11), so a precision change on
// the Dovecot side needs none here.
//
// Every call is bounded by the reader's budget (timeout_ms) and never throws: a source that
// cannot answer in time is kTimeout, one that fails kUnavailable naming it. A missing row
// or key is nullopt, not an error: a mailbox Dovecot has never touched.
#ifndef MAILWARDEN_POLICYD_STORE_DOVECOT_DICTS_H_
#define MAILWARDEN_POLICYD_STORE_DOVECOT_DICTS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "policyd/store/account_directory.h"

namespace mailwarden {

// Current usage of a mailbox as Dovecot's quota dict counts it.
class DovecotQuota {
 public:
  virtual ~DovecotQuota() = default;
  virtual Result<std::optional<MailboxUsage>> Usage(std::string_view username) const = 0;
};

// The last login the last_login plugin recorded (Unix seconds).
class DovecotLastLogin {
 public:
  virtual ~DovecotLastLogin() = default;
  virtual Result<std::optional<int64_t>> LastLogin(std::string_view username) const = 0;
};

struct DovecotDictOptions {
  int64_t timeout_ms = 200;
  // SQL: the table Dovecot's dict map writes ("quota", "last_login"); an SQL identifier
  // ([A-Za-z_][A-Za-z0-9_.]*, at most 63 characters; a dot names a schema).
  std::string table;
  // Redis only: the key, with %u standing for the username (Dovecot's last_login_key,
  // prefixed with the Redis dict's own `prefix` if one is set there).
  std::string key = "last-login/%u";
};

// `spec`: "sqlite:/path/to/dovecot-dict.db" or "postgresql://..." (quota and last login), or
// "redis://host:port[/db]" / "redis+unix:/path" (last login). kInvalidArgument for a spec or
// option this build does not understand; kUnavailable when the source cannot be opened.
Result<std::unique_ptr<DovecotQuota>> OpenDovecotQuota(const std::string& spec,
                                                       const DovecotDictOptions& options);
Result<std::unique_ptr<DovecotLastLogin>> OpenDovecotLastLogin(const std::string& spec,
                                                               const DovecotDictOptions& options);

// The Unix seconds a last-login value holds: text of decimal digits in s, ms, us or ns
// (told apart by magnitude, see above). nullopt for anything else (empty, signs, garbage).
std::optional<int64_t> ParseDovecotLoginTime(std::string_view value);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_DOVECOT_DICTS_H_

// `mailwarden forwarding-audit`: reads the forwarding configuration an admin actually has
// and reports every forwarding target outside the state mail system, before any mail flows.
//
// Sources: Postfix's virtual_alias_maps and alias_maps (through postconf/postmap/postalias,
// expansions followed recursively), .forward files under home directories, Sieve scripts
// (redirect commands), and an LDIF export of a directory (forwarding attributes).
// Output: one JSON object per line (docs/forwarding-audit.md): "forwarding" for each
// forward (only those outside domains.internal/domains.state unless `all`), "notice" for
// what could not be checked, "error" for what stops the audit, and a final "summary".
// Single-threaded; runs external commands (Postfix's tools) without a shell.
#ifndef MAILWARDEN_AUDIT_FORWARDING_AUDIT_H_
#define MAILWARDEN_AUDIT_FORWARDING_AUDIT_H_

#include <ostream>
#include <string>
#include <vector>

#include "common/domain_patterns.h"

namespace mailwarden::audit {

struct AuditOptions {
  bool postfix = true;                        // read Postfix's tables
  std::string postfix_config = "/etc/postfix";  // postconf -c / postmap -c
  bool homes = true;                          // look for .forward and Sieve scripts in homes
  std::string home_root;                      // "": home directories from getpwent()
  std::vector<std::string> sieve_paths;       // explicit files or directories
  std::string ldif;                           // "": none; "-": stdin
  std::vector<std::string> ldap_attributes;   // forwarding attributes in the LDIF
  std::string addresses_file;                 // internal addresses to ask query-only tables
  std::vector<std::string> internal_domains;  // domains.internal, for mailbox names
  bool all = false;                           // report allowed forwards too
};

// The LDAP attributes read by default (Zimbra, qmail-ldap/ISPConfig, sendmail, postfix-book).
std::vector<std::string> DefaultLdapAttributes();

// Exit status of the audit.
constexpr int kAuditClean = 0;
constexpr int kAuditViolations = 1;
constexpr int kAuditError = 2;

// Runs the audit, writing JSON lines to `out`; returns kAuditClean, kAuditViolations or
// kAuditError (the audit could not run as asked: Postfix's tools missing, an input named
// on the command line unreadable).
int RunForwardingAudit(const AuditOptions& options, const MailDomains& domains,
                       std::ostream& out);

}  // namespace mailwarden::audit

#endif  // MAILWARDEN_AUDIT_FORWARDING_AUDIT_H_

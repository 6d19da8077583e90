// Domain lists as an admin writes them for the forwarding rules (domains.state,
// domains.public_providers), and the organisation's view of a domain: internal, issued by
// the state, a public mail provider, or other.
//
// A pattern is one of:
//   "gov.vn"      that domain and every subdomain of it
//   "*.gov.vn"    every subdomain of gov.vn, not gov.vn itself
//   "gmx.*"       gmx under any suffix: gmx.de, gmx.net, gmx.co.uk (not gmx itself)
// Matching is ASCII case-insensitive and ignores a trailing dot on the matched domain. A
// pattern is at most 253 characters of letters, digits, '-', '.', with at most one '*'
// which must be a whole first or last label.
//
// Immutable once built: const methods may be called concurrently.
#ifndef MAILWARDEN_COMMON_DOMAIN_PATTERNS_H_
#define MAILWARDEN_COMMON_DOMAIN_PATTERNS_H_

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace mailwarden {

struct Config;

class DomainPatterns {
 public:
  // "" when `pattern` is one of the three forms above, else one printable line saying why
  // not.
  static std::string EntryProblem(std::string_view pattern);
  // The list of `patterns`; kInvalidArgument with one EntryProblem() line per bad entry.
  static Result<DomainPatterns> Parse(const std::vector<std::string>& patterns);
  // The pattern `domain` matches (as written, lower case), or nothing.
  std::optional<std::string> Match(std::string_view domain) const;
  bool empty() const { return exact_.empty() && subdomains_.empty() && prefixes_.empty(); }

 private:
  std::unordered_set<std::string> exact_;       // "gov.vn": it and its subdomains
  std::unordered_set<std::string> subdomains_;  // "*.gov.vn" stored as "gov.vn"
  std::unordered_set<std::string> prefixes_;    // "gmx.*" stored as "gmx"
};

// Where a mail domain stands for the forwarding rules.
enum class DomainKind {
  kInternal,        // domains.internal: this organisation
  kState,           // domains.state: issued by the state, not this organisation
  kPublicProvider,  // domains.public_providers: a public mailbox provider
  kOther,           // anything else (also outside the state mail system)
};
std::string_view DomainKindName(
    DomainKind kind);  // "internal", "state", "public_provider", "other"

class MailDomains {
 public:
  // From domains.internal, domains.state and domains.public_providers; kInvalidArgument
  // when an entry is not a pattern (the config loader has already checked them).
  static Result<MailDomains> Build(const Config& config);
  static Result<MailDomains> Build(const std::vector<std::string>& internal,
                                   const std::vector<std::string>& state,
                                   const std::vector<std::string>& public_providers);

  // Internal domains come first, so an internal domain under a state pattern is internal;
  // a domain both state and public provider is state.
  DomainKind Classify(std::string_view domain) const;
  // Internal or state: inside the state mail system. "" (no domain) is not.
  bool IsState(std::string_view domain) const {
    DomainKind k = Classify(domain);
    return k == DomainKind::kInternal || k == DomainKind::kState;
  }
  // Classify() of an address's domain.
  DomainKind ClassifyAddress(std::string_view address) const;

 private:
  DomainPatterns internal_;
  DomainPatterns state_;
  DomainPatterns public_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_DOMAIN_PATTERNS_H_

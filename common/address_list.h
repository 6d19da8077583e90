// A list of email addresses and domains, as an admin writes it in a rule (e.g. the
// `senders` key of sender_blocklist), and the test "is this address on the list".
//
// Each entry is one of:
//   "user@example.org"   that address (the local part compared case-insensitively too,
//                        like most sites treat it, although RFC 5321 lets it be exact)
//   "@example.org"       every address of exactly that domain, not of its subdomains
//   "@.example.org"      every address of any subdomain of example.org, not of
//                        example.org itself (list both to cover both)
// Matching is ASCII case-insensitive; a trailing dot on the matched address's domain is
// ignored. The null sender ("", "<>") and addresses without '@' (or with nothing before
// or after the last '@') never match. The matched address may carry angle brackets.
//
// The configuration loader checks every entry with EntryProblem() (so --check-config
// refuses a bad list with the entry's position); Parse() checks again and builds the list.
// Immutable after Parse(): all methods are const and may be called concurrently.
#ifndef MAILWARDEN_COMMON_ADDRESS_LIST_H_
#define MAILWARDEN_COMMON_ADDRESS_LIST_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace mailwarden {

class AddressList {
 public:
  // "" when `entry` is one of the three forms above, else one printable line saying why
  // not: "'<entry>' is not an address (user@example.org), ...: <reason>".
  static std::string EntryProblem(std::string_view entry);
  // The list of `entries`; kInvalidArgument with one EntryProblem() line per bad entry.
  static Result<AddressList> Parse(const std::vector<std::string>& entries);
  // The entry `address` matches, in normalised form ("blocked@example.net",
  // "@example.org", "@.example.org"), or nothing.
  std::optional<std::string> Match(std::string_view address) const;
  // Distinct entries in the list.
  size_t size() const { return addresses_.size() + domains_.size() + parents_.size(); }

 private:
  std::unordered_set<std::string> addresses_;
  std::unordered_set<std::string> domains_;
  std::unordered_set<std::string> parents_;  // "@.example.org" stored as "example.org"
};

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_ADDRESS_LIST_H_

// A minimal reader of Sieve scripts (RFC 5228) that finds `redirect` commands.
//
// Not an interpreter: it tokenizes the script (identifiers, :tags, numbers, quoted strings
// with their escapes, multi-line `text:` strings with dot-stuffing, `#` and `/* */`
// comments) and looks at commands, so a redirect inside a comment or a string is never taken
// for a live one. Each redirect's address argument is returned with its line; `set "name"
// "value"` commands with a literal value are remembered so that "${name}" in a redirect
// resolves (anything else with "${" is returned as unresolved). Pure functions; never throw.
#ifndef MAILWARDEN_AUDIT_SIEVE_SCAN_H_
#define MAILWARDEN_AUDIT_SIEVE_SCAN_H_

#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::audit {

struct SieveToken {
  enum class Kind { kIdentifier, kTag, kNumber, kString, kSpecial };
  Kind kind = Kind::kSpecial;
  std::string text;  // identifier/tag/number as written (tag without ':'), string decoded,
                     // special: one of ; , [ ] ( ) { }
  int line = 1;
};

struct SieveTokens {
  std::vector<SieveToken> tokens;  // up to the first error
  std::string error;               // "" when the whole script tokenized
  int error_line = 0;
};

// Tokenizes `script`.
SieveTokens TokenizeSieve(std::string_view script);

struct SieveRedirect {
  std::string target;       // the address argument, variables resolved when possible
  int line = 1;             // line of the `redirect` identifier
  bool copy = false;        // :copy (RFC 3894): a copy is kept as well
  bool list = false;        // :list (RFC 6134): target is a list name, not an address
  bool unresolved = false;  // target still holds a "${...}" variable
};

struct SieveScan {
  std::vector<SieveRedirect> redirects;
  std::string error;  // tokenizer or grammar error; redirects before it are still listed
  int error_line = 0;
};

// The redirect commands of `script`.
SieveScan ScanSieveRedirects(std::string_view script);

}  // namespace mailwarden::audit

#endif  // MAILWARDEN_AUDIT_SIEVE_SCAN_H_

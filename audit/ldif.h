// A reader of LDIF (RFC 2849) as ldapsearch prints it: entries separated by blank lines,
// "attr: value", base64 "attr:: value", folded lines (a continuation starts with one space),
// '#' comment lines, a "version: 1" header. "attr:< URL" values are not fetched: they are
// reported as problems. Attribute names are returned lower case without options
// ("mail;lang-vi" is "mail"). Reads a stream of any length entry by entry; one logical line
// is capped at kMaxLdifLineBytes. Never throws.
#ifndef MAILWARDEN_AUDIT_LDIF_H_
#define MAILWARDEN_AUDIT_LDIF_H_

#include <cstddef>
#include <functional>
#include <istream>
#include <string>
#include <utility>
#include <vector>

namespace mailwarden::audit {

constexpr size_t kMaxLdifLineBytes = 1 << 20;

struct LdifEntry {
  std::string dn;
  int line = 0;  // line of the dn
  std::vector<std::pair<std::string, std::string>> attributes;  // (name, value), in order

  // Values of attribute `name` (lower case).
  std::vector<std::string> Values(const std::string& name) const;
};

// Calls `each` for every entry of `in`; every line that could not be read is appended to
// `problems` as "line N: reason". Returns the number of entries.
size_t ReadLdif(std::istream& in, const std::function<void(const LdifEntry&)>& each,
                std::vector<std::string>* problems);

}  // namespace mailwarden::audit

#endif  // MAILWARDEN_AUDIT_LDIF_H_

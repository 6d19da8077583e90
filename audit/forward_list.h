// Forwarding lists as Postfix's local(8) reads them: a .forward file, an :include: file, and
// the right-hand side of an alias_maps or virtual_alias_maps entry.
//
// Entries are separated by commas and line breaks; whitespace separates entries too, except
// inside double quotes and in a "Display Name <address>" entry. Lines starting with '#' are
// comments. An entry is an address (user@domain, angle brackets removed), a local name
// ("bob", "\bob"), a command ("|/usr/bin/procmail"), a file ("/var/mail/archive") or an
// include (":include:/etc/mail/list"). Pure functions; never throw.
#ifndef MAILWARDEN_AUDIT_FORWARD_LIST_H_
#define MAILWARDEN_AUDIT_FORWARD_LIST_H_

#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::audit {

struct ForwardItem {
  enum class Kind { kAddress, kLocal, kCommand, kFile, kInclude };
  Kind kind = Kind::kAddress;
  // kAddress: the address; kLocal: the name without '\'; kCommand: the command without '|';
  // kFile: the path; kInclude: the included file's path.
  std::string value;
  int line = 1;  // 1-based line of `text` the entry is on
};

// The entries of `text`, in order.
std::vector<ForwardItem> ParseForwardList(std::string_view text);

// The lines of `text` without their '\n' (a last line without one included).
std::vector<std::string_view> SplitLines(std::string_view text);

// "address", "local", "command", "file", "include".
std::string_view ForwardItemKindName(ForwardItem::Kind kind);

}  // namespace mailwarden::audit

#endif  // MAILWARDEN_AUDIT_FORWARD_LIST_H_

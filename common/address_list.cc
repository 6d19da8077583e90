// Parses and matches address lists.
//
// Distrusts the entries (admin-written, possibly with YAML escapes for control bytes) and
// the matched address (it comes from the SMTP client): entries with spaces, control
// characters, angle brackets or commas are refused, and error messages show an entry cut
// to kMaxShown bytes with control bytes as '?', so one error stays one printable line.
// Matching costs one hash lookup per label of the address's domain.
#include "common/address_list.h"

namespace mailwarden {
namespace {

constexpr size_t kMaxShown = 100;

enum class EntryKind { kAddress, kDomain, kParent };

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// `entry` for an error message: cut, control bytes and DEL replaced.
std::string Shown(std::string_view entry) {
  std::string out(entry.substr(0, kMaxShown));
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (entry.size() > kMaxShown) out += "...";
  return out;
}

// "" when `domain` is a plausible domain name, else why not.
std::string DomainProblem(std::string_view domain) {
  if (domain.empty()) return "the domain is empty";
  if (domain.find('@') != std::string_view::npos) return "the domain holds a second '@'";
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return "the domain has an empty label";
  }
  return "";
}

// Sorts `raw` into one of the three forms: "" and `*kind`, `*key` (lower-case; the
// domain alone for kDomain and kParent) on success, else why it is none of them.
std::string Classify(std::string_view raw, EntryKind* kind, std::string* key) {
  if (raw.empty()) return "the entry is empty";
  for (char c : raw) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == ',') {
      return "it holds a space, a control character, '<', '>' or ','; write one entry "
             "per list item, without angle brackets";
    }
  }
  std::string entry = LowerAscii(raw);
  std::string_view domain;
  if (entry.rfind("@.", 0) == 0) {
    *kind = EntryKind::kParent;
    domain = std::string_view(entry).substr(2);
  } else if (entry.front() == '@') {
    *kind = EntryKind::kDomain;
    domain = std::string_view(entry).substr(1);
  } else {
    size_t at = entry.rfind('@');
    if (at == std::string::npos) return "it has no '@'";
    *kind = EntryKind::kAddress;
    domain = std::string_view(entry).substr(at + 1);
  }
  if (std::string why = DomainProblem(domain); !why.empty()) return why;
  *key = *kind == EntryKind::kAddress ? entry : std::string(domain);
  return "";
}

}  // namespace

std::string AddressList::EntryProblem(std::string_view entry) {
  EntryKind kind;
  std::string key;
  std::string why = Classify(entry, &kind, &key);
  if (why.empty()) return "";
  return "'" + Shown(entry) +
         "' is not an address (user@example.org), \"@domain\" or \"@.domain\": " + why;
}

Result<AddressList> AddressList::Parse(const std::vector<std::string>& entries) {
  AddressList list;
  std::string errors;
  for (const std::string& raw : entries) {
    EntryKind kind;
    std::string key;
    if (Classify(raw, &kind, &key).empty()) {
      switch (kind) {
        case EntryKind::kAddress:
          list.addresses_.insert(std::move(key));
          break;
        case EntryKind::kDomain:
          list.domains_.insert(std::move(key));
          break;
        case EntryKind::kParent:
          list.parents_.insert(std::move(key));
          break;
      }
      continue;
    }
    if (!errors.empty()) errors += "\n";
    errors += EntryProblem(raw);
  }
  if (!errors.empty()) return Status::InvalidArgument(errors);
  return list;
}

std::optional<std::string> AddressList::Match(std::string_view address) const {
  if (size() == 0) return std::nullopt;
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return std::nullopt;
  std::string lower = LowerAscii(address);
  if (lower.back() == '.') lower.pop_back();  // "example.org." is example.org
  if (addresses_.count(lower)) return lower;
  std::string_view domain = std::string_view(lower).substr(at + 1);
  std::string key(domain);
  if (domains_.count(key)) return "@" + key;
  // Each parent of the domain, nearest first; bounded by the domain's length.
  for (size_t dot = domain.find('.'); dot != std::string_view::npos;
       dot = domain.find('.', dot + 1)) {
    key.assign(domain.substr(dot + 1));
    if (parents_.count(key)) return "@." + key;
  }
  return std::nullopt;
}

}  // namespace mailwarden

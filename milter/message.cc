#include "milter/message.h"

#include <strings.h>

#include <algorithm>

namespace mailwarden {

std::string_view DirectionName(Direction d) {
  switch (d) {
    case Direction::kInbound:
      return "inbound";
    case Direction::kOutbound:
      return "outbound";
    case Direction::kInternal:
      return "internal";
    case Direction::kExternal:
      return "external";
  }
  return "external";
}

void Message::AddHeader(std::string name, std::string value) {
  // On the wire: "Name: value\r\n". MTAs hand milters folded values with bare "\n"
  // between the lines, each of which was "\r\n" on the wire.
  uint64_t bare_newlines = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) ++bare_newlines;
  }
  header_bytes_ += name.size() + 2 + value.size() + bare_newlines + 2;
  headers_.push_back({std::move(name), std::move(value)});
}

const HeaderField* Message::FindHeader(std::string_view name) const {
  for (const auto& h : headers_) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return &h;
    }
  }
  return nullptr;
}

std::string DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string domain(address.substr(at + 1));
  while (!domain.empty() && (domain.back() == '>' || domain.back() == '.')) domain.pop_back();
  for (char& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return domain;
}

namespace {
bool IsInternal(const std::string& domain, const std::vector<std::string>& internal) {
  if (domain.empty()) return false;
  return std::any_of(internal.begin(), internal.end(), [&](const std::string& d) {
    // A listed domain covers its subdomains: "bacgiang.gov.vn" covers "so.bacgiang.gov.vn".
    return domain == d || (domain.size() > d.size() && domain.ends_with("." + d));
  });
}
}  // namespace

Direction ClassifyDirection(const Envelope& envelope,
                            const std::vector<std::string>& internal_domains) {
  bool from_inside =
      IsInternal(DomainOf(envelope.mail_from), internal_domains) || !envelope.auth_user.empty();
  bool any_internal = false, any_external = false;
  for (const auto& r : envelope.recipients) {
    (IsInternal(DomainOf(r), internal_domains) ? any_internal : any_external) = true;
  }
  if (from_inside) return any_external ? Direction::kOutbound : Direction::kInternal;
  return any_internal ? Direction::kInbound : Direction::kExternal;
}

}  // namespace mailwarden

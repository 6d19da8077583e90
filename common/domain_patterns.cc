#include "common/domain_patterns.h"

#include "common/ascii.h"
#include "common/config.h"
#include "common/rule_scope.h"

namespace mailwarden {
namespace {

constexpr size_t kMaxDomainLength = 253;

// Letters, digits, '-' and '.', no empty label, not starting or ending with '.'.
bool IsDomainName(std::string_view d) {
  if (d.empty() || d.size() > kMaxDomainLength || d.front() == '.' || d.back() == '.') return false;
  char prev = 0;
  for (char c : d) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

}  // namespace

std::string DomainPatterns::EntryProblem(std::string_view pattern) {
  auto bad = [&](const char* why) {
    return "'" + std::string(pattern) +
           "' is not a domain pattern (example.org, *.example.org, example.*): " + why;
  };
  std::string_view d = pattern;
  if (d.starts_with("*."))
    d.remove_prefix(2);
  else if (d.ends_with(".*"))
    d.remove_suffix(2);
  if (d.find('*') != std::string_view::npos)
    return bad("'*' may only be a whole first or last label");
  if (d.find('@') != std::string_view::npos) return bad("a domain, not an address");
  if (!IsDomainName(d)) return bad("letters, digits, '-' and '.' between labels");
  return "";
}

Result<DomainPatterns> DomainPatterns::Parse(const std::vector<std::string>& patterns) {
  DomainPatterns out;
  std::string problems;
  for (const auto& p : patterns) {
    if (std::string why = EntryProblem(p); !why.empty()) {
      problems += (problems.empty() ? "" : "\n") + why;
      continue;
    }
    std::string lower = AsciiLower(p);
    if (lower.starts_with("*."))
      out.subdomains_.insert(lower.substr(2));
    else if (lower.ends_with(".*"))
      out.prefixes_.insert(lower.substr(0, lower.size() - 2));
    else
      out.exact_.insert(lower);
  }
  if (!problems.empty()) return Status::InvalidArgument(problems);
  return out;
}

std::optional<std::string> DomainPatterns::Match(std::string_view domain) const {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > kMaxDomainLength) return std::nullopt;
  std::string d = AsciiLower(domain);
  // Walk the parents of d: "a.b.gov.vn", "b.gov.vn", "gov.vn", "vn". The first step is d
  // itself, which a "*." pattern does not cover.
  for (size_t pos = 0; pos != std::string::npos;) {
    std::string_view suffix = std::string_view(d).substr(pos);
    if (exact_.count(std::string(suffix))) return std::string(suffix);
    if (pos > 0 && subdomains_.count(std::string(suffix))) return "*." + std::string(suffix);
    size_t dot = d.find('.', pos);
    pos = dot == std::string::npos ? dot : dot + 1;
  }
  if (!prefixes_.empty()) {
    // "gmx.*": the first label(s) before some suffix. Try every proper prefix ending at a dot.
    for (size_t dot = d.find('.'); dot != std::string::npos; dot = d.find('.', dot + 1)) {
      std::string head = d.substr(0, dot);
      if (prefixes_.count(head)) return head + ".*";
    }
  }
  return std::nullopt;
}

std::string_view DomainKindName(DomainKind kind) {
  switch (kind) {
    case DomainKind::kInternal:
      return "internal";
    case DomainKind::kState:
      return "state";
    case DomainKind::kPublicProvider:
      return "public_provider";
    case DomainKind::kOther:
      return "other";
  }
  return "other";
}

Result<MailDomains> MailDomains::Build(const std::vector<std::string>& internal,
                                       const std::vector<std::string>& state,
                                       const std::vector<std::string>& public_providers) {
  MailDomains out;
  auto i = DomainPatterns::Parse(internal);
  if (!i.ok()) return Status::InvalidArgument("domains.internal: " + i.status().message());
  auto s = DomainPatterns::Parse(state);
  if (!s.ok()) return Status::InvalidArgument("domains.state: " + s.status().message());
  auto p = DomainPatterns::Parse(public_providers);
  if (!p.ok()) return Status::InvalidArgument("domains.public_providers: " + p.status().message());
  out.internal_ = std::move(*i);
  out.state_ = std::move(*s);
  out.public_ = std::move(*p);
  return out;
}

Result<MailDomains> MailDomains::Build(const Config& config) {
  return Build(config.internal_domains, config.value("domains.state").list,
               config.value("domains.public_providers").list);
}

DomainKind MailDomains::Classify(std::string_view domain) const {
  if (domain.empty()) return DomainKind::kOther;
  if (internal_.Match(domain)) return DomainKind::kInternal;
  if (state_.Match(domain)) return DomainKind::kState;
  if (public_.Match(domain)) return DomainKind::kPublicProvider;
  return DomainKind::kOther;
}

DomainKind MailDomains::ClassifyAddress(std::string_view address) const {
  return Classify(DomainOf(address));
}

}  // namespace mailwarden

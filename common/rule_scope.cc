#include "common/rule_scope.h"

#include <algorithm>

#include "common/config.h"
#include "common/domain_patterns.h"

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

std::optional<Direction> ParseDirection(std::string_view name) {
  for (Direction d :
       {Direction::kInbound, Direction::kOutbound, Direction::kInternal, Direction::kExternal}) {
    if (DirectionName(d) == name) return d;
  }
  return std::nullopt;
}

std::string DomainOf(std::string_view address) {
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string domain(address.substr(at + 1));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  for (char& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return domain;
}

Result<Locality> Locality::Build(const Config& config) {
  Locality l;
  auto internal = DomainPatterns::Parse(config.internal_domains);
  if (!internal.ok())
    return Status::InvalidArgument("domains.internal: " + internal.status().message());
  l.internal_domains_ = std::move(internal).value();
  auto trusted = NetworkList::Parse(config.trusted_networks);
  if (!trusted.ok()) return trusted.status();
  l.trusted_ = std::move(trusted).value();
  return l;
}

bool Locality::IsInternalDomain(std::string_view domain) const {
  // A listed domain covers its subdomains: "bacgiang.gov.vn" covers "so.bacgiang.gov.vn".
  return internal_domains_.Match(domain).has_value();
}

Direction Locality::Classify(const ScopeInput& input) const {
  bool from_inside = input.authenticated || IsTrustedClient(input.client_address) ||
                     IsInternalDomain(DomainOf(input.sender));
  bool any_internal = false, any_external = false;
  for (const auto& r : input.recipients) {
    (IsInternalDomain(DomainOf(r)) ? any_internal : any_external) = true;
  }
  if (from_inside) return any_external ? Direction::kOutbound : Direction::kInternal;
  return any_internal ? Direction::kInbound : Direction::kExternal;
}

Result<RuleScope::Condition> RuleScope::BuildCondition(const RuleCondition& spec) {
  Condition c;
  c.present = spec.present;
  if (!spec.present) return c;
  for (const auto& [key, value] : spec.params) {
    if (key == "direction") {
      for (const auto& name : value.list) {
        if (auto d = ParseDirection(name)) c.directions.push_back(*d);
      }
    } else if (key == "senders" || key == "recipients") {
      auto list = AddressList::Parse(value.list);
      if (!list.ok()) return list.status();
      (key == "senders" ? c.senders : c.recipients) = std::move(list).value();
    } else if (key == "authenticated") {
      c.authenticated = value.flag;
    } else if (key == "client_networks") {
      auto list = NetworkList::Parse(value.list);
      if (!list.ok()) return list.status();
      c.client_networks = std::move(list).value();
    }
  }
  return c;
}

Result<RuleScope> RuleScope::Build(const RuleSpec& rule) {
  RuleScope scope;
  auto when = BuildCondition(rule.when);
  if (!when.ok()) return when.status();
  auto except = BuildCondition(rule.except);
  if (!except.ok()) return except.status();
  scope.when_ = std::move(when).value();
  scope.except_ = std::move(except).value();
  return scope;
}

bool RuleScope::needs_recipients() const {
  return !when_.directions.empty() || when_.recipients || !except_.directions.empty() ||
         except_.recipients;
}

bool RuleScope::Applies(const ScopeInput& in, Direction direction) const {
  auto any_recipient = [&](const AddressList& list) {
    return std::any_of(in.recipients.begin(), in.recipients.end(),
                       [&](const std::string& r) { return list.Match(r).has_value(); });
  };
  auto all_recipients = [&](const AddressList& list) {
    return !in.recipients.empty() &&
           std::all_of(in.recipients.begin(), in.recipients.end(),
                       [&](const std::string& r) { return list.Match(r).has_value(); });
  };
  auto direction_in = [&](const std::vector<Direction>& ds) {
    return std::find(ds.begin(), ds.end(), direction) != ds.end();
  };
  if (when_.present) {
    if (!when_.directions.empty() && !direction_in(when_.directions)) return false;
    if (when_.senders && !when_.senders->Match(in.sender)) return false;
    if (when_.recipients && !any_recipient(*when_.recipients)) return false;
    if (when_.authenticated && *when_.authenticated != in.authenticated) return false;
    if (when_.client_networks && !when_.client_networks->Contains(in.client_address)) return false;
  }
  if (except_.present) {
    if (!except_.directions.empty() && direction_in(except_.directions)) return false;
    if (except_.senders && except_.senders->Match(in.sender)) return false;
    if (except_.recipients && all_recipients(*except_.recipients)) return false;
    if (except_.authenticated && *except_.authenticated == in.authenticated) return false;
    if (except_.client_networks && except_.client_networks->Contains(in.client_address)) {
      return false;
    }
  }
  return true;
}

}  // namespace mailwarden

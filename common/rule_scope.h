// Where a rule applies: the direction of a message, and the `when:` / `except:` conditions
// an admin attaches to a rule.
//
// Direction: mail from inside (an authenticated client, a client in trusted_networks, or a
// sender of an internal domain) to any outside recipient is outbound, to inside recipients
// only internal; mail from outside to an inside recipient is inbound, else external.
//
// A condition is a set of keys: direction, senders, recipients, authenticated,
// client_networks. `when:` applies the rule only when every key it gives matches; `except:`
// skips the rule when any key it gives matches. For recipients, `when` matches if any
// recipient is listed, but `except` only if all of them are, so adding one excepted
// address to a message never exempts its other recipients. Immutable once built: const
// methods may be called concurrently.
#ifndef MAILWARDEN_COMMON_RULE_SCOPE_H_
#define MAILWARDEN_COMMON_RULE_SCOPE_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/address_list.h"
#include "common/domain_patterns.h"
#include "common/network_list.h"
#include "common/status.h"

namespace mailwarden {

struct Config;
struct RuleSpec;
struct RuleCondition;

enum class Direction { kInbound, kOutbound, kInternal, kExternal };
std::string_view DirectionName(Direction d);
std::optional<Direction> ParseDirection(std::string_view name);

// What a scope looks at: the envelope as far as it is known.
struct ScopeInput {
  std::string_view sender;                  // envelope sender, "" for <>
  std::span<const std::string> recipients;  // may be empty (before RCPT)
  bool authenticated = false;
  std::string_view client_address;
};

// The domain part of an address, lower-cased, without a trailing dot; "" when none.
std::string DomainOf(std::string_view address);

// The organisation's view of addresses and clients, built once per configuration.
class Locality {
 public:
  static Result<Locality> Build(const Config& config);
  bool IsInternalDomain(std::string_view domain) const;
  bool IsTrustedClient(std::string_view address) const { return trusted_.Contains(address); }
  // The direction of `input`; kExternal/kInternal need recipients to tell apart.
  Direction Classify(const ScopeInput& input) const;

 private:
  DomainPatterns internal_domains_;  // domains.internal
  NetworkList trusted_;
};

class RuleScope {
 public:
  // The scope of `rule` (its `when` and `except`); kInvalidArgument when a list in them
  // cannot be built (the config loader has already checked every entry).
  static Result<RuleScope> Build(const RuleSpec& rule);
  // True when the rule applies to `input`, whose direction is `direction`.
  bool Applies(const ScopeInput& input, Direction direction) const;
  // True when the scope looks at the direction or the recipients, which are not known yet
  // at MAIL FROM (such a rule waits for end of message to decide).
  bool needs_recipients() const;

 private:
  struct Condition {
    bool present = false;
    std::vector<Direction> directions;
    std::optional<AddressList> senders;
    std::optional<AddressList> recipients;
    std::optional<bool> authenticated;
    std::optional<NetworkList> client_networks;
  };
  static Result<Condition> BuildCondition(const RuleCondition& spec);
  Condition when_;
  Condition except_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_RULE_SCOPE_H_

// A list of client networks as an admin writes them ("192.0.2.0/24", "10.1.2.3",
// "2001:db8::/32"), and the test "is this address in one of them".
//
// An entry without a prefix length is one host (/32 or /128). IPv4-mapped IPv6 client
// addresses ("::ffff:192.0.2.1", as some MTAs report IPv4 clients on dual-stack sockets)
// match IPv4 entries. Host bits set below the prefix are an error, so "192.0.2.1/24" (a
// typo for a host or for .0/24) is refused rather than guessed at. Immutable after
// Parse(): const methods may be called concurrently.
#ifndef MAILWARDEN_COMMON_NETWORK_LIST_H_
#define MAILWARDEN_COMMON_NETWORK_LIST_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mailwarden {

class NetworkList {
 public:
  // "" when `entry` is an address or a network in CIDR notation, else why not.
  static std::string EntryProblem(std::string_view entry);
  // kInvalidArgument with one EntryProblem() line per bad entry.
  static Result<NetworkList> Parse(const std::vector<std::string>& entries);
  // True when `address` (a textual IPv4 or IPv6 address) is in one of the networks; false
  // for anything that is not an address (an empty or "unknown" client).
  bool Contains(std::string_view address) const;
  size_t size() const { return networks_.size(); }

 private:
  struct Network {
    std::array<uint8_t, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
    int prefix = 128;                 // in IPv6 bits
  };
  std::vector<Network> networks_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_NETWORK_LIST_H_

// Parses admin-written networks and client addresses from the MTA with inet_pton only:
// nothing is resolved, nothing longer than an address is copied.
#include "common/network_list.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace mailwarden {
namespace {

// IPv4 addresses become IPv4-mapped IPv6 (::ffff:a.b.c.d); `prefix` is adjusted by 96.
bool ParseAddress(std::string_view text, std::array<uint8_t, 16>* out, bool* v4) {
  if (text.empty() || text.size() > 45) return false;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    out->fill(0);
    (*out)[10] = 0xFF;
    (*out)[11] = 0xFF;
    std::memcpy(out->data() + 12, &a4, 4);
    *v4 = true;
    return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    std::memcpy(out->data(), &a6, 16);
    *v4 = false;
    return true;
  }
  return false;
}

bool HostBitsClear(const std::array<uint8_t, 16>& bytes, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

bool SamePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  int full = prefix / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  if (prefix % 8 == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - prefix % 8));
  return (a[full] & mask) == (b[full] & mask);
}

// Parses `entry` into `out`; returns "" or the reason it is not a network.
std::string ParseEntry(std::string_view entry, std::array<uint8_t, 16>* bytes, int* prefix) {
  std::string_view addr = entry, len;
  if (size_t slash = entry.find('/'); slash != std::string_view::npos) {
    addr = entry.substr(0, slash);
    len = entry.substr(slash + 1);
  }
  bool v4 = false;
  if (!ParseAddress(addr, bytes, &v4)) return "not an IPv4 or IPv6 address";
  int max = v4 ? 32 : 128;
  int bits = max;
  if (!len.empty() || entry.find('/') != std::string_view::npos) {
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
    if (ec != std::errc() || p != len.data() + len.size() || bits < 0 || bits > max) {
      return "the prefix length must be a number from 0 to " + std::to_string(max);
    }
  }
  *prefix = v4 ? bits + 96 : bits;
  if (!HostBitsClear(*bytes, *prefix)) {
    return "host bits are set below the prefix length (write the network address)";
  }
  return "";
}

}  // namespace

std::string NetworkList::EntryProblem(std::string_view entry) {
  std::array<uint8_t, 16> bytes;
  int prefix = 0;
  std::string why = ParseEntry(entry, &bytes, &prefix);
  if (why.empty()) return "";
  return "'" + std::string(entry.substr(0, 64)) +
         "' is not a network (192.0.2.0/24, 10.1.2.3, 2001:db8::/32): " + why;
}

Result<NetworkList> NetworkList::Parse(const std::vector<std::string>& entries) {
  NetworkList list;
  std::string errors;
  for (const std::string& e : entries) {
    Network n;
    if (std::string why = ParseEntry(e, &n.bytes, &n.prefix); !why.empty()) {
      errors += (errors.empty() ? "" : "\n") + EntryProblem(e);
      continue;
    }
    list.networks_.push_back(n);
  }
  if (!errors.empty()) return Status::InvalidArgument(errors);
  return list;
}

bool NetworkList::Contains(std::string_view address) const {
  std::array<uint8_t, 16> bytes;
  bool v4 = false;
  // MTAs write IPv6 clients as "IPv6:2001:db8::1" in some places.
  if (address.substr(0, 5) == "IPv6:" || address.substr(0, 5) == "ipv6:") address.remove_prefix(5);
  if (!ParseAddress(address, &bytes, &v4)) return false;
  for (const Network& n : networks_) {
    if (SamePrefix(bytes, n.bytes, n.prefix)) return true;
  }
  return false;
}

}  // namespace mailwarden

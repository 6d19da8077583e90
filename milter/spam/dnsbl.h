// DNS blocklists (DNSBL, URIBL): asks the zones a spam rule file declares whether the SMTP
// client's address, or the domains the message links to, are listed.
//
// Every lookup of one message runs in parallel (c-ares) and all of them together wait at
// most DnsblOptions::budget: a slow list costs the message that much time, never more, and
// an answer that comes later is not a signal (DnsblReport says what was missing). What is
// asked:
//   - client zones: the client's address, IPv4 as reversed octets ("1.2.0.192.zen.test"),
//     IPv6 as 32 reversed nibbles. An empty, private, loopback, link-local or otherwise
//     non-routable address is not asked about (local submission, internal relays).
//   - uri zones: for each distinct link host, its registrable domain ("example.com" for
//     "www.mail.example.com", "example.com.vn" for "shop.example.com.vn", as
//     RegistrableDomain() of heuristics.h finds it by the Public Suffix List) and
//     the host itself when it differs, since lists publish either. At most
//     max_uri_domains registrable domains are asked about, in link order. An IPv4 literal
//     host is asked reversed, as URI lists publish addresses. Internationalised names
//     arrive in their ASCII form (Link::host, "xn--bcngan-jxa6332d.vn") and are asked as
//     such; IPv6 literals, names that are not ASCII letters/digits/hyphens (those IDNA
//     refused, percent-escaped ones) and single-label names are skipped.
// Answers: only A records count. NXDOMAIN or no A record is "not listed". An answer inside
// 127.0.0.0/8 is a listing when the zone has no answer rules, or when an answer rule's
// range holds it (the first such rule names the signal and gives the score); any other
// answer (outside 127.0.0.0/8: a wildcarding resolver or a dead zone; or a list's error
// code such as 127.255.255.254, "query via a public resolver refused") is ignored and
// written to the report so that the admin sees the misconfiguration.
// Signals: one per signal name (the rule's name, or the zone's) per message however many
// names or answers hit it, so that twenty listed links do not count twenty times; the
// detail names the first hit: "client 192.0.2.1 -> 127.0.0.2", "uri example.com ->
// 127.0.0.2 (+2 more)".
//
// Thread-safety: a DnsblClient is immutable after Create() and Lookup() may run on many
// threads at once. A c-ares channel is never shared: each Lookup() takes one from a small
// pool (or makes one) and gives it back when done; making a channel costs some 30 us (it
// reads /etc/resolv.conf) plus a socket per server, which the pool saves on every message.
#ifndef MAILWARDEN_MILTER_SPAM_DNSBL_H_
#define MAILWARDEN_MILTER_SPAM_DNSBL_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "milter/spam/spam_types.h"

namespace mailwarden::spam {

struct DnsblOptions {
  // DNS servers as IP addresses with an optional port: "127.0.0.1:5353", "[::1]:53",
  // "192.0.2.53". Empty: the servers of /etc/resolv.conf. Lists answer only recursive
  // resolvers they know; Spamhaus refuses queries that come through public resolvers.
  std::vector<std::string> servers;
  // The time all lookups of one message may take together.
  std::chrono::milliseconds budget{1500};
  // Distinct registrable domains of links asked about per message (see above).
  size_t max_uri_domains = 20;
};

// What one Lookup() did, for the decision log. Listings themselves are the signals.
struct DnsblReport {
  int queries = 0;    // sent
  int answered = 0;   // answered in time: listed, not listed, or ignored answers
  int failed = 0;     // the server failed them (SERVFAIL, REFUSED, unreachable, malformed)
  int timed_out = 0;  // no answer within the budget
  int listed = 0;     // answers that became (or joined) a signal
  // Zones with at least one query failed or not answered in time.
  std::vector<std::string> zones_timed_out;
  std::vector<std::string> zones_failed;
  // Answers that are not listings: "zen.test: 1.2.0.192 -> 10.0.0.1 (outside 127.0.0.0/8)".
  std::vector<std::string> ignored;
  // Why the client address was not asked about ("private address 10.0.0.1"), "" when it
  // was or when there are no client zones.
  std::string client_skipped;
  int uri_names = 0;            // names asked about in every uri zone
  int uri_domains_dropped = 0;  // registrable domains beyond max_uri_domains
  int64_t elapsed_ms = 0;

  // {"queries":..,"answered":..,...}; empty lists and strings are left out.
  nlohmann::json ToJson() const;
};

class DnsblClient {
 public:
  // Checks the servers' spelling and that a resolver channel can be made (c-ares reads
  // /etc/resolv.conf when `servers` is empty). `zones` may be empty: Lookup() does nothing.
  static Result<std::unique_ptr<DnsblClient>> Create(DnsblOptions options,
                                                     std::vector<DnsblZone> zones);
  ~DnsblClient();
  DnsblClient(const DnsblClient&) = delete;
  DnsblClient& operator=(const DnsblClient&) = delete;

  // Looks `client_addr` ("" when unknown) up in the client zones and `links` in the uri
  // zones, all in parallel within the budget; appends one Signal per listing (see above) to
  // `out` and sets `report` (may be null). A non-OK Status only when no lookup could be
  // made at all (no resolver channel, poll() failing); unanswered lookups are not errors.
  Status Lookup(std::string_view client_addr, std::span<const Link> links, std::vector<Signal>* out,
                DnsblReport* report) const;

  const DnsblOptions& options() const { return options_; }
  const std::vector<DnsblZone>& zones() const { return zones_; }

 private:
  struct Channel;
  DnsblClient(DnsblOptions options, std::vector<DnsblZone> zones);
  Result<std::unique_ptr<Channel>> NewChannel() const;
  Result<std::unique_ptr<Channel>> TakeChannel() const;
  void GiveChannel(std::unique_ptr<Channel> channel) const;

  DnsblOptions options_;
  std::vector<DnsblZone> zones_;
  std::string servers_csv_;  // for ares_set_servers_ports_csv, "" for resolv.conf
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Channel>> idle_;  // guarded by mu_
};

// The names Lookup() asks about in uri zones for `links`, in order (exposed for tests):
// registrable domains and hosts, IPv4 literals reversed. `dropped` (may be null) counts
// the registrable domains left out beyond `max_domains`.
std::vector<std::string> DnsblUriNames(std::span<const Link> links, size_t max_domains,
                                       int* dropped);

// The client-zone query prefix of an IP address: "1.2.0.192" for 192.0.2.1, 32 nibbles
// for IPv6; "" and `why` set when the address is not asked about (not an IP address, or
// private/loopback/link-local/multicast/unspecified). IPv4-mapped IPv6 counts as IPv4.
std::string DnsblClientName(std::string_view address, std::string* why);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_DNSBL_H_

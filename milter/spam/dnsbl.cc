// DNS blocklist lookups with c-ares (see dnsbl.h).
//
// Distrusts: the message (link hosts are validated before they become query names, and
// their number is capped by max_uri_domains), the client address (parsed, never pasted)
// and the answers (only A records are read, each checked against 127.0.0.0/8 and the
// zone's answer rules). Bounds: every Lookup() returns within the budget however the
// servers behave; a query still unanswered then is cancelled and counted as timed out.
#include "milter/spam/dnsbl.h"

#include <ares.h>
#include <arpa/inet.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <set>

#include "milter/net/resolve.h"
#include "milter/spam/heuristics.h"

namespace mailwarden::spam {
namespace {

using Clock = std::chrono::steady_clock;

// Channels kept for reuse; more than this many concurrent lookups make (and then close)
// channels of their own.
constexpr size_t kMaxIdleChannels = 16;
constexpr int kMaxAnswers = 16;  // A records read per answer
constexpr size_t kMaxDnsName = 253;

std::vector<std::string_view> Labels(std::string_view host) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    out.push_back(host.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

// An LDH host name (underscores tolerated) of two labels or more, as a query name part.
bool IsQueryableName(std::string_view host) {
  if (host.empty() || host.size() > kMaxDnsName) return false;
  auto labels = Labels(host);
  if (labels.size() < 2) return false;
  for (std::string_view l : labels) {
    if (l.empty() || l.size() > 63) return false;
    for (char c : l) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) return false;
    }
  }
  // A top-level label of digits only is not a domain ("1.2.3.4" is handled before).
  return !std::all_of(labels.back().begin(), labels.back().end(),
                      [](char c) { return c >= '0' && c <= '9'; });
}

// A zone as the rule file names it: lower-case LDH labels, no trailing dot, short enough
// to leave room for a reversed IPv6 address in front of it.
bool IsZoneName(std::string_view zone) {
  if (zone.empty() || zone.size() > kMaxDnsName - 64) return false;
  for (std::string_view l : Labels(zone)) {
    if (l.empty() || l.size() > 63) return false;
    if (l.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string_view::npos)
      return false;
  }
  return true;
}

bool IsNonPublicV4(uint32_t a) {
  auto in = [a](uint32_t net, int bits) {
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (a & mask) == net;
  };
  return in(0x00000000, 8) ||   // "this" network
         in(0x0A000000, 8) ||   // 10/8
         in(0x64400000, 10) ||  // 100.64/10, carrier-grade NAT
         in(0x7F000000, 8) ||   // loopback
         in(0xA9FE0000, 16) ||  // link-local
         in(0xAC100000, 12) ||  // 172.16/12
         in(0xC0A80000, 16) ||  // 192.168/16
         in(0xE0000000, 4) ||   // multicast
         in(0xF0000000, 4);     // reserved, broadcast
}

std::string ReversedV4(uint32_t a) {
  return std::to_string(a & 0xFF) + "." + std::to_string((a >> 8) & 0xFF) + "." +
         std::to_string((a >> 16) & 0xFF) + "." + std::to_string(a >> 24);
}

std::string FormatV4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xFF) + "." +
         std::to_string((a >> 8) & 0xFF) + "." + std::to_string(a & 0xFF);
}

bool ParseV4(std::string_view text, uint32_t* out) {
  if (text.size() > 15) return false;
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

// "127.0.0.1:5353", "[::1]:53", "::1", "192.0.2.53" -> the c-ares CSV spelling.
Result<std::string> ServerCsvEntry(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("DNS server '" + std::string(text) + "': " + std::string(why) +
                                   " (expected an IP address with an optional port, "
                                   "\"127.0.0.1:53\" or \"[::1]:53\")");
  };
  std::string host;
  std::string_view port;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("junk after ']'");
      port = rest.substr(1);
    }
    v6 = true;
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    host = std::string(text);  // a bare IPv6 address
    v6 = true;
  } else {
    size_t colon = text.find(':');
    host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
  }
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1) {
    return bad("not an IP address");
  }
  int port_number = 53;
  if (!port.empty() || (text.size() > 0 && text.back() == ':')) {
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (ec != std::errc() || ptr != port.data() + port.size() || port_number < 1 ||
        port_number > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
  }
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port_number);
}

// One question to one zone.
struct Query {
  enum class State { kPending, kAnswered, kFailed, kTimedOut };
  size_t zone = 0;
  bool client = false;
  std::string subject;  // "192.0.2.1", "example.com"
  std::string name;     // "1.2.0.192.zen.test"
  State state = State::kPending;
  std::vector<uint32_t> answers;  // host order
  int* pending = nullptr;
};

void OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<Query*>(arg);
  --*q->pending;
  switch (status) {
    case ARES_SUCCESS: {
      ares_addrttl addrs[kMaxAnswers];
      int n = kMaxAnswers;
      int rc = ares_parse_a_reply(abuf, alen, nullptr, addrs, &n);
      if (rc == ARES_SUCCESS) {
        for (int i = 0; i < n; ++i) q->answers.push_back(ntohl(addrs[i].ipaddr.s_addr));
        q->state = Query::State::kAnswered;
      } else if (rc == ARES_ENODATA) {
        q->state = Query::State::kAnswered;
      } else {
        q->state = Query::State::kFailed;
      }
      return;
    }
    case ARES_ENOTFOUND:  // NXDOMAIN: not listed
    case ARES_ENODATA:    // the name exists without an A record: not listed
      q->state = Query::State::kAnswered;
      return;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      q->state = Query::State::kTimedOut;
      return;
    default:
      q->state = Query::State::kFailed;
      return;
  }
}

void AddOnce(std::vector<std::string>* list, const std::string& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

}  // namespace

struct DnsblClient::Channel {
  ares_channel channel = nullptr;
  ~Channel() {
    if (channel != nullptr) ares_destroy(channel);
  }
};

nlohmann::json DnsblReport::ToJson() const {
  nlohmann::json j = {{"queries", queries},     {"answered", answered}, {"failed", failed},
                      {"timed_out", timed_out}, {"listed", listed},     {"elapsed_ms", elapsed_ms}};
  if (!zones_timed_out.empty()) j["zones_timed_out"] = zones_timed_out;
  if (!zones_failed.empty()) j["zones_failed"] = zones_failed;
  if (!ignored.empty()) j["ignored"] = ignored;
  if (!client_skipped.empty()) j["client_skipped"] = client_skipped;
  if (uri_names > 0) j["uri_names"] = uri_names;
  if (uri_domains_dropped > 0) j["uri_domains_dropped"] = uri_domains_dropped;
  return j;
}

std::string DnsblClientName(std::string_view address, std::string* why) {
  std::string text(address);
  if (text.size() > 5 && strncasecmp(text.c_str(), "IPv6:", 5) == 0) text.erase(0, 5);
  uint32_t v4 = 0;
  if (ParseV4(text, &v4)) {
    if (IsNonPublicV4(v4)) {
      *why = "non-public address " + text;
      return "";
    }
    return ReversedV4(v4);
  }
  in6_addr a6{};
  if (text.size() > INET6_ADDRSTRLEN || inet_pton(AF_INET6, text.c_str(), &a6) != 1) {
    *why = "not an IP address: " + text.substr(0, 64);
    return "";
  }
  const unsigned char* b = a6.s6_addr;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(b, kMapped, 12) == 0) {
    v4 = (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
    if (IsNonPublicV4(v4)) {
      *why = "non-public address " + text;
      return "";
    }
    return ReversedV4(v4);
  }
  static const unsigned char kZero[16] = {};
  bool unspecified_or_loopback = std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1);
  bool unique_local = (b[0] & 0xFE) == 0xFC;                // fc00::/7
  bool link_local = b[0] == 0xFE && (b[1] & 0xC0) == 0x80;  // fe80::/10
  bool multicast = b[0] == 0xFF;
  if (unspecified_or_loopback || unique_local || link_local || multicast) {
    *why = "non-public address " + text;
    return "";
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (int i = 15; i >= 0; --i) {
    out.push_back(kHex[b[i] & 0x0F]);
    out.push_back('.');
    out.push_back(kHex[b[i] >> 4]);
    if (i > 0) out.push_back('.');
  }
  return out;
}

std::vector<std::string> DnsblUriNames(std::span<const Link> links, size_t max_domains,
                                       int* dropped) {
  std::vector<std::string> names;
  std::set<std::string> seen_names;
  std::set<std::string> domains;
  std::set<std::string> dropped_domains;
  auto add = [&](const std::string& name) {
    if (seen_names.insert(name).second) names.push_back(name);
  };
  for (const Link& link : links) {
    std::string host = link.host;
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty() || host.front() == '[') continue;  // none, or an IPv6 literal
    uint32_t v4 = 0;
    std::string domain;
    std::string name;
    if (ParseV4(host, &v4)) {
      if (IsNonPublicV4(v4)) continue;
      domain = name = ReversedV4(v4);
    } else {
      if (!IsQueryableName(host)) continue;
      domain = RegistrableDomain(host);
      name = host;
    }
    if (!domains.contains(domain)) {
      if (domains.size() >= max_domains) {
        dropped_domains.insert(domain);
        continue;
      }
      domains.insert(domain);
    }
    add(domain);
    if (name != domain) add(name);
  }
  if (dropped != nullptr) *dropped = static_cast<int>(dropped_domains.size());
  return names;
}

DnsblClient::DnsblClient(DnsblOptions options, std::vector<DnsblZone> zones)
    : options_(std::move(options)), zones_(std::move(zones)) {}

DnsblClient::~DnsblClient() = default;

Result<std::unique_ptr<DnsblClient>> DnsblClient::Create(DnsblOptions options,
                                                         std::vector<DnsblZone> zones) {
  if (Status s = net::InitAres(); !s.ok()) return s;
  if (options.budget.count() <= 0) {
    return Status::InvalidArgument("the DNS blocklist budget must be positive");
  }
  std::string csv;
  for (const std::string& server : options.servers) {
    auto entry = ServerCsvEntry(server);
    if (!entry.ok()) return entry.status();
    if (!csv.empty()) csv += ",";
    csv += *entry;
  }
  for (const DnsblZone& zone : zones) {
    if (!IsZoneName(zone.zone)) {
      return Status::InvalidArgument("DNS blocklist zone '" + zone.zone +
                                     "' is not a lower-case DNS name");
    }
  }
  std::unique_ptr<DnsblClient> client(new DnsblClient(std::move(options), std::move(zones)));
  client->servers_csv_ = std::move(csv);
  auto channel = client->NewChannel();
  if (!channel.ok()) return channel.status();
  client->GiveChannel(std::move(*channel));
  return client;
}

Result<std::unique_ptr<DnsblClient::Channel>> DnsblClient::NewChannel() const {
  auto channel = std::make_unique<Channel>();
  ares_options opts{};
  // Three tries each within a quarter of the budget (c-ares doubles the wait once every
  // server had its turn), so that one lost datagram does not lose the lookup.
  const auto per_try = std::clamp<int64_t>(options_.budget.count() / 4, 50, 5000);
  opts.timeout = static_cast<int>(per_try);
  opts.tries = 3;
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  int rc = ares_init_options(&channel->channel, &opts, mask);
  if (rc != ARES_SUCCESS) {
    channel->channel = nullptr;
    return Status::Unavailable(std::string("DNS resolver channel: ") + ares_strerror(rc));
  }
  if (!servers_csv_.empty()) {
    rc = ares_set_servers_ports_csv(channel->channel, servers_csv_.c_str());
    if (rc != ARES_SUCCESS) {
      return Status::InvalidArgument("DNS servers '" + servers_csv_ + "': " + ares_strerror(rc));
    }
  }
  return channel;
}

Result<std::unique_ptr<DnsblClient::Channel>> DnsblClient::TakeChannel() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto channel = std::move(idle_.back());
      idle_.pop_back();
      return channel;
    }
  }
  return NewChannel();
}

void DnsblClient::GiveChannel(std::unique_ptr<Channel> channel) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxIdleChannels) idle_.push_back(std::move(channel));
}

Status DnsblClient::Lookup(std::string_view client_addr, std::span<const Link> links,
                           std::vector<Signal>* out, DnsblReport* report) const {
  DnsblReport local_report;
  DnsblReport& r = report != nullptr ? *report : local_report;
  r = DnsblReport();
  const auto start = Clock::now();
  const auto deadline = start + options_.budget;

  bool any_client_zone = false;
  bool any_uri_zone = false;
  for (const DnsblZone& z : zones_) {
    (z.target == DnsblZone::Target::kClient ? any_client_zone : any_uri_zone) = true;
  }

  // The questions, in a deque-like vector reserved up front: c-ares keeps pointers to them.
  std::string client_name;
  std::string client_shown(client_addr);
  if (any_client_zone && !client_addr.empty()) {
    client_name = DnsblClientName(client_addr, &r.client_skipped);
  }
  std::vector<std::string> uri_names;
  if (any_uri_zone) {
    uri_names = DnsblUriNames(links, options_.max_uri_domains, &r.uri_domains_dropped);
    r.uri_names = static_cast<int>(uri_names.size());
  }
  std::vector<Query> queries;
  for (size_t zi = 0; zi < zones_.size(); ++zi) {
    const DnsblZone& z = zones_[zi];
    auto add = [&](const std::string& subject, const std::string& prefix, bool client) {
      std::string name = prefix + "." + z.zone;
      if (name.size() > kMaxDnsName) return;
      Query q;
      q.zone = zi;
      q.client = client;
      q.subject = subject;
      q.name = std::move(name);
      queries.push_back(std::move(q));
    };
    if (z.target == DnsblZone::Target::kClient) {
      if (!client_name.empty()) add(client_shown, client_name, true);
    } else {
      for (const std::string& n : uri_names) {
        // A reversed IPv4 literal is shown as the address the link carried.
        uint32_t v4 = 0;
        std::string shown = n;
        if (ParseV4(n, &v4)) shown = ReversedV4(v4);
        add(shown, n, false);
      }
    }
  }
  if (queries.empty()) return Status::Ok();

  auto channel = TakeChannel();
  if (!channel.ok()) return channel.status();
  ares_channel ch = (*channel)->channel;

  int pending = 0;
  for (Query& q : queries) {
    q.pending = &pending;
    ++pending;
    ++r.queries;
    ares_query(ch, q.name.c_str(), 1 /* C_IN */, 1 /* T_A */, OnAnswer, &q);
  }

  Status status = net::RunAresUntil(ch, deadline, &pending);
  GiveChannel(std::move(*channel));

  // Evaluation, in the order of the questions: zones as declared, names as linked.
  struct Hit {
    Signal signal;
    std::set<std::string> subjects;
  };
  std::vector<Hit> hits;
  std::map<std::string, size_t> hit_index;
  for (const Query& q : queries) {
    const DnsblZone& z = zones_[q.zone];
    switch (q.state) {
      case Query::State::kPending:
      case Query::State::kTimedOut:
        ++r.timed_out;
        AddOnce(&r.zones_timed_out, z.zone);
        continue;
      case Query::State::kFailed:
        ++r.failed;
        AddOnce(&r.zones_failed, z.zone);
        continue;
      case Query::State::kAnswered:
        ++r.answered;
        break;
    }
    // Per signal name, the answers of this question that count for it.
    std::vector<std::pair<size_t, std::string>> counted;  // hit index, answer
    for (uint32_t a : q.answers) {
      const std::string shown = FormatV4(a);
      if ((a >> 24) != 127) {
        AddOnce(&r.ignored, z.zone + ": " + q.subject + " -> " + shown + " (outside 127.0.0.0/8)");
        continue;
      }
      std::string name = z.name;
      double score = z.score;
      if (!z.answers.empty()) {
        auto rule = std::find_if(z.answers.begin(), z.answers.end(),
                                 [a](const auto& rr) { return a >= rr.first && a <= rr.last; });
        if (rule == z.answers.end()) {
          AddOnce(&r.ignored, z.zone + ": " + q.subject + " -> " + shown + " (no answer rule)");
          continue;
        }
        if (!rule->name.empty()) name = rule->name;
        score = rule->score;
      }
      auto [it, inserted] = hit_index.emplace(name, hits.size());
      if (inserted) hits.push_back(Hit{Signal{name, score, ""}, {}});
      counted.emplace_back(it->second, shown);
    }
    // One listing per signal and question; its first answer (or all of them, when this
    // question opened the signal) goes into the detail.
    std::map<size_t, bool> opened_here;
    for (const auto& [index, answer] : counted) {
      Hit& h = hits[index];
      auto [it, first] = opened_here.emplace(index, h.signal.detail.empty());
      if (!first) {
        if (it->second) h.signal.detail += "," + answer;
        continue;
      }
      ++r.listed;
      h.subjects.insert(q.subject);
      if (it->second) {
        h.signal.detail = std::string(q.client ? "client " : "uri ") + q.subject + " -> " + answer;
      }
    }
  }
  for (Hit& h : hits) {
    if (h.subjects.size() > 1) {
      h.signal.detail += " (+" + std::to_string(h.subjects.size() - 1) + " more)";
    }
    out->push_back(std::move(h.signal));
  }
  r.elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return status;
}

}  // namespace mailwarden::spam

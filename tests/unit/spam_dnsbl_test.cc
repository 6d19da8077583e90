// DNS blocklist lookups: query names, then real lookups against a private dnsmasq on
// loopback (answers for exact names, NXDOMAIN for the rest of .test), and the budget
// against a server that never answers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "milter/spam/dnsbl.h"
#include "milter/spam/message_view.h"
#include "tests/unit/spam_test_servers.h"

namespace mailwarden::spam {
namespace {

using std::chrono::milliseconds;
using testing::SpamDnsmasq;

uint32_t V4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return ntohl(a.s_addr);
}

Link L(const std::string& host) {
  Link l;
  l.url = "http://" + host + "/";
  l.host = host;
  return l;
}

// A client zone with Spamhaus-style answer codes.
DnsblZone Zen() {
  DnsblZone z;
  z.name = "DNSBL_ZEN";
  z.zone = "zen.test";
  z.target = DnsblZone::Target::kClient;
  z.score = 1;
  z.answers = {{V4("127.0.0.2"), V4("127.0.0.3"), 3.0, "DNSBL_ZEN_SBL"},
               {V4("127.0.0.4"), V4("127.0.0.7"), 2.5, "DNSBL_ZEN_XBL"},
               {V4("127.0.0.10"), V4("127.0.0.11"), 1.0, ""}};
  return z;
}

DnsblZone Zone(const std::string& name, const std::string& zone, DnsblZone::Target target,
               double score) {
  DnsblZone z;
  z.name = name;
  z.zone = zone;
  z.target = target;
  z.score = score;
  return z;
}

DnsblZone Plain() { return Zone("DNSBL_PLAIN", "plain.test", DnsblZone::Target::kClient, 2.0); }
DnsblZone Wild() { return Zone("DNSBL_WILD", "wild.test", DnsblZone::Target::kClient, 5.0); }
DnsblZone Dbl() { return Zone("URIBL_DBL", "dbl.test", DnsblZone::Target::kUri, 4.0); }

const char* const kV6Client = "2001:db8::1";
const char* const kV6Name = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2";

// ---- names ------------------------------------------------------------------------------

TEST(DnsblNames, ClientAddresses) {
  std::string why;
  EXPECT_EQ(DnsblClientName("192.0.2.1", &why), "1.2.0.192");
  EXPECT_EQ(DnsblClientName("203.0.113.45", &why), "45.113.0.203");
  EXPECT_EQ(DnsblClientName(kV6Client, &why), kV6Name);
  EXPECT_EQ(DnsblClientName("IPv6:2001:db8::1", &why), kV6Name);
  EXPECT_EQ(DnsblClientName("::ffff:192.0.2.1", &why), "1.2.0.192");
  EXPECT_TRUE(why.empty()) << why;
  for (const char* local : {"10.1.2.3", "127.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                            "169.254.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
                            "::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:10.0.0.1"}) {
    why.clear();
    EXPECT_EQ(DnsblClientName(local, &why), "") << local;
    EXPECT_NE(why.find("non-public"), std::string::npos) << local;
  }
  for (const char* junk : {"", "unknown", "192.0.2", "192.0.2.256", "1.2.3.4.5", "[192.0.2.1]"}) {
    why.clear();
    EXPECT_EQ(DnsblClientName(junk, &why), "") << junk;
    EXPECT_NE(why.find("not an IP"), std::string::npos) << junk;
  }
  // Public neighbours of private ranges are looked up.
  EXPECT_EQ(DnsblClientName("172.32.0.1", &why), "1.0.32.172");
  EXPECT_EQ(DnsblClientName("11.0.0.1", &why), "1.0.0.11");
}

TEST(DnsblNames, UriNamesDomainsThenHostsDeduplicatedAndCapped) {
  std::vector<Link> links = {
      L("www.example.com"),       L("example.com"),    L("WWW.Example.COM."), L("a.b.example.org"),
      L("203.0.113.5"),           L("10.0.0.1"),       L("[2001:db8::1]"),    L("localhost"),
      L("xn--bcher-kva.example"), L("bücher.example"), L("bad_label!.com"),   L(""),
      L("shop.example.com.vn")};
  int dropped = -1;
  auto names = DnsblUriNames(links, 20, &dropped);
  EXPECT_EQ(names,
            (std::vector<std::string>{"example.com", "www.example.com", "example.org",
                                      "a.b.example.org", "5.113.0.203", "xn--bcher-kva.example",
                                      "example.com.vn", "shop.example.com.vn"}));
  EXPECT_EQ(dropped, 0);

  names = DnsblUriNames(links, 2, &dropped);
  EXPECT_EQ(names, (std::vector<std::string>{"example.com", "www.example.com", "example.org",
                                             "a.b.example.org"}));
  EXPECT_EQ(dropped, 3);  // 203.0.113.5, xn--bcher-kva.example, example.com.vn
}

TEST(DnsblCreate, ChecksServersAndZones) {
  EXPECT_TRUE(
      DnsblClient::Create({{"127.0.0.1:5353", "[::1]:53", "::1", "192.0.2.53"}}, {Zen()}).ok());
  for (const char* bad :
       {"dns.example:53", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x", "[::1", "[::1]x", ""}) {
    auto c = DnsblClient::Create({{bad}}, {Zen()});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(c.status().message().find("DNS server"), std::string::npos);
  }
  DnsblZone upper = Zen();
  upper.zone = "Zen.Test";
  EXPECT_FALSE(DnsblClient::Create({{"127.0.0.1:53"}}, {upper}).ok());
  DnsblZone dotted = Zen();
  dotted.zone = "zen.test.";
  EXPECT_FALSE(DnsblClient::Create({{"127.0.0.1:53"}}, {dotted}).ok());
  DnsblOptions zero;
  zero.budget = milliseconds(0);
  EXPECT_FALSE(DnsblClient::Create(zero, {Zen()}).ok());
}

TEST(DnsblCreate, NoZonesNoQueries) {
  auto c = DnsblClient::Create({{"127.0.0.1:9"}}, {});
  ASSERT_TRUE(c.ok());
  std::vector<Signal> out;
  DnsblReport report;
  std::vector<Link> links = {L("example.com")};
  EXPECT_TRUE((*c)->Lookup("192.0.2.1", links, &out, &report).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(report.queries, 0);
}

TEST(DnsblReport, Json) {
  DnsblReport r;
  r.queries = 3;
  r.answered = 1;
  r.timed_out = 2;
  r.zones_timed_out = {"zen.test"};
  r.elapsed_ms = 1500;
  nlohmann::json j = r.ToJson();
  EXPECT_EQ(j["queries"], 3);
  EXPECT_EQ(j["timed_out"], 2);
  EXPECT_EQ(j["zones_timed_out"][0], "zen.test");
  EXPECT_FALSE(j.contains("ignored"));
  EXPECT_FALSE(j.contains("client_skipped"));
}

// ---- against dnsmasq ----------------------------------------------------------------------

class DnsblDnsmasqTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!SpamDnsmasq::Available()) return;
    dns_ = new SpamDnsmasq();
    std::string error;
    bool ok = dns_->Start(
        {
            {"1.2.0.192.zen.test", "127.0.0.2"},
            {"1.2.0.192.zen.test", "127.0.0.10"},
            {"3.2.0.192.zen.test", "127.0.0.4"},
            {"99.2.0.192.zen.test", "127.255.255.254"},
            {std::string(kV6Name) + ".zen.test", "127.0.0.2"},
            {"1.2.0.192.plain.test", "127.0.0.2"},
            {"1.2.0.192.wild.test", "10.1.1.1"},
            {"example.com.dbl.test", "127.0.1.2"},
            {"evil.example.org.dbl.test", "127.0.1.2"},
            {"5.113.0.203.dbl.test", "127.0.1.3"},
            {"example.com.vn.dbl.test", "127.0.1.2"},
            {"xn--bcngan-jxa6332d.vn.dbl.test", "127.0.1.2"},
        },
        {"test"}, &error);
    if (!ok) {
      start_error_ = new std::string(error);
      delete dns_;
      dns_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
  }
  void SetUp() override {
    if (!SpamDnsmasq::Available()) {
      GTEST_SKIP() << "dnsmasq is not installed (Debian package dnsmasq-base)";
    }
    ASSERT_NE(dns_, nullptr) << (start_error_ ? *start_error_ : "");
  }

  std::unique_ptr<DnsblClient> Client(std::vector<DnsblZone> zones,
                                      milliseconds budget = milliseconds(3000)) {
    DnsblOptions o;
    o.servers = {dns_->server()};
    o.budget = budget;
    auto c = DnsblClient::Create(o, std::move(zones));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  static SpamDnsmasq* dns_;
  static std::string* start_error_;
};

SpamDnsmasq* DnsblDnsmasqTest::dns_ = nullptr;
std::string* DnsblDnsmasqTest::start_error_ = nullptr;

TEST_F(DnsblDnsmasqTest, ListedClientGetsOneSignalPerAnswerRule) {
  auto c = Client({Zen()});
  std::vector<Signal> out;
  DnsblReport r;
  ASSERT_TRUE(c->Lookup("192.0.2.1", {}, &out, &r).ok());
  ASSERT_EQ(out.size(), 2u) << dns_->Log();
  // Answers in the order the server gives them; compare as a set.
  std::map<std::string, Signal> by_name;
  for (const Signal& s : out) by_name[s.name] = s;
  ASSERT_TRUE(by_name.count("DNSBL_ZEN_SBL"));
  EXPECT_DOUBLE_EQ(by_name["DNSBL_ZEN_SBL"].score, 3.0);
  EXPECT_EQ(by_name["DNSBL_ZEN_SBL"].detail, "client 192.0.2.1 -> 127.0.0.2");
  // A rule without a name uses the zone's.
  ASSERT_TRUE(by_name.count("DNSBL_ZEN"));
  EXPECT_DOUBLE_EQ(by_name["DNSBL_ZEN"].score, 1.0);
  EXPECT_EQ(by_name["DNSBL_ZEN"].detail, "client 192.0.2.1 -> 127.0.0.10");
  EXPECT_EQ(r.queries, 1);
  EXPECT_EQ(r.answered, 1);
  EXPECT_EQ(r.listed, 2);
  EXPECT_EQ(r.failed + r.timed_out, 0);

  out.clear();
  ASSERT_TRUE(c->Lookup("192.0.2.3", {}, &out, &r).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "DNSBL_ZEN_XBL");
  EXPECT_DOUBLE_EQ(out[0].score, 2.5);
  EXPECT_EQ(out[0].detail, "client 192.0.2.3 -> 127.0.0.4");
}

TEST_F(DnsblDnsmasqTest, NxdomainIsNotListed) {
  auto c = Client({Zen(), Plain()});
  std::vector<Signal> out;
  DnsblReport r;
  ASSERT_TRUE(c->Lookup("192.0.2.2", {}, &out, &r).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r.queries, 2);
  EXPECT_EQ(r.answered, 2);
  EXPECT_EQ(r.listed, 0);
  EXPECT_EQ(r.failed + r.timed_out, 0) << r.ToJson().dump();
}

TEST_F(DnsblDnsmasqTest, ZoneWithoutRulesCountsAnyLoopbackAnswer) {
  auto c = Client({Plain()});
  std::vector<Signal> out;
  ASSERT_TRUE(c->Lookup("192.0.2.1", {}, &out, nullptr).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "DNSBL_PLAIN");
  EXPECT_DOUBLE_EQ(out[0].score, 2.0);
  EXPECT_EQ(out[0].detail, "client 192.0.2.1 -> 127.0.0.2");
}

TEST_F(DnsblDnsmasqTest, AnswersOutsideLoopbackOrRulesAreIgnoredAndReported) {
  auto c = Client({Wild(), Zen()});
  std::vector<Signal> out;
  DnsblReport r;
  ASSERT_TRUE(c->Lookup("192.0.2.1", {}, &out, &r).ok());
  for (const Signal& s : out) EXPECT_NE(s.name, "DNSBL_WILD");
  EXPECT_EQ(r.ignored,
            std::vector<std::string>{"wild.test: 192.0.2.1 -> 10.1.1.1 (outside 127.0.0.0/8)"});

  // A list's error code that no answer rule holds is not a listing either.
  out.clear();
  r = DnsblReport();
  ASSERT_TRUE(c->Lookup("192.0.2.99", {}, &out, &r).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r.ignored,
            std::vector<std::string>{"zen.test: 192.0.2.99 -> 127.255.255.254 (no answer rule)"});
  EXPECT_EQ(r.listed, 0);
}

TEST_F(DnsblDnsmasqTest, Ipv6ClientAsNibbles) {
  auto c = Client({Zen()});
  std::vector<Signal> out;
  ASSERT_TRUE(c->Lookup(kV6Client, {}, &out, nullptr).ok());
  ASSERT_EQ(out.size(), 1u) << dns_->Log();
  EXPECT_EQ(out[0].name, "DNSBL_ZEN_SBL");
  EXPECT_EQ(out[0].detail, std::string("client ") + kV6Client + " -> 127.0.0.2");
}

TEST_F(DnsblDnsmasqTest, PrivateOrUnknownClientIsNotLookedUp) {
  auto c = Client({Zen()});
  std::vector<Signal> out;
  DnsblReport r;
  ASSERT_TRUE(c->Lookup("10.0.0.1", {}, &out, &r).ok());
  EXPECT_EQ(r.queries, 0);
  EXPECT_EQ(r.client_skipped, "non-public address 10.0.0.1");
  r = DnsblReport();
  ASSERT_TRUE(c->Lookup("", {}, &out, &r).ok());
  EXPECT_EQ(r.queries, 0);
  EXPECT_EQ(r.client_skipped, "");
  EXPECT_TRUE(out.empty());
}

TEST_F(DnsblDnsmasqTest, LinkDomainsCountOncePerZone) {
  auto c = Client({Dbl()});
  std::vector<Link> links = {L("www.example.com"), L("clean.example.net"),   L("evil.example.org"),
                             L("203.0.113.5"),     L("shop.example.com.vn"), L("www.example.com")};
  std::vector<Signal> out;
  DnsblReport r;
  ASSERT_TRUE(c->Lookup("192.0.2.1", links, &out, &r).ok());
  ASSERT_EQ(out.size(), 1u) << r.ToJson().dump();
  EXPECT_EQ(out[0].name, "URIBL_DBL");
  EXPECT_DOUBLE_EQ(out[0].score, 4.0);
  EXPECT_EQ(out[0].detail, "uri example.com -> 127.0.1.2 (+3 more)");
  // example.com, www.example.com, example.net, clean.example.net, example.org,
  // evil.example.org, the address, example.com.vn, shop.example.com.vn.
  EXPECT_EQ(r.uri_names, 9);
  EXPECT_EQ(r.queries, 9);
  EXPECT_EQ(r.answered, 9);
  EXPECT_EQ(r.listed, 4);
}

// A link to "bộcôngan.vn" is asked about as the list publishes it, in ASCII, once the
// view has given its host (the list entry above is Python's "bộcôngan.vn".encode("idna")).
TEST_F(DnsblDnsmasqTest, InternationalisedLinkHostIsAskedInAsciiForm) {
  auto c = Client({Dbl()});
  Link link;
  link.url = "http://www.BỘCÔNGAN.vn/tin";
  link.host = UrlHost(link.url);
  std::vector<Signal> out;
  DnsblReport r;
  std::vector<Link> links = {link};
  ASSERT_TRUE(c->Lookup("192.0.2.1", links, &out, &r).ok());
  ASSERT_EQ(out.size(), 1u) << r.ToJson().dump() << dns_->Log();
  EXPECT_EQ(out[0].name, "URIBL_DBL");
  EXPECT_EQ(out[0].detail, "uri xn--bcngan-jxa6332d.vn -> 127.0.1.2");
  EXPECT_EQ(r.uri_names, 2);  // the registrable domain and the www. host
  EXPECT_EQ(r.listed, 1);
}

TEST_F(DnsblDnsmasqTest, ClientAndLinksInOneLookup) {
  auto c = Client({Zen(), Plain(), Dbl()});
  std::vector<Link> links = {L("example.com")};
  std::vector<Signal> out;
  DnsblReport r;
  ASSERT_TRUE(c->Lookup("192.0.2.3", links, &out, &r).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "DNSBL_ZEN_XBL");  // zones in declared order
  EXPECT_EQ(out[1].name, "URIBL_DBL");
  EXPECT_EQ(out[1].detail, "uri example.com -> 127.0.1.2");
  EXPECT_EQ(r.queries, 3);
}

TEST_F(DnsblDnsmasqTest, ManyThreadsShareOneClient) {
  auto c = Client({Zen(), Plain(), Dbl()});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::vector<Signal> out;
        DnsblReport r;
        bool listed = (t + i) % 2 == 0;
        std::vector<Link> links = {L(listed ? "www.example.com" : "www.example.net")};
        if (!c->Lookup(listed ? "192.0.2.1" : "192.0.2.2", links, &out, &r).ok()) ++wrong;
        size_t want = listed ? 4 : 0;  // SBL, ZEN (127.0.0.10), PLAIN, URIBL_DBL
        if (out.size() != want || r.answered != r.queries) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// ---- servers that do not answer ------------------------------------------------------------

TEST(DnsblBudget, SilentServerCostsTheBudgetAndNoMore) {
  testing::SpamSilentUdpServer silent;
  DnsblOptions o;
  o.servers = {silent.server()};
  o.budget = milliseconds(300);
  auto c = DnsblClient::Create(o, {Zen(), Dbl()});
  ASSERT_TRUE(c.ok());
  std::vector<Link> links = {L("example.com"), L("example.org")};
  std::vector<Signal> out;
  DnsblReport r;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*c)->Lookup("192.0.2.1", links, &out, &r).ok());
  auto elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r.queries, 3);
  EXPECT_EQ(r.timed_out, 3);
  EXPECT_EQ(r.answered, 0);
  EXPECT_EQ(r.zones_timed_out, (std::vector<std::string>{"zen.test", "dbl.test"}));
  // Bounded by the budget (plus scheduling slack on a busy machine), and it did wait.
  EXPECT_GE(elapsed.count(), 290);
  EXPECT_LT(elapsed.count(), 300 + 700);

  // The channel goes back to the pool after cancelled queries and serves the next message.
  out.clear();
  r = DnsblReport();
  ASSERT_TRUE((*c)->Lookup("192.0.2.1", {}, &out, &r).ok());
  EXPECT_EQ(r.timed_out, 1);
}

TEST(DnsblBudget, RefusingServerFailsFast) {
  // A UDP port nobody listens on: the kernel answers "port unreachable".
  int port = testing::SpamFreePort(SOCK_DGRAM);
  DnsblOptions o;
  o.servers = {"127.0.0.1:" + std::to_string(port)};
  o.budget = milliseconds(2000);
  auto c = DnsblClient::Create(o, {Zen()});
  ASSERT_TRUE(c.ok());
  std::vector<Signal> out;
  DnsblReport r;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*c)->Lookup("192.0.2.1", {}, &out, &r).ok());
  auto elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r.queries, 1);
  EXPECT_EQ(r.failed + r.timed_out, 1) << r.ToJson().dump();
  EXPECT_EQ(r.failed, 1) << r.ToJson().dump();
  EXPECT_EQ(r.zones_failed, std::vector<std::string>{"zen.test"});
  EXPECT_LT(elapsed.count(), 1500);
}

}  // namespace
}  // namespace mailwarden::spam

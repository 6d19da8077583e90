// Name lookups under a deadline (milter/net/resolve.h): numeric addresses, /etc/hosts, a
// private dnsmasq answering for a test domain, and a DNS server that never answers, which
// must cost the caller its deadline and no more.
#include "milter/net/resolve.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <string>

#include "tests/unit/spam_test_servers.h"

namespace mailwarden::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Text(const ResolvedAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (a.family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.addr);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    port = ntohs(v4->sin_port);
  } else if (a.family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    port = ntohs(v6->sin6_port);
  }
  return std::string(buf) + " port " + std::to_string(port);
}

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

TEST(ResolveHost, NumericAddressesNeedNoLookupNorTime) {
  // A deadline already past: a numeric address asks nobody, so it still works.
  const auto past = Clock::now() - milliseconds(1);
  auto v4 = ResolveHost("192.0.2.7", 783, past);
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ(Text((*v4)[0]), "192.0.2.7 port 783");
  EXPECT_EQ((*v4)[0].len, sizeof(sockaddr_in));

  auto v6 = ResolveHost("2001:db8::7", 11333, past);
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  ASSERT_EQ(v6->size(), 1u);
  EXPECT_EQ(Text((*v6)[0]), "2001:db8::7 port 11333");
  EXPECT_EQ((*v6)[0].len, sizeof(sockaddr_in6));

  // A name with no time left is a timeout, not a lookup.
  auto late = ResolveHost("scorer.example", 783, past);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Status::Code::kTimeout);
}

TEST(ResolveHost, OddNamesAreRefused) {
  const auto deadline = Clock::now() + milliseconds(1000);
  for (const std::string& bad : {std::string(), std::string("two words"),
                                 std::string("line\r\nbreak"), std::string(300, 'a')}) {
    auto r = ResolveHost(bad, 783, deadline);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

TEST(ResolveHost, HostsFileNamesResolveLikeTheSystem) {
  auto r = ResolveHost("localhost", 11333, Clock::now() + milliseconds(3000));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(r->empty());
  bool loopback = false;
  for (const ResolvedAddress& a : *r) {
    std::string t = Text(a);
    EXPECT_TRUE(t.ends_with(" port 11333")) << t;
    loopback |= t == "127.0.0.1 port 11333" || t == "::1 port 11333";
  }
  EXPECT_TRUE(loopback);
}

class ResolveDnsmasqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::SpamDnsmasq::Available()) {
      GTEST_SKIP() << "dnsmasq is not installed (Debian package dnsmasq-base)";
    }
    std::string error;
    ASSERT_TRUE(dns_.Start({{"scorer.resolve.test", "127.0.0.7"},
                            {"pair.resolve.test", "127.0.0.8"},
                            {"pair.resolve.test", "127.0.0.9"}},
                           {"test"}, &error))
        << error;
  }
  testing::SpamDnsmasq dns_;
};

TEST_F(ResolveDnsmasqTest, NamesResolveAtTheGivenServers) {
  auto one =
      ResolveHost("scorer.resolve.test", 783, Clock::now() + milliseconds(3000), dns_.server());
  ASSERT_TRUE(one.ok()) << one.status().ToString() << "\n" << dns_.Log();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(Text((*one)[0]), "127.0.0.7 port 783");

  auto two = ResolveHost("pair.resolve.test", 80, Clock::now() + milliseconds(3000), dns_.server());
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  ASSERT_EQ(two->size(), 2u);
}

TEST_F(ResolveDnsmasqTest, UnknownNameIsUnavailable) {
  auto r =
      ResolveHost("nothere.resolve.test", 783, Clock::now() + milliseconds(3000), dns_.server());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("nothere.resolve.test"), std::string::npos);
}

TEST(ResolveHost, SilentServerCostsTheDeadlineAndNoMore) {
  testing::SpamSilentUdpServer silent;
  const auto start = Clock::now();
  auto r = ResolveHost("scorer.resolve.test", 783, start + milliseconds(300), silent.server());
  const int64_t elapsed = MillisSince(start);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  // It waited for the deadline and returned with it, far from a resolver's own seconds
  // (the slack is for a busy machine).
  EXPECT_GE(elapsed, 290);
  EXPECT_LT(elapsed, 300 + 700);
}

TEST(ResolveHost, BadServersAreRefused) {
  auto r = ResolveHost("scorer.resolve.test", 783, Clock::now() + milliseconds(1000),
                       "not a server list");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace mailwarden::net

#include "common/socket_spec.h"

#include <gtest/gtest.h>

namespace mailwarden {
namespace {

TEST(SocketSpec, ParsesInetHostPort) {
  auto s = ParseSocketSpec("inet:127.0.0.1:8891");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SocketSpec::Kind::kInet);
  EXPECT_EQ(s->host, "127.0.0.1");
  EXPECT_EQ(s->port, 8891);
  EXPECT_EQ(s->ToLibmilter(), "inet:8891@127.0.0.1");
  EXPECT_EQ(s->ToString(), "inet:127.0.0.1:8891");
}

TEST(SocketSpec, ParsesSendmailStyleAndIpv6) {
  auto s = ParseSocketSpec("inet:8891@localhost");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->host, "localhost");
  EXPECT_EQ(s->port, 8891);
  auto v6 = ParseSocketSpec("inet:[::1]:10040");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToLibmilter(), "inet6:10040@::1");
  EXPECT_EQ(v6->ToString(), "inet:[::1]:10040");
}

TEST(SocketSpec, ParsesUnix) {
  auto s = ParseSocketSpec("unix:/run/mailwarden/milter.sock");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SocketSpec::Kind::kUnix);
  EXPECT_EQ(s->path, "/run/mailwarden/milter.sock");
  EXPECT_TRUE(ParseSocketSpec("local:/tmp/x").ok());
}

TEST(SocketSpec, RejectsBadSpecs) {
  for (const char* bad :
       {"", "8891", "inet:", "inet:host", "inet:host:0", "inet:host:65536", "inet:host:12ab",
        "inet::8891", "unix:", "unix:relative/path", "tcp:1.2.3.4:5", "inet:[::1:5"}) {
    EXPECT_FALSE(ParseSocketSpec(bad).ok()) << bad;
  }
  std::string long_path = "unix:/" + std::string(200, 'a');
  EXPECT_FALSE(ParseSocketSpec(long_path).ok());
}

}  // namespace
}  // namespace mailwarden

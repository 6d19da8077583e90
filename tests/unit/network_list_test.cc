#include "common/network_list.h"

#include <gtest/gtest.h>

namespace mailwarden {
namespace {

TEST(NetworkList, Ipv4NetworksAndHosts) {
  auto list = NetworkList::Parse({"192.0.2.0/24", "10.1.2.3", "0.0.0.0/0"});
  ASSERT_TRUE(list.ok()) << list.status().message();
  auto narrow = NetworkList::Parse({"192.0.2.0/24", "10.1.2.3"});
  ASSERT_TRUE(narrow.ok());
  EXPECT_TRUE(narrow->Contains("192.0.2.77"));
  EXPECT_FALSE(narrow->Contains("192.0.3.1"));
  EXPECT_TRUE(narrow->Contains("10.1.2.3"));
  EXPECT_FALSE(narrow->Contains("10.1.2.4"));
  EXPECT_TRUE(list->Contains("203.0.113.9"));
}

TEST(NetworkList, Ipv6AndMappedAddresses) {
  auto list = NetworkList::Parse({"2001:db8::/32", "192.0.2.0/24"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->Contains("2001:db8:1::5"));
  EXPECT_TRUE(list->Contains("IPv6:2001:db8::1"));
  EXPECT_FALSE(list->Contains("2001:db9::1"));
  EXPECT_TRUE(list->Contains("::ffff:192.0.2.1"));
}

TEST(NetworkList, OddPrefixLengths) {
  auto list = NetworkList::Parse({"198.51.100.128/25"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->Contains("198.51.100.200"));
  EXPECT_FALSE(list->Contains("198.51.100.127"));
}

TEST(NetworkList, NonAddressesNeverMatch) {
  auto list = NetworkList::Parse({"0.0.0.0/0"});
  ASSERT_TRUE(list.ok());
  for (const char* s : {"", "unknown", "localhost", "[127.0.0.1]", "1.2.3.4.5"}) {
    EXPECT_FALSE(list->Contains(s)) << s;
  }
}

TEST(NetworkList, BadEntriesAreRefusedWithAReason) {
  for (const char* bad : {"192.0.2.1/24", "192.0.2.0/33", "2001:db8::/129", "example.org",
                          "192.0.2.0/", "192.0.2.0/x", ""}) {
    EXPECT_FALSE(NetworkList::EntryProblem(bad).empty()) << bad;
  }
  EXPECT_TRUE(NetworkList::EntryProblem("192.0.2.0/24").empty());
  auto list = NetworkList::Parse({"192.0.2.1/24", "ok"});
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("host bits"), std::string::npos);
}

}  // namespace
}  // namespace mailwarden

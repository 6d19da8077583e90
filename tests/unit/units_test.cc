#include "common/units.h"

#include <gtest/gtest.h>

namespace mailwarden {
namespace {

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseSize("15MiB"), 15u * 1024 * 1024);
  EXPECT_EQ(*ParseSize("2GiB"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(*ParseSize("10MB"), 10'000'000u);
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("1kib"), 1024u);
  EXPECT_EQ(*ParseSize("3 KB"), 3000u);
}

TEST(ParseSize, RejectsGarbageAndOverflow) {
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("MiB").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("15Mo").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("99999999999TiB").ok());
  EXPECT_NE(ParseSize("15Mo").status().message().find("unknown size unit"), std::string::npos);
}

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(*ParseDuration("90d"), 90 * 86400);
  EXPECT_EQ(*ParseDuration("30s"), 30);
  EXPECT_EQ(*ParseDuration("5m"), 300);
  EXPECT_EQ(*ParseDuration("12h"), 12 * 3600);
  EXPECT_EQ(*ParseDuration("2w"), 14 * 86400);
  EXPECT_EQ(*ParseDuration("45"), 45);
}

TEST(ParseDuration, RejectsGarbage) {
  EXPECT_FALSE(ParseDuration("5y").ok());
  EXPECT_FALSE(ParseDuration("d").ok());
  EXPECT_FALSE(ParseDuration("1.5h").ok());
  EXPECT_FALSE(ParseDuration("999999999999999999w").ok());
}

TEST(Format, RoundTrips) {
  EXPECT_EQ(FormatSize(15u * 1024 * 1024), "15MiB");
  EXPECT_EQ(FormatSize(1000), "1000");
  EXPECT_EQ(FormatSize(0), "0");
  EXPECT_EQ(FormatDuration(90 * 86400), "90d");
  EXPECT_EQ(FormatDuration(90), "90s");
  EXPECT_EQ(FormatDuration(3600), "1h");
  for (uint64_t v : {1ull, 1023ull, 1024ull, 5ull << 30, 123456789ull}) {
    EXPECT_EQ(*ParseSize(FormatSize(v)), v);
  }
}

}  // namespace
}  // namespace mailwarden

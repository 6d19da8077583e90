#include "milter/mime/true_type.h"

#include <gtest/gtest.h>

#include <string>

namespace mailwarden {
namespace {

// A minimal PE: DOS header with e_lfanew = 0x80 and "PE\0\0" there.
std::string MinimalPe() {
  std::string s(0x100, '\0');
  s[0] = 'M';
  s[1] = 'Z';
  s[0x3C] = '\x80';
  s.replace(0x80, 4, std::string("PE\0\0", 4));
  return s;
}

TEST(TrueType, PeNeedsTheSignatureWhereTheHeaderSays) {
  EXPECT_EQ(SniffTrueType(MinimalPe()), TrueType::kPe);
  std::string csv = "MZ,price,quantity\n1,2,3\n" + std::string(200, 'x');
  EXPECT_EQ(SniffTrueType(csv), TrueType::kUnknown);
  std::string broken = MinimalPe();
  broken[0x3C] = '\xFF';  // e_lfanew points past the data
  broken[0x3D] = '\xFF';
  EXPECT_EQ(SniffTrueType(broken), TrueType::kUnknown);
  EXPECT_EQ(SniffTrueType(MinimalPe().substr(0, 0x50)), TrueType::kUnknown);  // cut short
  EXPECT_EQ(SniffTrueType("MZ"), TrueType::kUnknown);
}

TEST(TrueType, OtherExecutableFormats) {
  EXPECT_EQ(SniffTrueType(std::string("\x7F"
                                      "ELF\x02\x01\x01",
                                      7) +
                          std::string(64, '\0')),
            TrueType::kElf);
  EXPECT_EQ(SniffTrueType(std::string("\xCF\xFA\xED\xFE\x07\x00\x00\x01", 8)), TrueType::kMachO);
  EXPECT_EQ(SniffTrueType(std::string("\xCA\xFE\xBA\xBE\x00\x00\x00\x02", 8)), TrueType::kMachO);
  // A Java class file shares the magic; its version (here 52) is not an architecture count.
  EXPECT_EQ(SniffTrueType(std::string("\xCA\xFE\xBA\xBE\x00\x00\x00\x34", 8)), TrueType::kUnknown);
  EXPECT_EQ(SniffTrueType(std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + "rest"),
            TrueType::kOle2);
  EXPECT_EQ(SniffTrueType(std::string("\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00"
                                      "\x00\x00\x00\x00\x00\x46\x9B\x00",
                                      22)),
            TrueType::kLnk);
  EXPECT_EQ(SniffTrueType("#!/bin/sh\nrm -rf /\n"), TrueType::kScript);
  std::string iso(40000, '\0');
  iso.replace(32769, 5, "CD001");
  EXPECT_EQ(SniffTrueType(iso), TrueType::kIso9660);
}

TEST(TrueType, OrdinaryDocumentsAreUnknown) {
  for (const char* head :
       {"%PDF-1.7\n", "PK\x03\x04", "\x89PNG\r\n\x1a\n", "GIF89a", "", "Hello, world"}) {
    EXPECT_EQ(SniffTrueType(head), TrueType::kUnknown) << head;
  }
  EXPECT_EQ(TrueTypeName(TrueType::kPe), "pe");
}

}  // namespace
}  // namespace mailwarden

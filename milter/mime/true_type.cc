// Magic-number checks over untrusted bytes. Every read is bounds-checked against the
// sniffed window; an offset read from the data (PE's e_lfanew) is validated before use.
#include "milter/mime/true_type.h"

#include <cstdint>

namespace mailwarden {
namespace {

uint32_t Le32(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3])) << 24;
}

uint32_t Be32(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsPe(std::string_view s) {
  // DOS header: "MZ", and at 0x3C the offset of the PE signature.
  if (s.size() < 0x40 || !StartsWith(s, "MZ")) return false;
  uint32_t pe = Le32(s, 0x3C);
  if (pe < 0x40 || pe > s.size() - 4) return false;
  return s.substr(pe, 4) == std::string_view("PE\0\0", 4);
}

bool IsMachO(std::string_view s) {
  if (s.size() < 8) return false;
  uint32_t be = Be32(s, 0);
  uint32_t le = Le32(s, 0);
  if (be == 0xFEEDFACE || be == 0xFEEDFACF || le == 0xFEEDFACE || le == 0xFEEDFACF) return true;
  // 0xCAFEBABE is both a fat Mach-O and a Java class file. A fat binary's second word is a
  // small architecture count; a class file's is its version (45 and up).
  if (be == 0xCAFEBABE) {
    uint32_t count = Be32(s, 4);
    return count > 0 && count < 20;
  }
  return false;
}

bool IsLnk(std::string_view s) {
  // HeaderSize 0x4C, then the shell-link CLSID 00021401-0000-0000-C000-000000000046.
  static constexpr std::string_view kHeader(
      "\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00\x00\x00\x00\x00\x00\x46", 20);
  return StartsWith(s, kHeader);
}

}  // namespace

TrueType SniffTrueType(std::string_view s) {
  if (IsPe(s)) return TrueType::kPe;
  if (StartsWith(s,
                 "\x7F"
                 "ELF"))
    return TrueType::kElf;
  if (IsMachO(s)) return TrueType::kMachO;
  if (StartsWith(s, std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))) {
    return TrueType::kOle2;
  }
  if (IsLnk(s)) return TrueType::kLnk;
  if (s.size() >= 32774 && s.substr(32769, 5) == "CD001") return TrueType::kIso9660;
  if (StartsWith(s, "#!")) return TrueType::kScript;
  return TrueType::kUnknown;
}

std::string_view TrueTypeName(TrueType type) {
  switch (type) {
    case TrueType::kPe:
      return "pe";
    case TrueType::kElf:
      return "elf";
    case TrueType::kMachO:
      return "macho";
    case TrueType::kOle2:
      return "ole2";
    case TrueType::kLnk:
      return "lnk";
    case TrueType::kIso9660:
      return "iso9660";
    case TrueType::kScript:
      return "script";
    case TrueType::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace mailwarden

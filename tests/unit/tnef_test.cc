// The TNEF reader against the ClamAV test file (/usr/share/clamav-testfiles/clam.tnef,
// package clamav-testfiles: clam.exe inside a winmail.dat) and against streams built here
// record by record, for what the real file does not show: Unicode long names, code pages,
// limits, repeated attributes, damage.
#include "milter/mime/tnef.h"

#include <gtest/gtest.h>

#include <cstring>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mailwarden {
namespace {

const char kClamTnef[] = "/usr/share/clamav-testfiles/clam.tnef";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ClamTnef() {
  std::string bytes = ReadFile(kClamTnef);
  EXPECT_FALSE(bytes.empty()) << kClamTnef << " missing: apt-get install clamav-testfiles";
  return bytes;
}

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutLe16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}

// Attribute tags (type << 16 | id) as Outlook writes them.
constexpr uint32_t kOemCodepage = 0x00069007;
constexpr uint32_t kRendData = 0x00069002;
constexpr uint32_t kTitle = 0x00018010;
constexpr uint32_t kData = 0x0006800F;
constexpr uint32_t kAttachment = 0x00069005;
constexpr uint32_t kSubject = 0x00018004;

// Builds a TNEF stream one record at a time, with correct checksums.
class TnefBuilder {
 public:
  TnefBuilder() : bytes_("\x78\x9F\x3E\x22\x01\x00", 6) {}
  TnefBuilder& Record(uint32_t tag, const std::string& data, uint8_t level = 2) {
    bytes_.push_back(static_cast<char>(level));
    PutLe32(bytes_, tag);
    PutLe32(bytes_, static_cast<uint32_t>(data.size()));
    bytes_ += data;
    uint32_t sum = 0;
    for (unsigned char c : data) sum += c;
    PutLe16(bytes_, sum & 0xFFFF);
    return *this;
  }
  // One attachment: attRenddata, attAttachTitle, attAttachData, and the MAPI block if any.
  TnefBuilder& File(const std::string& title, const std::string& content,
                    const std::string& mapi = "") {
    Record(kRendData, std::string(14, '\0'));
    Record(kTitle, title + std::string(1, '\0'));
    Record(kData, content);
    if (!mapi.empty()) Record(kAttachment, mapi);
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// A MAPI property block of string or binary properties, one value each.
class MapiBuilder {
 public:
  MapiBuilder& Add(uint32_t type, uint32_t id, const std::string& value) {
    PutLe32(props_, id << 16 | type);
    PutLe32(props_, 1);  // values
    PutLe32(props_, static_cast<uint32_t>(value.size()));
    props_ += value;
    props_.append((4 - value.size() % 4) % 4, '\0');
    ++count_;
    return *this;
  }
  std::string bytes() const {
    std::string out;
    PutLe32(out, count_);
    return out + props_;
  }

 private:
  std::string props_;
  uint32_t count_ = 0;
};

constexpr uint32_t kPtString8 = 0x1E, kPtUnicode = 0x1F, kPtObject = 0x0D;

// `s` as UTF-16LE bytes, NUL-terminated.
std::string Utf16Le(const std::u16string& s) {
  std::string out;
  for (char16_t c : s) PutLe16(out, c);
  PutLe16(out, 0);
  return out;
}

TEST(TnefTest, LooksLikeTnefOnTheSignatureOnly) {
  EXPECT_TRUE(LooksLikeTnef(std::string("\x78\x9F\x3E\x22", 4)));
  EXPECT_TRUE(LooksLikeTnef(ClamTnef()));
  EXPECT_FALSE(LooksLikeTnef(std::string("\x22\x3E\x9F\x78", 4)));
  EXPECT_FALSE(LooksLikeTnef(std::string("\x78\x9F\x3E", 3)));
  EXPECT_FALSE(LooksLikeTnef(""));
  EXPECT_FALSE(LooksLikeTnef("PK\x03\x04"));
}

TEST(TnefTest, ClamTnefHoldsClamExe) {
  auto contents = ReadTnef(ClamTnef(), {});
  ASSERT_TRUE(contents.ok()) << contents.status().ToString();
  ASSERT_EQ(contents->files.size(), 1u);
  const TnefFile& file = contents->files[0];
  EXPECT_EQ(file.name, "clam.exe");
  EXPECT_TRUE(file.content.starts_with("MZ"));
  EXPECT_EQ(file.content, ReadFile("/usr/share/clamav-testfiles/clam.exe"));
  EXPECT_FALSE(file.truncated);
  EXPECT_FALSE(contents->limit_hit);
}

TEST(TnefTest, GarbageIsAParseError) {
  for (const std::string& garbage :
       {std::string(), std::string("hello world"), std::string(1000, '\xFF'),
        std::string("PK\x03\x04 not tnef either")}) {
    auto contents = ReadTnef(garbage, {});
    ASSERT_FALSE(contents.ok());
    EXPECT_EQ(contents.status().code(), Status::Code::kParseError);
    EXPECT_FALSE(contents.status().message().empty());
  }
  auto no_key = ReadTnef(std::string("\x78\x9F\x3E\x22\x01", 5), {});
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().code(), Status::Code::kParseError);
}

TEST(TnefTest, SignatureFollowedByGarbageIsDamagedNotACrash) {
  std::string bytes = std::string("\x78\x9F\x3E\x22\x01\x00", 6) + std::string(5000, '\xA5');
  auto contents = ReadTnef(bytes, {});
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE(contents->damaged);
}

TEST(TnefTest, PaddingShorterThanARecordIsNotDamage) {
  // Up to 8 bytes: one short of a record header.
  for (std::string pad : {std::string("\n"), std::string("\r\n"), std::string(8, '\0')}) {
    std::string bytes = TnefBuilder().bytes() + pad;
    auto contents = ReadTnef(bytes, {});
    ASSERT_TRUE(contents.ok());
    EXPECT_FALSE(contents->damaged);
  }
  auto clam = ReadTnef(ReadFile("/usr/share/clamav-testfiles/clam.tnef"), {});
  ASSERT_TRUE(clam.ok());
  EXPECT_FALSE(clam->damaged);  // it ends with one 0x0a byte after its last record
}

TEST(TnefTest, EmptyStreamListsNothing) {
  auto contents = ReadTnef(TnefBuilder().bytes(), {});
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE(contents->files.empty());
  EXPECT_FALSE(contents->damaged);
}

TEST(TnefTest, TruncatedClamTnefIsDamagedNotACrash) {
  std::string clam = ClamTnef();
  // Every prefix: cut in the signature, the key, a header, a record, a checksum. A cut
  // that falls exactly between two records cannot be told from the end of the stream.
  for (size_t n = 0; n < clam.size(); ++n) {
    auto contents = ReadTnef(std::string_view(clam).substr(0, n), {});
    if (!contents.ok()) {
      EXPECT_EQ(contents.status().code(), Status::Code::kParseError);
      EXPECT_LT(n, 6u);
    }
  }
  auto half = ReadTnef(std::string_view(clam).substr(0, clam.size() / 2), {});
  ASSERT_TRUE(half.ok());
  EXPECT_TRUE(half->damaged);
}

TEST(TnefTest, DataCutShortIsListedTruncated) {
  std::string exe(4000, 'x');
  exe.replace(0, 2, "MZ");
  std::string bytes = TnefBuilder().File("evil.exe", exe).bytes();
  bytes.resize(bytes.size() - 1000);
  auto contents = ReadTnef(bytes, {});
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE(contents->damaged);
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].name, "evil.exe");
  EXPECT_TRUE(contents->files[0].truncated);
  EXPECT_TRUE(contents->files[0].content.starts_with("MZ"));
}

TEST(TnefTest, WellFormedStreamListsEveryFile) {
  auto contents = ReadTnef(TnefBuilder()
                               .Record(kSubject, "a subject far longer than the 100 bytes libytnef "
                                                 "accepts for one, which must not stop the walk "
                                                 "before the attachments",
                                       1)
                               .File("A.TXT", "first")
                               .File("B.TXT", "second")
                               .bytes(),
                           {});
  ASSERT_TRUE(contents.ok());
  EXPECT_FALSE(contents->damaged);
  ASSERT_EQ(contents->files.size(), 2u);
  EXPECT_EQ(contents->files[0].name, "A.TXT");
  EXPECT_EQ(contents->files[0].content, "first");
  EXPECT_EQ(contents->files[1].name, "B.TXT");
  EXPECT_EQ(contents->files[1].content, "second");
}

TEST(TnefTest, WrongChecksumsAreTolerated) {
  std::string bytes = TnefBuilder().File("A.TXT", "first").bytes();
  bytes.back() ^= 0x55;  // the data record's checksum
  auto contents = ReadTnef(bytes, {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].content, "first");
  EXPECT_FALSE(contents->damaged);
}

TEST(TnefTest, UnicodeLongFileNameWinsOverTheTitle) {
  // "r\u00e9sum\u00e9 \U0001F600.exe": Latin-1, and a character beyond the BMP.
  std::string mapi = MapiBuilder()
                         .Add(kPtUnicode, 0x3707, Utf16Le(u"r\u00e9sum\u00e9 \U0001F600.exe"))
                         .Add(kPtString8, 0x3704, std::string("RESUME~1.EXE\0", 13))
                         .bytes();
  auto contents = ReadTnef(TnefBuilder().File("RESUME~1.EXE", "MZ...", mapi).bytes(), {});
  ASSERT_TRUE(contents.ok());
  EXPECT_FALSE(contents->damaged);
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].name, "r\u00e9sum\u00e9 \U0001F600.exe");
}

TEST(TnefTest, EightBitNamesFollowTheCodePage) {
  std::string cp1252;
  PutLe32(cp1252, 1252);
  PutLe32(cp1252, 0);
  std::string mapi =
      MapiBuilder().Add(kPtString8, 0x3707, std::string("caf\xE9 menu.pdf\0", 14)).bytes();
  auto contents = ReadTnef(TnefBuilder()
                               .Record(kOemCodepage, cp1252, 1)
                               .File("CAF\xC9~1.PDF", "%PDF", mapi)
                               .File("NA\xCFVE.TXT", "x")
                               .bytes(),
                           {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 2u);
  EXPECT_EQ(contents->files[0].name, "caf\u00e9 menu.pdf");
  EXPECT_EQ(contents->files[1].name, "NA\u00cfVE.TXT");
}

TEST(TnefTest, NameStopsAtTheFirstNul) {
  auto contents =
      ReadTnef(TnefBuilder().File(std::string("evil.exe\0.txt", 13), "MZ").bytes(), {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].name, "evil.exe");
}

TEST(TnefTest, DataObjectIsContent) {
  std::string object = std::string(16, '\x11') + "MZ embedded";
  std::string mapi = MapiBuilder()
                         .Add(kPtString8, 0x3707, std::string("object.exe\0", 11))
                         .Add(kPtObject, 0x3701, object)
                         .bytes();
  TnefBuilder b;
  b.Record(kRendData, std::string(14, '\0')).Record(kAttachment, mapi);
  auto contents = ReadTnef(b.bytes(), {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].name, "object.exe");
  EXPECT_EQ(contents->files[0].content, "MZ embedded");
}

TEST(TnefTest, DataAndDataObjectAreBothListed) {
  std::string mapi = MapiBuilder().Add(kPtObject, 0x3701, std::string(16, '\0') + "MZ hidden").bytes();
  auto contents = ReadTnef(TnefBuilder().File("INNOCENT.TXT", "hello", mapi).bytes(), {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 2u);
  EXPECT_EQ(contents->files[0].content, "hello");
  EXPECT_EQ(contents->files[1].content, "MZ hidden");
  EXPECT_EQ(contents->files[1].name, "INNOCENT.TXT");
}

TEST(TnefTest, RepeatedDataStartsAFileOfItsOwn) {
  TnefBuilder b;
  b.File("A.TXT", "harmless").Record(kData, "MZ second copy");
  auto contents = ReadTnef(b.bytes(), {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 2u);
  EXPECT_EQ(contents->files[0].content, "harmless");
  EXPECT_EQ(contents->files[1].content, "MZ second copy");
}

TEST(TnefTest, DataOutsideAnyAttachmentIsListed) {
  TnefBuilder b;
  b.Record(kData, "MZ no renddata");
  auto contents = ReadTnef(b.bytes(), {});
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].content, "MZ no renddata");
}

TEST(TnefTest, UnreadableMapiBlockKeepsTheTitle) {
  std::string bad_mapi;
  PutLe32(bad_mapi, 5000);  // more properties than libytnef accepts
  PutLe32(bad_mapi, 0);
  auto contents = ReadTnef(TnefBuilder().File("CLAM.EXE", "MZ", bad_mapi).bytes(), {});
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE(contents->damaged);
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].name, "CLAM.EXE");
  EXPECT_EQ(contents->files[0].content, "MZ");
}

TEST(TnefTest, MaxFilesStopsTheWalk) {
  TnefBuilder b;
  for (int i = 0; i < 5; ++i) b.File("F" + std::to_string(i) + ".TXT", "x");
  TnefLimits limits;
  limits.max_files = 3;
  auto contents = ReadTnef(b.bytes(), limits);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->files.size(), 3u);
  EXPECT_TRUE(contents->limit_hit);
  EXPECT_EQ(contents->limit_name, "max_files");

  limits.max_files = 0;
  auto none = ReadTnef(ClamTnef(), limits);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->files.empty());
  EXPECT_TRUE(none->limit_hit);
  EXPECT_EQ(none->limit_name, "max_files");

  limits.max_files = 5;
  auto exact = ReadTnef(b.bytes(), limits);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->files.size(), 5u);
  EXPECT_FALSE(exact->limit_hit);
}

TEST(TnefTest, MaxTotalBytesCutsTheFileThatCrossesIt) {
  TnefLimits limits;
  limits.max_total_bytes = 100;
  auto contents = ReadTnef(ClamTnef(), limits);
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE(contents->limit_hit);
  EXPECT_EQ(contents->limit_name, "max_total_bytes");
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].content.size(), 100u);
  EXPECT_TRUE(contents->files[0].content.starts_with("MZ"));
  EXPECT_TRUE(contents->files[0].truncated);

  limits.max_total_bytes = 8;
  auto two = ReadTnef(TnefBuilder().File("A", "12345").File("B", "67890").File("C", "x").bytes(),
                      limits);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->files.size(), 2u);
  EXPECT_EQ(two->files[0].content, "12345");
  EXPECT_FALSE(two->files[0].truncated);
  EXPECT_EQ(two->files[1].content, "678");
  EXPECT_TRUE(two->files[1].truncated);
  EXPECT_EQ(two->limit_name, "max_total_bytes");
}

TEST(TnefTest, RecordSizesPastTheEndAreNotTrusted) {
  std::string bytes("\x78\x9F\x3E\x22\x01\x00", 6);
  bytes += '\x02';
  PutLe32(bytes, kData);
  PutLe32(bytes, 0xFFFFFFF0u);  // 4 GB declared, 3 bytes present
  bytes += "MZ!";
  auto contents = ReadTnef(bytes, {});
  ASSERT_TRUE(contents.ok());
  EXPECT_TRUE(contents->damaged);
  ASSERT_EQ(contents->files.size(), 1u);
  EXPECT_EQ(contents->files[0].content, "MZ!");
  EXPECT_TRUE(contents->files[0].truncated);
}

}  // namespace
}  // namespace mailwarden

// The ARJ reader (arj.h) and the archive walker on ARJ input: the ClamAV test file
// (/usr/share/clamav-testfiles/clam.arj, package clamav-testfiles: clam.exe, compressed) and
// archives built here header by header (CRCs from zlib, independent of the reader's own),
// for what the real file does not show: stored members, encryption, nesting, limits, damage.
#include "milter/mime/arj.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "milter/mime/archive.h"

namespace mailwarden {
namespace {

const char kClamArj[] = "/usr/share/clamav-testfiles/clam.arj";
const char kClamExe[] = "/usr/share/clamav-testfiles/clam.exe";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Fixture(const char* path) {
  std::string bytes = ReadFile(path);
  EXPECT_FALSE(bytes.empty()) << path << " missing: apt-get install clamav-testfiles";
  return bytes;
}

uint32_t Crc(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void PutLe16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}

void PutLe32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// One header of an ARJ archive built by hand, and the data behind it.
struct Entry {
  std::string name;
  std::string data;
  uint8_t flags = 0;
  uint8_t method = 0;          // 0 stored
  uint8_t file_type = 0;       // 0 binary, 2 main header, 3 directory, 4 volume label
  int64_t original_size = -1;  // -1: data.size()
  std::string comment;
  std::string extended;  // one extended header when not empty
  bool bad_header_crc = false;
  bool bad_file_crc = false;
};

// id, basic header size, basic header (30 fixed bytes, name, comment), CRC, extended
// headers, data.
std::string Header(const Entry& e) {
  std::string basic;
  basic.push_back(30);  // first_hdr_size
  basic.push_back(11);  // archiver version
  basic.push_back(1);   // minimum version to extract
  basic.push_back(0);   // host OS: MS-DOS
  basic.push_back(static_cast<char>(e.flags));
  basic.push_back(static_cast<char>(e.method));
  basic.push_back(static_cast<char>(e.file_type));
  basic.push_back(0);          // reserved
  PutLe32(basic, 0x5A2B3C4D);  // date and time
  PutLe32(basic, static_cast<uint32_t>(e.data.size()));
  PutLe32(basic, static_cast<uint32_t>(e.original_size < 0 ? e.data.size() : e.original_size));
  PutLe32(basic, Crc(e.data) ^ (e.bad_file_crc ? 1u : 0u));
  PutLe16(basic, 0);     // filespec position
  PutLe16(basic, 0x20);  // access mode
  PutLe16(basic, 0);     // host data
  basic += e.name;
  basic.push_back('\0');
  basic += e.comment;
  basic.push_back('\0');
  std::string out = "\x60\xEA";
  PutLe16(out, static_cast<uint32_t>(basic.size()));
  out += basic;
  PutLe32(out, Crc(basic) ^ (e.bad_header_crc ? 1u : 0u));
  if (!e.extended.empty()) {
    PutLe16(out, static_cast<uint32_t>(e.extended.size()));
    out += e.extended;
    PutLe32(out, Crc(e.extended));
  }
  PutLe16(out, 0);
  return out + e.data;
}

// A whole archive: main header, the entries, the end-of-archive header.
std::string Arj(const std::vector<Entry>& entries, uint8_t main_flags = 0) {
  Entry main;
  main.name = "built.arj";
  main.file_type = 2;
  main.flags = main_flags;
  std::string out = Header(main);
  for (const Entry& e : entries) out += Header(e);
  return out + std::string("\x60\xEA\x00\x00", 4);
}

Entry Stored(std::string name, std::string data) {
  Entry e;
  e.name = std::move(name);
  e.data = std::move(data);
  return e;
}

// A zip of stored members (no data descriptors), for nesting both ways.
std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out, directory;
  for (const auto& [name, data] : members) {
    uint32_t offset = static_cast<uint32_t>(out.size());
    std::string common;
    PutLe16(common, 10);  // version needed
    PutLe16(common, 0);   // flags
    PutLe16(common, 0);   // method: stored
    PutLe32(common, 0);   // time and date
    PutLe32(common, Crc(data));
    PutLe32(common, static_cast<uint32_t>(data.size()));
    PutLe32(common, static_cast<uint32_t>(data.size()));
    PutLe16(common, static_cast<uint32_t>(name.size()));
    PutLe16(common, 0);  // extra length
    out += std::string("PK\x03\x04", 4) + common + name + data;
    directory += std::string("PK\x01\x02", 4);
    PutLe16(directory, 20);  // version made by
    directory += common;
    PutLe16(directory, 0);  // comment length
    PutLe16(directory, 0);  // disk
    PutLe16(directory, 0);  // internal attributes
    PutLe32(directory, 0);  // external attributes
    PutLe32(directory, offset);
    directory += name;
  }
  uint32_t directory_at = static_cast<uint32_t>(out.size());
  out += directory;
  out += std::string("PK\x05\x06", 4);
  PutLe16(out, 0);
  PutLe16(out, 0);
  PutLe16(out, static_cast<uint32_t>(members.size()));
  PutLe16(out, static_cast<uint32_t>(members.size()));
  PutLe32(out, static_cast<uint32_t>(directory.size()));
  PutLe32(out, directory_at);
  PutLe16(out, 0);
  return out;
}

ArchiveListing List(std::string_view bytes, const ArchiveLimits& limits = {}) {
  auto listing = ListArchive(bytes, limits);
  EXPECT_TRUE(listing.ok()) << listing.status().ToString();
  return listing.ok() ? *listing : ArchiveListing{};
}

const ArchiveMember* Find(const ArchiveListing& listing, const std::string& path) {
  for (const ArchiveMember& m : listing.members) {
    if (m.path == path) return &m;
  }
  return nullptr;
}

TEST(ArjMagic, RecognisesTheHeaderIdWithAPlausibleSize) {
  std::string clam = Fixture(kClamArj);
  EXPECT_TRUE(LooksLikeArj(clam));
  EXPECT_TRUE(LooksLikeArchive(clam));
  EXPECT_TRUE(LooksLikeArchive(Arj({})));
  EXPECT_TRUE(LooksLikeArj(std::string_view("\x60\xEA\x20\x00", 4)));  // size alone
  for (std::string_view head :
       {std::string_view("\x60\xEA\x29\x0A\x1E", 5),  // 2601: over the format's maximum
        std::string_view("\x60\xEA\xFF\xFF\x1E", 5),
        std::string_view("\x60\xEA\x00\x00", 4),      // an end-of-archive header alone
        std::string_view("\x60\xEA\x1F\x00\x1D", 5),  // 31: smaller than any header
        std::string_view("\x60\xEA\x40\x00\x1D", 5),  // first_hdr_size 29
        std::string_view("\x60\xEA\x40\x00\x3F", 5),  // first_hdr_size leaves no NULs
        std::string_view("\x60\xEA\x40", 3), std::string_view("`\xEB\x40\x00\x1E", 5)}) {
    EXPECT_FALSE(LooksLikeArj(head)) << testing::PrintToString(head);
    EXPECT_FALSE(LooksLikeArchive(head)) << testing::PrintToString(head);
  }
}

TEST(ArjReader, ClamArjHoldsClamExeCompressed) {
  std::string clam = Fixture(kClamArj);
  ArjReader reader(clam);
  EXPECT_EQ(reader.archive_name(), "clam.arj");
  ArjEntry entry;
  ASSERT_TRUE(reader.Next(&entry)) << reader.damage();
  EXPECT_EQ(entry.name, "clam.exe");
  EXPECT_EQ(entry.method, 1);  // "compressed most": not readable here
  EXPECT_FALSE(entry.stored());
  EXPECT_FALSE(entry.garbled());
  EXPECT_EQ(entry.compressed_size, 269u);
  EXPECT_EQ(entry.original_size, 544u);
  EXPECT_EQ(entry.data.size(), 269u);
  EXPECT_FALSE(entry.data_cut);
  EXPECT_FALSE(reader.Next(&entry));
  EXPECT_TRUE(reader.at_end());
  EXPECT_EQ(reader.damage(), "");
}

TEST(ArjReader, Crc32IsTheZipOne) {
  EXPECT_EQ(ArjCrc32(""), 0u);
  EXPECT_EQ(ArjCrc32("123456789"), 0xCBF43926u);
  std::string clam = Fixture(kClamArj);
  EXPECT_EQ(ArjCrc32(clam), Crc(clam));
}

TEST(ArjListing, ClamArjNamesClamExeWithoutJudgingItsContent) {
  ArchiveListing listing = List(Fixture(kClamArj));
  EXPECT_EQ(listing.format, "arj");
  ASSERT_EQ(listing.members.size(), 1u);
  const ArchiveMember& exe = listing.members[0];
  EXPECT_EQ(exe.path, "clam.exe");
  EXPECT_EQ(exe.name, "clam.exe");
  EXPECT_EQ(exe.size, 544u);
  EXPECT_EQ(exe.depth, 1);
  EXPECT_FALSE(exe.encrypted);
  // Method 1 is not decompressed: the name is known, the content is not.
  EXPECT_EQ(exe.true_type, TrueType::kUnknown);
  EXPECT_EQ(listing.unread_members, 1u);
  EXPECT_FALSE(listing.embedded_executable);
  EXPECT_FALSE(listing.truncated);
  EXPECT_FALSE(listing.encrypted_entries);
  EXPECT_TRUE(listing.limit_hits.empty());
}

TEST(ArjListing, StoredPeIsJudgedByContent) {
  std::string exe = Fixture(kClamExe);
  ArchiveListing listing = List(Arj({Stored("invoice.pdf", exe), Stored("readme.txt", "hi\n")}));
  EXPECT_EQ(listing.format, "arj");
  ASSERT_EQ(listing.members.size(), 2u);
  EXPECT_EQ(listing.members[0].name, "invoice.pdf");
  EXPECT_EQ(listing.members[0].true_type, TrueType::kPe);
  EXPECT_EQ(listing.members[0].size, exe.size());
  EXPECT_EQ(listing.members[1].true_type, TrueType::kUnknown);
  EXPECT_EQ(listing.members[1].size, 3u);
  EXPECT_TRUE(listing.embedded_executable);
  EXPECT_EQ(listing.unread_members, 0u);
  EXPECT_FALSE(listing.truncated);
}

TEST(ArjListing, BackslashesBecomeSlashesAndDirectoriesAreDirectories) {
  Entry dir;
  dir.name = "docs\\old";
  dir.file_type = 3;
  ArchiveListing listing = List(Arj({dir, Stored("docs\\old\\evil.exe", "MZ")}));
  ASSERT_EQ(listing.members.size(), 2u);
  EXPECT_EQ(listing.members[0].path, "docs/old");
  EXPECT_EQ(listing.members[0].name, "old");
  EXPECT_TRUE(listing.members[0].is_dir);
  EXPECT_EQ(listing.members[1].path, "docs/old/evil.exe");
  EXPECT_EQ(listing.members[1].name, "evil.exe");
  EXPECT_FALSE(listing.members[1].is_dir);
}

TEST(ArjListing, GarbledMembersAreEncryptedAndUnread) {
  Entry secret = Stored("clam.exe", Fixture(kClamExe));  // "ciphertext" that is a PE
  secret.flags = 0x01;
  ArchiveListing listing = List(Arj({secret, Stored("hello.txt", "hello\n")}));
  ASSERT_EQ(listing.members.size(), 2u);
  EXPECT_TRUE(listing.members[0].encrypted);
  EXPECT_EQ(listing.members[0].true_type, TrueType::kUnknown);  // not read
  EXPECT_FALSE(listing.members[1].encrypted);
  EXPECT_TRUE(listing.encrypted_entries);
  EXPECT_FALSE(listing.encrypted_header);
  EXPECT_FALSE(listing.embedded_executable);
  EXPECT_EQ(listing.unread_members, 0u);  // encrypted, which says more
}

TEST(ArjListing, CompressedMembersAreCountedUnread) {
  Entry packed = Stored("setup.dat", "\x12\x34\x56\x78 not really compressed");
  packed.method = 4;
  packed.original_size = 100000;
  ArchiveListing listing = List(Arj({packed, packed}));
  ASSERT_EQ(listing.members.size(), 2u);
  EXPECT_EQ(listing.members[0].size, 100000u);  // as declared
  EXPECT_EQ(listing.unread_members, 2u);
  EXPECT_FALSE(listing.truncated);
}

TEST(ArjListing, StoredArchivesAreOpenedBothWays) {
  std::string exe = Fixture(kClamExe);
  std::string inner_arj = Arj({Stored("deep\\run.exe", exe)});
  std::string zip = StoredZip({{"inner.arj", inner_arj}, {"note.txt", "x"}});
  ArchiveListing listing = List(Arj({Stored("bundle.zip", zip)}));
  EXPECT_EQ(listing.format, "arj");
  const ArchiveMember* bundle = Find(listing, "bundle.zip");
  ASSERT_NE(bundle, nullptr);
  EXPECT_EQ(bundle->archive_format, "zip");
  const ArchiveMember* inner = Find(listing, "bundle.zip/inner.arj");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->archive_format, "arj");
  EXPECT_EQ(inner->depth, 2);
  const ArchiveMember* run = Find(listing, "bundle.zip/inner.arj/deep/run.exe");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->depth, 3);
  EXPECT_EQ(run->true_type, TrueType::kPe);
  EXPECT_TRUE(listing.embedded_executable);
  EXPECT_FALSE(listing.truncated);

  // And an ARJ inside a zip at the top (libarchive's side).
  ArchiveListing from_zip = List(StoredZip({{"clam.arj", Fixture(kClamArj)}}));
  EXPECT_EQ(from_zip.format, "zip");
  ASSERT_NE(Find(from_zip, "clam.arj"), nullptr);
  EXPECT_EQ(Find(from_zip, "clam.arj")->archive_format, "arj");
  ASSERT_NE(Find(from_zip, "clam.arj/clam.exe"), nullptr);
  EXPECT_EQ(from_zip.unread_members, 1u);
}

TEST(ArjListing, AZipBehindArjHeadersIsListedToo) {
  // Zip readers find a zip from its end record, whatever comes before it.
  std::string polyglot = Fixture(kClamArj) + StoredZip({{"evil.exe", Fixture(kClamExe)}});
  ArchiveListing listing = List(polyglot);
  EXPECT_EQ(listing.format, "arj");
  EXPECT_NE(Find(listing, "clam.exe"), nullptr);
  const ArchiveMember* evil = Find(listing, "evil.exe");
  ASSERT_NE(evil, nullptr);
  EXPECT_EQ(evil->true_type, TrueType::kPe);
  EXPECT_TRUE(listing.embedded_executable);
}

TEST(ArjLimits, MemberCountIsLimited) {
  std::vector<Entry> entries;
  for (int i = 0; i < 12; ++i) entries.push_back(Stored("f" + std::to_string(i) + ".txt", "x"));
  ArchiveLimits limits;
  limits.max_members = 10;
  ArchiveListing listing = List(Arj(entries), limits);
  EXPECT_EQ(listing.members.size(), 10u);
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_members");
  EXPECT_EQ(listing.limit_hits[0].value, 10u);
  EXPECT_TRUE(listing.truncated);
  EXPECT_EQ(List(Arj(entries)).members.size(), 12u);
}

TEST(ArjLimits, NestedMembersShareTheCount) {
  std::string inner = Arj({Stored("a", "1"), Stored("b", "2"), Stored("c", "3")});
  ArchiveLimits limits;
  limits.max_members = 3;  // inner.arj, inner.arj/a, inner.arj/b
  ArchiveListing listing = List(Arj({Stored("inner.arj", inner)}), limits);
  EXPECT_EQ(listing.members.size(), 3u);
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_members");
  EXPECT_EQ(listing.limit_hits[0].member_path, "inner.arj/");
}

TEST(ArjLimits, StoredBytesCountAsExpanded) {
  std::vector<Entry> entries;
  for (int i = 0; i < 4; ++i)
    entries.push_back(Stored("part" + std::to_string(i), std::string(1000, 'a' + i)));
  ArchiveLimits limits;
  limits.max_total_expanded = 2500;
  ArchiveListing listing = List(Arj(entries), limits);
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_total_expanded");
  EXPECT_EQ(listing.limit_hits[0].member_path, "part2");
  EXPECT_EQ(listing.members.size(), 3u);
  EXPECT_TRUE(listing.truncated);
}

TEST(ArjLimits, DepthAndReadCapApply) {
  std::string level3 = Arj({Stored("evil.exe", Fixture(kClamExe))});
  std::string level2 = Arj({Stored("l3.arj", level3)});
  std::string level1 = Arj({Stored("l2.arj", level2)});
  ArchiveLimits limits;
  limits.max_depth = 2;
  ArchiveListing shallow = List(level1, limits);
  ASSERT_EQ(shallow.limit_hits.size(), 1u);
  EXPECT_EQ(shallow.limit_hits[0].name, "max_depth");
  EXPECT_EQ(shallow.limit_hits[0].member_path, "l2.arj/l3.arj");
  EXPECT_EQ(Find(shallow, "l2.arj/l3.arj/evil.exe"), nullptr);
  ArchiveListing deep = List(level1);
  ASSERT_NE(Find(deep, "l2.arj/l3.arj/evil.exe"), nullptr);
  EXPECT_EQ(Find(deep, "l2.arj/l3.arj/evil.exe")->depth, 3);
  EXPECT_TRUE(deep.limit_hits.empty());

  limits = ArchiveLimits{};
  limits.max_member_bytes_read = 200;  // l2.arj is bigger: not opened
  ArchiveListing capped = List(level1, limits);
  ASSERT_EQ(capped.limit_hits.size(), 1u);
  EXPECT_EQ(capped.limit_hits[0].name, "max_member_bytes_read");
  EXPECT_EQ(capped.limit_hits[0].member_path, "l2.arj");
}

TEST(ArjDamage, BadHeaderCrcStopsTheListing) {
  Entry bad = Stored("second.txt", "2");
  bad.bad_header_crc = true;
  ArchiveListing listing = List(Arj({Stored("first.txt", "1"), bad, Stored("third.txt", "3")}));
  ASSERT_EQ(listing.members.size(), 1u);
  EXPECT_EQ(listing.members[0].name, "first.txt");
  EXPECT_TRUE(listing.truncated);
  EXPECT_TRUE(listing.limit_hits.empty());

  std::string arj = Arj({Stored("a.txt", "a")});
  arj[10] ^= 0x40;  // inside the main header
  ArchiveListing main = List(arj);
  EXPECT_EQ(main.format, "arj");
  EXPECT_TRUE(main.members.empty());
  EXPECT_TRUE(main.truncated);
}

TEST(ArjDamage, StoredDataWithAWrongCrcIsDamage) {
  Entry bad = Stored("payload.bin", "not what the CRC says");
  bad.bad_file_crc = true;
  ArchiveListing listing = List(Arj({bad}));
  ASSERT_EQ(listing.members.size(), 1u);
  EXPECT_TRUE(listing.truncated);
}

TEST(ArjDamage, ExtendedHeadersAreCheckedAndSkipped) {
  Entry ext = Stored("with-ext.txt", "data");
  ext.extended = "some extension bytes";
  ext.comment = "a comment";
  ArchiveListing good = List(Arj({ext, Stored("after.txt", "z")}));
  ASSERT_EQ(good.members.size(), 2u);
  EXPECT_EQ(good.members[1].name, "after.txt");
  EXPECT_FALSE(good.truncated);

  std::string arj = Arj({ext, Stored("after.txt", "z")});
  size_t at = arj.find("some extension");
  ASSERT_NE(at, std::string::npos);
  arj[at] ^= 1;
  ArchiveListing bad = List(arj);
  EXPECT_TRUE(bad.members.empty());
  EXPECT_TRUE(bad.truncated);
}

TEST(ArjDamage, OversizedHeaderIsRejected) {
  std::string huge = Arj({});
  huge[2] = '\x29';  // 0x0A29 = 2601
  huge[3] = '\x0A';
  EXPECT_FALSE(LooksLikeArj(huge));
  auto listing = ListArchive(huge, {});
  ASSERT_FALSE(listing.ok());
  EXPECT_EQ(listing.status().code(), Status::Code::kParseError);

  // A file header over 2600 bytes after a good main header: damage.
  std::string arj = Arj({Stored("a.txt", "a")});
  size_t second = arj.find("\x60\xEA", 2);
  ASSERT_NE(second, std::string::npos);
  arj[second + 2] = '\x29';
  arj[second + 3] = '\x0A';
  ArjReader reader(arj);
  ArjEntry entry;
  EXPECT_FALSE(reader.Next(&entry));
  EXPECT_NE(reader.damage().find("over 2600"), std::string::npos) << reader.damage();
  ArchiveListing damaged = List(arj);
  EXPECT_TRUE(damaged.truncated);
  EXPECT_TRUE(damaged.members.empty());
}

TEST(ArjDamage, EveryCutIsAListingOrAParseError) {
  std::string arj = Arj({Stored("first.exe", Fixture(kClamExe)), Stored("second.txt", "two")});
  for (size_t cut = 0; cut < arj.size(); ++cut) {
    auto listing = ListArchive(arj.substr(0, cut), {});
    if (!listing.ok()) {
      EXPECT_EQ(listing.status().code(), Status::Code::kParseError) << cut;
      EXPECT_LT(cut, 4u);
      continue;
    }
    EXPECT_TRUE(listing->truncated) << cut;
    EXPECT_LE(listing->members.size(), 2u) << cut;
  }
  ArchiveListing whole = List(arj);
  EXPECT_FALSE(whole.truncated);
  EXPECT_EQ(whole.members.size(), 2u);
  // Cut inside the PE, past its "PE\0\0" signature (at 0x100): listed, head sniffed, damaged.
  ArchiveListing half = List(std::string_view(arj).substr(0, 420));
  ASSERT_EQ(half.members.size(), 1u);
  EXPECT_EQ(half.members[0].true_type, TrueType::kPe);
  EXPECT_TRUE(half.truncated);
}

TEST(ArjDamage, GarbageAfterTheMagicNeverCrashes) {
  std::mt19937 random(20240601);
  std::string good = Arj({Stored("a.exe", Fixture(kClamExe)), Stored("b", "b")});
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = good;
    int flips = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < flips; ++i) {
      bytes[random() % bytes.size()] = static_cast<char>(random() & 0xFF);
    }
    if (round % 3 == 0) bytes.resize(random() % bytes.size());
    auto listing = ListArchive(bytes, {});
    if (listing.ok()) {
      EXPECT_LE(listing->members.size(), 2u);
    } else {
      EXPECT_FALSE(listing.status().message().empty());
    }
  }
}

TEST(ArjVolumes, SplitMembersMakeTheListingIncomplete) {
  Entry continues = Stored("big.exe", Fixture(kClamExe));
  continues.flags = 0x04;  // continues in the next volume
  ArchiveListing first = List(Arj({continues}, 0x04));
  ASSERT_EQ(first.members.size(), 1u);
  EXPECT_EQ(first.members[0].true_type, TrueType::kPe);  // the head is the file's head
  EXPECT_TRUE(first.truncated);

  Entry continued = Stored("big.exe", "middle of the file");
  continued.flags = 0x08;  // started in a previous volume
  ArchiveListing second = List(Arj({continued}));
  ASSERT_EQ(second.members.size(), 1u);
  EXPECT_EQ(second.members[0].true_type, TrueType::kUnknown);
  EXPECT_TRUE(second.truncated);

  ArjReader reader(Arj({}, 0x04));
  EXPECT_TRUE(reader.multi_volume());
}

TEST(ArjVolumes, LabelsAreNotMembers) {
  Entry label;
  label.name = "BACKUP-1";
  label.file_type = 4;
  ArchiveListing listing = List(Arj({label, Stored("real.txt", "r")}));
  ASSERT_EQ(listing.members.size(), 1u);
  EXPECT_EQ(listing.members[0].name, "real.txt");
}

}  // namespace
}  // namespace mailwarden

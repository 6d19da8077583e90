// Reads ARJ headers, written from the ARJ technical note.
//
// Distrusted: every byte of the input — header ids, every size (basic header, first_hdr_size,
// extended headers, compressed size), names and comments (any bytes, NULs missing), flags,
// methods and file types, CRCs.
//
// Limits: a basic header is at most kArjMaxBasicHeader bytes (2600, as the format says) and
// at least the 30 fixed bytes plus the two NULs; every size is checked against the bytes
// left before anything is read past it; names are therefore at most 2600 bytes. The reader
// only moves forward and every header consumes at least 4 bytes, so a walk is linear in the
// input. Counting members, bytes and depth is the walker's job (archive.cc).
//
// Failure: any check that fails (bad header id, size out of range or past the end, header or
// extended header CRC mismatch, first_hdr_size out of range, name or comment without NUL)
// stops the reader with damage() set; entries handed out before stay valid.
#include "milter/mime/arj.h"

#include <array>

namespace mailwarden {
namespace {

constexpr unsigned char kHeaderId0 = 0x60;
constexpr unsigned char kHeaderId1 = 0xEA;
constexpr size_t kIdAndSize = 4;                         // header id + basic header size
constexpr size_t kCrcBytes = 4;                          // CRC-32 after a (basic) header
constexpr size_t kMinFirstHeader = 30;                   // the fixed fields
constexpr size_t kMinBasicHeader = kMinFirstHeader + 2;  // plus two empty strings
constexpr uint8_t kVolumeLabel = 4;
constexpr uint8_t kChapterLabel = 5;

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint8_t Byte(std::string_view b, size_t at) { return static_cast<uint8_t>(b[at]); }

uint16_t Le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(Byte(b, at) | Byte(b, at + 1) << 8);
}

uint32_t Le32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(Byte(b, at)) | static_cast<uint32_t>(Byte(b, at + 1)) << 8 |
         static_cast<uint32_t>(Byte(b, at + 2)) << 16 |
         static_cast<uint32_t>(Byte(b, at + 3)) << 24;
}

}  // namespace

// The fields of one basic header the reader uses.
struct ArjReader::Header {
  uint8_t flags = 0;
  uint8_t method = 0;
  uint8_t file_type = 0;
  uint32_t compressed_size = 0;
  uint32_t original_size = 0;
  uint32_t file_crc = 0;
  std::string name;
};

uint32_t ArjCrc32(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : bytes) c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

bool LooksLikeArj(std::string_view head) {
  if (head.size() < kIdAndSize || Byte(head, 0) != kHeaderId0 || Byte(head, 1) != kHeaderId1) {
    return false;
  }
  size_t size = Le16(head, 2);
  if (size < kMinBasicHeader || size > kArjMaxBasicHeader) return false;
  if (head.size() <= kIdAndSize) return true;
  size_t first = Byte(head, kIdAndSize);
  return first >= kMinFirstHeader && first + 2 <= size;
}

ArjReader::ArjReader(std::string_view bytes) : bytes_(bytes) {
  Header main;
  Read r = ReadHeader(&main);
  if (r == Read::kEnd) Damaged("no main header: the archive ends at once");
  if (r != Read::kHeader) return;
  main_flags_ = main.flags;
  archive_name_ = std::move(main.name);
}

ArjReader::Read ArjReader::Damaged(std::string why) {
  damage_ = std::move(why);
  stopped_ = true;
  return Read::kDamaged;
}

ArjReader::Read ArjReader::ReadHeader(Header* header) {
  const size_t start = pos_;
  auto at = [start] { return " at offset " + std::to_string(start); };
  size_t left = bytes_.size() - pos_;
  if (left < kIdAndSize) return Damaged("cut short before a header" + at());
  if (Byte(bytes_, pos_) != kHeaderId0 || Byte(bytes_, pos_ + 1) != kHeaderId1) {
    return Damaged("no header id" + at());
  }
  size_t size = Le16(bytes_, pos_ + 2);
  if (size == 0) {  // end of archive
    pos_ += kIdAndSize;
    return Read::kEnd;
  }
  if (size > kArjMaxBasicHeader) {
    return Damaged("basic header size " + std::to_string(size) + " over 2600" + at());
  }
  if (size < kMinBasicHeader) {
    return Damaged("basic header size " + std::to_string(size) + " too small" + at());
  }
  if (left - kIdAndSize < size + kCrcBytes) return Damaged("cut short inside a header" + at());
  std::string_view basic = bytes_.substr(pos_ + kIdAndSize, size);
  if (ArjCrc32(basic) != Le32(bytes_, pos_ + kIdAndSize + size)) {
    return Damaged("header CRC mismatch" + at());
  }
  size_t first = Byte(basic, 0);
  if (first < kMinFirstHeader || first + 2 > size) {
    return Damaged("first_hdr_size " + std::to_string(first) + " out of range" + at());
  }
  // first_hdr_size, archiver version, minimum version, host OS, then:
  header->flags = Byte(basic, 4);
  header->method = Byte(basic, 5);
  header->file_type = Byte(basic, 6);
  // reserved (7), date and time (8..11), then:
  header->compressed_size = Le32(basic, 12);
  header->original_size = Le32(basic, 16);
  header->file_crc = Le32(basic, 20);
  // filespec position, access mode, host data, extra data up to `first`.
  std::string_view strings = basic.substr(first);
  size_t name_end = strings.find('\0');
  if (name_end == std::string_view::npos ||
      strings.find('\0', name_end + 1) == std::string_view::npos) {
    return Damaged("file name or comment without its NUL" + at());
  }
  header->name = std::string(strings.substr(0, name_end));
  pos_ += kIdAndSize + size + kCrcBytes;
  // Extended headers: size, bytes, CRC-32, until a size of 0.
  while (true) {
    const size_t ext_start = pos_;
    auto ext_at = [ext_start] { return " at offset " + std::to_string(ext_start); };
    if (bytes_.size() - pos_ < 2) return Damaged("cut short before an extended header" + ext_at());
    size_t ext = Le16(bytes_, pos_);
    pos_ += 2;
    if (ext == 0) break;
    if (bytes_.size() - pos_ < ext + kCrcBytes) {
      return Damaged("cut short inside an extended header" + ext_at());
    }
    if (ArjCrc32(bytes_.substr(pos_, ext)) != Le32(bytes_, pos_ + ext)) {
      return Damaged("extended header CRC mismatch" + ext_at());
    }
    pos_ += ext + kCrcBytes;
  }
  return Read::kHeader;
}

bool ArjReader::Next(ArjEntry* entry) {
  while (!stopped_) {
    Header header;
    Read r = ReadHeader(&header);
    if (r == Read::kEnd) {
      at_end_ = true;
      stopped_ = true;
    }
    if (r != Read::kHeader) return false;
    size_t left = bytes_.size() - pos_;
    size_t take = header.compressed_size < left ? header.compressed_size : left;
    std::string_view data = bytes_.substr(pos_, take);
    pos_ += take;
    bool cut = take < header.compressed_size;
    if (cut) {
      damage_ = "cut short inside the data of \"" + header.name + "\"";
      stopped_ = true;
    }
    if (header.file_type == kVolumeLabel || header.file_type == kChapterLabel) continue;
    entry->name = std::move(header.name);
    entry->flags = header.flags;
    entry->method = header.method;
    entry->file_type = header.file_type;
    entry->compressed_size = header.compressed_size;
    entry->original_size = header.original_size;
    entry->file_crc = header.file_crc;
    entry->data = data;
    entry->data_cut = cut;
    return true;
  }
  return false;
}

ArchiveMember ArjArchiveMember(const ArjEntry& entry, const std::string& prefix, int depth) {
  std::string own = entry.name;
  for (char& c : own) {
    if (c == '\\') c = '/';
  }
  std::string_view last(own);
  while (!last.empty() && last.back() == '/') last.remove_suffix(1);
  size_t slash = last.rfind('/');
  if (slash != std::string_view::npos) last.remove_prefix(slash + 1);
  ArchiveMember member;
  member.name = std::string(last);
  member.path = prefix + own;
  member.size = entry.original_size;
  member.encrypted = entry.garbled();
  member.is_dir = entry.is_dir();
  member.depth = depth;
  return member;
}

}  // namespace mailwarden

// ARJ archives: a reader of their headers, for the archive walker (archive.h).
//
// libarchive does not read ARJ, so the walker lists ARJ archives with ArjReader: it goes
// through the headers of an archive that is entirely in memory, one file header at a time,
// and hands out each entry with the bytes of its (compressed) data. It decompresses
// nothing: an entry stored as is (method 0) and not encrypted has its content right there,
// every other entry is known by its header only (name, flags, declared sizes). The walker
// (archive.cc) turns entries into ArchiveMembers (ArjArchiveMember), sniffs the content of
// stored ones, opens stored archives in turn and applies ArchiveLimits.
//
// Format (ARJ technical note, "low order byte first"): a main header, then one local file
// header per entry followed by its compressed data, then an end-of-archive header (a header
// id with a basic header size of 0). Every header is: header id 0x60 0xEA; basic header
// size (2 bytes, at most 2600: the bytes from first_hdr_size through the comment); the
// basic header (first_hdr_size, versions, host OS, flags, method, file type, reserved,
// date, compressed size, original size, file CRC, filespec position, access mode, host
// data, extra data up to first_hdr_size, then the file name and the comment, each ending
// with a NUL); the CRC-32 of the basic header; extended headers (size, bytes, CRC-32 each)
// until one of size 0. Flags: GARBLED 0x01 (encrypted with a password), VOLUME 0x04 (the
// file continues in the next volume), EXTFILE 0x08 (the file started in a previous
// volume), PATHSYM 0x10 ('\' translated to '/'). Methods: 0 stored, 1 to 3 compressed
// (most to faster), 4 compressed fastest. File types: 0 binary, 1 7-bit text, 2 comment
// header (the main header), 3 directory, 4 volume label, 5 chapter label.
//
// Damage is not an error: a header whose CRC fails, a size that points outside the input,
// a header id where none is, a name without its NUL all stop the reader, and damage() says
// why; what was read before stays valid. Archives that start elsewhere than byte 0
// (self-extracting ARJ) are not searched for: they are executables and judged as such.
//
// Ownership: the reader and the entries' `data` borrow the input, which must outlive them.
// Thread-safety: a reader is used by one thread; distinct readers are independent.
#ifndef MAILWARDEN_MILTER_MIME_ARJ_H_
#define MAILWARDEN_MILTER_MIME_ARJ_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "milter/mime/archive.h"

namespace mailwarden {

// The largest basic header the format allows; a bigger one is damage.
inline constexpr size_t kArjMaxBasicHeader = 2600;

// One local file header of an ARJ archive and the data that follows it.
struct ArjEntry {
  // As stored, up to its NUL: bytes of the archiver's code page (often an OEM one, not
  // UTF-8), '\' or '/' between components.
  std::string name;
  uint8_t flags = 0;
  uint8_t method = 0;     // 0 stored ... 4 fastest; larger values are unknown methods
  uint8_t file_type = 0;  // 0 binary, 1 text, 3 directory (labels are never handed out)
  uint32_t compressed_size = 0;
  uint32_t original_size = 0;
  uint32_t file_crc = 0;  // CRC-32 of the original file
  // The bytes after the headers: compressed_size of them, or what the input still holds.
  std::string_view data;
  // The input ended before compressed_size bytes of data.
  bool data_cut = false;

  // Encrypted with a password (GARBLED).
  bool garbled() const { return (flags & 0x01) != 0; }
  // Stored without compression (method 0).
  bool stored() const { return method == 0; }
  bool is_dir() const { return file_type == 3; }
  // Continues in the next volume (VOLUME) or started in a previous one (EXTFILE): `data`
  // is only a piece of the file.
  bool continues() const { return (flags & 0x04) != 0; }
  bool continued() const { return (flags & 0x08) != 0; }
  // `data` is the start of the file's own bytes: stored, not encrypted, not a directory,
  // and not a continuation from a previous volume (the piece may still be cut short).
  bool content_readable() const { return stored() && !garbled() && !is_dir() && !continued(); }
};

// Goes through the headers of one ARJ archive.
class ArjReader {
 public:
  // Reads the main header of `bytes` (borrowed). A missing or damaged main header leaves
  // the reader stopped with damage() set.
  explicit ArjReader(std::string_view bytes);

  // Fills `entry` with the next file or directory (volume and chapter labels are skipped)
  // and returns true; false at the end-of-archive header or at damage. An entry whose data
  // the input cuts short is still handed out (data_cut), and the reader stops after it.
  bool Next(ArjEntry* entry);

  // Why reading stopped before the end-of-archive header, "" when it did not (yet).
  const std::string& damage() const { return damage_; }
  // The end-of-archive header was reached.
  bool at_end() const { return at_end_; }
  // The main header's flags say that more volumes follow (VOLUME).
  bool multi_volume() const { return (main_flags_ & 0x04) != 0; }
  // The name the archive had when it was created, from the main header.
  const std::string& archive_name() const { return archive_name_; }

 private:
  struct Header;
  enum class Read { kHeader, kEnd, kDamaged };

  // Reads the header at pos_ and its extended headers, leaving pos_ after them.
  Read ReadHeader(Header* header);
  Read Damaged(std::string why);

  std::string_view bytes_;
  size_t pos_ = 0;
  uint8_t main_flags_ = 0;
  std::string archive_name_;
  std::string damage_;
  bool at_end_ = false;
  bool stopped_ = false;
};

// CRC-32 as ARJ (and zip) computes it: reflected polynomial 0xEDB88320, initial value and
// final XOR 0xFFFFFFFF.
uint32_t ArjCrc32(std::string_view bytes);

// True if `head` starts like an ARJ archive: the header id 0x60 0xEA followed by a basic
// header size the format allows (32 to 2600) and, when `head` holds it, a first_hdr_size
// that fits in it.
bool LooksLikeArj(std::string_view head);

// The member `entry` makes in a listing: path = `prefix` + name with '\' turned into '/',
// name = its last component, size = the original size the header declares, encrypted from
// GARBLED, is_dir for directories, depth = `depth`. Content fields are left to the caller.
ArchiveMember ArjArchiveMember(const ArjEntry& entry, const std::string& prefix, int depth);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_ARJ_H_

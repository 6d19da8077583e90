// Walks archives from mail attachments with libarchive, and ARJ archives with arj.h.
//
// Distrusted: every byte of the input and everything libarchive derives from it — entry
// names (any bytes, any length), declared sizes (may lie, may be negative), entry counts,
// nesting, compression ratios, encryption flags, and damage anywhere (cut short, bad CRCs,
// headers pointing outside the data).
//
// Limits (ArchiveLimits, shared by the whole walk including nested archives): entries
// listed, bytes really decompressed (counted as they come out of libarchive, never taken
// from headers), expansion ratio against the input size, nesting depth, and bytes of one
// member kept in memory. Every loop either consumes input, produces counted output or is
// bounded by a counter, so time and memory are bounded by the limits. Entry names are cut at
// kMaxPathBytes. Only in-process decoders are enabled: no external decompression programs,
// and no format that reads other files from disk (mtree) — the input never leaves memory.
//
// ARJ (arj.h) goes through the same walk: its stored members count as expanded bytes, are
// sniffed and opened as archives under the same limits; its compressed members are listed
// unread (unread_members). Both readers recurse through WalkLevel, whatever the nesting.
//
// Failure: a limit hit is recorded (ArchiveLimitHit) and ends the walk; damage ends the
// archive where it is (truncated = true) and keeps what was listed; an encrypted listing sets
// encrypted_header. Only input that no archive reader recognises is an error (ParseError).
#include "milter/mime/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include "milter/mime/arj.h"

namespace mailwarden {
namespace {

constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kHardMaxDepth = 32;               // whatever the configuration says: stack safety
constexpr int kMaxHeaderRetries = 16;           // ARCHIVE_RETRY in a row before giving up
constexpr size_t kSmallDocumentPart = 1 << 20;  // [Content_Types].xml, mimetype
constexpr std::string_view kSevenZipMagic("7z\xBC\xAF\x27\x1C", 6);

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
// Owns one libarchive read handle.
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;

bool SameLetter(char x, char y) {
  return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), SameLetter);
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), SameLetter) !=
         haystack.end();
}

std::string_view LastComponent(std::string_view path) {
  while (!path.empty() && (path.back() == '/' || path.back() == '\\')) path.remove_suffix(1);
  size_t slash = path.find_last_of("/\\");
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The original file name a gzip header carries (FNAME), or "".
std::string GzipFileName(std::string_view gz) {
  constexpr unsigned char kFextra = 0x04, kFname = 0x08;
  if (gz.size() < 10 || !gz.starts_with("\x1F\x8B\x08")) return "";
  unsigned char flags = static_cast<unsigned char>(gz[3]);
  if (!(flags & kFname)) return "";
  size_t at = 10;
  if (flags & kFextra) {
    if (gz.size() < at + 2) return "";
    at += 2 + (static_cast<unsigned char>(gz[at]) | static_cast<unsigned char>(gz[at + 1]) << 8);
  }
  if (at >= gz.size()) return "";
  std::string_view rest = gz.substr(at, kMaxPathBytes);
  size_t nul = rest.find('\0');
  return nul == std::string_view::npos ? "" : std::string(rest.substr(0, nul));
}

std::string FormatName(int code) {
  struct Name {
    int base;
    const char* name;
  };
  static constexpr Name kNames[] = {
      {ARCHIVE_FORMAT_CPIO, "cpio"},       {ARCHIVE_FORMAT_TAR, "tar"},
      {ARCHIVE_FORMAT_ISO9660, "iso9660"}, {ARCHIVE_FORMAT_ZIP, "zip"},
      {ARCHIVE_FORMAT_EMPTY, "empty"},     {ARCHIVE_FORMAT_AR, "ar"},
      {ARCHIVE_FORMAT_RAW, "raw"},         {ARCHIVE_FORMAT_XAR, "xar"},
      {ARCHIVE_FORMAT_LHA, "lha"},         {ARCHIVE_FORMAT_CAB, "cab"},
      {ARCHIVE_FORMAT_RAR, "rar"},         {ARCHIVE_FORMAT_7ZIP, "7z"},
      {ARCHIVE_FORMAT_RAR_V5, "rar5"},
  };
  for (const Name& n : kNames) {
    if ((code & ARCHIVE_FORMAT_BASE_MASK) == n.base) return n.name;
  }
  return "";
}

// Registers the decoders: in-process ones only (libarchive falls back to running external
// programs for some filters when built without the library; none of those is enabled).
bool SupportFormats(struct archive* a) {
  using Support = int (*)(struct archive*);
  static constexpr std::array<Support, 19> kSupport = {
      archive_read_support_filter_gzip,  archive_read_support_filter_bzip2,
      archive_read_support_filter_xz,    archive_read_support_filter_lzma,
      archive_read_support_filter_lzip,  archive_read_support_filter_compress,
      archive_read_support_format_7zip,  archive_read_support_format_ar,
      archive_read_support_format_cab,   archive_read_support_format_cpio,
      archive_read_support_format_empty, archive_read_support_format_iso9660,
      archive_read_support_format_lha,   archive_read_support_format_rar,
      archive_read_support_format_rar5,  archive_read_support_format_tar,
      archive_read_support_format_xar,   archive_read_support_format_zip,
      archive_read_support_format_raw,  // last resort: a lone compressed file
  };
  for (Support support : kSupport) {
    if (support(a) != ARCHIVE_OK) return false;
  }
  return true;
}

// State shared by every level of one walk.
struct Walk {
  const ArchiveLimits& limits;
  uint64_t input_size;
  int max_depth;
  ArchiveListing& out;
  uint64_t expanded = 0;
  uint64_t members = 0;
  uint64_t kept_documents = 0;  // bytes kept in ArchiveMember::content
  bool stopped = false;
  std::string chunk = std::string(kReadChunk, '\0');

  void Hit(std::string_view name, uint64_t value, const std::string& path) {
    out.limit_hits.push_back({std::string(name), value, path});
    out.truncated = true;
    stopped = true;
  }

  // Counts `n` more decompressed bytes; false once a limit stops the walk.
  bool AddExpanded(uint64_t n, const std::string& path) {
    expanded += n;
    if (expanded > limits.max_total_expanded) {
      Hit("max_total_expanded", limits.max_total_expanded, path);
    } else if (expanded > limits.min_expanded_for_ratio && input_size > 0 &&
               (expanded - 1) / input_size >= limits.max_ratio) {  // expanded > ratio * input
      Hit("max_ratio", limits.max_ratio, path);
    }
    return !stopped;
  }
};

// What one archive level turned out to be.
struct LevelResult {
  std::string format;
  std::string filter;
  bool document = false;
  bool macro_enabled = false;
};

// A member's data, as far as it was read.
struct MemberData {
  std::string kept;       // the first bytes, up to the cap chosen while reading
  uint64_t produced = 0;  // bytes libarchive produced
  bool complete = false;  // read to its end without error
  bool fatal = false;     // the archive cannot go on
  bool archive_like = false;
};

MemberData ReadMember(Walk& w, struct archive* a, const std::string& path, int level,
                      size_t keep_cap) {
  MemberData data;
  const size_t sniff = std::min<uint64_t>(kTrueTypeSniffBytes, w.limits.max_member_bytes_read);
  size_t cap = std::max(keep_cap, sniff);
  bool decided = keep_cap > sniff;
  while (!w.stopped) {
    la_ssize_t n = archive_read_data(a, w.chunk.data(), w.chunk.size());
    if (n == 0) {
      data.complete = true;
      break;
    }
    if (n < 0) {
      data.fatal = n == ARCHIVE_FATAL;
      w.out.truncated = true;
      break;
    }
    std::string_view got(w.chunk.data(), static_cast<size_t>(n));
    size_t taken = std::min(got.size(), cap - std::min(cap, data.kept.size()));
    data.kept.append(got.substr(0, taken));
    if (!decided && data.kept.size() >= sniff) {
      decided = true;
      data.archive_like = LooksLikeArchive(data.kept);
      // Only what will be opened as an archive is kept beyond the sniffing window.
      if (data.archive_like && level < w.max_depth) {
        cap = w.limits.max_member_bytes_read;
        got.remove_prefix(taken);
        data.kept.append(got.substr(0, cap - std::min(cap, data.kept.size())));
      }
    }
    data.produced += n;
    if (!w.AddExpanded(n, path)) break;
  }
  // Kept whole from the start (keep_cap): judged on what was kept.
  if (!decided || keep_cap > sniff) data.archive_like = LooksLikeArchive(data.kept);
  return data;
}

// The entry's path as stored (UTF-8 when libarchive can convert it), cut at kMaxPathBytes.
std::string EntryPath(struct archive_entry* entry) {
  const char* path = archive_entry_pathname_utf8(entry);
  if (path == nullptr) path = archive_entry_pathname(entry);
  if (path == nullptr) return "";
  return std::string(std::string_view(path).substr(0, kMaxPathBytes));
}

// Signals, gathered over one zip level, that it is an OOXML or ODF document.
struct DocumentSignals {
  bool content_types = false;       // "[Content_Types].xml": OOXML
  bool macro_content_type = false;  // a *.macroEnabled.* content type (docm, xlsm, pptm)
  bool vba_project = false;         // vbaProject.bin anywhere in the package
  bool odf_mimetype = false;        // "mimetype" naming application/vnd.oasis.opendocument.*
  bool basic_module = false;        // ODF Basic macro module: Basic/<library>/<module>.xml

  void See(std::string_view own_path, std::string_view head) {
    std::string_view name = LastComponent(own_path);
    if (own_path == "[Content_Types].xml") {
      content_types = true;
      macro_content_type = macro_content_type || ContainsIgnoreCase(head, "macroEnabled");
    } else if (own_path == "mimetype") {
      odf_mimetype = head.starts_with("application/vnd.oasis.opendocument");
    }
    if (EqualsIgnoreCase(name, "vbaProject.bin")) vba_project = true;
    if (own_path.starts_with("Basic/") && own_path.find('/', 6) != std::string_view::npos &&
        name.size() > 4 && name.substr(name.size() - 4) == ".xml" && name != "script-lb.xml") {
      basic_module = true;
    }
  }

  void Judge(LevelResult& result) const {
    if (result.format != "zip") return;
    if (content_types) {
      result.format = "ooxml";
      result.document = true;
      result.macro_enabled = macro_content_type || vba_project;
    } else if (odf_mimetype) {
      result.format = "odf";
      result.document = true;
      result.macro_enabled = basic_module || vba_project;
    }
  }
};

Status WalkLevel(Walk& w, std::string_view bytes, int level, const std::string& prefix,
                 LevelResult& result);

// Opens w.out.members[index] (at depth `level`), which looks like an archive, one level
// down from `bytes`, its content as far as it was kept; `over_read_cap`: the member is
// bigger than max_member_bytes_read, so `bytes` is not all of it. A limit hit stops the walk.
void OpenNested(Walk& w, size_t index, int level, std::string_view bytes, bool over_read_cap) {
  std::string path = w.out.members[index].path;  // a copy: the recursion appends members
  if (level >= w.max_depth) {
    w.Hit("max_depth", static_cast<uint64_t>(w.max_depth), path);
    return;
  }
  if (over_read_cap) {
    w.Hit("max_member_bytes_read", w.limits.max_member_bytes_read, path);
    return;
  }
  LevelResult child;
  Status nested = WalkLevel(w, bytes, level + 1, path + "/", child);
  if (!nested.ok()) w.out.truncated = true;  // looked like an archive, none readable
  ArchiveMember& container = w.out.members[index];
  container.archive_format = child.format;
  container.macro_enabled = child.macro_enabled;
  if (child.macro_enabled) w.out.macro_enabled = true;
}

// Lists one ARJ archive (`bytes`, which LooksLikeArj) whose members are at depth `level`.
// Always a listing: damage, even in the main header, is truncated = true.
void WalkArjLevel(Walk& w, std::string_view bytes, int level, const std::string& prefix,
                  LevelResult& result) {
  result.format = "arj";
  ArjReader reader(bytes);
  ArjEntry entry;
  const size_t sniff = std::min<uint64_t>(kTrueTypeSniffBytes, w.limits.max_member_bytes_read);
  while (!w.stopped && reader.Next(&entry)) {
    if (++w.members > w.limits.max_members) {
      w.Hit("max_members", w.limits.max_members, prefix);
      break;
    }
    ArchiveMember member = ArjArchiveMember(entry, prefix, level);
    if (member.encrypted) w.out.encrypted_entries = true;
    if (entry.continues() || entry.continued()) w.out.truncated = true;  // one piece of a file
    bool archive_like = false;
    std::string_view content;
    if (entry.content_readable()) {
      content = entry.data;
      std::string_view head = content.substr(0, sniff);
      member.true_type = SniffTrueType(head);
      if (member.true_type == TrueType::kPe || member.true_type == TrueType::kElf) {
        w.out.embedded_executable = true;
      }
      archive_like = LooksLikeArchive(head);
      if (!entry.data_cut && !entry.continues()) member.size = content.size();  // read in full
      if (w.AddExpanded(content.size(), member.path) && !entry.data_cut && !entry.continues() &&
          ArjCrc32(content) != entry.file_crc) {
        w.out.truncated = true;  // the stored bytes are not the file's: damaged
      }
    } else if (!member.is_dir && !member.encrypted && !entry.stored()) {
      ++w.out.unread_members;  // compressed: name and declared size only
    }
    size_t index = w.out.members.size();
    w.out.members.push_back(std::move(member));
    if (archive_like && !w.stopped) {
      OpenNested(w, index, level, content, content.size() > w.limits.max_member_bytes_read);
    }
  }
  if (!reader.damage().empty()) w.out.truncated = true;
}

bool MentionsEncryption(struct archive* a) {
  const char* error = archive_error_string(a);
  return error != nullptr && ContainsIgnoreCase(error, "encrypt");
}

// Lists one archive (`bytes`) with libarchive; its members are at depth `level`.
// ParseError: no archive format recognised. Internal: libarchive could not be set up.
Status WalkLibarchiveLevel(Walk& w, std::string_view bytes, int level, const std::string& prefix,
                           LevelResult& result) {
  ArchiveReader reader(archive_read_new());
  if (!reader || !SupportFormats(reader.get())) {
    return Status::Internal("libarchive: cannot set up a reader");
  }
  struct archive* a = reader.get();
  if (archive_read_open_memory(a, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return Status::ParseError(std::string("not an archive: ") +
                              (archive_error_string(a) ? archive_error_string(a) : "unknown"));
  }
  DocumentSignals document;
  bool first = true;
  int retries = 0;
  while (!w.stopped) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r == ARCHIVE_RETRY && ++retries <= kMaxHeaderRetries) continue;
    if (r < ARCHIVE_WARN || r == ARCHIVE_RETRY) {
      if (first && bytes.starts_with(kSevenZipMagic)) result.format = "7z";
      if (first && (archive_read_has_encrypted_entries(a) > 0 || MentionsEncryption(a))) {
        w.out.encrypted_header = true;  // the listing itself is ciphertext
      } else {
        w.out.truncated = true;
      }
      break;
    }
    retries = 0;
    bool raw = (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW;
    if (first) {
      first = false;
      if (archive_filter_count(a) > 1 && archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE) {
        const char* filter = archive_filter_name(a, 0);
        result.filter = filter ? filter : "unknown";
      }
      if (raw && result.filter.empty()) return Status::ParseError("not an archive");
      result.format = raw ? result.filter : FormatName(archive_format(a));
    }
    if (++w.members > w.limits.max_members) {
      w.Hit("max_members", w.limits.max_members, prefix);
      break;
    }
    std::string own = raw ? GzipFileName(bytes) : EntryPath(entry);
    if (raw && own.empty()) own = "data";
    ArchiveMember member;
    member.path = prefix + own;
    member.name = std::string(LastComponent(own));
    member.depth = level;
    member.is_dir = archive_entry_filetype(entry) == AE_IFDIR;
    member.encrypted = archive_entry_is_encrypted(entry) != 0;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      member.size = static_cast<uint64_t>(archive_entry_size(entry));
    }
    if (member.encrypted) w.out.encrypted_entries = true;
    MemberData data;
    bool read = !member.is_dir && !member.encrypted;
    // A document whose text a check reads is kept whole, within the walk's budget.
    bool keep_document = false;
    if (read && w.limits.max_kept_documents > 0 && IsTextDocumentName(member.name)) {
      keep_document = w.kept_documents < w.limits.max_kept_documents;
      member.content_skipped = !keep_document;
    }
    if (read) {
      bool document_part = own == "[Content_Types].xml" || own == "mimetype";
      size_t keep = document_part
                        ? std::min<uint64_t>(kSmallDocumentPart, w.limits.max_member_bytes_read)
                        : 0;
      if (keep_document) keep = w.limits.max_member_bytes_read;
      data = ReadMember(w, a, member.path, level, keep);
      member.size = data.complete ? data.produced : std::max(member.size, data.produced);
      member.true_type = SniffTrueType(data.kept);
      if (member.true_type == TrueType::kPe || member.true_type == TrueType::kElf) {
        w.out.embedded_executable = true;
      }
    }
    document.See(own, data.kept);
    size_t index = w.out.members.size();
    w.out.members.push_back(std::move(member));
    if (data.fatal) break;
    if (read && data.archive_like && !w.stopped) {
      // data.produced > data.kept.size(): cut at max_member_bytes_read
      OpenNested(w, index, level, data.kept, data.produced > data.kept.size());
    }
    if (keep_document) {
      ArchiveMember& kept = w.out.members[index];  // the recursion may have moved it
      if (data.kept.size() <= w.limits.max_kept_documents - w.kept_documents) {
        kept.content_cut = !data.complete;  // damaged, or over max_member_bytes_read
        w.kept_documents += data.kept.size();
        kept.content = std::move(data.kept);
      } else {
        kept.content_skipped = true;
      }
    }
  }
  if (archive_read_has_encrypted_entries(a) > 0) w.out.encrypted_entries = true;
  if (first && result.format.empty()) result.format = FormatName(archive_format(a));
  document.Judge(result);
  return Status::Ok();
}

// A zip end-of-central-directory record sits where zip readers look for it: in the last
// 22 + 65535 bytes (record and longest comment).
bool HasZipEndRecordNearEnd(std::string_view bytes) {
  constexpr size_t kZipEndSearch = 22 + 65535;
  if (bytes.size() < 22) return false;
  size_t from = bytes.size() > kZipEndSearch ? bytes.size() - kZipEndSearch : 0;
  return bytes.find(std::string_view("PK\x05\x06", 4), from) != std::string_view::npos;
}

// Lists one archive (`bytes`) whose members are at depth `level`, appending to w.out: ARJ
// with arj.h, everything else with libarchive.
// ParseError: no archive format recognised. Internal: libarchive could not be set up.
Status WalkLevel(Walk& w, std::string_view bytes, int level, const std::string& prefix,
                 LevelResult& result) {
  if (!LooksLikeArj(bytes)) return WalkLibarchiveLevel(w, bytes, level, prefix, result);
  WalkArjLevel(w, bytes, level, prefix, result);
  // Zip readers open a zip from its end record whatever comes before it: a zip behind ARJ
  // headers is listed too (libarchive reads zips from their end), or it would hide there.
  if (!w.stopped && HasZipEndRecordNearEnd(bytes)) {
    LevelResult zip;
    if (WalkLibarchiveLevel(w, bytes, level, prefix, zip).ok() && zip.macro_enabled) {
      result.macro_enabled = true;
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsTextDocumentName(std::string_view name) {
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string_view ext = name.substr(dot + 1);
  for (std::string_view e : {"docx", "docm", "dotx", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods",
                             "odp", "ott", "pdf", "rtf", "txt", "csv", "htm", "html"}) {
    if (EqualsIgnoreCase(ext, e)) return true;
  }
  return false;
}

bool LooksLikeArchive(std::string_view head) {
  static constexpr std::string_view kMagics[] = {
      std::string_view("PK\x03\x04", 4),            // zip
      std::string_view("PK\x05\x06", 4),            // empty zip
      std::string_view("PK\x07\x08", 4),            // spanned zip
      kSevenZipMagic,                               // 7z
      std::string_view("Rar!\x1A\x07\x00", 7),      // rar 4
      std::string_view("Rar!\x1A\x07\x01\x00", 8),  // rar 5
      std::string_view("\x1F\x8B", 2),              // gzip
      std::string_view("\xFD"
                       "7zXZ\x00",
                       6),                  // xz
      std::string_view("MSCF\0\0\0\0", 8),  // cab
  };
  for (std::string_view magic : kMagics) {
    if (head.starts_with(magic)) return true;
  }
  if (head.size() >= 4 && head.starts_with("BZh") && head[3] >= '1' && head[3] <= '9') {
    return true;
  }
  if (LooksLikeArj(head)) return true;
  if (head.size() >= 262 && head.substr(257, 5) == "ustar") return true;
  return head.size() >= 32774 && head.substr(32769, 5) == "CD001";
}

Result<ArchiveListing> ListArchive(std::string_view bytes, const ArchiveLimits& limits) {
  if (bytes.empty()) return Status::ParseError("not an archive: empty");
  ArchiveListing listing;
  Walk walk{limits, bytes.size(), std::clamp(limits.max_depth, 1, kHardMaxDepth), listing};
  LevelResult top;
  Status status = WalkLevel(walk, bytes, 1, "", top);
  if (!status.ok()) return status;
  listing.format = top.format;
  listing.filter = top.filter;
  listing.document = top.document;
  listing.macro_enabled = listing.macro_enabled || top.macro_enabled;
  return listing;
}

}  // namespace mailwarden

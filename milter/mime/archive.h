// The archive walker: lists what an attached archive holds, by content, within limits.
//
// ListArchive() reads an archive that is entirely in memory (libarchive, every format and
// compression filter it knows; ARJ, which libarchive lacks, with the reader in arj.h; no
// temporary files) and returns a flat, depth-first list of its members. Each member that
// is not encrypted is read (at most ArchiveLimits::max_member_bytes_read bytes of it are
// kept) so that its true type is judged by its content (true_type.h), and a member that is
// itself an archive is opened in turn while ArchiveLimits::max_depth allows (ARJ: see
// below for compressed members). Encrypted members (ZipCrypto, WinZip AES, 7z AES, RAR,
// ARJ GARBLED) are listed without being read and flagged; an archive whose listing itself
// is encrypted (7z with -mhe) yields encrypted_header = true, not an error. A zip found by
// its end record behind ARJ headers (a file both readers open) is listed as well.
//
// ARJ is only listed, not decompressed: a member stored as is (method 0) is read, sniffed
// and opened like any other, but a compressed one (methods 1 to 4) is known by its name,
// flags and declared size only; its content is not judged (true_type stays kUnknown) and
// it is counted in ArchiveListing::unread_members. Such a listing is not truncated: every
// name is there, and rules on names and encryption still apply. An ARJ member split across
// volumes (the archive is one part of a multi-volume set) makes the listing truncated.
//
// Limits (members, expanded bytes, expansion ratio, depth) are shared by the whole walk,
// nested archives included. Hitting one records an ArchiveLimitHit and stops the walk; what
// was listed so far is returned. A damaged or truncated archive returns what could be read
// with truncated = true. ListArchive() fails (Status) only when the bytes are not an archive
// at all or libarchive cannot be set up.
//
// OOXML (docx, xlsx, pptx: a zip holding "[Content_Types].xml") and ODF (odt, ods: a zip
// whose "mimetype" member names application/vnd.oasis.opendocument.*) are documents: they
// are reported as such (format "ooxml"/"odf", document = true), with macro_enabled when they
// carry VBA or Basic macros, and their members are still listed. The caller decides.
//
// Ownership: the listing owns copies of everything; the input is only borrowed during the
// call. Thread-safety: pure functions, safe to call concurrently (one libarchive handle per
// call and per nesting level).
#ifndef MAILWARDEN_MILTER_MIME_ARCHIVE_H_
#define MAILWARDEN_MILTER_MIME_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "milter/mime/true_type.h"

namespace mailwarden {

struct ArchiveLimits {
  // Archives opened one inside another; the archive passed to ListArchive() is level 1. A
  // member that looks like an archive one level deeper is a hit. Below 1 acts as 1; above
  // 32 as 32.
  int max_depth = 5;
  // Entries listed over the whole walk, nested archives included.
  uint64_t max_members = 10000;
  // Bytes decompressed over the whole walk (every member's real, not declared, size).
  uint64_t max_total_expanded = 200ull << 20;
  // Expanded bytes divided by the size of the input archive.
  uint64_t max_ratio = 200;
  // The ratio is judged only once this many bytes were expanded: a 300-byte zip of a 100 KB
  // text is not a bomb.
  uint64_t min_expanded_for_ratio = 1ull << 20;
  // How much of one member is kept in memory to sniff it or to open it as an archive.
  uint64_t max_member_bytes_read = 32ull << 20;
  // Members that hold documents, by name (IsTextDocumentName: docx, xlsx, pptx, odt, ods,
  // odp, pdf, rtf, txt, html, ...), keep their bytes in ArchiveMember::content, each up to
  // max_member_bytes_read, all together up to this many bytes over the walk; a document
  // member that does not fit in what is left is listed with content_skipped. 0 keeps none.
  // For the checks that read documents' text.
  uint64_t max_kept_documents = 0;
};

// True when a member named `name` is a document whose text can be read: office documents
// (docx, docm, xlsx, xlsm, pptx, pptm, odt, ods, odp), pdf, rtf, and text (txt, csv, htm,
// html), by its final extension, case-insensitive.
bool IsTextDocumentName(std::string_view name);

// One limit the walk ran into. `name` is the ArchiveLimits field ("max_members",
// "max_total_expanded", "max_ratio", "max_depth", "max_member_bytes_read"); `value` is the
// configured limit; `member_path` is where it was hit.
struct ArchiveLimitHit {
  std::string name;
  uint64_t value = 0;
  std::string member_path;
};

struct ArchiveMember {
  // Path inside the top-level archive; a nested archive's members are prefixed with the path
  // of the member that holds them: "inner.zip/deeper.7z/evil.exe".
  std::string path;
  // The last component of the entry's own path ("evil.exe"), not normalised.
  std::string name;
  // Real size when the member was read in full, else the size its header declares (0 when
  // it declares none).
  uint64_t size = 0;
  bool encrypted = false;
  bool is_dir = false;
  TrueType true_type = TrueType::kUnknown;
  // 1 for members of the top-level archive, 2 inside an archive member of it, ...
  int depth = 1;
  // Set when this member was opened as an archive: its format ("zip", "ooxml", ...).
  std::string archive_format;
  // This member is an OOXML/ODF document carrying macros.
  bool macro_enabled = false;
  // Its bytes, for a document member kept under ArchiveLimits::max_kept_documents ("" for
  // the others); content_cut: not all of it (over max_member_bytes_read, or damaged).
  std::string content;
  bool content_cut = false;
  // A document member not kept because max_kept_documents was spent.
  bool content_skipped = false;
};

struct ArchiveListing {
  // "zip", "7z", "rar", "rar5", "tar", "cpio", "cab", "iso9660", "lha", "ar", "xar", "arj",
  // "ooxml", "odf", or the compression alone for a compressed single file ("gzip",
  // "bzip2", "xz", ...).
  std::string format;
  // Outermost compression filter around the archive ("gzip" for .tar.gz), "" if none.
  std::string filter;
  // Some member, at any depth, is encrypted.
  bool encrypted_entries = false;
  // Some archive, at any depth, hides its listing behind encryption: its members are unknown.
  bool encrypted_header = false;
  // The top-level archive is an OOXML/ODF document.
  bool document = false;
  // The top-level document, or a document member at any depth, carries VBA/Basic macros.
  bool macro_enabled = false;
  // Some member at any depth is a PE or ELF executable by content.
  bool embedded_executable = false;
  std::vector<ArchiveMember> members;
  // Members, at any depth, listed by their headers only because their compression is not
  // decoded here (compressed ARJ members): not encrypted, not directories, yet their
  // true_type was not judged. 0 for every format libarchive reads.
  uint64_t unread_members = 0;
  std::vector<ArchiveLimitHit> limit_hits;
  // Some archive in the walk was damaged or cut short, or a limit stopped the walk: the
  // listing is incomplete.
  bool truncated = false;
};

// True if `head` (the first bytes of a part; 512 or more to recognise tar, 32774 for ISO
// 9660) starts like an archive or a compressed file: zip, 7z, rar 4/5, gzip, bzip2, xz, cab,
// ARJ, ustar tar, ISO 9660. Cheap: magic numbers (and ARJ's header size) only.
bool LooksLikeArchive(std::string_view head);

// Lists `bytes` as an archive within `limits`. Not an archive (or an empty input): a
// ParseError. Everything else, damage and limits included, is a listing.
Result<ArchiveListing> ListArchive(std::string_view bytes, const ArchiveLimits& limits);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_ARCHIVE_H_

// The TNEF reader: lists the files inside a winmail.dat (application/ms-tnef) part.
//
// Outlook wraps attachments in TNEF when it sends "rich text" mail; to everyone else the
// message carries one opaque winmail.dat. ReadTnef() reads a TNEF stream that is entirely
// in memory (no temporary files) and returns its attachments as files: a name (the long
// file name from the attachment's MAPI properties when there is one, else the 8.3 title)
// and the content, so that the caller can judge them like any other attachment (true type,
// archive walk, name checks).
//
// What is returned and what is not: message-level attributes (subject, body, recipients)
// are skipped. An attachment whose data lives in its MAPI properties (PR_ATTACH_DATA_OBJ:
// OLE objects, embedded messages) has that data as its content; an embedded message is
// itself a TNEF stream, which ReadTnef() does not open: the caller may, with
// LooksLikeTnef() and its own depth limit.
//
// Damage is not an error: a stream cut short or a record that cannot be read give
// damaged = true (fewer trailing bytes than a record header, which cannot hold a record,
// are padding, not damage) and whatever could be read (a file cut short has
// truncated = true). Record checksums are not enforced: real streams carry wrong ones
// (the ClamAV test file does) and a reader that stops at them hides the rest of the stream.
// Limits (TnefLimits) stop the walk: limit_hit names the one hit, the files listed so far
// are returned. ReadTnef() fails (ParseError) only when the input is not TNEF at all.
//
// Ownership: the result owns copies of everything; the input is only borrowed during the
// call. Thread-safety: pure function, safe to call concurrently (libytnef keeps no state
// between calls; one parser structure per call).
//
// Note: libytnef prints diagnostics to stdout with printf() when it meets a malformed MAPI
// property block, whatever its Debug setting. The daemons must not use stdout for anything
// that such lines could corrupt.
#ifndef MAILWARDEN_MILTER_MIME_TNEF_H_
#define MAILWARDEN_MILTER_MIME_TNEF_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mailwarden {

struct TnefLimits {
  // Files listed. The next attachment beyond it is a hit; 0 lists nothing.
  uint64_t max_files = 1000;
  // Bytes of content kept over all files. The file that crosses it keeps the part that
  // fits (truncated = true) and the walk stops.
  uint64_t max_total_bytes = 64ull << 20;
};

struct TnefFile {
  // UTF-8, best effort: the long file name (PR_ATTACH_LONG_FILENAME, Unicode or 8-bit) if
  // present, else the 8.3 title (attAttachTitle), else PR_ATTACH_FILENAME; 8-bit names are
  // read in the stream's code page (attOemCodepage), invalid bytes become U+FFFD. Cut at
  // the first NUL, as mail clients display it. May be empty.
  std::string name;
  std::string content;
  // The content is incomplete: the stream was cut short inside it, or max_total_bytes
  // stopped it.
  bool truncated = false;
};

struct TnefContents {
  std::vector<TnefFile> files;
  bool limit_hit = false;
  // The TnefLimits field that stopped the walk: "max_files" or "max_total_bytes".
  std::string limit_name;
  // Something could not be read (cut short, unreadable MAPI properties):
  // the listing may be incomplete.
  bool damaged = false;
};

// True when `head` starts with the TNEF signature 0x223E9F78 (little-endian bytes
// 78 9F 3E 22). Cheap: the magic number only.
bool LooksLikeTnef(std::string_view head);

// Parses the TNEF stream `bytes` entirely in memory, within `limits`. Not TNEF (no
// signature) or cut short before the stream's key: ParseError. Everything else, damage and
// limits included, is a listing.
Result<TnefContents> ReadTnef(std::string_view bytes, const TnefLimits& limits);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_TNEF_H_

// What a message carries, as the content checks see it: every leaf part, the files taken
// out of TNEF (winmail.dat) parts, the listing of every archive, and every limit that kept
// the inspection from being complete.
//
// A ContentReader is fed the message as it arrives (the milter's header and body
// callbacks), runs the streaming MIME parser (milter/mime/parser.h) on it, and at Finish()
// opens what needs opening within ContentLimits: parts whose content is TNEF or an archive
// (libarchive, OOXML/ODF documents included; a zip is also found by its end record when
// something precedes it), and attached messages the parser could not descend into because
// they are transfer-encoded. Attachments are kept in memory (up to mime.max_kept_*) so that
// they can be opened and, later, scanned; the message's own text body is inspected as it
// streams by and not kept.
//
// Completeness is explicit: a limit hit anywhere (MIME structure, archive walk, TNEF, a part
// too big to keep whole for opening) is recorded in MessageContent::limit_hits under a
// stable name ("mime.max_parts", "archive.max_ratio", ...), and a container that could not
// be read to its end is recorded in MessageContent::damaged. The engine turns both into a
// verdict, so content that was not fully inspected never passes silently.
//
// A ContentReader belongs to one message on one thread; not thread-safe. MessageContent is
// a plain value.
#ifndef MAILWARDEN_MILTER_CONTENT_H_
#define MAILWARDEN_MILTER_CONTENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "milter/mime/archive.h"
#include "milter/mime/parser.h"
#include "milter/mime/tnef.h"

namespace mailwarden {

struct ContentLimits {
  mime::MimeLimits mime;
  ArchiveLimits archive;
  TnefLimits tnef;
  // Keep the message's own text and HTML bodies too (up to mime.max_kept_*), for checks
  // that need every part whole (virus scanning).
  bool keep_text_bodies = false;
  // Keep the message as received (header lines and the undecoded body, CRLF as LF), its
  // first keep_raw_bytes bytes, for checks that match the raw form (spam raw rules); 0:
  // not kept.
  size_t keep_raw_bytes = 0;
};

// One file-like piece of the message.
struct ContentPart {
  // For MIME leaves, as the parser reports them. For a file taken out of a TNEF part P:
  // path "P/n", the file's name, size, SHA-256 and true type, depth one below P. For an
  // encoded attached message P: P itself (its bytes moved to its parts, kept = false), then
  // its parts with paths "P/1/...", as for an unencoded one.
  mime::MimePart part;
  // "" for MIME leaves; "tnef" for files taken out of a TNEF part; "message" for the parts
  // of an encoded attached message.
  std::string container;
  // The listing, when the part's content is an archive or an OOXML/ODF document.
  std::optional<ArchiveListing> archive;
};

// A limit that stopped the inspection somewhere.
struct ContentLimitHit {
  std::string name;  // "mime.max_parts", "archive.max_ratio", "tnef.max_files", ...
  uint64_t value = 0;
  std::string where;  // part path, with the archive member path after ':' for archives
};

struct MessageContent {
  std::vector<ContentPart> parts;  // MIME leaves in message order, TNEF files after their part
  std::vector<ContentLimitHit> limit_hits;
  // Part paths of archives and TNEF streams that were damaged or cut short, or whose members
  // could not all be read (compressed ARJ): their content was not fully judged.
  std::vector<std::string> damaged;
  uint64_t entity_count = 0;
  uint64_t unclosed_multiparts = 0;
};

class ContentReader {
 public:
  explicit ContentReader(ContentLimits limits = {});
  ~ContentReader();
  ContentReader(const ContentReader&) = delete;
  ContentReader& operator=(const ContentReader&) = delete;

  void AddHeader(std::string_view name, std::string_view value);
  void AddBody(std::string_view chunk);
  // Ends the input, unpacks containers and returns the result. Call once.
  MessageContent Finish();

 private:
  ContentLimits limits_;
  std::unique_ptr<mime::MimeParser> parser_;
};

// Attachments are kept whole while a message is inspected: buffers of tens of KB to MBs,
// allocated and freed for every message, on any of the server's threads. With glibc's
// defaults each one is mmap()ed and unmapped, or trimmed back with brk()/madvise(), and the
// page faults and TLB flushes cost more than the inspection itself. This keeps such memory
// in malloc's arenas for reuse (peak memory is unchanged: mime.max_kept_* bounds it; an
// arena returns memory beyond 8 MB of free space at its top). Call
// once at start, before threads; programs that run the engine (the milter, benchmarks) do.
void TuneAllocatorForContent();

// True when `head` (a part's first bytes) starts a TNEF stream or an archive, whatever the
// part's name and declared type say.
bool NeedsUnpacking(std::string_view head);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CONTENT_H_

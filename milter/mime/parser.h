// MimeParser: a streaming MIME structure parser (RFC 2045-2049) for one message.
//
// Fed the top-level header fields one by one (as a milter receives them: name, and value
// with folded lines joined by "\n"), then body chunks of any size, then Finish(); or, for
// files and tests, the raw message text through AddRaw(). Nothing is re-parsed and the body
// is never buffered whole: each leaf part is decoded incrementally (base64, quoted-printable,
// uuencode), hashed (SHA-256), measured and typed by content (true_type.h) as its bytes
// arrive, and its decoded bytes are kept only when the caller's KeepPredicate asks for them
// (it is asked once the first kTrueTypeSniffBytes bytes are known, so the answer can rest on
// the content rather than on what the sender declared), up to
// MimeLimits::max_kept_part_bytes per part and max_kept_total_bytes per message (a cut part
// is flagged `truncated`; that is not a LimitHit: its size and hash stay exact). Multiparts nest to
// any depth up to MimeLimits::max_depth (a stack of boundaries: a part ends when the boundary of
// any enclosing multipart appears); message/rfc822 parts are parsed as nested messages; uuencoded
// files inside text/plain bodies are reported as leaves of their own.
//
// Part paths, amavis style: the message itself is "1"; the children of an entity at path P
// are "P/1", "P/2", ... (so a plain message has one leaf "1"; a multipart/mixed with a text
// and a PDF has leaves "1/1" and "1/2"); the message inside a message/rfc822 part P is
// "P/1"; a file uuencoded in a text leaf P is "P/1", "P/2", ...
//
// Limits never crash, hang or grow memory: exceeding one records a LimitHit naming it and
// the part where it happened; the parser stops descending or collecting there and keeps
// consuming the input in linear time. The caller turns limit hits into a verdict.
//
// A MimeParser belongs to one message on one thread; not thread-safe. The MimeStructure it
// returns is a plain value.
#ifndef MAILWARDEN_MILTER_MIME_PARSER_H_
#define MAILWARDEN_MILTER_MIME_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milter/mime/decoders.h"
#include "milter/mime/true_type.h"

namespace mailwarden::mime {

// Safe defaults; each field is a named limit (the name appears in LimitHit::name).
struct MimeLimits {
  size_t max_depth = 20;                    // "max_depth": container nesting below the message
  size_t max_parts = 1000;                  // "max_parts": entities (leaves and containers)
  size_t max_header_line_bytes = 64 << 10;  // "max_header_line_bytes": one unfolded field
  size_t max_header_bytes = 256 << 10;      // "max_header_bytes": header section of one part
  size_t max_headers = 500;                 // "max_headers": fields in one part's header
  size_t max_boundary_length = 200;         // "max_boundary_length" (RFC 2046 allows 70)
  size_t max_kept_part_bytes = 32 << 20;    // per kept part; beyond, MimePart::truncated
  size_t max_kept_total_bytes = 64 << 20;   // all kept parts of the message together
};

class MimeParserImpl;

struct LimitHit {
  std::string name;       // the MimeLimits field, e.g. "max_depth"
  uint64_t value;         // the limit in force
  std::string part_path;  // where it was exceeded
};

// One leaf part, as reported to checks.
struct MimePart {
  std::string path;          // "1/2/3"
  std::string content_type;  // declared, lower-case, no parameters; "text/plain" by default
  std::string charset;       // lower-case, "" when not declared
  std::string disposition;   // "inline", "attachment", ... lower-case; "" when absent
  std::string file_name;     // UTF-8: Content-Disposition filename, else Content-Type name
  std::string other_name;    // the Content-Type name when both are given and differ; else ""
  TransferEncoding transfer_encoding = TransferEncoding::kIdentity;
  int depth = 0;                     // containers above it (the message's own body: 0)
  bool is_main_body = false;         // the message's text/plain or text/html body (not attachments)
  bool in_attached_message = false;  // inside a message/rfc822 part
  bool from_uuencode = false;        // a file found uuencoded in a text body
  uint64_t size = 0;                 // decoded bytes
  std::string sha256;                // lower-case hex of the decoded bytes
  TrueType true_type = TrueType::kUnknown;  // by content, whatever the name and type say
  std::string detected_type;  // libmagic's MIME type of the content; "" for the main body
  bool kept = false;                 // the KeepPredicate asked for the content
  bool truncated = false;            // kept, but cut at max_kept_part_bytes
  std::string content;               // decoded bytes when kept
};

class MimeStructure {
 public:
  // In the order the parts started in the message.
  const std::vector<MimePart>& leaves() const { return leaves_; }
  // Moves the leaves out (their kept content included); leaves() is empty afterwards.
  std::vector<MimePart> TakeLeaves() { return std::move(leaves_); }
  const std::vector<LimitHit>& limit_hits() const { return limit_hits_; }
  // The hit named `name`, or nullptr.
  const LimitHit* FindLimitHit(std::string_view name) const;
  // Every entity seen: leaves, multiparts, attached messages (also those skipped by limits).
  uint64_t entity_count() const { return entity_count_; }
  int max_depth_seen() const { return max_depth_seen_; }
  // Multiparts that ended without their closing boundary.
  uint64_t unclosed_multiparts() const { return unclosed_multiparts_; }
  // Bytes not part of any reported leaf: preambles, epilogues, parts skipped by a limit.
  uint64_t ignored_bytes() const { return ignored_bytes_; }

 private:
  friend class MimeParserImpl;
  std::vector<MimePart> leaves_;
  std::vector<LimitHit> limit_hits_;
  uint64_t entity_count_ = 0;
  int max_depth_seen_ = 0;
  uint64_t unclosed_multiparts_ = 0;
  uint64_t ignored_bytes_ = 0;
};

class MimeParser {
 public:
  // Asked once per leaf, when its first kTrueTypeSniffBytes decoded bytes are known (or the
  // leaf ended sooner): `part` has its headers and true_type, `head` holds those first bytes
  // (size and hash are not final yet). True keeps the leaf's decoded bytes.
  using KeepPredicate = std::function<bool(const MimePart& part, std::string_view head)>;

  explicit MimeParser(MimeLimits limits = {}, KeepPredicate keep = {});
  ~MimeParser();
  MimeParser(const MimeParser&) = delete;
  MimeParser& operator=(const MimeParser&) = delete;

  // A top-level header field; ignored once the body has started.
  void AddHeader(std::string_view name, std::string_view value);
  // A chunk of the body (CRLF or LF line ends), after the header fields.
  void AddBody(std::string_view chunk);
  // A chunk of the raw message, header section included; instead of AddHeader/AddBody.
  void AddRaw(std::string_view chunk);
  // Ends the input and returns the structure. Call once; the parser is spent afterwards.
  MimeStructure Finish();

 private:
  std::unique_ptr<MimeParserImpl> impl_;
};

// Lower-case hex SHA-256 of `bytes` ("" if OpenSSL cannot allocate), as MimePart::sha256.
std::string Sha256Hex(std::string_view bytes);

// A stable text rendering for golden tests: one line per leaf (path, type, name, size,
// SHA-256 prefix, flags), then one line per limit hit, then the counts.
std::string DescribeForTest(const MimeStructure& structure);

}  // namespace mailwarden::mime

#endif  // MAILWARDEN_MILTER_MIME_PARSER_H_

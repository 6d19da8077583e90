// The streaming MIME structure parser.
//
// Distrusts: the whole message (sender-controlled): header fields of any length or count,
// lines without end, NUL bytes, boundaries that are missing, unused, reused, too long or
// nested without end, parts without headers, junk in preambles and epilogues, damaged
// transfer encodings, absurd declared types and parameters.
// Limits (MimeLimits): nesting depth, entity count, header field length, header bytes and
// field count per part, boundary length, kept bytes per part. Internally the line buffer
// holds at most max_boundary_length + kLineSlack bytes (longer lines cannot be boundaries
// and are streamed through in pieces), the boundary stack at most 2 * max_depth + 1
// entries, and at most kMaxLimitHits hits are recorded. Each body byte is examined a
// bounded number of times (boundary comparison is per short line starting with "--", times
// the stack depth), so the time is linear in the input.
// Failure: none. Broken structure has a defined reading (documented at each decision) and
// exceeded limits are recorded as LimitHits for the caller to turn into a verdict.
#include "milter/mime/parser.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "milter/mime/header_words.h"
#include "milter/mime/magic_type.h"

namespace mailwarden::mime {
namespace {

constexpr size_t kLineSlack = 100;  // "--" + "--" + trailing whitespace and CR
constexpr size_t kMaxLimitHits = 64;

struct EvpCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using EvpCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpCtxFree>;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// Decoded bytes of one leaf go here: size, SHA-256, true type and (when asked) the bytes
// themselves. The first kTrueTypeSniffBytes bytes are held back until the true type is known,
// so the keep decision can look at the content rather than at what the sender declared.
class LeafSink {
 public:
  LeafSink(size_t index, const MimeParser::KeepPredicate* keep)
      : index_(index), keep_(keep), sha_(EVP_MD_CTX_new()) {
    if (sha_ && EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr) != 1) sha_.reset();
  }
  size_t index() const { return index_; }

  // `cap` bounds the part's kept bytes; `*total_room` is what the message may still keep.
  void Write(std::string_view bytes, size_t cap, uint64_t* total_room, MimePart* part) {
    if (bytes.empty()) return;
    part->size += bytes.size();
    if (sha_) EVP_DigestUpdate(sha_.get(), bytes.data(), bytes.size());
    if (!decided_) {
      size_t take = std::min(bytes.size(), kTrueTypeSniffBytes - head_.size());
      head_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (head_.size() < kTrueTypeSniffBytes) return;
      Decide(cap, total_room, part);
    }
    Keep(bytes, cap, total_room, part);
  }

  // Decides on a part shorter than the sniff window and stores the hex digest ("" if
  // OpenSSL could not allocate a context).
  void Close(size_t cap, uint64_t* total_room, MimePart* part) {
    if (!decided_) Decide(cap, total_room, part);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!sha_ || EVP_DigestFinal_ex(sha_.get(), md, &len) != 1) return;
    static const char kHex[] = "0123456789abcdef";
    part->sha256.clear();
    for (unsigned int i = 0; i < len; ++i) {
      part->sha256.push_back(kHex[md[i] >> 4]);
      part->sha256.push_back(kHex[md[i] & 15]);
    }
  }

 private:
  void Decide(size_t cap, uint64_t* total_room, MimePart* part) {
    decided_ = true;
    part->true_type = SniffTrueType(head_);
    // The message's own text is known to be text; libmagic is for what was attached.
    if (!part->is_main_body) part->detected_type = DetectMimeType(head_);
    part->kept = *keep_ && (*keep_)(*part, head_);
    Keep(head_, cap, total_room, part);
    std::string().swap(head_);
  }

  void Keep(std::string_view bytes, size_t cap, uint64_t* total_room, MimePart* part) {
    if (!part->kept || part->truncated || bytes.empty()) return;
    size_t room = cap - std::min(cap, part->content.size());
    room = static_cast<size_t>(std::min<uint64_t>(room, *total_room));
    if (bytes.size() > room) {
      bytes = bytes.substr(0, room);
      part->truncated = true;
    }
    part->content.append(bytes);
    *total_room -= bytes.size();
  }

  size_t index_;
  const MimeParser::KeepPredicate* keep_;
  EvpCtxPtr sha_;
  bool decided_ = false;
  std::string head_;
};

}  // namespace

class MimeParserImpl {
 public:
  MimeParserImpl(MimeLimits limits, MimeParser::KeepPredicate keep)
      : limits_(limits),
        keep_(std::move(keep)),
        probe_(limits.max_boundary_length + kLineSlack),
        kept_room_(limits.max_kept_total_bytes) {
    NewEntity("1", 0, false, false);
  }

  void AddHeader(std::string_view name, std::string_view value) {
    if (root_started_) return;
    if (name.size() + value.size() > limits_.max_header_line_bytes) {
      Hit("max_header_line_bytes", limits_.max_header_line_bytes, entity_.path);
      name = name.substr(0, limits_.max_header_line_bytes);
      value = value.substr(0, limits_.max_header_line_bytes - name.size());
    }
    entity_.header_bytes += name.size() + value.size() + 4;
    if (!CheckHeaderBytes()) return;
    OnField(name, value);
  }

  void AddBody(std::string_view chunk) {
    if (!root_started_) {
      root_started_ = true;
      BeginEntityBody();
    }
    Consume(chunk);
  }

  void AddRaw(std::string_view chunk) {
    root_started_ = true;  // the root's header lines come through Consume
    Consume(chunk);
  }

  MimeStructure Finish() {
    root_started_ = true;
    // The last line, without its line end.
    if (long_line_) {
      if (mode_ == Mode::kHeaders) HeaderLine(header_line_, header_line_cut_);
      long_line_ = false;
    } else if (!line_.empty()) {
      size_t frame = 0;
      bool close = false;
      if (IsBoundary(line_, &frame, &close)) {
        OnBoundary(frame, close);
      } else if (mode_ == Mode::kHeaders) {
        HeaderLine(line_, false);
      } else if (mode_ == Mode::kLeafBody) {
        ContentStart();
        ContentPiece(line_);
      } else {
        out_.ignored_bytes_ += line_.size();
      }
    }
    if (mode_ == Mode::kHeaders) {
      FinishField();
      BeginEntityBody();
    }
    if (mode_ == Mode::kLeafBody) {
      // No boundary follows: the last line end and a lone CR are content.
      ContentStart();
      if (held_cr_) Decode("\r");
      held_cr_ = false;
      EndLeaf();
    }
    for (const Frame& f : frames_) {
      if (f.multipart && !f.closed) ++out_.unclosed_multiparts_;
    }
    frames_.clear();
    return std::move(out_);
  }

 private:
  enum class Mode { kHeaders, kLeafBody, kIgnore };

  // An open container: a multipart (with its boundary) or an attached message.
  struct Frame {
    bool multipart = false;
    std::string boundary;
    std::string path;
    int depth = 0;
    int children = 0;
    bool closed = false;  // its close delimiter was seen: the epilogue follows
    bool digest = false;  // multipart/digest: children default to message/rfc822
    bool alternative = false;  // multipart/alternative or multipart/related
    bool in_message = false;
    // Index in out_.leaves_ of the provisional leaf reading the preamble, or npos once a
    // delimiter was seen (see StartPreamble).
    size_t preamble_leaf = std::string::npos;
  };

  // The entity whose header section is being read.
  struct Entity {
    std::string path;
    int depth = 0;
    bool in_message = false;
    bool digest_child = false;
    bool skip = false;  // over max_parts: consumed, not reported
    std::string content_type, disposition, transfer_encoding;  // raw; first field wins
    bool has_content_type = false, has_disposition = false, has_transfer_encoding = false;
    uint64_t header_bytes = 0;
    uint64_t header_count = 0;
    bool headers_full = false;  // a header limit was hit: further fields are ignored
    std::string field_name, field_value;
    bool in_field = false;
  };

  // The leaf whose body is being decoded.
  struct ActiveLeaf {
    std::unique_ptr<Decoder> decoder;
    LeafSink sink;
    bool scan_uu = false;
    UuDecoder uu;
    std::unique_ptr<LeafSink> uu_child;
    bool uu_child_skipped = false;
    int uu_files = 0;
  };

  void Hit(std::string_view name, uint64_t value, const std::string& path) {
    for (const LimitHit& h : out_.limit_hits_) {
      if (h.name == name && (h.part_path == path || name == "max_parts")) return;
    }
    if (out_.limit_hits_.size() < kMaxLimitHits) {
      out_.limit_hits_.push_back({std::string(name), value, path});
    }
  }

  void NewEntity(std::string path, int depth, bool in_message, bool digest_child) {
    entity_ = Entity();
    entity_.path = std::move(path);
    entity_.depth = depth;
    entity_.in_message = in_message;
    entity_.digest_child = digest_child;
    if (++out_.entity_count_ > limits_.max_parts) {
      Hit("max_parts", limits_.max_parts, entity_.path);
      entity_.skip = true;
    }
    mode_ = Mode::kHeaders;
  }

  // --- lines ------------------------------------------------------------------------------

  // Splits input into lines. Lines up to probe_ bytes are collected whole (they may be
  // boundaries); longer ones are passed on in pieces as they arrive.
  void Consume(std::string_view data) {
    while (!data.empty()) {
      size_t nl = data.find('\n');
      bool eol = nl != std::string_view::npos;
      std::string_view piece = data.substr(0, eol ? nl : data.size());
      data.remove_prefix(eol ? nl + 1 : data.size());
      if (!long_line_) {
        if (line_.size() + piece.size() <= probe_) {
          line_.append(piece);
          if (eol) {
            ShortLine(line_);
            line_.clear();
          }
          continue;
        }
        long_line_ = true;
        LongPiece(line_, true);
        line_.clear();
        LongPiece(piece, false);
      } else {
        LongPiece(piece, false);
      }
      if (eol) {
        LongEnd();
        long_line_ = false;
      }
    }
  }

  void ShortLine(std::string_view line) {
    size_t frame = 0;
    bool close = false;
    if (IsBoundary(line, &frame, &close)) {
      OnBoundary(frame, close);
      return;
    }
    switch (mode_) {
      case Mode::kHeaders:
        HeaderLine(line, false);
        break;
      case Mode::kLeafBody:
        ContentStart();
        ContentPiece(line);
        ContentEnd();
        break;
      case Mode::kIgnore:
        out_.ignored_bytes_ += line.size() + 1;
        break;
    }
  }

  void LongPiece(std::string_view piece, bool first) {
    switch (mode_) {
      case Mode::kHeaders: {
        if (first) {
          header_line_.clear();
          header_line_cut_ = false;
        }
        size_t room = limits_.max_header_line_bytes -
                      std::min(limits_.max_header_line_bytes, header_line_.size());
        if (piece.size() > room) header_line_cut_ = true;
        header_line_.append(piece.substr(0, room));
        break;
      }
      case Mode::kLeafBody:
        if (first) ContentStart();
        ContentPiece(piece);
        break;
      case Mode::kIgnore:
        out_.ignored_bytes_ += piece.size();
        break;
    }
  }

  void LongEnd() {
    if (mode_ == Mode::kHeaders) {
      HeaderLine(header_line_, header_line_cut_);
      header_line_.clear();
    } else if (mode_ == Mode::kLeafBody) {
      ContentEnd();
    } else {
      out_.ignored_bytes_ += 1;
    }
  }

  // A delimiter line is "--" boundary, optionally "--" (close), optionally trailing
  // whitespace (RFC 2046 §5.1.1), matched innermost first. Anything else after the boundary
  // makes it an ordinary line.
  bool IsBoundary(std::string_view line, size_t* frame, bool* close) const {
    if (frames_.empty() || line.size() < 3 || line[0] != '-' || line[1] != '-') return false;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    for (size_t i = frames_.size(); i-- > 0;) {
      const Frame& f = frames_[i];
      if (!f.multipart || line.size() < 2 + f.boundary.size()) continue;
      if (line.compare(2, f.boundary.size(), f.boundary) != 0) continue;
      std::string_view rest = line.substr(2 + f.boundary.size());
      if (rest.empty() || rest == "--") {
        *frame = i;
        *close = !rest.empty();
        return true;
      }
    }
    return false;
  }

  void OnBoundary(size_t frame, bool close) {
    // The part in progress ends here; a part cut off inside its header section is read as
    // a part with those headers and an empty body.
    if (mode_ == Mode::kHeaders) {
      FinishField();
      BeginEntityBody();
    }
    const size_t eol_before = pending_eol_.size();
    if (mode_ == Mode::kLeafBody) EndLeaf();  // the line end before the boundary is not content
    pending_eol_.clear();
    held_cr_ = false;
    while (frames_.size() > frame + 1) {  // an enclosing boundary closes inner containers
      if (frames_.back().multipart && !frames_.back().closed) ++out_.unclosed_multiparts_;
      frames_.pop_back();
    }
    Frame& f = frames_[frame];
    if (f.preamble_leaf != std::string::npos) DiscardPreamble(&f, eol_before);
    if (close) {
      f.closed = true;
      mode_ = Mode::kIgnore;  // epilogue
      return;
    }
    // A delimiter after the close delimiter starts another part all the same: mail clients
    // differ here, and seeing a part is safer than missing one.
    f.closed = false;
    ++f.children;
    NewEntity(f.path + "/" + std::to_string(f.children), f.depth + 1, f.in_message, f.digest);
  }

  // A multipart's preamble is read as a provisional text leaf "P/1". If a delimiter of the
  // multipart follows, the preamble was only the usual "This is a multi-part message" note
  // and the leaf is discarded. If none ever does (the boundary parameter and the delimiter
  // lines disagree, a trick as well as a bug), the multipart's whole body stays reported as
  // that leaf, so no content escapes the checks by hiding behind an unused boundary.
  void StartPreamble() {
    Frame& f = frames_.back();
    MimePart part;
    part.path = f.path + "/1";
    part.content_type = "text/plain";
    part.depth = f.depth + 1;
    part.in_attached_message = f.in_message;
    out_.leaves_.push_back(std::move(part));
    f.preamble_leaf = out_.leaves_.size() - 1;
    leaf_ = std::make_unique<ActiveLeaf>(ActiveLeaf{MakeDecoder(TransferEncoding::kIdentity),
                                                    LeafSink(f.preamble_leaf, &keep_),
                                                    true,
                                                    {},
                                                    {},
                                                    false,
                                                    0});
    mode_ = Mode::kLeafBody;
  }

  // The first delimiter of `f` arrived: its preamble leaf (already ended by OnBoundary) and
  // any file uuencoded in it are dropped; their bytes (and the line end before the
  // delimiter, `eol_bytes`) count as ignored.
  void DiscardPreamble(Frame* f, size_t eol_bytes) {
    out_.ignored_bytes_ += out_.leaves_[f->preamble_leaf].size + eol_bytes;
    for (size_t i = f->preamble_leaf; i < out_.leaves_.size(); ++i) {
      kept_room_ += out_.leaves_[i].content.size();
    }
    out_.leaves_.resize(f->preamble_leaf);
    f->preamble_leaf = std::string::npos;
  }

  // --- header section ---------------------------------------------------------------------

  bool CheckHeaderBytes() {
    if (entity_.header_bytes > limits_.max_header_bytes) {
      Hit("max_header_bytes", limits_.max_header_bytes, entity_.path);
      entity_.headers_full = true;
    }
    return !entity_.headers_full;
  }

  void HeaderLine(std::string_view line, bool cut) {
    const std::string_view as_received = line;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {  // end of the header section
      FinishField();
      BeginEntityBody();
      return;
    }
    // What was cut off an over-long line costs nothing and is not counted here.
    if (cut) Hit("max_header_line_bytes", limits_.max_header_line_bytes, entity_.path);
    entity_.header_bytes += line.size() + 2;
    if (!CheckHeaderBytes()) return;
    if (line.front() == ' ' || line.front() == '\t') {
      if (!entity_.in_field) return;  // a continuation of nothing
      size_t room = limits_.max_header_line_bytes -
                    std::min(limits_.max_header_line_bytes, entity_.field_value.size());
      if (line.size() + 1 > room) {
        Hit("max_header_line_bytes", limits_.max_header_line_bytes, entity_.path);
        line = line.substr(0, room > 0 ? room - 1 : 0);
        if (room == 0) return;
      }
      entity_.field_value.push_back('\n');
      entity_.field_value.append(line);
      return;
    }
    FinishField();
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      // Not a field: the header section ended without its empty line (as in Postfix's
      // cleanup and most mail clients) and this line is the first of the body. Reading it
      // as body keeps a part whose blank line was left out from hiding its content.
      BeginEntityBody();
      if (mode_ == Mode::kLeafBody) {
        ContentStart();
        ContentPiece(as_received);
        ContentEnd();
      } else {
        out_.ignored_bytes_ += as_received.size() + 1;
      }
      return;
    }
    entity_.field_name = std::string(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    entity_.field_value = std::string(value);
    entity_.in_field = true;
  }

  void FinishField() {
    if (!entity_.in_field) return;
    entity_.in_field = false;
    OnField(entity_.field_name, entity_.field_value);
  }

  // Only the MIME fields matter here; a duplicated one keeps its first value, as most
  // mail clients display it.
  void OnField(std::string_view name, std::string_view value) {
    if (entity_.headers_full) return;
    if (++entity_.header_count > limits_.max_headers) {
      Hit("max_headers", limits_.max_headers, entity_.path);
      entity_.headers_full = true;
      return;
    }
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (EqualsIgnoreCase(name, "Content-Type")) {
      if (!entity_.has_content_type) entity_.content_type = std::string(value);
      entity_.has_content_type = true;
    } else if (EqualsIgnoreCase(name, "Content-Disposition")) {
      if (!entity_.has_disposition) entity_.disposition = std::string(value);
      entity_.has_disposition = true;
    } else if (EqualsIgnoreCase(name, "Content-Transfer-Encoding")) {
      if (!entity_.has_transfer_encoding) entity_.transfer_encoding = std::string(value);
      entity_.has_transfer_encoding = true;
    }
  }

  // The header section is complete: decide what the body is.
  void BeginEntityBody() {
    pending_eol_.clear();
    held_cr_ = false;
    if (entity_.skip) {
      mode_ = Mode::kIgnore;
      return;
    }
    out_.max_depth_seen_ = std::max(out_.max_depth_seen_, entity_.depth);
    ParameterizedHeader ct = ParseParameterizedHeader(entity_.content_type);
    std::string type = ct.value;
    // A missing or syntactically invalid type is text/plain (RFC 2045 §5.2).
    if (type.find('/') == std::string::npos || type.front() == '/' || type.back() == '/') {
      type = entity_.digest_child ? "message/rfc822" : "text/plain";
    }
    TransferEncoding encoding = ParseTransferEncoding(entity_.transfer_encoding);
    if (type.starts_with("multipart/")) {
      // Without a usable boundary the multipart is read as an opaque leaf.
      const ParameterizedHeader::Param* boundary = ct.Find("boundary");
      if (boundary != nullptr && boundary->value.size() > limits_.max_boundary_length) {
        Hit("max_boundary_length", limits_.max_boundary_length, entity_.path);
      } else if (boundary != nullptr && !boundary->value.empty()) {
        if (!EnterContainer()) return;
        Frame f;
        f.multipart = true;
        f.boundary = boundary->value;
        f.path = entity_.path;
        f.depth = entity_.depth;
        f.digest = type == "multipart/digest";
        f.alternative = type == "multipart/alternative" || type == "multipart/related";
        f.in_message = entity_.in_message;
        frames_.push_back(std::move(f));
        StartPreamble();
        return;
      }
    } else if ((type == "message/rfc822" || type == "message/global") &&
               encoding == TransferEncoding::kIdentity) {
      // An encoded attached message is rare and not descended into: it is an opaque leaf.
      if (!EnterContainer()) return;
      Frame f;
      f.path = entity_.path;
      f.depth = entity_.depth;
      f.in_message = true;
      frames_.push_back(f);
      NewEntity(f.path + "/1", f.depth + 1, true, false);
      return;
    }
    StartLeaf(type, ct, encoding);
  }

  // False (and the container is skipped) when its children would be too deep.
  bool EnterContainer() {
    if (static_cast<size_t>(entity_.depth) + 1 > limits_.max_depth) {
      Hit("max_depth", limits_.max_depth, entity_.path);
      mode_ = Mode::kIgnore;
      return false;
    }
    return true;
  }

  // --- leaves -----------------------------------------------------------------------------

  // The main body: the first text/plain and the first text/html leaf of the message itself
  // that are not attachments, the second only within the alternative/related group of the
  // first (a text/plain after a PDF in multipart/mixed is an attachment, not the body).
  bool IsMainBody(const MimePart& p) {
    if (p.in_attached_message || !p.file_name.empty() || p.disposition == "attachment") {
      return false;
    }
    bool plain = p.content_type == "text/plain", html = p.content_type == "text/html";
    if (!plain && !html) return false;
    if (!main_found_) {
      main_found_ = true;
      (plain ? main_plain_ : main_html_) = true;
      // Only an alternative or related group holds a second rendering of the body; in a
      // mixed group every further text part is an attachment, however large.
      bool grouped = !frames_.empty() && frames_.back().multipart && frames_.back().alternative;
      main_group_ = grouped ? ParentPath(p.path) : std::string();
      return true;
    }
    bool& seen = plain ? main_plain_ : main_html_;
    if (seen || main_group_.empty() || !p.path.starts_with(main_group_ + "/")) return false;
    seen = true;
    return true;
  }

  void StartLeaf(const std::string& type, const ParameterizedHeader& ct,
                 TransferEncoding encoding) {
    MimePart part;
    part.path = entity_.path;
    part.content_type = type;
    if (const auto* cs = ct.Find("charset")) {
      for (char c : cs->value) {
        part.charset.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
    }
    ParameterizedHeader cd = ParseParameterizedHeader(entity_.disposition);
    part.disposition = cd.value;
    part.file_name = cd.DecodedValue("filename");
    std::string type_name = ct.DecodedValue("name");
    if (part.file_name.empty()) {
      part.file_name = std::move(type_name);
    } else if (type_name != part.file_name) {
      part.other_name = std::move(type_name);  // clients differ in which one they save under
    }
    part.transfer_encoding = encoding;
    part.depth = entity_.depth;
    part.in_attached_message = entity_.in_message;
    part.is_main_body = IsMainBody(part);
    out_.leaves_.push_back(std::move(part));
    const MimePart& stored = out_.leaves_.back();
    leaf_ = std::make_unique<ActiveLeaf>(ActiveLeaf{MakeDecoder(encoding),
                                                    LeafSink(out_.leaves_.size() - 1, &keep_),
                                                    false,
                                                    {},
                                                    {},
                                                    false,
                                                    0});
    leaf_->scan_uu = stored.content_type == "text/plain" && encoding != TransferEncoding::kUuencode;
    mode_ = Mode::kLeafBody;
  }

  // Before a line's content: the previous line's end, now known not to precede a boundary.
  void ContentStart() {
    if (!pending_eol_.empty()) Decode(pending_eol_);
    pending_eol_.clear();
  }

  // A CR at the end of a piece is held back: with the LF after it, it belongs to the line
  // end, which belongs to a following boundary.
  void ContentPiece(std::string_view bytes) {
    if (bytes.empty()) return;
    if (held_cr_) {
      Decode("\r");
      held_cr_ = false;
    }
    if (bytes.back() == '\r') {
      bytes.remove_suffix(1);
      held_cr_ = true;
    }
    Decode(bytes);
  }

  void ContentEnd() {
    pending_eol_ = held_cr_ ? "\r\n" : "\n";
    held_cr_ = false;
  }

  void Decode(std::string_view encoded) {
    scratch_.clear();
    leaf_->decoder->Feed(encoded, &scratch_);
    Deliver(scratch_);
  }

  void Deliver(std::string_view decoded) {
    leaf_->sink.Write(decoded, limits_.max_kept_part_bytes, &kept_room_,
                      &out_.leaves_[leaf_->sink.index()]);
    if (leaf_->scan_uu) ScanUu(decoded);
  }

  // Feeds a text leaf's decoded bytes to the uudecoder; each begin/end block becomes a leaf.
  void ScanUu(std::string_view text) {
    ActiveLeaf& leaf = *leaf_;
    while (!text.empty()) {
      uu_scratch_.clear();
      size_t used = leaf.uu.FeedUntilEnd(text, &uu_scratch_);
      if ((leaf.uu.in_file() || leaf.uu.done()) && !leaf.uu_child && !leaf.uu_child_skipped) {
        StartUuChild();
      }
      if (leaf.uu_child) {
        leaf.uu_child->Write(uu_scratch_, limits_.max_kept_part_bytes, &kept_room_,
                             &out_.leaves_[leaf.uu_child->index()]);
      }
      if (leaf.uu.done()) {
        EndUuChild();
        leaf.uu.Reset();
      }
      if (used == 0) break;
      text.remove_prefix(used);
    }
  }

  void StartUuChild() {
    ActiveLeaf& leaf = *leaf_;
    const MimePart& parent = out_.leaves_[leaf.sink.index()];
    std::string path = parent.path + "/" + std::to_string(++leaf.uu_files);
    if (++out_.entity_count_ > limits_.max_parts) {
      Hit("max_parts", limits_.max_parts, path);
      leaf.uu_child_skipped = true;
      return;
    }
    MimePart part;
    part.path = std::move(path);
    part.content_type = "application/octet-stream";
    part.disposition = "attachment";
    part.file_name = ToUtf8(leaf.uu.file_name(), "utf-8");
    part.depth = parent.depth + 1;
    part.in_attached_message = parent.in_attached_message;
    part.from_uuencode = true;
    out_.max_depth_seen_ = std::max(out_.max_depth_seen_, part.depth);
    out_.leaves_.push_back(std::move(part));
    leaf.uu_child = std::make_unique<LeafSink>(out_.leaves_.size() - 1, &keep_);
  }

  void EndUuChild() {
    ActiveLeaf& leaf = *leaf_;
    if (leaf.uu_child) {
      leaf.uu_child->Close(limits_.max_kept_part_bytes, &kept_room_,
                           &out_.leaves_[leaf.uu_child->index()]);
    }
    leaf.uu_child.reset();
    leaf.uu_child_skipped = false;
  }

  void EndLeaf() {
    scratch_.clear();
    leaf_->decoder->Finish(&scratch_);
    Deliver(scratch_);
    if (leaf_->scan_uu) {
      uu_scratch_.clear();
      leaf_->uu.Finish(&uu_scratch_);
      if (leaf_->uu_child) {
        leaf_->uu_child->Write(uu_scratch_, limits_.max_kept_part_bytes, &kept_room_,
                               &out_.leaves_[leaf_->uu_child->index()]);
      }
      EndUuChild();  // a file without "end" ends with its text part
    }
    leaf_->sink.Close(limits_.max_kept_part_bytes, &kept_room_, &out_.leaves_[leaf_->sink.index()]);
    leaf_.reset();
    mode_ = Mode::kIgnore;
  }

  const MimeLimits limits_;
  const MimeParser::KeepPredicate keep_;
  const size_t probe_;
  uint64_t kept_room_;  // of max_kept_total_bytes
  MimeStructure out_;
  Mode mode_ = Mode::kHeaders;
  bool root_started_ = false;
  std::vector<Frame> frames_;
  Entity entity_;
  std::unique_ptr<ActiveLeaf> leaf_;

  std::string line_;
  bool long_line_ = false;
  std::string header_line_;
  bool header_line_cut_ = false;
  std::string pending_eol_;
  bool held_cr_ = false;
  std::string scratch_, uu_scratch_;

  bool main_found_ = false, main_plain_ = false, main_html_ = false;
  std::string main_group_;
};

const LimitHit* MimeStructure::FindLimitHit(std::string_view name) const {
  for (const LimitHit& h : limit_hits_) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

MimeParser::MimeParser(MimeLimits limits, KeepPredicate keep)
    : impl_(std::make_unique<MimeParserImpl>(limits, std::move(keep))) {}
MimeParser::~MimeParser() = default;
void MimeParser::AddHeader(std::string_view name, std::string_view value) {
  impl_->AddHeader(name, value);
}
void MimeParser::AddBody(std::string_view chunk) { impl_->AddBody(chunk); }
void MimeParser::AddRaw(std::string_view chunk) { impl_->AddRaw(chunk); }
MimeStructure MimeParser::Finish() { return impl_->Finish(); }

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string DescribeForTest(const MimeStructure& s) {
  std::string out;
  for (const MimePart& p : s.leaves()) {
    out += p.path + " " + p.content_type + " name=\"" + p.file_name +
           "\" size=" + std::to_string(p.size) + " sha256=" + p.sha256.substr(0, 16);
    if (!p.charset.empty()) out += " charset=" + p.charset;
    if (!p.disposition.empty()) out += " disposition=" + p.disposition;
    out += " depth=" + std::to_string(p.depth);
    if (p.is_main_body) out += " main";
    if (p.in_attached_message) out += " attached-message";
    if (p.from_uuencode) out += " uuencoded";
    if (p.truncated) out += " truncated";
    if (p.true_type != TrueType::kUnknown) out += " true_type=" + std::string(TrueTypeName(p.true_type));
    out += "\n";
  }
  for (const LimitHit& h : s.limit_hits()) {
    out += "limit " + h.name + "=" + std::to_string(h.value) + " at " + h.part_path + "\n";
  }
  out += "entities=" + std::to_string(s.entity_count()) +
         " max_depth=" + std::to_string(s.max_depth_seen()) +
         " unclosed=" + std::to_string(s.unclosed_multiparts()) +
         " ignored_bytes=" + std::to_string(s.ignored_bytes()) + "\n";
  return out;
}

}  // namespace mailwarden::mime

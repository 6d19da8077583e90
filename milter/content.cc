#include "milter/content.h"

#include <malloc.h>

#include "milter/mime/magic_type.h"
#include "milter/mime/true_type.h"

namespace mailwarden {
namespace {

// How far from its end a zip's end-of-central-directory record may sit: 22 bytes of record
// plus a comment of at most 65535 bytes.
constexpr size_t kZipEndSearch = 22 + 65535;

// A zip whose data does not start at byte 0 (junk or a stub in front, several archives
// concatenated) is still opened by unzip, 7-Zip and Windows, which read it from its end.
bool HasZipEndRecord(std::string_view bytes) {
  if (bytes.size() < 22) return false;
  size_t from = bytes.size() > kZipEndSearch ? bytes.size() - kZipEndSearch : 0;
  return bytes.find(std::string_view("PK\x05\x06", 4), from) != std::string_view::npos;
}

// An attached message the MIME parser left closed because it is transfer-encoded (it only
// descends into 7bit/8bit/binary ones): it is opened here from its decoded bytes.
bool IsEncodedMessage(const mime::MimePart& p) {
  return p.content_type == "message/rfc822" || p.content_type == "message/global";
}

bool NeedsOpening(const mime::MimePart& p) {
  return NeedsUnpacking(p.content) || HasZipEndRecord(p.content) || IsEncodedMessage(p);
}

// Opens `cp` as an archive when its content is one; records limits and damage.
void ListIfArchive(ContentPart* cp, const ArchiveLimits& limits, MessageContent* out) {
  const mime::MimePart& p = cp->part;
  if (!p.kept || (!LooksLikeArchive(p.content) && !HasZipEndRecord(p.content))) return;
  auto listing = ListArchive(p.content, limits);
  // Magic numbers matched but libarchive sees no archive (a text starting like a tar
  // header, say): nothing to list, and the part is judged like any other file.
  if (!listing.ok()) return;
  for (const ArchiveLimitHit& hit : listing->limit_hits) {
    out->limit_hits.push_back({"archive." + hit.name, hit.value, p.path + ":" + hit.member_path});
  }
  // Damaged, or holding members whose compression is not decoded here (ARJ): either way
  // some content was not judged, which mime.on_damaged decides about.
  if ((listing->truncated && listing->limit_hits.empty()) || listing->unread_members > 0) {
    out->damaged.push_back(p.path);
  }
  cp->archive = std::move(listing).value();
}

// A part that had to be opened but was not kept whole: the opening would be partial.
void CheckKeptWhole(const mime::MimePart& p, const mime::MimeLimits& limits,
                    MessageContent* out) {
  if (!p.truncated || !NeedsOpening(p)) return;
  bool part_cap = p.content.size() >= limits.max_kept_part_bytes;
  out->limit_hits.push_back({part_cap ? "mime.max_kept_part_bytes" : "mime.max_kept_total_bytes",
                             part_cap ? limits.max_kept_part_bytes : limits.max_kept_total_bytes,
                             p.path});
}

// The files of a TNEF part, as parts of their own.
std::vector<ContentPart> UnpackTnef(const mime::MimePart& p, const ContentLimits& limits,
                                    MessageContent* out) {
  std::vector<ContentPart> files;
  auto contents = ReadTnef(p.content, limits.tnef);
  if (!contents.ok()) {
    out->damaged.push_back(p.path);  // signature present, stream unreadable
    return files;
  }
  if (contents->limit_hit) {
    uint64_t value = contents->limit_name == "max_files" ? limits.tnef.max_files
                                                         : limits.tnef.max_total_bytes;
    out->limit_hits.push_back({"tnef." + contents->limit_name, value, p.path});
  } else if (contents->damaged) {
    out->damaged.push_back(p.path);
  }
  int n = 0;
  for (TnefFile& file : contents->files) {
    ContentPart cp;
    cp.container = "tnef";
    mime::MimePart& f = cp.part;
    f.path = p.path + "/" + std::to_string(++n);
    f.content_type = "application/octet-stream";
    f.disposition = "attachment";
    f.file_name = std::move(file.name);
    f.depth = p.depth + 1;
    f.in_attached_message = p.in_attached_message;
    f.size = file.content.size();
    f.sha256 = mime::Sha256Hex(file.content);
    f.true_type = SniffTrueType(file.content);
    f.detected_type =
        DetectMimeType(std::string_view(file.content).substr(0, kTrueTypeSniffBytes));
    f.kept = true;
    f.truncated = file.truncated;
    f.content = std::move(file.content);
    ListIfArchive(&cp, limits.archive, out);
    files.push_back(std::move(cp));
  }
  return files;
}

mime::MimeParser::KeepPredicate KeepAttachments(bool keep_text_bodies) {
  // Every attachment is kept (up to mime.max_kept_*): archives and TNEF are opened here,
  // and a zip with junk in front is only recognised from its end. The message's own text
  // is kept only when a virus scan needs it; otherwise it is inspected as it streams by.
  if (keep_text_bodies) return [](const mime::MimePart&, std::string_view) { return true; };
  return [](const mime::MimePart& part, std::string_view) { return !part.is_main_body; };
}

void Unpack(mime::MimeStructure structure, const ContentLimits& limits, int nesting,
            MessageContent* out);

// An encoded attached message at `p`, parsed from its decoded bytes. Its parts get paths
// below p's ("P/1" is the message, as the parser numbers an unencoded one) and count as
// parts of an attached message.
void UnpackMessage(const std::string& path, int depth, std::string content,
                   const ContentLimits& limits, int nesting, MessageContent* out) {
  if (static_cast<size_t>(nesting) >= limits.mime.max_depth) {
    out->limit_hits.push_back({"mime.max_depth", limits.mime.max_depth, path});
    return;
  }
  mime::MimeParser parser(limits.mime, KeepAttachments(limits.keep_text_bodies));
  parser.AddRaw(content);
  std::string().swap(content);
  MessageContent inner;
  Unpack(parser.Finish(), limits, nesting + 1, &inner);
  const std::string prefix = path + "/";
  for (ContentLimitHit& h : inner.limit_hits) {
    h.where = prefix + h.where;
    out->limit_hits.push_back(std::move(h));
  }
  for (std::string& d : inner.damaged) out->damaged.push_back(prefix + d);
  out->entity_count += inner.entity_count;
  out->unclosed_multiparts += inner.unclosed_multiparts;
  for (ContentPart& cp : inner.parts) {
    cp.part.path = prefix + cp.part.path;
    cp.part.depth += depth + 1;
    cp.part.in_attached_message = true;
    cp.part.is_main_body = false;  // the attached message's text is not this message's body
    // Counted for size once, as the container's decoded bytes.
    if (cp.container.empty()) cp.container = "message";
    out->parts.push_back(std::move(cp));
  }
}

void Unpack(mime::MimeStructure structure, const ContentLimits& limits, int nesting,
            MessageContent* out) {
  for (const mime::LimitHit& hit : structure.limit_hits()) {
    out->limit_hits.push_back({"mime." + hit.name, hit.value, hit.part_path});
  }
  out->entity_count += structure.entity_count();
  out->unclosed_multiparts += structure.unclosed_multiparts();
  for (mime::MimePart& leaf : structure.TakeLeaves()) {
    ContentPart cp;
    cp.part = std::move(leaf);
    const mime::MimePart& p = cp.part;
    if (p.kept) CheckKeptWhole(p, limits.mime, out);
    if (p.kept && LooksLikeTnef(p.content)) {
      std::vector<ContentPart> files = UnpackTnef(p, limits, out);
      out->parts.push_back(std::move(cp));
      for (ContentPart& f : files) out->parts.push_back(std::move(f));
    } else if (p.kept && IsEncodedMessage(p)) {
      // The bytes move on to the nested message's own parts, which follow their container.
      std::string path = p.path, content = std::move(cp.part.content);
      int depth = p.depth;
      cp.part.kept = false;
      out->parts.push_back(std::move(cp));
      UnpackMessage(path, depth, std::move(content), limits, nesting, out);
    } else {
      ListIfArchive(&cp, limits.archive, out);
      out->parts.push_back(std::move(cp));
    }
  }
}

}  // namespace

void TuneAllocatorForContent() {
  // Buffers up to mime.max_kept_part_bytes' default come from the arenas; an arena gives
  // memory back once 8 MB at its top are free, so a burst does not stay resident forever.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

bool NeedsUnpacking(std::string_view head) {
  return LooksLikeTnef(head) || LooksLikeArchive(head);
}

ContentReader::ContentReader(ContentLimits limits)
    : limits_(limits),
      parser_(std::make_unique<mime::MimeParser>(limits.mime,
                                                 KeepAttachments(limits.keep_text_bodies))) {}

ContentReader::~ContentReader() = default;

void ContentReader::AddHeader(std::string_view name, std::string_view value) {
  parser_->AddHeader(name, value);
}

void ContentReader::AddBody(std::string_view chunk) { parser_->AddBody(chunk); }

MessageContent ContentReader::Finish() {
  MessageContent out;
  Unpack(parser_->Finish(), limits_, 0, &out);
  return out;
}

}  // namespace mailwarden

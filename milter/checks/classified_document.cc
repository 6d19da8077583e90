#include "milter/checks/classified_document.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/ascii.h"
#include "milter/checks/classified_marking.h"
#include "milter/checks/file_name.h"
#include "milter/mime/header_words.h"
#include "milter/mime/vietnamese_text.h"
#include "milter/text/part_text.h"

namespace mailwarden {
namespace {

using mime::LegacyEncoding;

// Markings reported per message: enough for the SOC to see where, bounded for the log.
constexpr size_t kMaxReportedMarkings = 16;

std::string_view KindName(Marking::Kind kind) {
  switch (kind) {
    case Marking::kStandaloneLine:
      return "standalone_line";
    case Marking::kSubjectTag:
      return "subject_tag";
    case Marking::kField:
      return "field";
  }
  return "standalone_line";
}

// The degree in ASCII, for SMTP replies and hold reasons (which must be ASCII).
std::string_view AsciiDegree(ClassificationDegree degree) {
  switch (degree) {
    case ClassificationDegree::kMat:
      return "MAT";
    case ClassificationDegree::kToiMat:
      return "TOI MAT";
    case ClassificationDegree::kTuyetMat:
      return "TUYET MAT";
  }
  return "MAT";
}

std::vector<std::pair<uint32_t, std::string_view>> LegacyNames(uint32_t mask) {
  std::vector<std::pair<uint32_t, std::string_view>> out;
  for (auto [bit, name] : {std::pair<uint32_t, std::string_view>{text::kLegacyTcvn3, "tcvn3"},
                           {text::kLegacyVni, "vni"},
                           {text::kLegacyViscii, "viscii"},
                           {text::kLegacyWindows1258, "windows-1258"}}) {
    if (mask & bit) out.emplace_back(bit, name);
  }
  return out;
}

// What the check saw in one message.
struct Scan {
  nlohmann::json markings = nlohmann::json::array();
  size_t marking_count = 0;
  std::string first_where;  // for the reply: "the subject", "attachment \"x.pdf\" (part 1/2)"
  ClassificationDegree first_degree = ClassificationDegree::kMat;
  nlohmann::json incomplete = nlohmann::json::array();
  nlohmann::json legacy_parts = nlohmann::json::array();
  uint32_t legacy = 0;
  uint64_t text_used = 0;
};

// Matches `text` (NFC, or a legacy encoding recognised by its content) and records what
// it finds under `where`.
// `declared`: the characters are known to be right (ExtractedText::encoding_declared), so
// no legacy encoding is guessed: a short Unicode text of Latin-1 letters ("Báo cáo") can
// look like one.
void Match(std::string_view text, bool subject, bool declared, const nlohmann::json& where,
           const std::string& reply_where, Scan* scan, uint32_t legacy_from_extractor) {
  LegacyEncoding detected = declared ? LegacyEncoding::kNone : mime::DetectLegacyVietnamese(text);
  std::vector<Marking> found;
  if (detected == LegacyEncoding::kNone) {
    found = FindMarkings(text, subject, kMaxReportedMarkings);
  } else {
    found = FindMarkings(mime::LegacyToUnicode(text, detected), subject, kMaxReportedMarkings);
  }
  uint32_t legacy = legacy_from_extractor | text::LegacyBit(detected);
  for (auto [bit, name] : LegacyNames(legacy)) {
    nlohmann::json p = where;
    p["encoding"] = name;
    scan->legacy_parts.push_back(std::move(p));
  }
  scan->legacy |= legacy;
  for (const Marking& m : found) {
    if (scan->marking_count == 0) {
      scan->first_where = reply_where;
      scan->first_degree = m.degree;
    }
    ++scan->marking_count;
    if (scan->markings.size() >= kMaxReportedMarkings) continue;
    nlohmann::json j = where;
    j["degree"] = ClassificationDegreeName(m.degree);
    j["kind"] = KindName(m.kind);
    j["line"] = m.line;
    // The encoding the text was converted from: recognised here, or declared by the
    // document's fonts (the extractor converted it). A part mixing encodings names the
    // first; the legacy_encoding finding lists them all.
    if (detected != LegacyEncoding::kNone) {
      j["encoding"] = mime::LegacyEncodingName(detected);
    } else if (auto names =
                   LegacyNames(legacy_from_extractor & ~uint32_t{text::kLegacyWindows1258});
               !names.empty()) {
      j["encoding"] = names.front().second;
    }
    scan->markings.push_back(std::move(j));
  }
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return AsciiLower(haystack).find(needle) != std::string::npos;
}

void Incomplete(const nlohmann::json& where, std::string_view limit, std::string problem,
                Scan* scan) {
  nlohmann::json j = where;
  j["limit"] = limit;
  if (!problem.empty()) j["problem"] = std::move(problem);
  scan->incomplete.push_back(std::move(j));
}

// Extracts the text of `in` within what is left of the message's budget and matches it.
void ReadText(const ClassifiedDocumentCheck::Options& options, const text::TextInput& in,
              const nlohmann::json& where, const std::string& reply_where, Scan* scan) {
  uint64_t left = options.max_text > scan->text_used ? options.max_text - scan->text_used : 0;
  if (left == 0) {
    Incomplete(where, "max_text", "", scan);
    return;
  }
  text::TextKind kind = text::TextKindOf(in);
  text::TextLimits limits = options.limits;
  limits.max_text_bytes = std::min<uint64_t>(left, kMaxMarkingScanBytes);
  text::ExtractedText t = text::ExtractPartText(in, kind, limits);
  scan->text_used += t.text.size();
  if (t.truncated) Incomplete(where, t.limit, "", scan);
  if (t.damaged) Incomplete(where, "unreadable", t.problem, scan);
  nlohmann::json kind_where = where;
  kind_where["text"] = text::TextKindName(kind);
  Match(t.text, false, t.encoding_declared, kind_where, reply_where, scan, t.legacy);
}

}  // namespace

Result<std::unique_ptr<Check>> ClassifiedDocumentCheck::Create(const RuleSpec& rule) {
  Options o;
  o.max_text = static_cast<uint64_t>(rule.param("max_text").number);
  o.limits.max_document_xml_bytes = static_cast<uint64_t>(rule.param("max_document_xml").number);
  o.limits.pdf_max_pages = static_cast<int>(rule.param("pdf_max_pages").number);
  o.limits.pdf_max_time_ms = rule.param("pdf_max_time").number * 1000;
  o.on_incomplete = rule.param("on_incomplete").action;
  o.report_legacy_encoding = rule.param("report_legacy_encoding").flag;
  // max_archived_documents is read by the engine (the archive walk keeps the documents).
  return std::unique_ptr<Check>(std::make_unique<ClassifiedDocumentCheck>(rule, o));
}

Status ClassifiedDocumentCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  Scan scan;
  if (const HeaderField* subject = message.FindHeader("Subject")) {
    std::string decoded = mime::DecodeEncodedWords(subject->value);
    std::string nfc = mime::NfcNormalize(decoded);
    // Raw 8-bit text in a header is UTF-8 (RFC 6532); only encoded words in a Western
    // single-byte charset can carry legacy Vietnamese unawares.
    bool cp1258 = ContainsIgnoreCase(subject->value, "=?windows-1258?");
    bool declared = true;
    for (std::string_view western :
         {"=?iso-8859-1?", "=?windows-1252?", "=?iso-8859-15?", "=?us-ascii?"}) {
      if (ContainsIgnoreCase(subject->value, western)) declared = false;
    }
    Match(nfc, true, declared, {{"where", "subject"}}, "the subject", &scan,
          cp1258 ? uint32_t{text::kLegacyWindows1258} : 0u);
  }
  for (const ContentPart& cp : message.content().parts) {
    const mime::MimePart& p = cp.part;
    bool document = cp.archive.has_value() && cp.archive->document;
    nlohmann::json where = {{"part", p.path}, {"where", p.is_main_body ? "body" : "attachment"}};
    if (!p.file_name.empty()) where["name"] = p.file_name;
    std::string reply_where = p.is_main_body ? "the message body"
                                             : "attachment \"" +
                                                   ReplySafeName(NormaliseFileName(p.file_name)) +
                                                   "\" (part " + p.path + ")";
    text::TextInput in = text::InputOf(p, document);
    if (text::TextKindOf(in) != text::TextKind::kNone) {
      if (!p.kept) {
        // Not kept: the message's kept-bytes budget (mime.max_kept_total_bytes) ran out.
        Incomplete(where, "mime.max_kept_total_bytes", "", &scan);
      } else {
        if (p.truncated) Incomplete(where, "mime.max_kept_part_bytes", "", &scan);
        ReadText(options_, in, where, reply_where, &scan);
      }
    }
    // Documents packed in an archive: kept by the archive walk (archive.max_kept_documents,
    // from this rule's max_archived_documents).
    if (!cp.archive.has_value() || document) continue;
    for (const ArchiveMember& m : cp.archive->members) {
      if (m.content.empty() && !m.content_skipped) continue;
      nlohmann::json member_where = {
          {"part", p.path + ":" + m.path}, {"where", "archive"}, {"name", m.name}};
      if (m.content_skipped) {
        Incomplete(member_where, "max_archived_documents", "", &scan);
        continue;
      }
      if (m.content_cut) Incomplete(member_where, "archive.max_member_bytes_read", "", &scan);
      text::TextInput member;
      member.content = m.content;
      member.file_name = m.name;
      member.true_type = m.true_type;
      member.office_document = m.archive_format == "ooxml" || m.archive_format == "odf";
      if (text::TextKindOf(member) == text::TextKind::kNone) continue;
      ReadText(options_, member, member_where,
               "\"" + ReplySafeName(NormaliseFileName(m.name)) + "\" in archive \"" +
                   ReplySafeName(NormaliseFileName(p.file_name)) + "\" (part " + p.path + ")",
               &scan);
    }
  }

  if (scan.marking_count > 0) {
    Finding f = MakeFinding(
        "classified_document", 550, "5.7.1",
        "classified marking " + std::string(AsciiDegree(scan.first_degree)) + " found in " +
            scan.first_where + ": classified documents must not be sent by e-mail",
        {{"markings", std::move(scan.markings)}, {"count", scan.marking_count}});
    f.alert = true;
    out->push_back(std::move(f));
  }
  if (!scan.incomplete.empty()) {
    Finding f = MakeFinding("classified_incomplete", 550, "5.7.1",
                            "the text of the message could not be fully examined for "
                            "classification markings",
                            {{"parts", std::move(scan.incomplete)}});
    f.action = options_.on_incomplete;
    out->push_back(std::move(f));
  }
  if (options_.report_legacy_encoding && scan.legacy != 0) {
    nlohmann::json encodings = nlohmann::json::array();
    for (auto [bit, name] : LegacyNames(scan.legacy)) encodings.push_back(name);
    Finding f =
        MakeFinding("legacy_encoding", 250, "", "Vietnamese text in a legacy encoding, not Unicode",
                    {{"encodings", std::move(encodings)}, {"parts", std::move(scan.legacy_parts)}});
    f.action = Action::kAccept;
    out->push_back(std::move(f));
  }
  return Status::Ok();
}

}  // namespace mailwarden

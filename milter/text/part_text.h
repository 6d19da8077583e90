// The text of one MIME part or archive member, whatever form it takes: picks the extractor by
// content first (a PDF, an RTF, an OOXML/ODF document the archive walk recognised), then by the
// declared type, and decodes plain text and HTML from their charset.
//
// Plain text and HTML are charset-decoded to UTF-8 (mime::ToUtf8: an undeclared charset
// is read as UTF-8) and put in NFC; a part declared windows-1258 with non-ASCII text sets
// kLegacyWindows1258. Text is returned as stored otherwise: a TCVN3 or VNI letter typed
// in a mislabelled plain-text part is for the caller to recognise
// (mime::DetectLegacyVietnamese). Pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_TEXT_PART_TEXT_H_
#define MAILWARDEN_MILTER_TEXT_PART_TEXT_H_

#include <string_view>

#include "milter/mime/parser.h"
#include "milter/text/extracted_text.h"

namespace mailwarden::text {

enum class TextKind { kNone, kPlain, kHtml, kRtf, kPdf, kOffice };

// "plain", "html", "rtf", "pdf", "office", "none".
std::string_view TextKindName(TextKind kind);

// What the extractors are told of a MIME part or an archive member. Views: the owner must
// outlive the calls.
struct TextInput {
  std::string_view content;
  std::string_view content_type;   // declared, lower case, no parameters; "" when none
  std::string_view charset;        // declared, lower case; "" when none
  std::string_view file_name;      // for the extension of a damaged document
  std::string_view detected_type;  // libmagic's MIME type; "" when not known
  TrueType true_type = TrueType::kUnknown;
  // The archive walk recognised it as an OOXML/ODF document.
  bool office_document = false;
};

// `part` (its kept content) as an input.
TextInput InputOf(const mime::MimePart& part, bool office_document);

// What kind of text `in` holds, judged on its content and declared type. kNone for what
// has no text to read (images, archives, executables, ...).
TextKind TextKindOf(const TextInput& in);

// The text of `in`, read as `kind`.
ExtractedText ExtractPartText(const TextInput& in, TextKind kind, const TextLimits& limits);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_PART_TEXT_H_

// The text of one MIME part, whatever form it takes: picks the extractor by content first
// (a PDF, an RTF, an OOXML/ODF document the archive walk recognised), then by the declared
// type, and decodes plain text and HTML from their charset.
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

// What kind of text `part` holds, judged on its kept content and declared type.
// `office_document`: the archive walk listed the part as an OOXML/ODF document.
// kNone for parts with no text to read (images, archives, executables, ...).
TextKind TextKindOf(const mime::MimePart& part, bool office_document);

// The text of `part` (its kept content), read as `kind`.
ExtractedText ExtractPartText(const mime::MimePart& part, TextKind kind, const TextLimits& limits);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_PART_TEXT_H_

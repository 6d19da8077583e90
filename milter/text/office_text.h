// The text of OOXML (docx, xlsx, pptx and their macro-enabled forms) and ODF (odt, ods, odp)
// documents: zip archives of XML, read with libarchive from memory and a streaming XML
// scanner (xml_scan.h), without temporary files.
//
// What is read, in this order:
//   DOCX: word/document.xml, then headers, footers, footnotes, endnotes and comments
//     (word/header*.xml, ...); word/styles.xml first, for the fonts of styles.
//   XLSX: every worksheet (xl/worksheets/sheet*.xml, in number order), each cell on its
//     own line; shared strings (xl/sharedStrings.xml) are resolved per cell; fonts from
//     xl/styles.xml (the cell's style) and from rich-text runs.
//   PPTX: slides (ppt/slides/slide*.xml, in number order), then notes.
//   ODF: content.xml, then styles.xml (headers and footers of master pages); fonts from
//     the font-face declarations and the automatic and common styles.
// One line per paragraph, heading, table cell (a DOCX/ODF cell holds paragraphs; an XLSX
// cell is one line), text-box paragraph and slide paragraph. A text box inside a paragraph
// is put on lines of its own, and the paragraph around it stays whole. Deleted revisions,
// field instructions and the fallback copies Word writes for text boxes
// (mc:Fallback) are not text.
//
// Legacy fonts: a run whose font is a TCVN3 font (a name starting with ".Vn"; the "H"
// upper-case fonts, IsTcvn3UppercaseFont, as upper case) or a VNI font (a name starting
// with "VNI-") is converted to Unicode, and the encoding is recorded in ExtractedText::
// legacy. Consecutive runs in the same font are converted together, so letter case is
// judged over the whole word (mime::TcvnCase::kHarmonize). Fonts chosen through a theme
// (w:asciiTheme) are not resolved: themes name modern fonts.
//
// Distrusted: the zip (damaged, truncated, encrypted, bombs) and the XML (malformed,
// deeply nested, entity tricks: entities are never expanded and no DTD or external
// resource is read). Limits: TextLimits::max_document_xml_bytes of XML decompressed over
// all members (a member beyond it is not read: truncated, "max_document_xml"), and
// max_text_bytes of text ("max_text"); at most kMaxOfficeMembers zip entries are looked at.
// Failure: what was read is returned, with damaged and a problem naming the member.
//
// Thread-safety: a pure function, safe to call concurrently.
#ifndef MAILWARDEN_MILTER_TEXT_OFFICE_TEXT_H_
#define MAILWARDEN_MILTER_TEXT_OFFICE_TEXT_H_

#include <cstddef>
#include <string_view>

#include "milter/text/extracted_text.h"

namespace mailwarden::text {

inline constexpr size_t kMaxOfficeMembers = 20000;

// The text of the OOXML or ODF document in `zip_bytes`. A zip that is neither is returned
// empty with damaged set ("not an OOXML or ODF document").
ExtractedText ExtractOfficeText(std::string_view zip_bytes, const TextLimits& limits);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_OFFICE_TEXT_H_

// The text of an RTF document (Rich Text Format 1.x as Word, WordPad, LibreOffice and
// Outlook write it), for the checks that read what a document says.
//
// An own reader, no library: one pass over the bytes, linear in the input, with bounded
// group depth. What it returns (see extracted_text.h for the result's common contract):
//   - one line per paragraph, table cell, text box paragraph, header and footer paragraph
//     and footnote paragraph; a text box or footnote anchored inside a paragraph is put
//     on lines of its own, before that paragraph, which stays whole; empty paragraphs
//     give no line; lines are trimmed of spaces and tabs at both ends, and end with '\n';
//   - the text of headers and footers (a stamp is often printed there), text boxes
//     (\shp ... \shptxt), field results (\fldrslt: hyperlink text, dates), footnotes,
//     embedded objects' \result, hidden text (\v: a stamp hidden from view is still in the
//     file) and list numbers (\listtext);
//   - not: text deleted with tracked changes (\deleted), the font, colour, style, list and
//     revision tables, document properties (\info), pictures, object data, field
//     instructions, shape properties, comments (annotations), index and TOC entries, and
//     every other "\*" destination this reader does not know;
//   - characters decoded per the code page of the run's font (\fcharsetN, \cpgN), else of
//     the document (\ansicpgN); \uN escapes as the Unicode they are; runs in legacy
//     Vietnamese fonts converted to Unicode (".VnTimeH" TCVN3 upper case, ".VnTime" TCVN3,
//     "VNI-Times" VNI, a name containing "VISCII" VISCII) with their bit set in `legacy`;
//     kLegacyWindows1258 when code page 1258 text with non-ASCII bytes was decoded;
//   - Unicode NFC (windows-1258 writes tone marks as combining characters: NFC composes).
// A document that ends inside a group, nests groups deeper than kMaxRtfGroupDepth, or holds
// data after its final brace is `damaged`; the text read so far is kept. Output beyond
// limits.max_text_bytes is cut ("max_text"). Pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_TEXT_RTF_TEXT_H_
#define MAILWARDEN_MILTER_TEXT_RTF_TEXT_H_

#include <string_view>

#include "milter/text/extracted_text.h"

namespace mailwarden::text {

// Groups nested deeper than this are taken as a damaged (or hostile) document.
inline constexpr int kMaxRtfGroupDepth = 256;

// True when `head` (the first bytes of a part) starts an RTF document: "{\rtf", after an
// optional UTF-8 byte order mark and ASCII whitespace.
bool LooksLikeRtf(std::string_view head);

// The text of the RTF document `bytes` (see the file comment). Input that is not RTF
// (LooksLikeRtf false) gives empty text with damaged set.
ExtractedText ExtractRtfText(std::string_view bytes, const TextLimits& limits);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_RTF_TEXT_H_

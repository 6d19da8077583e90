// What a document says: the text extractors' common result and limits.
//
// Each extractor (office_text.h for OOXML and ODF, pdf_text.h, rtf_text.h, html_text.h)
// turns one part's bytes into UTF-8 text in Unicode NFC, with one line per paragraph,
// heading, table cell, text box, slide paragraph or spreadsheet cell, so that a stamp
// standing alone in a cell or a box is alone on its line (classified_marking.h relies on
// this). Text a document declares to be in a legacy Vietnamese font (a run in ".VnTimeH"
// or "VNI-Times") is converted to Unicode by the extractor, which records the encoding in
// `legacy`; text with no such declaration is returned as the file stores it, and callers
// that need to may still recognise a legacy encoding by its content
// (mime::DetectLegacyVietnamese).
//
// Extractors never fail on damaged input: they return what they could read with `damaged`
// set, and never read or keep more than TextLimits allow (`truncated` and `limit` say which
// limit stopped them). Plain values; the extractors are pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_TEXT_EXTRACTED_TEXT_H_
#define MAILWARDEN_MILTER_TEXT_EXTRACTED_TEXT_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "milter/mime/vietnamese_text.h"

namespace mailwarden::text {

struct TextLimits {
  // UTF-8 text returned for one part; the rest is not extracted ("max_text").
  uint64_t max_text_bytes = 8ull << 20;
  // Uncompressed XML read from one OOXML/ODF document, all members together
  // ("max_document_xml").
  uint64_t max_document_xml_bytes = 64ull << 20;
  // PDF pages whose text is extracted ("pdf_max_pages").
  int pdf_max_pages = 300;
  // Time spent extracting one PDF's text, checked between pages ("pdf_max_time").
  int64_t pdf_max_time_ms = 10000;
};

// Legacy encodings met, as bits.
enum LegacyMask : uint32_t {
  kLegacyTcvn3 = 1u << 0,
  kLegacyVni = 1u << 1,
  kLegacyViscii = 1u << 2,
  kLegacyWindows1258 = 1u << 3,
};

// The LegacyMask bit of `encoding` (0 for kNone).
inline uint32_t LegacyBit(mime::LegacyEncoding encoding) {
  switch (encoding) {
    case mime::LegacyEncoding::kTcvn3:
      return kLegacyTcvn3;
    case mime::LegacyEncoding::kVni:
      return kLegacyVni;
    case mime::LegacyEncoding::kViscii:
      return kLegacyViscii;
    case mime::LegacyEncoding::kNone:
      break;
  }
  return 0;
}

struct ExtractedText {
  std::string text;  // UTF-8, NFC; lines end with '\n'
  // Legacy Vietnamese encodings the extractor converted from (LegacyMask bits): a run in a
  // TCVN3 or VNI font, an RTF in code page 1258, ...
  uint32_t legacy = 0;
  // A limit stopped the extraction: `limit` names it ("max_text", "max_document_xml",
  // "pdf_max_pages", "pdf_max_time").
  bool truncated = false;
  std::string limit;
  // The document could not be read to its end (broken zip, malformed XML, a PDF poppler
  // cannot open, an encrypted PDF that needs a password): `problem` says why, in a few
  // words fit for a log (never document text).
  bool damaged = false;
  std::string problem;
  // The characters are what the source declared them to be (a Unicode or Vietnamese
  // charset, or the fonts of a document that names them), so no legacy encoding needs to
  // be guessed from the text. False for text read through a Western single-byte charset
  // (how legacy Vietnamese arrives mislabelled) and for PDF text. Set by ExtractPartText.
  bool encoding_declared = false;
};

// Appends `line` and a line break to `text` unless that would pass `max` bytes; then as
// much of the line as fits (cut at a character boundary, with its line break) and false:
// how the line-by-line extractors stop at max_text.
inline bool AppendLineWithin(std::string_view line, uint64_t max, std::string* text) {
  if (text->size() + line.size() + 1 <= max) {
    text->append(line);
    text->push_back('\n');
    return true;
  }
  size_t room = max - std::min<uint64_t>(max, text->size());
  if (room > 1) {
    text->append(line.substr(0, mime::Utf8Prefix(line, room - 1)));
    text->push_back('\n');
  }
  return false;
}

// Sets out->text to `text` in NFC, cut to limits.max_text_bytes at a character boundary
// (then truncated, "max_text"): how every extractor finishes.
inline void SetNfcText(std::string_view text, const TextLimits& limits, ExtractedText* out) {
  out->text = mime::NfcNormalize(text);
  if (out->text.size() > limits.max_text_bytes) {
    out->text.resize(mime::Utf8Prefix(out->text, limits.max_text_bytes));
    out->truncated = true;
    out->limit = "max_text";
  }
}

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_EXTRACTED_TEXT_H_

#include "milter/text/part_text.h"

#include <algorithm>

#include "common/ascii.h"
#include "milter/mime/header_words.h"
#include "milter/mime/signature_scan.h"
#include "milter/mime/vietnamese_text.h"
#include "milter/text/html_text.h"
#include "milter/text/office_text.h"
#include "milter/text/pdf_text.h"
#include "milter/text/rtf_text.h"

namespace mailwarden::text {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsWindows1258(std::string_view charset) {
  return charset == "windows-1258" || charset == "cp1258" || charset == "x-cp1258";
}

// Charsets legacy Vietnamese text is mislabelled with: its bytes arrive read as these.
bool IsWesternSingleByte(std::string_view charset) {
  return charset.empty() || charset == "us-ascii" || charset == "ascii" ||
         charset == "iso-8859-1" || charset == "latin1" || charset == "iso-8859-15" ||
         charset == "windows-1252" || charset == "cp1252";
}

// The final extension of `name`, lower case; "" when it has none.
std::string Extension(std::string_view name) {
  size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? "" : AsciiLower(name.substr(dot + 1));
}

// Office documents named by type or extension, for a damaged one the archive walk could
// not recognise: it is still read (and reported unreadable) rather than skipped.
bool DeclaredOffice(const TextInput& part) {
  std::string_view type = part.content_type;
  if (StartsWith(type, "application/vnd.openxmlformats-officedocument.") ||
      StartsWith(type, "application/vnd.oasis.opendocument.") ||
      StartsWith(type, "application/vnd.ms-word.document.macroenabled") ||
      StartsWith(type, "application/vnd.ms-excel.sheet.macroenabled") ||
      StartsWith(type, "application/vnd.ms-powerpoint.presentation.macroenabled")) {
    return true;
  }
  std::string ext = Extension(part.file_name);
  for (const char* e :
       {"docx", "docm", "dotx", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods", "odp", "ott"}) {
    if (ext == e) return true;
  }
  return false;
}

// Charsets whose bytes below 0x80 are ASCII.
bool ExtendsAscii(std::string_view charset) {
  return charset.empty() || IsWesternSingleByte(charset) || IsWindows1258(charset) ||
         charset == "utf-8" || charset == "utf8" || StartsWith(charset, "iso-8859-") ||
         StartsWith(charset, "windows-125") || StartsWith(charset, "koi8-");
}

bool HasNonAscii(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

std::string_view TextKindName(TextKind kind) {
  switch (kind) {
    case TextKind::kPlain:
      return "plain";
    case TextKind::kHtml:
      return "html";
    case TextKind::kRtf:
      return "rtf";
    case TextKind::kPdf:
      return "pdf";
    case TextKind::kOffice:
      return "office";
    case TextKind::kNone:
      break;
  }
  return "none";
}

TextInput InputOf(const mime::MimePart& part, bool office_document) {
  TextInput in;
  in.content = part.content;
  in.content_type = part.content_type;
  in.charset = part.charset;
  in.file_name = part.file_name;
  in.detected_type = part.detected_type;
  in.true_type = part.true_type;
  in.office_document = office_document;
  return in;
}

TextKind TextKindOf(const TextInput& part) {
  if (part.office_document) return TextKind::kOffice;
  std::string_view head(part.content.data(), std::min<size_t>(part.content.size(), 1024));
  if (LooksLikePdf(head)) return TextKind::kPdf;
  if (LooksLikeRtf(head)) return TextKind::kRtf;
  std::string_view type = part.content_type;
  if (DeclaredOffice(part)) return TextKind::kOffice;
  if (type == "application/pdf") return TextKind::kPdf;
  if (type == "text/rtf" || type == "application/rtf" || type == "text/richtext") {
    return TextKind::kRtf;
  }
  if (type == "text/html" || type == "application/xhtml+xml") return TextKind::kHtml;
  // Other text types (plain, csv, enriched...) are read as they are; so is an attachment
  // declared as bytes that libmagic recognises as text.
  if (StartsWith(type, "text/")) return TextKind::kPlain;
  // No useful declared type (an archive member, bytes sent as octet-stream): the name says.
  if (type.empty() || type == "application/octet-stream") {
    std::string ext = Extension(part.file_name);
    if (ext == "pdf") return TextKind::kPdf;
    if (ext == "rtf") return TextKind::kRtf;
    if (ext == "htm" || ext == "html") return TextKind::kHtml;
    if (ext == "txt" || ext == "csv") return TextKind::kPlain;
  }
  if (part.true_type == TrueType::kUnknown && StartsWith(part.detected_type, "text/")) {
    if (part.detected_type == "text/html") return TextKind::kHtml;
    if (part.detected_type == "text/rtf") return TextKind::kRtf;
    return TextKind::kPlain;
  }
  return TextKind::kNone;
}

ExtractedText ExtractPartText(const TextInput& part, TextKind kind, const TextLimits& limits) {
  ExtractedText out;
  switch (kind) {
    case TextKind::kNone:
      return out;
    case TextKind::kOffice:
      out = ExtractOfficeText(part.content, limits);
      out.encoding_declared = true;  // by the fonts of its runs
      return out;
    case TextKind::kPdf:
      return ExtractPdfText(part.content, limits);
    case TextKind::kRtf:
      out = ExtractRtfText(part.content, limits);
      out.encoding_declared = true;  // by its code pages and fonts
      return out;
    case TextKind::kPlain:
    case TextKind::kHtml:
      break;
  }
  std::string charset(part.charset);
  if (charset.empty() && kind == TextKind::kHtml) {
    charset = HtmlDeclaredCharset(std::string_view(part.content).substr(0, 4096));
  }
  // Decoding cannot shrink text by more than a few bytes per byte; read no more than the
  // limit can use.
  std::string_view bytes(part.content);
  if (kind == TextKind::kPlain && bytes.size() > limits.max_text_bytes) {
    bytes = bytes.substr(0, limits.max_text_bytes);
    out.truncated = true;
    out.limit = "max_text";
  }
  if (IsWindows1258(charset) && HasNonAscii(bytes)) out.legacy |= kLegacyWindows1258;
  // Undeclared 8-bit text that is not UTF-8 is a Western or legacy single-byte text:
  // read as UTF-8 its bytes would be lost to U+FFFD.
  if ((charset.empty() || charset == "us-ascii") && HasNonAscii(bytes) &&
      !mime::IsValidUtf8(bytes)) {
    charset = "windows-1252";
  }
  out.encoding_declared = !IsWesternSingleByte(charset);
  // ASCII text in a charset that extends ASCII needs no conversion (most mail); charsets
  // that give 7-bit bytes other meanings (ISO-2022, UTF-7, UTF-16) still go through ICU.
  std::string utf8 = !HasNonAscii(bytes) && ExtendsAscii(charset) ? std::string(bytes)
                                                                  : mime::ToUtf8(bytes, charset);
  if (kind == TextKind::kHtml) {
    ExtractedText html = HtmlToText(utf8, limits);
    html.legacy |= out.legacy;
    html.encoding_declared = out.encoding_declared;
    return html;
  }
  SetNfcText(utf8, limits, &out);
  return out;
}

}  // namespace mailwarden::text

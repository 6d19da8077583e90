// PDF text with poppler-cpp.
//
// Distrusted: every byte of the PDF — its structure (poppler parses it and repairs what it
// can; we only see whether it opened, whether it is locked, its pages and their text),
// the text poppler derives from it (any code points, any length, form feeds and CRs), its
// font names.
//
// Limits: TextLimits (pages read, time checked between pages, text kept).
//
// Failure: nothing here throws across the boundary (poppler-cpp reports by null pointers
// and flags; a std::exception from the standard library is caught and makes the result
// damaged). Poppler's diagnostics go to a no-op error function.
#include "milter/text/pdf_text.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/ascii.h"
#include "milter/mime/vietnamese_text.h"

namespace mailwarden::text {
namespace {

using mime::LegacyEncoding;

constexpr size_t kEofWindow = 1024;
constexpr size_t kWordGap = 4096;  // bytes between consecutive words of a page's text

// --- Legacy fonts -------------------------------------------------------------------------

using mime::LegacyFont;
using mime::LegacyFontNamed;

// Latin-1 characters Vietnamese text never uses: the signs U+00A1-U+00BF and the letters
// other than À Á Â Ã È É Ê Ì Í Ò Ó Ô Õ Ù Ú Ý (either case). TCVN3 and VNI readings are
// full of them ("MËT", "§é", "MAÄT", "Ñoä"); Unicode Vietnamese has none.
bool IsLegacyHint(char32_t c) {
  if (c >= 0xA1 && c <= 0xBF) return true;
  if (c < 0xC0 || c > 0xFF) return false;
  char32_t upper = (c >= 0xE0 && c != 0xF7) ? c - 0x20 : c;
  switch (upper) {
    case 0xC0:
    case 0xC1:
    case 0xC2:
    case 0xC3:
    case 0xC8:
    case 0xC9:
    case 0xCA:
    case 0xCC:
    case 0xCD:
    case 0xD2:
    case 0xD3:
    case 0xD4:
    case 0xD5:
    case 0xD9:
    case 0xDA:
    case 0xDD:
      return false;
    default:
      return true;
  }
}

bool HasLegacyHint(std::string_view utf8) {
  // Only two-byte sequences C2 A1..C3 BF can be such characters.
  for (size_t i = 0; i + 1 < utf8.size(); ++i) {
    auto b = static_cast<unsigned char>(utf8[i]);
    if (b != 0xC2 && b != 0xC3) continue;
    char32_t c = ((b & 0x1F) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3F);
    if (IsLegacyHint(c)) return true;
  }
  return false;
}

// PDF white space and delimiters (ISO 32000-1, 7.2.2); other bytes are "regular" and make
// up names.
bool IsPdfWhite(unsigned char c) {
  return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}
bool IsRegular(unsigned char c) {
  return !IsPdfWhite(c) &&
         std::string_view("()<>[]{}/%").find(static_cast<char>(c)) == std::string_view::npos;
}

// Whether the document may use a legacy font: a /BaseFont name that is one (as
// LegacyFontNamed reads it), or object streams, whose compressed content may hide font
// dictionaries. Without either, no page needs text_list(): it costs twice a page's text,
// and asks fontconfig for every non-embedded font.
bool MayUseLegacyFont(std::string_view bytes) {
  if (bytes.find("/ObjStm") != std::string_view::npos) return true;
  constexpr std::string_view kKey = "/BaseFont";
  for (size_t at = bytes.find(kKey); at != std::string_view::npos; at = bytes.find(kKey, at + 1)) {
    size_t p = at + kKey.size();
    while (p < bytes.size() && IsPdfWhite(static_cast<unsigned char>(bytes[p]))) ++p;
    if (p >= bytes.size() || bytes[p] != '/') continue;
    size_t end = ++p;
    while (end < bytes.size() && end - p < 128 && IsRegular(static_cast<unsigned char>(bytes[end])))
      ++end;
    if (LegacyFontNamed(bytes.substr(p, end - p)).encoding != LegacyEncoding::kNone) return true;
  }
  return false;
}

std::string ToString(const poppler::ustring& s) {
  poppler::byte_array utf8 = s.to_utf8();
  return std::string(utf8.begin(), utf8.end());
}

// Converts the words of `page` set in legacy fonts to Unicode (see the header). The words
// come from text_list() in the order text() wrote them; each is looked up in `text` after
// the previous one, so a word text() wrote differently (a joined hyphenation) is skipped,
// not misplaced. A word is looked for only within kWordGap bytes of the previous one, so
// words that do not match cost a bounded search each, never a scan of the rest of the page.
std::string ConvertLegacyWords(const poppler::page& page, const std::string& text,
                               uint32_t* legacy) {
  struct Span {
    size_t begin, end;
    LegacyFont font;
  };
  std::vector<Span> spans;
  size_t cursor = 0;
  for (const poppler::text_box& box : page.text_list(poppler::page::text_list_include_font)) {
    std::string word = ToString(box.text());
    if (word.empty()) continue;
    size_t at = std::string_view(text).substr(cursor, word.size() + kWordGap).find(word);
    if (at == std::string_view::npos) continue;
    at += cursor;
    cursor = at + word.size();
    LegacyFont font = LegacyFontNamed(box.get_font_name());
    if (font.encoding == LegacyEncoding::kNone) continue;
    // A word of the same font on the same line extends the span: case is judged on the run.
    if (!spans.empty() && spans.back().font == font &&
        text.find_first_not_of(' ', spans.back().end) >= at) {
      spans.back().end = cursor;
    } else {
      spans.push_back({at, cursor, font});
    }
  }
  if (spans.empty()) return text;
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  size_t copied = 0;
  for (const Span& s : spans) {
    out.append(text, copied, s.begin - copied);
    std::string_view run(text.data() + s.begin, s.end - s.begin);
    if (std::any_of(run.begin(), run.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
      *legacy |= LegacyBit(s.font.encoding);
    }
    out += mime::LegacyToUnicode(
        run, s.font.encoding,
        s.font.upper ? mime::TcvnCase::kUpperFont : mime::TcvnCase::kHarmonize);
    copied = s.end;
  }
  out.append(text, copied, std::string::npos);
  return out;
}

// --- Text ---------------------------------------------------------------------------------

// Page text as lines: CR LF and CR become LF, form feeds become line breaks, and the page
// ends with a line break.
std::string PageLines(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 1);
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r') {
      if (i + 1 < raw.size() && raw[i + 1] == '\n') continue;
      c = '\n';
    } else if (c == '\f') {
      c = '\n';
    }
    out += c;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty()) out += '\n';
  return out;
}

void QuietPopplerError(const std::string& /*message*/, void* /*closure*/) {}

std::mutex& PopplerMutex() {
  static std::mutex mu;
  return mu;
}

// A PDF ends with "%%EOF", at most a little junk after it, and no start of an update
// (an object, a cross-reference section, a trailer) after its last one.
bool LooksComplete(std::string_view bytes) {
  size_t eof = bytes.rfind("%%EOF");
  if (eof == std::string_view::npos) return false;
  std::string_view after = bytes.substr(eof + 5);
  if (after.size() > kEofWindow) return false;
  for (std::string_view start : {"obj", "xref", "trailer"}) {
    if (after.find(start) != std::string_view::npos) return false;
  }
  return true;
}

// Appends `page_text` within max_text_bytes; false (and truncated) when it did not fit.
bool AppendCapped(const std::string& page_text, uint64_t max, ExtractedText* out) {
  if (out->text.size() + page_text.size() <= max) {
    out->text += page_text;
    return true;
  }
  size_t room = max > out->text.size() ? static_cast<size_t>(max - out->text.size()) : 0;
  out->text.append(page_text, 0, mime::Utf8Prefix(page_text, room));
  out->truncated = true;
  out->limit = "max_text";
  return false;
}

void SetDamaged(ExtractedText* out, const char* problem) {
  if (out->damaged) return;  // the first problem met is the one reported
  out->damaged = true;
  out->problem = problem;
}

void ExtractLocked(std::string_view bytes, const TextLimits& limits, ExtractedText* out) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) {
    SetDamaged(out, "not a readable PDF");
    return;
  }
  if (doc->is_locked()) {
    SetDamaged(out, "encrypted: a password is needed");
    return;
  }
  if (!LooksComplete(bytes)) SetDamaged(out, "truncated");
  const bool legacy_fonts = MayUseLegacyFont(bytes);
  const int pages = doc->pages();
  const int max_pages = std::max(limits.pdf_max_pages, 0);
  for (int i = 0; i < pages; ++i) {
    if (i >= max_pages) {
      out->truncated = true;
      out->limit = "pdf_max_pages";
      return;
    }
    if (i > 0 && Clock::now() - start >= std::chrono::milliseconds(limits.pdf_max_time_ms)) {
      out->truncated = true;
      out->limit = "pdf_max_time";
      return;
    }
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) {
      SetDamaged(out, "unreadable page");
      continue;
    }
    std::string text =
        ToString(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout));
    if (legacy_fonts && HasLegacyHint(text)) text = ConvertLegacyWords(*page, text, &out->legacy);
    if (!AppendCapped(mime::NfcNormalize(PageLines(text)), limits.max_text_bytes, out)) return;
  }
}

}  // namespace

ExtractedText ExtractPdfText(std::string_view bytes, const TextLimits& limits) {
  ExtractedText out;
  if (bytes.empty() || bytes.size() > static_cast<size_t>(INT_MAX)) {
    SetDamaged(&out, "not a readable PDF");
    return out;
  }
  try {
    std::lock_guard<std::mutex> lock(PopplerMutex());
    static std::once_flag quiet;
    std::call_once(quiet, [] { poppler::set_debug_error_function(QuietPopplerError, nullptr); });
    ExtractLocked(bytes, limits, &out);
  } catch (const std::exception&) {
    // poppler-cpp does not throw; the standard library may (allocation).
    SetDamaged(&out, "text extraction failed");
  }
  return out;
}

}  // namespace mailwarden::text

// Sanitizer builds: when asked for a non-embedded font's system file (text_list with font
// names does so), poppler loads fontconfig's configuration, and fontconfig leaks a few
// hundred bytes of it once per process. That leak is not ours to fix; it must not fail
// every leak-checked program that reads a legacy-font PDF.
#if defined(__SANITIZE_ADDRESS__)
#define MW_PDF_TEXT_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MW_PDF_TEXT_LSAN 1
#endif
#endif
#ifdef MW_PDF_TEXT_LSAN
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
#endif

// Case folding and diacritics stripping for spam rule matching.
//
// Distrusts its input: any byte sequence is accepted; ill-formed UTF-8 is replaced by U+FFFD
// (one per maximal ill-formed subpart, as Unicode recommends) before ICU sees it. The exact
// work is ICU's, on UTF-8 directly (no UTF-16 copy); its length type is int32_t, so very long
// text is handed over in chunks cut before an ASCII byte, where neither normalisation nor
// folding can join characters across the cut. Mail text is mostly ASCII, Latin and
// Vietnamese: that is mapped character by character from a table ICU fills once (see
// MapByTable), three to five times faster; anything the table cannot answer exactly goes to
// ICU. Cannot fail: should ICU report an error, the affected text is kept with ASCII letters
// lower-cased.
#include "milter/spam/normalize.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace mailwarden::spam {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Text longer than this goes to ICU in pieces (int32_t lengths there).
constexpr size_t kChunkBytes = 16u << 20;

// Length of the well-formed UTF-8 sequence at the start of `s` (n > 0 bytes), or 0 when it
// is ill-formed; then *bad is the length of its maximal ill-formed subpart (>= 1).
size_t WellFormedLength(const unsigned char* s, size_t n, size_t* bad) {
  const unsigned char b0 = s[0];
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *bad = 1;
    return 0;
  }
  size_t i = 1;
  for (; i <= need; ++i) {
    if (i >= n) break;
    const unsigned char b = s[i];
    const unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (i > need) return need + 1;
  *bad = i;
  return 0;
}

// `in` when it is well-formed UTF-8; else a copy in *storage with U+FFFD for each
// ill-formed subpart.
std::string_view Sanitize(std::string_view in, std::string* storage) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  size_t bad = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = WellFormedLength(s + i, n - i, &bad);
    if (len == 0) break;
    i += len;
  }
  if (i == n) return in;
  storage->reserve(n + 16);
  storage->assign(in.data(), i);
  while (i < n) {
    size_t len = WellFormedLength(s + i, n - i, &bad);
    if (len == 0) {
      storage->append(kReplacement);
      i += bad;
    } else {
      storage->append(in.data() + i, len);
      i += len;
    }
  }
  return *storage;
}

bool IsAsciiText(std::string_view text) {
  unsigned char any = 0;
  for (char c : text) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

void AppendAsciiLower(std::string_view in, std::string* out) {
  const size_t start = out->size();
  out->resize(start + in.size());
  char* dst = out->data() + start;
  const char* src = in.data();
  // Branch-free so that the compiler vectorises it: most mail is ASCII.
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(src[i]);
    dst[i] = static_cast<char>(c + ((static_cast<unsigned char>(c - 'A') < 26) << 5));
  }
}

// Calls fn on consecutive pieces of `text` of at most about kChunkBytes, cut before an
// ASCII byte when there is one near the limit (else at a code point boundary).
template <typename Fn>
void ForEachChunk(std::string_view text, Fn fn) {
  while (text.size() > kChunkBytes) {
    size_t cut = kChunkBytes;
    size_t floor = kChunkBytes - 4096;
    while (cut > floor && static_cast<unsigned char>(text[cut]) >= 0x80) --cut;
    if (cut == floor) {  // no ASCII byte near: cut before a lead byte
      cut = kChunkBytes;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    }
    fn(text.substr(0, cut));
    text.remove_prefix(cut);
  }
  fn(text);
}

icu::StringPiece Piece(std::string_view s) {
  return icu::StringPiece(s.data(), static_cast<int32_t>(s.size()));
}

const icu::Normalizer2* Nfc() {
  static const icu::Normalizer2* nfc = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfc;
}

const icu::Normalizer2* Nfd() {
  static const icu::Normalizer2* nfd = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfd;
}

// `chunk` (well-formed UTF-8) normalised by `norm`: `chunk` itself when it already is (the
// usual case: the message view is NFC), else a copy in *storage. Unchanged when ICU fails.
std::string_view Normalized(const icu::Normalizer2* norm, std::string_view chunk,
                            std::string* storage) {
  if (norm == nullptr) return chunk;
  UErrorCode status = U_ZERO_ERROR;
  if (norm->isNormalizedUTF8(Piece(chunk), status) || U_FAILURE(status)) return chunk;
  storage->clear();
  icu::StringByteSink<std::string> sink(storage, static_cast<int32_t>(chunk.size()));
  norm->normalizeUTF8(0, Piece(chunk), sink, nullptr, status);
  if (U_FAILURE(status)) return chunk;
  return *storage;
}

void FoldChunk(std::string_view chunk, std::string* out) {
  std::string composed;
  std::string_view src = Normalized(Nfc(), chunk, &composed);
  const size_t start = out->size();
  UErrorCode status = U_ZERO_ERROR;
  icu::StringByteSink<std::string> sink(out, static_cast<int32_t>(src.size()));
  icu::CaseMap::utf8Fold(U_FOLD_CASE_DEFAULT, Piece(src), sink, nullptr, status);
  if (U_FAILURE(status)) {
    out->resize(start);
    AppendAsciiLower(src, out);
  }
}

// Appends `decomposed` (well-formed UTF-8, NFD) to *out without non-spacing marks, đ/Đ as
// d/D.
void AppendWithoutMarks(std::string_view decomposed, std::string* out) {
  const auto* s = reinterpret_cast<const uint8_t*>(decomposed.data());
  const size_t n = decomposed.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      size_t j = i + 1;
      while (j < n && s[j] < 0x80) ++j;
      out->append(decomposed.data() + i, j - i);
      i = j;
      continue;
    }
    const size_t start = i;
    UChar32 c;
    U8_NEXT_UNSAFE(s, i, c);
    if (c == 0x0111) {
      out->push_back('d');
    } else if (c == 0x0110) {
      out->push_back('D');
    } else if (u_charType(c) != U_NON_SPACING_MARK) {
      out->append(decomposed.data() + start, i - start);
    }
  }
}

// The ICU paths, exact for any text.
std::string SlowFoldCase(std::string_view utf8) {
  std::string clean;
  std::string_view text = Sanitize(utf8, &clean);
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  ForEachChunk(text, [&](std::string_view chunk) { FoldChunk(chunk, &out); });
  return out;
}

std::string SlowStripDiacritics(std::string_view utf8) {
  std::string clean;
  std::string_view text = Sanitize(utf8, &clean);
  std::string out;
  out.reserve(text.size());
  ForEachChunk(text, [&](std::string_view chunk) {
    std::string storage;
    std::string_view decomposed = Normalized(Nfd(), chunk, &storage);
    std::string bare;
    bare.reserve(decomposed.size());
    AppendWithoutMarks(decomposed, &bare);
    out.append(IsAsciiText(bare) ? std::string_view(bare) : Normalized(Nfc(), bare, &storage));
  });
  return out;
}

// The fast path: Latin, Vietnamese, Greek and Cyrillic text (and symbols, punctuation,
// emoji) is mapped character by character from a table that the ICU paths above fill once.
// That is exact when every character is NFC_QC=Yes (it cannot combine with the character
// before it, so normalising the whole text is normalising each character), and each table
// entry is checked for that when it is built; text with anything else (combining marks in
// FoldCase, Hangul jamo, Indic vowel signs, ill-formed UTF-8) takes the ICU path.
constexpr UChar32 kTableLow1 = 0x80, kTableHigh1 = 0x530;     // Latin to Cyrillic
constexpr UChar32 kTableLow2 = 0x1E00, kTableHigh2 = 0x2C00;  // Latin Extended Additional
                                                              // (Vietnamese) to symbols
constexpr uint8_t kNoEntry = 0xFF;

struct CharEntry {
  uint8_t fold_len = kNoEntry;  // kNoEntry: take the ICU path
  uint8_t strip_len = kNoEntry;
  char fold[11];
  char strip[11];
};

bool NfcYes(UChar32 c) { return u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) == UNORM_YES; }

bool AllNfcYes(std::string_view utf8) {
  const auto* s = reinterpret_cast<const uint8_t*>(utf8.data());
  size_t i = 0;
  while (i < utf8.size()) {
    UChar32 c;
    U8_NEXT_UNSAFE(s, i, c);
    if (!NfcYes(c)) return false;
  }
  return true;
}

const std::vector<CharEntry>& CharTable() {
  static const std::vector<CharEntry> table = [] {
    std::vector<CharEntry> t((kTableHigh1 - kTableLow1) + (kTableHigh2 - kTableLow2));
    size_t k = 0;
    for (auto [low, high] : {std::pair{kTableLow1, kTableHigh1}, {kTableLow2, kTableHigh2}}) {
      for (UChar32 c = low; c < high; ++c, ++k) {
        CharEntry& e = t[k];
        char buf[4];
        int32_t len = 0;
        U8_APPEND_UNSAFE(reinterpret_cast<uint8_t*>(buf), len, c);
        const std::string_view ch(buf, static_cast<size_t>(len));
        if (u_charType(c) == U_NON_SPACING_MARK) e.strip_len = 0;
        if (!NfcYes(c)) continue;
        const std::string fold = SlowFoldCase(ch);
        if (fold.size() <= sizeof(e.fold)) {
          e.fold_len = static_cast<uint8_t>(fold.size());
          fold.copy(e.fold, fold.size());
        }
        const std::string strip = SlowStripDiacritics(ch);
        if (strip.size() <= sizeof(e.strip) && AllNfcYes(strip)) {
          e.strip_len = static_cast<uint8_t>(strip.size());
          strip.copy(e.strip, strip.size());
        }
      }
    }
    return t;
  }();
  return table;
}

const CharEntry* Entry(const std::vector<CharEntry>& table, UChar32 c) {
  if (c >= kTableLow1 && c < kTableHigh1) return &table[c - kTableLow1];
  if (c >= kTableLow2 && c < kTableHigh2) {
    return &table[(kTableHigh1 - kTableLow1) + (c - kTableLow2)];
  }
  return nullptr;
}

enum class Mapping { kFold, kStrip };

// Appends `text` folded or stripped to *out by the table; false when some character needs
// the ICU path (then *out holds a partial result, to be discarded).
bool MapByTable(std::string_view text, Mapping mapping, std::string* out) {
  const std::vector<CharEntry>& table = CharTable();
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  out->reserve(n + n / 8);
  size_t i = 0;
  size_t bad = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      size_t j = i + 1;
      while (j < n && s[j] < 0x80) ++j;
      if (mapping == Mapping::kFold) {
        AppendAsciiLower(text.substr(i, j - i), out);
      } else {
        out->append(text.data() + i, j - i);
      }
      i = j;
      continue;
    }
    const size_t len = WellFormedLength(s + i, n - i, &bad);
    if (len == 0) return false;
    UChar32 c;
    size_t next = i;
    U8_NEXT_UNSAFE(s, next, c);
    if (const CharEntry* e = Entry(table, c)) {
      const uint8_t out_len = mapping == Mapping::kFold ? e->fold_len : e->strip_len;
      if (out_len == kNoEntry) return false;
      out->append(mapping == Mapping::kFold ? e->fold : e->strip, out_len);
    } else if (mapping == Mapping::kFold) {
      // Outside the table (CJK, emoji, other scripts): kept when folding cannot change it.
      if (!NfcYes(c) || u_hasBinaryProperty(c, UCHAR_CHANGES_WHEN_CASEFOLDED)) return false;
      out->append(text.data() + i, len);
    } else {
      if (u_charType(c) == U_NON_SPACING_MARK) {
        // dropped
      } else if (NfcYes(c) && u_getIntPropertyValue(c, UCHAR_NFD_QUICK_CHECK) == UNORM_YES) {
        out->append(text.data() + i, len);
      } else {
        return false;
      }
    }
    i += len;
  }
  return true;
}

}  // namespace

bool IsAscii(std::string_view text) { return IsAsciiText(text); }

std::string FoldCase(std::string_view utf8) {
  std::string out;
  if (IsAsciiText(utf8)) {
    AppendAsciiLower(utf8, &out);
    return out;
  }
  if (MapByTable(utf8, Mapping::kFold, &out)) return out;
  return SlowFoldCase(utf8);
}

std::string StripDiacritics(std::string_view utf8) {
  if (IsAsciiText(utf8)) return std::string(utf8);
  std::string out;
  if (MapByTable(utf8, Mapping::kStrip, &out)) return out;
  return SlowStripDiacritics(utf8);
}

}  // namespace mailwarden::spam

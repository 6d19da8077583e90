// Unicode NFC and the legacy Vietnamese encodings (TCVN3, VNI, VISCII).
//
// Distrusts: the text (sender-controlled document content): invalid UTF-8, arbitrary
// control characters, huge inputs.
// Limits: every function is linear in its input; DetectLegacyVietnamese reads at most
// kMaxDetectBytes. The tables below were written from the published encodings.
// Failure: never; invalid UTF-8 becomes U+FFFD, and a character without a legacy meaning
// is kept as it is.
#include "milter/mime/vietnamese_text.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mailwarden::mime {
namespace {

// TCVN3 (VN3), bytes 0xA0-0xFF; "" = not a VN3 letter (kept as its latin-1 character).
constexpr std::array<const char*, 96> kTcvn3 = {
    // 0xA0
    "",
    "Ă",
    "Â",
    "Ê",
    "Ô",
    "Ơ",
    "Ư",
    "Đ",
    "ă",
    "â",
    "ê",
    "ô",
    "ơ",
    "ư",
    "đ",
    "",
    // 0xB0
    "",
    "",
    "",
    "",
    "",
    "à",
    "ả",
    "ã",
    "á",
    "ạ",
    "",
    "ằ",
    "ẳ",
    "ẵ",
    "ắ",
    "",
    // 0xC0
    "",
    "",
    "",
    "",
    "",
    "",
    "ặ",
    "ầ",
    "ẩ",
    "ẫ",
    "ấ",
    "ậ",
    "è",
    "",
    "ẻ",
    "ẽ",
    // 0xD0
    "é",
    "ẹ",
    "ề",
    "ể",
    "ễ",
    "ế",
    "ệ",
    "ì",
    "ỉ",
    "",
    "",
    "",
    "ĩ",
    "í",
    "ị",
    "ò",
    // 0xE0
    "",
    "ỏ",
    "õ",
    "ó",
    "ọ",
    "ồ",
    "ổ",
    "ỗ",
    "ố",
    "ộ",
    "ờ",
    "ở",
    "ỡ",
    "ớ",
    "ợ",
    "ù",
    // 0xF0
    "",
    "ủ",
    "ũ",
    "ú",
    "ụ",
    "ừ",
    "ử",
    "ữ",
    "ứ",
    "ự",
    "ỳ",
    "ỷ",
    "ỹ",
    "ý",
    "ỵ",
    "",
};

// VISCII (RFC 1456), bytes 0x80-0xFF.
constexpr std::array<const char*, 128> kViscii = {
    // 0x80
    "Ạ",
    "Ắ",
    "Ằ",
    "Ặ",
    "Ấ",
    "Ầ",
    "Ẩ",
    "Ậ",
    "Ẽ",
    "Ẹ",
    "Ế",
    "Ề",
    "Ể",
    "Ễ",
    "Ệ",
    "Ố",
    // 0x90
    "Ồ",
    "Ổ",
    "Ỗ",
    "Ộ",
    "Ợ",
    "Ớ",
    "Ờ",
    "Ở",
    "Ị",
    "Ỏ",
    "Ọ",
    "Ỉ",
    "Ủ",
    "Ũ",
    "Ụ",
    "Ỳ",
    // 0xA0
    "Õ",
    "ắ",
    "ằ",
    "ặ",
    "ấ",
    "ầ",
    "ẩ",
    "ậ",
    "ẽ",
    "ẹ",
    "ế",
    "ề",
    "ể",
    "ễ",
    "ệ",
    "ố",
    // 0xB0
    "ồ",
    "ổ",
    "ỗ",
    "Ỡ",
    "Ơ",
    "ộ",
    "ờ",
    "ở",
    "ị",
    "Ự",
    "Ứ",
    "Ừ",
    "Ử",
    "ơ",
    "ớ",
    "Ư",
    // 0xC0
    "À",
    "Á",
    "Â",
    "Ã",
    "Ả",
    "Ă",
    "ẳ",
    "ẵ",
    "È",
    "É",
    "Ê",
    "Ẻ",
    "Ì",
    "Í",
    "Ĩ",
    "ỳ",
    // 0xD0
    "Đ",
    "ứ",
    "Ò",
    "Ó",
    "Ô",
    "ạ",
    "ỷ",
    "ừ",
    "ử",
    "Ù",
    "Ú",
    "ỹ",
    "ỵ",
    "Ý",
    "ỡ",
    "ư",
    // 0xE0
    "à",
    "á",
    "â",
    "ã",
    "ả",
    "ă",
    "ữ",
    "ẫ",
    "è",
    "é",
    "ê",
    "ẻ",
    "ì",
    "í",
    "ĩ",
    "ỉ",
    // 0xF0
    "đ",
    "ự",
    "ò",
    "ó",
    "ô",
    "õ",
    "ỏ",
    "ọ",
    "ụ",
    "ù",
    "ú",
    "ũ",
    "ủ",
    "ý",
    "ợ",
    "Ữ",
};

// VISCII letters in C0 control positions.
const char* VisciiControl(int b) {
  switch (b) {
    case 0x02:
      return "Ẳ";
    case 0x05:
      return "Ẵ";
    case 0x06:
      return "Ẫ";
    case 0x14:
      return "Ỷ";
    case 0x19:
      return "Ỹ";
    case 0x1E:
      return "Ỵ";
    default:
      return nullptr;
  }
}

// The byte a cp1252/latin-1 reading turned into `c`, or -1.
int ByteOf(UChar32 c) {
  if (c >= 0 && c <= 0xFF) return static_cast<int>(c);
  switch (c) {
    case 0x20AC:
      return 0x80;
    case 0x201A:
      return 0x82;
    case 0x0192:
      return 0x83;
    case 0x201E:
      return 0x84;
    case 0x2026:
      return 0x85;
    case 0x2020:
      return 0x86;
    case 0x2021:
      return 0x87;
    case 0x02C6:
      return 0x88;
    case 0x2030:
      return 0x89;
    case 0x0160:
      return 0x8A;
    case 0x2039:
      return 0x8B;
    case 0x0152:
      return 0x8C;
    case 0x017D:
      return 0x8E;
    case 0x2018:
      return 0x91;
    case 0x2019:
      return 0x92;
    case 0x201C:
      return 0x93;
    case 0x201D:
      return 0x94;
    case 0x2022:
      return 0x95;
    case 0x2013:
      return 0x96;
    case 0x2014:
      return 0x97;
    case 0x02DC:
      return 0x98;
    case 0x2122:
      return 0x99;
    case 0x0161:
      return 0x9A;
    case 0x203A:
      return 0x9B;
    case 0x0153:
      return 0x9C;
    case 0x017E:
      return 0x9E;
    case 0x0178:
      return 0x9F;
    default:
      return -1;
  }
}

std::string EncodeUtf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) AppendUtf8(out, c);
  return out;
}

// The single code point of a one-letter UTF-8 literal from the tables.
char32_t FirstCodePoint(const char* utf8) {
  std::u32string cps = DecodeUtf8(utf8);
  return cps.empty() ? 0 : cps[0];
}

// --- VNI ------------------------------------------------------------------------------------

constexpr char32_t kGrave = 0x0300, kAcute = 0x0301, kCircumflex = 0x0302, kTilde = 0x0303,
                   kBreve = 0x0306, kHook = 0x0309, kDotBelow = 0x0323;

struct VniMark {
  char32_t modifier;  // 0, kCircumflex or kBreve
  char32_t tone;      // 0 or a tone mark
};

// The meaning of a VNI diacritic byte (either case), or {0, 0}.
VniMark VniDiacritic(int b) {
  if (b >= 0xC0 && b <= 0xDF) b += 0x20;
  switch (b) {
    case 0xF9:
      return {0, kAcute};
    case 0xF8:
      return {0, kGrave};
    case 0xFB:
      return {0, kHook};
    case 0xF5:
      return {0, kTilde};
    case 0xEF:
      return {0, kDotBelow};
    case 0xE2:
      return {kCircumflex, 0};
    case 0xEA:
      return {kBreve, 0};
    case 0xE1:
      return {kCircumflex, kAcute};
    case 0xE0:
      return {kCircumflex, kGrave};
    case 0xE5:
      return {kCircumflex, kHook};
    case 0xE3:
      return {kCircumflex, kTilde};
    case 0xE4:
      return {kCircumflex, kDotBelow};
    case 0xE9:
      return {kBreve, kAcute};
    case 0xE8:
      return {kBreve, kGrave};
    case 0xFA:
      return {kBreve, kHook};
    case 0xFC:
      return {kBreve, kTilde};
    case 0xEB:
      return {kBreve, kDotBelow};
    default:
      return {0, 0};
  }
}

// VNI letters that are one byte, or 0.
char32_t VniSingle(int b) {
  switch (b) {
    case 0xED:
      return 0x00ED;  // í
    case 0xEC:
      return 0x00EC;  // ì
    case 0xE6:
      return 0x1EC9;  // ỉ
    case 0xF3:
      return 0x0129;  // ĩ
    case 0xF2:
      return 0x1ECB;  // ị
    case 0xCD:
      return 0x00CD;  // Í
    case 0xCC:
      return 0x00CC;  // Ì
    case 0xC6:
      return 0x1EC8;  // Ỉ
    case 0xD3:
      return 0x0128;  // Ĩ
    case 0xD2:
      return 0x1ECA;  // Ị
    case 0xF4:
      return 0x01A1;  // ơ
    case 0xD4:
      return 0x01A0;  // Ơ
    case 0xF6:
      return 0x01B0;  // ư
    case 0xD6:
      return 0x01AF;  // Ư
    case 0xEE:
      return 0x1EF5;  // ỵ
    case 0xCE:
      return 0x1EF4;  // Ỵ
    case 0xF1:
      return 0x0111;  // đ
    case 0xD1:
      return 0x0110;  // Đ
    default:
      return 0;
  }
}

// The base letter of a VNI pair at byte `b` (ASCII vowel, or ô/ö meaning ơ/ư), or 0.
char32_t VniBase(int b) {
  switch (b) {
    case 'a':
    case 'A':
    case 'e':
    case 'E':
    case 'o':
    case 'O':
    case 'u':
    case 'U':
    case 'y':
    case 'Y':
      return static_cast<char32_t>(b);
    case 0xF4:
      return 0x01A1;
    case 0xD4:
      return 0x01A0;
    case 0xF6:
      return 0x01B0;
    case 0xD6:
      return 0x01AF;
    default:
      return 0;
  }
}

// Whether `base` takes `mark` in VNI.
bool VniValid(char32_t base, VniMark mark) {
  if (mark.modifier == 0 && mark.tone == 0) return false;
  char32_t lower = base < 0x80 ? (base | 0x20) : base;
  if (mark.modifier == 0) return true;
  if (mark.modifier == kBreve) return lower == 'a';
  return lower == 'a' || lower == 'e' || lower == 'o';  // circumflex
}

std::u32string DecodeVni(const std::u32string& in) {
  std::u32string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    int b = ByteOf(static_cast<UChar32>(in[i]));
    char32_t base = VniBase(b);
    if (base != 0 && i + 1 < in.size()) {
      VniMark mark = VniDiacritic(ByteOf(static_cast<UChar32>(in[i + 1])));
      if (VniValid(base, mark)) {
        out.push_back(base);
        if (mark.modifier != 0) out.push_back(mark.modifier);
        if (mark.tone != 0) out.push_back(mark.tone);
        ++i;
        continue;
      }
    }
    char32_t single = b >= 0 ? VniSingle(b) : 0;
    out.push_back(single != 0 ? single : in[i]);
  }
  return out;
}

// --- TCVN3 and VISCII -----------------------------------------------------------------------

std::u32string DecodeTable(const std::u32string& in, LegacyEncoding encoding,
                           std::vector<bool>* from_table) {
  std::u32string out;
  out.reserve(in.size());
  for (char32_t c : in) {
    int b = ByteOf(static_cast<UChar32>(c));
    const char* letter = nullptr;
    if (encoding == LegacyEncoding::kTcvn3) {
      if (b >= 0xA0) letter = kTcvn3[static_cast<size_t>(b - 0xA0)];
    } else if (b >= 0x80) {
      letter = kViscii[static_cast<size_t>(b - 0x80)];
    } else if (b >= 0) {
      letter = VisciiControl(b);
    }
    bool decoded = letter != nullptr && *letter != '\0';
    out.push_back(decoded ? FirstCodePoint(letter) : c);
    if (from_table != nullptr) from_table->push_back(decoded);
  }
  return out;
}

bool IsAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiUpper(char32_t c) { return c >= 'A' && c <= 'Z'; }

char32_t ToUpper(char32_t c) { return static_cast<char32_t>(u_toupper(static_cast<UChar32>(c))); }

bool IsLineBreak(char32_t c) { return c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029; }

// TcvnCase::kHarmonize on decoded TCVN3 text (see the header).
void HarmonizeTcvnCase(std::u32string& s, const std::vector<bool>& from_table) {
  enum class WordCase { kUpper, kLower, kUndecided };
  struct Word {
    size_t begin, end;
    WordCase word_case;
    size_t ascii_upper;
  };
  size_t line_start = 0;
  while (line_start < s.size()) {
    size_t line_end = line_start;
    while (line_end < s.size() && !IsLineBreak(s[line_end])) ++line_end;
    std::vector<Word> words;
    bool any_ascii = false, all_upper = true;
    for (size_t i = line_start; i < line_end;) {
      if (!u_isalpha(static_cast<UChar32>(s[i]))) {
        ++i;
        continue;
      }
      Word w{i, i, WordCase::kUndecided, 0};
      size_t ascii = 0, ascii_lower = 0;
      bool initial_only = true;
      for (; w.end < line_end && u_isalpha(static_cast<UChar32>(s[w.end])); ++w.end) {
        if (!IsAsciiLetter(s[w.end])) continue;
        ++ascii;
        if (IsAsciiUpper(s[w.end])) {
          ++w.ascii_upper;
        } else {
          ++ascii_lower;
        }
        if (w.end != w.begin) initial_only = false;
      }
      any_ascii = any_ascii || ascii > 0;
      all_upper = all_upper && ascii_lower == 0;
      if (ascii_lower > 0) {
        w.word_case = WordCase::kLower;
      } else if (ascii > 0 && !initial_only) {
        w.word_case = WordCase::kUpper;
      }
      words.push_back(w);
      i = w.end;
    }
    const bool line_upper = any_ascii && all_upper;
    for (size_t k = 0; k < words.size();) {
      size_t run_end = k + 1;
      size_t run_upper = words[k].ascii_upper;
      if (words[k].word_case == WordCase::kUndecided) {
        while (run_end < words.size() && words[run_end].word_case == WordCase::kUndecided) {
          run_upper += words[run_end].ascii_upper;
          ++run_end;
        }
      }
      bool upper = words[k].word_case == WordCase::kUndecided
                       ? (run_upper >= 2 || line_upper)
                       : words[k].word_case == WordCase::kUpper;
      for (size_t w = k; w < run_end && upper; ++w) {
        for (size_t i = words[w].begin; i < words[w].end; ++i) {
          if (from_table[i]) s[i] = ToUpper(s[i]);
        }
      }
      k = run_end;
    }
    line_start = line_end + 1;
  }
}

const icu::Normalizer2* Nfc() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  return U_SUCCESS(status) ? nfc : nullptr;
}

std::string NfcOf(const std::u32string& s) { return NfcNormalize(EncodeUtf8(s)); }

// --- Detection ------------------------------------------------------------------------------

bool IsVietnameseSpecific(char32_t c) {
  switch (c) {
    case 0x0102:
    case 0x0103:
    case 0x0110:
    case 0x0111:
    case 0x0128:
    case 0x0129:
    case 0x0168:
    case 0x0169:
    case 0x01A0:
    case 0x01A1:
    case 0x01AF:
    case 0x01B0:
      return true;
    default:
      return (c >= 0x1EA0 && c <= 0x1EF9) || (c >= 0x0300 && c <= 0x0323);
  }
}

// Vietnamese letters shared with latin-1.
bool IsVietnameseLatin1(char32_t c) {
  switch (c | 0x20) {
    case 0xE0:
    case 0xE1:
    case 0xE2:
    case 0xE3:
    case 0xE8:
    case 0xE9:
    case 0xEA:
    case 0xEC:
    case 0xED:
    case 0xF2:
    case 0xF3:
    case 0xF4:
    case 0xF5:
    case 0xF9:
    case 0xFA:
    case 0xFD:
      return c >= 0xC0;
    default:
      return false;
  }
}

// The base letter (lower case) of a Latin letter, diacritics removed: 'a' for "Ậ".
char32_t BaseLetter(char32_t c) {
  c = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
  if (c < 0x80 || c == 0x0111) return c;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString decomposition;
  if (U_FAILURE(status) || !nfd->getDecomposition(static_cast<UChar32>(c), decomposition)) {
    return c;
  }
  return static_cast<char32_t>(decomposition.char32At(0));
}

int ToneMarks(char32_t c) {
  if (c < 0x80) return 0;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString decomposition;
  if (U_FAILURE(status) || !nfd->getDecomposition(static_cast<UChar32>(c), decomposition)) {
    return 0;
  }
  int tones = 0;
  for (int32_t k = 0; k < decomposition.length(); ++k) {
    char16_t m = decomposition.charAt(k);
    if (m == kGrave || m == kAcute || m == kTilde || m == kHook || m == kDotBelow) ++tones;
  }
  return tones;
}

// The lower-case letter without its tone mark, keeping circumflex, breve and horn: "ậ" is
// "â", "Ở" is "ơ".
char32_t WithoutTone(char32_t c) {
  c = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
  if (c < 0x80) return c;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  icu::UnicodeString decomposition;
  if (U_FAILURE(status) || !nfd->getDecomposition(static_cast<UChar32>(c), decomposition)) {
    return c;
  }
  icu::UnicodeString kept;
  for (int32_t k = 0; k < decomposition.length(); ++k) {
    char16_t m = decomposition.charAt(k);
    if (m != kGrave && m != kAcute && m != kTilde && m != kHook && m != kDotBelow) kept += m;
  }
  icu::UnicodeString composed = nfc->normalize(kept, status);
  return U_SUCCESS(status) && composed.length() > 0 ? static_cast<char32_t>(composed.char32At(0))
                                                    : c;
}

// Vietnamese vowel nuclei (with glides), tones removed.
bool IsVowelCluster(std::u32string_view v) {
  static constexpr std::u32string_view kClusters[] = {U"a",
                                                      U"\u0103",
                                                      U"\u00E2",
                                                      U"e",
                                                      U"\u00EA",
                                                      U"i",
                                                      U"o",
                                                      U"\u00F4",
                                                      U"\u01A1",
                                                      U"u",
                                                      U"\u01B0",
                                                      U"y",
                                                      U"ai",
                                                      U"ao",
                                                      U"au",
                                                      U"ay",
                                                      U"\u00E2u",
                                                      U"\u00E2y",
                                                      U"eo",
                                                      U"\u00EAu",
                                                      U"ia",
                                                      U"i\u00EA",
                                                      U"iu",
                                                      U"oa",
                                                      U"o\u0103",
                                                      U"oe",
                                                      U"oi",
                                                      U"\u00F4i",
                                                      U"\u01A1i",
                                                      U"oo",
                                                      U"ua",
                                                      U"u\u00E2",
                                                      U"u\u00EA",
                                                      U"ui",
                                                      U"u\u00F4",
                                                      U"u\u01A1",
                                                      U"uy",
                                                      U"\u01B0a",
                                                      U"\u01B0i",
                                                      U"\u01B0u",
                                                      U"\u01B0\u01A1",
                                                      U"y\u00EA",
                                                      U"i\u00EAu",
                                                      U"oai",
                                                      U"oao",
                                                      U"oay",
                                                      U"oeo",
                                                      U"u\u00E2y",
                                                      U"u\u00F4i",
                                                      U"\u01B0\u01A1i",
                                                      U"\u01B0\u01A1u",
                                                      U"uy\u00EA",
                                                      U"uya",
                                                      U"y\u00EAu",
                                                      U"uyu",
                                                      U"u\u01A1i"};
  for (std::u32string_view cluster : kClusters) {
    if (v == cluster) return true;
  }
  return false;
}

bool IsVowelBase(char32_t base) {
  return base == 'a' || base == 'e' || base == 'i' || base == 'o' || base == 'u' || base == 'y';
}

// Whether an NFC word is one Vietnamese syllable: an initial consonant (b c ch d đ g gh gi
// h k kh l m n ng ngh nh p ph q qu r s t th tr v x, or none), one to three vowels, a final
// consonant (c ch m n ng nh p t, or none); the vowels one of the Vietnamese nuclei
// (a, ai, oai, ươ, uyê...); only Vietnamese letters, at most one tone mark,
// at most 7 letters. A crude but cheap test that Western words fail ("aéroport" read as
// VNI is "ắroport").
bool IsVietnameseSyllable(const std::u32string& word) {
  if (word.empty() || word.size() > 7) return false;
  // Letter case: all lower, all upper, or capitalised ("ViƯt" is not a syllable).
  size_t upper_after_first = 0, lower_after_first = 0;
  for (size_t i = 1; i < word.size(); ++i) {
    if (u_isupper(static_cast<UChar32>(word[i]))) ++upper_after_first;
    if (u_islower(static_cast<UChar32>(word[i]))) ++lower_after_first;
  }
  if (upper_after_first > 0 &&
      (lower_after_first > 0 || !u_isupper(static_cast<UChar32>(word[0])))) {
    return false;
  }
  std::u32string base, toneless;
  int tones = 0;
  for (char32_t c : word) {
    bool letter = IsAsciiLetter(c) || IsVietnameseLatin1(c) ||
                  (IsVietnameseSpecific(c) && (c < 0x0300 || c > 0x0323));
    if (!letter) return false;
    tones += ToneMarks(c);
    base.push_back(BaseLetter(c));
    toneless.push_back(WithoutTone(c));
  }
  if (tones > 1) return false;
  static constexpr std::u32string_view kInitials[] = {
      U"ngh", U"ng", U"nh", U"gh", U"gi",     U"kh", U"ph", U"th", U"tr", U"ch",
      U"qu",  U"b",  U"c",  U"d",  U"\u0111", U"g",  U"h",  U"k",  U"l",  U"m",
      U"n",   U"p",  U"r",  U"s",  U"t",      U"v",  U"x",  U""};
  static constexpr std::u32string_view kFinals[] = {U"",   U"c",  U"ch", U"m", U"n",
                                                    U"ng", U"nh", U"p",  U"t"};
  const std::u32string_view b(base);
  for (std::u32string_view initial : kInitials) {
    if (b.substr(0, initial.size()) != initial) continue;
    size_t pos = initial.size();
    size_t vowels = 0;
    while (pos < b.size() && IsVowelBase(b[pos])) {
      ++pos;
      ++vowels;
    }
    // "gi" + consonant ("gìn") borrows the i as the vowel.
    if (vowels == 0 && initial == U"gi") continue;
    if (vowels < 1 || vowels > 3) continue;
    if (!IsVowelCluster(std::u32string_view(toneless).substr(pos - vowels, vowels))) continue;
    std::u32string_view rest = b.substr(pos);
    for (std::u32string_view final_consonant : kFinals) {
      if (rest == final_consonant) return true;
    }
  }
  return false;
}

bool HasFrenchPair(const std::u32string& word) {
  for (size_t i = 0; i + 1 < word.size(); ++i) {
    char32_t base = word[i] | 0x20, mark = word[i + 1];
    if ((base == 'o' && (mark == 0xF9 || mark == 0xFB || mark == 0xEF)) ||
        (base == 'e' && mark == 0xFB) || ((base == 'a' || base == 'u') && mark == 0xEF)) {
      return true;
    }
  }
  return false;
}

bool IsWordSeparator(char32_t c) {
  if (c < 0x80) return !IsAsciiLetter(c) && !(c >= '0' && c <= '9');
  return c == 0xA0 || u_isUWhiteSpace(static_cast<UChar32>(c));
}

}  // namespace

std::string_view LegacyEncodingName(LegacyEncoding encoding) {
  switch (encoding) {
    case LegacyEncoding::kTcvn3:
      return "tcvn3";
    case LegacyEncoding::kVni:
      return "vni";
    case LegacyEncoding::kViscii:
      return "viscii";
    case LegacyEncoding::kNone:
      break;
  }
  return "none";
}

std::string NfcNormalize(std::string_view utf8) {
  const icu::Normalizer2* nfc = Nfc();
  // Most text is NFC already: a check in place costs a fraction of a conversion.
  if (nfc != nullptr && IsValidUtf8(utf8)) {
    UErrorCode status = U_ZERO_ERROR;
    if (nfc->isNormalizedUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())),
                              status) &&
        U_SUCCESS(status)) {
      return std::string(utf8);
    }
  }
  // fromUTF8 turns invalid sequences into U+FFFD.
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  std::string out;
  if (nfc == nullptr) {
    text.toUTF8String(out);
    return out;
  }
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString normalized = nfc->normalize(text, status);
  (U_SUCCESS(status) ? normalized : text).toUTF8String(out);
  return out;
}

bool IsTcvn3UppercaseFont(std::string_view font_name) {
  while (!font_name.empty() && font_name.back() == ' ') font_name.remove_suffix(1);
  if (font_name.size() < 4 || font_name.back() != 'H') return false;
  return font_name[0] == '.' && (font_name[1] == 'V' || font_name[1] == 'v') &&
         (font_name[2] == 'N' || font_name[2] == 'n');
}

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

size_t Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

char32_t Windows1252Char(unsigned char byte) {
  static constexpr char16_t kHigh[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
  };
  return byte >= 0x80 && byte < 0xA0 ? kHigh[byte - 0x80] : byte;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    UChar32 c = 0;
    U8_NEXT(s.data(), i, s.size(), c);
    if (c < 0) return false;
  }
  return true;
}

LegacyFont LegacyFontNamed(std::string_view name) {
  auto frame = [](char c) { return c == '\'' || c == '"' || c == ' '; };
  while (!name.empty() && frame(name.front())) name.remove_prefix(1);
  while (!name.empty() && frame(name.back())) name.remove_suffix(1);
  if (name.size() > 7 && name[6] == '+' &&
      std::all_of(name.begin(), name.begin() + 6, [](char c) { return c >= 'A' && c <= 'Z'; })) {
    name.remove_prefix(7);
  }
  if (size_t comma = name.find(','); comma != std::string_view::npos) name = name.substr(0, comma);
  std::string lower;
  for (char c : name) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  LegacyFont f;
  if (lower.starts_with(".vn")) {
    f.encoding = LegacyEncoding::kTcvn3;
    f.upper = IsTcvn3UppercaseFont(name);
  } else if (lower.starts_with("vni-")) {
    f.encoding = LegacyEncoding::kVni;
  } else if (lower.find("viscii") != std::string::npos) {
    f.encoding = LegacyEncoding::kViscii;
  }
  return f;
}

std::string LegacyToUnicode(std::string_view latin_reading, LegacyEncoding encoding,
                            TcvnCase tcvn_case) {
  if (encoding == LegacyEncoding::kNone) return NfcNormalize(latin_reading);
  std::u32string in = DecodeUtf8(latin_reading);
  if (encoding == LegacyEncoding::kVni) return NfcOf(DecodeVni(in));
  std::vector<bool> from_table;
  std::u32string out = DecodeTable(in, encoding, &from_table);
  if (encoding == LegacyEncoding::kTcvn3) {
    if (tcvn_case == TcvnCase::kUpperFont) {
      for (char32_t& c : out) c = ToUpper(c);
    } else if (tcvn_case == TcvnCase::kHarmonize) {
      HarmonizeTcvnCase(out, from_table);
    }
  }
  return NfcOf(out);
}

std::string LegacyBytesToUnicode(std::string_view bytes, LegacyEncoding encoding,
                                 TcvnCase tcvn_case) {
  std::string latin;
  latin.reserve(bytes.size() * 2);
  for (char b : bytes) AppendUtf8(latin, static_cast<unsigned char>(b));
  return LegacyToUnicode(latin, encoding, tcvn_case);
}

std::string UnicodeToLegacyBytes(std::string_view utf8, LegacyEncoding encoding) {
  std::string nfc = NfcNormalize(utf8);
  if (encoding == LegacyEncoding::kNone) return nfc;
  // The reverse table: every legacy unit decoded once.
  std::map<char32_t, std::string> reverse;
  // A TCVN3 byte counts only when the table gave it a meaning (not its latin-1 self).
  auto add = [&reverse](std::string bytes, LegacyEncoding enc) {
    std::u32string letter = DecodeUtf8(LegacyBytesToUnicode(bytes, enc, TcvnCase::kAsStored));
    if (letter.size() != 1 || letter[0] < 0x80) return;
    if (enc == LegacyEncoding::kTcvn3 && bytes.size() == 1) {
      auto b = static_cast<unsigned char>(bytes[0]);
      if (b < 0xA0 || *kTcvn3[static_cast<size_t>(b - 0xA0)] == '\0') return;
    }
    reverse.emplace(letter[0], std::move(bytes));
  };
  if (encoding == LegacyEncoding::kVni) {
    for (int b = 0x80; b <= 0xFF; ++b) {
      if (VniSingle(b) != 0) add(std::string(1, static_cast<char>(b)), encoding);
    }
    for (int base : {int{'a'}, int{'A'}, int{'e'}, int{'E'}, int{'o'}, int{'O'}, int{'u'}, int{'U'},
                     int{'y'}, int{'Y'}, 0xF4, 0xD4, 0xF6, 0xD6}) {
      bool upper = base < 0x80 ? IsAsciiUpper(static_cast<char32_t>(base)) : base < 0xE0;
      for (int d = 0xE0; d <= 0xFF; ++d) {
        int mark_byte = upper ? d - 0x20 : d;
        if (!VniValid(VniBase(base), VniDiacritic(mark_byte))) continue;
        add(std::string{static_cast<char>(base), static_cast<char>(mark_byte)}, encoding);
      }
    }
  } else {
    for (int b = 0x80; b <= 0xFF; ++b) add(std::string(1, static_cast<char>(b)), encoding);
    if (encoding == LegacyEncoding::kViscii) {
      for (int b : {0x02, 0x05, 0x06, 0x14, 0x19, 0x1E}) {
        add(std::string(1, static_cast<char>(b)), encoding);
      }
    }
  }
  std::string out;
  for (char32_t c : DecodeUtf8(nfc)) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    auto it = reverse.find(c);
    if (it == reverse.end() && encoding == LegacyEncoding::kTcvn3) {
      it = reverse.find(static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
    }
    out += it != reverse.end() ? it->second : std::string("?");
  }
  return out;
}

LegacyEncoding DetectLegacyVietnamese(std::string_view text) {
  // Only non-ASCII words are evidence: pure ASCII text has none.
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    return LegacyEncoding::kNone;
  }
  if (text.size() > kMaxDetectBytes) {
    text = text.substr(0, kMaxDetectBytes);
    // Do not cut a UTF-8 sequence: back up to a lead byte.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) {
      text.remove_suffix(1);
    }
  }
  std::u32string s = DecodeUtf8(text);
  size_t non_ascii_words = 0, unicode_words = 0, tcvn3 = 0, vni = 0, viscii = 0;
  size_t viscii_same = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (IsWordSeparator(s[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    bool non_ascii = false, specific = false;
    while (end < s.size() && !IsWordSeparator(s[end])) {
      int b = ByteOf(static_cast<UChar32>(s[end]));
      non_ascii = non_ascii || s[end] >= 0x80 || (b >= 0 && VisciiControl(b) != nullptr);
      specific = specific || IsVietnameseSpecific(s[end]);
      ++end;
    }
    std::u32string word = s.substr(i, end - i);
    i = end;
    if (!non_ascii) continue;
    ++non_ascii_words;
    if (specific) {
      ++unicode_words;
      continue;
    }
    // VISCII keeps the latin-1 letters (à á â ã è é ...), so a word it leaves unchanged
    // that is a Vietnamese syllable ("hòa") supports it too; one changed word is required.
    if (IsVietnameseSyllable(word)) ++viscii_same;
    auto plausible = [&word](LegacyEncoding enc) {
      std::vector<bool> unused;
      std::u32string decoded =
          enc == LegacyEncoding::kVni ? DecodeVni(word) : DecodeTable(word, enc, &unused);
      std::u32string nfc = DecodeUtf8(NfcOf(decoded));
      return nfc != word && IsVietnameseSyllable(nfc);
    };
    if (plausible(LegacyEncoding::kTcvn3)) ++tcvn3;
    if (plausible(LegacyEncoding::kViscii)) ++viscii;
    if (!HasFrenchPair(word) && plausible(LegacyEncoding::kVni)) ++vni;
  }
  LegacyEncoding best = LegacyEncoding::kVni;
  size_t evidence = vni;
  if (tcvn3 > evidence) {
    best = LegacyEncoding::kTcvn3;
    evidence = tcvn3;
  }
  if (viscii > 0 && viscii + viscii_same > evidence) {
    best = LegacyEncoding::kViscii;
    evidence = viscii + viscii_same;
  }
  const size_t minimum = best == LegacyEncoding::kVni ? 1 : 2;
  if (evidence >= minimum && evidence * 2 > non_ascii_words && evidence > unicode_words) {
    return best;
  }
  return LegacyEncoding::kNone;
}

std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  int32_t i = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    out.push_back(c < 0 ? 0xFFFD : static_cast<char32_t>(c));
  }
  return out;
}

}  // namespace mailwarden::mime

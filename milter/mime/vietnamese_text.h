// Vietnamese text normalisation: Unicode NFC, and the legacy 8-bit Vietnamese encodings
// (TCVN3, VNI, VISCII) converted to Unicode, with a heuristic that recognises them.
//
// Legacy text reaches us already "decoded" by a charset converter that did not know it was
// Vietnamese: a document typed in a legacy font declares windows-1252 or ISO-8859-1, so its
// bytes arrive as the cp1252/latin-1 characters of those bytes ("Vieät Nam" for VNI,
// "ViÖt Nam" for TCVN3). The functions below take that UTF-8 reading and map each character
// back to its byte (latin-1 code point, or the cp1252 character of 0x80-0x9F), then through
// the encoding's table. Characters that have no byte (true Unicode) are kept as they are.
// windows-1258 is not handled here: it is a registered charset that ToUtf8 (header_words.h)
// converts, with combining tone marks that NfcNormalize composes.
//
// The encodings (facts about them, as this file implements them):
//   TCVN3 (ABC, TCVN 5712:1993 "VN3", fonts .VnTime, .VnArial...): one byte per letter.
//     0xA1-0xA7 are the upper-case Ă Â Ê Ô Ơ Ư Đ, 0xA8-0xAE the lower-case ă â ê ô ơ ư đ,
//     0xB5-0xFE the lower-case letters with a tone mark. VN3 has no upper-case letters with
//     a tone mark: upper-case text is typed in the "H" fonts (.VnTimeH, .VnArialH), which
//     draw the lower-case code positions (ASCII letters included) as capitals. So "MẬT" in
//     .VnTimeH is stored as the bytes of "mËt" (or "MËT" when typed with Shift): the file
//     says lower case, only the font says upper. The positions VN1 uses for upper-case toned
//     letters, and the combining marks at 0xB0-0xB4, are not decoded (they are not VN3).
//   VNI (VNI-Windows, fonts VNI-Times...): a base letter followed by a separate diacritic
//     byte: "a" + "ù" (0xF9) is "á", "a" + "ä" (0xE4) is "ậ", "A" + "Ä" is "Ậ". The case
//     of the result is that of the base letter. A few letters are single bytes: í ì æ ó ò
//     (í ì ỉ ĩ ị), ô (ơ), ö (ư), î (ỵ), ñ (đ), and their upper-case forms.
//   VISCII (RFC 1456): one byte per letter, all 134 precomposed letters; upper-case toned
//     letters occupy 0x80-0x9F and six C0 control positions (0x02 0x05 0x06 0x14 0x19 0x1E).
//
// Pure functions, thread-safe. No input makes them fail: invalid UTF-8 becomes U+FFFD.
#ifndef MAILWARDEN_MILTER_MIME_VIETNAMESE_TEXT_H_
#define MAILWARDEN_MILTER_MIME_VIETNAMESE_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace mailwarden::mime {

enum class LegacyEncoding { kNone, kTcvn3, kVni, kViscii };

// "tcvn3", "vni", "viscii", "none" (for logs and statistics).
std::string_view LegacyEncodingName(LegacyEncoding encoding);

// Returns `utf8` in Unicode Normalization Form C (ICU). Invalid UTF-8 becomes U+FFFD.
std::string NfcNormalize(std::string_view utf8);

// `utf8` as code points; an invalid sequence becomes U+FFFD.
std::u32string DecodeUtf8(std::string_view utf8);

// How TCVN3 letter case is decided (see the file comment: the case lives in the font).
enum class TcvnCase {
  // As stored: toned letters come out lower case.
  kAsStored,
  // Toned letters take the case the ASCII letters around them show. A word with a
  // lower-case ASCII letter stays as stored ("MËt" is "Mật"); a word whose ASCII letters
  // are upper case and not just its initial ("MËT", "TèI") is upper-cased. Other words
  // (no ASCII letter, or only an upper-case initial: "Ë", "Tù") are decided together with
  // their run of such neighbours: upper when the run holds two or more upper-case ASCII
  // letters ("M Ë T", "T U Y Ö T"), else when every ASCII letter of the line is upper case.
  // This recovers capitals typed with Shift in an "H" font; all-lower-case bytes stay lower.
  kHarmonize,
  // The text is known to be set in an "H" font (IsTcvn3UppercaseFont): all letters upper.
  kUpperFont,
};

// True for the names of TCVN3 upper-case fonts: a name starting with ".Vn" (case-
// insensitive) and ending in "H" (".VnTimeH", ".VnArialH", ".VnCentury SchoolbookH").
bool IsTcvn3UppercaseFont(std::string_view font_name);

// The legacy encoding a font's name declares, as documents name fonts: a name starting with
// ".Vn" is TCVN3 (upper case for the "H" fonts, IsTcvn3UppercaseFont), "VNI-" is VNI, a name
// containing "VISCII" is VISCII (case-insensitive). Quotes and spaces around the name (ODF
// writes "'.VnTimeH'"), a PDF subset tag ("ABCDEF+.VnTime") and a style after a comma
// (".VnTime,Bold") are ignored. Names such as "VN Times" are not taken as VISCII: several
// encodings' font sets use them.
struct LegacyFont {
  LegacyEncoding encoding = LegacyEncoding::kNone;
  bool upper = false;  // a TCVN3 "H" font: every letter is drawn upper case
  bool operator==(const LegacyFont&) const = default;
};
LegacyFont LegacyFontNamed(std::string_view font_name);

// Appends code point `c` to `out` as UTF-8.
void AppendUtf8(std::string& out, char32_t c);

// The length of the longest prefix of `s` of at most `max` bytes that does not end inside
// a UTF-8 sequence: where to cut text to a byte limit.
size_t Utf8Prefix(std::string_view s, size_t max);

// The character windows-1252 gives `byte` (0x80-0x9F as cp1252 has them, the five bytes
// it leaves unassigned as their C1 code points, as ICU reads them; the rest as latin-1).
char32_t Windows1252Char(unsigned char byte);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Converts the cp1252/latin-1 reading (UTF-8) of legacy Vietnamese text to Unicode NFC.
// kNone only normalises. `tcvn_case` matters for kTcvn3 only.
std::string LegacyToUnicode(std::string_view latin_reading, LegacyEncoding encoding,
                            TcvnCase tcvn_case = TcvnCase::kHarmonize);

// Converts raw legacy bytes (as read from a file) to Unicode NFC: each byte is read as its
// latin-1 character, then LegacyToUnicode.
std::string LegacyBytesToUnicode(std::string_view bytes, LegacyEncoding encoding,
                                 TcvnCase tcvn_case = TcvnCase::kHarmonize);

// The reverse, for building test documents and fixtures: Unicode text to legacy bytes.
// Characters the encoding lacks are written as '?' (TCVN3 upper-case toned letters are
// written as their lower-case bytes, as an "H" font user types them). kNone returns the
// NFC text unchanged.
std::string UnicodeToLegacyBytes(std::string_view utf8, LegacyEncoding encoding);

// Says whether `text` (UTF-8: the cp1252/latin-1 reading a charset decoder produced) looks
// like Vietnamese typed in a legacy encoding. The rule:
//   - words are maximal runs of characters other than whitespace and ASCII punctuation;
//     only words with a non-ASCII character count ("non-ASCII words", N of them);
//   - a word is evidence for an encoding when converting it changes it and gives one
//     Vietnamese syllable: an initial consonant (or none), a Vietnamese vowel nucleus
//     (a, ai, oai, ươ, uyê... tones aside), a final
//     consonant among c ch m n ng nh p t (or none), at most one tone mark, at most 7
//     letters. Western words fail this ("aéroport" read as VNI is "ắroport", "Noël" read as
//     TCVN3 is "Noởl"); letter case must be lower, upper or capitalised. For VNI, words
//     with the pairs French writes ("où", "oû", "eû", "aï", "oï", "uï") never count.
//     VISCII keeps the latin-1 letters à á â ã è é..., so for it a word left unchanged that
//     is a syllable counts too, provided at least one word was changed;
//   - words that are already Unicode Vietnamese (Ă ă Đ đ Ĩ ĩ Ũ ũ Ơ ơ Ư ư, U+1EA0-U+1EF9, or
//     combining marks U+0300-U+0323) count against every legacy encoding;
//   - the encoding with the most evidence words E wins when E > N / 2 (a majority of the
//     non-ASCII words), E exceeds the Unicode Vietnamese words, and E >= 2 — or E >= 1
//     for VNI, whose vowel + diacritic pairs do not occur in Western languages. Ties go
//     VNI, then TCVN3, then VISCII.
// So a lone TCVN3 word such as "MËT" is not recognised on its own (Spanish "año" would be
// a TCVN3 syllable too): callers that know the font (a document run in ".VnTimeH") pass the
// encoding instead. At most the first kMaxDetectBytes bytes are examined: some 40,000
// words, more than a majority needs, and a bound on the cost (about 40 ms on a
// legacy text, 15 ms on a Unicode one).
inline constexpr size_t kMaxDetectBytes = 256 << 10;
LegacyEncoding DetectLegacyVietnamese(std::string_view text);

}  // namespace mailwarden::mime

#endif  // MAILWARDEN_MILTER_MIME_VIETNAMESE_TEXT_H_

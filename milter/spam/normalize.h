// Text normalisation for spam rule matching: case folding and diacritics stripping, so that
// an admin's pattern "trúng thưởng" finds "TRÚNG THƯỞNG", "Trúng Thưởng" and the unaccented
// "trung thuong" that spam writes to slip past filters.
//
// Both functions take UTF-8 and return UTF-8. Invalid UTF-8 never fails them: each ill-formed
// sequence becomes U+FFFD. Pure ASCII input takes a fast path that does not touch ICU (the
// common case for mail). Both are linear in the input, allocate only their result, and are
// thread-safe (the ICU normalizers they use are immutable process-wide singletons).
#ifndef MAILWARDEN_MILTER_SPAM_NORMALIZE_H_
#define MAILWARDEN_MILTER_SPAM_NORMALIZE_H_

#include <string>
#include <string_view>

namespace mailwarden::spam {

// True when every byte of `text` is below 0x80.
bool IsAscii(std::string_view text);

// `utf8` in NFC, then full Unicode case folding (ICU, default folding: "Straße" -> "strasse",
// "TRÚNG" -> "trúng"). Pure ASCII: lower-cased byte by byte.
std::string FoldCase(std::string_view utf8);

// `utf8` without combining marks: decomposed (NFD), every non-spacing mark (general category
// Mn) dropped, recomposed (NFC); and đ/Đ, the one Vietnamese letter whose stroke is not a
// combining mark, mapped to d/D. "trúng thưởng" -> "trung thuong", "Đà Nẵng" -> "Da Nang".
// ASCII characters are never changed (so a regular expression's escapes survive). Pure ASCII
// input is returned as a copy.
std::string StripDiacritics(std::string_view utf8);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_NORMALIZE_H_

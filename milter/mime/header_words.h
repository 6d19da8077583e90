// Header-field words of MIME: RFC 2047 encoded words, RFC 2231 parameter values and
// continuations, the Content-Type / Content-Disposition parameter syntax, and charset
// conversion to UTF-8 (ICU).
//
// Every function takes untrusted header text and returns UTF-8; none fails: malformed
// encoded words are left as they are, invalid bytes become U+FFFD, and an unknown charset
// is read as UTF-8 (see ToUtf8). Pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_MIME_HEADER_WORDS_H_
#define MAILWARDEN_MILTER_MIME_HEADER_WORDS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailwarden::mime {

// Converts `bytes` in `charset` (any name or alias ICU knows, case-insensitive) to UTF-8,
// replacing invalid sequences with U+FFFD. An empty or unknown charset is read as UTF-8:
// mislabelled modern mail is almost always UTF-8, and reading it as ISO-8859-1 would hide
// UTF-8 encoded bidi controls (U+202E) and Vietnamese letters from the file-name checks.
std::string ToUtf8(std::string_view bytes, std::string_view charset);

// Decodes the RFC 2047 encoded words ("=?charset?B|Q?text?=", optional "*language") in an
// unstructured header value or a parameter value, to UTF-8. Whitespace between adjacent
// encoded words is dropped, and adjacent words in the same charset are joined before
// conversion, so a multi-byte character split across two words survives. Malformed words
// are kept literally; text outside encoded words is read as UTF-8.
std::string DecodeEncodedWords(std::string_view value);

// A parsed "value; name=value; ..." header (Content-Type, Content-Disposition).
struct ParameterizedHeader {
  static constexpr size_t kDefaultMaxParams = 64;

  struct Param {
    std::string name;  // lower-case, without RFC 2231 "*N*" suffixes
    // RFC 2231 forms: continuations joined, percent-decoded and converted to UTF-8.
    // Plain forms: the bytes as written (quotes and escapes removed), so that a boundary
    // stays byte-exact; use DecodedValue() for text meant for people (file names).
    std::string value;
    bool extended = false;  // came from an RFC 2231 form
  };

  std::string value;  // "text/plain", "attachment": lower-cased, comments removed
  std::vector<Param> params;
  bool too_many_params = false;  // more than max_params raw parameters; the rest ignored

  // The parameter `name` (lower-case), or nullptr.
  const Param* Find(std::string_view name) const;
  // The value of `name` as UTF-8 text: RFC 2231 values as they are, plain values with their
  // RFC 2047 encoded words decoded (as mail clients do for file names); "" when absent.
  std::string DecodedValue(std::string_view name) const;
};

// Parses a Content-Type or Content-Disposition value: quoted strings with backslash
// escapes, (nested) comments, unquoted values with stray spaces, RFC 2231 "name*",
// "name*0", "name*1*"... A parameter given twice keeps its first value, except that an
// RFC 2231 form wins over a plain one of the same name (as mail clients display it).
// At most `max_params` raw parameters are read.
ParameterizedHeader ParseParameterizedHeader(
    std::string_view value, size_t max_params = ParameterizedHeader::kDefaultMaxParams);

}  // namespace mailwarden::mime

#endif  // MAILWARDEN_MILTER_MIME_HEADER_WORDS_H_

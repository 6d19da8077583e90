// RFC 2047 encoded words, RFC 2231 parameters, Content-Type style parameter lists, charsets.
//
// Distrusts: the header text (sender-controlled): arbitrary bytes and NULs, unterminated
// quotes, comments and encoded words, bogus charsets, out-of-order or duplicated RFC 2231
// sections, huge section numbers, invalid byte sequences for the declared charset.
// Limits: at most max_params raw parameters, section numbers below kMaxSections, comment
// nesting counted (not recursed), charset names of at most kMaxCharsetName bytes; every
// loop advances through the input, so the work is linear in its length (which the MIME
// parser already bounds by MimeLimits::max_header_line_bytes).
// Failure: never; malformed syntax is kept literally or skipped, invalid bytes become U+FFFD.
#include "milter/mime/header_words.h"

#include <unicode/ucnv.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>

#include "milter/mime/decoders.h"

namespace mailwarden::mime {
namespace {

constexpr size_t kMaxCharsetName = 64;
constexpr int kMaxSections = 1000;

struct ConverterCloser {
  void operator()(UConverter* c) const { ucnv_close(c); }
};
using ConverterPtr = std::unique_ptr<UConverter, ConverterCloser>;

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool IsWsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// --- RFC 2047 -----------------------------------------------------------------------------

struct EncodedWord {
  std::string charset;  // lower-case, language suffix removed
  std::string bytes;    // decoded, still in `charset`
};

std::string DecodeQ(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < text.size() && Hex(text[i + 1]) >= 0 && Hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(text[i + 1]) * 16 + Hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Parses an encoded word at the start of `s` (which starts with "=?"); on success sets
// `*word` and `*length` (bytes consumed).
bool ParseEncodedWord(std::string_view s, EncodedWord* word, size_t* length) {
  size_t q1 = s.find('?', 2);
  if (q1 == std::string_view::npos || q1 == 2 || q1 - 2 > kMaxCharsetName) return false;
  std::string_view charset = s.substr(2, q1 - 2);
  if (std::any_of(charset.begin(), charset.end(), IsWsp)) return false;
  if (q1 + 2 >= s.size() || s[q1 + 2] != '?') return false;
  char encoding = Lower(s[q1 + 1]);
  if (encoding != 'b' && encoding != 'q') return false;
  size_t text_start = q1 + 3;
  size_t end = s.find("?=", text_start);
  if (end == std::string_view::npos) return false;
  std::string_view text = s.substr(text_start, end - text_start);
  if (std::any_of(text.begin(), text.end(), IsWsp)) return false;
  size_t star = charset.find('*');  // RFC 2231 §5 language: "utf-8*vi"
  word->charset = LowerCopy(charset.substr(0, star));
  word->bytes.clear();
  if (encoding == 'b') {
    Base64Decoder decoder;
    decoder.Feed(text, &word->bytes);
    decoder.Finish(&word->bytes);
  } else {
    word->bytes = DecodeQ(text);
  }
  *length = end + 2;
  return true;
}

// --- RFC 2231 -----------------------------------------------------------------------------

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct RawParam {
  std::string base;       // lower-case name without "*N*"
  int section = -1;       // -1: not a continuation
  bool extended = false;  // "name*" or "name*N*": charset'lang'%XX encoding
  std::string value;
};

// Splits "filename*1*" into base, section and extended flag; false for a name with a bad
// or too large section number.
bool ClassifyName(std::string_view name, RawParam* p) {
  if (!name.empty() && name.back() == '*') {
    p->extended = true;
    name.remove_suffix(1);
  }
  size_t star = name.find('*');
  if (star == std::string_view::npos) {
    p->base = LowerCopy(name);
    return !p->base.empty();
  }
  std::string_view digits = name.substr(star + 1);
  if (digits.empty() || digits.size() > 4) return false;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n >= kMaxSections) return false;
  p->base = LowerCopy(name.substr(0, star));
  p->section = n;
  return !p->base.empty();
}

// Joins the RFC 2231 pieces of one parameter; nullopt when they do not form a value
// (no section 0 and no "name*" form).
std::optional<std::string> AssembleExtended(const std::vector<const RawParam*>& pieces) {
  std::vector<const RawParam*> sections;
  for (const RawParam* p : pieces) {
    if (p->section < 0 && p->extended) {
      sections = {p};  // "name*=": a complete value by itself
      break;
    }
    if (p->section < 0) continue;
    bool dup = std::any_of(sections.begin(), sections.end(),
                           [&](const RawParam* s) { return s->section == p->section; });
    if (!dup) sections.push_back(p);  // first wins
  }
  std::stable_sort(sections.begin(), sections.end(),
                   [](const RawParam* a, const RawParam* b) { return a->section < b->section; });
  if (sections.empty() || sections.front()->section > 0) return std::nullopt;
  std::string charset, bytes;
  int expected = 0;
  for (const RawParam* s : sections) {
    if (s->section >= 0 && s->section != expected) break;  // a gap ends the value
    ++expected;
    std::string_view v = s->value;
    if (s->extended && (s == sections.front())) {
      size_t q1 = v.find('\'');
      size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
      if (q2 != std::string_view::npos) {
        charset = std::string(v.substr(0, std::min(q1, kMaxCharsetName)));
        v = v.substr(q2 + 1);
      }
    }
    bytes += s->extended ? PercentDecode(v) : std::string(v);
  }
  return ToUtf8(bytes, charset);
}

// Reads the parameter value at `*i` (after '='): a quoted string or raw text up to ';'.
std::string ReadParamValue(std::string_view s, size_t* i) {
  while (*i < s.size() && IsWsp(s[*i])) ++*i;
  std::string out;
  if (*i < s.size() && s[*i] == '"') {
    ++*i;
    while (*i < s.size() && s[*i] != '"') {
      if (s[*i] == '\\' && *i + 1 < s.size()) ++*i;
      out.push_back(s[*i]);
      ++*i;
    }
    if (*i < s.size()) ++*i;                     // closing quote
    while (*i < s.size() && s[*i] != ';') ++*i;  // junk after the quoted string
    return out;
  }
  int comment_depth = 0;
  for (; *i < s.size() && (s[*i] != ';' || comment_depth > 0); ++*i) {
    char c = s[*i];
    if (c == '(') {
      ++comment_depth;
    } else if (c == ')' && comment_depth > 0) {
      --comment_depth;
    } else if (comment_depth == 0) {
      out.push_back(c);
    }
  }
  return std::string(Trim(out));
}

}  // namespace

std::string ToUtf8(std::string_view bytes, std::string_view charset) {
  if (bytes.empty()) return {};
  std::string name(Trim(charset).substr(0, kMaxCharsetName));
  UErrorCode err = U_ZERO_ERROR;
  ConverterPtr conv;
  if (!name.empty()) conv.reset(ucnv_open(name.c_str(), &err));
  if (!conv || U_FAILURE(err)) {
    err = U_ZERO_ERROR;
    conv.reset(ucnv_open("UTF-8", &err));
    if (!conv || U_FAILURE(err)) return std::string(bytes);
  }
  int32_t in_len = static_cast<int32_t>(std::min<size_t>(bytes.size(), INT32_MAX / 4));
  err = U_ZERO_ERROR;
  int32_t u16_len = ucnv_toUChars(conv.get(), nullptr, 0, bytes.data(), in_len, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return {};
  std::vector<UChar> u16(static_cast<size_t>(u16_len) + 1);
  err = U_ZERO_ERROR;
  u16_len = ucnv_toUChars(conv.get(), u16.data(), static_cast<int32_t>(u16.size()), bytes.data(),
                          in_len, &err);
  if (U_FAILURE(err)) return {};
  int32_t utf8_len = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8WithSub(nullptr, 0, &utf8_len, u16.data(), u16_len, 0xFFFD, nullptr, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) return {};
  std::string out(static_cast<size_t>(utf8_len), '\0');
  err = U_ZERO_ERROR;
  u_strToUTF8WithSub(out.data(), utf8_len, &utf8_len, u16.data(), u16_len, 0xFFFD, nullptr, &err);
  if (U_FAILURE(err)) return {};
  out.resize(static_cast<size_t>(utf8_len));
  return out;
}

std::string DecodeEncodedWords(std::string_view value) {
  std::string out;
  std::string text;                      // literal text since the last encoded word
  std::string word_charset, word_bytes;  // adjacent words in one charset, not yet converted
  bool after_word = false;
  auto flush_word = [&] {
    if (!word_bytes.empty()) out += ToUtf8(word_bytes, word_charset);
    word_bytes.clear();
  };
  auto flush_text = [&] {
    if (!text.empty()) out += ToUtf8(text, "utf-8");
    text.clear();
  };
  EncodedWord word;
  for (size_t i = 0; i < value.size();) {
    size_t length = 0;
    if (value[i] == '=' && i + 1 < value.size() && value[i + 1] == '?' &&
        ParseEncodedWord(value.substr(i), &word, &length)) {
      bool only_space = std::all_of(text.begin(), text.end(), IsWsp);
      if (after_word && only_space) {
        text.clear();  // whitespace between adjacent encoded words is not displayed
      } else {
        flush_word();
        flush_text();
      }
      if (word.charset != word_charset) flush_word();
      word_charset = word.charset;
      word_bytes += word.bytes;
      after_word = true;
      i += length;
      continue;
    }
    if (after_word && !IsWsp(value[i])) {
      flush_word();
      after_word = false;
    }
    text.push_back(value[i]);
    ++i;
  }
  flush_word();
  flush_text();
  return out;
}

const ParameterizedHeader::Param* ParameterizedHeader::Find(std::string_view name) const {
  for (const Param& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string ParameterizedHeader::DecodedValue(std::string_view name) const {
  const Param* p = Find(name);
  if (p == nullptr) return {};
  return p->extended ? p->value : DecodeEncodedWords(p->value);
}

ParameterizedHeader ParseParameterizedHeader(std::string_view s, size_t max_params) {
  ParameterizedHeader result;
  size_t i = 0;
  int comment_depth = 0;
  for (; i < s.size() && (s[i] != ';' || comment_depth > 0); ++i) {
    char c = s[i];
    if (c == '(') {
      ++comment_depth;
    } else if (c == ')' && comment_depth > 0) {
      --comment_depth;
    } else if (comment_depth == 0 && !IsWsp(c)) {
      result.value.push_back(Lower(c));
    }
  }
  std::vector<RawParam> raw;
  while (i < s.size()) {
    ++i;  // the ';'
    size_t eq = i;
    while (eq < s.size() && s[eq] != '=' && s[eq] != ';') ++eq;
    if (eq >= s.size() || s[eq] == ';') {  // "; junk" without '='
      i = eq;
      continue;
    }
    std::string_view name = Trim(s.substr(i, eq - i));
    i = eq + 1;
    std::string value = ReadParamValue(s, &i);
    if (raw.size() >= max_params) {
      result.too_many_params = true;
      break;
    }
    RawParam p;
    if (!ClassifyName(name, &p)) continue;
    p.value = std::move(value);
    raw.push_back(std::move(p));
  }
  // Assemble per base name, in order of first appearance.
  for (size_t k = 0; k < raw.size(); ++k) {
    const std::string& base = raw[k].base;
    if (result.Find(base) != nullptr) continue;
    std::vector<const RawParam*> pieces;
    const RawParam* plain = nullptr;
    for (size_t j = k; j < raw.size(); ++j) {
      if (raw[j].base != base) continue;
      if (raw[j].section < 0 && !raw[j].extended) {
        if (plain == nullptr) plain = &raw[j];
      } else {
        pieces.push_back(&raw[j]);
      }
    }
    std::optional<std::string> v;
    if (!pieces.empty()) v = AssembleExtended(pieces);
    if (v) {
      result.params.push_back({base, std::move(*v), true});
    } else if (plain != nullptr) {
      result.params.push_back({base, plain->value, false});
    }
  }
  return result;
}

}  // namespace mailwarden::mime

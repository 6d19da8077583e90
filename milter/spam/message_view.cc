// Builds the spam scorers' view of a message (see message_view.h).
//
// Distrusted: every header value (encoded words in any charset, raw 8-bit bytes, address
// syntax that never closes a quote, a comment or an angle bracket), every body (any
// charset, any size, URLs with no end) and the HTML markup (html_text.cc).
//
// Limits: header fields past ViewLimits::max_headers are not decoded and each value is
// read for max_header_bytes; body text stops at max_text_bytes, an HTML body's source is
// read for kHtmlSourceFactor times that; links stop at max_links, each URL at
// kMaxUrlBytes; the raw message at max_raw_bytes; a host given to IDNA at kMaxIdnaBytes.
// Every scan moves forward only, so the work is linear in what is read.
//
// Failure: none. Malformed input gives empty fields (an address that does not parse is
// ""), never an error.
#include "milter/spam/message_view.h"

#include <unicode/uchar.h>
#include <unicode/uidna.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <unordered_set>

#include "common/ascii.h"
#include "milter/mime/header_words.h"
#include "milter/mime/vietnamese_text.h"
#include "milter/spam/normalize.h"
#include "milter/text/html_text.h"
#include "milter/text/part_text.h"

namespace mailwarden::spam {
namespace {

constexpr size_t kMaxUrlBytes = 2048;
// An HTML body's source is read up to this multiple of max_text_bytes: markup outweighs
// text several times in mail, so a smaller window would lose the text it holds.
constexpr size_t kHtmlSourceFactor = 16;
constexpr size_t kMinHtmlSourceBytes = 1 << 20;
constexpr size_t kMaxDisplayBytes = 1024;
// A longer name cannot be 253 bytes in ASCII; ICU is not asked.
constexpr size_t kMaxIdnaBytes = 1024;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char LowerChar(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Eight bytes at a time: this runs over every body.
bool HasNonAscii(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if ((word & 0x8080808080808080ull) != 0) return true;
  }
  for (; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return true;
  }
  return false;
}

// Charsets whose ASCII bytes mean ASCII characters: text in them that is all ASCII is
// already UTF-8 in NFC. (UTF-7, UTF-16, ISO-2022 and VISCII give 7-bit bytes other
// meanings.)
bool ExtendsAscii(std::string_view charset) {
  auto starts = [&](std::string_view p) { return charset.substr(0, p.size()) == p; };
  return charset.empty() || charset == "us-ascii" || charset == "ascii" || charset == "utf-8" ||
         charset == "utf8" || charset == "latin1" || starts("iso-8859-") || starts("windows-125") ||
         starts("cp125") || starts("koi8-") || charset == "tis-620";
}

bool StartsWithNoCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    if (LowerChar(s[i]) != lower_prefix[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A folded value on one line: the line ends of the folds removed (RFC 5322 unfolding),
// trimmed.
std::string Unfold(std::string_view value) {
  value = Trim(value);
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
  return out;
}

// Header text as UTF-8 NFC: encoded words decoded; raw 8-bit bytes that are not UTF-8
// read as windows-1252 (as undeclared body text is).
std::string DecodeHeaderText(std::string_view text) {
  bool words = text.find("=?") != std::string_view::npos;
  bool non_ascii = HasNonAscii(text);
  if (!words && !non_ascii) return std::string(text);
  std::string utf8;
  if (non_ascii && !mime::IsValidUtf8(text)) {
    utf8 = mime::ToUtf8(text, "windows-1252");
    text = utf8;
  }
  if (words) return mime::NfcNormalize(mime::DecodeEncodedWords(text));
  return mime::NfcNormalize(text);
}

bool IsValidAddress(std::string_view a) {
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  for (char c : a) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == ',' || c == '(' || c == ')' ||
        c == ';' || c == '\\') {
      return false;
    }
  }
  std::string_view domain = a.substr(at + 1);
  return domain.find('@') == std::string_view::npos && domain.front() != '.' &&
         domain.find("..") == std::string_view::npos;
}

// Display-name words joined by single spaces.
void AppendWord(std::string_view word, std::string* out) {
  if (word.empty()) return;
  if (!out->empty()) out->push_back(' ');
  out->append(word);
}

// "http://", "https://", "www." at `s`: the length of the prefix, 0 when none.
size_t UrlPrefix(std::string_view s) {
  if (StartsWithNoCase(s, "http://")) return 7;
  if (StartsWithNoCase(s, "https://")) return 8;
  if (StartsWithNoCase(s, "www.")) return 4;
  return 0;
}

// A URL may start at `i`: the text starts there or a word ended before it.
bool UrlMayStartAt(std::string_view text, size_t i) {
  if (i == 0) return true;
  char p = text[i - 1];
  return !(IsAlnum(p) || p == '.' || p == '-' || p == '_' || p == '/' || p == '@');
}

// Where the next "http://" or "https://" at or after `from` starts; npos when none.
size_t NextScheme(std::string_view text, size_t from) {
  for (size_t colon = text.find("://", from); colon != std::string_view::npos;
       colon = text.find("://", colon + 1)) {
    for (size_t back : {size_t{4}, size_t{5}}) {
      if (colon < back) continue;
      size_t start = colon - back;
      if (start >= from && UrlPrefix(text.substr(start)) == back + 3 &&
          UrlMayStartAt(text, start)) {
        return start;
      }
    }
  }
  return std::string_view::npos;
}

// Where the next "www." at or after `from` starts; npos when none.
size_t NextWww(std::string_view text, size_t from) {
  for (size_t dot = text.find('.', from + std::min<size_t>(3, text.size()));
       dot != std::string_view::npos; dot = text.find('.', dot + 1)) {
    if (dot < 3) continue;
    size_t start = dot - 3;
    if (start >= from && StartsWithNoCase(text.substr(start), "www.") &&
        UrlMayStartAt(text, start)) {
      return start;
    }
  }
  return std::string_view::npos;
}

// Bytes a URL written in text runs on with: printable ASCII other than quotes, angle
// brackets and the characters RFC 3986 leaves out.
bool IsUrlByte(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return c != '<' && c != '>' && c != '"' && c != '\'' && c != '`' && c != '{' && c != '}' &&
         c != '|' && c != '\\' && c != '^';
}

// The length of the character at `i` when a URL written in text runs on with it, 0 when
// the URL ends before it: IsUrlByte() for ASCII; beyond ASCII, letters, marks and digits
// only, so that an internationalised name ("http://bộcôngan.vn/") is read whole while the
// curly quote, non-breaking space or ideographic full stop after a URL ends it.
size_t UrlCharLength(std::string_view text, size_t i) {
  const auto u = static_cast<unsigned char>(text[i]);
  if (u < 0x80) return IsUrlByte(text[i]) ? 1 : 0;
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(std::min<size_t>(text.size(), INT32_MAX));
  auto next = static_cast<int32_t>(i);
  UChar32 c = 0;
  U8_NEXT(s, next, length, c);
  if (c < 0) return 0;
  const bool part = u_isalnum(c) || (U_GET_GC_MASK(c) & U_GC_M_MASK) != 0;
  return part ? static_cast<size_t>(next) - i : 0;
}

// An ASCII host name lower-cased, without the trailing dots of a fully qualified name.
std::string LowerWithoutRootDots(std::string_view host) {
  std::string lower = AsciiLower(host);
  while (!lower.empty() && lower.back() == '.') lower.pop_back();
  return lower;
}

// The UTS #46 converter, made once; ICU allows concurrent use of one. Null when ICU
// cannot make it (its data missing): every non-ASCII name is then refused.
const UIDNA* Uts46() {
  static const UIDNA* const idna = [] {
    UErrorCode status = U_ZERO_ERROR;
    UIDNA* made = uidna_openUTS46(
        UIDNA_NONTRANSITIONAL_TO_ASCII | UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ, &status);
    return U_SUCCESS(status) ? made : nullptr;
  }();
  return idna;
}

// A link's host as Link::host keeps it: the ASCII form, or as written when IDNA refuses it.
std::string HostForm(std::string host) {
  if (!HasNonAscii(host)) return host;
  std::string ascii = AsciiHost(host);
  return ascii.empty() ? host : ascii;
}

// File extensions that a dotted word in a link's text is more likely to be than a domain.
bool IsFileExtension(std::string_view tld) {
  static constexpr std::string_view kExtensions[] = {
      "asp", "aspx", "cgi", "doc", "docx", "exe", "gif", "htm", "html", "jpeg", "jpg", "js",
      "pdf", "php",  "png", "ppt", "pptx", "rar", "txt", "xls", "xlsx", "xml",  "zip",
  };
  return std::find(std::begin(kExtensions), std::end(kExtensions), tld) != std::end(kExtensions);
}

// The host a link's visible text shows, when the text is a URL or a domain ("www.bank.vn",
// "https://bank.vn/login", "Bank.vn"); "" for any other text.
std::string TextHost(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 300) return {};
  for (char c : text) {
    if (IsSpace(c)) return {};
  }
  std::string_view rest = text;
  if (size_t scheme = text.find("://"); scheme != std::string_view::npos) {
    if (!StartsWithNoCase(text, "http://") && !StartsWithNoCase(text, "https://")) return {};
    return UrlHost(text);
  }
  if (rest.find('@') != std::string_view::npos) return {};  // an address, not a link
  size_t end = rest.find_first_of("/?#:");
  std::string host = AsciiLower(rest.substr(0, end));
  while (!host.empty() && host.back() == '.') host.pop_back();
  // Labels of letters, digits and '-' (or non-ASCII: an internationalised name), at least
  // two, the last one alphabetic.
  size_t labels = 0;
  size_t start = 0;
  std::string_view last;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string::npos) dot = host.size();
    std::string_view label = std::string_view(host).substr(start, dot - start);
    if (label.empty()) return {};
    for (char c : label) {
      if (!IsAlnum(c) && c != '-' && static_cast<unsigned char>(c) < 0x80) return {};
    }
    ++labels;
    last = label;
    start = dot + 1;
  }
  if (labels < 2 || last.size() < 2 || IsFileExtension(last)) return {};
  for (char c : last) {
    if (IsAlnum(c) && !(c >= 'a' && c <= 'z')) return {};
  }
  return HostForm(std::move(host));
}

// Collects links, each URL (with the host its text shows) once, up to a cap.
class LinkCollector {
 public:
  LinkCollector(size_t max, MessageView* view) : max_(max), view_(view) {}

  // False once the cap is reached.
  bool Add(std::string_view url, std::string text_host, bool from_html) {
    if (view_->links_truncated) return false;
    url = url.substr(0, mime::Utf8Prefix(url, kMaxUrlBytes));
    std::string key(url);
    key.push_back('\0');
    key += text_host;
    if (!seen_.insert(std::move(key)).second) return true;
    if (view_->links.size() >= max_) {
      view_->links_truncated = true;
      return false;
    }
    Link link;
    link.url = std::string(url);
    link.host = UrlHost(url);
    link.text_host = std::move(text_host);
    link.from_html = from_html;
    view_->links.push_back(std::move(link));
    return true;
  }

  // A URL that an HTML link already shows as its text or has as its target: not a link of
  // its own when the same words turn up in the HTML body's text, even run together with
  // the text that follows (adjacent inline elements render without a space).
  void Shown(std::string_view url) {
    if (!url.empty()) shown_.emplace_back(url);
  }
  bool WasShown(std::string_view url) const {
    return std::any_of(shown_.begin(), shown_.end(),
                       [&](const std::string& s) { return url.substr(0, s.size()) == s; });
  }

  // The URLs written in `text`. Candidates are found from "://" and from the dot of
  // "www.", both rare in text, so the scan runs at memchr speed.
  void Scan(std::string_view text, bool from_html) {
    size_t colon = 0, dot = 0;  // where the next search for each starts
    size_t pos = 0;
    while (pos < text.size()) {
      size_t c = NextScheme(text, std::max(colon, pos));
      size_t w = NextWww(text, std::max(dot, pos));
      colon = c;
      dot = w;
      size_t start = std::min(c, w);
      if (start == std::string_view::npos) return;
      size_t prefix = UrlPrefix(text.substr(start));
      size_t end = start + prefix;
      while (end < text.size()) {
        const size_t n = UrlCharLength(text, end);
        if (n == 0) break;
        end += n;
      }
      pos = end;
      std::string_view url = text.substr(start, end - start);
      bool parens = url.find('(') != std::string_view::npos;
      while (url.size() > prefix) {
        char last = url.back();
        if (last == '.' || last == ',' || last == ';' || last == ':' || last == '!' ||
            last == '?' || last == ']' || last == '*' || (last == ')' && !parens)) {
          url.remove_suffix(1);
        } else {
          break;
        }
      }
      if (url.size() == prefix || UrlHost(url).empty()) continue;
      if (from_html && WasShown(url)) continue;
      if (!Add(url, {}, from_html)) return;
    }
  }

 private:
  size_t max_;
  MessageView* view_;
  std::unordered_set<std::string> seen_;
  std::vector<std::string> shown_;
};

// HTML link targets that lead somewhere by host: http(s), ftp, protocol-relative, www.
bool IsWebTarget(std::string_view href) {
  return StartsWithNoCase(href, "http://") || StartsWithNoCase(href, "https://") ||
         StartsWithNoCase(href, "ftp://") || href.substr(0, 2) == "//" ||
         StartsWithNoCase(href, "www.");
}

// Appends `text` to the view's body text with LF line ends, within max_text_bytes; text
// that does not end a line gets a '\n'. Returns the part appended.
std::string_view AppendBody(std::string_view text, size_t max, MessageView* view) {
  std::string& body = view->body_text;
  size_t from = body.size();
  size_t room = max - std::min(max, body.size());
  if (room == 0) {
    if (!text.empty()) view->text_truncated = true;
    return {};
  }
  // CRLF and lone CR become LF; runs without CR are copied whole.
  size_t i = 0;
  while (i < text.size() && body.size() - from <= room) {
    size_t cr = text.find('\r', i);
    if (cr == std::string_view::npos) cr = text.size();
    body.append(text.substr(i, std::min(cr - i, room + 1 - (body.size() - from))));
    if (cr == text.size()) break;
    body.push_back('\n');
    i = cr + 1;
    if (i < text.size() && text[i] == '\n') ++i;
  }
  if (body.size() > from && body.back() != '\n') body.push_back('\n');
  if (body.size() - from > room) {
    std::string_view added = std::string_view(body).substr(from);
    body.resize(from + mime::Utf8Prefix(added, room));
    view->text_truncated = true;
  }
  return std::string_view(body).substr(from);
}

// True when `s` is well-formed UTF-8 whose characters are all below U+0300 or in Latin
// Extended Additional (U+1E00-U+1EFF, the precomposed Vietnamese letters) or General
// Punctuation past its spaces (U+2010-U+206F): such text is in NFC, as none of these
// characters decomposes or combines. Other text says nothing (ICU decides).
bool IsPlainNfcUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    char32_t c;
    if ((*p & 0xE0) == 0xC0) {
      if (end - p < 2 || (p[1] & 0xC0) != 0x80 || *p < 0xC2) return false;
      c = (*p & 0x1F) << 6 | (p[1] & 0x3F);
      p += 2;
    } else if ((*p & 0xF0) == 0xE0) {
      if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return false;
      c = (*p & 0x0F) << 12 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F);
      p += 3;
    } else {
      return false;
    }
    if (c >= 0x300 && !(c >= 0x1E00 && c <= 0x1EFF) && !(c >= 0x2010 && c <= 0x206F)) {
      return false;
    }
  }
  return true;
}

// A main body's kept content as UTF-8 in NFC, at most `max` bytes, read in `charset`
// (text::ExtractPartText, which handles undeclared 8-bit text). Text that is already UTF-8
// in NFC (ASCII in a charset that extends ASCII; plain Vietnamese in UTF-8) is only cut:
// most mail, and the reason this view is cheap. The result views part.content or
// *storage; a cut sets text_truncated.
std::string_view DecodeBody(const mime::MimePart& part, std::string_view charset, size_t max,
                            std::string* storage, MessageView* view) {
  std::string_view content(part.content);
  bool ready = ExtendsAscii(charset) && !HasNonAscii(content);
  if (!ready && (charset.empty() || charset == "utf-8" || charset == "utf8")) {
    ready = IsPlainNfcUtf8(content);
  }
  if (ready) {
    if (content.size() > max) view->text_truncated = true;
    return content.substr(0, mime::Utf8Prefix(content, max));
  }
  text::TextInput in = text::InputOf(part, false);
  in.charset = charset;
  text::TextLimits limits;
  limits.max_text_bytes = max;
  text::ExtractedText t = text::ExtractPartText(in, text::TextKind::kPlain, limits);
  if (t.truncated) view->text_truncated = true;
  *storage = std::move(t.text);
  return *storage;
}

}  // namespace

std::string UrlHost(std::string_view url) {
  std::string_view rest;
  if (size_t colon = url.find("://"); colon != std::string_view::npos && colon > 0) {
    for (char c : url.substr(0, colon)) {
      if (!IsAlnum(c) && c != '+' && c != '-' && c != '.') return {};
    }
    rest = url.substr(colon + 3);
  } else if (url.substr(0, 2) == "//") {
    rest = url.substr(2);
  } else if (StartsWithNoCase(url, "www.")) {
    rest = url;
  } else {
    return {};
  }
  rest = rest.substr(0, rest.find_first_of("/?#\\"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  const bool literal = !rest.empty() && rest.front() == '[';  // an IPv6 address
  if (literal) {
    size_t close = rest.find(']');
    rest = close == std::string_view::npos ? std::string_view() : rest.substr(1, close - 1);
  } else {
    rest = rest.substr(0, rest.find(':'));
  }
  std::string host = AsciiLower(rest.substr(0, 253));
  while (!host.empty() && host.back() == '.') host.pop_back();
  // Controls, spaces and the characters that delimit URLs in text are in no host name (and
  // must not reach a signal's detail as one).
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == '"') return {};
  }
  return literal ? host : HostForm(std::move(host));
}

std::string AsciiHost(std::string_view host) {
  if (!HasNonAscii(host)) return LowerWithoutRootDots(host);
  const UIDNA* idna = Uts46();
  if (idna == nullptr || host.size() > kMaxIdnaBytes) return {};
  char out[512];
  UIDNAInfo info = UIDNA_INFO_INITIALIZER;
  UErrorCode status = U_ZERO_ERROR;
  int32_t n = uidna_nameToASCII_UTF8(idna, host.data(), static_cast<int32_t>(host.size()), out,
                                     sizeof out, &info, &status);
  if (U_FAILURE(status) || info.errors != 0 || n < 0 || n > static_cast<int32_t>(sizeof out)) {
    return {};
  }
  std::string ascii = LowerWithoutRootDots(std::string_view(out, static_cast<size_t>(n)));
  // Without the STD3 rules UTS #46 maps fullwidth '/', '<' or spaces to their ASCII
  // selves; such a name is none a link can lead to, and must not reach a log as one.
  for (char c : ascii) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return {};
  }
  return ascii;
}

Mailbox ParseMailbox(std::string_view value) {
  std::string line = Unfold(value);
  std::string_view v(line);
  std::string phrase, angle, comment;
  bool have_angle = false;
  for (size_t i = 0; i < v.size();) {
    char c = v[i];
    if (c == '"') {
      std::string word;
      for (++i; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        word.push_back(v[i]);
      }
      ++i;
      AppendWord(Trim(word), &phrase);
    } else if (c == '(') {
      int depth = 0;
      std::string text;
      for (; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) {
          text.push_back(v[++i]);
          continue;
        }
        if (v[i] == '(') {
          if (depth++ > 0) text.push_back('(');
        } else if (v[i] == ')') {
          if (--depth == 0) break;
          text.push_back(')');
        } else {
          text.push_back(v[i]);
        }
      }
      ++i;
      comment = std::string(Trim(text));
    } else if (c == '<') {
      size_t close = v.find('>', i + 1);
      if (close == std::string_view::npos) {
        angle.clear();  // never closed: no address
        have_angle = true;
        break;
      }
      if (!have_angle) angle = std::string(v.substr(i + 1, close - i - 1));
      have_angle = true;
      i = close + 1;
    } else if (c == ',') {
      // The first mailbox of a list ends here; before any address, it is a display
      // name's unquoted comma.
      if (have_angle || phrase.find('@') != std::string::npos) break;
      if (!phrase.empty()) phrase.push_back(',');
      ++i;
    } else if (c == ':' && !have_angle) {
      phrase.clear();  // a group's name: its first member follows
      comment.clear();
      ++i;
    } else if (c == ';' && !have_angle) {
      break;
    } else if (IsSpace(c)) {
      ++i;
    } else {
      size_t end = i;
      while (end < v.size() && !IsSpace(v[end]) && v[end] != '"' && v[end] != '(' &&
             v[end] != '<' && v[end] != ',' && v[end] != ';' && (v[end] != ':' || have_angle)) {
        ++end;
      }
      if (end == i) end = i + 1;
      AppendWord(v.substr(i, end - i), &phrase);
      i = end;
    }
  }
  Mailbox box;
  std::string address;
  std::string display;
  if (have_angle) {
    std::string_view a = Trim(angle);
    if (size_t route = a.rfind(':'); route != std::string_view::npos && a.front() == '@') {
      a = a.substr(route + 1);  // obsolete source route "@relay:user@domain"
    }
    address = std::string(a);
    display = phrase;
  } else {
    address = phrase;
    display = comment;
  }
  if (IsValidAddress(address)) box.address = AsciiLower(address);
  if (display.size() > kMaxDisplayBytes) {
    display.resize(mime::Utf8Prefix(display, kMaxDisplayBytes));
  }
  box.display = DecodeHeaderText(display);
  return box;
}

MessageView BuildMessageView(const Message& message, const ViewLimits& limits) {
  MessageView view;
  const std::vector<HeaderField>& fields = message.headers();
  view.headers.reserve(std::min(fields.size(), limits.max_headers));
  for (const HeaderField& h : fields) {
    if (view.headers.size() >= limits.max_headers) break;
    std::string_view value(h.value);
    value = value.substr(0, limits.max_header_bytes);
    view.headers.push_back({h.name, DecodeHeaderText(Unfold(value))});
  }
  auto bounded = [&](const HeaderField* h) {
    return std::string_view(h->value).substr(0, limits.max_header_bytes);
  };
  if (const HeaderField* h = message.FindHeader("Subject")) {
    view.subject = DecodeHeaderText(Unfold(bounded(h)));
  }
  if (const HeaderField* h = message.FindHeader("From")) {
    Mailbox from = ParseMailbox(bounded(h));
    view.from_address = std::move(from.address);
    view.from_display = std::move(from.display);
  }
  if (const HeaderField* h = message.FindHeader("Reply-To")) {
    view.reply_to_address = ParseMailbox(bounded(h)).address;
  }

  LinkCollector links(limits.max_links, &view);
  const std::vector<ContentPart>& parts = message.content().parts;
  // Plain bodies first, then HTML (see spam_types.h).
  for (const ContentPart& cp : parts) {
    const mime::MimePart& part = cp.part;
    if (!part.is_main_body || part.content_type != "text/plain") continue;
    view.has_text_part = true;
    if (!part.kept) continue;
    if (part.truncated) view.text_truncated = true;
    text::TextLimits tl;
    tl.max_text_bytes =
        limits.max_text_bytes - std::min(limits.max_text_bytes, view.body_text.size());
    if (tl.max_text_bytes == 0) {
      if (part.size > 0) view.text_truncated = true;
      continue;
    }
    std::string storage;
    std::string_view t = DecodeBody(part, part.charset, tl.max_text_bytes, &storage, &view);
    links.Scan(AppendBody(t, limits.max_text_bytes, &view), false);
  }
  for (const ContentPart& cp : parts) {
    const mime::MimePart& part = cp.part;
    if (!part.is_main_body || part.content_type != "text/html") continue;
    view.has_html_part = true;
    view.html_bytes += part.size;
    if (!part.kept) continue;
    if (part.truncated) view.text_truncated = true;
    // The source decoded from its charset (one the part or a <meta> declares), then reduced.
    std::string declared = part.charset;
    if (declared.empty()) {
      declared = text::HtmlDeclaredCharset(std::string_view(part.content).substr(0, 4096));
    }
    std::string storage;
    std::string_view source = DecodeBody(
        part, declared, std::max(kMinHtmlSourceBytes, limits.max_text_bytes * kHtmlSourceFactor),
        &storage, &view);
    text::HtmlStats stats;
    stats.max_anchors = limits.max_links;
    text::TextLimits tl;
    tl.max_text_bytes = limits.max_text_bytes;
    text::ExtractedText t = text::HtmlToText(source, tl, &stats);
    view.html_markup_bytes += stats.markup_bytes;
    view.html_images += stats.images;
    view.invisible_text_bytes += stats.invisible_text_bytes;
    if (t.truncated) view.text_truncated = true;
    for (const text::HtmlAnchor& a : stats.anchors) {
      if (!IsWebTarget(a.href)) continue;
      std::string shows = TextHost(a.text);
      links.Shown(a.href);
      if (!shows.empty()) links.Shown(Trim(a.text));
      links.Add(a.href, std::move(shows), true);
    }
    if (stats.anchors_truncated) view.links_truncated = true;
    links.Scan(AppendBody(t.text, limits.max_text_bytes, &view), true);
  }

  view.body_folded = FoldCase(view.body_text);
  std::string_view raw(message.raw());
  view.raw = std::string(raw.substr(0, limits.max_raw_bytes));
  view.client_addr = message.envelope().client_addr;
  view.helo = message.envelope().helo;
  return view;
}

}  // namespace mailwarden::spam

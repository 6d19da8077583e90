// HTML reducer (see html_text.h for what it returns).
//
// Distrusted: the whole document. Tags may never end, quotes may never close, comments and
// script elements may run to the end of the input, entities may be endless runs of digits
// or letters, and text may be many megabytes on one line.
//
// Limits: one pass; every search for the end of a tag, comment or raw-text element moves
// forward from where the last one stopped, so each byte is looked at a bounded number of
// times. A tag longer than kMaxHtmlTagBytes is damaged (skipped to its end); entity names
// are read for at most kMaxEntityName characters and numeric references for their first
// digits only; output at most limits.max_text_bytes ("max_text": reading stops there).
// With HtmlStats: at most kMaxHtmlOpenElements open elements are followed (an end tag finds
// its element through a count per name, so stray end tags cost nothing), at most
// max_anchors links are kept, each href and link text cut to its bound.
//
// Failure: none. Input the document ends inside (a tag, a comment, a never closed script)
// gives `damaged` and the text before it. Invalid UTF-8 becomes U+FFFD (NFC at the end).
#include "milter/text/html_text.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "milter/mime/vietnamese_text.h"

namespace mailwarden::text {
namespace {

constexpr size_t kMaxEntityName = 32;
constexpr size_t kMaxTagName = 16;  // longer names are no element this reader knows
constexpr size_t kCharsetScanBytes = 4096;

struct Entity {
  std::string_view name;
  char32_t code_point;
  bool legacy;  // also recognised without the final ';' (as browsers do)
};

// The 252 named character references of HTML 4.01, &apos;, and the upper-case forms
// browsers accept for six of them; sorted by name (byte order) for binary search.
constexpr Entity kEntities[] = {
    {"AElig", 0x00C6, true},    {"AMP", 0x0026, true},      {"Aacute", 0x00C1, true},
    {"Acirc", 0x00C2, true},    {"Agrave", 0x00C0, true},   {"Alpha", 0x0391, false},
    {"Aring", 0x00C5, true},    {"Atilde", 0x00C3, true},   {"Auml", 0x00C4, true},
    {"Beta", 0x0392, false},    {"COPY", 0x00A9, true},     {"Ccedil", 0x00C7, true},
    {"Chi", 0x03A7, false},     {"Dagger", 0x2021, false},  {"Delta", 0x0394, false},
    {"ETH", 0x00D0, true},      {"Eacute", 0x00C9, true},   {"Ecirc", 0x00CA, true},
    {"Egrave", 0x00C8, true},   {"Epsilon", 0x0395, false}, {"Eta", 0x0397, false},
    {"Euml", 0x00CB, true},     {"GT", 0x003E, true},       {"Gamma", 0x0393, false},
    {"Iacute", 0x00CD, true},   {"Icirc", 0x00CE, true},    {"Igrave", 0x00CC, true},
    {"Iota", 0x0399, false},    {"Iuml", 0x00CF, true},     {"Kappa", 0x039A, false},
    {"LT", 0x003C, true},       {"Lambda", 0x039B, false},  {"Mu", 0x039C, false},
    {"Ntilde", 0x00D1, true},   {"Nu", 0x039D, false},      {"OElig", 0x0152, false},
    {"Oacute", 0x00D3, true},   {"Ocirc", 0x00D4, true},    {"Ograve", 0x00D2, true},
    {"Omega", 0x03A9, false},   {"Omicron", 0x039F, false}, {"Oslash", 0x00D8, true},
    {"Otilde", 0x00D5, true},   {"Ouml", 0x00D6, true},     {"Phi", 0x03A6, false},
    {"Pi", 0x03A0, false},      {"Prime", 0x2033, false},   {"Psi", 0x03A8, false},
    {"QUOT", 0x0022, true},     {"REG", 0x00AE, true},      {"Rho", 0x03A1, false},
    {"Scaron", 0x0160, false},  {"Sigma", 0x03A3, false},   {"THORN", 0x00DE, true},
    {"Tau", 0x03A4, false},     {"Theta", 0x0398, false},   {"Uacute", 0x00DA, true},
    {"Ucirc", 0x00DB, true},    {"Ugrave", 0x00D9, true},   {"Upsilon", 0x03A5, false},
    {"Uuml", 0x00DC, true},     {"Xi", 0x039E, false},      {"Yacute", 0x00DD, true},
    {"Yuml", 0x0178, false},    {"Zeta", 0x0396, false},    {"aacute", 0x00E1, true},
    {"acirc", 0x00E2, true},    {"acute", 0x00B4, true},    {"aelig", 0x00E6, true},
    {"agrave", 0x00E0, true},   {"alefsym", 0x2135, false}, {"alpha", 0x03B1, false},
    {"amp", 0x0026, true},      {"and", 0x2227, false},     {"ang", 0x2220, false},
    {"apos", 0x0027, false},    {"aring", 0x00E5, true},    {"asymp", 0x2248, false},
    {"atilde", 0x00E3, true},   {"auml", 0x00E4, true},     {"bdquo", 0x201E, false},
    {"beta", 0x03B2, false},    {"brvbar", 0x00A6, true},   {"bull", 0x2022, false},
    {"cap", 0x2229, false},     {"ccedil", 0x00E7, true},   {"cedil", 0x00B8, true},
    {"cent", 0x00A2, true},     {"chi", 0x03C7, false},     {"circ", 0x02C6, false},
    {"clubs", 0x2663, false},   {"cong", 0x2245, false},    {"copy", 0x00A9, true},
    {"crarr", 0x21B5, false},   {"cup", 0x222A, false},     {"curren", 0x00A4, true},
    {"dArr", 0x21D3, false},    {"dagger", 0x2020, false},  {"darr", 0x2193, false},
    {"deg", 0x00B0, true},      {"delta", 0x03B4, false},   {"diams", 0x2666, false},
    {"divide", 0x00F7, true},   {"eacute", 0x00E9, true},   {"ecirc", 0x00EA, true},
    {"egrave", 0x00E8, true},   {"empty", 0x2205, false},   {"emsp", 0x2003, false},
    {"ensp", 0x2002, false},    {"epsilon", 0x03B5, false}, {"equiv", 0x2261, false},
    {"eta", 0x03B7, false},     {"eth", 0x00F0, true},      {"euml", 0x00EB, true},
    {"euro", 0x20AC, false},    {"exist", 0x2203, false},   {"fnof", 0x0192, false},
    {"forall", 0x2200, false},  {"frac12", 0x00BD, true},   {"frac14", 0x00BC, true},
    {"frac34", 0x00BE, true},   {"frasl", 0x2044, false},   {"gamma", 0x03B3, false},
    {"ge", 0x2265, false},      {"gt", 0x003E, true},       {"hArr", 0x21D4, false},
    {"harr", 0x2194, false},    {"hearts", 0x2665, false},  {"hellip", 0x2026, false},
    {"iacute", 0x00ED, true},   {"icirc", 0x00EE, true},    {"iexcl", 0x00A1, true},
    {"igrave", 0x00EC, true},   {"image", 0x2111, false},   {"infin", 0x221E, false},
    {"int", 0x222B, false},     {"iota", 0x03B9, false},    {"iquest", 0x00BF, true},
    {"isin", 0x2208, false},    {"iuml", 0x00EF, true},     {"kappa", 0x03BA, false},
    {"lArr", 0x21D0, false},    {"lambda", 0x03BB, false},  {"lang", 0x2329, false},
    {"laquo", 0x00AB, true},    {"larr", 0x2190, false},    {"lceil", 0x2308, false},
    {"ldquo", 0x201C, false},   {"le", 0x2264, false},      {"lfloor", 0x230A, false},
    {"lowast", 0x2217, false},  {"loz", 0x25CA, false},     {"lrm", 0x200E, false},
    {"lsaquo", 0x2039, false},  {"lsquo", 0x2018, false},   {"lt", 0x003C, true},
    {"macr", 0x00AF, true},     {"mdash", 0x2014, false},   {"micro", 0x00B5, true},
    {"middot", 0x00B7, true},   {"minus", 0x2212, false},   {"mu", 0x03BC, false},
    {"nabla", 0x2207, false},   {"nbsp", 0x00A0, true},     {"ndash", 0x2013, false},
    {"ne", 0x2260, false},      {"ni", 0x220B, false},      {"not", 0x00AC, true},
    {"notin", 0x2209, false},   {"nsub", 0x2284, false},    {"ntilde", 0x00F1, true},
    {"nu", 0x03BD, false},      {"oacute", 0x00F3, true},   {"ocirc", 0x00F4, true},
    {"oelig", 0x0153, false},   {"ograve", 0x00F2, true},   {"oline", 0x203E, false},
    {"omega", 0x03C9, false},   {"omicron", 0x03BF, false}, {"oplus", 0x2295, false},
    {"or", 0x2228, false},      {"ordf", 0x00AA, true},     {"ordm", 0x00BA, true},
    {"oslash", 0x00F8, true},   {"otilde", 0x00F5, true},   {"otimes", 0x2297, false},
    {"ouml", 0x00F6, true},     {"para", 0x00B6, true},     {"part", 0x2202, false},
    {"permil", 0x2030, false},  {"perp", 0x22A5, false},    {"phi", 0x03C6, false},
    {"pi", 0x03C0, false},      {"piv", 0x03D6, false},     {"plusmn", 0x00B1, true},
    {"pound", 0x00A3, true},    {"prime", 0x2032, false},   {"prod", 0x220F, false},
    {"prop", 0x221D, false},    {"psi", 0x03C8, false},     {"quot", 0x0022, true},
    {"rArr", 0x21D2, false},    {"radic", 0x221A, false},   {"rang", 0x232A, false},
    {"raquo", 0x00BB, true},    {"rarr", 0x2192, false},    {"rceil", 0x2309, false},
    {"rdquo", 0x201D, false},   {"real", 0x211C, false},    {"reg", 0x00AE, true},
    {"rfloor", 0x230B, false},  {"rho", 0x03C1, false},     {"rlm", 0x200F, false},
    {"rsaquo", 0x203A, false},  {"rsquo", 0x2019, false},   {"sbquo", 0x201A, false},
    {"scaron", 0x0161, false},  {"sdot", 0x22C5, false},    {"sect", 0x00A7, true},
    {"shy", 0x00AD, true},      {"sigma", 0x03C3, false},   {"sigmaf", 0x03C2, false},
    {"sim", 0x223C, false},     {"spades", 0x2660, false},  {"sub", 0x2282, false},
    {"sube", 0x2286, false},    {"sum", 0x2211, false},     {"sup", 0x2283, false},
    {"sup1", 0x00B9, true},     {"sup2", 0x00B2, true},     {"sup3", 0x00B3, true},
    {"supe", 0x2287, false},    {"szlig", 0x00DF, true},    {"tau", 0x03C4, false},
    {"there4", 0x2234, false},  {"theta", 0x03B8, false},   {"thetasym", 0x03D1, false},
    {"thinsp", 0x2009, false},  {"thorn", 0x00FE, true},    {"tilde", 0x02DC, false},
    {"times", 0x00D7, true},    {"trade", 0x2122, false},   {"uArr", 0x21D1, false},
    {"uacute", 0x00FA, true},   {"uarr", 0x2191, false},    {"ucirc", 0x00FB, true},
    {"ugrave", 0x00F9, true},   {"uml", 0x00A8, true},      {"upsih", 0x03D2, false},
    {"upsilon", 0x03C5, false}, {"uuml", 0x00FC, true},     {"weierp", 0x2118, false},
    {"xi", 0x03BE, false},      {"yacute", 0x00FD, true},   {"yen", 0x00A5, true},
    {"yuml", 0x00FF, true},     {"zeta", 0x03B6, false},    {"zwj", 0x200D, false},
    {"zwnj", 0x200C, false},
};

static_assert(std::size(kEntities) == 259);

const Entity* FindEntity(std::string_view name) {
  auto it = std::lower_bound(std::begin(kEntities), std::end(kEntities), name,
                             [](const Entity& e, std::string_view n) { return e.name < n; });
  if (it == std::end(kEntities) || it->name != name) return nullptr;
  return it;
}

bool IsAsciiAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(unsigned char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }
bool IsHtmlSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != lower[i]) return false;
  }
  return true;
}

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Elements whose start and end end the current line.
bool IsBlock(std::string_view tag) {
  static constexpr std::string_view kBlocks[] = {
      "address",    "article", "aside",    "blockquote", "body",  "br",       "caption", "center",
      "dd",         "details", "dialog",   "dir",        "div",   "dl",       "dt",      "fieldset",
      "figcaption", "figure",  "footer",   "form",       "frame", "frameset", "h1",      "h2",
      "h3",         "h4",      "h5",       "h6",         "head",  "header",   "hgroup",  "hr",
      "html",       "legend",  "li",       "listing",    "main",  "menu",     "nav",     "ol",
      "optgroup",   "option",  "p",        "plaintext",  "pre",   "section",  "summary", "table",
      "tbody",      "td",      "textarea", "tfoot",      "th",    "thead",    "title",   "tr",
      "ul",         "xmp",
  };
  return std::find(std::begin(kBlocks), std::end(kBlocks), tag) != std::end(kBlocks);
}

// Elements whose content is not shown: skipped to their end tag.
bool IsSkippedContent(std::string_view tag) {
  return tag == "script" || tag == "style" || tag == "template" || tag == "iframe" ||
         tag == "noembed" || tag == "noframes";
}

bool IsPreformatted(std::string_view tag) {
  return tag == "pre" || tag == "listing" || tag == "textarea" || tag == "xmp" ||
         tag == "plaintext";
}

// Where the tag that starts at `start` ('<') ends: the index of its '>', or npos. A '>'
// inside a quoted attribute value does not end the tag.
size_t FindTagEnd(std::string_view in, size_t start) {
  char quote = 0;
  bool after_equals = false;
  for (size_t i = start + 1; i < in.size(); ++i) {
    char c = in[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '>') return i;
    if (c == '=') {
      after_equals = true;
    } else if ((c == '"' || c == '\'') && after_equals) {
      quote = c;
      after_equals = false;
    } else if (!IsHtmlSpace(static_cast<unsigned char>(c))) {
      after_equals = false;
    }
  }
  return std::string_view::npos;
}

// The lower-case name of the tag whose name starts at `i`; `*end` receives where it ends.
std::string TagName(std::string_view in, size_t i, size_t* end) {
  std::string name;
  while (i < in.size() && !IsHtmlSpace(static_cast<unsigned char>(in[i])) && in[i] != '/' &&
         in[i] != '>') {
    if (name.size() <= kMaxTagName) name.push_back(AsciiLower(in[i]));
    ++i;
  }
  *end = i;
  if (name.size() > kMaxTagName) name.clear();
  return name;
}

// Calls `f(name, value)` for each attribute in the tag text `tag` (after the tag name, up
// to its '>'), names as written, values without their quotes ("" when given without a
// value), until `f` returns true.
template <typename F>
void ForEachAttribute(std::string_view tag, F f) {
  size_t i = 0;
  while (i < tag.size()) {
    while (i < tag.size() && (IsHtmlSpace(static_cast<unsigned char>(tag[i])) || tag[i] == '/')) {
      ++i;
    }
    size_t name_start = i;
    while (i < tag.size() && !IsHtmlSpace(static_cast<unsigned char>(tag[i])) && tag[i] != '=' &&
           tag[i] != '/') {
      ++i;
    }
    std::string_view attr = tag.substr(name_start, i - name_start);
    while (i < tag.size() && IsHtmlSpace(static_cast<unsigned char>(tag[i]))) ++i;
    std::string_view value;
    if (i < tag.size() && tag[i] == '=') {
      ++i;
      while (i < tag.size() && IsHtmlSpace(static_cast<unsigned char>(tag[i]))) ++i;
      if (i < tag.size() && (tag[i] == '"' || tag[i] == '\'')) {
        char quote = tag[i++];
        size_t end = tag.find(quote, i);
        if (end == std::string_view::npos) end = tag.size();
        value = tag.substr(i, end - i);
        i = end + 1;
      } else {
        size_t start = i;
        while (i < tag.size() && !IsHtmlSpace(static_cast<unsigned char>(tag[i]))) ++i;
        value = tag.substr(start, i - start);
      }
    }
    if (attr.empty() && i == name_start) ++i;  // no progress: a stray character
    if (!attr.empty() && f(attr, value)) return;
  }
}

// The value of attribute `name` (lower-case) in the tag text `tag`; nothing when absent,
// "" when given without a value.
std::optional<std::string_view> FindAttribute(std::string_view tag, std::string_view name) {
  std::optional<std::string_view> found;
  ForEachAttribute(tag, [&](std::string_view attr, std::string_view value) {
    if (!EqualsNoCase(attr, name)) return false;
    found = value;
    return true;
  });
  return found;
}

// The value of attribute `name`, "" when absent.
std::string_view AttributeValue(std::string_view tag, std::string_view name) {
  return FindAttribute(tag, name).value_or(std::string_view());
}

// Elements that have no content and no end tag.
bool IsVoid(std::string_view tag) {
  static constexpr std::string_view kVoid[] = {
      "area",   "base", "br",   "col",   "embed",  "hr",    "img", "input",
      "keygen", "link", "meta", "param", "source", "track", "wbr",
  };
  return std::find(std::begin(kVoid), std::end(kVoid), tag) != std::end(kVoid);
}

// Elements that an unclosed element of the same name before them ends.
bool ClosesItsKind(std::string_view tag) {
  return tag == "p" || tag == "li" || tag == "dt" || tag == "dd" || tag == "tr" || tag == "td" ||
         tag == "th" || tag == "option";
}

// Elements whose content the reducer reads on its own, end tag included.
bool IsReadWhole(std::string_view tag) {
  return IsSkippedContent(tag) || tag == "title" || tag == "textarea" || tag == "xmp" ||
         tag == "plaintext";
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && IsHtmlSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsHtmlSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A CSS or attribute colour that is white: white, #fff, #ffffff, rgb(255,255,255).
// `v` is lower case.
bool IsWhite(std::string_view v) {
  if (v == "white" || v == "#fff" || v == "#ffffff") return true;
  std::string compact;
  for (char c : v.substr(0, 40)) {
    if (!IsHtmlSpace(static_cast<unsigned char>(c))) compact.push_back(c);
  }
  return compact == "rgb(255,255,255)" || compact == "rgba(255,255,255,1)";
}

bool IsNoBackground(std::string_view v) {
  return v.empty() || v == "none" || v == "transparent" || v == "inherit" || v == "initial" ||
         v == "unset";
}

// A CSS length or number; `*unit` receives what follows the number. False when `v` does
// not start with one.
bool ParseCssNumber(std::string_view v, double* value, std::string_view* unit) {
  size_t i = 0;
  double n = 0, scale = 0;
  bool digits = false;
  for (; i < v.size(); ++i) {
    char c = v[i];
    if (IsAsciiDigit(static_cast<unsigned char>(c))) {
      digits = true;
      if (scale == 0) {
        n = n * 10 + (c - '0');
      } else {
        n += (c - '0') * scale;
        scale /= 10;
      }
    } else if (c == '.' && scale == 0) {
      scale = 0.1;
    } else {
      break;
    }
  }
  if (!digits) return false;
  *value = n;
  *unit = TrimSpaces(v.substr(i));
  return true;
}

// What one element's attributes say about how its text shows.
struct Presentation {
  bool hidden = false;      // not shown at all
  bool colored = false;     // sets the text colour
  bool white = false;       // ... to white
  bool background = false;  // sets a background other than white
};

Presentation PresentationOf(std::string_view attrs) {
  Presentation p;
  std::string_view color, bgcolor, style;
  bool any = false;
  ForEachAttribute(attrs, [&](std::string_view attr, std::string_view value) {
    if (EqualsNoCase(attr, "style")) {
      style = value;
    } else if (EqualsNoCase(attr, "color")) {
      color = value;
    } else if (EqualsNoCase(attr, "bgcolor")) {
      bgcolor = value;
    } else if (EqualsNoCase(attr, "background")) {
      if (!TrimSpaces(value).empty()) p.background = true;
    } else if (EqualsNoCase(attr, "hidden")) {
      p.hidden = true;
    } else {
      return false;
    }
    any = true;
    return false;
  });
  if (!any) return p;
  std::string value(TrimSpaces(color));
  for (char& c : value) c = AsciiLower(c);
  if (!value.empty()) {
    p.colored = true;
    p.white = IsWhite(value);
  }
  value.assign(TrimSpaces(bgcolor));
  for (char& c : value) c = AsciiLower(c);
  if (!IsNoBackground(value) && !IsWhite(value)) p.background = true;
  std::string lower_style(style);
  for (char& c : lower_style) c = AsciiLower(c);
  std::string_view rest(lower_style);
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    std::string_view decl = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    size_t colon = decl.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view prop = TrimSpaces(decl.substr(0, colon));
    std::string_view val = TrimSpaces(decl.substr(colon + 1));
    if (size_t bang = val.find('!'); bang != std::string_view::npos) {
      val = TrimSpaces(val.substr(0, bang));
    }
    double n = 0;
    std::string_view unit;
    if (prop == "display") {
      if (val == "none") p.hidden = true;
    } else if (prop == "visibility") {
      if (val == "hidden" || val == "collapse") p.hidden = true;
    } else if (prop == "opacity") {
      if (ParseCssNumber(val, &n, &unit) && n == 0) p.hidden = true;
    } else if (prop == "font-size") {
      if (ParseCssNumber(val, &n, &unit) &&
          (n == 0 || (n <= 1 && (unit == "px" || unit == "pt")))) {
        p.hidden = true;
      }
    } else if (prop == "color") {
      p.colored = true;
      p.white = IsWhite(val);
    } else if (prop == "background" || prop == "background-color") {
      if (!IsNoBackground(val) && !IsWhite(val)) p.background = true;
    } else if (prop == "background-image") {
      if (!IsNoBackground(val)) p.background = true;
    }
  }
  return p;
}

// Characters that take no room: zero-width spaces and joiners, the soft hyphen, the
// combining grapheme joiner, the BOM.
bool IsZeroWidth(char32_t c) {
  return c == 0xAD || c == 0x34F || c == 0x180E || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF;
}

// Bytes of `utf8` that are neither spaces nor zero-width characters.
uint64_t InkBytes(std::string_view utf8) {
  uint64_t n = 0;
  for (size_t i = 0; i < utf8.size();) {
    auto b = static_cast<unsigned char>(utf8[i]);
    size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    len = std::min(len, utf8.size() - i);
    char32_t c = b;
    if (len == 2) {
      c = (b & 0x1F) << 6 | (utf8[i + 1] & 0x3F);
    } else if (len == 3) {
      c = (b & 0x0F) << 12 | (utf8[i + 1] & 0x3F) << 6 | (utf8[i + 2] & 0x3F);
    } else if (len == 4) {
      c = 0x10000;  // outside the zero-width ranges
    }
    if (!(len == 1 && IsHtmlSpace(b)) && !IsZeroWidth(c)) n += len;
    i += len;
  }
  return n;
}

// An attribute value as a browser reads it: character references decoded. A legacy name
// without ';' is taken only when no letter, digit or '=' follows it, as in attributes.
std::string DecodeAttribute(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size();) {
    if (v[i] != '&') {
      size_t amp = v.find('&', i);
      if (amp == std::string_view::npos) amp = v.size();
      out.append(v.substr(i, amp - i));
      i = amp;
      continue;
    }
    size_t p = i + 1;
    if (p < v.size() && v[p] == '#') {
      ++p;
      bool hex = p < v.size() && (v[p] == 'x' || v[p] == 'X');
      if (hex) ++p;
      size_t digits_at = p;
      uint32_t value = 0;
      while (p < v.size()) {
        int d = hex ? HexValue(static_cast<unsigned char>(v[p]))
                    : (IsAsciiDigit(static_cast<unsigned char>(v[p])) ? v[p] - '0' : -1);
        if (d < 0) break;
        if (value <= 0x10FFFF) value = value * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        ++p;
      }
      if (p == digits_at) {
        out.push_back('&');
        ++i;
        continue;
      }
      if (p < v.size() && v[p] == ';') ++p;
      char32_t c = value;
      if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        c = 0xFFFD;
      } else if (value >= 0x80 && value <= 0x9F) {
        c = mime::Windows1252Char(static_cast<unsigned char>(value));
      }
      mime::AppendUtf8(out, c);
      i = p;
      continue;
    }
    size_t name_end = p;
    while (name_end < v.size() && name_end - p <= kMaxEntityName &&
           IsAsciiAlnum(static_cast<unsigned char>(v[name_end]))) {
      ++name_end;
    }
    std::string_view name = v.substr(p, name_end - p);
    const Entity* e = nullptr;
    if (name_end < v.size() && v[name_end] == ';') {
      e = FindEntity(name);
      if (e != nullptr) name_end += 1;
    } else if (name_end == v.size() || v[name_end] != '=') {
      e = FindEntity(name);
      if (e != nullptr && !e->legacy) e = nullptr;
    }
    if (e == nullptr) {
      out.push_back('&');
      ++i;
      continue;
    }
    mime::AppendUtf8(out, e->code_point);
    i = name_end;
  }
  return out;
}

// An href as a browser takes it: tabs and line ends removed, spaces and controls trimmed,
// at most kMaxHtmlHrefBytes.
std::string CleanHref(std::string_view raw) {
  std::string decoded = DecodeAttribute(raw);
  std::string out;
  out.reserve(decoded.size());
  for (char c : decoded) {
    if (c != '\t' && c != '\n' && c != '\r') out.push_back(c);
  }
  size_t b = 0, e = out.size();
  while (b < e && static_cast<unsigned char>(out[b]) <= 0x20) ++b;
  while (e > b && static_cast<unsigned char>(out[e - 1]) <= 0x20) --e;
  std::string_view trimmed = std::string_view(out).substr(b, e - b);
  return std::string(trimmed.substr(0, mime::Utf8Prefix(trimmed, kMaxHtmlHrefBytes)));
}

class HtmlReducer {
 public:
  HtmlReducer(std::string_view in, const TextLimits& limits, HtmlStats* stats)
      : in_(in), limits_(limits), stats_(stats) {}

  ExtractedText Reduce();

 private:
  bool Markup();  // at '<': false when it is text
  void Comment();
  void BogusComment(size_t from);
  void StartTag(const std::string& name, std::string_view attrs);
  void EndTag(const std::string& name);
  void OpenScope(const std::string& name, std::string_view attrs);
  void CloseScope(const std::string& name);
  void OpenAnchor(std::string_view attrs);
  void AnchorText(std::string_view utf8);
  void CloseAnchor();
  void SkipToEndTag(std::string_view name, bool as_text, bool entities);
  void Entity(std::string_view in, size_t* i);
  void Text(std::string_view s, bool entities);
  void CodePoint(char32_t c);
  void Space(unsigned char c);
  void Visible(std::string_view utf8);
  void HardSpace();
  void LineBreak();
  void Damaged(std::string problem) {
    if (!out_.damaged) out_.problem = std::move(problem);
    out_.damaged = true;
  }
  void CountMarkup(size_t bytes) {
    if (stats_ != nullptr) stats_->markup_bytes += bytes;
  }

  // An open element that changes how its text shows (Presentation), with the state inside
  // it; `level` is its place in open_.
  struct StyleScope {
    size_t level = 0;
    bool hidden = false;      // display:none and the like, here or above
    bool white = false;       // the text colour in force is white
    bool background = false;  // a non-white background is set here or above
  };
  bool Invisible() const {
    if (scopes_.empty()) return false;
    const StyleScope& s = scopes_.back();
    return s.hidden || (s.white && !s.background);
  }

  std::string_view in_;
  const TextLimits& limits_;
  HtmlStats* stats_;
  // Open elements (only with stats_), innermost last, at most kMaxHtmlOpenElements; how
  // many of each name are open; how many start tags of each name were not followed
  // because open_ was full (their end tags are ignored in turn).
  struct OpenElement {
    std::string name;
    uint32_t* count;  // its name's entry in open_count_ (stable: a node-based map)
  };
  std::vector<OpenElement> open_;
  std::unordered_map<std::string, uint32_t> open_count_;
  std::unordered_map<std::string, uint32_t> not_followed_;
  std::vector<StyleScope> scopes_;  // innermost last
  void PopTo(size_t level);
  bool anchor_open_ = false;   // anchor text goes to stats_->anchors.back()
  bool anchor_space_ = false;  // a space is due before the anchor's next text
  size_t pos_ = 0;
  int pre_depth_ = 0;
  bool pending_space_ = false;  // collapsed whitespace not yet written
  bool full_ = false;           // the output limit was reached
  std::string line_;
  std::string text_;
  ExtractedText out_;
};

ExtractedText HtmlReducer::Reduce() {
  while (pos_ < in_.size() && !full_) {
    char c = in_[pos_];
    if (c == '<') {
      if (!Markup()) {
        Text("<", false);
        ++pos_;
      }
      continue;
    }
    size_t end = in_.find('<', pos_);
    if (end == std::string_view::npos) end = in_.size();
    Text(in_.substr(pos_, end - pos_), true);
    pos_ = end;
  }
  LineBreak();
  CloseAnchor();
  SetNfcText(text_, limits_, &out_);
  return std::move(out_);
}

bool HtmlReducer::Markup() {
  size_t start = pos_;
  if (start + 1 >= in_.size()) return false;
  auto next = static_cast<unsigned char>(in_[start + 1]);
  if (next == '!') {
    if (in_.substr(start, 4) == "<!--") {
      Comment();
    } else {
      BogusComment(start + 2);  // <!DOCTYPE ...>, <![CDATA[...]]>
    }
    return true;
  }
  if (next == '?') {
    BogusComment(start + 2);
    return true;
  }
  bool end_tag = next == '/';
  size_t name_at = start + (end_tag ? 2 : 1);
  if (end_tag) {
    if (name_at >= in_.size()) return false;  // "</" at the end is text
    if (in_[name_at] == '>') {                // "</>" is nothing
      CountMarkup(3);
      pos_ = name_at + 1;
      return true;
    }
    if (!IsAsciiAlpha(static_cast<unsigned char>(in_[name_at]))) {
      BogusComment(name_at);
      return true;
    }
  } else if (!IsAsciiAlpha(next)) {
    return false;
  }
  size_t name_end = 0;
  std::string name = TagName(in_, name_at, &name_end);
  size_t tag_end = FindTagEnd(in_, name_end - 1);
  if (tag_end == std::string_view::npos) {
    Damaged("the document ends inside a tag");
    CountMarkup(in_.size() - start);
    pos_ = in_.size();
    return true;
  }
  CountMarkup(tag_end + 1 - start);
  pos_ = tag_end + 1;
  if (tag_end + 1 - start > kMaxHtmlTagBytes) {
    Damaged("a tag longer than 64 KB");
    return true;
  }
  if (end_tag) {
    EndTag(name);
  } else {
    StartTag(name, in_.substr(name_end, tag_end - name_end));
  }
  return true;
}

void HtmlReducer::Comment() {
  // "<!-->" and "<!--->" are empty comments; otherwise the comment ends at "-->" or "--!>".
  size_t start = pos_;
  size_t i = start + 4;
  if (in_.substr(i, 1) == ">") {
    i += 1;
  } else if (in_.substr(i, 2) == "->") {
    i += 2;
  } else {
    size_t end = std::string_view::npos;
    for (size_t j = i; j + 2 < in_.size(); ++j) {
      if (in_[j] != '-' || in_[j + 1] != '-') continue;
      if (in_[j + 2] == '>') {
        end = j + 3;
        break;
      }
      if (in_[j + 2] == '!' && j + 3 < in_.size() && in_[j + 3] == '>') {
        end = j + 4;
        break;
      }
    }
    if (end == std::string_view::npos) {
      Damaged("the document ends inside a comment");
      end = in_.size();
    }
    i = end;
  }
  CountMarkup(i - start);
  pos_ = i;
}

void HtmlReducer::BogusComment(size_t from) {
  size_t end = in_.find('>', from);
  if (end == std::string_view::npos) {
    Damaged("the document ends inside a declaration");
    end = in_.size();
  } else {
    ++end;
  }
  CountMarkup(end - pos_);
  pos_ = end;
}

void HtmlReducer::StartTag(const std::string& name, std::string_view attrs) {
  if (stats_ != nullptr) {
    ++stats_->elements;
    if (name == "a") ++stats_->links;
    if (name == "img") ++stats_->images;
    if (!name.empty() && !IsVoid(name) && !IsReadWhole(name)) OpenScope(name, attrs);
    if (name == "a") OpenAnchor(attrs);
  }
  if (IsSkippedContent(name)) {
    SkipToEndTag(name, false, false);
    return;
  }
  if (IsBlock(name)) LineBreak();
  if (name == "title" || name == "textarea") {
    // Text with character references; tags in it are text. A textarea keeps its spaces.
    bool keep_spaces = name == "textarea";
    if (keep_spaces) ++pre_depth_;
    SkipToEndTag(name, true, true);
    if (keep_spaces) --pre_depth_;
    LineBreak();
    return;
  }
  if (name == "xmp" || name == "plaintext") {
    ++pre_depth_;
    if (name == "plaintext") {
      Text(in_.substr(pos_), false);  // the rest of the document, as it is
      pos_ = in_.size();
    } else {
      SkipToEndTag(name, true, false);
    }
    --pre_depth_;
    LineBreak();
    return;
  }
  if (IsPreformatted(name)) ++pre_depth_;
}

void HtmlReducer::EndTag(const std::string& name) {
  if (IsPreformatted(name) && pre_depth_ > 0) --pre_depth_;
  if (IsBlock(name)) LineBreak();
  if (stats_ != nullptr) {
    CloseScope(name);
    if (name == "a") CloseAnchor();
  }
}

void HtmlReducer::OpenScope(const std::string& name, std::string_view attrs) {
  // A paragraph, list item or cell starting right after an unclosed one of its kind
  // ends it, as in browsers: sloppy markup does not pile up open elements.
  if (!open_.empty() && open_.back().name == name && ClosesItsKind(name)) {
    PopTo(open_.size() - 1);
  }
  if (open_.size() >= kMaxHtmlOpenElements) {
    ++not_followed_[name];
    return;
  }
  uint32_t* count = &open_count_[name];
  ++*count;
  open_.push_back({name, count});
  Presentation p = PresentationOf(attrs);
  if (!p.hidden && !p.colored && !p.background) return;
  StyleScope scope;
  if (!scopes_.empty()) scope = scopes_.back();
  scope.level = open_.size() - 1;
  scope.hidden = scope.hidden || p.hidden;
  scope.background = scope.background || p.background;
  if (p.colored) scope.white = p.white;
  scopes_.push_back(scope);
}

// An end tag closes the innermost open element of its name, and any still open inside
// it; an end tag with no open element of its name changes nothing.
void HtmlReducer::CloseScope(const std::string& name) {
  if (auto it = not_followed_.empty() ? not_followed_.end() : not_followed_.find(name);
      it != not_followed_.end() && it->second > 0) {
    --it->second;
    return;
  }
  auto count = open_count_.find(name);
  if (count == open_count_.end() || count->second == 0) return;
  size_t level = open_.size();
  while (level > 0 && open_[level - 1].name != name) --level;
  PopTo(level - 1);
}

// Closes the open elements from `level` in.
void HtmlReducer::PopTo(size_t level) {
  for (size_t i = level; i < open_.size(); ++i) --*open_[i].count;
  open_.resize(level);
  while (!scopes_.empty() && scopes_.back().level >= level) scopes_.pop_back();
}

void HtmlReducer::OpenAnchor(std::string_view attrs) {
  CloseAnchor();  // an <a> inside an <a> ends the first, as in browsers
  std::string href = CleanHref(AttributeValue(attrs, "href"));
  if (href.empty()) return;
  if (stats_->anchors.size() >= stats_->max_anchors) {
    stats_->anchors_truncated = true;
    return;
  }
  stats_->anchors.push_back({std::move(href), {}});
  anchor_open_ = true;
  anchor_space_ = false;
}

// Text shown inside an open link, kept up to kMaxHtmlAnchorTextBytes.
void HtmlReducer::AnchorText(std::string_view utf8) {
  std::string& text = stats_->anchors.back().text;
  if (anchor_space_ && !text.empty() && text.back() != ' ' &&
      text.size() < kMaxHtmlAnchorTextBytes) {
    text.push_back(' ');
  }
  anchor_space_ = false;
  if (text.size() == 0 && utf8 == " ") return;  // a leading hard space
  size_t room = kMaxHtmlAnchorTextBytes - std::min(text.size(), kMaxHtmlAnchorTextBytes);
  text.append(utf8.substr(0, mime::Utf8Prefix(utf8, room)));
}

void HtmlReducer::CloseAnchor() {
  if (!anchor_open_) return;
  anchor_open_ = false;
  std::string& text = stats_->anchors.back().text;
  while (!text.empty() && text.back() == ' ') text.pop_back();
}

// Reads from pos_ to the end tag of `name` (case-insensitive "</name" followed by space,
// '/' or '>'), and past it; the content is text when `as_text`, else skipped. An element
// never closed runs to the end of the input (as in browsers) and is damaged.
void HtmlReducer::SkipToEndTag(std::string_view name, bool as_text, bool entities) {
  size_t content = pos_;
  size_t i = pos_;
  size_t close = std::string_view::npos;
  while ((i = in_.find("</", i)) != std::string_view::npos) {
    size_t after = i + 2 + name.size();
    if (after <= in_.size() && EqualsNoCase(in_.substr(i + 2, name.size()), name) &&
        (after == in_.size() || IsHtmlSpace(static_cast<unsigned char>(in_[after])) ||
         in_[after] == '/' || in_[after] == '>')) {
      close = i;
      break;
    }
    i += 2;
  }
  size_t content_end = close == std::string_view::npos ? in_.size() : close;
  if (as_text) {
    Text(in_.substr(content, content_end - content), entities);
  } else {
    CountMarkup(content_end - content);
  }
  if (close == std::string_view::npos) {
    Damaged("the document ends inside <" + std::string(name) + ">");
    pos_ = in_.size();
    return;
  }
  size_t tag_end = FindTagEnd(in_, close + 1 + name.size());
  if (tag_end == std::string_view::npos) {
    Damaged("the document ends inside a tag");
    CountMarkup(in_.size() - close);
    pos_ = in_.size();
    return;
  }
  CountMarkup(tag_end + 1 - close);
  pos_ = tag_end + 1;
}

// The text `s`: whitespace per the current mode, character references when `entities`.
void HtmlReducer::Text(std::string_view s, bool entities) {
  size_t i = 0;
  while (i < s.size() && !full_) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '&' && entities) {
      Entity(s, &i);
    } else if (IsHtmlSpace(c)) {
      if (c == '\r' && pre_depth_ > 0 && i + 1 < s.size() && s[i + 1] == '\n') {
        ++i;  // CRLF is one line end
        continue;
      }
      Space(c);
      ++i;
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {
      HardSpace();
      i += 2;
    } else if (c < 0x20 || c == 0x7F) {
      ++i;  // controls are not text
    } else {
      // A run of ordinary bytes in one go.
      size_t j = i + 1;
      while (j < s.size()) {
        auto d = static_cast<unsigned char>(s[j]);
        if ((d == '&' && entities) || IsHtmlSpace(d) || d == 0xC2 || d < 0x20 || d == 0x7F) break;
        ++j;
      }
      Visible(s.substr(i, j - i));
      i = j;
    }
  }
}

// A character reference at s[*i] ('&'); a '&' that starts none is text.
void HtmlReducer::Entity(std::string_view s, size_t* i) {
  size_t p = *i + 1;
  if (p < s.size() && s[p] == '#') {
    ++p;
    bool hex = p < s.size() && (s[p] == 'x' || s[p] == 'X');
    if (hex) ++p;
    size_t digits_at = p;
    uint32_t value = 0;
    bool too_big = false;
    while (p < s.size()) {
      int d = hex ? HexValue(static_cast<unsigned char>(s[p]))
                  : (IsAsciiDigit(static_cast<unsigned char>(s[p])) ? s[p] - '0' : -1);
      if (d < 0) break;
      if (!too_big) {
        value = value * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        if (value > 0x10FFFF) too_big = true;
      }
      ++p;
    }
    if (p == digits_at) {  // "&#" or "&#x" without digits: text
      Visible("&");
      ++*i;
      return;
    }
    if (p < s.size() && s[p] == ';') ++p;
    *i = p;
    char32_t c = value;
    if (too_big || value == 0 || (value >= 0xD800 && value <= 0xDFFF)) {
      c = 0xFFFD;
    } else if (value >= 0x80 && value <= 0x9F) {
      c = mime::Windows1252Char(static_cast<unsigned char>(value));
    }
    CodePoint(c);
    return;
  }
  size_t name_end = p;
  while (name_end < s.size() && name_end - p <= kMaxEntityName &&
         IsAsciiAlnum(static_cast<unsigned char>(s[name_end]))) {
    ++name_end;
  }
  std::string_view name = s.substr(p, name_end - p);
  if (name_end < s.size() && s[name_end] == ';') {
    if (const auto* e = FindEntity(name); e != nullptr) {
      *i = name_end + 1;
      CodePoint(e->code_point);
      return;
    }
  }
  // Without ';': the longest legacy name that starts the text ("&copy2024", "&amp").
  for (size_t len = std::min<size_t>(name.size(), 6); len >= 2; --len) {
    if (const auto* e = FindEntity(name.substr(0, len)); e != nullptr && e->legacy) {
      *i = p + len;
      CodePoint(e->code_point);
      return;
    }
  }
  Visible("&");
  ++*i;
}

void HtmlReducer::CodePoint(char32_t c) {
  if (c == 0xA0) {
    HardSpace();
  } else if (c < 0x80 && IsHtmlSpace(static_cast<unsigned char>(c))) {
    Space(static_cast<unsigned char>(c));
  } else if (c < 0x20 || c == 0x7F) {
    // controls are not text
  } else {
    std::string utf8;
    mime::AppendUtf8(utf8, c);
    Visible(utf8);
  }
}

void HtmlReducer::Space(unsigned char c) {
  if (anchor_open_) anchor_space_ = true;
  if (pre_depth_ == 0) {
    pending_space_ = true;
  } else if (c == '\n' || c == '\r') {
    LineBreak();
  } else if (c == '\f') {
    Visible(" ");
  } else {
    Visible(std::string_view(reinterpret_cast<const char*>(&c), 1));
  }
}

void HtmlReducer::HardSpace() { Visible(" "); }

void HtmlReducer::Visible(std::string_view utf8) {
  if (full_) return;
  if (stats_ != nullptr) {
    if (Invisible()) stats_->invisible_text_bytes += InkBytes(utf8);
    if (anchor_open_) AnchorText(utf8);
  }
  if (pending_space_ && !line_.empty()) line_.push_back(' ');
  pending_space_ = false;
  line_.append(utf8);
  if (text_.size() + line_.size() > limits_.max_text_bytes) LineBreak();  // cuts, stops
}

void HtmlReducer::LineBreak() {
  if (anchor_open_) anchor_space_ = true;
  pending_space_ = false;
  if (full_) return;
  std::string_view line(line_);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (!line.empty()) {
    if (!AppendLineWithin(line, limits_.max_text_bytes, &text_)) {
      out_.truncated = true;
      out_.limit = "max_text";
      full_ = true;
    }
  }
  line_.clear();
}

std::string LowerTrimmed(std::string_view s) {
  while (!s.empty() && IsHtmlSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsHtmlSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// The charset named in a Content-Type value ("text/html; charset=utf-8"), or "".
std::string_view CharsetOfContentType(std::string_view content) {
  for (size_t i = 0; i + 7 < content.size(); ++i) {
    if (!EqualsNoCase(content.substr(i, 7), "charset")) continue;
    size_t j = i + 7;
    while (j < content.size() && IsHtmlSpace(static_cast<unsigned char>(content[j]))) ++j;
    if (j >= content.size() || content[j] != '=') continue;
    ++j;
    while (j < content.size() && IsHtmlSpace(static_cast<unsigned char>(content[j]))) ++j;
    if (j < content.size() && (content[j] == '"' || content[j] == '\'')) ++j;
    size_t start = j;
    while (j < content.size() && content[j] != ';' && content[j] != '"' && content[j] != '\'' &&
           !IsHtmlSpace(static_cast<unsigned char>(content[j]))) {
      ++j;
    }
    return content.substr(start, j - start);
  }
  return {};
}

}  // namespace

ExtractedText HtmlToText(std::string_view utf8_html, const TextLimits& limits, HtmlStats* stats) {
  return HtmlReducer(utf8_html, limits, stats).Reduce();
}

std::string HtmlDeclaredCharset(std::string_view head) {
  head = head.substr(0, kCharsetScanBytes);
  size_t i = 0;
  while ((i = head.find('<', i)) != std::string_view::npos) {
    size_t name_end = 0;
    std::string name = TagName(head, i + 1, &name_end);
    size_t end = FindTagEnd(head, i);
    if (end == std::string_view::npos) break;
    if (name == "meta") {
      std::string_view attrs = head.substr(name_end, end - name_end);
      std::string charset = LowerTrimmed(AttributeValue(attrs, "charset"));
      if (!charset.empty()) return charset;
      if (EqualsNoCase(LowerTrimmed(AttributeValue(attrs, "http-equiv")), "content-type")) {
        charset = LowerTrimmed(CharsetOfContentType(AttributeValue(attrs, "content")));
        if (!charset.empty()) return charset;
      }
    }
    i = end + 1;
  }
  return {};
}

}  // namespace mailwarden::text

// Classification markings in text (see classified_marking.h for the exact semantics).
//
// Distrusts: the text (message bodies, subjects, extracted document text): invalid UTF-8,
// huge lines, unbalanced brackets.
// Limits: only the first kMaxMarkingScanBytes bytes are read; every loop advances through
// the line, and the bracket search looks for the closing bracket once per opening bracket
// only up to kMaxTagChars characters ahead, so the work is linear in the text.
// Failure: never; invalid UTF-8 becomes U+FFFD (a frame character, never a letter).
#include "milter/checks/classified_marking.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <array>
#include <optional>
#include <string>

namespace mailwarden {
namespace {

// A tag longer than this is not a tag: "[T U Y Ệ T  M Ậ T]" fits comfortably.
constexpr size_t kMaxTagChars = 64;

struct DegreeForm {
  ClassificationDegree degree;
  std::u32string_view words;  // upper case, words separated by one space
};

// Longest first, so "TỐI MẬT" is not read as "MẬT".
constexpr std::array<DegreeForm, 3> kDegrees = {{
    {ClassificationDegree::kTuyetMat, U"TUY\u1EC6T M\u1EACT"},
    {ClassificationDegree::kToiMat, U"T\u1ED0I M\u1EACT"},
    {ClassificationDegree::kMat, U"M\u1EACT"},
}};

// "độ mật", lower case.
constexpr std::u32string_view kFieldName = U"\u0111\u1ED9 m\u1EADt";

bool IsWordChar(char32_t c) {
  auto uc = static_cast<UChar32>(c);
  return u_isalnum(uc) || u_charType(uc) == U_NON_SPACING_MARK ||
         u_charType(uc) == U_COMBINING_SPACING_MARK;
}
bool IsFrame(char32_t c) { return !IsWordChar(c); }
bool IsHorizontalSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == 0xA0 || (c != '\n' && c != '\r' && u_isUWhiteSpace(c));
}
char32_t Lower(char32_t c) { return static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))); }

// The degree whose upper-case words are exactly the words of `text` (frame characters
// separate words), or of its one-letter words joined.
std::optional<ClassificationDegree> MatchDegreeWords(std::u32string_view text) {
  std::u32string joined, letters;
  bool all_single = true, any = false;
  size_t i = 0;
  while (i < text.size()) {
    if (IsFrame(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !IsFrame(text[end])) ++end;
    if (any) joined.push_back(' ');
    joined.append(text.substr(i, end - i));
    letters.append(text.substr(i, end - i));
    all_single = all_single && end - i == 1;
    any = true;
    if (joined.size() > kMaxTagChars) return std::nullopt;
    i = end;
  }
  if (!any) return std::nullopt;
  for (const DegreeForm& form : kDegrees) {
    if (joined == form.words) return form.degree;
    if (all_single) {
      std::u32string compact;
      for (char32_t c : form.words) {
        if (c != ' ') compact.push_back(c);
      }
      if (letters == compact) return form.degree;
    }
  }
  return std::nullopt;
}

// Matches `words` (lower case, single spaces) at `lower[pos]`, letting any run of
// horizontal space stand for a space; returns the end position or npos.
size_t MatchLoose(std::u32string_view lower, size_t pos, std::u32string_view words) {
  for (char32_t w : words) {
    if (w == ' ') {
      if (pos >= lower.size() || !IsHorizontalSpace(lower[pos])) return std::u32string::npos;
      while (pos < lower.size() && IsHorizontalSpace(lower[pos])) ++pos;
      continue;
    }
    if (pos >= lower.size() || lower[pos] != w) return std::u32string::npos;
    ++pos;
  }
  return pos;
}

std::optional<ClassificationDegree> MatchField(std::u32string_view line) {
  std::u32string lower(line);
  for (char32_t& c : lower) c = Lower(c);
  std::u32string_view l(lower);
  for (size_t start = 0; start < l.size(); ++start) {
    if (l[start] != kFieldName[0] || (start > 0 && !IsFrame(l[start - 1]))) continue;
    size_t pos = MatchLoose(l, start, kFieldName);
    if (pos == std::u32string::npos) continue;
    while (pos < l.size() && IsHorizontalSpace(l[pos])) ++pos;
    if (pos >= l.size() || (l[pos] != ':' && l[pos] != 0xFF1A)) continue;
    ++pos;
    while (pos < l.size() && IsHorizontalSpace(l[pos])) ++pos;
    for (const DegreeForm& form : kDegrees) {
      std::u32string words(form.words);
      for (char32_t& c : words) c = Lower(c);
      size_t end = MatchLoose(l, pos, words);
      if (end == std::u32string::npos) continue;
      size_t spaces = 0;
      while (end + spaces < l.size() && IsHorizontalSpace(l[end + spaces])) ++spaces;
      const size_t next = end + spaces;
      // A single space followed by a letter or digit continues the phrase ("mật khẩu");
      // a tab or two spaces is a table gap.
      const bool ends_field =
          next >= l.size() || spaces >= 2 || IsFrame(l[next]) || (spaces == 1 && l[end] == '\t');
      if (ends_field) return form.degree;
      break;  // a longer degree that does not end the field hides no shorter one
    }
  }
  return std::nullopt;
}

char32_t ClosingBracket(char32_t c) {
  switch (c) {
    case '[':
      return ']';
    case '(':
      return ')';
    case '{':
      return '}';
    case 0xFF08:
      return 0xFF09;
    case 0xFF3B:
      return 0xFF3D;
    case 0x3010:
      return 0x3011;
    default:
      return 0;
  }
}

// Every marking holds "MẬT" or "mật" in some case, so its line holds Ậ (U+1EAC) or ậ
// (U+1EAD), in NFC: lines without either are skipped without being decoded, which is
// what keeps long documents cheap.
bool MayHoldMarking(std::string_view line) {
  return line.find("\xE1\xBA\xAC") != std::string_view::npos ||
         line.find("\xE1\xBA\xAD") != std::string_view::npos;
}

// U+2028 and U+2029 in UTF-8.
bool IsSeparatorAt(std::string_view text, size_t i) {
  return i + 2 < text.size() && static_cast<unsigned char>(text[i]) == 0xE2 &&
         static_cast<unsigned char>(text[i + 1]) == 0x80 &&
         (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
          static_cast<unsigned char>(text[i + 2]) == 0xA9);
}

// Where the line starting at `start` ends: at LF, CR, U+2028, U+2029 or the end.
size_t LineEnd(std::string_view text, size_t start) {
  for (size_t i = start; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n' || c == '\r' || (c == '\xE2' && IsSeparatorAt(text, i))) return i;
  }
  return text.size();
}

// The length of the line break at `at` (CRLF is one line break).
size_t LineBreakLength(std::string_view text, size_t at) {
  if (text[at] == '\r') return at + 1 < text.size() && text[at + 1] == '\n' ? 2 : 1;
  return text[at] == '\n' ? 1 : 3;
}

// The markings of one line (decoded), appended to `found` up to `max`.
void MatchLine(std::u32string_view line, bool subject, size_t line_number, size_t max,
               std::vector<Marking>* found) {
  if (auto degree = MatchDegreeWords(line)) {
    found->push_back({*degree, Marking::kStandaloneLine, line_number});
    return;
  }
  if (auto field = MatchField(line)) found->push_back({*field, Marking::kField, line_number});
  for (size_t i = 0; subject && i < line.size() && found->size() < max; ++i) {
    char32_t close = ClosingBracket(line[i]);
    if (close == 0) continue;
    size_t j = i + 1;
    while (j < line.size() && j - i <= kMaxTagChars && line[j] != close) ++j;
    if (j >= line.size() || line[j] != close) continue;
    if (auto tag = MatchDegreeWords(line.substr(i + 1, j - i - 1))) {
      found->push_back({*tag, Marking::kSubjectTag, line_number});
      i = j;
    }
  }
}

}  // namespace

std::string_view ClassificationDegreeName(ClassificationDegree degree) {
  switch (degree) {
    case ClassificationDegree::kTuyetMat:
      return "TUYỆT MẬT";
    case ClassificationDegree::kToiMat:
      return "TỐI MẬT";
    case ClassificationDegree::kMat:
      break;
  }
  return "MẬT";
}

std::vector<Marking> FindMarkings(std::string_view nfc_text, bool subject, size_t max) {
  std::vector<Marking> found;
  if (max == 0) return found;
  if (nfc_text.size() > kMaxMarkingScanBytes) {
    nfc_text = nfc_text.substr(0, kMaxMarkingScanBytes);
    while (!nfc_text.empty() && (static_cast<unsigned char>(nfc_text.back()) & 0xC0) == 0x80) {
      nfc_text.remove_suffix(1);
    }
  }
  // Most text holds no Ậ or ậ at all: nothing to split into lines.
  if (!MayHoldMarking(nfc_text)) return found;
  size_t line_number = 0;
  size_t start = 0;
  const size_t n = nfc_text.size();
  while (start <= n && found.size() < max) {
    size_t end = LineEnd(nfc_text, start);
    ++line_number;
    std::string_view line = nfc_text.substr(start, end - start);
    if (MayHoldMarking(line)) MatchLine(mime::DecodeUtf8(line), subject, line_number, max, &found);
    if (end >= n) break;
    start = end + LineBreakLength(nfc_text, end);
  }
  if (found.size() > max) found.resize(max);
  return found;
}

std::vector<Marking> FindMarkingsInText(std::string_view decoded_text, bool subject,
                                        std::optional<mime::LegacyEncoding> encoding,
                                        mime::TcvnCase tcvn_case, size_t max,
                                        mime::LegacyEncoding* detected) {
  if (decoded_text.size() > kMaxMarkingScanBytes) {
    decoded_text = decoded_text.substr(0, kMaxMarkingScanBytes);
  }
  mime::LegacyEncoding used =
      encoding.has_value() ? *encoding : mime::DetectLegacyVietnamese(decoded_text);
  if (detected != nullptr) *detected = used;
  std::string nfc = mime::LegacyToUnicode(decoded_text, used, tcvn_case);
  return FindMarkings(nfc, subject, max);
}

}  // namespace mailwarden

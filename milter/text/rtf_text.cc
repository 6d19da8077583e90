// RTF reader (see rtf_text.h for what it returns).
//
// Distrusted: everything in the file. Braces may not balance, groups may nest without end,
// control words may be endless runs of letters or digits, \bin may announce more bytes than
// the file holds, \uc may ask to skip any number of fallback characters, the font table may
// define thousands of fonts with endless names, a font may claim any charset or code page,
// and text may be one paragraph of many megabytes.
//
// Limits: one pass over the input, each byte looked at a bounded number of times (the
// reader never backs up); group depth kMaxRtfGroupDepth (deeper: damaged, stop reading);
// control words keep kMaxWordLetters letters and kMaxParamDigits digits (longer: an unknown
// word, or the parameter's first digits); \ucN at most kMaxUcSkip; \bin N skips at most
// what is left of the input; at most kMaxFonts fonts with names of at most kMaxFontNameBytes
// bytes; output at most limits.max_text_bytes ("max_text": reading stops there).
//
// Failure: none. Truncated or unbalanced input, nesting too deep, \bin past the end, data
// after the document's final brace: `damaged` with a short problem, and the text read so far.
// Bytes invalid in their code page become U+FFFD (ICU); code pages ICU lacks are read as
// windows-1252.
//
// Choices made here (the RTF specification leaves them to readers):
//   - \u code points in a run set in a legacy Vietnamese font are what that font draws: a
//     code point up to U+00FF (or a windows-1252 character of 0x80-0x9F) stands for the
//     font's byte and is converted like one; other code points (true Unicode) are kept.
//     LibreOffice writes such runs as \uN escapes, Word as \'hh bytes: both read the same.
//   - Font names: IsTcvn3UppercaseFont -> TCVN3 upper case; ".Vn..." -> TCVN3; "VNI-..." ->
//     VNI; a name containing "VISCII" -> VISCII (case-insensitive). Names like "VN Times"
//     are not taken as VISCII: such names are used by several encodings' font sets.
//   - \fcharset2 (symbol fonts) is read as windows-1252: the glyphs are not letters, but
//     dropping the text would let a font declaration hide real text.
//   - \tab is a tab character (a gap between "Độ mật:" and its degree stays a gap); \~ is
//     a space; \- and zero-width marks (\zwj, \zwnj, \ltrmark, \rtlmark) are dropped so that
//     they cannot split a word; \_ is '-'.
//   - \object is not skipped as a whole: its data (\objdata...) is, its \result (what Word
//     shows for the object) is text. \upr groups give their \ud (Unicode) part only.
#include "milter/text/rtf_text.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "milter/mime/header_words.h"
#include "milter/mime/vietnamese_text.h"

namespace mailwarden::text {
namespace {

using mime::LegacyEncoding;
using mime::TcvnCase;

constexpr size_t kMaxFonts = 4096;
constexpr size_t kMaxFontNameBytes = 128;
constexpr size_t kMaxWordLetters = 32;
constexpr int kMaxParamDigits = 10;
constexpr int kMaxUcSkip = 16;
// A run of same-font text is converted in pieces of about this size (cut before an ASCII
// byte, so that a multi-byte character or a VNI letter + mark pair is not split), which
// keeps the output limit checked while a long paragraph is read.
constexpr size_t kRunChunkBytes = 64u << 10;

bool IsLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The Windows code page of an RTF \fcharset value; `document` for DEFAULT_CHARSET and
// values RTF does not define.
int CharsetCodePage(int charset, int document) {
  switch (charset) {
    case 0:  // ANSI
    case 2:  // SYMBOL (see the file comment)
      return 1252;
    case 77:  // Mac Roman
      return 10000;
    case 128:  // Shift JIS
      return 932;
    case 129:  // Hangul
      return 949;
    case 134:  // GB2312 / GBK
      return 936;
    case 136:  // Big5
      return 950;
    case 161:
      return 1253;
    case 162:
      return 1254;
    case 163:  // Vietnamese
      return 1258;
    case 177:
      return 1255;
    case 178:
      return 1256;
    case 186:
      return 1257;
    case 204:
      return 1251;
    case 222:  // Thai
      return 874;
    case 238:  // Eastern Europe
      return 1250;
    case 255:  // OEM
      return 437;
    default:
      return document;
  }
}

// The ICU name of a Windows code page; windows-1252 for those ICU lacks.
const char* CodePageCharset(int code_page) {
  switch (code_page) {
    case 437:
      return "ibm-437";
    case 850:
      return "ibm-850";
    case 866:
      return "ibm-866";
    case 874:
      return "windows-874";
    case 932:
      return "windows-31j";
    case 936:
      return "windows-936";
    case 949:
      return "windows-949";
    case 950:
      return "windows-950";
    case 1250:
      return "windows-1250";
    case 1251:
      return "windows-1251";
    case 1253:
      return "windows-1253";
    case 1254:
      return "windows-1254";
    case 1255:
      return "windows-1255";
    case 1256:
      return "windows-1256";
    case 1257:
      return "windows-1257";
    case 1258:
      return "windows-1258";
    case 10000:
      return "macintosh";
    case 65001:
      return "UTF-8";
    default:
      return "windows-1252";
  }
}

// What a control word does.
enum class Action : uint8_t {
  kNone,         // known, no effect on text (or effect in a destination this reader skips)
  kSkipDest,     // starts a destination whose content is not text
  kKeepDest,     // a text destination, kept even when marked "\*"
  kBreakAround,  // a text destination shown apart from the paragraph around it
  kFontTable,
  kUpr,
  kUd,
  kBreak,  // ends the line
  kChar,   // a character (code point 0: none)
  kAnsi,
  kMac,
  kPc,
  kPca,
  kAnsiCpg,
  kDeff,
  kFont,
  kFcharset,
  kCpg,
  kPlain,
  kDeleted,  // tracked deletion: not the document's text
  kUc,
  kU,
  kBin,
};

struct WordInfo {
  Action action;
  char32_t code_point = 0;
};

const std::unordered_map<std::string_view, WordInfo>& Words() {
  static const auto* words = new std::unordered_map<std::string_view, WordInfo>{
      // Destinations that hold no text of the document.
      {"colortbl", {Action::kSkipDest}},
      {"stylesheet", {Action::kSkipDest}},
      {"info", {Action::kSkipDest}},
      {"pict", {Action::kSkipDest}},
      {"shppict", {Action::kSkipDest}},
      {"nonshppict", {Action::kSkipDest}},
      {"shprslt", {Action::kSkipDest}},  // old-format copy of a shape (text boxes twice)
      {"sp", {Action::kSkipDest}},       // shape properties (names, alt text, geometry)
      {"fldinst", {Action::kSkipDest}},
      {"datafield", {Action::kSkipDest}},
      {"themedata", {Action::kSkipDest}},
      {"colorschememapping", {Action::kSkipDest}},
      {"latentstyles", {Action::kSkipDest}},
      {"rsidtbl", {Action::kSkipDest}},
      {"listtable", {Action::kSkipDest}},
      {"listoverridetable", {Action::kSkipDest}},
      {"leveltext", {Action::kSkipDest}},
      {"levelnumbers", {Action::kSkipDest}},
      {"generator", {Action::kSkipDest}},
      {"xmlnstbl", {Action::kSkipDest}},
      {"mmathPr", {Action::kSkipDest}},
      {"pgdsctbl", {Action::kSkipDest}},
      {"revtbl", {Action::kSkipDest}},
      {"filetbl", {Action::kSkipDest}},
      {"userprops", {Action::kSkipDest}},
      {"docvar", {Action::kSkipDest}},
      {"template", {Action::kSkipDest}},
      {"objdata", {Action::kSkipDest}},
      {"objclass", {Action::kSkipDest}},
      {"objname", {Action::kSkipDest}},
      {"objalias", {Action::kSkipDest}},
      {"objsect", {Action::kSkipDest}},
      {"objtime", {Action::kSkipDest}},
      {"bkmkstart", {Action::kSkipDest}},
      {"bkmkend", {Action::kSkipDest}},
      {"xe", {Action::kSkipDest}},  // index entry
      {"tc", {Action::kSkipDest}},  // table-of-contents entry
      {"txe", {Action::kSkipDest}},
      {"rxe", {Action::kSkipDest}},
      {"pntxta", {Action::kSkipDest}},
      {"pntxtb", {Action::kSkipDest}},
      {"falt", {Action::kSkipDest}},
      {"panose", {Action::kSkipDest}},
      {"fontemb", {Action::kSkipDest}},
      {"fontfile", {Action::kSkipDest}},
      {"annotation", {Action::kSkipDest}},
      {"atnid", {Action::kSkipDest}},
      {"atnauthor", {Action::kSkipDest}},
      {"atndate", {Action::kSkipDest}},
      {"atnref", {Action::kSkipDest}},
      {"atnparent", {Action::kSkipDest}},
      {"author", {Action::kSkipDest}},
      {"operator", {Action::kSkipDest}},
      {"title", {Action::kSkipDest}},
      {"subject", {Action::kSkipDest}},
      {"keywords", {Action::kSkipDest}},
      {"doccomm", {Action::kSkipDest}},
      {"comment", {Action::kSkipDest}},
      {"company", {Action::kSkipDest}},
      {"manager", {Action::kSkipDest}},
      {"category", {Action::kSkipDest}},
      {"hlinkbase", {Action::kSkipDest}},
      {"passwordhash", {Action::kSkipDest}},
      {"protusertbl", {Action::kSkipDest}},
      {"private", {Action::kSkipDest}},
      // Text destinations.
      {"shpinst", {Action::kKeepDest}},
      {"fldrslt", {Action::kKeepDest}},
      {"result", {Action::kKeepDest}},
      {"shptxt", {Action::kBreakAround}},
      {"header", {Action::kBreakAround}},
      {"headerl", {Action::kBreakAround}},
      {"headerr", {Action::kBreakAround}},
      {"headerf", {Action::kBreakAround}},
      {"footer", {Action::kBreakAround}},
      {"footerl", {Action::kBreakAround}},
      {"footerr", {Action::kBreakAround}},
      {"footerf", {Action::kBreakAround}},
      {"footnote", {Action::kBreakAround}},
      {"fonttbl", {Action::kFontTable}},
      {"upr", {Action::kUpr}},
      {"ud", {Action::kUd}},
      // Line structure.
      {"par", {Action::kBreak}},
      {"line", {Action::kBreak}},
      {"lbr", {Action::kBreak}},
      {"sect", {Action::kBreak}},
      {"page", {Action::kBreak}},
      {"column", {Action::kBreak}},
      {"cell", {Action::kBreak}},
      {"row", {Action::kBreak}},
      {"nestcell", {Action::kBreak}},
      {"nestrow", {Action::kBreak}},
      // Characters.
      {"tab", {Action::kChar, U'\t'}},
      {"emdash", {Action::kChar, 0x2014}},
      {"endash", {Action::kChar, 0x2013}},
      {"emspace", {Action::kChar, 0x2003}},
      {"enspace", {Action::kChar, 0x2002}},
      {"qmspace", {Action::kChar, 0x2005}},
      {"bullet", {Action::kChar, 0x2022}},
      {"lquote", {Action::kChar, 0x2018}},
      {"rquote", {Action::kChar, 0x2019}},
      {"ldblquote", {Action::kChar, 0x201C}},
      {"rdblquote", {Action::kChar, 0x201D}},
      {"zwj", {Action::kChar, 0}},
      {"zwnj", {Action::kChar, 0}},
      {"zwbo", {Action::kChar, 0}},
      {"zwnbo", {Action::kChar, 0}},
      {"ltrmark", {Action::kChar, 0}},
      {"rtlmark", {Action::kChar, 0}},
      // Code pages and fonts.
      {"ansi", {Action::kAnsi}},
      {"mac", {Action::kMac}},
      {"pc", {Action::kPc}},
      {"pca", {Action::kPca}},
      {"ansicpg", {Action::kAnsiCpg}},
      {"deff", {Action::kDeff}},
      {"f", {Action::kFont}},
      {"fcharset", {Action::kFcharset}},
      {"cpg", {Action::kCpg}},
      {"plain", {Action::kPlain}},
      {"deleted", {Action::kDeleted}},
      {"uc", {Action::kUc}},
      {"u", {Action::kU}},
      {"bin", {Action::kBin}},
  };
  return *words;
}

enum class Dest : uint8_t {
  kText,
  kSkip,
  kFontTable,
  kUpr,  // skipped, except its \ud part
};

// How a run's bytes become Unicode.
struct Decoding {
  LegacyEncoding legacy = LegacyEncoding::kNone;
  TcvnCase tcvn_case = TcvnCase::kHarmonize;
  int code_page = 1252;  // when legacy is kNone
  bool operator==(const Decoding&) const = default;
};

struct Font {
  std::string name;
  bool name_done = false;  // the name's ';' was read
  int charset = -1;
  int code_page = 0;
};

// The state a group saves at its start and restores at its end.
struct Group {
  int font = -1;  // -1: the default font (\deff)
  int uc = 1;
  Dest dest = Dest::kText;
  bool star = false;                 // "\*" read: the next control word is an ignorable destination
  bool holds_line = false;           // shown apart: the line around it waits in held_lines_
  bool deleted = false;              // a tracked deletion (\deleted)
  uint64_t decoding_generation = 0;  // `decoding` is valid when equal to the reader's
  Decoding decoding;
};

class RtfReader {
 public:
  RtfReader(std::string_view in, const TextLimits& limits) : in_(in), limits_(limits) {}

  ExtractedText Read();

 private:
  void ReadControl();
  void DoWord(std::string_view name, bool has_param, int32_t param);
  void ControlSymbol(unsigned char c);
  bool PushGroup();
  void PopGroup();

  void TextByte(unsigned char b);
  void TextCodePoint(char32_t c);
  void UnicodeEscape(int32_t value);
  void FontNameByte(unsigned char b);
  const Decoding& CurrentDecoding();
  Decoding DecodingFor(int font) const;
  void Flush();
  void CheckLineLimit();
  void LineBreak();
  void AppendLine(std::string_view line);
  void Damaged(std::string problem) {
    if (!out_.damaged) out_.problem = std::move(problem);
    out_.damaged = true;
  }

  std::string_view in_;
  const TextLimits& limits_;
  size_t pos_ = 0;
  bool stop_ = false;  // reading stops (nesting too deep, or full_)
  bool full_ = false;  // the output limit was reached

  std::vector<Group> groups_;
  int ucskip_ = 0;  // fallback characters still to skip after \uN
  char32_t high_surrogate_ = 0;

  int document_code_page_ = 1252;
  int default_font_ = 0;
  std::unordered_map<int, Font> fonts_;
  int defining_font_ = -1;         // the font table entry being read
  uint64_t fonts_generation_ = 1;  // changes whenever a font's decoding may have changed

  std::string run_;  // text of one decoding not yet converted (see Flush)
  Decoding run_decoding_;
  std::string line_;                     // the current line, UTF-8
  std::vector<std::string> held_lines_;  // lines interrupted by a text box or footnote
  std::string text_;                     // finished lines
  ExtractedText out_;
};

ExtractedText RtfReader::Read() {
  if (!LooksLikeRtf(in_)) {
    Damaged("not an RTF document");
    return std::move(out_);
  }
  while (pos_ < in_.size() && in_[pos_] != '{') ++pos_;  // BOM and whitespace
  bool closed = false;
  while (pos_ < in_.size() && !stop_) {
    auto c = static_cast<unsigned char>(in_[pos_]);
    if (c == '{') {
      ++pos_;
      if (!PushGroup()) break;
    } else if (c == '}') {
      ++pos_;
      PopGroup();
      if (groups_.empty()) {
        closed = true;
        break;
      }
    } else if (c == '\\') {
      ReadControl();
    } else {
      ++pos_;
      if (c == '\r' || c == '\n') continue;  // line ends in the file are not text
      if (ucskip_ > 0) {
        --ucskip_;
        continue;
      }
      TextByte(c);
    }
  }
  LineBreak();
  while (!held_lines_.empty()) {  // text boxes the input ended inside
    line_ = std::move(held_lines_.back());
    held_lines_.pop_back();
    LineBreak();
  }
  if (!full_ && !out_.damaged) {
    if (!closed) {
      Damaged("the document ends inside a group (truncated or unbalanced braces)");
    } else {
      for (size_t i = pos_; i < in_.size(); ++i) {
        char c = in_[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\0') {
          Damaged("data after the document's final brace");
          break;
        }
      }
    }
  }
  SetNfcText(text_, limits_, &out_);
  return std::move(out_);
}

bool RtfReader::PushGroup() {
  if (groups_.size() >= static_cast<size_t>(kMaxRtfGroupDepth)) {
    Damaged("groups nested deeper than " + std::to_string(kMaxRtfGroupDepth));
    stop_ = true;
    return false;
  }
  Group g = groups_.empty() ? Group{} : groups_.back();
  g.star = false;
  g.holds_line = false;
  groups_.push_back(g);
  ucskip_ = 0;
  return true;
}

void RtfReader::PopGroup() {
  if (groups_.empty()) return;
  bool holds_line = groups_.back().holds_line;
  groups_.pop_back();
  ucskip_ = 0;
  if (holds_line) {
    LineBreak();
    line_ = std::move(held_lines_.back());
    held_lines_.pop_back();
  }
}

void RtfReader::ReadControl() {
  size_t i = pos_ + 1;  // after the backslash
  if (i >= in_.size()) {
    pos_ = in_.size();
    return;
  }
  auto c = static_cast<unsigned char>(in_[i]);
  if (IsLetter(c)) {
    size_t start = i;
    while (i < in_.size() && IsLetter(static_cast<unsigned char>(in_[i]))) ++i;
    std::string_view name = in_.substr(start, i - start);
    if (name.size() > kMaxWordLetters) name = {};  // no such word: ignored
    bool negative = false, has_param = false;
    if (i + 1 < in_.size() && in_[i] == '-' && IsDigit(static_cast<unsigned char>(in_[i + 1]))) {
      negative = true;
      ++i;
    }
    int64_t value = 0;
    int digits = 0;
    while (i < in_.size() && IsDigit(static_cast<unsigned char>(in_[i]))) {
      if (digits++ < kMaxParamDigits) value = value * 10 + (in_[i] - '0');
      has_param = true;
      ++i;
    }
    if (i < in_.size() && in_[i] == ' ') ++i;  // the delimiter belongs to the word
    pos_ = i;
    if (negative) value = -value;
    value = std::clamp<int64_t>(value, INT32_MIN, INT32_MAX);
    if (ucskip_ > 0) {  // a control word counts as one fallback character
      --ucskip_;
      if (name == "bin" && has_param && value > 0) {
        pos_ += std::min<size_t>(static_cast<size_t>(value), in_.size() - pos_);
      }
      return;
    }
    DoWord(name, has_param, static_cast<int32_t>(value));
    return;
  }
  if (c == '\'') {
    int hi = i + 1 < in_.size() ? HexValue(static_cast<unsigned char>(in_[i + 1])) : -1;
    int lo = i + 2 < in_.size() ? HexValue(static_cast<unsigned char>(in_[i + 2])) : -1;
    if (hi < 0 || lo < 0) {  // not a hex escape: ignored
      pos_ = i + 1;
      return;
    }
    pos_ = i + 3;
    if (ucskip_ > 0) {
      --ucskip_;
      return;
    }
    TextByte(static_cast<unsigned char>(hi * 16 + lo));
    return;
  }
  pos_ = i + 1;
  if (ucskip_ > 0 && c != '\r' && c != '\n') {
    --ucskip_;
    return;
  }
  ControlSymbol(c);
}

void RtfReader::ControlSymbol(unsigned char c) {
  switch (c) {
    case '\\':
    case '{':
    case '}':
      TextByte(c);
      break;
    case '~':  // non-breaking space
      TextByte(' ');
      break;
    case '_':  // non-breaking hyphen
      TextByte('-');
      break;
    case '\r':
    case '\n':  // a backslash before a line end is \par
      DoWord("par", false, 0);
      break;
    case '*':
      if (!groups_.empty()) groups_.back().star = true;
      break;
    default:  // \- optional hyphen, \: index subentry, \| formula, unknown symbols
      break;
  }
}

void RtfReader::DoWord(std::string_view name, bool has_param, int32_t param) {
  if (groups_.empty()) return;
  Group& g = groups_.back();
  const auto& words = Words();
  auto it = name.empty() ? words.end() : words.find(name);
  Action action = it == words.end() ? Action::kNone : it->second.action;
  if (g.star) {
    g.star = false;
    // An ignorable destination this reader does not know holds no text it can read.
    if (action != Action::kKeepDest && action != Action::kBreakAround && action != Action::kUd) {
      g.dest = Dest::kSkip;
    }
  }
  switch (action) {
    case Action::kNone:
    case Action::kKeepDest:
      break;
    case Action::kSkipDest:
      g.dest = Dest::kSkip;
      break;
    case Action::kBreakAround:
      // A text box or footnote anchored in a paragraph: its lines are written before the
      // paragraph's, and the paragraph around it stays whole (as office_text.h does).
      if (g.dest == Dest::kText && !g.holds_line) {
        Flush();
        held_lines_.push_back(std::move(line_));
        line_.clear();
        g.holds_line = true;
      }
      break;
    case Action::kFontTable:
      if (g.dest == Dest::kText) g.dest = Dest::kFontTable;
      break;
    case Action::kUpr:
      if (g.dest == Dest::kText) g.dest = Dest::kUpr;
      break;
    case Action::kUd:
      if (g.dest == Dest::kUpr) g.dest = Dest::kText;
      break;
    case Action::kBreak:
      if (g.dest == Dest::kText) LineBreak();
      break;
    case Action::kChar:
      if (it->second.code_point != 0) TextCodePoint(it->second.code_point);
      break;
    case Action::kAnsi:
      document_code_page_ = 1252;
      ++fonts_generation_;
      break;
    case Action::kMac:
      document_code_page_ = 10000;
      ++fonts_generation_;
      break;
    case Action::kPc:
      document_code_page_ = 437;
      ++fonts_generation_;
      break;
    case Action::kPca:
      document_code_page_ = 850;
      ++fonts_generation_;
      break;
    case Action::kAnsiCpg:
      if (param > 0) document_code_page_ = param;
      ++fonts_generation_;
      break;
    case Action::kDeff:
      default_font_ = param;
      ++fonts_generation_;
      break;
    case Action::kFont:
      if (g.dest == Dest::kFontTable) {
        defining_font_ = -1;
        if (fonts_.size() < kMaxFonts || fonts_.count(param) > 0) {
          defining_font_ = param;
          fonts_[param] = Font{};  // a font defined twice: the last definition counts
        }
        ++fonts_generation_;
      } else {
        g.font = param;
        g.decoding_generation = 0;
      }
      break;
    case Action::kFcharset:
    case Action::kCpg:
      if (g.dest == Dest::kFontTable && defining_font_ >= 0) {
        auto f = fonts_.find(defining_font_);
        if (f != fonts_.end()) {
          (action == Action::kFcharset ? f->second.charset : f->second.code_page) = param;
          ++fonts_generation_;
        }
      }
      break;
    case Action::kPlain:
      g.font = -1;
      g.decoding_generation = 0;
      g.deleted = false;
      break;
    case Action::kDeleted:
      g.deleted = !has_param || param != 0;
      break;
    case Action::kUc:
      g.uc = has_param ? std::clamp(param, 0, kMaxUcSkip) : 1;
      break;
    case Action::kU:
      if (g.dest == Dest::kText) UnicodeEscape(param);
      ucskip_ = g.uc;
      break;
    case Action::kBin: {
      // Binary data is never text: skipped wherever it is.
      size_t n = param > 0 ? static_cast<size_t>(param) : 0;
      if (n > in_.size() - pos_) {
        Damaged("\\bin data runs past the end of the document");
        n = in_.size() - pos_;
      }
      pos_ += n;
      break;
    }
  }
}

void RtfReader::UnicodeEscape(int32_t value) {
  // \uN is a signed 16-bit number: \u-3913 is U+F0B7.
  if (value < 0) value += 65536;
  if (value < 0 || value > 0xFFFF) value = 0xFFFD;
  auto c = static_cast<char32_t>(value);
  if (c >= 0xD800 && c <= 0xDBFF) {
    if (high_surrogate_ != 0) TextCodePoint(0xFFFD);
    high_surrogate_ = c;
    return;
  }
  if (c >= 0xDC00 && c <= 0xDFFF) {
    if (high_surrogate_ == 0) {
      TextCodePoint(0xFFFD);
      return;
    }
    char32_t full = 0x10000 + ((high_surrogate_ - 0xD800) << 10) + (c - 0xDC00);
    high_surrogate_ = 0;
    TextCodePoint(full);
    return;
  }
  TextCodePoint(c);
}

Decoding RtfReader::DecodingFor(int font) const {
  Decoding d;
  d.code_page = document_code_page_;
  auto it = fonts_.find(font < 0 ? default_font_ : font);
  if (it == fonts_.end()) return d;
  const Font& f = it->second;
  mime::LegacyFont legacy = mime::LegacyFontNamed(TrimSpaces(f.name));
  if (legacy.encoding != LegacyEncoding::kNone) {
    d.legacy = legacy.encoding;
    d.tcvn_case = legacy.upper ? TcvnCase::kUpperFont : TcvnCase::kHarmonize;
  } else if (f.code_page > 0) {
    d.code_page = f.code_page;
  } else {
    d.code_page = CharsetCodePage(f.charset, document_code_page_);
  }
  return d;
}

const Decoding& RtfReader::CurrentDecoding() {
  Group& g = groups_.back();
  if (g.decoding_generation != fonts_generation_) {
    g.decoding = DecodingFor(g.font);
    g.decoding_generation = fonts_generation_;
  }
  return g.decoding;
}

void RtfReader::FontNameByte(unsigned char b) {
  if (defining_font_ < 0) return;
  auto it = fonts_.find(defining_font_);
  if (it == fonts_.end() || it->second.name_done) return;
  if (b == ';') {
    it->second.name_done = true;
  } else if (it->second.name.size() < kMaxFontNameBytes) {
    it->second.name.push_back(static_cast<char>(b));
  }
  ++fonts_generation_;
}

void RtfReader::TextByte(unsigned char b) {
  if (groups_.empty() || full_) return;
  Dest dest = groups_.back().dest;
  if (dest == Dest::kFontTable) {
    FontNameByte(b);
    return;
  }
  if (dest != Dest::kText || groups_.back().deleted) return;
  if (high_surrogate_ != 0) {
    high_surrogate_ = 0;
    TextCodePoint(0xFFFD);
  }
  const Decoding& d = CurrentDecoding();
  if (!run_.empty() && !(run_decoding_ == d)) Flush();
  run_decoding_ = d;
  if (d.legacy != LegacyEncoding::kNone) {
    mime::AppendUtf8(run_, b);  // the latin-1 reading LegacyToUnicode takes
  } else {
    // Controls in a code page are noise (VISCII, above, uses some for letters).
    if (b < 0x20 && b != '\t') return;
    run_.push_back(static_cast<char>(b));
  }
  if (run_.size() >= kRunChunkBytes && b < 0x80) Flush();
}

void RtfReader::TextCodePoint(char32_t c) {
  if (groups_.empty() || full_ || groups_.back().dest != Dest::kText || groups_.back().deleted) {
    return;
  }
  if (c < 0x20 && c != '\t') return;
  const Decoding& d = CurrentDecoding();
  if (d.legacy != LegacyEncoding::kNone) {
    // In a legacy font run, kept with the run: see the file comment.
    if (!run_.empty() && !(run_decoding_ == d)) Flush();
    run_decoding_ = d;
    mime::AppendUtf8(run_, c);
  } else if (c < 0x80) {
    TextByte(static_cast<unsigned char>(c));
  } else {
    Flush();
    mime::AppendUtf8(line_, c);
    CheckLineLimit();
  }
}

void RtfReader::Flush() {
  if (run_.empty()) return;
  bool ascii = std::all_of(run_.begin(), run_.end(),
                           [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
  const Decoding& d = run_decoding_;
  if (d.legacy != LegacyEncoding::kNone) {
    line_ += mime::LegacyToUnicode(run_, d.legacy, d.tcvn_case);
    if (!ascii) out_.legacy |= LegacyBit(d.legacy);
  } else if (ascii) {
    line_ += run_;
  } else if (d.code_page == 1252) {
    // The common case, decoded here: one ICU conversion per run costs more than the run.
    for (char ch : run_)
      mime::AppendUtf8(line_, mime::Windows1252Char(static_cast<unsigned char>(ch)));
  } else {
    line_ += mime::ToUtf8(run_, CodePageCharset(d.code_page));
    if (d.code_page == 1258) out_.legacy |= kLegacyWindows1258;
  }
  run_.clear();
  CheckLineLimit();
}

void RtfReader::CheckLineLimit() {
  if (text_.size() + line_.size() > limits_.max_text_bytes) {
    // The line being read passes the limit already: keep what fits, stop reading.
    std::string line = std::move(line_);
    line_.clear();
    AppendLine(line);
  }
}

void RtfReader::LineBreak() {
  if (full_) return;
  Flush();
  if (full_) return;
  std::string line = std::move(line_);
  line_.clear();
  AppendLine(line);
}

void RtfReader::AppendLine(std::string_view line) {
  line = TrimSpaces(line);
  if (line.empty() || full_) return;
  if (!AppendLineWithin(line, limits_.max_text_bytes, &text_)) {
    out_.truncated = true;
    out_.limit = "max_text";
    full_ = true;
    stop_ = true;
  }
}

}  // namespace

bool LooksLikeRtf(std::string_view head) {
  if (head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
  while (!head.empty() && (head.front() == ' ' || head.front() == '\t' || head.front() == '\r' ||
                           head.front() == '\n')) {
    head.remove_prefix(1);
  }
  return head.substr(0, 5) == "{\\rtf";
}

ExtractedText ExtractRtfText(std::string_view bytes, const TextLimits& limits) {
  return RtfReader(bytes, limits).Read();
}

}  // namespace mailwarden::text

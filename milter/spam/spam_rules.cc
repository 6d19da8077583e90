// Loads and matches the admins' spam rules (spam_rules.h).
//
// Distrusts the rule file: yaml-cpp exceptions are caught here and never leave this file;
// every key is checked against the keys its place allows; names, scores, header names,
// zones and answer ranges are validated; patterns are compiled by RE2 under a memory budget;
// meta expressions are read by a small recursive-descent parser bounded in depth
// (kMaxMetaDepth). Limits: file size, rule count and pattern length (spam_rules.h). Every
// problem is collected with its position and reported together; a file with any problem
// yields no rule set at all.
#include "milter/spam/spam_rules.h"

#include <arpa/inet.h>
#include <re2/re2.h>
#include <re2/set.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "milter/mime/vietnamese_text.h"
#include "milter/spam/normalize.h"

namespace mailwarden::spam {
namespace {

constexpr double kMaxScore = 1000;
// Parentheses and '!' nested deeper than this in a meta expression are refused: no admin
// needs it, and it bounds the parser's recursion.
constexpr int kMaxMetaDepth = 64;
// RE2 memory: each pattern alone (kept to match pattern by pattern when a set's DFA gives
// up), and each set, whose budget grows with the patterns it holds up to a ceiling.
constexpr int64_t kPatternMaxMem = 8 << 20;
constexpr int64_t kSetBaseMem = 8 << 20;
constexpr int64_t kSetMemPerPatternByte = 128;
constexpr int64_t kSetMaxMem = 256 << 20;
// Longest header field name a rule may name (RFC 5322 sets none; real ones are short).
constexpr size_t kMaxHeaderNameBytes = 128;

// ---------------------------------------------------------------------------------------
// Diagnostics

// Collects "file:line:column: reason" lines; Join lists them by position in the file.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // At `mark` (0-based, as yaml-cpp gives it), `column_offset` characters further right.
  void Add(const YAML::Mark& mark, std::string message, int column_offset = 0) {
    AddAt(mark.line >= 0 ? mark.line + 1 : 0,
          mark.column >= 0 ? mark.column + 1 + column_offset : 0, std::move(message));
  }
  // At a 1-based position (0: unknown). Messages quote the file's text: its control
  // characters become '?', so that each problem stays on its one line.
  void AddAt(int line, int column, std::string message) {
    for (char& c : message) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    }
    entries_.push_back({line, column, std::move(message)});
  }
  bool empty() const { return entries_.empty(); }
  std::string Join() const {
    std::vector<Entry> sorted = entries_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    std::string out;
    for (const Entry& e : sorted) {
      if (!out.empty()) out += '\n';
      out +=
          file_ + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message;
    }
    return out;
  }

 private:
  struct Entry {
    int line;
    int column;
    std::string message;
  };
  std::string file_;
  std::vector<Entry> entries_;
};

// ---------------------------------------------------------------------------------------
// Small validators

bool ValidRuleName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] < 'A' || name[0] > 'Z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool ValidHeuristicName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool ValidFieldName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHeaderNameBytes) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return c > ' ' && c < 127 && c != ':'; });
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char b = p[i];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + need >= s.size()) return false;
    for (size_t k = 1; k <= need; ++k) {
      unsigned char c = p[i + k];
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return false;
    }
    i += need + 1;
  }
  return true;
}

// Length of the UTF-8 sequence a lead byte starts (1 for anything unexpected).
size_t SequenceLength(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// A YAML scalar as a number, or false.
bool ParseNumber(const YAML::Node& node, double* out) {
  if (!node.IsScalar()) return false;
  std::string_view s = node.Scalar();
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// A YAML scalar as a boolean (true/false, yes/no, on/off), or false.
bool ParseBool(const YAML::Node& node, bool* out) {
  if (!node.IsScalar()) return false;
  std::string s = AsciiLower(node.Scalar());
  if (s == "true" || s == "yes" || s == "on") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "no" || s == "off") {
    *out = false;
    return true;
  }
  return false;
}

std::string KeyOf(const YAML::Node& key) { return key.IsScalar() ? key.Scalar() : "(not a word)"; }

// Where the `offset`-th character of a scalar sits, as a column offset from the scalar's
// mark: quoted single-line scalars start one character after their quote. Block scalars
// and multi-line scalars have no simple column; their mark is used.
int ColumnOffsetIn(const YAML::Node& scalar, size_t offset) {
  const std::string& text = scalar.Scalar();
  if (text.find('\n') != std::string::npos) return 0;
  return static_cast<int>(offset) + (scalar.Tag() == "!" ? 1 : 0);
}

// ---------------------------------------------------------------------------------------
// Patterns

// Folds the non-ASCII letters of `pattern` the way FoldCase folds text, leaving the syntax
// (all ASCII) as written: "Straße" -> "stra(?:ss)e". Outside character classes each
// non-ASCII character becomes its full case folding, grouped when that is several
// characters so that a quantifier after it still covers all of it (inside \Q...\E, where a
// group would be literal text, it is not grouped). Inside classes characters stay: RE2's
// case-insensitive matching covers their simple folding.
std::string FoldPattern(std::string_view written) {
  const std::string pattern = mime::NfcNormalize(written);
  const size_t n = pattern.size();
  std::string out;
  out.reserve(n + 8);
  bool in_class = false;
  bool in_quote = false;
  size_t i = 0;
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(pattern[i]);
    if (c >= 0x80) {
      const size_t len = std::min(SequenceLength(c), n - i);
      std::string_view ch(pattern.data() + i, len);
      i += len;
      if (in_class) {
        out.append(ch);
        continue;
      }
      std::string folded = FoldCase(ch);
      if (CodePoints(folded) > 1 && !in_quote) {
        out += "(?:" + folded + ")";
      } else {
        out += folded;
      }
      continue;
    }
    if (in_quote) {
      if (c == '\\' && i + 1 < n && pattern[i + 1] == 'E') {
        in_quote = false;
        out += "\\E";
        i += 2;
      } else {
        out += static_cast<char>(c);
        ++i;
      }
      continue;
    }
    if (c == '\\') {
      if (!in_class && i + 1 < n && pattern[i + 1] == 'Q') in_quote = true;
      out += '\\';
      ++i;
      if (i < n && static_cast<unsigned char>(pattern[i]) < 0x80) out += pattern[i++];
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < n && pattern[i + 1] == ':') {
        size_t end = pattern.find(":]", i + 2);
        if (end != std::string::npos) {
          out.append(pattern, i, end + 2 - i);
          i = end + 2;
          continue;
        }
      }
      if (c == ']') in_class = false;
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    out += static_cast<char>(c);
    ++i;
    if (c == '[') {
      in_class = true;
      if (i < n && pattern[i] == '^') out += pattern[i++];
      if (i < n && pattern[i] == ']') out += pattern[i++];  // a leading ']' is literal
    }
  }
  return out;
}

RE2::Options PatternOptions(bool case_sensitive, int64_t max_mem) {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_case_sensitive(case_sensitive);
  o.set_log_errors(false);
  o.set_max_mem(max_mem);
  return o;
}

// The patterns of one target, compiled together, with the same patterns one by one for the
// rare text on which the set's DFA exceeds its memory budget.
struct PatternSet {
  std::unique_ptr<RE2::Set> set;
  std::vector<std::shared_ptr<const RE2>> one_by_one;
  std::vector<uint32_t> rule_of;  // set index -> rule index

  bool empty() const { return rule_of.empty(); }
};

// The sets of a target whose text is case-folded, and may be matched without diacritics:
// `folded` holds every rule's pattern, matched on the folded text; `stripped` the patterns
// without diacritics of the diacritics-insensitive rules, matched on the folded text without
// diacritics. When the folded text is ASCII it is its own stripped form, so one pass of
// `ascii` (both kinds of patterns together; empty when no pattern changes when stripped, and
// then `folded` serves) answers for both: most mail costs one pass, not two.
struct TextSets {
  PatternSet folded;
  PatternSet stripped;
  PatternSet ascii;

  bool empty() const { return folded.empty(); }
};

// What goes into one PatternSet, gathered while the file is read.
struct SetBuilder {
  bool case_sensitive = false;
  std::vector<std::string> patterns;
  std::vector<std::shared_ptr<const RE2>> compiled;
  std::vector<uint32_t> rule_of;
  size_t pattern_bytes = 0;

  void Add(const std::string& pattern, std::shared_ptr<const RE2> re, uint32_t rule) {
    pattern_bytes += pattern.size();
    patterns.push_back(pattern);
    compiled.push_back(std::move(re));
    rule_of.push_back(rule);
  }

  // Compiles the set; false (with RE2's reason) when it does not fit its budget.
  bool Build(PatternSet* out, std::string* error) {
    if (patterns.empty()) return true;
    const int64_t budget = std::min<int64_t>(
        kSetMaxMem, kSetBaseMem + kSetMemPerPatternByte * static_cast<int64_t>(pattern_bytes));
    auto set = std::make_unique<RE2::Set>(PatternOptions(case_sensitive, budget), RE2::UNANCHORED);
    for (const std::string& p : patterns) {
      if (set->Add(p, error) < 0) return false;
    }
    if (!set->Compile()) {
      *error = "the patterns need more than " + std::to_string(budget >> 20) +
               " MiB once compiled together; simplify or remove some";
      return false;
    }
    out->set = std::move(set);
    out->one_by_one = std::move(compiled);
    out->rule_of = std::move(rule_of);
    return true;
  }
};

// What goes into one TextSets.
struct TextBuilder {
  SetBuilder folded, stripped, ascii;
  bool ascii_differs = false;  // some stripped pattern is not its folded pattern

  void Add(uint32_t rule, const std::string& folded_pattern, std::shared_ptr<const RE2> folded_re,
           const std::string& stripped_pattern, std::shared_ptr<const RE2> stripped_re) {
    folded.Add(folded_pattern, folded_re, rule);
    ascii.Add(folded_pattern, std::move(folded_re), rule);
    if (!stripped_re) return;
    stripped.Add(stripped_pattern, stripped_re, rule);
    if (stripped_pattern != folded_pattern) {
      ascii.Add(stripped_pattern, std::move(stripped_re), rule);
      ascii_differs = true;
    }
  }
};

// Matches `text` against `s` and calls on_match(set index) for each pattern that matches.
template <typename Fn>
void RunSet(const PatternSet& s, std::string_view text, std::vector<int>* scratch, Fn on_match) {
  if (s.empty()) return;
  scratch->clear();
  const re2::StringPiece piece(text.data(), text.size());
  RE2::Set::ErrorInfo info{};
  if (!s.set->Match(piece, scratch, &info) && info.kind != RE2::Set::kNoError) {
    // The set's DFA gave up on this text (its memory budget): ask each pattern alone, which
    // RE2 answers in linear time all the same (its NFA takes over).
    scratch->clear();
    for (size_t i = 0; i < s.one_by_one.size(); ++i) {
      if (RE2::PartialMatch(piece, *s.one_by_one[i])) scratch->push_back(static_cast<int>(i));
    }
  }
  for (int i : *scratch) on_match(static_cast<size_t>(i));
}

// ---------------------------------------------------------------------------------------
// Meta expressions

// One step of a meta rule's program, in postfix order: kRule pushes whether that rule
// matched, kNot/kAnd/kOr combine the top of the stack.
struct MetaOp {
  enum class Kind : uint8_t { kRule, kNot, kAnd, kOr };
  Kind kind;
  uint32_t rule = 0;
};

// Reads "A && (B || !C)" into postfix MetaOps. Names are resolved through `names`; unknown
// names are all reported, a syntax error stops the reading.
class MetaParser {
 public:
  struct Error {
    size_t offset;
    std::string message;
  };

  MetaParser(std::string_view text, const std::unordered_map<std::string, uint32_t>& names)
      : text_(text), names_(names) {}

  // False when there were errors (in errors()).
  bool Parse(std::vector<MetaOp>* out) {
    out_ = out;
    Advance();
    if (token_.kind == TokenKind::kEnd) {
      errors_.push_back({0, "empty meta expression"});
      return false;
    }
    if (ParseOr(0) && token_.kind != TokenKind::kEnd) {
      if (token_.kind == TokenKind::kBad) {
        BadCharacter();
      } else {
        Fail(token_.kind == TokenKind::kClose
                 ? "unbalanced ')'"
                 : "expected '&&', '||' or the end before '" + std::string(token_.text) + "'");
      }
    }
    return errors_.empty();
  }
  const std::vector<Error>& errors() const { return errors_; }

 private:
  enum class TokenKind { kName, kNot, kAnd, kOr, kOpen, kClose, kEnd, kBad };
  struct Token {
    TokenKind kind = TokenKind::kEnd;
    size_t offset = 0;
    std::string_view text;
  };

  void Advance() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    token_ = {TokenKind::kEnd, pos_, {}};
    if (pos_ >= text_.size()) return;
    const char c = text_[pos_];
    auto take = [&](TokenKind kind, size_t len) {
      token_ = {kind, pos_, text_.substr(pos_, len)};
      pos_ += len;
    };
    auto is_name_char = [](char ch) {
      return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
             ch == '_';
    };
    if (is_name_char(c)) {
      size_t end = pos_;
      while (end < text_.size() && is_name_char(text_[end])) ++end;
      take(TokenKind::kName, end - pos_);
    } else if (text_.substr(pos_, 2) == "&&") {
      take(TokenKind::kAnd, 2);
    } else if (text_.substr(pos_, 2) == "||") {
      take(TokenKind::kOr, 2);
    } else if (c == '!') {
      take(TokenKind::kNot, 1);
    } else if (c == '(') {
      take(TokenKind::kOpen, 1);
    } else if (c == ')') {
      take(TokenKind::kClose, 1);
    } else {
      take(TokenKind::kBad, SequenceLength(static_cast<unsigned char>(c)));
    }
  }

  bool Fail(std::string message) {
    errors_.push_back({token_.offset, std::move(message)});
    return false;
  }

  bool BadCharacter() {
    return Fail("unexpected character '" + std::string(token_.text) +
                "' (a meta expression holds rule names, &&, ||, ! and parentheses)");
  }

  bool ParseOr(int depth) {
    if (!ParseAnd(depth)) return false;
    while (token_.kind == TokenKind::kOr) {
      Advance();
      if (!ParseAnd(depth)) return false;
      out_->push_back({MetaOp::Kind::kOr});
    }
    return true;
  }

  bool ParseAnd(int depth) {
    if (!ParseUnary(depth)) return false;
    while (token_.kind == TokenKind::kAnd) {
      Advance();
      if (!ParseUnary(depth)) return false;
      out_->push_back({MetaOp::Kind::kAnd});
    }
    return true;
  }

  bool ParseUnary(int depth) {
    if (depth >= kMaxMetaDepth) {
      return Fail("expression nested deeper than " + std::to_string(kMaxMetaDepth));
    }
    switch (token_.kind) {
      case TokenKind::kNot:
        Advance();
        if (!ParseUnary(depth + 1)) return false;
        out_->push_back({MetaOp::Kind::kNot});
        return true;
      case TokenKind::kOpen: {
        const Token open = token_;
        Advance();
        if (!ParseOr(depth + 1)) return false;
        if (token_.kind != TokenKind::kClose) {
          if (token_.kind == TokenKind::kEnd) {
            errors_.push_back({open.offset, "'(' is never closed"});
            return false;
          }
          return Fail("expected ')' before '" + std::string(token_.text) + "'");
        }
        Advance();
        return true;
      }
      case TokenKind::kName: {
        auto it = names_.find(std::string(token_.text));
        if (it == names_.end()) {
          errors_.push_back({token_.offset, "unknown rule '" + std::string(token_.text) + "'"});
          out_->push_back({MetaOp::Kind::kRule, 0});
        } else {
          out_->push_back({MetaOp::Kind::kRule, it->second});
        }
        Advance();
        return true;
      }
      case TokenKind::kEnd:
        return Fail("expression ends early: expected a rule name, '!' or '('");
      case TokenKind::kBad:
        return BadCharacter();
      default:
        return Fail("expected a rule name, '!' or '(' before '" + std::string(token_.text) + "'");
    }
  }

  std::string_view text_;
  const std::unordered_map<std::string, uint32_t>& names_;
  size_t pos_ = 0;
  Token token_;
  std::vector<MetaOp>* out_ = nullptr;
  std::vector<Error> errors_;
};

bool EvaluateMeta(const std::vector<MetaOp>& program, const std::vector<uint8_t>& hit,
                  std::vector<uint8_t>* stack) {
  stack->clear();
  for (const MetaOp& op : program) {
    switch (op.kind) {
      case MetaOp::Kind::kRule:
        stack->push_back(hit[op.rule]);
        break;
      case MetaOp::Kind::kNot:
        stack->back() = !stack->back();
        break;
      case MetaOp::Kind::kAnd:
      case MetaOp::Kind::kOr: {
        const uint8_t b = stack->back();
        stack->pop_back();
        stack->back() = op.kind == MetaOp::Kind::kAnd ? (stack->back() && b) : (stack->back() || b);
        break;
      }
    }
  }
  return !stack->empty() && stack->back();
}

// ---------------------------------------------------------------------------------------
// Reading the file

// A rule as read, before compilation.
struct ParsedRule {
  SpamRuleInfo info;
  YAML::Node pattern_node;   // the pattern's (or the meta expression's) scalar
  bool has_pattern = false;  // a pattern (or expression) was read, and can be compiled
};

// How messages name a rule: its name, or "rule" when it has no valid one.
std::string Label(const ParsedRule& rule) {
  return rule.info.name.empty() ? "rule" : rule.info.name;
}

// Signal names already taken (rules, zones, answers) and where.
using NameTable = std::unordered_map<std::string, YAML::Mark>;

// Reports `name` when it is taken, else takes it.
void ClaimName(const std::string& name, const YAML::Mark& mark, const std::string& file,
               NameTable* names, Diagnostics* diag) {
  auto [it, inserted] = names->emplace(name, mark);
  if (!inserted) {
    diag->Add(mark, "duplicate name '" + name + "' (first defined at " + file + ":" +
                        std::to_string(it->second.line + 1) + ":" +
                        std::to_string(it->second.column + 1) + ")");
  }
}

std::string KindWord(SpamRuleInfo::Kind kind) {
  switch (kind) {
    case SpamRuleInfo::Kind::kHeader:
      return "header";
    case SpamRuleInfo::Kind::kBody:
      return "body";
    case SpamRuleInfo::Kind::kUri:
      return "uri";
    case SpamRuleInfo::Kind::kRaw:
      return "raw";
    case SpamRuleInfo::Kind::kMeta:
      return "meta";
  }
  return "";
}

constexpr const char* kRuleKeys =
    "name, header, pattern, body, uri, raw, meta, score, description, diacritics";

// Reads one item of `rules:`; false when it has problems (reported).
bool ReadRule(const YAML::Node& node, bool file_insensitive, const std::string& file,
              NameTable* names, Diagnostics* diag, ParsedRule* out) {
  if (!node.IsMap()) {
    diag->Add(node.Mark(),
              "a rule is a mapping with 'name', one of header/body/uri/raw/meta, and 'score'");
    return false;
  }
  out->info.line = node.Mark().line + 1;
  bool ok = true;
  std::set<std::string> seen;
  // Optional, and filled by emplace: assigning to a YAML::Node that refers to a node would
  // overwrite that node's content instead of rebinding the variable.
  std::optional<YAML::Node> name_node, target_key, target_value, pattern_key, pattern_node,
      score_node, diacritics_node, diacritics_key;
  std::string prefix;  // "NAME: " once known, for the messages below
  if (node["name"] && node["name"].IsScalar()) prefix = node["name"].Scalar() + ": ";
  for (const auto& kv : node) {
    const std::string key = KeyOf(kv.first);
    if (!seen.insert(key).second) {
      diag->Add(kv.first.Mark(), prefix + "duplicate key '" + key + "' in rule");
      ok = false;
      continue;
    }
    if (key == "name") {
      name_node.emplace(kv.second);
    } else if (key == "header" || key == "body" || key == "uri" || key == "raw" || key == "meta") {
      if (target_key) {
        diag->Add(kv.first.Mark(), prefix + "two targets in one rule ('" + target_key->Scalar() +
                                       "' and '" + key +
                                       "'); a rule has one of header, body, uri, raw, meta");
        ok = false;
        continue;
      }
      target_key.emplace(kv.first);
      target_value.emplace(kv.second);
    } else if (key == "pattern") {
      pattern_key.emplace(kv.first);
      pattern_node.emplace(kv.second);
    } else if (key == "score") {
      score_node.emplace(kv.second);
    } else if (key == "description") {
      if (!kv.second.IsScalar()) {
        diag->Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                  prefix + "description: expected a string");
        ok = false;
      } else {
        out->info.description = kv.second.Scalar();
      }
    } else if (key == "diacritics") {
      diacritics_key.emplace(kv.first);
      diacritics_node.emplace(kv.second);
    } else {
      diag->Add(kv.first.Mark(),
                prefix + "unknown key '" + key + "' in rule (known keys: " + kRuleKeys + ")");
      ok = false;
    }
  }

  // name
  if (!name_node) {
    diag->Add(node.Mark(), "rule without 'name'");
    ok = false;
  } else if (!name_node->IsScalar() || !ValidRuleName(name_node->Scalar())) {
    diag->Add(name_node->Mark(), "name: '" + (name_node->IsScalar() ? name_node->Scalar() : "") +
                                     "' is not a rule name (A-Z first, then A-Z, 0-9, _; at "
                                     "most 64)");
    ok = false;
  } else {
    out->info.name = name_node->Scalar();
    ClaimName(out->info.name, name_node->Mark(), file, names, diag);
  }

  // score
  if (!score_node) {
    diag->Add(node.Mark(), prefix + "rule without 'score'");
    ok = false;
  } else if (!ParseNumber(*score_node, &out->info.score)) {
    diag->Add(score_node->IsNull() ? node.Mark() : score_node->Mark(),
              prefix + "score: expected a number");
    ok = false;
  } else if (std::fabs(out->info.score) > kMaxScore) {
    diag->Add(score_node->Mark(), prefix + "score: at most 1000 either way");
    ok = false;
  }

  // target and pattern
  if (!target_key) {
    diag->Add(node.Mark(), prefix + "rule without a target: one of header, body, uri, raw, meta");
    return false;
  }
  const std::string target = target_key->Scalar();
  SpamRuleInfo::Kind kind = target == "header" ? SpamRuleInfo::Kind::kHeader
                            : target == "body" ? SpamRuleInfo::Kind::kBody
                            : target == "uri"  ? SpamRuleInfo::Kind::kUri
                            : target == "raw"  ? SpamRuleInfo::Kind::kRaw
                                               : SpamRuleInfo::Kind::kMeta;
  out->info.kind = kind;
  const YAML::Node* pattern_at = &*target_value;
  YAML::Mark pattern_missing_at = target_key->Mark();
  if (kind == SpamRuleInfo::Kind::kHeader) {
    if (!target_value->IsScalar() || !ValidFieldName(target_value->Scalar())) {
      diag->Add(target_value->IsNull() ? target_key->Mark() : target_value->Mark(),
                prefix + "header: expected a header field name or ALL");
      ok = false;
    } else {
      out->info.header = target_value->Scalar();
    }
    if (!pattern_key) {
      diag->Add(node.Mark(), prefix + "header rule without 'pattern'");
      return false;
    }
    pattern_at = &*pattern_node;
    pattern_missing_at = pattern_key->Mark();
  } else if (pattern_key) {
    diag->Add(pattern_key->Mark(),
              prefix + "'pattern' belongs to header rules; a " + target + " rule gives its " +
                  (kind == SpamRuleInfo::Kind::kMeta ? "expression" : "pattern") +
                  " as the value of '" + target + "'");
    ok = false;
  }
  const std::string what = kind == SpamRuleInfo::Kind::kMeta ? "expression" : "pattern";
  const std::string where = kind == SpamRuleInfo::Kind::kHeader ? "pattern" : target;
  if (!pattern_at->IsScalar()) {
    diag->Add(pattern_at->IsNull() ? pattern_missing_at : pattern_at->Mark(),
              prefix + where + ": expected a " + what + " (a string)");
    return false;
  }
  out->info.pattern = pattern_at->Scalar();
  out->pattern_node.reset(*pattern_at);
  if (out->info.pattern.empty()) {
    diag->Add(pattern_at->Mark(), prefix + where + ": empty " + what);
    ok = false;
  } else if (out->info.pattern.size() > SpamRuleSet::kMaxPatternBytes) {
    diag->Add(pattern_at->Mark(), prefix + where + ": longer than " +
                                      std::to_string(SpamRuleSet::kMaxPatternBytes) + " bytes");
    ok = false;
  } else if (!ValidUtf8(out->info.pattern)) {
    diag->Add(pattern_at->Mark(), prefix + where + ": not valid UTF-8");
    ok = false;
  } else {
    out->has_pattern = true;
  }

  // diacritics
  const bool textual = kind == SpamRuleInfo::Kind::kHeader || kind == SpamRuleInfo::Kind::kBody;
  out->info.diacritics_insensitive = textual && file_insensitive;
  if (diacritics_key) {
    if (!textual) {
      diag->Add(diacritics_key->Mark(), prefix + "diacritics: only header and body rules have it");
      ok = false;
    } else if (diacritics_node->IsScalar() && diacritics_node->Scalar() == "insensitive") {
      out->info.diacritics_insensitive = true;
    } else if (diacritics_node->IsScalar() && diacritics_node->Scalar() == "sensitive") {
      out->info.diacritics_insensitive = false;
    } else {
      diag->Add(diacritics_node->IsNull() ? diacritics_key->Mark() : diacritics_node->Mark(),
                prefix + "diacritics: expected 'insensitive' or 'sensitive'");
      ok = false;
    }
  }
  return ok;
}

// Compiles `pattern` alone; reports RE2's complaint at the rule's pattern.
std::shared_ptr<const RE2> CompileOne(const std::string& pattern, bool case_sensitive,
                                      const ParsedRule& rule, const std::string& variant,
                                      Diagnostics* diag) {
  RE2::Options o = PatternOptions(case_sensitive, kPatternMaxMem);
  o.set_never_capture(true);
  auto re = std::make_shared<const RE2>(pattern, o);
  if (re->ok()) return re;
  const std::string where =
      rule.info.kind == SpamRuleInfo::Kind::kHeader ? "pattern" : KindWord(rule.info.kind);
  diag->Add(rule.pattern_node.Mark(),
            Label(rule) + ": " + where + ": bad " + variant + ": " + re->error());
  return nullptr;
}

bool ParseAnswerAddress(std::string_view text, uint32_t* out) {
  std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// "zen.spamhaus.org" lower-cased without a trailing dot, or "" when it is not a domain name.
std::string NormalizeZone(std::string_view written) {
  std::string zone = AsciiLower(written);
  if (!zone.empty() && zone.back() == '.') zone.pop_back();
  if (zone.empty() || zone.size() > 253) return "";
  size_t start = 0;
  while (start <= zone.size()) {
    size_t dot = zone.find('.', start);
    if (dot == std::string::npos) dot = zone.size();
    std::string_view label(zone.data() + start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return "";
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return "";
    }
    start = dot + 1;
  }
  return zone;
}

void ReadAnswer(const YAML::Node& node, const std::string& zone_name, const std::string& file,
                NameTable* names, Diagnostics* diag, DnsblAnswerRule* out, bool* ok) {
  const std::string prefix = zone_name.empty() ? "" : zone_name + ": ";
  if (!node.IsMap()) {
    diag->Add(node.Mark(),
              prefix + "answers: each item is a mapping {answer: 127.0.0.2, score: 3}");
    *ok = false;
    return;
  }
  std::set<std::string> seen;
  bool have_answer = false, have_score = false;
  for (const auto& kv : node) {
    const std::string key = KeyOf(kv.first);
    if (!seen.insert(key).second) {
      diag->Add(kv.first.Mark(), prefix + "duplicate key '" + key + "' in answer");
      *ok = false;
    } else if (key == "answer") {
      have_answer = true;
      const std::string text = kv.second.IsScalar() ? kv.second.Scalar() : "";
      const size_t dash = text.find('-');
      const std::string first = Trim(text.substr(0, dash));
      const std::string last = dash == std::string::npos ? first : Trim(text.substr(dash + 1));
      if (!ParseAnswerAddress(first, &out->first) || !ParseAnswerAddress(last, &out->last)) {
        diag->Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                  prefix +
                      "answer: expected an IPv4 address (127.0.0.2) or a range "
                      "(127.0.0.10-127.0.0.11)");
        *ok = false;
      } else if (out->last < out->first) {
        diag->Add(kv.second.Mark(), prefix + "answer: the range ends before it starts");
        *ok = false;
      }
    } else if (key == "score") {
      have_score = true;
      if (!ParseNumber(kv.second, &out->score) || std::fabs(out->score) > kMaxScore) {
        diag->Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                  prefix + "score: expected a number, at most 1000 either way");
        *ok = false;
      }
    } else if (key == "name") {
      if (!kv.second.IsScalar() || !ValidRuleName(kv.second.Scalar())) {
        diag->Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                  prefix + "name: not a signal name (A-Z first, then A-Z, 0-9, _; at most 64)");
        *ok = false;
      } else {
        out->name = kv.second.Scalar();
        ClaimName(out->name, kv.second.Mark(), file, names, diag);
      }
    } else {
      diag->Add(kv.first.Mark(),
                prefix + "unknown key '" + key + "' in answer (known keys: answer, score, name)");
      *ok = false;
    }
  }
  if (!have_answer) {
    diag->Add(node.Mark(), prefix + "answer without 'answer'");
    *ok = false;
  }
  if (!have_score) {
    diag->Add(node.Mark(), prefix + "answer without 'score'");
    *ok = false;
  }
}

void ReadZone(const YAML::Node& node, const std::string& file, NameTable* names, Diagnostics* diag,
              std::vector<DnsblZone>* out) {
  if (!node.IsMap()) {
    diag->Add(node.Mark(), "a dnsbl entry is a mapping with 'name', 'zone' and 'score'");
    return;
  }
  DnsblZone zone;
  bool ok = true;
  std::string prefix;
  if (node["name"] && node["name"].IsScalar()) prefix = node["name"].Scalar() + ": ";
  std::set<std::string> seen;
  bool have_name = false, have_zone = false, have_score = false, have_answers = false;
  for (const auto& kv : node) {
    const std::string key = KeyOf(kv.first);
    const YAML::Mark at = kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark();
    if (!seen.insert(key).second) {
      diag->Add(kv.first.Mark(), prefix + "duplicate key '" + key + "' in dnsbl entry");
      ok = false;
    } else if (key == "name") {
      have_name = true;
      if (!kv.second.IsScalar() || !ValidRuleName(kv.second.Scalar())) {
        diag->Add(at, "name: not a signal name (A-Z first, then A-Z, 0-9, _; at most 64)");
        ok = false;
      } else {
        zone.name = kv.second.Scalar();
        ClaimName(zone.name, kv.second.Mark(), file, names, diag);
      }
    } else if (key == "zone") {
      have_zone = true;
      zone.zone = kv.second.IsScalar() ? NormalizeZone(kv.second.Scalar()) : "";
      if (zone.zone.empty()) {
        diag->Add(at, prefix + "zone: expected a DNS zone such as zen.spamhaus.org");
        ok = false;
      }
    } else if (key == "target") {
      const std::string t = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (t == "client") {
        zone.target = DnsblZone::Target::kClient;
      } else if (t == "uri") {
        zone.target = DnsblZone::Target::kUri;
      } else {
        diag->Add(at, prefix + "target: expected client or uri");
        ok = false;
      }
    } else if (key == "score") {
      have_score = true;
      if (!ParseNumber(kv.second, &zone.score) || std::fabs(zone.score) > kMaxScore) {
        diag->Add(at, prefix + "score: expected a number, at most 1000 either way");
        ok = false;
      }
    } else if (key == "answers") {
      have_answers = true;
      if (!kv.second.IsSequence() || kv.second.size() == 0) {
        diag->Add(at, prefix + "answers: expected a list of {answer: ..., score: ...}");
        ok = false;
        continue;
      }
      for (const auto& item : kv.second) {
        DnsblAnswerRule answer;
        ReadAnswer(item, zone.name, file, names, diag, &answer, &ok);
        zone.answers.push_back(std::move(answer));
      }
    } else if (key == "description") {
      if (!kv.second.IsScalar()) {
        diag->Add(at, prefix + "description: expected a string");
        ok = false;
      }
    } else {
      diag->Add(kv.first.Mark(), prefix + "unknown key '" + key +
                                     "' in dnsbl entry (known keys: name, zone, target, score, "
                                     "answers, description)");
      ok = false;
    }
  }
  if (!have_name) {
    diag->Add(node.Mark(), "dnsbl entry without 'name'");
    ok = false;
  }
  if (!have_zone) {
    diag->Add(node.Mark(), prefix + "dnsbl entry without 'zone'");
    ok = false;
  }
  if (!have_score && !have_answers) {
    diag->Add(node.Mark(), prefix + "dnsbl entry without 'score' (or 'answers')");
    ok = false;
  }
  if (ok) out->push_back(std::move(zone));
}

void ReadHeuristics(const YAML::Node& node, Diagnostics* diag,
                    std::map<std::string, double, std::less<>>* out) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    diag->Add(node.Mark(), "heuristics: expected a mapping of signal names to scores");
    return;
  }
  for (const auto& kv : node) {
    const std::string key = KeyOf(kv.first);
    if (!ValidHeuristicName(key)) {
      diag->Add(kv.first.Mark(), "heuristics: '" + key + "' is not a signal name (A-Z, 0-9, _)");
      continue;
    }
    double score = 0;
    if (!ParseNumber(kv.second, &score) || std::fabs(score) > kMaxScore) {
      diag->Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                "heuristics: " + key + ": expected a number, at most 1000 either way");
      continue;
    }
    if (!out->emplace(key, score).second) {
      diag->Add(kv.first.Mark(), "heuristics: duplicate key '" + key + "'");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The compiled rule set

struct SpamRuleSet::Impl {
  std::string file_name;
  std::vector<SpamRuleInfo> rules;
  TextSets body;
  std::unordered_map<std::string, TextSets> headers;  // by lower-case field name
  TextSets all_headers;
  PatternSet uri, raw;
  size_t uri_rules = 0;
  std::vector<std::vector<MetaOp>> programs;  // by rule; empty unless a meta
  std::vector<uint32_t> meta_order;           // metas, each after the metas it names
  std::vector<DnsblZone> zones;
  std::map<std::string, double, std::less<>> heuristics;
};

SpamRuleSet::SpamRuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SpamRuleSet::~SpamRuleSet() = default;

const std::vector<DnsblZone>& SpamRuleSet::dnsbl_zones() const { return impl_->zones; }
const std::map<std::string, double, std::less<>>& SpamRuleSet::heuristic_scores() const {
  return impl_->heuristics;
}
size_t SpamRuleSet::rule_count() const { return impl_->rules.size(); }
const std::vector<SpamRuleInfo>& SpamRuleSet::rules() const { return impl_->rules; }
const std::string& SpamRuleSet::file_name() const { return impl_->file_name; }

Result<std::shared_ptr<const SpamRuleSet>> SpamRuleSet::LoadFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::InvalidArgument(
        path + ":0:0: cannot read: " +
        (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::InvalidArgument(path + ":0:0: cannot read: " + ec.message());
  if (size > kMaxFileBytes) {
    return Status::InvalidArgument(path + ":0:0: larger than " +
                                   std::to_string(kMaxFileBytes >> 20) +
                                   " MiB, the limit for a spam rule file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return Status::InvalidArgument(path + ":0:0: cannot read the file");
  return Parse(text.str(), path);
}

Result<std::shared_ptr<const SpamRuleSet>> SpamRuleSet::Parse(std::string_view yaml,
                                                              const std::string& file_name) {
  Diagnostics diag(file_name);
  if (yaml.size() > kMaxFileBytes) {
    return Status::InvalidArgument(file_name + ":0:0: larger than " +
                                   std::to_string(kMaxFileBytes >> 20) +
                                   " MiB, the limit for a spam rule file");
  }
  try {
    YAML::Node doc;
    try {
      doc = YAML::Load(std::string(yaml));
    } catch (const YAML::ParserException& e) {
      diag.Add(e.mark, "YAML syntax error: " + e.msg);
      return Status::InvalidArgument(diag.Join());
    }
    if (!doc.IsMap()) {
      diag.AddAt(1, 1,
                 "a spam rule file is a mapping with 'rules: [...]' (and optionally "
                 "diacritics_insensitive, dnsbl, heuristics)");
      return Status::InvalidArgument(diag.Join());
    }

    auto impl = std::make_unique<Impl>();
    impl->file_name = file_name;

    // File-wide settings first: they apply to every rule, wherever they are written.
    bool file_insensitive = true;
    std::optional<YAML::Node> rules_node, dnsbl_node;
    YAML::Mark rules_mark;
    std::set<std::string> seen;
    for (const auto& kv : doc) {
      const std::string key = KeyOf(kv.first);
      if (!seen.insert(key).second) {
        diag.Add(kv.first.Mark(), "duplicate key '" + key + "'");
        continue;
      }
      if (key == "version") {
        if (!kv.second.IsScalar() || kv.second.Scalar() != "1") {
          diag.Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                   "version: only version 1 is understood");
        }
      } else if (key == "diacritics_insensitive") {
        if (!ParseBool(kv.second, &file_insensitive)) {
          diag.Add(kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark(),
                   "diacritics_insensitive: expected true or false");
        }
      } else if (key == "rules") {
        rules_node.emplace(kv.second);
        rules_mark = kv.first.Mark();
      } else if (key == "dnsbl") {
        dnsbl_node.emplace(kv.second);
        if (!kv.second.IsNull() && !kv.second.IsSequence()) {
          diag.Add(kv.second.Mark(), "dnsbl: expected a list of blocklist zones");
        }
      } else if (key == "heuristics") {
        ReadHeuristics(kv.second, &diag, &impl->heuristics);
      } else {
        diag.Add(kv.first.Mark(), "unknown key '" + key +
                                      "' (known keys: version, diacritics_insensitive, rules, "
                                      "dnsbl, heuristics)");
      }
    }

    // Rules.
    NameTable names;
    std::vector<ParsedRule> parsed;
    if (rules_node && !rules_node->IsNull()) {
      if (!rules_node->IsSequence()) {
        diag.Add(rules_node->Mark(), "rules: expected a list of rules");
      } else if (rules_node->size() > kMaxRules) {
        diag.Add(rules_node->Mark(), "rules: more than " + std::to_string(kMaxRules) + " rules");
      } else {
        for (const auto& item : *rules_node) {
          ParsedRule rule;
          ReadRule(item, file_insensitive, file_name, &names, &diag, &rule);
          parsed.push_back(std::move(rule));
        }
      }
    }
    if (dnsbl_node && dnsbl_node->IsSequence()) {
      for (const auto& item : *dnsbl_node) ReadZone(item, file_name, &names, &diag, &impl->zones);
    }

    // Rule names for metas: the first rule of each name.
    std::unordered_map<std::string, uint32_t> index_of;
    for (uint32_t i = 0; i < parsed.size(); ++i) {
      if (!parsed[i].info.name.empty()) index_of.emplace(parsed[i].info.name, i);
    }

    // Patterns, each compiled alone (which also checks it), gathered per target.
    SetBuilder uri, raw;
    raw.case_sensitive = true;
    TextBuilder body, all_headers;
    std::unordered_map<std::string, TextBuilder> headers;
    impl->programs.resize(parsed.size());
    std::vector<bool> has_program(parsed.size(), false);
    for (uint32_t i = 0; i < parsed.size(); ++i) {
      ParsedRule& rule = parsed[i];
      // A rule with other problems still has its pattern checked, so that one load reports
      // everything; it just never reaches a set.
      if (!rule.has_pattern) continue;
      const SpamRuleInfo::Kind kind = rule.info.kind;
      if (kind == SpamRuleInfo::Kind::kMeta) {
        MetaParser parser(rule.info.pattern, index_of);
        if (parser.Parse(&impl->programs[i])) {
          has_program[i] = true;
        } else {
          for (const auto& e : parser.errors()) {
            diag.Add(rule.pattern_node.Mark(), Label(rule) + ": meta: " + e.message,
                     ColumnOffsetIn(rule.pattern_node, e.offset));
          }
        }
        continue;
      }
      if (kind == SpamRuleInfo::Kind::kRaw) {
        auto re = CompileOne(rule.info.pattern, true, rule, "pattern", &diag);
        if (re) raw.Add(rule.info.pattern, std::move(re), i);
        continue;
      }
      std::string folded = FoldPattern(rule.info.pattern);
      auto re = CompileOne(folded, false, rule, "pattern", &diag);
      if (!re) continue;
      if (kind == SpamRuleInfo::Kind::kUri) {
        uri.Add(folded, std::move(re), i);
        ++impl->uri_rules;
        continue;
      }
      TextBuilder& target = kind == SpamRuleInfo::Kind::kBody ? body
                            : AsciiLower(rule.info.header) == "all"
                                ? all_headers
                                : headers[AsciiLower(rule.info.header)];
      std::string stripped;
      std::shared_ptr<const RE2> re_stripped;
      if (rule.info.diacritics_insensitive) {
        stripped = StripDiacritics(folded);
        re_stripped = CompileOne(stripped, false, rule, "pattern once without diacritics", &diag);
        if (!re_stripped) continue;
      }
      target.Add(i, folded, std::move(re), stripped, std::move(re_stripped));
    }

    // Metas: no cycles; evaluated each after the metas it names.
    {
      std::vector<uint8_t> state(parsed.size(), 0);  // 0 unseen, 1 on the path, 2 done
      for (uint32_t start = 0; start < parsed.size(); ++start) {
        if (!has_program[start] || state[start] != 0) {
          continue;
        }
        // Depth-first, iteratively: (rule, next program step to look at).
        std::vector<std::pair<uint32_t, size_t>> path{{start, 0}};
        state[start] = 1;
        while (!path.empty()) {
          auto& [r, step] = path.back();
          const std::vector<MetaOp>& program = impl->programs[r];
          if (step == program.size()) {
            state[r] = 2;
            impl->meta_order.push_back(r);
            path.pop_back();
            continue;
          }
          const MetaOp op = program[step++];
          if (op.kind != MetaOp::Kind::kRule) continue;
          const uint32_t next = op.rule;
          if (!has_program[next] || state[next] == 2) {
            continue;
          }
          if (state[next] == 1) {
            std::string cycle;
            bool in = false;
            for (const auto& [p, unused] : path) {
              in = in || p == next;
              if (in) cycle += parsed[p].info.name + " -> ";
            }
            cycle += parsed[next].info.name;
            diag.Add(parsed[next].pattern_node.Mark(),
                     parsed[next].info.name + ": meta rules name each other in a cycle: " + cycle);
            continue;
          }
          state[next] = 1;
          path.push_back({next, 0});
        }
      }
    }

    if (!diag.empty()) return Status::InvalidArgument(diag.Join());

    // The sets.
    auto build = [&](SetBuilder& b, PatternSet* out, const std::string& what) {
      std::string error;
      if (!b.Build(out, &error)) diag.Add(rules_mark, "rules: " + what + ": " + error);
    };
    auto build_text = [&](TextBuilder& b, TextSets* out, const std::string& what) {
      build(b.folded, &out->folded, what + " patterns");
      build(b.stripped, &out->stripped, what + " patterns without diacritics");
      if (b.ascii_differs) build(b.ascii, &out->ascii, what + " patterns on ASCII text");
    };
    build_text(body, &impl->body, "body");
    build_text(all_headers, &impl->all_headers, "header ALL");
    for (auto& [name, builder] : headers)
      build_text(builder, &impl->headers[name], "header " + name);
    build(uri, &impl->uri, "uri patterns");
    build(raw, &impl->raw, "raw patterns");
    if (!diag.empty()) return Status::InvalidArgument(diag.Join());

    for (ParsedRule& rule : parsed) impl->rules.push_back(std::move(rule.info));
    return std::shared_ptr<const SpamRuleSet>(new SpamRuleSet(std::move(impl)));
  } catch (const std::exception& e) {
    diag.AddAt(0, 0, std::string("cannot read the rules: ") + e.what());
    return Status::InvalidArgument(diag.Join());
  }
}

namespace {

// A header field name fit for a log line: printable ASCII, at most 64 characters.
std::string LoggableFieldName(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) out += (c > ' ' && c < 127) ? c : '?';
  return out;
}

}  // namespace

void SpamRuleSet::Match(const RuleMatchInput& in, std::vector<Signal>* out) const {
  const Impl& m = *impl_;
  const size_t n = m.rules.size();
  if (n == 0) return;
  std::vector<uint8_t> hit(n, 0);
  // For ALL header rules the first matching field, for uri rules the first matching link.
  std::vector<int32_t> where(n, -1);
  std::vector<int> scratch;
  auto mark = [&](const PatternSet& s, int32_t at) {
    return [&s, &hit, &where, at](size_t i) {
      const uint32_t r = s.rule_of[i];
      if (!hit[r]) where[r] = at;
      hit[r] = 1;
    };
  };

  // Folded text against a target's sets: stripped once when it is not ASCII.
  auto run_text = [&](const TextSets& t, std::string_view folded, int32_t at) {
    if (IsAscii(folded)) {
      const PatternSet& s = t.ascii.empty() ? t.folded : t.ascii;
      RunSet(s, folded, &scratch, mark(s, at));
      return;
    }
    RunSet(t.folded, folded, &scratch, mark(t.folded, at));
    if (!t.stripped.empty()) {
      RunSet(t.stripped, StripDiacritics(folded), &scratch, mark(t.stripped, at));
    }
  };

  // Body: folded once, by the view when it was made from one.
  if (!m.body.empty()) {
    if (!in.body_folded.empty() || in.body_text.empty()) {
      run_text(m.body, in.body_folded, -1);
    } else {
      run_text(m.body, FoldCase(in.body_text), -1);
    }
  }

  // Header fields: each value folded once for its name's rules and for ALL.
  if (!m.headers.empty() || !m.all_headers.empty()) {
    std::string key, line;
    for (size_t h = 0; h < in.headers.size(); ++h) {
      const ViewHeader& field = in.headers[h];
      const TextSets* named = nullptr;
      if (!m.headers.empty()) {
        key = AsciiLower(field.name);
        auto it = m.headers.find(key);
        if (it != m.headers.end()) named = &it->second;
      }
      if (named == nullptr && m.all_headers.empty()) continue;
      const std::string value = FoldCase(field.value);
      const int32_t at = static_cast<int32_t>(h);
      if (named != nullptr) run_text(*named, value, at);
      if (!m.all_headers.empty()) {
        line = FoldCase(field.name);
        line += ": ";
        line += value;
        run_text(m.all_headers, line, at);
      }
    }
  }

  // Raw: as received.
  RunSet(m.raw, in.raw, &scratch, mark(m.raw, -1));

  // Links: each URL folded; stop once every uri rule has matched.
  if (!m.uri.empty()) {
    size_t uri_hits = 0;
    for (size_t l = 0; l < in.links.size() && uri_hits < m.uri_rules; ++l) {
      const std::string url = FoldCase(in.links[l].url);
      RunSet(m.uri, url, &scratch, [&](size_t i) {
        const uint32_t r = m.uri.rule_of[i];
        if (hit[r]) return;
        hit[r] = 1;
        where[r] = static_cast<int32_t>(l);
        ++uri_hits;
      });
    }
  }

  // Metas, each after the metas it names.
  std::vector<uint8_t> stack;
  for (uint32_t r : m.meta_order) hit[r] = EvaluateMeta(m.programs[r], hit, &stack);

  for (size_t r = 0; r < n; ++r) {
    if (!hit[r]) continue;
    const SpamRuleInfo& rule = m.rules[r];
    if (rule.score == 0) continue;
    Signal s;
    s.name = rule.name;
    s.score = rule.score;
    switch (rule.kind) {
      case SpamRuleInfo::Kind::kHeader:
        if (where[r] >= 0 && AsciiLower(rule.header) == "all") {
          s.detail = "header " + LoggableFieldName(in.headers[where[r]].name);
        } else {
          s.detail = "header " + rule.header;
        }
        break;
      case SpamRuleInfo::Kind::kBody:
        s.detail = "body";
        break;
      case SpamRuleInfo::Kind::kUri:
        s.detail = "uri";
        if (where[r] >= 0 && !in.links[where[r]].host.empty()) {
          s.detail += " " + in.links[where[r]].host.substr(0, 253);
        }
        break;
      case SpamRuleInfo::Kind::kRaw:
        s.detail = "raw";
        break;
      case SpamRuleInfo::Kind::kMeta:
        s.detail = "meta";
        break;
    }
    out->push_back(std::move(s));
  }
}

}  // namespace mailwarden::spam

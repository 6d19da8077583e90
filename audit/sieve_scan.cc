// Reads Sieve scripts written by mailbox owners: untrusted, possibly not Sieve at all. The
// tokenizer accepts any bytes, stops at the first thing RFC 5228 does not allow (reporting
// its line) and keeps no more than the script's own size in memory; the caller caps the size
// of the file it reads.
#include "audit/sieve_scan.h"

#include <cctype>
#include <map>

namespace mailwarden::audit {
namespace {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view s) : s_(s) {}

  SieveTokens Run() {
    SieveTokens out;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (c == '/' && Peek(1) == '*') {
        if (!BracketComment(&out)) return out;
      } else if (c == '"') {
        if (!QuotedString(&out)) return out;
      } else if (c == ':' && IsIdentStart(Peek(1))) {
        size_t start = ++pos_;
        while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
        Push(&out, SieveToken::Kind::kTag, std::string(s_.substr(start, pos_ - start)));
      } else if (IsIdentStart(c)) {
        size_t start = pos_;
        while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
        std::string word(s_.substr(start, pos_ - start));
        if (word == "text" && Peek(0) == ':') {
          ++pos_;
          if (!MultiLine(&out)) return out;
        } else {
          Push(&out, SieveToken::Kind::kIdentifier, std::move(word));
        }
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t start = pos_;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        if (pos_ < s_.size() && std::string_view("KMGkmg").find(s_[pos_]) != std::string_view::npos)
          ++pos_;
        Push(&out, SieveToken::Kind::kNumber, std::string(s_.substr(start, pos_ - start)));
      } else if (std::string_view(";,[](){}").find(c) != std::string_view::npos) {
        Push(&out, SieveToken::Kind::kSpecial, std::string(1, c));
        ++pos_;
      } else {
        Fail(&out, std::string("unexpected character '") +
                       (std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c)
                                                                    : std::string("\\x") + Hex(c)) +
                       "'");
        return out;
      }
    }
    return out;
  }

 private:
  char Peek(size_t ahead) const {
    return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
  }
  static std::string Hex(char c) {
    const char* digits = "0123456789abcdef";
    auto u = static_cast<unsigned char>(c);
    return {digits[u >> 4], digits[u & 15]};
  }
  void Push(SieveTokens* out, SieveToken::Kind kind, std::string text) {
    out->tokens.push_back({kind, std::move(text), token_line_ ? token_line_ : line_});
    token_line_ = 0;
  }
  void Fail(SieveTokens* out, std::string why) {
    out->error = std::move(why);
    out->error_line = token_line_ ? token_line_ : line_;
  }

  bool BracketComment(SieveTokens* out) {
    token_line_ = line_;
    size_t end = s_.find("*/", pos_ + 2);
    if (end == std::string_view::npos) {
      Fail(out, "unterminated /* comment");
      return false;
    }
    for (size_t i = pos_; i < end; ++i) line_ += s_[i] == '\n';
    pos_ = end + 2;
    token_line_ = 0;
    return true;
  }

  // "..." with \" and \\; any other backslash is dropped (RFC 5228 2.4.2).
  bool QuotedString(SieveTokens* out) {
    token_line_ = line_;
    std::string value;
    for (++pos_; pos_ < s_.size(); ++pos_) {
      char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        Push(out, SieveToken::Kind::kString, std::move(value));
        return true;
      }
      if (c == '\\' && pos_ + 1 < s_.size()) c = s_[++pos_];
      if (c == '\n') ++line_;
      value += c;
    }
    Fail(out, "unterminated string");
    return false;
  }

  // text: [whitespace] [# comment] CRLF, lines, "." CRLF; a leading ".." is one ".".
  bool MultiLine(SieveTokens* out) {
    token_line_ = line_;
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    if (Peek(0) == '#') {
      while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
    }
    if (Peek(0) == '\r') ++pos_;
    if (Peek(0) != '\n') {
      Fail(out, "text: must be followed by a line break");
      return false;
    }
    ++pos_;
    ++line_;
    std::string value;
    while (pos_ < s_.size()) {
      size_t eol = s_.find('\n', pos_);
      std::string_view l = s_.substr(pos_, eol == std::string_view::npos ? eol : eol - pos_);
      pos_ = eol == std::string_view::npos ? s_.size() : eol + 1;
      ++line_;
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      if (l == ".") {
        Push(out, SieveToken::Kind::kString, std::move(value));
        return true;
      }
      if (l.starts_with("..")) l.remove_prefix(1);
      value.append(l);
      value += '\n';
    }
    Fail(out, "unterminated text: string");
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
  int token_line_ = 0;  // line where the token being read started
};

// Replaces ${name} with values of `set` commands seen so far (names case-insensitive).
std::string Expand(const std::string& s, const std::map<std::string, std::string>& vars,
                   bool* unresolved) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t open = s.find("${", pos);
    size_t close = open == std::string::npos ? open : s.find('}', open);
    if (close == std::string::npos) break;
    out.append(s, pos, open - pos);
    std::string name = s.substr(open + 2, close - open - 2);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = vars.find(name);
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(s, open, close + 1 - open);
      *unresolved = true;
    }
    pos = close + 1;
  }
  out.append(s, pos);
  return out;
}

}  // namespace

SieveTokens TokenizeSieve(std::string_view script) { return Tokenizer(script).Run(); }

SieveScan ScanSieveRedirects(std::string_view script) {
  SieveTokens t = TokenizeSieve(script);
  SieveScan out;
  out.error = t.error;
  out.error_line = t.error_line;
  std::map<std::string, std::string> vars;
  const auto& tok = t.tokens;
  bool command_position = true;
  for (size_t i = 0; i < tok.size(); ++i) {
    const SieveToken& k = tok[i];
    if (k.kind == SieveToken::Kind::kSpecial) {
      command_position = k.text == ";" || k.text == "{" || k.text == "}";
      continue;
    }
    bool at_command = command_position && k.kind == SieveToken::Kind::kIdentifier;
    command_position = false;
    if (!at_command || (k.text != "redirect" && k.text != "set")) continue;
    // The arguments: up to ';' (a block or the end means the script is broken there).
    std::vector<std::string> strings;
    SieveRedirect r;
    r.line = k.line;
    size_t j = i + 1;
    for (; j < tok.size() && tok[j].kind != SieveToken::Kind::kSpecial; ++j) {
      const SieveToken& a = tok[j];
      if (a.kind == SieveToken::Kind::kTag) {
        if (a.text == "copy") r.copy = true;
        if (a.text == "list") r.list = true;
        // Tags that take an argument (DSN :notify/:ret, deliverby :by/:bymode).
        if ((a.text == "notify" || a.text == "ret" || a.text == "by" || a.text == "bymode") &&
            j + 1 < tok.size() && tok[j + 1].kind != SieveToken::Kind::kSpecial)
          ++j;
      } else if (a.kind == SieveToken::Kind::kString) {
        strings.push_back(a.text);
      }
    }
    // A string list ["a", "b"] as the argument.
    if (j < tok.size() && tok[j].text == "[") {
      for (++j; j < tok.size() && tok[j].text != "]"; ++j)
        if (tok[j].kind == SieveToken::Kind::kString) strings.push_back(tok[j].text);
      if (j < tok.size()) ++j;
    }
    if (j >= tok.size() || tok[j].text != ";") {
      if (out.error.empty()) {
        out.error = "'" + k.text + "' command without ';'";
        out.error_line = k.line;
      }
      if (j >= tok.size()) break;
    }
    if (k.text == "set") {
      if (strings.size() == 2) {
        std::string name = strings[0];
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bool unresolved = false;
        std::string value = Expand(strings[1], vars, &unresolved);
        if (unresolved) vars.erase(name);
        else vars[name] = value;
      }
    } else {
      for (const std::string& s : strings) {
        SieveRedirect one = r;
        one.target = Expand(s, vars, &one.unresolved);
        out.redirects.push_back(std::move(one));
      }
    }
    i = j - 1;  // the ';' (or other special) sets command_position on the next turn
  }
  return out;
}

}  // namespace mailwarden::audit

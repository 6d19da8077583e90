// Parses forwarding lists written by mailbox owners (.forward) and admins (aliases). The
// text is untrusted: any bytes are accepted, nothing is executed or opened here, and an
// entry that makes no sense is returned as what it looks like (the caller classifies).
#include "audit/forward_list.h"

#include <cctype>

namespace mailwarden::audit {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

ForwardItem Classify(std::string value, int line) {
  ForwardItem item;
  item.line = line;
  if (value.starts_with('|')) {
    item.kind = ForwardItem::Kind::kCommand;
    item.value = value.substr(1);
  } else if (value.starts_with('/')) {
    item.kind = ForwardItem::Kind::kFile;
    item.value = std::move(value);
  } else if (value.size() > 9 && value.compare(0, 9, ":include:") == 0) {
    item.kind = ForwardItem::Kind::kInclude;
    item.value = std::string(Trim(std::string_view(value).substr(9)));
  } else if (value.starts_with('\\')) {
    item.kind = ForwardItem::Kind::kLocal;
    item.value = value.substr(1);
  } else {
    if (value.size() >= 2 && value.front() == '<' && value.back() == '>')
      value = value.substr(1, value.size() - 2);
    item.kind = value.find('@') == std::string::npos ? ForwardItem::Kind::kLocal
                                                     : ForwardItem::Kind::kAddress;
    item.value = std::move(value);
  }
  return item;
}

// One comma- or newline-separated segment (quotes already balanced within it).
void ParseSegment(std::string_view segment, int line, std::vector<ForwardItem>* out) {
  segment = Trim(segment);
  if (segment.empty()) return;
  // "Display Name <address>": the address in angle brackets is the entry.
  size_t open = segment.rfind('<');
  size_t close = segment.rfind('>');
  bool command_or_file = segment.starts_with('|') || segment.starts_with('/') ||
                         segment.starts_with("\"|") || segment.starts_with("\"/");
  if (open != std::string_view::npos && close != std::string_view::npos && open < close &&
      !command_or_file) {
    out->push_back(Classify(std::string(Trim(segment.substr(open + 1, close - open - 1))), line));
    return;
  }
  // An unquoted command takes the rest of the segment, arguments included.
  if (segment.front() == '|') {
    out->push_back(Classify(std::string(segment), line));
    return;
  }
  std::string word;
  bool quoted = false;
  auto flush = [&] {
    if (!word.empty()) out->push_back(Classify(std::move(word), line));
    word.clear();
  };
  for (size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (c == '\\' && quoted && i + 1 < segment.size()) {
      word += segment[++i];
    } else if (IsSpace(c) && !quoted) {
      flush();
    } else {
      word += c;
    }
  }
  flush();
}

}  // namespace

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    lines.push_back(text.substr(pos, eol == std::string_view::npos ? eol : eol - pos));
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
  }
  return lines;
}

std::vector<ForwardItem> ParseForwardList(std::string_view text) {
  std::vector<ForwardItem> out;
  int line = 1;
  for (std::string_view l : SplitLines(text)) {
    if (!Trim(l).starts_with('#')) {
      // Split at commas outside double quotes.
      bool quoted = false;
      size_t start = 0;
      for (size_t i = 0; i <= l.size(); ++i) {
        if (i < l.size() && l[i] == '"' && (i == 0 || l[i - 1] != '\\')) quoted = !quoted;
        if (i == l.size() || (l[i] == ',' && !quoted)) {
          ParseSegment(l.substr(start, i - start), line, &out);
          start = i + 1;
        }
      }
    }
    ++line;
  }
  return out;
}

std::string_view ForwardItemKindName(ForwardItem::Kind kind) {
  switch (kind) {
    case ForwardItem::Kind::kAddress: return "address";
    case ForwardItem::Kind::kLocal: return "local";
    case ForwardItem::Kind::kCommand: return "command";
    case ForwardItem::Kind::kFile: return "file";
    case ForwardItem::Kind::kInclude: return "include";
  }
  return "address";
}

}  // namespace mailwarden::audit

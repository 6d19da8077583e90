// The XML scanner. Distrusts every byte: unterminated constructs, mismatched tags, huge
// or invalid character references, deep nesting. Every step consumes input, so the scan is
// linear; nothing is expanded, so the output is never larger than the input.
#include "milter/text/xml_scan.h"

#include <cstdint>

#include "milter/mime/vietnamese_text.h"

namespace mailwarden::text {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNameEnd(char c) { return IsSpace(c) || c == '>' || c == '/' || c == '='; }

std::string_view LocalName(std::string_view qualified) {
  size_t colon = qualified.rfind(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

// Decodes the reference starting at raw[i] == '&' into `out`; returns the index after it.
size_t DecodeReference(std::string_view raw, size_t i, std::string* out) {
  size_t semi = raw.find(';', i + 1);
  // References are short; a lone '&' (invalid, but seen) is kept as it is.
  if (semi == std::string_view::npos || semi - i > 12) {
    out->push_back('&');
    return i + 1;
  }
  std::string_view name = raw.substr(i + 1, semi - i - 1);
  if (name == "lt") {
    out->push_back('<');
  } else if (name == "gt") {
    out->push_back('>');
  } else if (name == "amp") {
    out->push_back('&');
  } else if (name == "quot") {
    out->push_back('"');
  } else if (name == "apos") {
    out->push_back('\'');
  } else if (!name.empty() && name[0] == '#') {
    bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
    std::string_view digits = name.substr(hex ? 2 : 1);
    uint32_t value = 0;
    bool valid = !digits.empty();
    for (char c : digits) {
      int d = c >= '0' && c <= '9'          ? c - '0'
              : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
              : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : -1;
      if (d < 0 || value > 0x10FFFF) {
        valid = false;
        break;
      }
      value = value * (hex ? 16 : 10) + static_cast<uint32_t>(d);
    }
    if (!valid || value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
      value = 0xFFFD;
    }
    mime::AppendUtf8(*out, value);
  } else {
    out->append(raw.substr(i, semi - i + 1));  // an undeclared entity: kept, never expanded
  }
  return semi + 1;
}

class Scanner {
 public:
  Scanner(std::string_view xml, XmlHandler& h) : in_(xml), h_(h) {}

  bool Run() {
    while (pos_ < in_.size() && !h_.Stop()) {
      size_t lt = in_.find('<', pos_);
      if (lt == std::string_view::npos) lt = in_.size();
      if (lt > pos_) CharacterData(in_.substr(pos_, lt - pos_));
      pos_ = lt;
      if (pos_ >= in_.size()) break;
      if (!Markup()) return false;
    }
    return h_.Stop() || open_.empty();
  }

 private:
  bool Emitting() const { return skip_depth_ == 0; }

  void CharacterData(std::string_view raw) {
    if (open_.empty() || !Emitting()) return;
    if (raw.find('&') == std::string_view::npos) {
      h_.Text(raw);
      return;
    }
    h_.Text(DecodeXmlText(raw));
  }

  // Skips past `terminator` from pos_ + `from`; false when it never comes.
  bool SkipPast(std::string_view terminator, size_t from) {
    size_t end = in_.find(terminator, pos_ + from);
    if (end == std::string_view::npos) return false;
    pos_ = end + terminator.size();
    return true;
  }

  bool Markup() {
    std::string_view rest = in_.substr(pos_);
    if (rest.starts_with("<?")) return SkipPast("?>", 2);
    if (rest.starts_with("<!--")) return SkipPast("-->", 4);
    if (rest.starts_with("<![CDATA[")) {
      size_t end = in_.find("]]>", pos_ + 9);
      if (end == std::string_view::npos) return false;
      if (!open_.empty() && Emitting()) h_.Text(in_.substr(pos_ + 9, end - pos_ - 9));
      pos_ = end + 3;
      return true;
    }
    if (rest.starts_with("<!")) return SkipDeclaration();
    if (rest.starts_with("</")) return EndTag();
    return StartTag();
  }

  // <!DOCTYPE ...> with an optional internal subset in brackets, skipped unread.
  bool SkipDeclaration() {
    size_t i = pos_ + 2;
    int brackets = 0;
    char quote = 0;
    for (; i < in_.size(); ++i) {
      char c = in_[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[') {
        ++brackets;
      } else if (c == ']') {
        --brackets;
      } else if (c == '>' && brackets <= 0) {
        pos_ = i + 1;
        return true;
      }
    }
    return false;
  }

  bool EndTag() {
    size_t gt = in_.find('>', pos_ + 2);
    if (gt == std::string_view::npos || open_.empty()) return false;
    std::string_view name = in_.substr(pos_ + 2, gt - pos_ - 2);
    while (!name.empty() && IsSpace(name.back())) name.remove_suffix(1);
    if (name != open_.back()) return false;
    open_.pop_back();
    pos_ = gt + 1;
    if (skip_depth_ > 0) {
      if (open_.size() < skip_depth_) skip_depth_ = 0;  // the skipped element ended
      return true;
    }
    h_.End(LocalName(name));
    return true;
  }

  bool StartTag() {
    size_t i = pos_ + 1;
    size_t name_start = i;
    while (i < in_.size() && !IsNameEnd(in_[i])) ++i;
    std::string_view name = in_.substr(name_start, i - name_start);
    if (name.empty()) return false;
    attributes_.clear();
    bool empty = false;
    for (;;) {
      while (i < in_.size() && IsSpace(in_[i])) ++i;
      if (i >= in_.size()) return false;
      if (in_[i] == '>') {
        ++i;
        break;
      }
      if (in_[i] == '/') {
        if (i + 1 >= in_.size() || in_[i + 1] != '>') return false;
        empty = true;
        i += 2;
        break;
      }
      size_t attr_start = i;
      while (i < in_.size() && !IsNameEnd(in_[i])) ++i;
      std::string_view attr = in_.substr(attr_start, i - attr_start);
      while (i < in_.size() && IsSpace(in_[i])) ++i;
      if (attr.empty() || i >= in_.size() || in_[i] != '=') return false;
      ++i;
      while (i < in_.size() && IsSpace(in_[i])) ++i;
      if (i >= in_.size() || (in_[i] != '"' && in_[i] != '\'')) return false;
      char quote = in_[i++];
      size_t value_end = in_.find(quote, i);
      if (value_end == std::string_view::npos) return false;
      std::string_view value = in_.substr(i, value_end - i);
      if (value.find('<') != std::string_view::npos) return false;
      attributes_.push_back({LocalName(attr), value});
      i = value_end + 1;
    }
    pos_ = i;
    if (!Emitting()) {
      if (!empty) open_.push_back(name);
      return true;
    }
    XmlElement element(LocalName(name), &attributes_);
    bool enter = h_.Start(element);
    if (empty) {
      if (enter) h_.End(LocalName(name));
      return true;
    }
    open_.push_back(name);
    if (!enter) skip_depth_ = open_.size();
    return true;
  }

  std::string_view in_;
  XmlHandler& h_;
  size_t pos_ = 0;
  std::vector<std::string_view> open_;  // qualified names of the open elements
  size_t skip_depth_ = 0;               // > 0: inside a skipped element opened at this depth
  std::vector<XmlElement::Attribute> attributes_;
};

}  // namespace

std::string XmlElement::Attr(std::string_view local) const {
  for (const Attribute& a : *attributes_) {
    if (a.name == local) return DecodeXmlText(a.raw);
  }
  return "";
}

std::string DecodeXmlText(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    size_t amp = raw.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(raw.substr(i));
      break;
    }
    out.append(raw.substr(i, amp - i));
    i = DecodeReference(raw, amp, &out);
  }
  return out;
}

bool ScanXml(std::string_view xml, XmlHandler& h) { return Scanner(xml, h).Run(); }

}  // namespace mailwarden::text

// Reads LDIF from ldapsearch or an admin's export: untrusted layout, any size. Memory is
// one entry plus one logical line (capped); a bad line is a problem and is skipped, the
// entry goes on.
#include "audit/ldif.h"

#include <cctype>

#include "milter/mime/decoders.h"

namespace mailwarden::audit {

std::vector<std::string> LdifEntry::Values(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : attributes)
    if (n == name) out.push_back(v);
  return out;
}

namespace {

class Reader {
 public:
  Reader(const std::function<void(const LdifEntry&)>& each, std::vector<std::string>* problems)
      : each_(each), problems_(problems) {}

  void Line(std::string_view l, int number) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!l.empty() && l.front() == ' ') {  // continuation of the logical line
      if (skipping_) return;
      if (logical_.size() + l.size() > kMaxLdifLineBytes) {
        Problem(logical_line_, "line longer than " + std::to_string(kMaxLdifLineBytes) + " bytes");
        logical_.clear();
        skipping_ = true;
        return;
      }
      if (!in_comment_) logical_.append(l.substr(1));
      return;
    }
    Flush();
    skipping_ = false;
    in_comment_ = !l.empty() && l.front() == '#';
    if (l.empty()) {
      EndEntry();
      return;
    }
    if (in_comment_) return;
    if (l.size() > kMaxLdifLineBytes) {
      Problem(number, "line longer than " + std::to_string(kMaxLdifLineBytes) + " bytes");
      skipping_ = true;
      return;
    }
    logical_.assign(l);
    logical_line_ = number;
  }

  void End() {
    Flush();
    EndEntry();
  }
  size_t entries() const { return entries_; }

 private:
  void Problem(int line, const std::string& why) {
    problems_->push_back("line " + std::to_string(line) + ": " + why);
  }

  void Flush() {
    if (logical_.empty()) return;
    std::string l = std::move(logical_);
    logical_.clear();
    size_t colon = l.find(':');
    if (colon == std::string::npos || colon == 0) {
      Problem(logical_line_, "not 'attribute: value'");
      return;
    }
    std::string name = l.substr(0, colon);
    if (size_t semi = name.find(';'); semi != std::string::npos) name.resize(semi);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view rest = std::string_view(l).substr(colon + 1);
    std::string value;
    if (rest.starts_with(':')) {
      mime::Base64Decoder d;
      d.Feed(rest.substr(1), &value);
      d.Finish(&value);
    } else if (rest.starts_with('<')) {
      Problem(logical_line_, "'" + name + ":<' URL values are not read");
      return;
    } else {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      value.assign(rest);
    }
    if (name == "version" && entry_.dn.empty() && entry_.attributes.empty()) return;
    if (name == "dn") {
      if (!entry_.dn.empty() || !entry_.attributes.empty()) EndEntry();
      entry_.dn = std::move(value);
      entry_.line = logical_line_;
      return;
    }
    if (entry_.dn.empty()) {
      Problem(logical_line_, "attribute '" + name + "' outside an entry (no dn: line before it)");
      return;
    }
    entry_.attributes.emplace_back(std::move(name), std::move(value));
  }

  void EndEntry() {
    if (entry_.dn.empty()) return;
    ++entries_;
    each_(entry_);
    entry_ = LdifEntry();
  }

  const std::function<void(const LdifEntry&)>& each_;
  std::vector<std::string>* problems_;
  LdifEntry entry_;
  std::string logical_;
  int logical_line_ = 0;
  bool skipping_ = false;
  bool in_comment_ = false;
  size_t entries_ = 0;
};

}  // namespace

size_t ReadLdif(std::istream& in, const std::function<void(const LdifEntry&)>& each,
                std::vector<std::string>* problems) {
  Reader reader(each, problems);
  std::string buffer;
  int number = 0;
  // getline with a cap: a physical line over the cap is cut into pieces that are all
  // dropped with one problem.
  while (true) {
    buffer.clear();
    bool any = false;
    bool too_long = false;
    char c;
    while (in.get(c)) {
      any = true;
      if (c == '\n') break;
      if (buffer.size() <= kMaxLdifLineBytes) buffer += c;
      else too_long = true;
    }
    if (!any) break;
    ++number;
    if (too_long) buffer.assign(kMaxLdifLineBytes + 1, 'x');
    reader.Line(buffer, number);
  }
  reader.End();
  return reader.entries();
}

}  // namespace mailwarden::audit

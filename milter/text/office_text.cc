// OOXML and ODF text. Untrusted input: the zip and every XML member in it. The zip is read
// by libarchive from memory (damage and encryption end the walk with `damaged`); members
// are read whole up to the document's XML budget and scanned by xml_scan.h, which expands
// no entity and loads nothing (XXE and entity expansion are not possible). Parsing keeps
// only a stack of element names and the paragraph being built, so nesting costs memory in
// proportion to the input, never more. Text beyond max_text_bytes is not produced.
#include "milter/text/office_text.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ascii.h"
#include "milter/mime/vietnamese_text.h"
#include "milter/text/xml_scan.h"

namespace mailwarden::text {
namespace {

using mime::LegacyEncoding;

using Font = mime::LegacyFont;

Font FontNamed(std::string_view name) { return mime::LegacyFontNamed(name); }

// Collects runs into lines. Paragraphs nest (a text box inside a paragraph): each has its
// own buffer, emitted as a line when it ends.
class LineSink {
 public:
  LineSink(ExtractedText* out, uint64_t max_bytes) : out_(out), max_bytes_(max_bytes) {}

  void BeginParagraph() { stack_.emplace_back(); }
  void EndParagraph() {
    if (stack_.empty()) return;
    Emit(stack_.back());
    stack_.pop_back();
  }
  // A line break inside the current paragraph.
  void Break() {
    if (stack_.empty()) return;
    Emit(stack_.back());
    stack_.back().clear();
  }
  void AddRun(std::string_view text, Font font) {
    if (stack_.empty() || text.empty()) return;
    std::vector<Segment>& p = stack_.back();
    if (!p.empty() && p.back().font == font) {
      p.back().text.append(text);
    } else {
      p.push_back({font, std::string(text)});
    }
  }
  // The text limit was reached: stop reading.
  bool full() const { return full_; }

 private:
  struct Segment {
    Font font;
    std::string text;
  };

  void Emit(const std::vector<Segment>& segments) {
    if (full_) return;
    std::string line;
    for (const Segment& s : segments) {
      if (s.font.encoding == LegacyEncoding::kNone) {
        line += s.text;
        continue;
      }
      bool non_ascii = std::any_of(s.text.begin(), s.text.end(),
                                   [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
      if (non_ascii) out_->legacy |= LegacyBit(s.font.encoding);
      line += mime::LegacyToUnicode(
          s.text, s.font.encoding,
          s.font.upper ? mime::TcvnCase::kUpperFont : mime::TcvnCase::kHarmonize);
    }
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) return;
    if (out_->text.size() + line.size() + 1 > max_bytes_) {
      // Cut at a character boundary: never half a UTF-8 sequence.
      size_t room = max_bytes_ > out_->text.size() ? max_bytes_ - out_->text.size() : 0;
      out_->text.append(line, 0, mime::Utf8Prefix(line, room));
      out_->truncated = true;
      out_->limit = "max_text";
      full_ = true;
      return;
    }
    out_->text += line;
    out_->text += '\n';
  }

  ExtractedText* out_;
  uint64_t max_bytes_;
  std::vector<std::vector<Segment>> stack_;
  bool full_ = false;
};

// --- XML ------------------------------------------------------------------------------

using Element = XmlElement;

// --- WordprocessingML (docx) --------------------------------------------------------------

// Fonts of paragraph and character styles (word/styles.xml), basedOn resolved.
class WordStyles final : public XmlHandler {
 public:
  bool Start(const Element& e) override {
    std::string_view n = e.name();
    if (n == "style") {
      current_ = e.Attr("styleId");
      in_defaults_ = false;
    } else if (n == "docDefaults") {
      in_defaults_ = true;
    } else if (n == "basedOn" && !current_.empty()) {
      based_on_[current_] = e.Attr("val");
    } else if (n == "rFonts") {
      std::string font = e.Attr("ascii");
      if (font.empty()) font = e.Attr("hAnsi");
      if (!font.empty()) {
        if (in_defaults_) {
          default_ = font;
        } else if (!current_.empty()) {
          font_[current_] = font;
        }
      }
    }
    return true;
  }
  void End(std::string_view name) override {
    if (name == "style") current_.clear();
    if (name == "docDefaults") in_defaults_ = false;
  }
  void Text(std::string_view) override {}
  bool Stop() const override { return false; }

  // The font of style `id`, following basedOn; the document default when none says.
  Font FontOf(const std::string& id) const {
    std::string s = id;
    for (int hops = 0; hops < 16 && !s.empty(); ++hops) {
      if (auto f = font_.find(s); f != font_.end()) return FontNamed(f->second);
      auto b = based_on_.find(s);
      if (b == based_on_.end()) break;
      s = b->second;
    }
    return FontNamed(default_);
  }
  Font DefaultFont() const { return FontNamed(default_); }

 private:
  std::string current_;
  bool in_defaults_ = false;
  std::string default_;
  std::map<std::string, std::string, std::less<>> font_;
  std::map<std::string, std::string, std::less<>> based_on_;
};

class WordText final : public XmlHandler {
 public:
  WordText(LineSink* sink, const WordStyles& styles) : sink_(sink), styles_(styles) {}

  bool Start(const Element& e) override {
    std::string_view n = e.name();
    // Not visible text: deleted revisions, field codes, and the second copy Word writes of
    // every text box for older readers.
    if (n == "del" || n == "moveFrom" || n == "delText" || n == "instrText" || n == "Fallback") {
      return false;
    }
    if (n == "p") {
      sink_->BeginParagraph();
      paragraphs_.push_back(styles_.DefaultFont());
      run_ = paragraphs_.back();
    } else if (n == "pPr") {
      ++in_ppr_;
    } else if (n == "pStyle" && !paragraphs_.empty()) {
      paragraphs_.back() = styles_.FontOf(e.Attr("val"));
      run_ = paragraphs_.back();
    } else if (n == "r") {
      run_ = paragraphs_.empty() ? styles_.DefaultFont() : paragraphs_.back();
    } else if (n == "rStyle" && in_ppr_ == 0) {
      run_ = styles_.FontOf(e.Attr("val"));
    } else if (n == "rFonts" && in_ppr_ == 0) {
      std::string font = e.Attr("ascii");
      if (font.empty()) font = e.Attr("hAnsi");
      if (!font.empty()) run_ = FontNamed(font);
    } else if (n == "t") {
      in_text_ = true;
    } else if (n == "tab") {
      sink_->AddRun(" ", run_);
    } else if (n == "br" || n == "cr") {
      sink_->Break();
    }
    return true;
  }
  void End(std::string_view n) override {
    if (n == "p") {
      sink_->EndParagraph();
      if (!paragraphs_.empty()) paragraphs_.pop_back();
    } else if (n == "pPr") {
      --in_ppr_;
    } else if (n == "t") {
      in_text_ = false;
    }
  }
  void Text(std::string_view text) override {
    if (in_text_) sink_->AddRun(text, run_);
  }
  bool Stop() const override { return sink_->full(); }

 private:
  LineSink* sink_;
  const WordStyles& styles_;
  std::vector<Font> paragraphs_;  // the style font of each open paragraph
  Font run_;
  int in_ppr_ = 0;
  bool in_text_ = false;
};

// --- SpreadsheetML (xlsx) -----------------------------------------------------------------

// Fonts of cell formats (xl/styles.xml: cellXfs -> fonts).
class SheetStyles final : public XmlHandler {
 public:
  bool Start(const Element& e) override {
    std::string_view n = e.name();
    if (n == "fonts") in_fonts_ = true;
    if (n == "cellXfs") in_xfs_ = true;
    if (in_fonts_ && n == "font") fonts_.emplace_back();
    if (in_fonts_ && n == "name" && !fonts_.empty()) fonts_.back() = FontNamed(e.Attr("val"));
    if (in_xfs_ && n == "xf") {
      size_t id = 0;
      std::string v = e.Attr("fontId");
      std::from_chars(v.data(), v.data() + v.size(), id);
      xf_font_.push_back(id);
    }
    return true;
  }
  void End(std::string_view n) override {
    if (n == "fonts") in_fonts_ = false;
    if (n == "cellXfs") in_xfs_ = false;
  }
  void Text(std::string_view) override {}
  bool Stop() const override { return false; }

  Font FontOfXf(size_t xf) const {
    if (xf >= xf_font_.size() || xf_font_[xf] >= fonts_.size()) return {};
    return fonts_[xf_font_[xf]];
  }

 private:
  bool in_fonts_ = false, in_xfs_ = false;
  std::vector<Font> fonts_;
  std::vector<size_t> xf_font_;
};

// A string item: runs with the font each rich-text run names (nullopt: the cell's font).
struct RichRun {
  std::optional<Font> font;
  std::string text;
};
using RichString = std::vector<RichRun>;

// Reads <si> (shared strings) or <is> (inline strings) items into RichStrings.
class RichStringReader {
 public:
  void Start(const Element& e) {
    std::string_view n = e.name();
    if (n == "rPh") ++in_phonetic_;  // reading aids for East Asian text, not the text
    if (n == "r") run_font_.reset();
    if (n == "rFont") run_font_ = FontNamed(e.Attr("val"));
    if (n == "t" && in_phonetic_ == 0) in_text_ = true;
  }
  void End(std::string_view n) {
    if (n == "rPh") --in_phonetic_;
    if (n == "t") in_text_ = false;
    if (n == "r") run_font_.reset();
  }
  void Text(std::string_view text, RichString* into) {
    if (!in_text_) return;
    if (!into->empty() && into->back().font == run_font_) {
      into->back().text.append(text);
    } else {
      into->push_back({run_font_, std::string(text)});
    }
  }

 private:
  std::optional<Font> run_font_;
  int in_phonetic_ = 0;
  bool in_text_ = false;
};

class SharedStrings final : public XmlHandler {
 public:
  explicit SharedStrings(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  bool Start(const Element& e) override {
    if (e.name() == "si") strings_.emplace_back();
    items_.Start(e);
    return true;
  }
  void End(std::string_view n) override { items_.End(n); }
  void Text(std::string_view text) override {
    if (strings_.empty()) return;
    bytes_ += text.size();
    items_.Text(text, &strings_.back());
  }
  // Strings beyond the text limit are not needed: no cell could show them.
  bool Stop() const override { return bytes_ > max_bytes_; }
  const std::vector<RichString>& strings() const { return strings_; }

 private:
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::vector<RichString> strings_;
  RichStringReader items_;
};

void AddRichString(const RichString& s, Font cell_font, LineSink* sink) {
  for (const RichRun& r : s) sink->AddRun(r.text, r.font.value_or(cell_font));
}

class SheetText final : public XmlHandler {
 public:
  SheetText(LineSink* sink, const SheetStyles& styles, const std::vector<RichString>& shared)
      : sink_(sink), styles_(styles), shared_(shared) {}

  bool Start(const Element& e) override {
    std::string_view n = e.name();
    if (n == "c") {
      in_cell_ = true;
      type_ = e.Attr("t");
      size_t xf = 0;
      std::string s = e.Attr("s");
      std::from_chars(s.data(), s.data() + s.size(), xf);
      font_ = styles_.FontOfXf(xf);
      value_.clear();
      inline_.clear();
      sink_->BeginParagraph();
    } else if (in_cell_ && n == "v") {
      in_value_ = true;
    } else if (in_cell_) {
      items_.Start(e);
    }
    return true;
  }
  void End(std::string_view n) override {
    if (n == "v") in_value_ = false;
    if (n == "c" && in_cell_) {
      if (type_ == "s") {
        size_t index = SIZE_MAX;
        std::from_chars(value_.data(), value_.data() + value_.size(), index);
        if (index < shared_.size()) AddRichString(shared_[index], font_, sink_);
      } else if (type_ == "inlineStr") {
        AddRichString(inline_, font_, sink_);
      } else if (type_ == "str") {
        sink_->AddRun(value_, font_);  // a formula's text result
      }
      sink_->EndParagraph();
      in_cell_ = false;
    } else if (in_cell_) {
      items_.End(n);
    }
  }
  void Text(std::string_view text) override {
    if (!in_cell_) return;
    if (in_value_) {
      if (value_.size() < (1u << 16)) value_.append(text);
    } else {
      items_.Text(text, &inline_);
    }
  }
  bool Stop() const override { return sink_->full(); }

 private:
  LineSink* sink_;
  const SheetStyles& styles_;
  const std::vector<RichString>& shared_;
  bool in_cell_ = false, in_value_ = false;
  std::string type_, value_;
  Font font_;
  RichString inline_;
  RichStringReader items_;
};

// --- DrawingML slides (pptx) --------------------------------------------------------------

class SlideText final : public XmlHandler {
 public:
  explicit SlideText(LineSink* sink) : sink_(sink) {}
  bool Start(const Element& e) override {
    std::string_view n = e.name();
    if (n == "Fallback") return false;
    if (n == "p") sink_->BeginParagraph();
    if (n == "r" || n == "fld") run_ = {};
    if (n == "latin") {
      std::string face = e.Attr("typeface");
      // "+mn-lt" and the like name theme fonts: modern fonts.
      if (!face.empty() && face[0] != '+') run_ = FontNamed(face);
    }
    if (n == "t") in_text_ = true;
    if (n == "br") sink_->Break();
    return true;
  }
  void End(std::string_view n) override {
    if (n == "p") sink_->EndParagraph();
    if (n == "t") in_text_ = false;
  }
  void Text(std::string_view text) override {
    if (in_text_) sink_->AddRun(text, run_);
  }
  bool Stop() const override { return sink_->full(); }

 private:
  LineSink* sink_;
  Font run_;
  bool in_text_ = false;
};

// --- OpenDocument (odt, ods, odp) ---------------------------------------------------------

// Font faces and the fonts of styles, from content.xml and styles.xml.
class OdfStyles {
 public:
  // Reads declarations out of an element; true when the element was one.
  void Start(const Element& e) {
    std::string_view n = e.name();
    if (n == "font-face") {
      faces_[e.Attr("name")] = e.Attr("font-family");
    } else if (n == "style" || n == "default-style") {
      current_ = n == "style" ? e.Attr("name") : std::string("#default");
      std::string parent = e.Attr("parent-style-name");
      if (!parent.empty()) parent_[current_] = parent;
    } else if (n == "text-properties" && !current_.empty()) {
      std::string face = e.Attr("font-name");
      if (face.empty()) face = e.Attr("font-family");
      if (!face.empty()) font_name_[current_] = face;
    }
  }
  void End(std::string_view n) {
    if (n == "style" || n == "default-style") current_.clear();
  }
  // The font of style `name`, following parents, then the default style.
  Font FontOf(const std::string& name) const {
    std::string s = name;
    for (int hops = 0; hops < 16 && !s.empty(); ++hops) {
      if (auto f = font_name_.find(s); f != font_name_.end()) return FaceFont(f->second);
      auto p = parent_.find(s);
      if (p == parent_.end()) break;
      s = p->second;
    }
    if (auto f = font_name_.find("#default"); f != font_name_.end()) return FaceFont(f->second);
    return {};
  }

 private:
  Font FaceFont(const std::string& face) const {
    auto f = faces_.find(face);
    return FontNamed(f != faces_.end() && !f->second.empty() ? f->second : face);
  }
  std::string current_;
  std::map<std::string, std::string, std::less<>> faces_, font_name_, parent_;
};

class OdfText final : public XmlHandler {
 public:
  // `body`: emit the text of content.xml's body; else only that of master pages (headers
  // and footers in styles.xml).
  OdfText(LineSink* sink, OdfStyles* styles, bool styles_only)
      : sink_(sink), styles_(styles), styles_only_(styles_only) {}

  bool Start(const Element& e) override {
    std::string_view n = e.name();
    styles_->Start(e);
    // Deleted text kept for change tracking is not the document's text.
    if (n == "tracked-changes") return false;
    if (n == "master-styles") ++in_master_;
    bool emitting = !styles_only_ || in_master_ > 0;
    if (n == "p" || n == "h") {
      fonts_.push_back(styles_->FontOf(e.Attr("style-name")));
      if (emitting) sink_->BeginParagraph();
      ++in_paragraph_;
    } else if (n == "span" || n == "a") {
      std::string style = e.Attr("style-name");
      fonts_.push_back(style.empty() ? CurrentFont() : styles_->FontOf(style));
    } else if (in_paragraph_ > 0 && emitting) {
      if (n == "s") {
        int count = 1;
        std::string c = e.Attr("c");
        std::from_chars(c.data(), c.data() + c.size(), count);
        sink_->AddRun(std::string(std::clamp(count, 1, 64), ' '), CurrentFont());
      } else if (n == "tab") {
        sink_->AddRun(" ", CurrentFont());
      } else if (n == "line-break") {
        sink_->Break();
      }
    }
    return true;
  }
  void End(std::string_view n) override {
    styles_->End(n);
    bool emitting = !styles_only_ || in_master_ > 0;
    if (n == "p" || n == "h") {
      if (emitting) sink_->EndParagraph();
      if (!fonts_.empty()) fonts_.pop_back();
      --in_paragraph_;
    } else if (n == "span" || n == "a") {
      if (!fonts_.empty()) fonts_.pop_back();
    } else if (n == "master-styles") {
      --in_master_;
    }
  }
  void Text(std::string_view text) override {
    if (in_paragraph_ > 0 && (!styles_only_ || in_master_ > 0)) sink_->AddRun(text, CurrentFont());
  }
  bool Stop() const override { return sink_->full(); }

 private:
  Font CurrentFont() const { return fonts_.empty() ? Font{} : fonts_.back(); }
  LineSink* sink_;
  OdfStyles* styles_;
  bool styles_only_;
  std::vector<Font> fonts_;
  int in_paragraph_ = 0;
  int in_master_ = 0;
};

// Collects style declarations only (a first pass over styles.xml).
class OdfStyleScan final : public XmlHandler {
 public:
  explicit OdfStyleScan(OdfStyles* styles) : styles_(styles) {}
  bool Start(const Element& e) override {
    styles_->Start(e);
    return true;
  }
  void End(std::string_view n) override { styles_->End(n); }
  void Text(std::string_view) override {}
  bool Stop() const override { return false; }

 private:
  OdfStyles* styles_;
};

// --- the zip ------------------------------------------------------------------------------

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// The number in a member name such as "xl/worksheets/sheet12.xml", for ordering.
uint64_t NumberIn(std::string_view name) {
  size_t end = name.rfind('.');
  if (end == std::string_view::npos) end = name.size();
  size_t begin = end;
  while (begin > 0 && name[begin - 1] >= '0' && name[begin - 1] <= '9') --begin;
  uint64_t n = 0;
  std::from_chars(name.data() + begin, name.data() + end, n);
  return n;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Wanted(std::string_view name) {
  if (name == "[Content_Types].xml" || name == "mimetype" || name == "content.xml" ||
      name == "styles.xml") {
    return true;
  }
  if (name.size() < 4 || name.substr(name.size() - 4) != ".xml") return false;
  return StartsWith(name, "word/") || StartsWith(name, "xl/worksheets/sheet") ||
         name == "xl/sharedStrings.xml" || name == "xl/styles.xml" ||
         StartsWith(name, "ppt/slides/slide") || StartsWith(name, "ppt/notesSlides/notesSlide");
}

struct Members {
  std::map<std::string, std::string, std::less<>> xml;
};

// Reads the members a document's text needs, within the XML budget.
void ReadMembers(std::string_view zip, const TextLimits& limits, Members* m, ExtractedText* out) {
  std::unique_ptr<struct archive, ArchiveDeleter> reader(archive_read_new());
  struct archive* a = reader.get();
  if (a == nullptr) {
    out->damaged = true;
    out->problem = "cannot set up the zip reader";
    return;
  }
  archive_read_support_format_zip(a);
  if (archive_read_open_memory(a, zip.data(), zip.size()) != ARCHIVE_OK) {
    out->damaged = true;
    out->problem = "not a readable zip";
    return;
  }
  uint64_t budget = limits.max_document_xml_bytes;
  std::string chunk(64 << 10, '\0');
  for (size_t entries = 0; entries < kMaxOfficeMembers; ++entries) {
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) return;
    if (r < ARCHIVE_WARN) {
      out->damaged = true;
      out->problem = "damaged zip";
      return;
    }
    const char* path = archive_entry_pathname_utf8(entry);
    if (path == nullptr) path = archive_entry_pathname(entry);
    std::string name = path ? path : "";
    if (!Wanted(name)) continue;
    if (archive_entry_is_encrypted(entry)) {
      out->damaged = true;
      out->problem = "encrypted member " + name;
      continue;
    }
    std::string& data = m->xml[name];
    for (;;) {
      la_ssize_t n = archive_read_data(a, chunk.data(), chunk.size());
      if (n == 0) break;
      if (n < 0) {
        out->damaged = true;
        out->problem = "damaged zip member " + name;
        return;
      }
      uint64_t take = std::min<uint64_t>(static_cast<uint64_t>(n), budget);
      data.append(chunk.data(), take);
      budget -= take;
      if (take < static_cast<uint64_t>(n)) {
        out->truncated = true;
        out->limit = "max_document_xml";
        return;
      }
    }
  }
  out->truncated = true;
  out->limit = "max_document_xml";  // more entries than any document has
}

// Members whose names start with `prefix`, in the order of the number in their names.
std::vector<const std::pair<const std::string, std::string>*> Series(const Members& m,
                                                                     std::string_view prefix) {
  std::vector<const std::pair<const std::string, std::string>*> out;
  for (const auto& kv : m.xml) {
    if (StartsWith(kv.first, prefix)) out.push_back(&kv);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    return NumberIn(a->first) < NumberIn(b->first);
  });
  return out;
}

class Walker {
 public:
  Walker(ExtractedText* out, bool truncated_input) : out_(out), truncated_input_(truncated_input) {}
  void Walk(const std::string& name, std::string_view xml, XmlHandler& h) {
    // A member cut by the XML budget ends in the middle: that is the limit, not damage.
    if (!ScanXml(xml, h) && !truncated_input_ && !h.Stop() && !out_->damaged) {
      out_->damaged = true;
      out_->problem = "malformed XML in " + name;
    }
  }

 private:
  ExtractedText* out_;
  bool truncated_input_;
};

void WordDocument(const Members& m, Walker& w, LineSink* sink) {
  WordStyles styles;
  if (auto s = m.xml.find("word/styles.xml"); s != m.xml.end()) w.Walk(s->first, s->second, styles);
  std::vector<std::string> order = {"word/document.xml"};
  for (const char* prefix : {"word/header", "word/footer"}) {
    for (const auto* kv : Series(m, prefix)) order.push_back(kv->first);
  }
  for (const char* extra : {"word/footnotes.xml", "word/endnotes.xml", "word/comments.xml"}) {
    order.emplace_back(extra);
  }
  for (const std::string& name : order) {
    auto it = m.xml.find(name);
    if (it == m.xml.end() || sink->full()) continue;
    WordText text(sink, styles);
    w.Walk(name, it->second, text);
  }
}

void SheetDocument(const Members& m, Walker& w, LineSink* sink, const TextLimits& limits) {
  SheetStyles styles;
  if (auto s = m.xml.find("xl/styles.xml"); s != m.xml.end()) w.Walk(s->first, s->second, styles);
  SharedStrings shared(limits.max_text_bytes);
  if (auto s = m.xml.find("xl/sharedStrings.xml"); s != m.xml.end()) {
    w.Walk(s->first, s->second, shared);
  }
  for (const auto* kv : Series(m, "xl/worksheets/sheet")) {
    if (sink->full()) break;
    SheetText text(sink, styles, shared.strings());
    w.Walk(kv->first, kv->second, text);
  }
}

void SlideDocument(const Members& m, Walker& w, LineSink* sink) {
  for (const char* prefix : {"ppt/slides/slide", "ppt/notesSlides/notesSlide"}) {
    for (const auto* kv : Series(m, prefix)) {
      if (sink->full()) return;
      SlideText text(sink);
      w.Walk(kv->first, kv->second, text);
    }
  }
}

void OdfDocument(const Members& m, Walker& w, LineSink* sink) {
  OdfStyles styles;
  auto st = m.xml.find("styles.xml");
  if (st != m.xml.end()) {
    OdfStyleScan scan(&styles);
    w.Walk(st->first, st->second, scan);
  }
  if (auto c = m.xml.find("content.xml"); c != m.xml.end()) {
    OdfText body(sink, &styles, false);
    w.Walk(c->first, c->second, body);
  }
  if (st != m.xml.end() && !sink->full()) {
    OdfText masters(sink, &styles, true);
    w.Walk(st->first, st->second, masters);
  }
}

}  // namespace

ExtractedText ExtractOfficeText(std::string_view zip_bytes, const TextLimits& limits) {
  ExtractedText out;
  Members m;
  ReadMembers(zip_bytes, limits, &m, &out);
  LineSink sink(&out, limits.max_text_bytes);
  Walker walker(&out, out.truncated);
  auto has = [&](std::string_view name) { return m.xml.count(name) > 0; };
  if (has("word/document.xml")) {
    WordDocument(m, walker, &sink);
  } else if (!Series(m, "xl/worksheets/sheet").empty()) {
    SheetDocument(m, walker, &sink, limits);
  } else if (!Series(m, "ppt/slides/slide").empty()) {
    SlideDocument(m, walker, &sink);
  } else if (has("content.xml") || (has("mimetype") && has("styles.xml"))) {
    OdfDocument(m, walker, &sink);
  } else if (!out.damaged && !out.truncated) {
    out.damaged = true;
    out.problem = "not an OOXML or ODF document";
  }
  out.text = mime::NfcNormalize(out.text);
  return out;
}

}  // namespace mailwarden::text

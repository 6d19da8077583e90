// A small non-validating XML scanner for the XML inside office documents: element starts
// and ends with their attributes, and character data, handed to a handler in document
// order, with no tree built and no copy made of what needs no decoding.
//
// Why not a general XML library: reading a document's text needs none of DTDs, entity
// declarations, namespaces resolution or validation, and each of those is attack surface
// (external entities, entity expansion) or cost (libxml2's reader spends most of its time
// building and freeing nodes). This scanner reads what office XML is:
//   - elements, attributes in single or double quotes, empty-element tags;
//   - character data and CDATA sections;
//   - the five predefined entities and character references (&#233; &#xE9;); an invalid
//     character reference becomes U+FFFD; any other entity reference is kept literally,
//     never expanded (declarations in a DOCTYPE are skipped unread);
//   - comments, processing instructions and the XML declaration are skipped.
// Names are reported by their local part ("w:p" is "p"); namespaces are not resolved: the
// caller knows which vocabulary a member uses.
//
// Malformed input (an end tag that does not match, an unclosed tag, comment or CDATA, an
// attribute without a quoted value, elements left open at the end) stops the scan and
// makes it return false; everything before the fault was handed over. Linear in the input;
// memory: the stack of open element names (views into the input).
//
// Thread-safety: a scan belongs to the calling thread; the function holds no state.
#ifndef MAILWARDEN_MILTER_TEXT_XML_SCAN_H_
#define MAILWARDEN_MILTER_TEXT_XML_SCAN_H_

#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::text {

// An element start, as a handler sees it; valid during the Start call only.
class XmlElement {
 public:
  struct Attribute {
    std::string_view name;  // local part
    std::string_view raw;   // the value as written, entities undecoded
  };
  XmlElement(std::string_view name, const std::vector<Attribute>* attributes)
      : name_(name), attributes_(attributes) {}
  // The local part of the element's name.
  std::string_view name() const { return name_; }
  // The decoded value of the attribute whose local name is `local`; "" when absent.
  std::string Attr(std::string_view local) const;

 private:
  std::string_view name_;
  const std::vector<Attribute>* attributes_;
};

class XmlHandler {
 public:
  virtual ~XmlHandler() = default;
  // An element starts; false skips it and everything inside it (End is not called).
  virtual bool Start(const XmlElement& e) = 0;
  // The element named (local part) `name` ends; empty-element tags end at once.
  virtual void End(std::string_view name) = 0;
  // Character data inside an element, decoded; may come in several pieces.
  virtual void Text(std::string_view text) = 0;
  // True to stop the scan early (the caller has what it needs).
  virtual bool Stop() const = 0;
};

// Scans `xml`, calling `h`. False when the XML is malformed (see the file comment).
bool ScanXml(std::string_view xml, XmlHandler& h);

// `raw` with the predefined entities and character references decoded (as in text).
std::string DecodeXmlText(std::string_view raw);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_XML_SCAN_H_

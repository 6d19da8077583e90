// ScanXml: what office XML holds is reported in order; malformed XML stops the scan.
#include "milter/text/xml_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace mailwarden::text {
namespace {

// Records the events as text: "<name a=v>", "</name>", "[text]".
class Recorder : public XmlHandler {
 public:
  explicit Recorder(std::string skip = "", std::string attr = "val")
      : skip_(std::move(skip)), attr_(std::move(attr)) {}
  bool Start(const XmlElement& e) override {
    if (e.name() == skip_) return false;
    log += "<" + std::string(e.name());
    if (std::string v = e.Attr(attr_); !v.empty()) log += " " + attr_ + "=" + v;
    log += ">";
    return true;
  }
  void End(std::string_view name) override { log += "</" + std::string(name) + ">"; }
  void Text(std::string_view text) override { log += "[" + std::string(text) + "]"; }
  bool Stop() const override { return log.size() > 10000; }
  std::string log;

 private:
  std::string skip_, attr_;
};

std::string Scan(std::string_view xml, bool* ok = nullptr, std::string skip = "") {
  Recorder r(std::move(skip));
  bool result = ScanXml(xml, r);
  if (ok != nullptr) *ok = result;
  return r.log;
}

TEST(XmlScan, ElementsAttributesAndTextInOrder) {
  bool ok = false;
  EXPECT_EQ(Scan("<?xml version=\"1.0\"?><w:p w:val='a&amp;b'><w:t>Độ mật</w:t><w:br/></w:p>", &ok),
            "<p val=a&b><t>[Độ mật]</t><br></br></p>");
  EXPECT_TRUE(ok);
}

TEST(XmlScan, ReferencesAreDecodedAndNothingIsExpanded) {
  EXPECT_EQ(Scan("<a>&lt;&gt;&amp;&quot;&apos;&#7852;&#x1EAC;&#0;&#xD800;&#99999999;&e;</a>"),
            "<a>[<>&\"'ẬẬ\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD&e;]</a>");
  EXPECT_EQ(Scan("<!DOCTYPE d [<!ENTITY e \"MẬT\"> <!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                 "<d>&e;&x;</d>"),
            "<d>[&e;&x;]</d>");
}

TEST(XmlScan, CommentsInstructionsAndCdata) {
  EXPECT_EQ(Scan("<a><!-- <b>MẬT</b> --><?pi x?><![CDATA[<i>&amp;</i>]]></a>"),
            "<a>[<i>&amp;</i>]</a>");
}

TEST(XmlScan, SkippedElementsAreSkippedWhole) {
  EXPECT_EQ(Scan("<a><del><t>x</t><del/></del><t>y</t></a>", nullptr, "del"), "<a><t>[y]</t></a>");
  EXPECT_EQ(Scan("<a><del/><t>y</t></a>", nullptr, "del"), "<a><t>[y]</t></a>");
}

TEST(XmlScan, MalformedXmlStopsTheScan) {
  for (const char* bad :
       {"<a><b></a>", "<a>", "<a", "<a x=1></a>", "<a x=\"1></a>", "<a><!-- x</a>",
        "<a><![CDATA[x</a>", "</a>", "<a x=\"<\"></a>", "<a/ >"}) {
    bool ok = true;
    Scan(bad, &ok);
    EXPECT_FALSE(ok) << bad;
  }
  bool ok = false;
  EXPECT_EQ(Scan("<a><t>kept</t><b></c>", &ok), "<a><t>[kept]</t><b>");
  EXPECT_FALSE(ok);
}

TEST(XmlScan, TextOutsideTheRootIsNotText) { EXPECT_EQ(Scan("junk<a>x</a>tail"), "<a>[x]</a>"); }

TEST(XmlScan, DeepNestingIsLinear) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<x>";
  struct Counter : XmlHandler {
    bool Start(const XmlElement&) override { return ++starts > 0; }
    void End(std::string_view) override {}
    void Text(std::string_view) override {}
    bool Stop() const override { return false; }
    int starts = 0;
  } counter;
  EXPECT_FALSE(ScanXml(deep, counter));  // never closed
  EXPECT_EQ(counter.starts, 100000);
}

}  // namespace
}  // namespace mailwarden::text

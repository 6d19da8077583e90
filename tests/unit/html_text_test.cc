// HtmlToText and HtmlDeclaredCharset: lines, whitespace, entities, skipped content, damage
// and limits.
#include "milter/text/html_text.h"

#include <gtest/gtest.h>

#include <string>

namespace mailwarden::text {
namespace {

ExtractedText Html(std::string_view html) { return HtmlToText(html, TextLimits{}); }

TEST(HtmlText, TableCellsAreLines) {
  ExtractedText t = Html("<table><tr><td>MẬT</td><td>Số: 12</td></tr></table>");
  EXPECT_EQ(t.text, "MẬT\nSố: 12\n");
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(t.legacy, 0u);
}

TEST(HtmlText, InlineTagsAndNbspStayInTheLine) {
  EXPECT_EQ(Html("<p>Độ&nbsp;mật: <b>Mật</b></p>").text, "Độ mật: Mật\n");
}

TEST(HtmlText, NbspGapsDoNotCollapse) {
  EXPECT_EQ(Html("<div>Độ mật: Mật&nbsp;&nbsp;&nbsp;Số 1</div>").text, "Độ mật: Mật   Số 1\n");
  EXPECT_EQ(Html("a\xC2\xA0\xC2\xA0"
                 "b")
                .text,
            "a  b\n");
}

TEST(HtmlText, NumericAndNamedEntities) {
  EXPECT_EQ(Html("M&#7852;T M&#x1EAC;T M&#X1eac;T &Aacute;&aacute; &amp;&lt;&gt;&quot;&apos;").text,
            "MẬT MẬT MẬT Áá &<>\"'\n");
  EXPECT_EQ(Html("&euro;&hellip;&Dagger;&thetasym;&zwnj;").text,
            "\u20AC\u2026\u2021\u03D1\u200C\n");
}

TEST(HtmlText, InvalidNumericReferencesBecomeReplacementCharacter) {
  EXPECT_EQ(Html("a&#0;b&#xD800;c&#x110000;d&#99999999999999999999;e").text,
            "a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\n");
  EXPECT_EQ(Html("&#150;&#x80;").text, "\u2013\u20AC\n");  // windows-1252, as browsers
}

TEST(HtmlText, EntitiesWithoutSemicolonAndUnknownOnes) {
  EXPECT_EQ(Html("&copy2024 &amp x &nbspy &bogus; &#; &").text,
            "\u00A92024 & x  y &bogus; &#; &\n");
  EXPECT_EQ(Html("&hellip").text, "&hellip\n");  // not one browsers accept without ';'
}

TEST(HtmlText, ScriptStyleAndCommentsAreSkipped) {
  ExtractedText t = Html(
      "<html><head><title>Tiêu đề</title><style>p { color: red } </p></style>"
      "<script type=\"text/javascript\">var s = \"</div>MẬT\";</script ></head>"
      "<body><!-- MẬT --><!DOCTYPE html><?xml x?><![CDATA[MẬT]]>Body"
      "<noscript><p>Enable scripts</p></noscript></body></html>");
  EXPECT_EQ(t.text, "Tiêu đề\nBody\nEnable scripts\n");
  EXPECT_FALSE(t.damaged) << t.problem;
}

TEST(HtmlText, BreaksSplitLines) {
  EXPECT_EQ(Html("TỐI MẬT<br>Số 12<br/>Line<BR >x<hr>y").text, "TỐI MẬT\nSố 12\nLine\nx\ny\n");
}

TEST(HtmlText, WhitespaceCollapsesAndLinesAreTrimmed) {
  EXPECT_EQ(Html("  <p>\n  a \t\r\n  b  </p>\n\n<p> </p><div>c</div>  ").text, "a b\nc\n");
}

TEST(HtmlText, PreKeepsSpacesAndLineEnds) {
  EXPECT_EQ(Html("<pre>\nM  Ậ  T\n\tx\r\ny</pre>after   spaces").text,
            "M  Ậ  T\nx\ny\nafter spaces\n");
}

TEST(HtmlText, NfdInputComesOutNfc) {
  // "MẬT" with A + combining circumflex + combining dot below.
  ExtractedText t = Html("<p>MA\u0323\u0302T</p>");
  EXPECT_EQ(t.text, "MẬT\n");
}

TEST(HtmlText, AttributesAreNotText) {
  EXPECT_EQ(Html("<img alt=\"MẬT\" title='MẬT > x'><a href=\"x>y\" title=MẬT>link</a>").text,
            "link\n");
}

TEST(HtmlText, LessThanThatStartsNoTagIsText) {
  EXPECT_EQ(Html("a < b, 1<2, <3 </ x> c").text, "a < b, 1<2, <3 c\n");
}

TEST(HtmlText, UnterminatedTagIsDamaged) {
  ExtractedText t = Html("<p>Kept</p><div class=\"x");
  EXPECT_TRUE(t.damaged);
  EXPECT_FALSE(t.problem.empty());
  EXPECT_EQ(t.text, "Kept\n");
}

TEST(HtmlText, HugeTagIsDamagedAndSkipped) {
  ExtractedText t =
      Html("<p>Before</p><div data-x=\"" + std::string(70000, 'x') + "\">After</div>");
  EXPECT_TRUE(t.damaged);
  EXPECT_NE(t.problem.find("64 KB"), std::string::npos) << t.problem;
  EXPECT_EQ(t.text, "Before\nAfter\n");
}

TEST(HtmlText, UnterminatedScriptIsDamaged) {
  ExtractedText t = Html("Kept<script>var x = 1;");
  EXPECT_TRUE(t.damaged);
  EXPECT_EQ(t.text, "Kept\n");
}

TEST(HtmlText, MaxTextTruncates) {
  std::string html;
  for (int i = 0; i < 1000; ++i) html += "<p>Đoạn văn số " + std::to_string(i) + "</p>";
  TextLimits limits;
  limits.max_text_bytes = 100;
  ExtractedText t = HtmlToText(html, limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "max_text");
  EXPECT_LE(t.text.size(), 100u);
  EXPECT_EQ(t.text.rfind("Đoạn văn số 0\n", 0), 0u);
}

TEST(HtmlText, StatsCountElements) {
  HtmlStats stats;
  HtmlToText("<p><a href=x><img src=y></a><A HREF=z>t</A></p><!-- c -->", TextLimits{}, &stats);
  EXPECT_EQ(stats.elements, 4u);
  EXPECT_EQ(stats.links, 2u);
  EXPECT_EQ(stats.images, 1u);
  EXPECT_GT(stats.markup_bytes, 40u);
}

TEST(HtmlText, DeclaredCharsetFromMetaCharset) {
  EXPECT_EQ(HtmlDeclaredCharset("<html><head><META charset=\"Windows-1258\"></head>"),
            "windows-1258");
  EXPECT_EQ(HtmlDeclaredCharset("<meta charset=UTF-8>"), "utf-8");
  EXPECT_EQ(HtmlDeclaredCharset("<meta name=x content=y><meta charset='ISO-8859-1'>"),
            "iso-8859-1");
}

TEST(HtmlText, DeclaredCharsetFromHttpEquiv) {
  EXPECT_EQ(HtmlDeclaredCharset("<meta http-equiv=\"Content-Type\" "
                                "content=\"text/html; charset=Windows-1258\">"),
            "windows-1258");
  EXPECT_EQ(HtmlDeclaredCharset("<META HTTP-EQUIV=content-type CONTENT='text/html;charset=UTF-8'>"),
            "utf-8");
}

TEST(HtmlText, DeclaredCharsetAbsentOrLate) {
  EXPECT_EQ(HtmlDeclaredCharset("<html><body>no meta</body></html>"), "");
  EXPECT_EQ(HtmlDeclaredCharset("<meta name=\"description\" content=\"charset=koi8-r\">"), "");
  EXPECT_EQ(HtmlDeclaredCharset(std::string(5000, ' ') + "<meta charset=\"koi8-r\">"), "");
}

}  // namespace
}  // namespace mailwarden::text

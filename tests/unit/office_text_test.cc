// ExtractOfficeText: lines per paragraph, cell and text box; legacy fonts; limits; damage.
#include "milter/text/office_text.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "milter/mime/header_words.h"
#include "milter/mime/vietnamese_text.h"
#include "tests/unit/zip_builder.h"

namespace mailwarden::text {
namespace {

using testing::Zip;
using Members = testing::ZipMembers;

// How a legacy font stores `unicode`: its bytes, read as windows-1252 (as Word keeps them).
std::string LegacyChars(std::string_view unicode, mime::LegacyEncoding e) {
  return mime::ToUtf8(mime::UnicodeToLegacyBytes(unicode, e), "windows-1252");
}

constexpr char kW[] = R"(xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main")";

using testing::Docx;
std::string P(const std::string& text) { return testing::WordParagraph(text); }

std::string RunIn(const std::string& font, const std::string& text) {
  return "<w:r><w:rPr><w:rFonts w:ascii=\"" + font + "\" w:hAnsi=\"" + font +
         "\"/></w:rPr><w:t xml:space=\"preserve\">" + text + "</w:t></w:r>";
}

TEST(OfficeText, DocxParagraphsAndTableCellsAreLines) {
  std::string body = P("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM") +
                     "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Số: 12/BC</w:t></w:r></w:p></w:tc>"
                     "<w:tc><w:p><w:r><w:t>TỐI</w:t></w:r><w:r><w:t xml:space=\"preserve\"> "
                     "MẬT</w:t></w:r></w:p></w:tc></w:tr></w:tbl>" +
                     P("Vui lòng không chia sẻ mật khẩu");
  ExtractedText t = ExtractOfficeText(Docx(body), {});
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(
      t.text,
      "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nSố: 12/BC\nTỐI MẬT\nVui lòng không chia sẻ mật khẩu\n");
  EXPECT_EQ(t.legacy, 0u);
}

TEST(OfficeText, TextBoxIsOnLinesOfItsOwnAndFallbackCopyIsSkipped) {
  std::string box = "<w:txbxContent>" + P("MẬT") + "</w:txbxContent>";
  std::string body =
      "<w:p><w:r><w:t xml:space=\"preserve\">Trước </w:t></w:r><w:r><mc:AlternateContent>"
      "<mc:Choice Requires=\"wps\"><w:drawing><wps:txbx>" +
      box + "</wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox>" + box +
      "</v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>sau</w:t>"
      "</w:r></w:p>";
  ExtractedText t = ExtractOfficeText(Docx(body), {});
  EXPECT_EQ(t.text, "MẬT\nTrước sau\n");
}

TEST(OfficeText, DeletedRevisionsAndFieldCodesAreNotText) {
  std::string body =
      "<w:p><w:del><w:r><w:delText>MẬT</w:delText></w:r></w:del><w:r><w:instrText> MẬT "
      "</w:instrText></w:r><w:r><w:t>Báo cáo</w:t></w:r></w:p>";
  EXPECT_EQ(ExtractOfficeText(Docx(body), {}).text, "Báo cáo\n");
}

TEST(OfficeText, BreaksEndLinesAndTabsAreSpaces) {
  std::string body =
      "<w:p><w:r><w:t>Nơi nhận</w:t><w:br/><w:t>TUYỆT MẬT</w:t><w:tab/><w:t>x</w:t></w:r></w:p>";
  EXPECT_EQ(ExtractOfficeText(Docx(body), {}).text, "Nơi nhận\nTUYỆT MẬT x\n");
}

TEST(OfficeText, DocxHeadersFootersAndFootnotesAreRead) {
  std::string hdr = std::string("<w:hdr ") + kW + ">" + P("MẬT") + "</w:hdr>";
  std::string ftr = std::string("<w:ftr ") + kW + ">" + P("Trang 1") + "</w:ftr>";
  ExtractedText t = ExtractOfficeText(
      Docx(P("Nội dung"), {{"word/header2.xml", hdr}, {"word/footer1.xml", ftr}}), {});
  EXPECT_EQ(t.text, "Nội dung\nMẬT\nTrang 1\n");
}

TEST(OfficeText, Tcvn3UpperCaseFontRunsAreUpperCase) {
  // "MẬT" typed in .VnTimeH is stored as the lower-case bytes of "mật".
  std::string stamp = LegacyChars("mật", mime::LegacyEncoding::kTcvn3);
  std::string prose = LegacyChars("Không chia sẻ mật khẩu", mime::LegacyEncoding::kTcvn3);
  std::string body =
      "<w:p>" + RunIn(".VnTimeH", stamp) + "</w:p><w:p>" + RunIn(".VnTime", prose) + "</w:p>";
  ExtractedText t = ExtractOfficeText(Docx(body), {});
  EXPECT_EQ(t.text, "MẬT\nKhông chia sẻ mật khẩu\n");
  EXPECT_EQ(t.legacy, static_cast<uint32_t>(kLegacyTcvn3));
}

TEST(OfficeText, FontsComeFromParagraphStylesAndTheirBases) {
  std::string styles = std::string("<w:styles ") + kW +
                       "><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii=\"Times New "
                       "Roman\"/></w:rPr></w:rPrDefault></w:docDefaults>"
                       "<w:style w:styleId=\"Base\"><w:rPr><w:rFonts w:ascii=\".VnTimeH\"/>"
                       "</w:rPr></w:style><w:style w:styleId=\"Stamp\"><w:basedOn w:val=\"Base\"/>"
                       "</w:style></w:styles>";
  std::string stamp = LegacyChars("tối mật", mime::LegacyEncoding::kTcvn3);
  std::string body =
      "<w:p><w:pPr><w:pStyle w:val=\"Stamp\"/><w:rPr><w:rFonts w:ascii=\"Arial\"/>"
      "</w:rPr></w:pPr><w:r><w:t>" +
      stamp + "</w:t></w:r></w:p>" + P("plain");
  ExtractedText t = ExtractOfficeText(Docx(body, {{"word/styles.xml", styles}}), {});
  EXPECT_EQ(t.text, "TỐI MẬT\nplain\n");
}

TEST(OfficeText, VniFontRunsAreConverted) {
  std::string body =
      "<w:p>" + RunIn("VNI-Times", LegacyChars("TỐI MẬT", mime::LegacyEncoding::kVni)) + "</w:p>";
  ExtractedText t = ExtractOfficeText(Docx(body), {});
  EXPECT_EQ(t.text, "TỐI MẬT\n");
  EXPECT_EQ(t.legacy, static_cast<uint32_t>(kLegacyVni));
}

TEST(OfficeText, DecomposedTextComesOutNfc) {
  EXPECT_EQ(ExtractOfficeText(Docx(P("M\u00C2\u0323T")), {}).text, "MẬT\n");
}

constexpr char kS[] = R"(xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main")";

TEST(OfficeText, XlsxCellsAreLinesWithSharedInlineAndFormulaStrings) {
  std::string shared = std::string("<sst ") + kS +
                       "><si><t>Độ mật</t></si><si><r><rPr><rFont val=\".VnTimeH\"/></rPr><t>" +
                       LegacyChars("mật", mime::LegacyEncoding::kTcvn3) +
                       "</t></r></si><si><t>Tên</t><rPh><t>ignored</t></rPh></si></sst>";
  std::string styles = std::string("<styleSheet ") + kS +
                       "><fonts><font><name val=\"Calibri\"/></font><font><name "
                       "val=\".VnTime\"/></font></fonts><cellXfs><xf fontId=\"0\"/><xf "
                       "fontId=\"1\"/></cellXfs></styleSheet>";
  std::string sheet =
      std::string("<worksheet ") + kS +
      "><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
      "<c r=\"C1\"><v>42</v></c></row><row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>TUYỆT MẬT</t>"
      "</is></c><c r=\"B2\" t=\"str\"><f>A1</f><v>Độ mật</v></c><c r=\"C2\" t=\"s\">"
      "<v>2</v></c><c r=\"D2\" t=\"inlineStr\" s=\"1\"><is><t>" +
      LegacyChars("bí mật", mime::LegacyEncoding::kTcvn3) +
      "</t></is></c></row></sheetData></worksheet>";
  ExtractedText t = ExtractOfficeText(Zip({{"[Content_Types].xml", "<Types/>"},
                                           {"xl/workbook.xml", "<workbook/>"},
                                           {"xl/sharedStrings.xml", shared},
                                           {"xl/styles.xml", styles},
                                           {"xl/worksheets/sheet1.xml", sheet}}),
                                      {});
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(t.text, "Độ mật\nMẬT\nTUYỆT MẬT\nĐộ mật\nTên\nbí mật\n");
  EXPECT_EQ(t.legacy, static_cast<uint32_t>(kLegacyTcvn3));
}

TEST(OfficeText, XlsxSheetsInNumberOrder) {
  auto sheet = [](const std::string& s) {
    return std::string("<worksheet ") + kS + "><sheetData><row><c t=\"inlineStr\"><is><t>" + s +
           "</t></is></c></row></sheetData></worksheet>";
  };
  ExtractedText t = ExtractOfficeText(Zip({{"[Content_Types].xml", "<Types/>"},
                                           {"xl/worksheets/sheet10.xml", sheet("ten")},
                                           {"xl/worksheets/sheet2.xml", sheet("two")}}),
                                      {});
  EXPECT_EQ(t.text, "two\nten\n");
}

TEST(OfficeText, PptxSlideParagraphsWithLegacyTypeface) {
  constexpr char kA[] = R"(xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" )"
                        R"(xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main")";
  std::string slide =
      std::string("<p:sld ") + kA +
      "><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:rPr><a:latin "
      "typeface=\".VnArialH\"/></a:rPr><a:t>" +
      LegacyChars("tuyệt mật", mime::LegacyEncoding::kTcvn3) +
      "</a:t></a:r></a:p><a:p><a:r><a:rPr><a:latin typeface=\"+mn-lt\"/></a:rPr>"
      "<a:t>Kế hoạch</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>";
  ExtractedText t = ExtractOfficeText(
      Zip({{"[Content_Types].xml", "<Types/>"}, {"ppt/slides/slide1.xml", slide}}), {});
  EXPECT_EQ(t.text, "TUYỆT MẬT\nKế hoạch\n");
}

constexpr char kO[] = R"(xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" )"
                      R"(xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" )"
                      R"(xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" )"
                      R"(xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" )"
                      R"(xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" )"
                      R"(xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" )"
                      R"(xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0")";

TEST(OfficeText, OdtParagraphsCellsBoxesFontsAndMasterPages) {
  std::string content =
      std::string("<office:document-content ") + kO +
      "><office:font-face-decls><style:font-face style:name=\"VnH\" "
      "svg:font-family=\"&apos;.VnTimeH&apos;\"/></office:font-face-decls>"
      "<office:automatic-styles><style:style style:name=\"T1\" style:family=\"text\">"
      "<style:text-properties style:font-name=\"VnH\"/></style:style></office:automatic-styles>"
      "<office:body><office:text><text:h>Báo<text:s text:c=\"2\"/>cáo</text:h>"
      "<text:p>Số 1<draw:frame><draw:text-box><text:p><text:span text:style-name=\"T1\">" +
      LegacyChars("mật", mime::LegacyEncoding::kTcvn3) +
      "</text:span></text:p></draw:text-box></draw:frame> hết</text:p>"
      "<table:table><table:table-row><table:table-cell><text:p>Độ mật: Mật</text:p>"
      "</table:table-cell></table:table-row></table:table>"
      "<text:tracked-changes><text:changed-region><text:deletion><text:p>TUYỆT MẬT</text:p>"
      "</text:deletion></text:changed-region></text:tracked-changes>"
      "</office:text></office:body></office:document-content>";
  std::string styles = std::string("<office:document-styles ") + kO +
                       "><office:master-styles><style:master-page><style:header><text:p>TỐI MẬT"
                       "</text:p></style:header></style:master-page></office:master-styles>"
                       "</office:document-styles>";
  ExtractedText t = ExtractOfficeText(Zip({{"mimetype", "application/vnd.oasis.opendocument.text"},
                                           {"content.xml", content},
                                           {"styles.xml", styles}}),
                                      {});
  EXPECT_FALSE(t.damaged) << t.problem;
  EXPECT_EQ(t.text, "Báo  cáo\nMẬT\nSố 1 hết\nĐộ mật: Mật\nTỐI MẬT\n");
  EXPECT_EQ(t.legacy, static_cast<uint32_t>(kLegacyTcvn3));
}

TEST(OfficeText, TextLimitCutsAtACharacterBoundary) {
  std::string body;
  for (int i = 0; i < 200; ++i) body += P("Độ mật cao");
  TextLimits limits;
  limits.max_text_bytes = 101;
  ExtractedText t = ExtractOfficeText(Docx(body), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "max_text");
  EXPECT_LE(t.text.size(), 101u);
  EXPECT_EQ(mime::NfcNormalize(t.text), t.text);  // valid UTF-8 throughout
}

TEST(OfficeText, XmlBudgetLimitsWhatIsRead) {
  std::string body;
  for (int i = 0; i < 2000; ++i) body += P("Nội dung dài");
  TextLimits limits;
  limits.max_document_xml_bytes = 4096;
  ExtractedText t = ExtractOfficeText(Docx(body), limits);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.limit, "max_document_xml");
  EXPECT_FALSE(t.damaged);
  EXPECT_FALSE(t.text.empty());
}

TEST(OfficeText, MalformedXmlIsDamagedAndKeepsWhatCameBefore) {
  std::string zip = Zip({{"[Content_Types].xml", "<Types/>"},
                         {"word/document.xml", std::string("<w:document ") + kW + "><w:body>" +
                                                   P("TỐI MẬT") + "<w:p><w:r>"}});
  ExtractedText t = ExtractOfficeText(zip, {});
  EXPECT_TRUE(t.damaged);
  EXPECT_EQ(t.problem, "malformed XML in word/document.xml");
  EXPECT_EQ(t.text, "TỐI MẬT\n");
}

TEST(OfficeText, EntitiesAreNeverExpanded) {
  std::string lol =
      "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"MẬT MẬT MẬT MẬT MẬT MẬT MẬT MẬT\">"
      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
      "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
      "<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<w:document " +
      std::string(kW) +
      "><w:body><w:p><w:r><w:t>&e;&x;</w:t></w:r></w:p>"
      "</w:body></w:document>";
  ExtractedText t =
      ExtractOfficeText(Zip({{"[Content_Types].xml", "<Types/>"}, {"word/document.xml", lol}}), {});
  EXPECT_EQ(t.text.find("MẬT"), std::string::npos) << t.text.substr(0, 200);
  EXPECT_EQ(t.text.find("root:"), std::string::npos);
}

TEST(OfficeText, NotADocumentOrNotAZipIsDamaged) {
  ExtractedText zip = ExtractOfficeText(Zip({{"a.txt", "MẬT"}}), {});
  EXPECT_TRUE(zip.damaged);
  EXPECT_EQ(zip.problem, "not an OOXML or ODF document");
  ExtractedText junk = ExtractOfficeText("PK\x03\x04 junk", {});
  EXPECT_TRUE(junk.damaged);
  EXPECT_TRUE(junk.text.empty());
  EXPECT_TRUE(ExtractOfficeText("", {}).damaged);
}

TEST(OfficeText, TruncatedZipKeepsWhatWasRead) {
  std::string body;
  for (int i = 0; i < 50; ++i) body += P("Nội dung " + std::to_string(i));
  std::string zip = Docx(body, {{"word/header1.xml", std::string(20000, ' ')}});
  ExtractedText t = ExtractOfficeText(zip.substr(0, zip.size() / 2), {});
  EXPECT_TRUE(t.damaged);
}

}  // namespace
}  // namespace mailwarden::text

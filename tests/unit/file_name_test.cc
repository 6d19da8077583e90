#include "milter/checks/file_name.h"

#include <gtest/gtest.h>

namespace mailwarden {
namespace {

TEST(FileName, LastExtensionDecides) {
  EXPECT_EQ(FinalExtension(NormaliseFileName("hoadon.pdf.exe")), "exe");
  EXPECT_EQ(FinalExtension(NormaliseFileName("setup.exe.txt")), "txt");
  EXPECT_EQ(FinalExtension(NormaliseFileName("README")), "");
  EXPECT_EQ(FinalExtension(NormaliseFileName(".bashrc")), "bashrc");
}

TEST(FileName, CaseTrailingDotsAndSpaces) {
  EXPECT_EQ(NormaliseFileName("INVOICE.EXE"), "invoice.exe");
  EXPECT_EQ(NormaliseFileName("a.exe. . "), "a.exe");
  EXPECT_EQ(NormaliseFileName("a.exe..."), "a.exe");
  EXPECT_EQ(NormaliseFileName("   "), "");
}

TEST(FileName, BidiAndInvisibleCharactersRemoved) {
  // "invoice<RLO>fdp.exe" displays as "invoiceexe.pdf".
  EXPECT_EQ(NormaliseFileName("invoice\u202Efdp.exe"), "invoicefdp.exe");
  EXPECT_EQ(FinalExtension(NormaliseFileName("photo\u202Egpj.scr")), "scr");
  EXPECT_EQ(NormaliseFileName("a\u200B.e\u200Dx\uFEFFe"), "a.exe");
  EXPECT_EQ(NormaliseFileName("a.\u2066exe\u2069"), "a.exe");
  EXPECT_EQ(NormaliseFileName("a.ex\u00ADe"), "a.exe");  // soft hyphen
  EXPECT_EQ(NormaliseFileName(std::string("a.e\0xe", 6)), "a.exe");
  EXPECT_EQ(NormaliseFileName("a.exe\t\r\n"), "a.exe");
}

TEST(FileName, PathComponentsDropped) {
  EXPECT_EQ(NormaliseFileName("C:\\Users\\x\\run.bat"), "run.bat");
  EXPECT_EQ(NormaliseFileName("../../etc/evil.sh"), "evil.sh");
}

TEST(FileName, VietnameseNamesKeptAndInvalidBytesSurvive) {
  EXPECT_EQ(NormaliseFileName("Báo cáo tháng 11.PDF"), "báo cáo tháng 11.pdf");
  EXPECT_EQ(NormaliseFileName("\xFF\xFE.exe"), "\xFF\xFE.exe");
  EXPECT_EQ(NormaliseFileName("\xE2\x80"), "\xE2\x80");  // truncated sequence
}

}  // namespace
}  // namespace mailwarden

// The archive walker against real archives: generated at test time with python3 (zipfile,
// gzip), zip, 7z and tar in a temporary directory, plus the ClamAV test files
// (/usr/share/clamav-testfiles, package clamav-testfiles) as real "PE inside a container"
// fixtures. A missing tool or fixture fails the test with the package to install.
#include "milter/mime/archive.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

const char kClamDir[] = "/usr/share/clamav-testfiles";

using testing::ReadFile;

// Generates the archives python builds best: nested zips, a bomb, office documents.
const char kGeneratorBody[] = R"PY(
# evil.exe inside level7.zip inside level6.zip ... inside level1.zip
data = zipped([('evil.exe', exe), ('readme.txt', b'hi')])
for level in range(7, 1, -1):
    data = zipped([('level%d.zip' % level, data)])
save('nested.zip', data)
# a bomb: 20 members of 1 MiB of zeros, about 1 KB each once deflated
save('bomb.zip', zipped([('zeros%02d.bin' % i, bytes(1 << 20)) for i in range(20)]))
save('many.zip', zipped([('file%03d.txt' % i, b'x') for i in range(50)]))
save('several.zip', zipped([('doc%d.txt' % i, os.urandom(3000)) for i in range(8)]))
# a nested zip too big to be kept: 100 KB of random bytes, stored
inner = zipped([('noise.bin', os.urandom(100000))], zipfile.ZIP_STORED)
save('bignested.zip', zipped([('inner.zip', inner)], zipfile.ZIP_STORED))
ct = b'<?xml version="1.0"?><Types><Override ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
ctm = b'<?xml version="1.0"?><Types><Override ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
save('plain.docx', zipped([('[Content_Types].xml', ct), ('word/document.xml', b'<w:document/>')]))
save('macro.docm', zipped([('[Content_Types].xml', ctm), ('word/document.xml', b'<w:document/>'),
                           ('word/vbaProject.bin', b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + bytes(100))]))
save('embedded.docx', zipped([('[Content_Types].xml', ct), ('word/embeddings/oleObject1.bin', exe)]))
save('plain.odt', zipped([('mimetype', b'application/vnd.oasis.opendocument.text'),
                          ('content.xml', b'<office:document-content/>')], zipfile.ZIP_STORED))
save('macro.odt', zipped([('mimetype', b'application/vnd.oasis.opendocument.text'),
                          ('Basic/script-lc.xml', b'<library/>'),
                          ('Basic/Standard/script-lb.xml', b'<library/>'),
                          ('Basic/Standard/Module1.xml', b'<script:module/>')], zipfile.ZIP_STORED))
save('docm_in.zip', zipped([('invoice.docm', open(os.path.join(out, 'macro.docm'), 'rb').read())]))
with gzip.GzipFile(filename='invoice.exe', mode='wb', fileobj=open(os.path.join(out, 'invoice.exe.gz'), 'wb')) as g:
    g.write(exe)
)PY";

class ArchiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    setup_error_ = Prepare();
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override { ASSERT_EQ(setup_error_, "") << setup_error_; }

  // Runs a shell command in the temp dir; "" or what went wrong.
  static std::string Run(const std::string& command) {
    std::string full = "cd '" + dir_->path() + "' && (" + command + ") >/dev/null 2>&1";
    return std::system(full.c_str()) == 0 ? "" : "command failed: " + command;
  }

  static std::string Prepare() {
    struct Tool {
      const char* command;
      const char* package;
    };
    for (Tool tool : {Tool{"python3", "python3"}, Tool{"zip", "zip"}, Tool{"7z", "p7zip-full"},
                      Tool{"tar", "tar"}, Tool{"gzip", "gzip"}}) {
      if (std::system(("command -v " + std::string(tool.command) + " >/dev/null").c_str()) != 0) {
        return std::string("missing tool '") + tool.command + "': apt-get install " + tool.package;
      }
    }
    if (!std::filesystem::exists(std::string(kClamDir) + "/clam.exe")) {
      return std::string("missing ") + kClamDir + ": apt-get install clamav-testfiles";
    }
    dir_->Write("generate.py", std::string(testing::kPythonFixturePrelude) + kGeneratorBody);
    dir_->Write("hello.txt", "hello\n");
    std::string err;
    for (const char* command :
         {"cp /usr/share/clamav-testfiles/clam.exe .", "python3 generate.py .",
          "zip -q -P secret zipcrypto.zip hello.txt clam.exe",
          "7z a -tzip -psecret -mem=AES256 aes.zip hello.txt clam.exe",
          "7z a -psecret aes.7z hello.txt clam.exe",
          "7z a -psecret -mhe=on aes_header.7z hello.txt clam.exe",
          "tar czf both.tar.gz hello.txt clam.exe",
          "7z a -psecret aes_in_zip.7z hello.txt && zip -q outer.zip aes_in_zip.7z"}) {
      err = Run(command);
      if (!err.empty()) return err;
    }
    return "";
  }

  static ArchiveListing List(const std::string& name, const ArchiveLimits& limits = {}) {
    std::string path = name.front() == '/' ? name : dir_->Path(name);
    std::string bytes = ReadFile(path);
    EXPECT_FALSE(bytes.empty()) << path;
    auto listing = ListArchive(bytes, limits);
    EXPECT_TRUE(listing.ok()) << path << ": " << listing.status().ToString();
    return listing.ok() ? *listing : ArchiveListing{};
  }

  static const ArchiveMember* Find(const ArchiveListing& listing, const std::string& path) {
    for (const ArchiveMember& m : listing.members) {
      if (m.path == path) return &m;
    }
    return nullptr;
  }

  static std::unique_ptr<testing::TempDir> dir_;
  static std::string setup_error_;
};

std::unique_ptr<testing::TempDir> ArchiveTest::dir_;
std::string ArchiveTest::setup_error_;

TEST(ArchiveMagic, RecognisesArchivesByTheirFirstBytes) {
  for (std::string_view head :
       {std::string_view("PK\x03\x04rest", 8), std::string_view("7z\xBC\xAF\x27\x1C\x00\x04", 8),
        std::string_view("Rar!\x1A\x07\x00", 7), std::string_view("Rar!\x1A\x07\x01\x00", 8),
        std::string_view("\x1F\x8B\x08\x00", 4), std::string_view("BZh91AY"),
        std::string_view("\xFD"
                         "7zXZ\x00",
                         6),
        std::string_view("MSCF\0\0\0\0", 8)}) {
    EXPECT_TRUE(LooksLikeArchive(head)) << head;
  }
  std::string tar(512, '\0');
  tar.replace(257, 6, std::string("ustar\0", 6));
  EXPECT_TRUE(LooksLikeArchive(tar));
  std::string iso(40000, '\0');
  iso.replace(32769, 5, "CD001");
  EXPECT_TRUE(LooksLikeArchive(iso));
  for (std::string_view head : {"%PDF-1.7", "MZ\x90", "PK", "BZh0", "hello", ""}) {
    EXPECT_FALSE(LooksLikeArchive(head)) << head;
  }
}

TEST_F(ArchiveTest, FindsThePeInsideClamAvContainers) {
  for (const char* file : {"clam.zip", "clam.7z", "clam.cab", "clam.tar.gz", "clam.bz2.zip",
                           "clam.newc.cpio", "clam.exe.bz2"}) {
    ArchiveListing listing = List(std::string(kClamDir) + "/" + file);
    ASSERT_EQ(listing.members.size(), 1u) << file;
    EXPECT_EQ(listing.members[0].true_type, TrueType::kPe) << file;
    EXPECT_EQ(listing.members[0].size, 544u) << file;
    EXPECT_TRUE(listing.embedded_executable) << file;
    EXPECT_FALSE(listing.truncated) << file;
    EXPECT_FALSE(listing.encrypted_entries) << file;
  }
  EXPECT_EQ(List(std::string(kClamDir) + "/clam.cab").format, "cab");
  EXPECT_EQ(List(std::string(kClamDir) + "/clam.7z").format, "7z");
  EXPECT_EQ(List(std::string(kClamDir) + "/clam.zip").members[0].name, "clam.exe");
}

TEST_F(ArchiveTest, UnsupportedCompressionIsTruncatedNotSilent) {
  // Deflate64 is not something libarchive decodes: listed, unread, and flagged.
  ArchiveListing listing = List(std::string(kClamDir) + "/clam.d64.zip");
  ASSERT_EQ(listing.members.size(), 1u);
  EXPECT_EQ(listing.members[0].name, "clam.exe");
  EXPECT_TRUE(listing.truncated);
}

TEST_F(ArchiveTest, TarGzIsATarWithAGzipFilter) {
  ArchiveListing listing = List("both.tar.gz");
  EXPECT_EQ(listing.format, "tar");
  EXPECT_EQ(listing.filter, "gzip");
  ASSERT_NE(Find(listing, "clam.exe"), nullptr);
  EXPECT_EQ(Find(listing, "clam.exe")->true_type, TrueType::kPe);
  EXPECT_EQ(Find(listing, "hello.txt")->size, 6u);
}

TEST_F(ArchiveTest, LoneGzipIsOneMemberNamedByItsHeader) {
  ArchiveListing listing = List("invoice.exe.gz");
  EXPECT_EQ(listing.format, "gzip");
  ASSERT_EQ(listing.members.size(), 1u);
  EXPECT_EQ(listing.members[0].name, "invoice.exe");
  EXPECT_EQ(listing.members[0].true_type, TrueType::kPe);
}

TEST_F(ArchiveTest, ZipCryptoMembersAreListedAndFlagged) {
  ArchiveListing listing = List("zipcrypto.zip");
  EXPECT_EQ(listing.format, "zip");
  EXPECT_TRUE(listing.encrypted_entries);
  EXPECT_FALSE(listing.encrypted_header);
  ASSERT_NE(Find(listing, "clam.exe"), nullptr);  // the readable listing names the exe
  EXPECT_TRUE(Find(listing, "clam.exe")->encrypted);
  EXPECT_EQ(Find(listing, "clam.exe")->true_type, TrueType::kUnknown);  // ciphertext
}

TEST_F(ArchiveTest, WinZipAesMembersAreFlagged) {
  ArchiveListing listing = List("aes.zip");
  EXPECT_TRUE(listing.encrypted_entries);
  ASSERT_EQ(listing.members.size(), 2u);
  EXPECT_TRUE(listing.members[0].encrypted);
  EXPECT_TRUE(listing.members[1].encrypted);
}

TEST_F(ArchiveTest, SevenZipAesWithReadableHeader) {
  ArchiveListing listing = List("aes.7z");
  EXPECT_EQ(listing.format, "7z");
  EXPECT_TRUE(listing.encrypted_entries);
  EXPECT_FALSE(listing.encrypted_header);
  ASSERT_NE(Find(listing, "clam.exe"), nullptr);
  EXPECT_TRUE(Find(listing, "clam.exe")->encrypted);
}

TEST_F(ArchiveTest, SevenZipEncryptedHeaderIsAFlagNotAnError) {
  ArchiveListing listing = List("aes_header.7z");
  EXPECT_EQ(listing.format, "7z");
  EXPECT_TRUE(listing.encrypted_header);
  EXPECT_TRUE(listing.members.empty());
}

TEST_F(ArchiveTest, EncryptionInsideANestedArchiveReachesTheTop) {
  ArchiveListing listing = List("outer.zip");
  EXPECT_TRUE(listing.encrypted_entries);
  const ArchiveMember* inner = Find(listing, "aes_in_zip.7z/hello.txt");
  ASSERT_NE(inner, nullptr);
  EXPECT_TRUE(inner->encrypted);
  EXPECT_EQ(inner->depth, 2);
  EXPECT_EQ(Find(listing, "aes_in_zip.7z")->archive_format, "7z");
}

TEST_F(ArchiveTest, NestedZipsAreOpenedUpToMaxDepth) {
  ArchiveLimits limits;
  limits.max_depth = 8;
  ArchiveListing deep = List("nested.zip", limits);
  EXPECT_TRUE(deep.limit_hits.empty());
  const ArchiveMember* evil =
      Find(deep, "level2.zip/level3.zip/level4.zip/level5.zip/level6.zip/level7.zip/evil.exe");
  ASSERT_NE(evil, nullptr);
  EXPECT_EQ(evil->name, "evil.exe");
  EXPECT_EQ(evil->depth, 7);
  EXPECT_EQ(evil->true_type, TrueType::kPe);
  EXPECT_TRUE(deep.embedded_executable);
  EXPECT_EQ(Find(deep, "level2.zip")->archive_format, "zip");

  ArchiveListing shallow = List("nested.zip");  // default max_depth 5
  ASSERT_EQ(shallow.limit_hits.size(), 1u);
  EXPECT_EQ(shallow.limit_hits[0].name, "max_depth");
  EXPECT_EQ(shallow.limit_hits[0].value, 5u);
  EXPECT_EQ(shallow.limit_hits[0].member_path,
            "level2.zip/level3.zip/level4.zip/level5.zip/level6.zip");
  EXPECT_TRUE(shallow.truncated);
  EXPECT_FALSE(shallow.embedded_executable);
}

TEST_F(ArchiveTest, ZipBombStopsAtTheRatio) {
  ArchiveListing listing = List("bomb.zip");
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_ratio");
  EXPECT_EQ(listing.limit_hits[0].value, 200u);
  EXPECT_TRUE(listing.truncated);
  EXPECT_LT(listing.members.size(), 20u);
}

TEST_F(ArchiveTest, ZipBombStopsAtTotalExpanded) {
  ArchiveLimits limits;
  limits.max_ratio = 1000000;
  limits.max_total_expanded = 3 << 20;
  ArchiveListing listing = List("bomb.zip", limits);
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_total_expanded");
  EXPECT_EQ(listing.limit_hits[0].member_path, "zeros03.bin");
  EXPECT_EQ(listing.members.size(), 4u);
}

TEST_F(ArchiveTest, SmallCompressibleFilesAreNotBombs) {
  ArchiveLimits limits;
  limits.max_ratio = 2;
  ArchiveListing listing = List("many.zip", limits);  // 50 bytes from ~5 KB: ratio < 1
  EXPECT_TRUE(listing.limit_hits.empty());
  limits.max_ratio = 200;
  limits.min_expanded_for_ratio = 1 << 20;
  EXPECT_TRUE(List("plain.docx", limits).limit_hits.empty());
}

TEST_F(ArchiveTest, MemberCountIsLimited) {
  ArchiveLimits limits;
  limits.max_members = 10;
  ArchiveListing listing = List("many.zip", limits);
  EXPECT_EQ(listing.members.size(), 10u);
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_members");
  EXPECT_EQ(List("many.zip").members.size(), 50u);
}

TEST_F(ArchiveTest, NestedArchiveLargerThanTheReadCapIsAHit) {
  ArchiveLimits limits;
  limits.max_member_bytes_read = 40000;
  ArchiveListing listing = List("bignested.zip", limits);
  ASSERT_EQ(listing.limit_hits.size(), 1u);
  EXPECT_EQ(listing.limit_hits[0].name, "max_member_bytes_read");
  EXPECT_EQ(listing.limit_hits[0].member_path, "inner.zip");
  ArchiveListing whole = List("bignested.zip");  // default cap: opened
  EXPECT_TRUE(whole.limit_hits.empty()) << whole.limit_hits[0].name;
  EXPECT_NE(Find(whole, "inner.zip/noise.bin"), nullptr) << whole.members.size();
}

TEST_F(ArchiveTest, DamagedArchivesKeepWhatWasRead) {
  std::string whole = ReadFile(dir_->Path("several.zip"));
  // Cut in the central directory: every member was streamed whole before the damage.
  auto no_directory = ListArchive(whole.substr(0, whole.size() - 30), {});
  ASSERT_TRUE(no_directory.ok());
  EXPECT_EQ(no_directory->members.size(), 8u);
  for (size_t cut : {whole.size() / 2, size_t{40}, size_t{4}}) {
    auto listing = ListArchive(whole.substr(0, cut), {});
    if (!listing.ok()) {
      EXPECT_EQ(listing.status().code(), Status::Code::kParseError) << cut;
      continue;
    }
    EXPECT_TRUE(listing->truncated) << cut;
    EXPECT_LT(listing->members.size(), 8u) << cut;
  }
  auto half = ListArchive(whole.substr(0, whole.size() / 2), {});
  ASSERT_TRUE(half.ok());
  EXPECT_GE(half->members.size(), 1u);  // streamed up to the damage
  std::string flipped = whole;
  for (size_t i = 100; i < flipped.size(); i += 97) flipped[i] ^= 0x5A;
  auto garbled = ListArchive(flipped, {});
  if (garbled.ok()) {
    EXPECT_TRUE(garbled->truncated);
  }
}

TEST_F(ArchiveTest, NotAnArchiveIsAParseError) {
  auto text = ListArchive("just some text, not an archive\n", {});
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Status::Code::kParseError);
  EXPECT_FALSE(ListArchive("", {}).ok());
  EXPECT_FALSE(ListArchive(ReadFile(std::string(kClamDir) + "/clam.exe"), {}).ok());
}

TEST_F(ArchiveTest, OfficeDocumentsAreDocuments) {
  ArchiveListing docx = List("plain.docx");
  EXPECT_EQ(docx.format, "ooxml");
  EXPECT_TRUE(docx.document);
  EXPECT_FALSE(docx.macro_enabled);
  EXPECT_FALSE(docx.embedded_executable);
  EXPECT_NE(Find(docx, "word/document.xml"), nullptr);

  ArchiveListing docm = List("macro.docm");
  EXPECT_EQ(docm.format, "ooxml");
  EXPECT_TRUE(docm.macro_enabled);

  ArchiveListing embedded = List("embedded.docx");
  EXPECT_TRUE(embedded.document);
  EXPECT_TRUE(embedded.embedded_executable);
  EXPECT_EQ(Find(embedded, "word/embeddings/oleObject1.bin")->true_type, TrueType::kPe);

  ArchiveListing odt = List("plain.odt");
  EXPECT_EQ(odt.format, "odf");
  EXPECT_TRUE(odt.document);
  EXPECT_FALSE(odt.macro_enabled);
  EXPECT_TRUE(List("macro.odt").macro_enabled);
}

TEST_F(ArchiveTest, MacroDocumentInsideAZipIsReported) {
  ArchiveListing listing = List("docm_in.zip");
  EXPECT_EQ(listing.format, "zip");
  EXPECT_FALSE(listing.document);
  EXPECT_TRUE(listing.macro_enabled);
  const ArchiveMember* docm = Find(listing, "invoice.docm");
  ASSERT_NE(docm, nullptr);
  EXPECT_EQ(docm->archive_format, "ooxml");
  EXPECT_TRUE(docm->macro_enabled);
  EXPECT_NE(Find(listing, "invoice.docm/word/vbaProject.bin"), nullptr);
}

// With max_kept_documents, document members keep their bytes, and a document kept whole is
// still opened and judged (a macro document in a zip is still one).
TEST_F(ArchiveTest, DocumentMembersAreKeptWithinTheBudget) {
  const std::string docm = ReadFile(dir_->Path("macro.docm"));
  ArchiveLimits limits;
  limits.max_kept_documents = docm.size();
  ArchiveListing listing = List("docm_in.zip", limits);
  const ArchiveMember* kept = Find(listing, "invoice.docm");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->content, docm);
  EXPECT_FALSE(kept->content_cut);
  EXPECT_EQ(kept->archive_format, "ooxml");
  EXPECT_TRUE(listing.macro_enabled);
  EXPECT_TRUE(Find(listing, "invoice.docm/word/document.xml")->content.empty());  // not a document

  limits.max_kept_documents = docm.size() - 1;
  ArchiveListing over = List("docm_in.zip", limits);
  EXPECT_TRUE(Find(over, "invoice.docm")->content.empty());
  EXPECT_TRUE(Find(over, "invoice.docm")->content_skipped);
  EXPECT_TRUE(over.macro_enabled);

  ArchiveListing off = List("docm_in.zip");  // the default keeps nothing
  EXPECT_TRUE(Find(off, "invoice.docm")->content.empty());
  EXPECT_FALSE(Find(off, "invoice.docm")->content_skipped);
}

TEST(ArchiveDocumentNames, ByFinalExtension) {
  for (const char* name : {"a.docx", "B.PDF", "c.tar.odt", "d.rtf", "e.txt", "f.HTML", "g.xlsm"}) {
    EXPECT_TRUE(IsTextDocumentName(name)) << name;
  }
  for (const char* name : {"a.exe", "docx", "a.pdf.exe", "a.zip", "a.doc", ""}) {
    EXPECT_FALSE(IsTextDocumentName(name)) << name;
  }
}

}  // namespace
}  // namespace mailwarden

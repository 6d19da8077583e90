// The digital_signature check (REGULATIONS.md M9) and its recognisers (signature_scan.h):
// CMS blobs, PDF signature dictionaries and signed OOXML/ODF listings one by one, then whole
// messages through the Engine under a rule written as an admin would.
//
// Signed and encrypted material is made at test time with the openssl command-line tool (a
// CA and a user certificate with Vietnamese names, S/MIME detached, opaque and encrypted
// messages, CMS files) and zip (a signed docx, a docx nested in a zip, a signed odt), into
// a temporary directory. A missing tool fails the test with the package to install.
#include "milter/checks/digital_signature.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milter/eml_reader.h"
#include "milter/engine.h"
#include "milter/mime/signature_scan.h"
#include "tests/unit/mail_builder.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using namespace testing::mail;  // NOLINT: the message builders
using testing::ReadFile;

constexpr char kSigner[] = "Nguyễn Văn A";
constexpr char kIssuer[] = "Ban Cơ yếu Chính phủ Test CA";

// --- fixtures ------------------------------------------------------------------------------

std::string Run(const testing::TempDir& dir, const std::string& command) {
  std::string full = "cd '" + dir.path() + "' && (" + command + ") >/dev/null 2>&1";
  return std::system(full.c_str()) == 0 ? "" : "command failed: " + command;
}

std::string PrepareFixtures(const testing::TempDir& dir) {
  for (auto [tool, package] : {std::pair{"openssl", "openssl"}, std::pair{"zip", "zip"}}) {
    if (std::system(("command -v " + std::string(tool) + " >/dev/null").c_str()) != 0) {
      return std::string("missing tool '") + tool + "': apt-get install " + package;
    }
  }
  dir.Write("body.txt",
            "Content-Type: text/plain; charset=utf-8\r\n\r\nKính gửi: Sở Nội vụ\r\nCông văn số "
            "12/SNV.\r\n");
  dir.Write("doc.txt", "Quyết định số 34/QĐ-UBND\n");
  dir.Write("doc.pdf",
            "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n");
  dir.Write("docx/[Content_Types].xml", "<?xml version=\"1.0\"?><Types/>");
  dir.Write("docx/word/document.xml", "<w:document/>");
  dir.Write("docx/_xmlsignatures/origin.sigs", "");
  dir.Write("docx/_xmlsignatures/_rels/origin.sigs.rels", "<Relationships/>");
  dir.Write("docx/_xmlsignatures/sig1.xml", "<Signature/>");
  dir.Write("plain/[Content_Types].xml", "<?xml version=\"1.0\"?><Types/>");
  dir.Write("plain/word/document.xml", "<w:document/>");
  dir.Write("odt/mimetype", "application/vnd.oasis.opendocument.text");
  dir.Write("odt/content.xml", "<office:document-content/>");
  dir.Write("odt/META-INF/manifest.xml", "<manifest:manifest/>");
  dir.Write("odt/META-INF/documentsignatures.xml", "<document-signatures/>");
  const std::string sign = " -signer user.pem -inkey user.key";
  const std::vector<std::string> commands = {
      std::string("openssl req -x509 -newkey rsa:2048 -nodes -utf8 -days 30 -subj '/CN=") +
          kIssuer + "/O=VGCA Test' -keyout ca.key -out ca.pem",
      std::string("openssl req -new -newkey rsa:2048 -nodes -utf8 -subj '/CN=") + kSigner +
          "/O=Sở Nội vụ' -keyout user.key -out user.csr",
      std::string("openssl x509 -req -in user.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                  "-days 30 -out user.pem"),
      "openssl smime -sign -in body.txt" + sign +
          " -from vanthu@snv.bacgiang.gov.vn -to staff@bacgiang.gov.vn -subject 'Cong van'"
          " -out detached.eml",
      "openssl smime -sign -nodetach -in body.txt" + sign + " -subject 'Cong van' -out opaque.eml",
      "openssl smime -encrypt -aes256 -in body.txt -subject 'Mat' -out encrypted.eml user.pem",
      "openssl cms -sign -binary -in doc.txt" + sign + " -outform DER -out doc.p7s",
      "openssl cms -sign -binary -in doc.txt" + sign + " -outform PEM -out doc.p7s.pem",
      "openssl cms -sign -binary -nodetach -in doc.pdf" + sign + " -outform DER -out doc.pdf.p7m",
      "openssl cms -encrypt -aes256 -binary -in doc.txt -outform DER -out doc.env user.pem",
      "openssl crl2pkcs7 -nocrl -certfile user.pem -outform DER -out certs.p7c",
      "cd docx && zip -q -X -r ../signed.docx .",
      "cd plain && zip -q -X -r ../plain.docx .",
      "mkdir -p nest/inner && cp signed.docx nest/inner/ && cd nest && zip -q -X -r "
      "../nested.zip .",
      "cd odt && zip -q -X -0 ../signed.odt mimetype && zip -q -X -r ../signed.odt "
      "content.xml "
      "META-INF",
  };
  for (const std::string& command : commands) {
    std::string err = Run(dir, command);
    if (!err.empty()) return err;
  }
  return "";
}

testing::FixtureFiles& Files() {
  static testing::FixtureFiles files(PrepareFixtures);
  return files;
}

// Success once every fixture exists; else what is missing and the package that provides it.
::testing::AssertionResult FixturesReady() { return Files().Ready(); }

// The bytes of a generated fixture, or of an absolute path.
std::string Fixture(const std::string& name) { return Files().Read(name); }

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

// A one-page PDF whose signature field's value is a signature dictionary (object 5) holding
// `cms` in /Contents, zero-padded as signing tools leave it.
std::string SignedPdf(std::string_view cms, std::string_view subfilter = "/adbe.pkcs7.detached") {
  return std::string(
             "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"
             "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 "
             ">> >>\nendobj\n"
             "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
             "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] "
             ">>\nendobj\n"
             "4 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T (Chu ky so) /V 5 0 R /Rect "
             "[0 0 0 0] >>\nendobj\n"
             "5 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter ") +
         std::string(subfilter) + " /ByteRange [0 840 9000 120] /Contents <" + Hex(cms) +
         std::string(64, '0') +
         "> /M (D:20251103090000+07'00') /Reason (Ky duyet) >>\nendobj\n"
         "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
}

// A PDF whose page text talks about signature dictionaries, in a stream and in an
// annotation's text: no signature.
std::string PdfAboutSignatures() {
  std::string text =
      "BT /F1 12 Tf 72 720 Td (A signature dictionary has /Type /Sig /ByteRange [0 1 2 3] "
      "/Contents <3082> /SubFilter /adbe.pkcs7.detached) Tj ET";
  return "%PDF-1.4\n"
         "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
         "2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
         "3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [5 0 R] >> endobj\n"
         "4 0 obj << /Length " +
         std::to_string(text.size()) + " >>\nstream\n" + text +
         "\nendstream\nendobj\n"
         "5 0 obj << /Type /Annot /Subtype /Text /Contents (See /Type /Sig /ByteRange [0 1 2 3] "
         "/SubFilter /adbe.pkcs7.detached in ISO 32000) >> endobj\n"
         "trailer << /Root 1 0 R >>\n%%EOF\n";
}

// --- DescribeCms ---------------------------------------------------------------------------

TEST(DigitalSignatureCms, DetachedSignatureWithSignerNames) {
  ASSERT_TRUE(FixturesReady());
  CmsSummary s = DescribeCms(Fixture("doc.p7s"));
  EXPECT_EQ(s.kind, CmsKind::kSigned);
  EXPECT_EQ(s.content_type, "pkcs7-signedData");
  EXPECT_EQ(s.signers, 1);
  EXPECT_TRUE(s.detached);
  EXPECT_EQ(s.signer_cn, kSigner);
  EXPECT_EQ(s.issuer_cn, kIssuer);
}

TEST(DigitalSignatureCms, PemAndBareBase64AreRead) {
  ASSERT_TRUE(FixturesReady());
  std::string pem = Fixture("doc.p7s.pem");
  EXPECT_EQ(DescribeCms(pem).kind, CmsKind::kSigned);
  std::string bare;
  size_t at = 0;
  while (at < pem.size()) {
    size_t end = pem.find('\n', at);
    std::string line = pem.substr(at, end == std::string::npos ? std::string::npos : end - at + 1);
    if (!line.starts_with("-----")) bare += line;
    at = end == std::string::npos ? pem.size() : end + 1;
  }
  CmsSummary s = DescribeCms(bare);
  EXPECT_EQ(s.kind, CmsKind::kSigned);
  EXPECT_EQ(s.signer_cn, kSigner);
}

TEST(DigitalSignatureCms, OpaqueEnvelopedAndCertificatesOnly) {
  ASSERT_TRUE(FixturesReady());
  CmsSummary opaque = DescribeCms(Fixture("doc.pdf.p7m"));
  EXPECT_EQ(opaque.kind, CmsKind::kSigned);
  EXPECT_FALSE(opaque.detached);
  CmsSummary enveloped = DescribeCms(Fixture("doc.env"));
  EXPECT_EQ(enveloped.kind, CmsKind::kEncrypted);
  EXPECT_EQ(enveloped.recipients, 1);
  EXPECT_EQ(enveloped.signers, 0);
  CmsSummary certs = DescribeCms(Fixture("certs.p7c"));
  EXPECT_EQ(certs.kind, CmsKind::kSigned);
  EXPECT_EQ(certs.signers, 0);
}

TEST(DigitalSignatureCms, GarbageAndCutInputAreUnparsable) {
  ASSERT_TRUE(FixturesReady());
  EXPECT_EQ(DescribeCms("").kind, CmsKind::kUnparsable);
  EXPECT_EQ(DescribeCms("this is not a signature at all").kind, CmsKind::kUnparsable);
  EXPECT_EQ(DescribeCms(std::string("\x30\x82\xFF\xFF\x06\x09", 6)).kind, CmsKind::kUnparsable);
  std::string der = Fixture("doc.p7s");
  EXPECT_EQ(DescribeCms(der.substr(0, der.size() / 2)).kind, CmsKind::kUnparsable);
  EXPECT_EQ(CmsKindName(CmsKind::kUnparsable), "unparsable");
}

// --- ScanPdfSignatures ---------------------------------------------------------------------

TEST(DigitalSignaturePdf, SignatureDictionaryWithCmsContents) {
  ASSERT_TRUE(FixturesReady());
  PdfSignatureScan scan = ScanPdfSignatures(SignedPdf(Fixture("doc.p7s")));
  ASSERT_EQ(scan.signatures.size(), 1u);  // the /FT /Sig field (object 4) is not counted
  const PdfSignature& s = scan.signatures[0];
  EXPECT_EQ(s.subfilter, "adbe.pkcs7.detached");
  EXPECT_TRUE(s.signature_dictionary);
  EXPECT_TRUE(s.contents_parsed);
  EXPECT_EQ(s.cms.kind, CmsKind::kSigned);
  EXPECT_EQ(s.cms.signer_cn, kSigner);
  EXPECT_FALSE(scan.cut);
}

TEST(DigitalSignaturePdf, EachRuleAloneSuffices) {
  // (a): /Type /Sig with /ByteRange and /Contents, no SubFilter.
  PdfSignatureScan a = ScanPdfSignatures(
      "%PDF-1.7\n7 0 obj<</Type/Sig/ByteRange[0 10 20 30]/Contents<00>>>endobj\n");
  ASSERT_EQ(a.signatures.size(), 1u);
  EXPECT_EQ(a.signatures[0].subfilter, "");
  EXPECT_EQ(a.signatures[0].cms.kind, CmsKind::kUnparsable);
  // (b): a document timestamp, named by its SubFilter.
  PdfSignatureScan b = ScanPdfSignatures(
      "%PDF-1.7\n8 0 obj\n<< /Type /DocTimeStamp /SubFilter /ETSI.RFC3161 >>\nendobj\n");
  ASSERT_EQ(b.signatures.size(), 1u);
  EXPECT_EQ(b.signatures[0].subfilter, "ETSI.RFC3161");
  EXPECT_FALSE(b.signatures[0].signature_dictionary);
  // A bare RSA signature is not CMS: not parsed.
  PdfSignatureScan rsa = ScanPdfSignatures(
      "%PDF-1.3\n9 0 obj << /SubFilter /adbe.x509.rsa_sha1 /Contents <0102> >> endobj\n");
  ASSERT_EQ(rsa.signatures.size(), 1u);
  EXPECT_FALSE(rsa.signatures[0].contents_parsed);
}

TEST(DigitalSignaturePdf, WhatIsNotASignature) {
  // An unsigned signature field whose seed values allow some SubFilters.
  EXPECT_TRUE(ScanPdfSignatures("%PDF-1.7\n4 0 obj << /FT /Sig /T (Sig1) /SV << /SubFilter "
                                "[/adbe.pkcs7.detached /ETSI.CAdES.detached] >> >> endobj\n")
                  .signatures.empty());
  // Prose about signatures, in a content stream and in an annotation's text.
  EXPECT_TRUE(ScanPdfSignatures(PdfAboutSignatures()).signatures.empty());
  // Names that only start like /Sig, /ByteRange without an array, other SubFilters.
  EXPECT_TRUE(ScanPdfSignatures("%PDF-1.7\n1 0 obj << /Type /SigRef /ByteRange [0 1] /Contents "
                                "<00> >> endobj\n2 0 obj << /Type /Signature /ByteRange [0 1] "
                                "/Contents <00> >> endobj\n3 0 obj << /Type /Sig /ByteRange 5 0 R "
                                "/Contents <00> >> endobj\n4 0 obj << /SubFilter /adbe.pkcs7.s3 "
                                ">> endobj\n")
                  .signatures.empty());
  EXPECT_TRUE(ScanPdfSignatures("").signatures.empty());
}

TEST(DigitalSignaturePdf, DamagedAndHostileInputStayBounded) {
  // Cut inside a string, a hex string, a dictionary; no endobj; no endstream.
  for (std::string_view pdf :
       {"%PDF-1.7\n1 0 obj << /Type /Sig /Reason (unbalanced ( /ByteRange [0 1] /Contents <00",
        "%PDF-1.7\n1 0 obj << /Type /Sig /ByteRange [0 1] /Contents <3082",
        "%PDF-1.7\n1 0 obj << /Length 5 >> stream\n/Type /Sig obj obj endobj", "obj",
        "endobj obj stream", "%PDF-1.7\n1 0 obj << /SubFilter /"}) {
    ScanPdfSignatures(pdf);  // must not crash or hang
  }
  PdfSignatureScan cut =
      ScanPdfSignatures("%PDF-1.7\n1 0 obj << /Type /Sig /ByteRange [0 1] /Contents <3082");
  EXPECT_EQ(cut.signatures.size(), 1u);
  // Many signature objects: the first kMaxPdfSignatures are kept, the rest noted.
  std::string many = "%PDF-1.7\n";
  for (int i = 0; i < 20000; ++i) {
    many += std::to_string(i + 1) + " 0 obj << /Type /Sig /ByteRange [] /Contents <> >> endobj\n";
  }
  PdfSignatureScan scan = ScanPdfSignatures(many);
  EXPECT_EQ(scan.signatures.size(), kMaxPdfSignatures);
  EXPECT_TRUE(scan.cut);
  // Keywords everywhere and no structure.
  std::string noise;
  for (int i = 0; i < 100000; ++i) noise += "obj stream endobj /Sig <<(";
  EXPECT_TRUE(ScanPdfSignatures(noise).signatures.empty());
}

TEST(DigitalSignaturePdf, LooksLikePdf) {
  EXPECT_TRUE(LooksLikePdf("%PDF-1.7\n"));
  EXPECT_TRUE(LooksLikePdf(std::string(100, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(LooksLikePdf(std::string(2000, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(LooksLikePdf("PK\x03\x04"));
}

// --- FindSignedDocuments -------------------------------------------------------------------

ArchiveMember Member(std::string path, std::string format = "") {
  ArchiveMember m;
  m.name = path.substr(path.rfind('/') + 1);
  m.path = std::move(path);
  m.archive_format = std::move(format);
  return m;
}

TEST(DigitalSignatureDocuments, OoxmlSignaturesAreCountedAtTheirDocument) {
  ArchiveListing docx;
  docx.format = "ooxml";
  docx.document = true;
  for (const char* path : {"[Content_Types].xml", "word/document.xml", "_xmlsignatures/origin.sigs",
                           "_xmlsignatures/_rels/origin.sigs.rels", "_xmlsignatures/sig1.xml",
                           "_xmlsignatures/sig2.xml"}) {
    docx.members.push_back(Member(path));
  }
  std::vector<SignedDocument> docs = FindSignedDocuments(docx);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].document, "");
  EXPECT_EQ(docs[0].format, "ooxml");
  EXPECT_EQ(docs[0].signatures, 2);

  // The same members in a plain zip are not a signed document.
  docx.format = "zip";
  EXPECT_TRUE(FindSignedDocuments(docx).empty());
}

TEST(DigitalSignatureDocuments, NestedDocumentsAndOdf) {
  ArchiveListing zip;
  zip.format = "zip";
  zip.members = {Member("a/", ""),
                 Member("a/report.docx", "ooxml"),
                 Member("a/report.docx/[Content_Types].xml"),
                 Member("a/report.docx/_XMLSignatures/Sig1.xml"),  // OPC names: case ignored
                 Member("a/plain.docx", "ooxml"),
                 Member("a/plain.docx/word/document.xml"),
                 Member("b.odt", "odf"),
                 Member("b.odt/mimetype"),
                 Member("b.odt/META-INF/documentsignatures.xml"),
                 Member("c.odt", "odf"),
                 Member("c.odt/META-INF/macrosignatures.xml"),
                 Member("_xmlsignatures/sig1.xml")};  // in the zip itself: not a document
  std::vector<SignedDocument> docs = FindSignedDocuments(zip);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].document, "a/report.docx");
  EXPECT_EQ(docs[0].signatures, 1);
  EXPECT_EQ(docs[1].document, "b.odt");
  EXPECT_EQ(docs[1].format, "odf");

  // A signed document embedded in an unsigned one.
  ArchiveListing outer;
  outer.format = "ooxml";
  outer.members = {Member("[Content_Types].xml"), Member("word/embeddings/x.docx", "ooxml"),
                   Member("word/embeddings/x.docx/_xmlsignatures/sig1.xml")};
  docs = FindSignedDocuments(outer);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].document, "word/embeddings/x.docx");
}

// --- the check, end to end -----------------------------------------------------------------

constexpr char kRule[] = "  - id: digital-signature\n    check: digital_signature\n";

std::shared_ptr<const Engine> EngineWith(const std::string& rules, const std::string& extra = "") {
  auto config = testing::ConfigWithRules(rules, extra);
  if (config == nullptr) return nullptr;
  auto engine = Engine::Build(config);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? *engine : nullptr;
}

struct Delivery {
  std::unique_ptr<Message> message;
  Verdict verdict;
};

Delivery Deliver(const Engine& engine, std::string_view raw) {
  Envelope env;
  env.mail_from = "vanthu@snv.bacgiang.gov.vn";
  env.recipients = {"staff@bacgiang.gov.vn"};
  Delivery d;
  d.message = engine.NewMessage(std::move(env));
  ReadMessageText(raw, d.message.get());
  d.verdict = engine.AtEndOfMessage(*d.message);
  return d;
}

// The digital_signature finding of `v`, or nullptr (failing the test when `v` holds any
// other finding).
const Finding* SignatureFinding(const Verdict& v) {
  const Finding* found = nullptr;
  for (const Finding& f : v.findings) {
    EXPECT_EQ(f.check, "digital_signature") << f.rule_id << ": " << f.reason;
    if (f.check == "digital_signature") found = &f;
  }
  return found;
}

// The one signed part the message was found to carry.
nlohmann::json OnlyEntry(const Verdict& v) {
  const Finding* f = SignatureFinding(v);
  if (f == nullptr) {
    ADD_FAILURE() << "no digital_signature finding";
    return nlohmann::json::object();
  }
  EXPECT_EQ(f->evidence["verified"], false);
  EXPECT_EQ(f->evidence["signatures"].size(), 1u) << f->evidence.dump();
  return f->evidence["signatures"].empty() ? nlohmann::json::object()
                                           : f->evidence["signatures"][0];
}

TEST(DigitalSignatureCheck, DetachedSmimeIsLoggedAndAccepted) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  Delivery d = Deliver(*engine, Fixture("detached.eml"));
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  EXPECT_TRUE(d.verdict.add_headers.empty());
  ASSERT_EQ(d.verdict.findings.size(), 1u);
  const Finding& f = d.verdict.findings[0];
  EXPECT_EQ(f.rule_id, "digital-signature");
  EXPECT_EQ(f.action, Action::kAccept);
  EXPECT_EQ(f.reason, "digitally signed: S/MIME (1 signer)");
  nlohmann::json e = OnlyEntry(d.verdict);
  EXPECT_EQ(e["part"], "1/2");
  EXPECT_EQ(e["kind"], "smime-signed");
  EXPECT_EQ(e["content_type"], "application/x-pkcs7-signature");
  EXPECT_EQ(e["signers"], 1);
  EXPECT_EQ(e["detached"], true);
  EXPECT_EQ(e["signer"], kSigner);
  EXPECT_EQ(e["issuer"], kIssuer);
  // The decision log has it: an accepted message with its finding.
  EXPECT_TRUE(engine->ShouldLog(d.verdict));
  nlohmann::json record = engine->DecisionRecord(*d.message, d.verdict, Stage::kEndOfMessage);
  EXPECT_EQ(record["event"]["action"], "accept");
  ASSERT_EQ(record["mailwarden"]["findings"].size(), 1u);
  EXPECT_NE(record.dump().find("smime-signed"), std::string::npos) << record.dump();
}

TEST(DigitalSignatureCheck, StandardTypeNameAndTagAction) {
  ASSERT_TRUE(FixturesReady());
  std::string raw = Fixture("detached.eml");
  for (size_t at; (at = raw.find("application/x-pkcs7-signature")) != std::string::npos;) {
    raw.replace(at, 29, "application/pkcs7-signature");
  }
  auto engine =
      EngineWith("  - id: digital-signature\n    check: digital_signature\n    action: tag\n");
  ASSERT_NE(engine, nullptr);
  Delivery d = Deliver(*engine, raw);
  EXPECT_EQ(d.verdict.action, Action::kTag);
  ASSERT_EQ(d.verdict.add_headers.size(), 1u);
  EXPECT_NE(d.verdict.add_headers[0].value.find("rules=digital-signature"), std::string::npos);
  nlohmann::json e = OnlyEntry(d.verdict);
  EXPECT_EQ(e["content_type"], "application/pkcs7-signature");
  EXPECT_EQ(e["kind"], "smime-signed");
}

TEST(DigitalSignatureCheck, OpaqueSignedAndEncryptedSmime) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  Delivery opaque = Deliver(*engine, Fixture("opaque.eml"));
  EXPECT_EQ(opaque.verdict.action, Action::kAccept);
  nlohmann::json e = OnlyEntry(opaque.verdict);
  EXPECT_EQ(e["part"], "1");
  EXPECT_EQ(e["kind"], "smime-signed");
  EXPECT_EQ(e["detached"], false);
  EXPECT_EQ(e["signer"], kSigner);

  Delivery encrypted = Deliver(*engine, Fixture("encrypted.eml"));
  EXPECT_EQ(encrypted.verdict.action, Action::kAccept);
  ASSERT_NE(SignatureFinding(encrypted.verdict), nullptr);
  EXPECT_EQ(SignatureFinding(encrypted.verdict)->reason, "S/MIME encrypted");
  e = OnlyEntry(encrypted.verdict);
  EXPECT_EQ(e["kind"], "smime-encrypted");
  EXPECT_EQ(e["cms_type"], "pkcs7-envelopedData");
  EXPECT_EQ(e["recipients"], 1);
}

TEST(DigitalSignatureCheck, GarbageSignaturePartIsUnparsableNotAFailure) {
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  std::string raw = Mail(Multipart(
      "signed",
      {Text("Kính gửi anh chị.\r\n"),
       Attachment("smime.p7s", "application/pkcs7-signature", "\x30\x82\x01garbage, not DER")},
      "; protocol=\"application/pkcs7-signature\"; micalg=sha-256"));
  Delivery d = Deliver(*engine, raw);
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  ASSERT_NE(SignatureFinding(d.verdict), nullptr);
  EXPECT_EQ(SignatureFinding(d.verdict)->reason, "unparsable S/MIME part");
  nlohmann::json e = OnlyEntry(d.verdict);
  EXPECT_EQ(e["kind"], "unparsable");
  EXPECT_EQ(e["error"], "unparsable CMS");
  EXPECT_EQ(e["name"], "smime.p7s");
}

TEST(DigitalSignatureCheck, PartNotKeptWholeIsReportedByType) {
  ASSERT_TRUE(FixturesReady());
  // The signature (about 1.5 KB with its two certificates' worth of names) is cut at 1 KiB.
  auto engine = EngineWith(kRule, "mime:\n  max_kept_part_bytes: 1KiB\n");
  ASSERT_NE(engine, nullptr);
  Delivery d = Deliver(*engine, Fixture("detached.eml"));
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  nlohmann::json e = OnlyEntry(d.verdict);
  EXPECT_EQ(e["kind"], "smime-signed");
  EXPECT_EQ(e["inspected"], false);
  EXPECT_FALSE(e.contains("signers"));
  EXPECT_EQ(SignatureFinding(d.verdict)->reason, "digitally signed: S/MIME");
}

TEST(DigitalSignatureCheck, OpenPgpSignature) {
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  std::string raw =
      Mail(Multipart("signed",
                     {Text("Kính gửi anh chị.\r\n"),
                      Entity("Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n",
                             "-----BEGIN PGP SIGNATURE-----\r\n\r\niHUEARYKAB0WIQQ=\r\n=abcd\r\n"
                             "-----END PGP SIGNATURE-----\r\n")},
                     "; micalg=pgp-sha256; protocol=\"application/pgp-signature\""));
  Delivery d = Deliver(*engine, raw);
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  nlohmann::json e = OnlyEntry(d.verdict);
  EXPECT_EQ(e["kind"], "pgp-signed");
  EXPECT_EQ(e["part"], "1/2");
  EXPECT_EQ(SignatureFinding(d.verdict)->reason, "digitally signed: OpenPGP");
}

TEST(DigitalSignatureCheck, CmsFilesAttachedByName) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  std::string raw = MailWith(
      {Attachment("quyet-dinh.txt", "text/plain", Fixture("doc.txt")),
       Attachment("quyet-dinh.txt.p7s", "application/octet-stream", Fixture("doc.p7s")),
       Attachment("to-trinh.pdf.p7m", "application/octet-stream", Fixture("doc.pdf.p7m"))});
  Delivery d = Deliver(*engine, raw);
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  const Finding* f = SignatureFinding(d.verdict);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->reason, "digitally signed: CMS file (1 signer)");
  const nlohmann::json& list = f->evidence["signatures"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["part"], "1/3");
  EXPECT_EQ(list[0]["kind"], "cms-signed");
  EXPECT_EQ(list[0]["detached"], true);
  EXPECT_EQ(list[1]["part"], "1/4");
  EXPECT_EQ(list[1]["kind"], "cms-signed");
  EXPECT_EQ(list[1]["detached"], false);
  EXPECT_EQ(list[1]["signer"], kSigner);
}

TEST(DigitalSignatureCheck, SignedPdfAttachment) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  Delivery d = Deliver(
      *engine,
      MailWith({Attachment("cong-van-12.pdf", "application/pdf", SignedPdf(Fixture("doc.p7s")))}));
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  nlohmann::json e = OnlyEntry(d.verdict);
  EXPECT_EQ(e["kind"], "pdf-signed");
  EXPECT_EQ(e["part"], "1/2");
  EXPECT_EQ(e["name"], "cong-van-12.pdf");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(e["subfilter"], "adbe.pkcs7.detached");
  EXPECT_EQ(e["signer"], kSigner);
  EXPECT_EQ(e["issuer"], kIssuer);
  EXPECT_EQ(SignatureFinding(d.verdict)->reason, "digitally signed: signed PDF");

  // Recognised by content whatever the declared type; CAdES signatures as well.
  Delivery cades = Deliver(
      *engine, MailWith({Attachment("scan.bin", "application/octet-stream",
                                    SignedPdf(Fixture("doc.p7s"), "/ETSI.CAdES.detached"))}));
  EXPECT_EQ(OnlyEntry(cades.verdict)["subfilter"], "ETSI.CAdES.detached");
}

TEST(DigitalSignatureCheck, SignedOfficeDocumentsDirectAndNested) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  const std::string docx_type =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  Delivery direct =
      Deliver(*engine, MailWith({Attachment("to-trinh.docx", docx_type, Fixture("signed.docx"))}));
  nlohmann::json e = OnlyEntry(direct.verdict);
  EXPECT_EQ(e["kind"], "ooxml-signed");
  EXPECT_EQ(e["part"], "1/2");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(SignatureFinding(direct.verdict)->reason, "digitally signed: signed Office document");

  Delivery nested = Deliver(
      *engine, MailWith({Attachment("ho-so.zip", "application/zip", Fixture("nested.zip"))}));
  EXPECT_EQ(nested.verdict.action, Action::kAccept);
  e = OnlyEntry(nested.verdict);
  EXPECT_EQ(e["kind"], "ooxml-signed");
  EXPECT_EQ(e["part"], "1/2:inner/signed.docx");
  EXPECT_EQ(e["document"], "inner/signed.docx");

  Delivery odt = Deliver(
      *engine, MailWith({Attachment("bao-cao.odt", "application/vnd.oasis.opendocument.text",
                                    Fixture("signed.odt"))}));
  e = OnlyEntry(odt.verdict);
  EXPECT_EQ(e["kind"], "odf-signed");
  EXPECT_EQ(SignatureFinding(odt.verdict)->reason, "digitally signed: signed ODF document");
}

TEST(DigitalSignatureCheck, SeveralKindsInOneFinding) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  const std::string docx_type =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  std::string inner =
      MailWith({Attachment("to-trinh.docx", docx_type, Fixture("signed.docx")),
                Attachment("cong-van.pdf", "application/pdf", SignedPdf(Fixture("doc.p7s")))});
  Delivery d = Deliver(*engine, Mail(Multipart("mixed", {Text(kGreeting), Forwarded(inner)})));
  const Finding* f = SignatureFinding(d.verdict);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->reason, "digitally signed: signed Office document, signed PDF");
  ASSERT_EQ(f->evidence["signatures"].size(), 2u);
  EXPECT_EQ(f->evidence["signatures"][0]["in_attached_message"], true);
}

TEST(DigitalSignatureCheck, UnsignedContentGivesNoFinding) {
  ASSERT_TRUE(FixturesReady());
  auto engine = EngineWith(kRule);
  ASSERT_NE(engine, nullptr);
  const std::string docx_type =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  for (const std::string& raw :
       {Mail(Text(kGreeting)),
        MailWith({Attachment("huong-dan-ky-so.pdf", "application/pdf", PdfAboutSignatures())}),
        MailWith({Attachment("du-thao.docx", docx_type, Fixture("plain.docx"))}),
        MailWith({Attachment("cert.p7c", "application/pkcs7-mime", Fixture("certs.p7c"))})}) {
    Delivery d = Deliver(*engine, raw);
    EXPECT_EQ(d.verdict.action, Action::kAccept);
    EXPECT_TRUE(d.verdict.findings.empty())
        << d.verdict.findings[0].reason << " " << d.verdict.findings[0].evidence.dump();
  }
}

TEST(DigitalSignatureCheck, ShippedRulePackLogsSignatures) {
  ASSERT_TRUE(FixturesReady());
  const std::filesystem::path repo =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  testing::TempDir dir;
  std::filesystem::copy(repo / "rules", dir.Path("rules"),
                        std::filesystem::copy_options::recursive);
  std::string path = dir.Write("mailwarden.yaml",
                               "version: 1\nrule_files: [rules/default.yaml]\n"
                               "domains:\n  internal: [bacgiang.gov.vn]\n");
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  const RuleSpec* rule = nullptr;
  for (const RuleSpec& r : (*config)->rules) {
    if (r.id == "digital-signature") rule = &r;
  }
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->check, "digital_signature");
  EXPECT_EQ(rule->action, Action::kAccept);
  auto engine = Engine::Build(*config);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Delivery d = Deliver(**engine, Fixture("detached.eml"));
  EXPECT_EQ(d.verdict.action, Action::kAccept);
  bool found = false;
  for (const Finding& f : d.verdict.findings) found = found || f.rule_id == "digital-signature";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace mailwarden

// Recognisers for digitally signed content: CMS (PKCS #7) blobs, PDF signature dictionaries,
// and signed OOXML/ODF documents in an archive listing.
//
// They recognise, they do not verify: no certificate chain, trust anchor, revocation or
// digest is checked. What they report is metadata the content declares about itself (how
// many signers, the names in the certificates it carries), which is enough for statistics on
// how much mail is signed, and never proof that a signature is valid.
//
// DescribeCms() reads a ContentInfo (RFC 5652; PKCS #7 v1.5 has the same outer form) as DER
// or BER, PEM ("-----BEGIN PKCS7-----", "-----BEGIN CMS-----") or bare base64 text (how
// some .p7m files travel), with OpenSSL, and says whether it is signed-data or an encrypted
// form (enveloped-data, authenticated-enveloped-data, encrypted-data), with the signer count
// and, for the first signer whose certificate is included, the subject and issuer common
// names.
//
// ScanPdfSignatures() scans a PDF's bytes for signature dictionaries. What counts, exactly:
// the file is cut into indirect objects ("N G obj" ... "endobj"); for each, the dictionary
// part (up to the "stream" keyword, if any: stream data is never looked at, so text that
// merely talks about /ByteRange in a page is not a signature) is tokenised (names, literal
// and hex strings with their escapes, arrays, dictionaries, comments), and the object is a
// signature when either
//   (a) a /Type or /FT key has the name /Sig as its value, and a /ByteRange key has an
//       array as its value, and a /Contents key has a string as its value; or
//   (b) a /SubFilter key has as its value one of the names adbe.pkcs7.detached,
//       adbe.pkcs7.sha1, adbe.x509.rsa_sha1, ETSI.CAdES.detached, ETSI.RFC3161 (a name, not
//       an array: an unsigned signature field's seed value dictionary lists allowed
//       SubFilters in an array, and a field that was never signed is not a signature).
// An unsigned signature field (/FT /Sig without a signed value) is therefore not counted.
// Objects inside compressed object streams are not seen; a signature dictionary cannot be
// there, since the signed byte ranges are the file's own bytes around /Contents. Names are
// compared as written (the #xx escape form of these names is not decoded). When the
// /Contents value is a hex string and the SubFilter is not adbe.x509.rsa_sha1 (whose
// Contents is a bare RSA signature), it is decoded and described with DescribeCms().
//
// FindSignedDocuments() reads an ArchiveListing: an OOXML document (format or
// archive_format "ooxml") is signed when it holds a member "_xmlsignatures/sig*.xml" (OPC
// part names: ASCII case ignored), one per signature; an ODF document ("odf") when it holds
// "META-INF/documentsignatures.xml" (one file holding every document signature; macro
// signatures, META-INF/macrosignatures.xml, are not document signatures). Documents inside
// archives are found too: their members are listed under the document member's path
// ("inner.zip/report.docx/_xmlsignatures/sig1.xml").
//
// Limits: ScanPdfSignatures() reads its input once from start to end (each keyword search
// resumes where the last one stopped), tokenises at most kMaxPdfDictionaryBytes of one
// object's dictionary, decodes at most kMaxPdfContentsHexBytes of one /Contents and
// reports at most kMaxPdfSignatures signatures (PdfSignatureScan::cut says when more were
// seen). DescribeCms() leaves DER parsing bounds to OpenSSL, on inputs of at most INT_MAX
// bytes. Damaged input is a result (CmsKind::kUnparsable, or nothing found), never an error.
//
// Thread-safety: pure functions, safe to call concurrently. Ownership: results own copies;
// inputs are only borrowed during the call.
#ifndef MAILWARDEN_MILTER_MIME_SIGNATURE_SCAN_H_
#define MAILWARDEN_MILTER_MIME_SIGNATURE_SCAN_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "milter/mime/archive.h"

namespace mailwarden {

inline constexpr size_t kMaxPdfDictionaryBytes = 1 << 20;
inline constexpr size_t kMaxPdfContentsHexBytes = 1 << 20;
inline constexpr size_t kMaxPdfSignatures = 64;

enum class CmsKind {
  kUnparsable,  // not a ContentInfo OpenSSL can read (garbage, cut short)
  kSigned,      // signed-data
  kEncrypted,   // enveloped-data, authenticated-enveloped-data or encrypted-data
  kOther,       // a readable ContentInfo of another type (data, digested, compressed, ...)
};

// "unparsable", "signed", "encrypted", "other".
std::string_view CmsKindName(CmsKind kind);

struct CmsSummary {
  CmsKind kind = CmsKind::kUnparsable;
  // OpenSSL's short name of the content type ("pkcs7-signedData", "id-smime-ct-compressedData")
  // or its dotted OID; "" when unparsable.
  std::string content_type;
  // signed-data: SignerInfos, and whether the signed content is absent (a detached signature).
  int signers = 0;
  bool detached = false;
  // signed-data: the first signer whose certificate the blob carries: the subject's and
  // the issuer's common name (UTF-8, at most 256 bytes; "" when there is none).
  std::string signer_cn;
  std::string issuer_cn;
  // encrypted: RecipientInfos (enveloped and authenticated-enveloped data).
  int recipients = 0;
};

// Describes `bytes` as a CMS/PKCS #7 ContentInfo (DER/BER, PEM or bare base64).
CmsSummary DescribeCms(std::string_view bytes);

// True when `head` (a part's first bytes) carries the PDF header "%PDF-" in its first 1024
// bytes, where PDF readers look for it.
bool LooksLikePdf(std::string_view head);

struct PdfSignature {
  // The /SubFilter name without its slash ("adbe.pkcs7.detached"), "" when none is given.
  std::string subfilter;
  // Rule (a) held: /Type or /FT /Sig with /ByteRange and /Contents.
  bool signature_dictionary = false;
  // /Contents decoded and described; kind kUnparsable when it is absent, not a hex string,
  // cut at kMaxPdfContentsHexBytes or a bare RSA signature (contents_parsed false then).
  bool contents_parsed = false;
  CmsSummary cms;
};

struct PdfSignatureScan {
  std::vector<PdfSignature> signatures;  // in file order
  bool cut = false;                      // more than kMaxPdfSignatures were seen
};

// The signature dictionaries of the PDF `pdf`, by the rules above.
PdfSignatureScan ScanPdfSignatures(std::string_view pdf);

struct SignedDocument {
  // Path of the document member in the listing; "" for the listed archive itself.
  std::string document;
  std::string format;  // "ooxml" or "odf"
  // OOXML: the sig*.xml members; ODF: 1 (documentsignatures.xml holds them all).
  int signatures = 0;
};

// The signed OOXML/ODF documents of `listing`, the listed archive itself first, then
// documents inside it in listing order.
std::vector<SignedDocument> FindSignedDocuments(const ArchiveListing& listing);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_SIGNATURE_SCAN_H_

// DigitalSignatureCheck (REGULATIONS.md M9: digital signatures are encouraged): records, for
// statistics, which messages carry digitally signed content. Log only: the default rule's
// action is accept, so the message passes and the decision log keeps the finding; a site
// may set `tag`.
//
// Recognised, each listed as one signed part in the finding's evidence:
//   - S/MIME: a part typed application/pkcs7-signature or x-pkcs7-signature (the signature
//     of a multipart/signed), application/pkcs7-mime or x-pkcs7-mime (an opaque .p7m). The
//     kept content is read as CMS (signature_scan.h) to tell signed-data ("smime-signed",
//     with the signer count and the signer certificate's subject and issuer common names)
//     from an encrypted form ("smime-encrypted", reported too: security staff want to know).
//   - Detached .p7s / opaque .p7m files attached under another type, by name: "cms-signed",
//     "cms-encrypted".
//   - OpenPGP: a part typed application/pgp-signature ("pgp-signed").
//   - PDF attachments holding a signature dictionary ("pdf-signed"; what counts is stated
//     exactly in signature_scan.h). Signatures of the Government Cipher Committee's CA
//     (VGCA, adbe.pkcs7.detached) are among them.
//   - OOXML documents with _xmlsignatures/sig*.xml ("ooxml-signed") and ODF documents with
//     META-INF/documentsignatures.xml ("odf-signed"), attached or inside archives.
// Parts of attached messages and files taken out of TNEF parts are judged like attachments.
// PDFs inside archives are not (members' content is not kept).
//
// Nothing is verified: no trust chain, revocation or digest check. The names reported are
// what the content declares. A part the parser did not keep (over mime.max_kept_*) is
// reported by its type alone (`"inspected": false`); content that cannot be read as CMS is
// reported as kind "unparsable". The check never fails a message: it returns OK always, and
// reports one finding (reason e.g. "digitally signed: S/MIME (1 signer)") only when
// something was recognised.
//
// Immutable once built; Inspect() is thread-safe.
#ifndef MAILWARDEN_MILTER_CHECKS_DIGITAL_SIGNATURE_H_
#define MAILWARDEN_MILTER_CHECKS_DIGITAL_SIGNATURE_H_

#include "milter/checks/check.h"

namespace mailwarden {

class DigitalSignatureCheck : public Check {
 public:
  explicit DigitalSignatureCheck(const RuleSpec& rule) : Check(rule) {}
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_DIGITAL_SIGNATURE_H_

// EncryptedArchiveCheck (REGULATIONS.md M3): a password-protected archive cannot be scanned
// for viruses or forbidden files, so it is refused (550 5.7.1 saying so and why).
//
// An archive is encrypted when any member at any depth is (ZipCrypto, WinZip AES, 7z AES,
// RAR) or when an archive hides its listing (7z -mhe, RAR -hp). The parts judged are the
// attachments, files taken out of TNEF parts and uuencoded files whose content is an
// archive, whatever their names. S/MIME and PGP encrypted mail is not an archive and is
// not this rule's business. An encrypted archive whose readable listing names an
// executable is also caught by the executable rule. Admins relax this rule with `when:` /
// `except:` (for one unit, or tag only for internal mail).
#ifndef MAILWARDEN_MILTER_CHECKS_ENCRYPTED_ARCHIVE_H_
#define MAILWARDEN_MILTER_CHECKS_ENCRYPTED_ARCHIVE_H_

#include "milter/checks/check.h"

namespace mailwarden {

class EncryptedArchiveCheck : public Check {
 public:
  explicit EncryptedArchiveCheck(const RuleSpec& rule) : Check(rule) {}
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_ENCRYPTED_ARCHIVE_H_

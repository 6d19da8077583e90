#include "milter/checks/check.h"

#include "milter/checks/antivirus.h"
#include "milter/checks/attachment_size.h"
#include "milter/checks/auto_forward.h"
#include "milter/checks/classified_document.h"
#include "milter/checks/digital_signature.h"
#include "milter/checks/encrypted_archive.h"
#include "milter/checks/executable.h"
#include "milter/checks/macro_document.h"
#include "milter/checks/message_size.h"
#include "milter/checks/spam.h"

namespace mailwarden {

Finding Check::MakeFinding(std::string check, int smtp_code, std::string enhanced_code,
                           std::string reason, nlohmann::json evidence) const {
  Finding f;
  f.rule_id = rule_id_;
  f.check = std::move(check);
  f.action = action_;
  f.smtp_code = smtp_code;
  f.enhanced_code = std::move(enhanced_code);
  f.reason = reply_.empty() ? std::move(reason) : reply_;
  f.evidence = std::move(evidence);
  return f;
}

Result<std::unique_ptr<Check>> MakeCheck(const RuleSpec& rule, const Config& config) {
  if (rule.check == "message_size") {
    return std::unique_ptr<Check>(std::make_unique<MessageSizeCheck>(rule));
  }
  if (rule.check == "attachment_size") {
    return std::unique_ptr<Check>(std::make_unique<AttachmentSizeCheck>(rule));
  }
  if (rule.check == "executable") return ExecutableCheck::Create(rule);
  if (rule.check == "encrypted_archive") {
    return std::unique_ptr<Check>(std::make_unique<EncryptedArchiveCheck>(rule));
  }
  if (rule.check == "antivirus") return AntivirusCheck::Create(rule, config);
  if (rule.check == "auto_forward_out")
    return AutoForwardCheck::Create(rule, config, AutoForwardCheck::Side::kOut);
  if (rule.check == "auto_forward_in")
    return AutoForwardCheck::Create(rule, config, AutoForwardCheck::Side::kIn);
  if (rule.check == "classified_document") return ClassifiedDocumentCheck::Create(rule);
  if (rule.check == "macro_document") {
    return std::unique_ptr<Check>(std::make_unique<MacroDocumentCheck>(rule));
  }
  if (rule.check == "spam") return SpamCheck::Create(rule, config);
  if (rule.check == "digital_signature") {
    return std::unique_ptr<Check>(std::make_unique<DigitalSignatureCheck>(rule));
  }
  return Status::InvalidArgument(rule.where.ToString() + ": check '" + rule.check +
                                 "' is not run by the milter");
}

}  // namespace mailwarden

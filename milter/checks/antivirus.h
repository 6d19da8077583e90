// AntivirusCheck (REGULATIONS.md M6): every decoded part of the message is scanned for
// viruses, whole and from memory: the message's own text and HTML bodies, attachments,
// uuencoded files, files taken out of TNEF and the parts of attached messages. The scanner
// (milter/scan/virus_scanner.h) opens archives and documents itself, to its own limits.
//
// Three outcomes besides clean, each a finding:
//   - a virus: the rule's action (reject 550 5.7.1 by default) with the signature name
//     and the part path in the reply; the log gets the signature, the part path, its name
//     and the SHA-256 of the infected part, for every infected part;
//   - content not fully scanned (a scanner limit such as antivirus.max_file_size, or a
//     part too large to keep whole for scanning): antivirus.on_scan_limit (reject 550
//     5.7.1 naming the limit by default: a retry would not help);
//   - no answer from the scanner (no signatures loaded, a scanner failure):
//     antivirus.on_scanner_error (tempfail 451 4.3.0 by default: the sender retries).
// A part is never passed silently because it could not be scanned.
#ifndef MAILWARDEN_MILTER_CHECKS_ANTIVIRUS_H_
#define MAILWARDEN_MILTER_CHECKS_ANTIVIRUS_H_

#include <memory>

#include "milter/checks/check.h"
#include "milter/scan/virus_scanner.h"

namespace mailwarden {

class AntivirusCheck : public Check {
 public:
  // The scanner comes from the process-wide registry for the config's antivirus.* options.
  static Result<std::unique_ptr<Check>> Create(const RuleSpec& rule, const Config& config);
  AntivirusCheck(const RuleSpec& rule, std::shared_ptr<VirusScanner> scanner, Action on_scan_limit,
                 Action on_scanner_error);
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;

 private:
  Finding FailureFinding(Action mode, bool limit, std::string reason,
                         nlohmann::json evidence) const;

  std::shared_ptr<VirusScanner> scanner_;
  Action on_scan_limit_;
  Action on_scanner_error_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_ANTIVIRUS_H_

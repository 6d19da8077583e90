#include "milter/checks/antivirus.h"

#include "milter/checks/file_name.h"

namespace mailwarden {

Result<std::unique_ptr<Check>> AntivirusCheck::Create(const RuleSpec& rule, const Config& config) {
  auto scanner = AcquireVirusScanner(AntivirusOptions::FromConfig(config));
  return std::unique_ptr<Check>(std::make_unique<AntivirusCheck>(
      rule, std::move(scanner), config.value("antivirus.on_scan_limit").action,
      config.value("antivirus.on_scanner_error").action));
}

AntivirusCheck::AntivirusCheck(const RuleSpec& rule, std::shared_ptr<VirusScanner> scanner,
                               Action on_scan_limit, Action on_scanner_error)
    : Check(rule),
      scanner_(std::move(scanner)),
      on_scan_limit_(on_scan_limit),
      on_scanner_error_(on_scanner_error) {}

Finding AntivirusCheck::FailureFinding(Action mode, bool limit, std::string reason,
                                       nlohmann::json evidence) const {
  bool reject = mode == Action::kReject;
  // A scan limit is permanent for this content; a scanner failure is not.
  Finding f = MakeFinding("antivirus", reject ? 550 : 451,
                          reject ? (limit ? "5.7.1" : "5.3.0") : "4.3.0", {}, std::move(evidence));
  f.action = mode;
  f.reason = std::move(reason);
  return f;
}

namespace {

// What the log says of a part any antivirus finding is about.
nlohmann::json PartEvidence(const mime::MimePart& p) {
  return {{"part", p.path}, {"name", p.file_name}, {"sha256", p.sha256}, {"size", p.size}};
}

// The limit that kept `cp` from being held whole for scanning, or null. (An encoded
// attached message gave its bytes to its own parts, which follow it.)
const char* NotWholeLimit(const ContentPart& cp) {
  const mime::MimePart& p = cp.part;
  if (p.kept) return p.truncated ? "mime.max_kept_part_bytes" : nullptr;
  if (cp.container == "message" || p.size == 0) return nullptr;
  return "mime.max_kept_total_bytes";
}

}  // namespace

Status AntivirusCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  for (const ContentPart& cp : message.content().parts) {
    const mime::MimePart& p = cp.part;
    if (const char* limit = NotWholeLimit(cp)) {
      nlohmann::json where = PartEvidence(p);
      where["limit"] = limit;
      out->push_back(FailureFinding(on_scan_limit_, true,
                                    "content could not be fully scanned for viruses: limit " +
                                        std::string(limit) + " exceeded at part " + p.path,
                                    std::move(where)));
      continue;
    }
    if (!p.kept) continue;
    if (p.content.empty()) continue;
    auto outcome = scanner_->Scan(p.content);
    if (!outcome.ok()) {
      nlohmann::json where = PartEvidence(p);
      where["error"] = outcome.status().message();
      out->push_back(FailureFinding(on_scanner_error_, false,
                                    on_scanner_error_ == Action::kTempfail
                                        ? "virus scanner unavailable, try again later"
                                        : "message could not be scanned for viruses",
                                    std::move(where)));
      // Without a scanner no other part can be judged either.
      return Status::Ok();
    }
    switch (outcome->kind) {
      case ScanOutcome::Kind::kClean:
        break;
      case ScanOutcome::Kind::kInfected: {
        nlohmann::json where = PartEvidence(p);
        where["signature"] = outcome->name;
        std::string shown = p.file_name.empty()
                                ? ""
                                : " \"" + ReplySafeName(NormaliseFileName(p.file_name)) + "\"";
        out->push_back(MakeFinding("antivirus", 550, "5.7.1",
                                   "virus found: " + outcome->name + " in" + shown + " part " +
                                       p.path,
                                   std::move(where)));
        break;
      }
      case ScanOutcome::Kind::kLimit: {
        nlohmann::json where = PartEvidence(p);
        where["limit"] = outcome->name;
        out->push_back(FailureFinding(on_scan_limit_, true,
                                      "content could not be fully scanned for viruses: limit " +
                                          outcome->name + " exceeded at part " + p.path,
                                      std::move(where)));
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace mailwarden

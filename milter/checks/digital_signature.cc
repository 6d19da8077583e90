#include "milter/checks/digital_signature.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "milter/checks/file_name.h"
#include "milter/mime/signature_scan.h"

namespace mailwarden {
namespace {

// Signed parts listed in the evidence; beyond, only counted ("more"), so that a message of
// a thousand signature parts still gives a log line of bounded size.
constexpr size_t kMaxReported = 100;
// Distinct descriptions in the reason; beyond, "...".
constexpr size_t kMaxReasonLabels = 4;

bool IsSmimeSignatureType(std::string_view type) {
  return type == "application/pkcs7-signature" || type == "application/x-pkcs7-signature";
}

bool IsSmimeMimeType(std::string_view type) {
  return type == "application/pkcs7-mime" || type == "application/x-pkcs7-mime";
}

// The final extension of the part's name, or of its other name ("p7s", "p7m"), or "".
std::string CmsFileExtension(const mime::MimePart& p) {
  for (const std::string* name : {&p.file_name, &p.other_name}) {
    std::string ext = FinalExtension(NormaliseFileName(*name));
    if (ext == "p7s" || ext == "p7m") return ext;
  }
  return "";
}

std::string Signers(int n) { return std::to_string(n) + (n == 1 ? " signer" : " signers"); }

// What the finding will say: the evidence entries and the reason's parts.
class Report {
 public:
  // Records `entry`; `label` describes it in the reason, among the signed kinds when
  // `is_signed`, else among the notes (encrypted, unparsable, not inspected).
  void Add(nlohmann::json entry, const std::string& label, bool is_signed) {
    if (entries_.size() < kMaxReported) {
      entries_.push_back(std::move(entry));
    } else {
      ++more_;
    }
    std::vector<std::string>& labels = is_signed ? signed_ : notes_;
    if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
  }

  bool empty() const { return entries_.empty(); }

  std::string Reason() const {
    std::string reason;
    if (!signed_.empty()) reason = "digitally signed: " + Join(signed_);
    if (!notes_.empty()) reason += (reason.empty() ? "" : "; ") + Join(notes_);
    return reason;
  }

  nlohmann::json Evidence() && {
    nlohmann::json evidence = {{"signatures", std::move(entries_)}, {"verified", false}};
    if (more_ > 0) evidence["more"] = more_;
    return evidence;
  }

 private:
  static std::string Join(const std::vector<std::string>& labels) {
    std::string out;
    for (size_t i = 0; i < labels.size() && i < kMaxReasonLabels; ++i) {
      out += (i == 0 ? "" : ", ") + labels[i];
    }
    if (labels.size() > kMaxReasonLabels) out += ", ...";
    return out;
  }

  nlohmann::json entries_ = nlohmann::json::array();
  uint64_t more_ = 0;
  std::vector<std::string> signed_;
  std::vector<std::string> notes_;
};

nlohmann::json Entry(const mime::MimePart& p, std::string_view kind) {
  nlohmann::json e = {{"part", p.path}, {"kind", kind}, {"content_type", p.content_type}};
  if (!p.file_name.empty()) e["name"] = p.file_name;
  if (p.in_attached_message) e["in_attached_message"] = true;
  return e;
}

void AddSigner(const CmsSummary& cms, nlohmann::json* e) {
  if (!cms.signer_cn.empty()) (*e)["signer"] = cms.signer_cn;
  if (!cms.issuer_cn.empty()) (*e)["issuer"] = cms.issuer_cn;
}

// An S/MIME part (`by_type`) or a .p7s/.p7m file (by name).
void JudgeCms(const mime::MimePart& p, bool by_type, std::string_view ext, Report* report) {
  const std::string prefix = by_type ? "smime" : "cms";
  const std::string what = by_type ? "S/MIME" : "CMS file";
  const bool signature_type = by_type ? IsSmimeSignatureType(p.content_type) : ext == "p7s";
  CmsSummary cms;
  if (p.kept) cms = DescribeCms(p.content);
  if (!p.kept || (p.truncated && cms.kind == CmsKind::kUnparsable)) {
    // The content is not here whole: the declared type (or name) is all there is to go on.
    nlohmann::json e = Entry(p, prefix + (signature_type ? "-signed" : "-opaque"));
    e["inspected"] = false;
    if (signature_type) {
      report->Add(std::move(e), what, true);
    } else {
      report->Add(std::move(e), what + " part not inspected", false);
    }
    return;
  }
  switch (cms.kind) {
    case CmsKind::kSigned: {
      if (cms.signers == 0) return;  // certificates only (.p7c style): nobody signed anything
      nlohmann::json e = Entry(p, prefix + "-signed");
      e["signers"] = cms.signers;
      e["detached"] = cms.detached;
      AddSigner(cms, &e);
      report->Add(std::move(e), what + " (" + Signers(cms.signers) + ")", true);
      return;
    }
    case CmsKind::kEncrypted: {
      nlohmann::json e = Entry(p, prefix + "-encrypted");
      e["cms_type"] = cms.content_type;
      if (cms.recipients > 0) e["recipients"] = cms.recipients;
      report->Add(std::move(e), what + " encrypted", false);
      return;
    }
    case CmsKind::kUnparsable: {
      nlohmann::json e = Entry(p, "unparsable");
      e["error"] = "unparsable CMS";
      report->Add(std::move(e), "unparsable " + what + " part", false);
      return;
    }
    case CmsKind::kOther:
      return;  // compressed, digested or bare data: not a signature
  }
}

void JudgePdf(const mime::MimePart& p, Report* report) {
  PdfSignatureScan scan = ScanPdfSignatures(p.content);
  if (scan.signatures.empty()) return;
  nlohmann::json e = Entry(p, "pdf-signed");
  e["count"] = scan.signatures.size();
  if (scan.cut) e["count_cut"] = true;
  for (const PdfSignature& s : scan.signatures) {
    if (!s.subfilter.empty()) {
      e["subfilter"] = s.subfilter;
      break;
    }
  }
  for (const PdfSignature& s : scan.signatures) {
    if (s.cms.kind == CmsKind::kSigned && !s.cms.signer_cn.empty()) {
      AddSigner(s.cms, &e);
      break;
    }
  }
  if (p.truncated) e["truncated"] = true;
  report->Add(std::move(e), "signed PDF", true);
}

void JudgeDocuments(const ContentPart& cp, Report* report) {
  for (const SignedDocument& d : FindSignedDocuments(*cp.archive)) {
    nlohmann::json e = Entry(cp.part, d.format + "-signed");
    if (!d.document.empty()) {
      e["part"] = cp.part.path + ":" + d.document;
      e["document"] = d.document;
    }
    e["count"] = d.signatures;
    report->Add(std::move(e), d.format == "odf" ? "signed ODF document" : "signed Office document",
                true);
  }
}

}  // namespace

Status DigitalSignatureCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  Report report;
  for (const ContentPart& cp : message.content().parts) {
    const mime::MimePart& p = cp.part;
    if (IsSmimeSignatureType(p.content_type) || IsSmimeMimeType(p.content_type)) {
      JudgeCms(p, true, "", &report);
    } else if (std::string ext = CmsFileExtension(p); !ext.empty()) {
      JudgeCms(p, false, ext, &report);
    } else if (p.content_type == "application/pgp-signature") {
      report.Add(Entry(p, "pgp-signed"), "OpenPGP", true);
    } else if (p.kept && LooksLikePdf(p.content)) {
      JudgePdf(p, &report);
    }
    if (cp.archive) JudgeDocuments(cp, &report);
  }
  if (report.empty()) return Status::Ok();
  std::string reason = report.Reason();
  out->push_back(MakeFinding("digital_signature", 550, "5.7.1", std::move(reason),
                             std::move(report).Evidence()));
  return Status::Ok();
}

}  // namespace mailwarden

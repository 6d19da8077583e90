// ClassifiedDocumentCheck (REGULATIONS.md M7, M8): documents marked secret must not travel
// by e-mail. Looks for Vietnamese classification markings (classified_marking.h: "MẬT",
// "TỐI MẬT", "TUYỆT MẬT" as stamps, "[MẬT]" subject tags, the field "Độ mật: ...") in
//   - the Subject (RFC 2047 decoded),
//   - the message's text and HTML bodies (charset-decoded),
//   - the text of its attachments and of files in TNEF and attached messages: plain text,
//     HTML, RTF, PDF, OOXML (docx, xlsx, pptx) and ODF (odt, ods, odp) documents
//     (milter/text/part_text.h), and such documents packed in archives, at any depth the
//     archive walk reaches (kept by it up to max_archived_documents bytes per archive).
// Text in legacy Vietnamese encodings is read too: runs in TCVN3/VNI fonts are converted
// by the extractors, and text with no font (a mislabelled body, a PDF) is recognised by
// its content (mime::DetectLegacyVietnamese) and converted before matching.
//
// Findings, each in the decision log with part paths and never a word of the text:
//   - "classified_document": the markings found (degree, kind, part, where, line), with
//     the rule's action (quarantine: Postfix's hold queue, by default); marked as an
//     alert (Finding::alert) for the SOC;
//   - "classified_incomplete": a limit (max_text, a document's XML, PDF pages or time, a
//     part too large to keep, max_archived_documents) cut the text, or a document could not
//     be read (damaged, encrypted). Its action is on_incomplete (accept by default: logged, not
//     refused);
//   - "legacy_encoding" (M8 statistics, action accept): which parts hold Vietnamese text in
//     TCVN3, VNI, VISCII or windows-1258; only with report_legacy_encoding.
// Immutable after construction; Inspect is thread-safe.
#ifndef MAILWARDEN_MILTER_CHECKS_CLASSIFIED_DOCUMENT_H_
#define MAILWARDEN_MILTER_CHECKS_CLASSIFIED_DOCUMENT_H_

#include <memory>

#include "milter/checks/check.h"
#include "milter/text/extracted_text.h"

namespace mailwarden {

class ClassifiedDocumentCheck : public Check {
 public:
  struct Options {
    text::TextLimits limits;          // per part; max_text_bytes is capped by what is left
    uint64_t max_text = 16ull << 20;  // per message
    Action on_incomplete = Action::kAccept;
    bool report_legacy_encoding = true;
  };

  static Result<std::unique_ptr<Check>> Create(const RuleSpec& rule);
  ClassifiedDocumentCheck(const RuleSpec& rule, Options options) : Check(rule), options_(options) {}
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;

 private:
  Options options_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_CLASSIFIED_DOCUMENT_H_

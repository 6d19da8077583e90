// MacroDocumentCheck: reports office documents that carry macros (REGULATIONS.md M2: macros
// are code that runs when the document is opened).
//
// OOXML (docm, xlsm, pptm, or a docx renamed but holding vbaProject.bin) and ODF documents
// with Basic macros are recognised by the archive walk, attached directly or inside
// archives and TNEF. The default rule tags and logs (macro documents are still common in
// administrations); a site can make it reject. Legacy OLE2 documents (.doc, .xls) are not
// opened here.
#ifndef MAILWARDEN_MILTER_CHECKS_MACRO_DOCUMENT_H_
#define MAILWARDEN_MILTER_CHECKS_MACRO_DOCUMENT_H_

#include "milter/checks/check.h"

namespace mailwarden {

class MacroDocumentCheck : public Check {
 public:
  explicit MacroDocumentCheck(const RuleSpec& rule) : Check(rule) {}
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_MACRO_DOCUMENT_H_

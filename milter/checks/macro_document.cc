#include "milter/checks/macro_document.h"

#include "milter/checks/file_name.h"

namespace mailwarden {

Status MacroDocumentCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  nlohmann::json documents = nlohmann::json::array();
  const mime::MimePart* first = nullptr;
  for (const ContentPart& cp : message.content().parts) {
    if (!cp.archive || !cp.archive->macro_enabled) continue;
    if (first == nullptr) first = &cp.part;
    nlohmann::json where = nlohmann::json::array();
    if (cp.archive->document) where.push_back(cp.part.path);
    for (const ArchiveMember& m : cp.archive->members) {
      if (m.macro_enabled) where.push_back(cp.part.path + ":" + m.path);
    }
    documents.push_back(
        {{"part", cp.part.path}, {"name", cp.part.file_name}, {"documents", std::move(where)}});
  }
  if (first == nullptr) return Status::Ok();
  out->push_back(MakeFinding("macro_document", 550, "5.7.1",
                             "documents with macros are not accepted: \"" +
                                 ReplySafeName(NormaliseFileName(first->file_name)) +
                                 "\" at part " + first->path,
                             {{"documents", std::move(documents)}}));
  return Status::Ok();
}

}  // namespace mailwarden

#include "milter/checks/encrypted_archive.h"

#include "milter/checks/file_name.h"

namespace mailwarden {

Status EncryptedArchiveCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  nlohmann::json archives = nlohmann::json::array();
  const mime::MimePart* first = nullptr;
  for (const ContentPart& cp : message.content().parts) {
    if (!cp.archive || (!cp.archive->encrypted_entries && !cp.archive->encrypted_header)) {
      continue;
    }
    if (first == nullptr) first = &cp.part;
    nlohmann::json encrypted_members = nlohmann::json::array();
    for (const ArchiveMember& m : cp.archive->members) {
      if (m.encrypted && encrypted_members.size() < 20) encrypted_members.push_back(m.path);
    }
    archives.push_back({{"part", cp.part.path},
                        {"name", cp.part.file_name},
                        {"format", cp.archive->format},
                        {"encrypted_header", cp.archive->encrypted_header},
                        {"encrypted_members", std::move(encrypted_members)}});
  }
  if (first == nullptr) return Status::Ok();
  std::string shown =
      first->file_name.empty() ? "" : " \"" + ReplySafeName(NormaliseFileName(first->file_name)) + "\"";
  out->push_back(MakeFinding(
      "encrypted_archive", 550, "5.7.1",
      "password-protected archives are not accepted because their content cannot be checked "
      "for viruses and forbidden files: archive" +
          shown + " at part " + first->path,
      {{"archives", std::move(archives)}}));
  return Status::Ok();
}

}  // namespace mailwarden

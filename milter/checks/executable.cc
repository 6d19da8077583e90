#include "milter/checks/executable.h"

#include "milter/checks/file_name.h"

namespace mailwarden {
namespace {

constexpr size_t kOffendersLogged = 20;

constexpr TrueType kNamedTypes[] = {TrueType::kPe,   TrueType::kElf,     TrueType::kMachO,
                                    TrueType::kOle2, TrueType::kLnk,     TrueType::kIso9660,
                                    TrueType::kScript};

}  // namespace

Result<std::unique_ptr<Check>> ExecutableCheck::Create(const RuleSpec& rule) {
  std::unique_ptr<ExecutableCheck> check(new ExecutableCheck(rule));
  for (const std::string& e : rule.param("extensions").list) {
    std::string ext = NormaliseFileName(e);
    if (!ext.empty() && ext.front() == '.') ext.erase(0, 1);
    if (!ext.empty()) check->extensions_.insert(ext);
  }
  for (const std::string& name : rule.param("true_types").list) {
    bool known = false;
    for (TrueType t : kNamedTypes) {
      if (TrueTypeName(t) == name) {
        check->true_types_.insert(t);
        known = true;
      }
    }
    if (!known) {
      return Status::InvalidArgument(rule.where.ToString() + ": true_types: unknown type '" + name +
                                     "' (known: pe, elf, macho, ole2, lnk, iso9660, script)");
    }
  }
  return std::unique_ptr<Check>(std::move(check));
}

std::string ExecutableCheck::Offence(std::string_view name, TrueType type) const {
  std::string ext = FinalExtension(NormaliseFileName(name));
  if (!ext.empty() && extensions_.contains(ext)) return "extension ." + ext;
  if (true_types_.contains(type)) return "content is " + std::string(TrueTypeName(type));
  return "";
}

Status ExecutableCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  nlohmann::json offenders = nlohmann::json::array();
  std::string first_name, first_where, first_why;
  size_t count = 0;
  auto note = [&](std::string_view name, std::string where, std::string why, TrueType type) {
    if (count++ == 0) {
      first_name = NormaliseFileName(name);
      first_where = where;
      first_why = why;
    }
    if (offenders.size() < kOffendersLogged) {
      offenders.push_back({{"name", std::string(name)},
                           {"part", std::move(where)},
                           {"why", std::move(why)},
                           {"true_type", TrueTypeName(type)}});
    }
  };
  for (const ContentPart& cp : message.content().parts) {
    const mime::MimePart& p = cp.part;
    if (std::string why = Offence(p.file_name, p.true_type); !why.empty()) {
      note(p.file_name, p.path, why, p.true_type);
    } else if (std::string other = Offence(p.other_name, TrueType::kUnknown); !other.empty()) {
      // Some clients save a part under its Content-Type name: both names must be clean.
      note(p.other_name, p.path, other, p.true_type);
    }
    if (!cp.archive) continue;
    for (const ArchiveMember& m : cp.archive->members) {
      if (m.is_dir) continue;
      if (std::string why = Offence(m.name, m.true_type); !why.empty()) {
        note(m.name, p.path + ":" + m.path, why, m.true_type);
      }
    }
  }
  if (count == 0) return Status::Ok();
  std::string shown = first_name.empty() ? "(no name)" : "\"" + ReplySafeName(first_name) + "\"";
  out->push_back(MakeFinding("executable", 550, "5.7.1",
                             "executable files are not accepted: " + shown + " at part " +
                                 ReplySafeName(first_where, 120) + " (" + first_why + ")",
                             {{"count", count}, {"files", std::move(offenders)}}));
  return Status::Ok();
}

}  // namespace mailwarden

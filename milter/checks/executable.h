// ExecutableCheck (REGULATIONS.md M2): no executable file travels by mail, wherever it
// hides.
//
// Looked at: every leaf part (attachments, inline parts, parts of attached messages,
// uuencoded files) under its Content-Disposition filename and, when it differs, its
// Content-Type name (clients disagree on which one they save under); every file taken out
// of a TNEF part; and every member of every archive at any depth the archive walk reached,
// encrypted archives included when their listing is readable. Each is judged two ways:
//   - by name: the name is normalised (file_name.h: case, trailing dots and spaces, bidi
//     controls and invisible characters, path components) and its final extension looked
//     up in `extensions` ("report.pdf.exe" is an exe; "setup.exe.txt" is text);
//   - by content: a true type in `true_types` (true_type.h judges real headers: a PE needs
//     its "PE\0\0" signature where the DOS header points, so a CSV starting with "MZ" is
//     not an executable) is forbidden whatever the name and declared type say.
// Reply 550 5.7.1 naming the first offending file and its part path ("1/2", or
// "1/2:inner.zip/setup.exe" inside an archive); the log lists up to 20 of them.
#ifndef MAILWARDEN_MILTER_CHECKS_EXECUTABLE_H_
#define MAILWARDEN_MILTER_CHECKS_EXECUTABLE_H_

#include <set>
#include <string>

#include "milter/checks/check.h"
#include "milter/mime/true_type.h"

namespace mailwarden {

class ExecutableCheck : public Check {
 public:
  // kInvalidArgument (with the rule's position) for an unknown true type name.
  static Result<std::unique_ptr<Check>> Create(const RuleSpec& rule);
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;

 private:
  explicit ExecutableCheck(const RuleSpec& rule) : Check(rule) {}
  // Why `name` / `type` is forbidden ("extension .exe", "content is pe"), or "".
  std::string Offence(std::string_view name, TrueType type) const;

  std::set<std::string, std::less<>> extensions_;
  std::set<TrueType> true_types_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_EXECUTABLE_H_

// File names as the executable rule sees them: normalised so that the tricks used to hide
// an executable's type from a person or a filter do not hide it from mailwarden.
//
// NormaliseFileName() takes a decoded UTF-8 name (RFC 2047/2231 already undone) and:
// removes Unicode bidirectional controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F,
// U+061C: "RTLO" makes "gpj.exe" display as "exe.jpg") and invisible characters
// (U+200B..U+200D, U+2060, U+FEFF, U+00AD, C0/C1 controls); keeps only the last path
// component ("C:\\x\\a.exe", "../a.exe"); drops trailing dots and spaces (Windows ignores
// them: "a.exe. ." runs as a.exe); and lower-cases ASCII. Invalid UTF-8 bytes are kept.
// FinalExtension() is what is after the last dot of the normalised name: the extension
// that decides ("report.pdf.exe" -> "exe", "setup.exe.txt" -> "txt"). Pure, thread-safe.
#ifndef MAILWARDEN_MILTER_CHECKS_FILE_NAME_H_
#define MAILWARDEN_MILTER_CHECKS_FILE_NAME_H_

#include <string>
#include <string_view>

namespace mailwarden {

std::string NormaliseFileName(std::string_view utf8_name);
// "" when the normalised name has no dot, or ends in one.
std::string FinalExtension(std::string_view normalised_name);
// `name` as it may appear in an SMTP reply: printable ASCII only (other bytes become '?'),
// at most `max` bytes ("..." marks a cut). The decision log keeps the exact UTF-8 name.
std::string ReplySafeName(std::string_view name, size_t max = 80);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_FILE_NAME_H_

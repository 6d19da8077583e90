// What a part really is, judged by its first bytes rather than its name or declared type.
//
// Fast, exact checks for the formats the executable rule cares about: a Windows PE (an
// "MZ" header whose e_lfanew points at a "PE\0\0" signature inside the sniffed bytes), ELF,
// Mach-O (thin and fat, without confusing Java class files), OLE2 compound files (MSI,
// legacy Office), Windows shortcuts (LNK header and CLSID), ISO 9660 images and scripts
// with a shebang. Two letters "MZ" at the start of a CSV are not an executable: the PE
// signature must be where the DOS header says. Pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_MIME_TRUE_TYPE_H_
#define MAILWARDEN_MILTER_MIME_TRUE_TYPE_H_

#include <cstddef>
#include <string_view>

namespace mailwarden {

enum class TrueType {
  kUnknown,
  kPe,       // Windows executable or DLL
  kElf,      // Linux/Unix executable or library
  kMachO,    // macOS executable (thin or fat)
  kOle2,     // compound file: MSI, MSP, legacy .doc/.xls (the caller tells them apart)
  kLnk,      // Windows shortcut
  kIso9660,  // CD/DVD image
  kScript,   // text starting with "#!"
};

// How many leading bytes SniffTrueType() looks at; pass at least this many when available.
// ISO 9660 keeps its signature at offset 32769, past the PE header window.
inline constexpr size_t kTrueTypeSniffBytes = 32774;

// The type `head` (the first bytes of a decoded part) proves, or kUnknown.
TrueType SniffTrueType(std::string_view head);

// "pe", "elf", "macho", "ole2", "lnk", "iso9660", "script", "unknown": the names rule
// files use (executable rule, content_types).
std::string_view TrueTypeName(TrueType type);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_TRUE_TYPE_H_

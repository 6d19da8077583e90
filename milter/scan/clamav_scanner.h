// The in-process scanner: libclamav, one compiled signature set per load, shared by every
// scanning thread. Parts are scanned from memory (cl_fmap_open_memory), with libclamav's
// own unpackers for archives, documents and executables, and its limit heuristics on, so a
// limit hit is reported rather than passed (Heuristics.Limits.Exceeded.*; a whole part
// beyond antivirus.max_file_size is reported here, since libclamav would skip it as clean).
//
// Reloads (Reload(), SIGHUP, or the self-check thread seeing a changed directory every
// antivirus.self_check) compile a new set while scans go on with the old one, then swap;
// the old set is freed when its last scan ends. A set that fails to load leaves the old one
// in force; with none at all, Scan() answers kUnavailable and the log says NO VIRUS
// SCANNING.
#ifndef MAILWARDEN_MILTER_SCAN_CLAMAV_SCANNER_H_
#define MAILWARDEN_MILTER_SCAN_CLAMAV_SCANNER_H_

#include <memory>

#include "milter/scan/virus_scanner.h"

namespace mailwarden {

// Loads the signatures of options.database before returning (a failure is logged).
std::shared_ptr<VirusScanner> MakeClamavScanner(const AntivirusOptions& options);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_SCAN_CLAMAV_SCANNER_H_

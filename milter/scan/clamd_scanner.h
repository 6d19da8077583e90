// The clamd scanner: for sites that already run clamd (one signature set in memory for
// many processes), parts are streamed to it with the INSTREAM command on a unix or TCP
// socket (antivirus.clamd_socket).
//
// Connections stay open between scans inside clamd sessions (IDSESSION), up to
// antivirus.clamd_connections idle ones; a session clamd has closed meanwhile (its
// IdleTimeout) is replaced once, transparently. Every connect, write and read waits at
// most antivirus.clamd_timeout. clamd's answers: "OK" is clean, "NAME FOUND" a virus (a
// Heuristics.Limits.Exceeded.* name is a scan limit, as in process), "INSTREAM size limit
// exceeded" the scan limit clamd.StreamMaxLength; anything else, or no answer, is a scanner
// error (antivirus.on_scanner_error). clamd reloads its own signatures (its SelfCheck, or
// clamdscan --reload); Reload() here does nothing.
#ifndef MAILWARDEN_MILTER_SCAN_CLAMD_SCANNER_H_
#define MAILWARDEN_MILTER_SCAN_CLAMD_SCANNER_H_

#include <memory>

#include "milter/scan/virus_scanner.h"

namespace mailwarden {

std::shared_ptr<VirusScanner> MakeClamdScanner(const AntivirusOptions& options);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_SCAN_CLAMD_SCANNER_H_

// Virus scanners behind the antivirus check: what a scan answers, the options from the
// configuration's antivirus.* section, and the process-wide registry that keeps one
// scanner (one compiled signature set) per process across configuration reloads.
//
// A scanner outlives the Engine that uses it: the antivirus check holds a shared_ptr, the
// registry hands the same scanner to every Engine built with the same options, and a
// reload of the signatures happens inside the scanner (the old signature set keeps
// scanning until the new one is ready, then is freed when its last scan ends). Every
// scanner is thread-safe.
#ifndef MAILWARDEN_MILTER_SCAN_VIRUS_SCANNER_H_
#define MAILWARDEN_MILTER_SCAN_VIRUS_SCANNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace mailwarden {

// The answer for one piece of content.
struct ScanOutcome {
  enum class Kind {
    kClean,
    kInfected,  // `name` is the signature ("Eicar-Signature", "Win.Trojan.X.UNOFFICIAL")
    kLimit,     // not fully scanned: `name` is the limit ("antivirus.max_file_size", ...)
  };
  Kind kind = Kind::kClean;
  std::string name;
};

// antivirus.* from the configuration.
struct AntivirusOptions {
  std::string mode;      // "libclamav" (in process) or "clamd"
  std::string database;  // signature directory (libclamav)
  uint64_t max_file_size = 0;
  uint64_t max_scan_size = 0;
  uint32_t max_recursion = 0;
  uint32_t max_files = 0;
  uint32_t max_scan_time_ms = 0;
  bool heuristic_encrypted = false;
  bool heuristic_broken = false;
  bool pua = false;
  int64_t self_check_seconds = 0;  // 0: no periodic look for a changed database
  std::string clamd_socket;        // clamd mode: "unix:/path" or "inet:HOST:PORT"
  int64_t clamd_timeout_seconds = 0;
  int clamd_connections = 0;       // idle connections kept

  static AntivirusOptions FromConfig(const Config& config);
  bool operator==(const AntivirusOptions&) const = default;
};

class VirusScanner {
 public:
  virtual ~VirusScanner() = default;
  // Scans `data` (a decoded part, whole). A non-OK status means no answer at all (no
  // signatures loaded, scanner failure): the caller applies antivirus.on_scanner_error.
  virtual Result<ScanOutcome> Scan(std::string_view data) const = 0;
  // Loads the signatures again in the background of the caller's thread (blocking it, not
  // the scans); a set that fails to load leaves the current one in force. Logs the result.
  virtual void Reload() = 0;
};

// A scan limit named `limit` ("antivirus.max_file_size").
ScanOutcome ScanLimit(std::string limit);
// What a scanner's detection name means: a virus, or (Heuristics.Limits.Exceeded.*) a scan
// limit, named by its configuration key.
ScanOutcome OutcomeForSignature(std::string signature);

// The scanner for `options`: the one already made for equal options, else a new one
// (which loads its signatures before returning; a failure to load is logged, and the
// scanner answers every scan with kUnavailable until a reload succeeds).
std::shared_ptr<VirusScanner> AcquireVirusScanner(const AntivirusOptions& options);

// Reloads the signatures of every scanner in use (SIGHUP).
void ReloadVirusScanners();

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_SCAN_VIRUS_SCANNER_H_

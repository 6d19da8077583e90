// Options, outcome naming and the process-wide scanner registry (see virus_scanner.h).
#include "milter/scan/virus_scanner.h"

#include <mutex>

#include "milter/scan/clamav_scanner.h"
#include "milter/scan/clamd_scanner.h"

namespace mailwarden {
namespace {

std::mutex g_registry_mu;
std::weak_ptr<VirusScanner> g_scanner;
AntivirusOptions g_scanner_options;

}  // namespace

AntivirusOptions AntivirusOptions::FromConfig(const Config& c) {
  AntivirusOptions o;
  o.mode = c.value("antivirus.mode").text;
  o.database = c.value("antivirus.database").text;
  o.max_file_size = static_cast<uint64_t>(c.value("antivirus.max_file_size").number);
  o.max_scan_size = static_cast<uint64_t>(c.value("antivirus.max_scan_size").number);
  o.max_recursion = static_cast<uint32_t>(c.value("antivirus.max_recursion").number);
  o.max_files = static_cast<uint32_t>(c.value("antivirus.max_files").number);
  o.max_scan_time_ms = static_cast<uint32_t>(c.value("antivirus.max_scan_time").number * 1000);
  o.heuristic_encrypted = c.value("antivirus.heuristic_encrypted").flag;
  o.heuristic_broken = c.value("antivirus.heuristic_broken_executables").flag;
  o.pua = c.value("antivirus.pua").flag;
  o.self_check_seconds = c.value("antivirus.self_check").number;
  o.clamd_socket = c.value("antivirus.clamd_socket").text;
  o.clamd_timeout_seconds = c.value("antivirus.clamd_timeout").number;
  o.clamd_connections = static_cast<int>(c.value("antivirus.clamd_connections").number);
  return o;
}

ScanOutcome ScanLimit(std::string limit) {
  return {ScanOutcome::Kind::kLimit, std::move(limit)};
}

ScanOutcome OutcomeForSignature(std::string signature) {
  constexpr std::string_view kPrefix = "Heuristics.Limits.Exceeded.";
  if (!signature.starts_with(kPrefix)) return {ScanOutcome::Kind::kInfected, std::move(signature)};
  std::string_view what = std::string_view(signature).substr(kPrefix.size());
  if (what.starts_with("MaxFileSize")) return ScanLimit("antivirus.max_file_size");
  if (what.starts_with("MaxScanSize")) return ScanLimit("antivirus.max_scan_size");
  if (what.starts_with("MaxRecursion")) return ScanLimit("antivirus.max_recursion");
  if (what.starts_with("MaxFiles")) return ScanLimit("antivirus.max_files");
  if (what.starts_with("MaxScanTime")) return ScanLimit("antivirus.max_scan_time");
  return ScanLimit("scanner " + signature);
}

std::shared_ptr<VirusScanner> AcquireVirusScanner(const AntivirusOptions& options) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  if (auto current = g_scanner.lock(); current && g_scanner_options == options) return current;
  std::shared_ptr<VirusScanner> scanner =
      options.mode == "clamd" ? MakeClamdScanner(options) : MakeClamavScanner(options);
  g_scanner = scanner;
  g_scanner_options = options;
  return scanner;
}

void ReloadVirusScanners() {
  std::shared_ptr<VirusScanner> current;
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    current = g_scanner.lock();
  }
  if (current) current->Reload();
}

}  // namespace mailwarden

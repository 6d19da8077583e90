// The in-process libclamav scanner (see clamav_scanner.h).
//
// One compiled cl_engine per signature load, shared by every scanning thread (libclamav
// allows concurrent scans on a compiled engine). A reload compiles a new engine in the
// caller's thread while scans go on with the old one, then swaps it in; a scan in progress
// holds its engine through a shared_ptr, so the old engine is freed when its last scan
// ends. The self-check thread looks for a changed database directory every
// antivirus.self_check (cl_statchkdir, as clamd's SelfCheck) and reloads then, or keeps
// trying while no signatures are loaded.
#include <clamav.h>

#include <chrono>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/snapshot.h"
#include "milter/scan/clamav_scanner.h"

namespace mailwarden {
namespace {

// libclamav's own messages: errors and warnings go to our log, chatter does not.
void ClamavMessage(enum cl_msg severity, const char* fullmsg, const char* msg, void*) {
  (void)fullmsg;
  std::string text = std::string("libclamav: ") + (msg != nullptr ? msg : "");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (severity == CL_MSG_ERROR) {
    LogError(text);
  } else if (severity == CL_MSG_WARN) {
    LogWarn(text);
  }
}

Status InitClamav() {
  static std::once_flag once;
  static cl_error_t rc = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(ClamavMessage);
    rc = cl_init(CL_INIT_DEFAULT);
  });
  if (rc != CL_SUCCESS) return Status::Internal(std::string("cl_init: ") + cl_strerror(rc));
  return Status::Ok();
}

// One compiled signature set.
class ClamavEngine {
 public:
  ClamavEngine(cl_engine* engine, unsigned signatures)
      : engine_(engine), signatures_(signatures) {}
  ~ClamavEngine() { cl_engine_free(engine_); }
  ClamavEngine(const ClamavEngine&) = delete;
  ClamavEngine& operator=(const ClamavEngine&) = delete;

  cl_engine* get() const { return engine_; }
  unsigned signatures() const { return signatures_; }

 private:
  cl_engine* engine_;
  unsigned signatures_;
};

Result<std::shared_ptr<const ClamavEngine>> LoadEngine(const AntivirusOptions& o) {
  if (Status s = InitClamav(); !s.ok()) return s;
  std::unique_ptr<cl_engine, decltype(&cl_engine_free)> raw(cl_engine_new(), &cl_engine_free);
  if (raw == nullptr) return Status::Internal("cl_engine_new failed");
  auto set = [&](cl_engine_field field, long long value) -> Status {
    cl_error_t rc = cl_engine_set_num(raw.get(), field, value);
    if (rc != CL_SUCCESS) {
      return Status::Internal(std::string("cl_engine_set_num: ") + cl_strerror(rc));
    }
    return Status::Ok();
  };
  for (Status s : {set(CL_ENGINE_MAX_FILESIZE, static_cast<long long>(o.max_file_size)),
                   set(CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(o.max_scan_size)),
                   set(CL_ENGINE_MAX_RECURSION, o.max_recursion),
                   set(CL_ENGINE_MAX_FILES, o.max_files),
                   set(CL_ENGINE_MAX_SCANTIME, o.max_scan_time_ms)}) {
    if (!s.ok()) return s;
  }
  unsigned signatures = 0;
  unsigned flags = CL_DB_STDOPT | (o.pua ? CL_DB_PUA : 0);
  cl_error_t rc = cl_load(o.database.c_str(), raw.get(), &signatures, flags);
  if (rc != CL_SUCCESS) {
    return Status::Unavailable("cannot load virus signatures from " + o.database + ": " +
                               cl_strerror(rc));
  }
  if (signatures == 0) return Status::Unavailable("no virus signatures in " + o.database);
  rc = cl_engine_compile(raw.get());
  if (rc != CL_SUCCESS) {
    return Status::Unavailable("cannot compile the virus signatures from " + o.database + ": " +
                               cl_strerror(rc));
  }
  return std::shared_ptr<const ClamavEngine>(
      std::make_shared<ClamavEngine>(raw.release(), signatures));
}

class ClamavScanner : public VirusScanner {
 public:
  explicit ClamavScanner(AntivirusOptions options) : options_(std::move(options)) {
    LoadNow(/*reason=*/"start");
    if (options_.self_check_seconds > 0) checker_ = std::thread([this] { SelfCheckLoop(); });
  }

  ~ClamavScanner() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (checker_.joinable()) checker_.join();
    std::lock_guard<std::mutex> lock(mu_);
    if (stat_ready_) cl_statfree(&stat_);
  }

  Result<ScanOutcome> Scan(std::string_view data) const override {
    std::shared_ptr<const ClamavEngine> engine = engine_.Get();
    if (!engine) {
      return Status::Unavailable("no virus signatures loaded from " + options_.database);
    }
    // libclamav skips a whole file beyond its size limit as clean when it is scanned from
    // memory; here that is a scan limit, never a pass (files inside archives beyond the
    // limit are reported by libclamav itself, Heuristics.Limits.Exceeded.*).
    if (options_.max_file_size > 0 && data.size() > options_.max_file_size) {
      return ScanLimit("antivirus.max_file_size");
    }
    cl_fmap_t* map = cl_fmap_open_memory(data.data(), data.size());
    if (map == nullptr) return Status::Internal("cl_fmap_open_memory failed");
    cl_scan_options scan{};
    scan.general = CL_SCAN_GENERAL_HEURISTICS;
    scan.parse = ~0u;  // every format libclamav can open: archives, documents, mail, PE, ...
    scan.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
                     (options_.heuristic_encrypted
                          ? CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC
                          : 0u) |
                     (options_.heuristic_broken ? CL_SCAN_HEURISTIC_BROKEN : 0u);
    const char* virname = nullptr;
    unsigned long scanned = 0;
    cl_error_t rc = cl_scanmap_callback(map, nullptr, &virname, &scanned, engine->get(), &scan,
                                        nullptr);
    cl_fmap_close(map);
    switch (rc) {
      case CL_CLEAN:
        return ScanOutcome();
      case CL_VIRUS:
        return OutcomeForSignature(virname != nullptr ? virname : "unnamed");
      case CL_ETIMEOUT:
        return ScanLimit("antivirus.max_scan_time");
      case CL_EMAXREC:
        return ScanLimit("antivirus.max_recursion");
      case CL_EMAXSIZE:
        return ScanLimit("antivirus.max_scan_size");
      case CL_EMAXFILES:
        return ScanLimit("antivirus.max_files");
      default:
        return Status::Internal(std::string("libclamav scan failed: ") + cl_strerror(rc));
    }
  }

  void Reload() override { LoadNow("reload"); }

 private:
  // Builds a new engine and swaps it in; on failure the current one stays.
  void LoadNow(const char* reason) {
    std::lock_guard<std::mutex> load_lock(load_mu_);  // one load at a time
    // Remember the directory's state before loading, so a change during the load is seen
    // at the next self-check.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stat_ready_) cl_statfree(&stat_);
      stat_ = {};
      stat_ready_ = cl_statinidir(options_.database.c_str(), &stat_) == CL_SUCCESS;
    }
    auto started = std::chrono::steady_clock::now();
    auto engine = LoadEngine(options_);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    if (!engine.ok()) {
      if (engine_.Get()) {
        LogError("virus signatures " + std::string(reason) + " failed, the signatures loaded "
                 "before stay in force: " + engine.status().message());
      } else {
        LogError("NO VIRUS SCANNING: " + engine.status().message() +
                 "; every message an antivirus rule applies to gets antivirus.on_scanner_error "
                 "until signatures load");
      }
      return;
    }
    unsigned signatures = (*engine)->signatures();
    engine_.Replace(std::move(engine).value());
    LogInfo("virus signatures loaded (" + std::string(reason) + "): " +
            std::to_string(signatures) + " from " + options_.database + " in " +
            std::to_string(ms) + " ms");
  }

  void SelfCheckLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, std::chrono::seconds(options_.self_check_seconds),
                   [&] { return stopping_; });
      if (stopping_) return;
      bool changed = !stat_ready_ || cl_statchkdir(&stat_) == 1;
      bool missing = !engine_.Get();
      if (!changed && !missing) continue;
      lock.unlock();
      LoadNow(changed ? "database changed" : "retry");
      lock.lock();
    }
  }

  const AntivirusOptions options_;
  SnapshotHolder<const ClamavEngine> engine_;
  std::mutex load_mu_;
  std::mutex mu_;  // stat_, stopping_
  std::condition_variable cv_;
  cl_stat stat_{};
  bool stat_ready_ = false;
  bool stopping_ = false;
  std::thread checker_;
};

}  // namespace

std::shared_ptr<VirusScanner> MakeClamavScanner(const AntivirusOptions& options) {
  return std::make_shared<ClamavScanner>(options);
}

}  // namespace mailwarden

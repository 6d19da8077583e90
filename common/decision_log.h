// The decision log: one JSON object per line per decision, for SOC staff and reports.
//
// Field names follow the Elastic Common Schema (nested objects: {"event":{"action":...}}),
// with mailwarden's own fields under "mailwarden". Callers put metadata only in a record:
// never body text or attachment content. Lines go to a file (opened O_APPEND, reopened on
// SIGUSR1 for logrotate), to stdout (journald) or to syslog (facility mail).
// Write() and Reopen() are thread-safe; each line is written with one write(2).
#ifndef MAILWARDEN_COMMON_DECISION_LOG_H_
#define MAILWARDEN_COMMON_DECISION_LOG_H_

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/action.h"
#include "common/config.h"
#include "common/snapshot.h"
#include "common/status.h"

namespace mailwarden {

// Keeps stdout for decision lines (and --test output) only. Libraries the daemons link
// print stray diagnostics on stdout with printf (libytnef does, on malformed TNEF input):
// on a stdout carrying JSON lines that would corrupt the log. ProtectStdout() moves the
// real stdout to a private descriptor used by the stdout log output and
// WriteToProtectedStdout(), and points fd 1 at stderr, so stray text lands among the
// daemon's diagnostics. Call it once at start-up, before threads; later calls return the
// same descriptor.
int ProtectStdout();
// Writes `data` where stdout was before ProtectStdout() (fd 1 if it was never called).
bool WriteToProtectedStdout(std::string_view data);

class DecisionLog {
 public:
  // Opens the output described by `options`; kIoError when the file cannot be opened.
  static Result<std::unique_ptr<DecisionLog>> Open(const LogOptions& options);
  ~DecisionLog();
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  // Appends `record` as one line. A failed write is reported once per failure streak on
  // stderr; the decision itself stands (the MTA's reply does not depend on the log).
  void Write(const nlohmann::json& record);
  // Reopens the file (after logrotate moved it). No-op for stdout and syslog.
  Status Reopen();
  // True when this log writes where `options` says, so a reload can keep it.
  bool SameOutput(const LogOptions& options) const;

 private:
  explicit DecisionLog(const LogOptions& options) : options_(options) {}
  LogOptions options_;
  std::mutex mu_;
  int fd_ = -1;
  bool failing_ = false;
};

// Keeps the log in `holder` if it already writes where `options` say, else opens the new
// output and installs it. On failure the log in force stays and the Status says why.
Status ReplaceLogIfChanged(const LogOptions& options, SnapshotHolder<DecisionLog>* holder);

// One element of a record's "mailwarden.findings" array.
nlohmann::json FindingRecord(std::string_view rule_id, std::string_view check, Action action,
                             std::string_view reason, const nlohmann::json& evidence);

// A record with "@timestamp" (UTC, milliseconds) and the event fields every decision
// shares: event.kind, event.module, event.dataset = "mailwarden." + `dataset`.
nlohmann::json NewDecisionRecord(std::string_view dataset);

// "2026-11-30T07:00:00.123Z" for now.
std::string UtcTimestamp();

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_DECISION_LOG_H_

#include "common/decision_log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/log.h"

namespace mailwarden {
namespace {

bool WriteAll(int fd, const std::string& data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

// Where stdout output goes: fd 1 until ProtectStdout() moved it.
std::atomic<int> g_stdout_fd{STDOUT_FILENO};

}  // namespace

int ProtectStdout() {
  static const int fd = [] {
    std::fflush(stdout);
    int saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (saved < 0) return STDOUT_FILENO;  // nothing to protect with: keep writing to fd 1
    if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      close(saved);
      return STDOUT_FILENO;
    }
    return saved;
  }();
  g_stdout_fd.store(fd);
  return fd;
}

bool WriteToProtectedStdout(std::string_view data) {
  return WriteAll(g_stdout_fd.load(), std::string(data));
}

Result<std::unique_ptr<DecisionLog>> DecisionLog::Open(const LogOptions& options) {
  std::unique_ptr<DecisionLog> log(new DecisionLog(options));
  if (options.output == LogOutput::kFile) {
    log->fd_ = open(options.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log->fd_ < 0) {
      return Status::IoError("cannot open decision log " + options.path + ": " +
                             std::strerror(errno));
    }
  } else if (options.output == LogOutput::kSyslog) {
    // openlog keeps the pointer: the string lives as long as this object's options_.
    openlog(log->options_.syslog_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  return log;
}

DecisionLog::~DecisionLog() {
  if (fd_ >= 0) close(fd_);
}

void DecisionLog::Write(const nlohmann::json& record) {
  // Replace invalid UTF-8 (from hostile headers) instead of throwing.
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(mu_);
  bool ok = true;
  switch (options_.output) {
    case LogOutput::kFile:
      line += '\n';
      ok = fd_ >= 0 && WriteAll(fd_, line);
      break;
    case LogOutput::kStdout:
      line += '\n';
      ok = WriteAll(g_stdout_fd.load(), line);
      break;
    case LogOutput::kSyslog:
      syslog(LOG_MAIL | LOG_INFO, "%s", line.c_str());
      break;
  }
  if (!ok && !failing_)
    LogError("cannot write the decision log: " + std::string(std::strerror(errno)));
  failing_ = !ok;
}

Status DecisionLog::Reopen() {
  if (options_.output != LogOutput::kFile) return Status::Ok();
  int fd = open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::IoError("cannot reopen decision log " + options_.path + ": " +
                           std::strerror(errno));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  failing_ = false;
  return Status::Ok();
}

bool DecisionLog::SameOutput(const LogOptions& options) const {
  return options.output == options_.output && options.path == options_.path &&
         options.syslog_ident == options_.syslog_ident;
}

Status ReplaceLogIfChanged(const LogOptions& options, SnapshotHolder<DecisionLog>* holder) {
  if (holder->Get()->SameOutput(options)) return Status::Ok();
  auto opened = DecisionLog::Open(options);
  if (!opened.ok()) return opened.status();
  holder->Replace(std::shared_ptr<DecisionLog>(std::move(opened).value()));
  return Status::Ok();
}

nlohmann::json FindingRecord(std::string_view rule_id, std::string_view check, Action action,
                             std::string_view reason, const nlohmann::json& evidence) {
  return {{"rule_id", rule_id},
          {"check", check},
          {"action", ActionName(action)},
          {"reason", reason},
          {"evidence", evidence.is_null() ? nlohmann::json::object() : evidence}};
}

std::string UtcTimestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

nlohmann::json NewDecisionRecord(std::string_view dataset) {
  nlohmann::json r;
  r["@timestamp"] = UtcTimestamp();
  r["event"] = {{"kind", "event"},
                {"module", "mailwarden"},
                {"dataset", "mailwarden." + std::string(dataset)}};
  return r;
}

}  // namespace mailwarden

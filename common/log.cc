#include "common/log.h"

#include <unistd.h>

#include <mutex>
#include <string>

namespace mailwarden {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::string& Program() {
  static std::string name = "mailwarden";
  return name;
}

void Emit(std::string_view level, std::string_view message) {
  std::string line = Program() + ": " + std::string(level) + std::string(message) + "\n";
  std::lock_guard<std::mutex> lock(Mu());
  // One write per line so that lines of concurrent threads never interleave.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

void SetProgramName(std::string_view name) {
  std::lock_guard<std::mutex> lock(Mu());
  Program() = std::string(name);
}
void LogInfo(std::string_view message) { Emit("", message); }
void LogWarn(std::string_view message) { Emit("warning: ", message); }
void LogError(std::string_view message) { Emit("error: ", message); }
void LogFatal(std::string_view message) { Emit("fatal: ", message); }

}  // namespace mailwarden

// Runs Postfix's own tools (postconf, postmap, postalias) and reads their output. The
// tools are trusted, their output is not assumed small: it is capped, and a tool that hangs
// (an LDAP server that does not answer) is killed after a timeout. No shell is involved:
// table names go to the tools as single arguments.
#include "audit/postfix_tables.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "audit/forward_list.h"
#include "common/ascii.h"

namespace mailwarden::audit {
namespace {

constexpr size_t kMaxStderrBytes = 64 << 10;

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin:/sbin:/bin";
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t colon = path.find(':', pos);
    std::string dir = path.substr(pos, colon == std::string::npos ? colon : colon - pos);
    pos = colon == std::string::npos ? path.size() + 1 : colon + 1;
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A tool's stderr as one message: trailing line breaks and spaces removed.
std::string Message(std::string err, int exit_status) {
  while (!err.empty() && std::isspace(static_cast<unsigned char>(err.back()))) err.pop_back();
  return err.empty() ? "exit status " + std::to_string(exit_status) : err;
}

}  // namespace

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, std::string_view input,
                                 int timeout_seconds, size_t max_output) {
  std::string program = FindProgram(argv.at(0));
  if (program.empty()) return Status::NotFound(argv[0] + ": command not found");
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::IoError(std::string("pipe: ") + strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Status::IoError(std::string("pipe: ") + strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(program.c_str(), args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return Status::IoError(std::string("fork: ") + strerror(errno));
  }
  // A tool that exits before reading all of its stdin must not kill the audit.
  signal(SIGPIPE, SIG_IGN);
  CommandResult result;
  Status failure;
  size_t written = 0;
  int in_fd = in[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  int out_fd = out[0], err_fd = err[0];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while ((out_fd >= 0 || err_fd >= 0) && failure.ok()) {
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = Status::Timeout(argv[0] + " did not finish within " +
                                std::to_string(timeout_seconds) + "s");
      break;
    }
    int r = poll(fds, n, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      failure = Status::IoError(std::string("poll: ") + strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buf[65536];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
        continue;
      }
      if (fds[i].fd == out_fd) {
        result.out.append(buf, static_cast<size_t>(got));
        if (result.out.size() > max_output)
          failure = Status::LimitExceeded(argv[0] + " printed more than " +
                                          std::to_string(max_output) + " bytes");
      } else if (result.err.size() < kMaxStderrBytes) {
        result.err.append(buf, static_cast<size_t>(got));
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd})
    if (fd >= 0) close(fd);
  if (!failure.ok()) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!failure.ok()) return failure;
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_status == 127 && result.out.empty() && result.err.empty())
    return Status::IoError(argv[0] + ": could not be executed");
  return result;
}

std::vector<std::string> SplitPostfixList(std::string_view value) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  for (char c : value) {
    if (c == '{') ++depth;
    if (c == '}' && depth > 0) --depth;
    if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseTableOutput(std::string_view out,
                                                                  bool aliases) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (std::string_view line : SplitLines(out)) {
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    std::string key(line.substr(0, tab));
    if (aliases) {
      if (!key.empty() && key.back() == ':') key.pop_back();
      if (key == "@" || key.starts_with("YP_")) continue;
    }
    entries.emplace_back(std::move(key), std::string(line.substr(tab + 1)));
  }
  return entries;
}

Result<PostfixSettings> ReadPostfixSettings(const std::string& config_dir) {
  auto r = RunCommand({"postconf", "-c", config_dir, "-xh", "alias_maps", "virtual_alias_maps",
                       "myorigin", "mydestination"},
                      "", PostfixTable::kTimeoutSeconds, 1 << 20);
  if (!r.ok()) return r.status();
  if (r->exit_status != 0)
    return Status::Unavailable("postconf -c " + config_dir + " failed: " +
                               Message(r->err, r->exit_status));
  std::vector<std::string_view> lines = SplitLines(r->out);
  if (lines.size() != 4)
    return Status::Unavailable("postconf -c " + config_dir + ": unexpected output: " + r->out +
                               r->err);
  PostfixSettings s;
  s.alias_maps = SplitPostfixList(lines[0]);
  s.virtual_alias_maps = SplitPostfixList(lines[1]);
  s.myorigin = AsciiLower(std::string(lines[2]));
  for (std::string& d : SplitPostfixList(lines[3]))
    if (d.find(':') == std::string::npos && d.find('/') == std::string::npos)
      s.mydestination.push_back(AsciiLower(std::move(d)));
  return s;
}

PostfixTable::PostfixTable(std::string config_dir, std::string name, bool aliases)
    : config_dir_(std::move(config_dir)), name_(std::move(name)), aliases_(aliases) {}

bool PostfixTable::MaybeListable() const {
  // Types that cannot be sequenced: network and SQL maps, pattern maps, the proxy and
  // the computed ones. Anything else is tried.
  static const char* const kUnlistable[] = {
      "ldap",     "mysql",   "pgsql",  "sqlite", "proxy",  "memcache", "socketmap", "tcp",
      "regexp",   "pcre",    "cidr",   "static", "pipemap", "unionmap", "randmap", "fail",
      "environ",  "nis",     "nisplus", "netinfo", "unix", "internal"};
  std::string type = AsciiLower(name_.substr(0, name_.find(':')));
  for (const char* t : kUnlistable)
    if (type == t) return false;
  return name_.find(':') != std::string::npos;
}

std::vector<std::string> PostfixTable::Command(const char* op) const {
  return {aliases_ ? "postalias" : "postmap", "-c", config_dir_, op};
}

Status PostfixTable::Load() {
  std::vector<std::string> argv = Command("-s");
  argv.push_back(name_);
  auto r = RunCommand(argv, "", kTimeoutSeconds, kMaxOutputBytes);
  if (!r.ok()) return r.status();
  if (r->exit_status != 0) return Status::Unavailable(Message(r->err, r->exit_status));
  for (auto& [k, v] : ParseTableOutput(r->out, aliases_)) entries_[k] = std::move(v);
  listed_ = true;
  return Status::Ok();
}

Status PostfixTable::Prefetch(const std::vector<std::string>& keys) {
  if (listed_) return Status::Ok();
  std::string input;
  std::vector<std::string> asked;
  for (const std::string& k : keys) {
    if (cache_.count(k) || k.empty() || k.find('\n') != std::string::npos) continue;
    if (cache_.size() + asked.size() >= kMaxQueries) break;
    input += k + "\n";
    asked.push_back(k);
  }
  if (asked.empty()) return Status::Ok();
  std::vector<std::string> argv = Command("-q");
  argv.push_back("-");
  argv.push_back(name_);
  auto r = RunCommand(argv, input, kTimeoutSeconds, kMaxOutputBytes);
  if (!r.ok()) return r.status();
  // Exit status 1 means "some key not found"; errors say so on stderr.
  if (r->exit_status > 1 || (r->exit_status != 0 && r->err.find("fatal") != std::string::npos))
    return Status::Unavailable(Message(r->err, r->exit_status));
  for (const std::string& k : asked) cache_.emplace(k, std::nullopt);
  for (auto& [k, v] : ParseTableOutput(r->out, aliases_)) cache_[k] = std::move(v);
  return Status::Ok();
}

Result<std::optional<std::string>> PostfixTable::Lookup(const std::string& key) {
  if (listed_) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxQueries)
    return Status::LimitExceeded(name_ + ": more than " + std::to_string(kMaxQueries) +
                                 " keys asked of it");
  if (Status s = Prefetch({key}); !s.ok()) return s;
  return cache_[key];
}

}  // namespace mailwarden::audit

// Distrusts the files it reads: an mbox may be gigabytes with lines of any length, a
// directory may hold symbolic link loops. Reading is in fixed chunks; at most one message
// (max_message_bytes) and one line head are held; a message over the limit is dropped as it
// grows and reported; directories are followed to max_depth. An unreadable file is reported
// and skipped.
#include "milter/spam/mail_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace mailwarden::spam {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 << 10;
// A line longer than this is not examined as a possible "From " separator past its start.
constexpr size_t kMaxLineHead = 1024;

class FileCloser {
 public:
  explicit FileCloser(int fd) : fd_(fd) {}
  ~FileCloser() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

// Splits an mbox, fed in chunks, into messages.
class MboxSplitter {
 public:
  MboxSplitter(std::string path, const MailSourceLimits& limits, const MailCallback& on_message,
               const ProblemCallback& on_problem)
      : path_(std::move(path)), limits_(limits), on_message_(on_message), on_problem_(on_problem) {}

  void Feed(std::string_view data) {
    while (!data.empty()) {
      size_t nl = data.find('\n');
      if (long_line_) {
        // The rest of a line already judged not to be a separator.
        std::string_view piece =
            data.substr(0, nl == std::string_view::npos ? data.size() : nl + 1);
        Append(piece);
        data.remove_prefix(piece.size());
        if (nl != std::string_view::npos) {
          long_line_ = false;
          prev_blank_ = false;
        }
        continue;
      }
      if (nl == std::string_view::npos) {
        line_.append(data);
        data = {};
        if (line_.size() > kMaxLineHead) {
          Line(line_, /*complete=*/false);
          line_.clear();
          long_line_ = true;
        }
        break;
      }
      line_.append(data.substr(0, nl + 1));
      data.remove_prefix(nl + 1);
      Line(line_, /*complete=*/true);
      line_.clear();
    }
  }

  void Finish() {
    if (!line_.empty()) Line(line_, /*complete=*/true);
    line_.clear();
    EndMessage(/*before_separator=*/false);
  }

 private:
  void Line(std::string_view line, bool complete) {
    const bool blank = line == "\n" || line == "\r\n";
    if (complete && line.starts_with("From ") && (first_line_ || prev_blank_)) {
      first_line_ = false;
      EndMessage(/*before_separator=*/true);
      started_ = true;
      ++index_;
      prev_blank_ = false;
      return;
    }
    first_line_ = false;
    // mboxrd: ">From ", ">>From ", ... lose one '>'.
    size_t quotes = 0;
    while (quotes < line.size() && line[quotes] == '>') ++quotes;
    if (quotes > 0 && line.substr(quotes).starts_with("From ")) line.remove_prefix(1);
    if (!started_) {
      // Text before the first separator (a file that starts with "From " always has one).
      started_ = true;
      ++index_;
    }
    Append(line);
    prev_blank_ = complete && blank;
    last_line_blank_bytes_ = complete && blank ? line.size() : 0;
  }

  void Append(std::string_view bytes) {
    size_ += bytes.size();
    if (too_large_) return;
    if (size_ > limits_.max_message_bytes) {
      too_large_ = true;
      message_.clear();
      message_.shrink_to_fit();
      return;
    }
    message_.append(bytes);
  }

  void EndMessage(bool before_separator) {
    if (!started_) return;
    const std::string origin = path_ + "#" + std::to_string(index_);
    if (too_large_) {
      on_problem_({MailProblem::Kind::kTooLarge, origin,
                   "over " + std::to_string(limits_.max_message_bytes) + " bytes"});
    } else {
      // The empty line before a separator belongs to the separator.
      if (before_separator && last_line_blank_bytes_ > 0 &&
          message_.size() >= last_line_blank_bytes_)
        message_.resize(message_.size() - last_line_blank_bytes_);
      if (message_.find_first_not_of("\r\n") == std::string::npos)
        on_problem_({MailProblem::Kind::kEmpty, origin, "empty message"});
      else
        on_message_(origin, message_);
    }
    message_.clear();
    size_ = 0;
    too_large_ = false;
    last_line_blank_bytes_ = 0;
  }

  std::string path_;
  const MailSourceLimits& limits_;
  const MailCallback& on_message_;
  const ProblemCallback& on_problem_;
  std::string line_;  // the current line, while it may still be a separator
  bool long_line_ = false;
  bool first_line_ = true;
  bool prev_blank_ = false;
  size_t last_line_blank_bytes_ = 0;
  bool started_ = false;
  size_t index_ = 0;
  std::string message_;
  size_t size_ = 0;
  bool too_large_ = false;
};

std::string Errno() { return std::strerror(errno); }

// One open file (or standard input, a pipe): an mbox, or one message. `path` names it in
// problems and origins.
void ReadOpenFile(int fd, const std::string& path, const MailSourceLimits& limits,
                  const MailCallback& on_message, const ProblemCallback& on_problem) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    on_problem({MailProblem::Kind::kUnreadable, path, Errno()});
    return;
  }
  std::string buf(kChunk, '\0');
  // The next chunk into buf: its size, 0 at the end, -1 after reporting a read error.
  auto read_chunk = [&]() -> ssize_t {
    for (;;) {
      ssize_t got = ::read(fd, buf.data(), buf.size());
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      on_problem({MailProblem::Kind::kUnreadable, path, Errno()});
      return -1;
    }
  };
  std::string head;
  // Enough to tell an mbox.
  ssize_t n;
  while (head.size() < 5) {
    n = read_chunk();
    if (n < 0) return;
    if (n == 0) break;
    head.append(buf.data(), static_cast<size_t>(n));
  }
  const bool mbox = head.starts_with("From ");
  // A pipe has no size: its message is measured while it is read.
  if (!mbox && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > limits.max_message_bytes) {
    on_problem({MailProblem::Kind::kTooLarge, path,
                "over " + std::to_string(limits.max_message_bytes) + " bytes"});
    return;
  }
  if (mbox) {
    MboxSplitter splitter(path, limits, on_message, on_problem);
    splitter.Feed(head);
    for (;;) {
      n = read_chunk();
      if (n < 0) return;
      if (n == 0) break;
      splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    splitter.Finish();
    return;
  }
  std::string text = std::move(head);
  for (;;) {
    n = read_chunk();
    if (n < 0) return;
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > limits.max_message_bytes) {
      // A pipe, or a file that grew since fstat.
      on_problem({MailProblem::Kind::kTooLarge, path,
                  "over " + std::to_string(limits.max_message_bytes) + " bytes"});
      return;
    }
    text.append(buf.data(), static_cast<size_t>(n));
  }
  if (text.find_first_not_of("\r\n \t") == std::string::npos) {
    on_problem({MailProblem::Kind::kEmpty, path, "empty file"});
    return;
  }
  on_message(path, text);
}

// One file: an mbox, or one message.
void ReadFile(const std::string& path, const MailSourceLimits& limits,
              const MailCallback& on_message, const ProblemCallback& on_problem) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    on_problem({MailProblem::Kind::kUnreadable, path, Errno()});
    return;
  }
  FileCloser closer(fd);
  ReadOpenFile(fd, path, limits, on_message, on_problem);
}

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

void ReadDir(const fs::path& dir, int depth, const MailSourceLimits& limits,
             const MailCallback& on_message, const ProblemCallback& on_problem) {
  if (depth > limits.max_depth) {
    on_problem({MailProblem::Kind::kUnreadable, dir.string(),
                "nested deeper than " + std::to_string(limits.max_depth) + " directories"});
    return;
  }
  if (IsDir(dir / "cur") && IsDir(dir / "new")) {
    // A maildir: delivered messages only.
    for (const char* sub : {"cur", "new"})
      ReadDir(dir / sub, depth + 1, limits, on_message, on_problem);
    return;
  }
  std::vector<fs::path> entries;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    on_problem({MailProblem::Kind::kUnreadable, dir.string(), ec.message()});
    return;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      on_problem({MailProblem::Kind::kUnreadable, dir.string(), ec.message()});
      break;
    }
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    entries.push_back(it->path());
  }
  std::sort(entries.begin(), entries.end());
  for (const fs::path& p : entries) {
    if (IsDir(p))
      ReadDir(p, depth + 1, limits, on_message, on_problem);
    else
      ReadFile(p.string(), limits, on_message, on_problem);
  }
}

}  // namespace

Status ReadMailSource(const std::string& path, const MailSourceLimits& limits,
                      const MailCallback& on_message, const ProblemCallback& on_problem) {
  if (path == "-") {
    ReadOpenFile(STDIN_FILENO, "stdin", limits, on_message, on_problem);
    return Status::Ok();
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file or directory");
    return Status::IoError(path + ": " + Errno());
  }
  if (S_ISDIR(st.st_mode)) {
    if (::access(path.c_str(), R_OK | X_OK) != 0) return Status::IoError(path + ": " + Errno());
    ReadDir(fs::path(path), 0, limits, on_message, on_problem);
    return Status::Ok();
  }
  if (::access(path.c_str(), R_OK) != 0) return Status::IoError(path + ": " + Errno());
  ReadFile(path, limits, on_message, on_problem);
  return Status::Ok();
}

}  // namespace mailwarden::spam

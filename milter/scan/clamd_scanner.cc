// The clamd INSTREAM client (see clamd_scanner.h).
//
// Distrusts clamd's socket as any peer: replies are read up to their NUL within a bound
// (kMaxReply), every wait is bounded by the timeout, and a connection that misbehaves is
// closed, never returned to the pool.
#include "milter/scan/clamd_scanner.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/log.h"
#include "common/socket_spec.h"
#include "common/unique_fd.h"
#include "milter/net/resolve.h"

namespace mailwarden {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kMaxReply = 4096;

std::string Errno() { return std::strerror(errno); }

// INSTREAM frames a chunk with its length, 4 bytes big-endian.
std::string ChunkLength(size_t n) {
  auto v = static_cast<uint32_t>(n);
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
          static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

class ClamdScanner : public VirusScanner {
 public:
  explicit ClamdScanner(AntivirusOptions options) : options_(std::move(options)) {
    auto spec = ParseSocketSpec(options_.clamd_socket);
    if (spec.ok()) spec_ = *spec;
    spec_error_ = spec.ok() ? "" : spec.status().message();
    auto version = Command("zVERSION");
    if (version.ok()) {
      LogInfo("virus scanning with clamd at " + options_.clamd_socket + ": " + *version);
    } else {
      LogError("NO VIRUS SCANNING yet: clamd at " + options_.clamd_socket + " does not answer (" +
               version.status().message() +
               "); messages get antivirus.on_scanner_error until it does");
    }
  }

  Result<ScanOutcome> Scan(std::string_view data) const override {
    // A pooled session may have been closed by clamd meanwhile: one more try on a new one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = false;
      auto fd = Take(&reused);
      if (!fd.ok()) return fd.status();
      auto reply = Instream(fd->get(), data);
      if (!reply.ok()) {
        if (reused) continue;
        return reply.status();
      }
      std::string text = *reply;
      // In a session the reply is "ID: stream: ...".
      size_t digits = text.find_first_not_of("0123456789");
      if (digits > 0 && digits != std::string::npos && text.compare(digits, 2, ": ") == 0) {
        text.erase(0, digits + 2);
      }
      if (text.starts_with("stream: ")) text = text.substr(8);
      if (text == "OK") {
        Give(std::move(fd).value());
        return ScanOutcome();
      }
      if (text.ends_with(" FOUND")) {
        Give(std::move(fd).value());
        return OutcomeForSignature(text.substr(0, text.size() - 6));
      }
      if (text.starts_with("INSTREAM size limit exceeded")) {
        // clamd closes the connection after this error.
        return ScanLimit("clamd StreamMaxLength");
      }
      return Status::Unavailable("clamd answered \"" + text + "\"");
    }
    return Status::Unavailable("clamd at " + options_.clamd_socket + " closed the session");
  }

  void Reload() override {}

 private:
  Result<UniqueFd> Connect() const {
    if (!spec_error_.empty()) return Status::InvalidArgument(spec_error_);
    UniqueFd fd;
    if (spec_.kind == SocketSpec::Kind::kUnix) {
      fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!fd.valid()) return Status::IoError("socket: " + Errno());
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (spec_.path.size() >= sizeof(addr.sun_path))
        return Status::InvalidArgument("clamd socket path too long");
      std::memcpy(addr.sun_path, spec_.path.c_str(), spec_.path.size() + 1);
      SetTimeouts(fd.get());
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
        return Status::Unavailable("connect to clamd at " + spec_.path + ": " + Errno());
      return fd;
    }
    // The name lookup is bounded by the timeout too (getaddrinfo() is not: a resolver that
    // does not answer would hold the message for resolv.conf's seconds).
    auto addresses = net::ResolveHost(
        spec_.host, spec_.port,
        std::chrono::steady_clock::now() + std::chrono::seconds(options_.clamd_timeout_seconds));
    if (!addresses.ok()) return Status::Unavailable("clamd " + addresses.status().message());
    std::string error = "no address";
    for (const net::ResolvedAddress& a : *addresses) {
      fd.reset(socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!fd.valid()) continue;
      SetTimeouts(fd.get());
      if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0) return fd;
      error = Errno();
    }
    return Status::Unavailable("connect to clamd at " + spec_.ToString() + ": " + error);
  }

  void SetTimeouts(int fd) const {
    timeval tv{};
    tv.tv_sec = options_.clamd_timeout_seconds;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  static Status SendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::Unavailable("writing to clamd: " + Errno());
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  // Reads one NUL-terminated reply.
  static Result<std::string> ReadReply(int fd) {
    std::string reply;
    char buf[512];
    while (reply.size() < kMaxReply) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::Unavailable("reading from clamd: " + Errno());
      if (n == 0) return Status::Unavailable("clamd closed the connection");
      reply.append(buf, static_cast<size_t>(n));
      if (size_t nul = reply.find('\0'); nul != std::string::npos) {
        reply.resize(nul);
        return reply;
      }
    }
    return Status::Unavailable("clamd's reply is longer than " + std::to_string(kMaxReply));
  }

  // A one-off command on a connection of its own ("zVERSION").
  Result<std::string> Command(std::string_view command) const {
    auto fd = Connect();
    if (!fd.ok()) return fd.status();
    std::string packet(command);
    packet.push_back('\0');
    if (Status s = SendAll(fd->get(), packet); !s.ok()) return s;
    return ReadReply(fd->get());
  }

  Result<std::string> Instream(int fd, std::string_view data) const {
    std::string head = "zINSTREAM";
    head.push_back('\0');
    Status sent = SendAll(fd, head);
    for (size_t off = 0; sent.ok() && off < data.size(); off += kChunk) {
      std::string_view chunk = data.substr(off, kChunk);
      sent = SendAll(fd, ChunkLength(chunk.size()));
      if (sent.ok()) sent = SendAll(fd, chunk);
    }
    if (sent.ok()) sent = SendAll(fd, ChunkLength(0));
    auto reply = ReadReply(fd);
    // clamd answers a stream beyond its StreamMaxLength before it closes the connection
    // (we may still have been writing): its answer counts more than our write error.
    if (!sent.ok() && !reply.ok()) return sent;
    return reply;
  }

  // An idle session from the pool, or a new one.
  Result<UniqueFd> Take(bool* reused) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        UniqueFd fd = std::move(idle_.back());
        idle_.pop_back();
        *reused = true;
        return fd;
      }
    }
    *reused = false;
    auto fd = Connect();
    if (!fd.ok()) return fd.status();
    std::string session = "zIDSESSION";
    session.push_back('\0');
    if (Status s = SendAll(fd->get(), session); !s.ok()) return s;
    return fd;
  }

  void Give(UniqueFd fd) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int>(idle_.size()) < options_.clamd_connections) idle_.push_back(std::move(fd));
  }

  const AntivirusOptions options_;
  SocketSpec spec_;
  std::string spec_error_;
  mutable std::mutex mu_;
  mutable std::vector<UniqueFd> idle_;
};

}  // namespace

std::shared_ptr<VirusScanner> MakeClamdScanner(const AntivirusOptions& options) {
  return std::make_shared<ClamdScanner>(options);
}

}  // namespace mailwarden

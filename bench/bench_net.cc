// Socket plumbing for the benchmark tools (see bench_net.h).
//
// Distrusts: the peer (it may stall, close, or send garbage; every wait has a
// deadline and every read is bounded by the caller's length) and the user's
// socket spec (parsed strictly by ParseSocketSpec: ports must be 1..65535,
// unix paths must fit sun_path; inet destinations must be loopback unless
// the caller allows remote ones).

#include "bench_net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

namespace mailwarden::bench {
namespace {

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Waits for `events` on `fd` until `deadline`. Returns 1 when ready, 0 on
// timeout, -1 on error (errno set).
int WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int rc = ::poll(&pfd, 1, MillisUntil(deadline));
    if (rc > 0) return 1;
    if (rc == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

// Switches a connected socket to blocking mode with `timeout` as the limit
// for each send() and recv(). Blocking calls cost one system call per reply
// where poll-then-read costs two or three; on a two-core box the load
// generator's CPU is taken from the server under test. Returns `fd`, or -1
// (socket closed, *error set).
int MakeBlocking(int fd, std::chrono::milliseconds timeout, std::string* error) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
    *error = ErrnoText("socket setup", errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      return in6->sin6_addr.s6_addr[12] == 127;
    }
  }
  return false;
}

Result<SocketSpec> ParseBenchSocket(std::string_view text) {
  const bool v6 = text.starts_with("inet6:");
  if (!v6 && !text.starts_with("inet:")) return ParseSocketSpec(text);
  // The host-less spellings: "PORT", "PORT@" and ":PORT".
  std::string_view port = text.substr(v6 ? 6 : 5);
  if (port.ends_with('@')) {
    port.remove_suffix(1);
  } else if (port.starts_with(':')) {
    port.remove_prefix(1);
  }
  if (port.empty() || port.find_first_of(":@[") != std::string_view::npos) {
    return ParseSocketSpec(text);
  }
  Result<SocketSpec> spec = ParseSocketSpec(std::string(v6 ? "inet6:" : "inet:") +
                                            std::string(port) + (v6 ? "@::1" : "@127.0.0.1"));
  // Report a bad port against what the user wrote.
  return spec.ok() ? spec : ParseSocketSpec(text);
}

const char* IoStatusName(IoStatus status) {
  switch (status) {
    case IoStatus::kOk:
      return "ok";
    case IoStatus::kTimeout:
      return "timeout";
    case IoStatus::kEof:
      return "eof";
    case IoStatus::kError:
      return "error";
  }
  return "?";
}

int MillisUntil(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

Connection::~Connection() { Close(); }

Connection::Connection(Connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      out_(std::move(other.out_)),
      in_(std::move(other.in_)),
      in_pos_(std::exchange(other.in_pos_, 0)),
      last_error_(std::move(other.last_error_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    out_ = std::move(other.out_);
    in_ = std::move(other.in_);
    in_pos_ = std::exchange(other.in_pos_, 0);
    last_error_ = std::move(other.last_error_);
  }
  return *this;
}

void Connection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();
  in_.clear();
  in_pos_ = 0;
}

bool Connection::Open(const SocketSpec& spec, std::chrono::milliseconds timeout, bool tcp_nodelay,
                      bool allow_remote, std::string* error) {
  Close();
  const Clock::time_point deadline = Clock::now() + timeout;

  // Connects one candidate address; returns the fd or -1 with *error set.
  auto connect_one = [&](int family, const sockaddr* sa, socklen_t len) -> int {
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = ErrnoText("socket", errno);
      return -1;
    }
    if (family != AF_UNIX) {
      int flag = tcp_nodelay ? 1 : 0;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof(flag));
    }
    if (::connect(fd, sa, len) == 0) return MakeBlocking(fd, timeout, error);
    if (errno != EINPROGRESS && errno != EAGAIN) {
      *error = ErrnoText("connect", errno);
      ::close(fd);
      return -1;
    }
    int ready = WaitFor(fd, POLLOUT, deadline);
    if (ready <= 0) {
      *error = ready == 0 ? std::string("connect: timed out") : ErrnoText("connect", errno);
      ::close(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) {
      *error = ErrnoText("connect", so_error);
      ::close(fd);
      return -1;
    }
    return MakeBlocking(fd, timeout, error);
  };

  if (spec.kind == SocketSpec::Kind::kUnix) {
    sockaddr_un sun{};
    if (spec.path.empty() || spec.path.size() >= sizeof(sun.sun_path)) {
      *error = "unix socket path empty or too long: " + spec.path;
      return false;
    }
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, spec.path.data(), spec.path.size());
    fd_ = connect_one(AF_UNIX, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun));
    return fd_ >= 0;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  std::string port = std::to_string(spec.port);
  int rc = ::getaddrinfo(spec.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    *error = "resolve " + spec.host + ": " + ::gai_strerror(rc);
    return false;
  }
  *error = "no usable address for " + spec.host;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    if (!allow_remote && !IsLoopback(ai->ai_addr)) {
      *error = spec.host + " is not a loopback address (pass --allow-remote to permit)";
      continue;
    }
    fd_ = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
    if (fd_ >= 0) break;
  }
  ::freeaddrinfo(result);
  return fd_ >= 0;
}

IoStatus Connection::Flush(Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < out_.size()) {
    // Blocking send; SO_SNDTIMEO (set in Open) bounds each call.
    ssize_t n = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      if (sent < out_.size() && Clock::now() >= deadline) {
        return IoStatus::kTimeout;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return IoStatus::kTimeout;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      last_error_ = ErrnoText("send", errno);
      return IoStatus::kEof;
    }
    last_error_ = ErrnoText("send", n < 0 ? errno : EIO);
    return IoStatus::kError;
  }
  out_.clear();
  return IoStatus::kOk;
}

IoStatus Connection::Fill(Clock::time_point deadline) {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  if (Clock::now() >= deadline) return IoStatus::kTimeout;
  char buf[16384];
  for (;;) {
    // Blocking recv, one system call per reply in the common case;
    // SO_RCVTIMEO (set in Open) bounds the wait.
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return IoStatus::kOk;
    }
    if (n == 0) return IoStatus::kEof;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return IoStatus::kTimeout;
    if (errno == ECONNRESET) {
      last_error_ = ErrnoText("recv", errno);
      return IoStatus::kEof;
    }
    last_error_ = ErrnoText("recv", errno);
    return IoStatus::kError;
  }
}

IoStatus Connection::ReadExact(char* dst, size_t n, Clock::time_point deadline) {
  size_t copied = 0;
  while (copied < n) {
    if (in_pos_ == in_.size()) {
      IoStatus st = Fill(deadline);
      if (st != IoStatus::kOk) return st;
    }
    size_t take = std::min(n - copied, in_.size() - in_pos_);
    std::memcpy(dst + copied, in_.data() + in_pos_, take);
    in_pos_ += take;
    copied += take;
  }
  return IoStatus::kOk;
}

IoStatus Connection::ReadLine(std::string* line, size_t max_len, Clock::time_point deadline) {
  line->clear();
  for (;;) {
    size_t nl = in_.find('\n', in_pos_);
    size_t end = nl == std::string::npos ? in_.size() : nl;
    line->append(in_, in_pos_, end - in_pos_);
    in_pos_ = end;
    if (line->size() > max_len) {
      last_error_ = "line too long";
      return IoStatus::kError;
    }
    if (nl != std::string::npos) {
      ++in_pos_;  // consume '\n'
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return IoStatus::kOk;
    }
    IoStatus st = Fill(deadline);
    if (st != IoStatus::kOk) return st;
  }
}

}  // namespace mailwarden::bench

// The milter protocol server (see server.h).
//
// Distrusts the peer as the session does: a read may bring half a packet or many, a packet
// may claim any length (the session refuses more than kMaxMilterPacket before the buffer
// grows), the peer may stop reading our replies (bounded by the send timeout) or vanish.
#include "milter/protocol/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "common/daemon.h"
#include "common/log.h"

namespace mailwarden {
namespace {

// A worker's input buffer: room for two full body chunks and their headers, so one read
// usually brings everything the MTA has sent. It grows for a bigger packet (up to
// kMaxMilterPacket) and shrinks back after that connection.
constexpr size_t kBufferSize = size_t{128} * 1024;
// Workers idle beyond this many end after their connection, so a burst does not leave
// hundreds of threads behind.
constexpr int kMaxIdleWorkers = 64;
constexpr auto kLimitLogInterval = std::chrono::seconds(10);

std::string Errno(int err) { return std::strerror(err); }

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Writes all of `data`; false on an error or a send timeout.
bool WriteAll(int fd, std::string_view data, int* err) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    *err = n < 0 ? errno : EPIPE;
    return false;
  }
  return true;
}

}  // namespace

MilterServer::MilterServer(UniqueFd listen_fd, MilterCapabilities capabilities,
                           MilterSession::HandlerFactory factory, Options options)
    : listen_fd_(std::move(listen_fd)),
      capabilities_(std::move(capabilities)),
      factory_(std::move(factory)),
      options_(options) {}

Status MilterServer::Run() {
  // Workers block in accept(); the kernel wakes one per connection.
  int flags = fcntl(listen_fd_.get(), F_GETFL);
  if (flags < 0 || fcntl(listen_fd_.get(), F_SETFL, flags & ~O_NONBLOCK) < 0)
    return Status::IoError("fcntl on the milter socket: " + Errno(errno));
  counters_.workers.fetch_add(1);
  StartWorker();  // so that two connections can start at once from the first moment
  WorkerLoop(/*may_retire=*/false);
  return Status::IoError("the milter socket stopped accepting connections");
}

void MilterServer::StartWorker() {
  counters_.workers.fetch_add(1);
  try {
    std::thread([this] { WorkerLoop(/*may_retire=*/true); }).detach();
  } catch (const std::exception& e) {
    counters_.workers.fetch_sub(1);
    LogError(std::string("cannot start a milter worker thread: ") + e.what());
  }
}

void MilterServer::NoteLimitReached() {
  int64_t now = NowSeconds();
  int64_t last = limit_logged_at_.load();
  if (now - last < kLimitLogInterval.count()) return;
  if (!limit_logged_at_.compare_exchange_strong(last, now)) return;
  LogWarn("milter.max_connections (" + std::to_string(options_.max_connections) +
          ") connections are being served; new ones wait in the listen backlog");
}

void MilterServer::WorkerLoop(bool may_retire) {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    idle_.fetch_add(1);
    int fd = accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    int err = errno;
    int idle_now = idle_.fetch_sub(1) - 1;
    if (fd < 0) {
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        LogError("accept on the milter socket: " + Errno(err) + "; retrying in 100 ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      if (!failed_.exchange(true)) LogError("accept on the milter socket: " + Errno(err));
      counters_.workers.fetch_sub(1);
      return;
    }
    counters_.accepted.fetch_add(1, std::memory_order_relaxed);
    if (idle_now == 0) {
      if (counters_.workers.load() < options_.max_connections)
        StartWorker();
      else
        NoteLimitReached();
    }
    counters_.active.fetch_add(1);
    try {
      Serve(UniqueFd(fd), PeerName(addr));
    } catch (const std::exception& e) {
      LogError(std::string("milter connection failed: ") + e.what());
    } catch (...) {
      LogError("milter connection failed: unknown exception");
    }
    counters_.active.fetch_sub(1);
    if (may_retire && idle_.load() >= kMaxIdleWorkers) {
      counters_.workers.fetch_sub(1);
      return;
    }
  }
}

void MilterServer::Serve(UniqueFd fd, const std::string& peer) {
  timeval tv{};
  tv.tv_sec = options_.timeout_seconds;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

  thread_local std::vector<char> buffer;
  if (buffer.size() != kBufferSize) {
    buffer.resize(kBufferSize);
    buffer.shrink_to_fit();
  }
  std::string name = "milter connection #" + std::to_string(counters_.accepted.load()) + " (" +
                     peer + ")";
  MilterSession session(capabilities_, factory_, name);
  std::string out;
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd.get(), buffer.data() + have, buffer.size() - have);
    if (n == 0) break;  // the MTA closed the connection
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
        LogWarn(name + ": nothing from the MTA for " + std::to_string(options_.timeout_seconds) +
                " s (milter.connection_timeout); closed");
      } else if (err != ECONNRESET) {
        LogWarn(name + ": read: " + Errno(err));
      }
      break;
    }
    have += static_cast<size_t>(n);
    size_t wanted = 0;
    size_t used = session.Consume(std::string_view(buffer.data(), have), &out, &wanted);
    if (!out.empty()) {
      int err = 0;
      if (!WriteAll(fd.get(), out, &err)) {
        if (err == EAGAIN || err == EWOULDBLOCK) counters_.timeouts.fetch_add(1);
        if (err != EPIPE && err != ECONNRESET) LogWarn(name + ": write: " + Errno(err));
        break;
      }
      out.clear();
    }
    if (session.closed()) break;
    if (used > 0) {
      std::memmove(buffer.data(), buffer.data() + used, have - used);
      have -= used;
    }
    if (wanted > buffer.size()) buffer.resize(wanted);
  }
  session.Close();
  if (!session.error().empty()) {
    counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    LogWarn(name + ": " + session.error() + "; connection closed");
  }
}

}  // namespace mailwarden

// c-ares driven to a deadline (see resolve.h).
#include "milter/net/resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace mailwarden::net {
namespace {

using Clock = std::chrono::steady_clock;

std::once_flag init_once;
int init_status = ARES_SUCCESS;

// A host name as the lookup may be asked about: printable ASCII without spaces, so that
// nothing odd reaches a log line or the wire. The resolver itself refuses what DNS cannot
// carry.
bool IsPlausibleHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

// What one ares_getaddrinfo() call left behind.
struct Lookup {
  int pending = 1;
  int status = ARES_ECANCELLED;
  std::vector<ResolvedAddress> addresses;
};

void OnAddresses(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* lookup = static_cast<Lookup*>(arg);
  --lookup->pending;
  lookup->status = status;
  if (result == nullptr) return;
  for (const ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
    if (n->ai_addr == nullptr || n->ai_addrlen <= 0 ||
        static_cast<size_t>(n->ai_addrlen) > sizeof(sockaddr_storage)) {
      continue;
    }
    ResolvedAddress a;
    std::memcpy(&a.addr, n->ai_addr, static_cast<size_t>(n->ai_addrlen));
    a.len = static_cast<socklen_t>(n->ai_addrlen);
    a.family = n->ai_family;
    lookup->addresses.push_back(a);
  }
  ares_freeaddrinfo(result);
}

// A numeric address as a ResolvedAddress, or false when `host` is not one.
bool NumericAddress(const std::string& host, int port, ResolvedAddress* out) {
  sockaddr_in v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&out->addr, &v4, sizeof(v4));
    out->len = sizeof(v4);
    out->family = AF_INET;
    return true;
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&out->addr, &v6, sizeof(v6));
    out->len = sizeof(v6);
    out->family = AF_INET6;
    return true;
  }
  return false;
}

// An ares_channel released on every path out.
struct ChannelGuard {
  ares_channel channel = nullptr;
  ~ChannelGuard() {
    if (channel != nullptr) ares_destroy(channel);
  }
};

}  // namespace

Status InitAres() {
  std::call_once(init_once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) {
    return Status::Internal(std::string("c-ares initialisation: ") + ares_strerror(init_status));
  }
  return Status::Ok();
}

Status RunAresUntil(ares_channel channel, Clock::time_point deadline, const int* pending) {
  Status status;
  while (*pending > 0) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t nfds = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events == 0) continue;
      fds[nfds++] = pollfd{socks[i], events, 0};
    }
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    timeval max_tv{static_cast<time_t>(left.count() / 1000000),
                   static_cast<suseconds_t>(left.count() % 1000000)};
    timeval tv{};
    timeval* wait = ares_timeout(channel, &max_tv, &tv);
    int ms = static_cast<int>(wait->tv_sec * 1000 + (wait->tv_usec + 999) / 1000);
    int rc = poll(fds, nfds, ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      status = Status::IoError(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (rc == 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retransmits, timeouts
      continue;
    }
    for (nfds_t i = 0; i < nfds; ++i) {
      if (fds[i].revents == 0) continue;
      bool readable = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      bool writable = (fds[i].revents & POLLOUT) != 0;
      ares_process_fd(channel, readable ? fds[i].fd : ARES_SOCKET_BAD,
                      writable ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  // What is still pending is out of time: its callback runs now, with ARES_ECANCELLED.
  if (*pending > 0) ares_cancel(channel);
  return status;
}

Result<std::vector<ResolvedAddress>> ResolveHost(std::string_view host_view, int port,
                                                 Clock::time_point deadline,
                                                 std::string_view servers) {
  std::string host(host_view);
  if (!IsPlausibleHostName(host)) {
    return Status::InvalidArgument("host name is empty, too long or has odd characters");
  }
  ResolvedAddress numeric;
  if (NumericAddress(host, port, &numeric)) return std::vector<ResolvedAddress>{numeric};
  if (Status s = InitAres(); !s.ok()) return s;

  const auto budget =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (budget <= 0) return Status::Timeout("host " + host + ": no time left to look it up");
  ChannelGuard guard;
  ares_options opts{};
  // Two tries each within a third of the time, so that one lost datagram is retried
  // before the deadline.
  opts.timeout = static_cast<int>(std::clamp<int64_t>(budget / 3, 20, 5000));
  opts.tries = 2;
  int rc = ares_init_options(&guard.channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS) {
    guard.channel = nullptr;
    return Status::Unavailable("host " + host + ": resolver: " + ares_strerror(rc));
  }
  if (!servers.empty()) {
    rc = ares_set_servers_ports_csv(guard.channel, std::string(servers).c_str());
    if (rc != ARES_SUCCESS) {
      return Status::InvalidArgument("DNS servers '" + std::string(servers) +
                                     "': " + ares_strerror(rc));
    }
  }

  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = ARES_AI_NUMERICSERV;
  Lookup lookup;
  const std::string service = std::to_string(port);
  ares_getaddrinfo(guard.channel, host.c_str(), service.c_str(), &hints, OnAddresses, &lookup);
  if (Status s = RunAresUntil(guard.channel, deadline, &lookup.pending); !s.ok()) {
    return Status::Unavailable("host " + host + ": " + s.message());
  }
  switch (lookup.status) {
    case ARES_SUCCESS:
      if (lookup.addresses.empty()) return Status::Unavailable("host " + host + ": no address");
      return std::move(lookup.addresses);
    case ARES_ECANCELLED:
    case ARES_ETIMEOUT:
      return Status::Timeout("host " + host + ": no answer from the resolver in time");
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
      return Status::Unavailable("host " + host + ": not found");
    default:
      return Status::Unavailable("host " + host + ": " + ares_strerror(lookup.status));
  }
}

}  // namespace mailwarden::net

// mw-policy-bench: load generator for Postfix's SMTPD access policy
// delegation protocol (SMTPD_POLICY_README), playing smtpd.
//
// Protocol: the client sends "name=value" lines followed by an empty line;
// the server answers "action=..." (possibly with further attributes) and an
// empty line, and keeps the connection open for the next request. Postfix
// keeps one persistent connection per smtpd process and sends one request
// at a time on it; here --concurrency connections do the same, each with at
// most one request in flight, driven by --threads threads (default 1), each
// running an epoll loop over its share of non-blocking connections. One
// thread per connection would put dozens of client threads on the cores the
// server under test needs, and measure the scheduler as much as the server.
//
// Closed loop (default): a connection sends its next request as soon as the
// answer to the previous one arrived. Latency runs from the first byte
// written to the empty line that ends the reply.
//
// Open loop (--rate R): requests are scheduled at R per second in all, evenly
// spaced, whatever the answers do; a scheduled request goes out on a free
// connection, waiting for one if all are busy. Its latency runs from its
// scheduled time, so time spent waiting behind a slow answer counts (no
// coordinated omission), and p99 can be read at a given load. A request that
// could not even be sent within --timeout of its schedule counts as a timeout.
//
// Connection setup is not included in any latency (it happens once per
// connection and is reported separately).
//
// Exit status: 0 all requests answered without error; 1 any error
// (connect, timeout, I/O, protocol) or nothing completed; 2 usage error.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_net.h"
#include "bench_util.h"
#include "load_run.h"

namespace mailwarden::bench {
namespace {

constexpr char kUsage[] =
    "usage: mw-policy-bench [options]\n"
    "  --socket SPEC          inet:HOST:PORT | inet:PORT@HOST | unix:/path\n"
    "                         (default inet:127.0.0.1:10040)\n"
    "  --concurrency N        persistent connections, one request in flight on\n"
    "                         each (default 32)\n"
    "  --threads N            client threads driving them (default 1)\n"
    "  --rate R               open loop: R requests/s in all, latency from each\n"
    "                         request's scheduled time (default: closed loop)\n"
    "  --requests N           requests to send (default 10000)\n"
    "  --duration SECONDS     run for a time instead of a request count\n"
    "  --warmup N             unmeasured requests first (default 0)\n"
    "  --sender ADDR          sender (repeatable; default "
    "sender@bench.example)\n"
    "  --recipient ADDR       recipient (repeatable; default "
    "rcpt@bench.example)\n"
    "  --senders-file FILE    senders, one per line (used round-robin)\n"
    "  --recipients-file FILE recipients, one per line (used round-robin)\n"
    "  --protocol-state S     RCPT (default), DATA, END-OF-MESSAGE, ...\n"
    "  --sasl-username USER   report an authenticated client\n"
    "  --size BYTES           size attribute (default 4096)\n"
    "  --timeout SECONDS      connect and per-reply timeout (default 10)\n"
    "  --max-errors N         stop after N errors (default 1000)\n"
    "  --allow-remote         permit a non-loopback policy server address\n"
    "  --json                 print the results as one JSON object\n";

// Bounds on what we accept from the server.
constexpr size_t kMaxReplyLine = 4096;
constexpr int kMaxReplyLines = 64;

constexpr char kTool[] = "mw-policy-bench";

struct Config : LoadOptions {
  Config() {
    socket_text = "inet:127.0.0.1:10040";
    concurrency = 32;
  }
  uint64_t requests = 10000;
  std::vector<std::string> senders;
  std::vector<std::string> recipients;
  std::string protocol_state = "RCPT";
  std::string sasl_username;
  uint64_t size = 4096;
  int threads = 1;  // --threads, <= concurrency
  double rate = 0;  // --rate, requests/s; 0: closed loop
};

struct Stats : LoadStats {
  std::map<std::string, uint64_t> actions;

  void Merge(const Stats& o) {
    LoadStats::Merge(o);
    for (const auto& [k, v] : o.actions) actions[k] += v;
  }
};

// Builds the request Postfix's smtpd would send for request number `i`.
// Attribute values are varied per request where a real stream varies them
// (client, instance, queue id, sender, recipient).
std::string BuildRequest(const Config& c, int worker, uint64_t i) {
  const std::string& sender = c.senders[i % c.senders.size()];
  const std::string& rcpt = c.recipients[i % c.recipients.size()];
  const uint64_t client = i % 254 + 1;
  char instance[48];
  std::snprintf(instance, sizeof(instance), "%x.%llx.%llx.0", worker & 0xFFFF,
                static_cast<unsigned long long>(i >> 20),
                static_cast<unsigned long long>(i & 0xFFFFF));
  char queue_id[24];
  std::snprintf(queue_id, sizeof(queue_id), "%02X%09llX", worker & 0xFF,
                static_cast<unsigned long long>(i));
  const bool in_rcpt = c.protocol_state == "RCPT";
  std::string r;
  r.reserve(1024);
  auto add = [&r](const char* name, const std::string& value) {
    r += name;
    r += '=';
    r += value;
    r += '\n';
  };
  add("request", "smtpd_access_policy");
  add("protocol_state", c.protocol_state);
  add("protocol_name", "ESMTP");
  add("helo_name", "client-" + std::to_string(client) + ".bench.example");
  add("queue_id", queue_id);
  add("sender", sender);
  add("recipient", rcpt);
  // Non-zero only in the DATA and END-OF-MESSAGE stages.
  add("recipient_count", in_rcpt ? "0" : "1");
  add("client_address", "192.0.2." + std::to_string(client));
  add("client_name", "client-" + std::to_string(client) + ".bench.example");
  add("reverse_client_name", "client-" + std::to_string(client) + ".bench.example");
  add("instance", instance);
  add("sasl_method", c.sasl_username.empty() ? "" : "plain");
  add("sasl_username", c.sasl_username);
  add("sasl_sender", "");
  add("size", std::to_string(c.size));
  add("ccert_subject", "");
  add("ccert_issuer", "");
  add("ccert_fingerprint", "");
  add("ccert_pubkey_fingerprint", "");
  add("encryption_protocol", "TLSv1.3");
  add("encryption_cipher", "TLS_AES_256_GCM_SHA384");
  add("encryption_keysize", "256");
  add("etrn_domain", "");
  add("stress", "");
  add("client_port", std::to_string(1024 + i % 60000));
  add("policy_context", "");
  add("server_address", "127.0.0.1");
  add("server_port", "25");
  add("compatibility_level", "3.6");
  add("mail_version", "3.7.11");
  r += '\n';
  return r;
}

// The action word for counting: the first word of the action value,
// upper-cased ("dunno" and "DUNNO" are the same action; "450 4.7.1 text"
// counts as "450").
std::string ActionWord(std::string_view value) {
  size_t end = value.find_first_of(" \t");
  std::string word(value.substr(0, end));
  for (char& ch : word) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return word.empty() ? std::string("(empty)") : word;
}

void RecordError(const char* kind, const std::string& text, Phase* phase, Stats* stats) {
  stats->RecordError(kind, std::string(kind) + ": " + text, phase);
}

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Connects one candidate address within `deadline`; returns a non-blocking fd or -1 with
// *error set.
int ConnectOne(int family, const sockaddr* sa, socklen_t len, Clock::time_point deadline,
               std::string* error) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = ErrnoText("socket", errno);
    return -1;
  }
  if (family != AF_UNIX) {
    // Like Postfix's policy client, leave Nagle on: each request is written with one
    // send() and then the client waits for the reply.
    int flag = 0;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof(flag));
  }
  if (::connect(fd, sa, len) == 0) return fd;
  if (errno != EINPROGRESS && errno != EAGAIN) {
    *error = ErrnoText("connect", errno);
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, MillisUntil(deadline));
  } while (ready < 0 && errno == EINTR);
  int so_error = 0;
  socklen_t so_len = sizeof(so_error);
  if (ready > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  if (ready <= 0 || so_error != 0) {
    *error = ready == 0 ? std::string("connect: timed out")
                        : ErrnoText("connect", ready < 0 ? errno : so_error);
    ::close(fd);
    return -1;
  }
  return fd;
}

// A non-blocking connection to the server, or -1 with *error set. Unless --allow-remote,
// inet destinations must be loopback addresses.
int Connect(const Config& config, std::string* error) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  const SocketSpec& spec = config.spec;
  if (spec.kind == SocketSpec::Kind::kUnix) {
    sockaddr_un sun{};
    if (spec.path.empty() || spec.path.size() >= sizeof(sun.sun_path)) {
      *error = "unix socket path empty or too long: " + spec.path;
      return -1;
    }
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, spec.path.data(), spec.path.size());
    return ConnectOne(AF_UNIX, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun), deadline,
                      error);
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
    return -1;
  }
  int fd = -1;
  *error = "no usable address for " + spec.host;
  for (addrinfo* ai = result; ai != nullptr && fd < 0; ai = ai->ai_next) {
    if (!config.allow_remote && !IsLoopback(ai->ai_addr)) {
      *error = spec.host + " is not a loopback address (pass --allow-remote to permit)";
      continue;
    }
    fd = ConnectOne(ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline, error);
  }
  ::freeaddrinfo(result);
  return fd;
}

// One connection of a driver thread, with at most one request in flight.
struct Conn {
  int id = 0;   // across all threads; varies the requests like an smtpd pid
  int fd = -1;  // -1: not connected
  bool busy = false;
  std::string out;  // the request, from out_pos on
  size_t out_pos = 0;
  std::string in;              // reply bytes not yet parsed
  Clock::time_point start;     // latency origin: send time, or scheduled time (--rate)
  Clock::time_point deadline;  // --timeout after the send
  std::string action;
  bool have_action = false;
  int lines = 0;
  uint32_t events = 0;  // registered with epoll
};

// Drives `conns` on one thread with epoll until the phase is over and every request in
// flight has been answered or has timed out.
class Driver {
 public:
  Driver(const Config& config, int thread, std::vector<int> ids, Phase* phase, Stats* stats)
      : config_(config), thread_(thread), phase_(phase), stats_(stats) {
    timeout_ = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(config.timeout_s));
    for (int id : ids) {
      auto c = std::make_unique<Conn>();
      c->id = id;
      conns_.push_back(std::move(c));
    }
  }
  ~Driver() {
    for (auto& c : conns_) Drop(*c);
    if (timer_fd_ >= 0) ::close(timer_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  void Run() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
      RecordError("io", ErrnoText("epoll_create1", errno), phase_, stats_);
      return;
    }
    open_loop_ = config_.rate > 0;
    // epoll_wait() counts in milliseconds; an open loop sending every few microseconds
    // needs its wake-ups on time, or the client's own lateness would count as latency.
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ >= 0) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = kTimerTag;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev);
    }
    if (open_loop_) {
      // Each thread schedules its share, offset so that the threads interleave.
      interval_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(config_.threads / config_.rate));
      next_send_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(thread_ / config_.rate));
    }
    for (auto& c : conns_) {
      if (!Open(*c)) continue;
      if (!open_loop_) StartNext(*c);
    }
    std::vector<epoll_event> events(conns_.size() + 1);
    Clock::time_point next_sweep = Clock::now() + kSweepInterval;
    while (!Finished()) {
      Clock::time_point wake = next_sweep;
      if (open_loop_ && scheduling_) wake = std::min(wake, next_send_);
      int wait_ms = MillisUntil(wake);
      if (timer_fd_ >= 0 && wait_ms > 0) {
        // steady_clock is CLOCK_MONOTONIC on Linux.
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wake.time_since_epoch());
        itimerspec spec{};
        spec.it_value.tv_sec = static_cast<time_t>(ns.count() / 1000000000);
        spec.it_value.tv_nsec = static_cast<long>(ns.count() % 1000000000);
        if (::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) == 0) ++wait_ms;
      }
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), wait_ms);
      if (n < 0 && errno != EINTR) {
        RecordError("io", ErrnoText("epoll_wait", errno), phase_, stats_);
        return;
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u32 == kTimerTag) {
          uint64_t expirations = 0;
          ssize_t r = ::read(timer_fd_, &expirations, sizeof(expirations));
          (void)r;
          continue;
        }
        Conn& c = *conns_[events[i].data.u32];
        if (c.fd < 0) continue;
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
          if (!Write(c)) continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(c);
      }
      Clock::time_point now = Clock::now();
      if (open_loop_) Schedule(now);
      if (now >= next_sweep) {
        Sweep(now);
        next_sweep = now + kSweepInterval;
      }
    }
  }

 private:
  static constexpr auto kSweepInterval = std::chrono::milliseconds(50);
  static constexpr uint32_t kTimerTag = UINT32_MAX;
  // Scheduled requests waiting for a free connection, per thread: past this the server
  // is hopelessly behind the offered rate, and further requests count as timeouts at once.
  static constexpr size_t kMaxBacklog = 100000;
  // Requests claimed per Schedule() call, so catching up never starves the sockets.
  static constexpr int kMaxClaimsPerRound = 1024;

  bool Finished() const {
    if (open_loop_ && (scheduling_ || !backlog_.empty())) return false;
    for (const auto& c : conns_) {
      if (c->busy) return false;
      // Closed loop: connections lost to errors reconnect in Sweep() while the phase runs.
      if (!open_loop_ && c->fd < 0 && !phase_over_) return false;
    }
    return true;
  }

  bool Open(Conn& c) {
    std::string error;
    ++stats_->connections;
    c.fd = Connect(config_, &error);
    if (c.fd < 0) {
      RecordError("connect", error, phase_, stats_);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = IndexOf(c);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      RecordError("io", ErrnoText("epoll_ctl", errno), phase_, stats_);
      Drop(c);
      return false;
    }
    c.events = EPOLLIN;
    return true;
  }

  uint32_t IndexOf(const Conn& c) const {
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].get() == &c) return static_cast<uint32_t>(i);
    }
    return 0;
  }

  void Drop(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.busy = false;
    c.in.clear();
    c.out.clear();
    c.out_pos = 0;
  }

  void Fail(Conn& c, const char* kind, const std::string& text) {
    RecordError(kind, text, phase_, stats_);
    Drop(c);
  }

  // Closed loop: claims the next request for `c` and sends it.
  void StartNext(Conn& c) {
    uint64_t index = 0;
    if (!phase_->Claim(&index)) {
      phase_over_ = true;
      return;
    }
    Send(c, index, Clock::now());
  }

  // Open loop: claims the requests whose time has come, and hands waiting ones to free
  // connections.
  void Schedule(Clock::time_point now) {
    for (int claims = 0; scheduling_ && next_send_ <= now && claims < kMaxClaimsPerRound;
         ++claims) {
      uint64_t index = 0;
      if (!phase_->Claim(&index)) {
        scheduling_ = false;
        phase_over_ = true;
        break;
      }
      if (backlog_.size() >= kMaxBacklog) {
        RecordError("timeout",
                    "not sent: more than " + std::to_string(kMaxBacklog) +
                        " requests waiting for a free connection",
                    phase_, stats_);
      } else {
        backlog_.push_back({index, next_send_});
      }
      next_send_ += interval_;
    }
    for (auto& c : conns_) {
      if (backlog_.empty()) break;
      if (c->fd < 0 || c->busy) continue;
      Pending p = backlog_.front();
      backlog_.pop_front();
      Send(*c, p.index, p.scheduled);
    }
  }

  void Send(Conn& c, uint64_t index, Clock::time_point origin) {
    c.out = BuildRequest(config_, c.id, index);
    c.out_pos = 0;
    c.in.clear();
    c.have_action = false;
    c.lines = 0;
    c.busy = true;
    c.start = open_loop_ ? origin : Clock::now();
    c.deadline = Clock::now() + timeout_;
    Write(c);
  }

  // Sends what the socket takes; false when the connection failed.
  bool Write(Conn& c) {
    while (c.out_pos < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_pos += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Fail(c, "io", "write: " + std::string(n < 0 ? std::strerror(errno) : "closed"));
      return false;
    }
    uint32_t want = EPOLLIN;
    if (c.out_pos < c.out.size()) want |= EPOLLOUT;
    if (want != c.events) {
      epoll_event ev{};
      ev.events = want;
      ev.data.u32 = IndexOf(c);
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
      c.events = want;
    }
    return true;
  }

  void Read(Conn& c) {
    char buf[8192];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        if (!c.busy) {
          Fail(c, "protocol", "data from the server without a request");
          return;
        }
        c.in.append(buf, static_cast<size_t>(n));
        if (!Parse(c)) return;
        if (static_cast<size_t>(n) < sizeof(buf)) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      Fail(c, "io", "read: " + std::string(n == 0 ? "eof" : std::strerror(errno)));
      return;
    }
  }

  // Consumes complete reply lines; false when the connection failed.
  bool Parse(Conn& c) {
    size_t pos = 0;
    for (;;) {
      size_t nl = c.in.find('\n', pos);
      if (nl == std::string::npos) break;
      std::string_view line(c.in.data() + pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > kMaxReplyLine) {
        Fail(c, "protocol", "read: error line too long");
        return false;
      }
      if (line.empty()) {
        if (!c.have_action) {
          Fail(c, "protocol", "reply without action=");
          return false;
        }
        stats_->latency.Record(Clock::now() - c.start);
        ++stats_->completed;
        ++stats_->actions[c.action];
        c.busy = false;
        if (pos != c.in.size()) {
          Fail(c, "protocol", "data from the server after the reply");
          return false;
        }
        c.in.clear();
        if (!open_loop_) {
          StartNext(c);
        } else {
          Schedule(Clock::now());
        }
        return c.fd >= 0;
      }
      if (++c.lines > kMaxReplyLines) {
        Fail(c, "protocol", "reply longer than " + std::to_string(kMaxReplyLines) + " lines");
        return false;
      }
      if (line.starts_with("action=") && !c.have_action) {
        c.action = ActionWord(line.substr(7));
        c.have_action = true;
      } else if (line.find('=') == std::string_view::npos) {
        Fail(c, "protocol", "reply line without '=': " + std::string(line.substr(0, 80)));
        return false;
      }
    }
    c.in.erase(0, pos);
    if (c.in.size() > kMaxReplyLine) {
      Fail(c, "protocol", "read: error line too long");
      return false;
    }
    return true;
  }

  // Times out requests past their deadline (and, open loop, waiting ones past their
  // schedule), and reconnects lost connections while the phase runs.
  void Sweep(Clock::time_point now) {
    for (auto& c : conns_) {
      if (c->busy && now >= c->deadline) Fail(*c, "timeout", "read: timeout ");
    }
    while (!backlog_.empty() && now - backlog_.front().scheduled >= timeout_) {
      RecordError("timeout", "not sent: every connection busy until the timeout", phase_, stats_);
      backlog_.pop_front();
    }
    if (phase_over_) return;
    for (auto& c : conns_) {
      if (c->fd >= 0) continue;
      if (open_loop_) {
        Open(*c);
        continue;
      }
      // Like the requests it would carry, a reconnection is claimed from the phase
      // first, so failing ones end with the phase's error budget.
      uint64_t index = 0;
      if (!phase_->Claim(&index)) {
        phase_over_ = true;
        return;
      }
      if (Open(*c)) Send(*c, index, Clock::now());
    }
  }

  struct Pending {
    uint64_t index;
    Clock::time_point scheduled;
  };

  const Config& config_;
  const int thread_;
  Phase* phase_;
  Stats* stats_;
  Clock::duration timeout_{};
  std::vector<std::unique_ptr<Conn>> conns_;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  bool phase_over_ = false;
  bool open_loop_ = false;
  bool scheduling_ = true;
  Clock::duration interval_{};
  Clock::time_point next_send_;
  std::deque<Pending> backlog_;
};

Stats RunPolicyPhase(const Config& config, uint64_t limit, double duration_s, double* elapsed_s) {
  // Connections are dealt out round-robin: thread t drives t, t + threads, ...
  return RunPhase<Stats>(
      config.threads, limit, duration_s, config.max_errors,
      [&](int thread, Phase* phase, Stats* stats) {
        std::vector<int> ids;
        for (int id = thread; id < config.concurrency; id += config.threads) ids.push_back(id);
        Driver(config, thread, std::move(ids), phase, stats).Run();
      },
      elapsed_s);
}

bool ReadListFile(const std::string& path, std::vector<std::string>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::string line;
  constexpr size_t kMaxEntries = 10000000;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > 1000 || line.find('\n') != std::string::npos) {
      *error = path + ": entry too long";
      return false;
    }
    out->push_back(line);
    if (out->size() > kMaxEntries) {
      *error = path + ": too many entries";
      return false;
    }
  }
  return true;
}

void Report(const Config& config, const Stats& s, double elapsed_s, uint64_t warmup_done) {
  const double rate = elapsed_s > 0 ? s.completed / elapsed_s : 0.0;
  const std::map<std::string, uint64_t> errors = s.ErrorsByKind();
  if (config.json) {
    Json o = Json::object();
    o["tool"] = kTool;
    o["socket"] = config.spec.ToString();
    o["concurrency"] = config.concurrency;
    o["threads"] = config.threads;
    o["rate"] = Decimal3(config.rate);
    o["protocol_state"] = config.protocol_state;
    o["warmup"] = warmup_done;
    o["requests"] = s.completed;
    o["failed"] = s.failed;
    o["connections"] = s.connections;
    o["elapsed_s"] = Decimal3(elapsed_s);
    o["req_per_s"] = Decimal3(rate);
    o["latency_ms"] = LatencyJson(s.latency);
    o["actions"] = CountsJson(s.actions);
    o["errors"] = CountsJson(errors);
    PrintJson(o);
    return;
  }
  std::printf("mw-policy-bench: %s concurrency=%d state=%s threads=%d",
              config.spec.ToString().c_str(), config.concurrency, config.protocol_state.c_str(),
              config.threads);
  if (config.rate > 0) std::printf(" rate=%.1f/s (open loop)", config.rate);
  std::printf("\n");
  std::printf(
      "  requests     %llu completed, %llu failed, %llu connections"
      " (warmup %llu)\n",
      static_cast<unsigned long long>(s.completed), static_cast<unsigned long long>(s.failed),
      static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(warmup_done));
  std::printf("  elapsed      %.3f s\n", elapsed_s);
  std::printf("  throughput   %.1f req/s\n", rate);
  std::printf("  latency ms   %s\n", FormatLatencyLine(s.latency).c_str());
  std::printf("  actions      %s\n", FormatCounts(s.actions).c_str());
  std::printf("  errors       %s\n", FormatCounts(errors).c_str());
}

int Usage(const char* error) { return UsageError(kTool, kUsage, error); }

int Main(int argc, char** argv) {
  Config config;
  bool have_requests = false;
  std::string error;
  ArgReader args(argc, argv, /*inline_values=*/true);
  while (args.Next()) {
    const std::string& arg = args.arg();
    std::string v;
    if (OptionResult r = ParseLoadOption(args, &config, &error); r != OptionResult::kNotMine) {
      if (r == OptionResult::kBad) return Usage(error.c_str());
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--requests") {
      if (!args.Uint(1, 1000000000, &config.requests)) {
        return Usage("--requests needs 1..1000000000");
      }
      have_requests = true;
    } else if (arg == "--threads") {
      uint64_t n = 0;
      if (!args.Uint(1, 64, &n)) return Usage("--threads needs 1..64");
      config.threads = static_cast<int>(n);
    } else if (arg == "--rate") {
      if (!args.Value(&v)) return Usage("--rate needs requests per second");
      char* end = nullptr;
      errno = 0;
      double rate = std::strtod(v.c_str(), &end);
      if (errno != 0 || end == v.c_str() || *end != '\0' || !(rate > 0) || rate > 1e7) {
        return Usage("--rate needs requests per second in (0, 10000000]");
      }
      config.rate = rate;
    } else if (arg == "--sender") {
      if (!args.Value(&v)) return Usage("--sender needs an address");
      config.senders.push_back(v);
    } else if (arg == "--recipient") {
      if (!args.Value(&v)) return Usage("--recipient needs an address");
      config.recipients.push_back(v);
    } else if (arg == "--senders-file") {
      if (!args.Value(&v)) return Usage("--senders-file needs a file");
      if (!ReadListFile(v, &config.senders, &error)) return Usage(error.c_str());
    } else if (arg == "--recipients-file") {
      if (!args.Value(&v)) return Usage("--recipients-file needs a file");
      if (!ReadListFile(v, &config.recipients, &error)) return Usage(error.c_str());
    } else if (arg == "--protocol-state") {
      if (!args.Value(&config.protocol_state) || config.protocol_state.empty()) {
        return Usage("--protocol-state needs a value");
      }
    } else if (arg == "--sasl-username") {
      if (!args.Value(&config.sasl_username)) return Usage("--sasl-username needs a user");
    } else if (arg == "--size") {
      if (!args.Uint(0, UINT64_MAX / 2, &config.size)) return Usage("--size needs a byte count");
    } else {
      return Usage(("unknown argument " + arg).c_str());
    }
  }
  Result<SocketSpec> spec = ParseBenchSocket(config.socket_text);
  if (!spec.ok()) return Usage(spec.status().message().c_str());
  config.spec = std::move(spec).value();
  if (config.threads > config.concurrency) {
    return Usage("--threads must not exceed --concurrency");
  }
  if (config.duration_s > 0 && have_requests) {
    return Usage("give --requests or --duration, not both");
  }
  for (const auto* list : {&config.senders, &config.recipients}) {
    for (const std::string& a : *list) {
      if (a.find_first_of("\r\n") != std::string::npos) {
        return Usage("addresses must not contain line breaks");
      }
    }
  }
  if (config.senders.empty()) config.senders.push_back("sender@bench.example");
  if (config.recipients.empty()) {
    config.recipients.push_back("rcpt@bench.example");
  }

  InstallStopSignals();

  bool failed = false;
  uint64_t warmup_done = 0;
  if (config.warmup > 0) {
    double warm_elapsed = 0;
    Stats warm = RunPolicyPhase(config, config.warmup, 0, &warm_elapsed);
    warmup_done = warm.completed;
    if (warm.TotalErrors() > 0) {
      failed = true;
      std::fprintf(stderr, "mw-policy-bench: warmup: %llu errors\n",
                   static_cast<unsigned long long>(warm.TotalErrors()));
    }
  }
  double elapsed_s = 0;
  Stats stats = RunPolicyPhase(config, config.duration_s > 0 ? UINT64_MAX : config.requests,
                               config.duration_s, &elapsed_s);
  if (stats.TotalErrors() > 0) {
    failed = true;
    for (const std::string& e : stats.error_samples) {
      std::fprintf(stderr, "mw-policy-bench: %s\n", e.c_str());
    }
  }
  if (stats.completed == 0) failed = true;
  if (StopRequested()) std::fprintf(stderr, "mw-policy-bench: interrupted\n");
  Report(config, stats, elapsed_s, warmup_done);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace mailwarden::bench

int main(int argc, char** argv) { return mailwarden::bench::Main(argc, argv); }

// The policy daemon's event loop.
//
// Distrusts its clients: any connection may send garbage, send nothing, send without
// reading, or vanish. Limits: max_connections, idle_timeout, the parser's line and
// attribute limits, kReadChunk bytes read per event (so one busy client cannot starve
// the others), kOutputHighWater bytes of unsent answers before reading from that client
// pauses, kMaxAcceptsPerEvent. Bad input is logged (escaped) and closes that connection
// without an answer, as SMTPD_POLICY_README asks ("in case of trouble ... log a warning
// and disconnect"); Postfix then retries or applies smtpd_policy_service_default_action.
// Requests evaluated in the pool are tracked by connection id, never by pointer: a
// connection may close (client gone, idle, stop) while its request is in a worker, and
// its answer is then dropped when it comes back.
#include "policyd/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <exception>

#include "common/daemon.h"
#include "common/log.h"

namespace mailwarden {
namespace {

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kSignalTag = 2;
constexpr uint64_t kWakeTag = 3;
constexpr uint64_t kFirstConnectionId = 16;

constexpr size_t kReadChunk = size_t{16} * 1024;
constexpr size_t kOutputHighWater = size_t{64} * 1024;
constexpr int kMaxAcceptsPerEvent = 64;
constexpr int kMaxEvents = 256;
constexpr int kMaxSignalsPerEvent = 16;
constexpr auto kRefusedLogInterval = std::chrono::seconds(1);

std::string Errno(int err) { return std::strerror(err); }

std::string Plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

struct PolicyServer::Connection {
  Connection(uint64_t id_in, UniqueFd fd_in, std::string peer_in, PolicyLimits limits,
             Clock::time_point now)
      : id(id_in),
        fd(std::move(fd_in)),
        peer(std::move(peer_in)),
        parser(limits),
        last_activity(now) {}

  size_t pending() const { return out.size() - out_pos; }
  // Requests received and not yet answered.
  bool busy() const { return evaluating || !waiting.empty(); }
  std::string Name() const {
    return "connection #" + std::to_string(id - kFirstConnectionId + 1) + " (" + peer + ")";
  }

  uint64_t id;
  UniqueFd fd;
  std::string peer;
  PolicyRequestParser parser;
  std::string out;  // answers not yet sent, from out_pos on
  size_t out_pos = 0;
  std::deque<PolicyRequest> waiting;  // complete requests not yet evaluated, in order
  bool evaluating = false;            // a request of this connection is in the pool
  bool closing = false;               // bad input came: answer what came before it, then close
  uint64_t requests = 0;
  Clock::time_point last_activity;  // accepted, or last complete request
  std::list<Connection*>::iterator activity_pos;
  uint32_t interest = EPOLLIN;
};

PolicyServer::PolicyServer(UniqueFd listen_fd, Hooks hooks, Options options)
    : hooks_(std::move(hooks)),
      options_(options),
      listen_fd_(std::move(listen_fd)),
      read_buffer_(kReadChunk) {}

PolicyServer::~PolicyServer() = default;

Result<std::unique_ptr<PolicyServer>> PolicyServer::Create(UniqueFd listen_fd, Hooks hooks,
                                                           Options options) {
  if (hooks.rules == nullptr || hooks.log == nullptr || hooks.rules->Get() == nullptr ||
      hooks.log->Get() == nullptr) {
    return Status::InvalidArgument("policy server needs rules and a decision log");
  }
  std::unique_ptr<PolicyServer> server(
      new PolicyServer(std::move(listen_fd), std::move(hooks), options));
  server->epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!server->epoll_fd_.valid()) return Status::IoError("epoll_create1: " + Errno(errno));
  auto add = [&](int fd, uint64_t tag) -> Status {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(server->epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Status::IoError("epoll_ctl: " + Errno(errno));
    }
    return Status::Ok();
  };
  if (Status s = add(server->listen_fd_.get(), kListenTag); !s.ok()) return s;
  if (options.handle_signals) {
    sigset_t set = DaemonSignalSet();
    server->signal_fd_.reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!server->signal_fd_.valid()) return Status::IoError("signalfd: " + Errno(errno));
    if (Status s = add(server->signal_fd_.get(), kSignalTag); !s.ok()) return s;
  }
  server->wake_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!server->wake_fd_.valid()) return Status::IoError("eventfd: " + Errno(errno));
  if (Status s = add(server->wake_fd_.get(), kWakeTag); !s.ok()) return s;
  server->spare_fd_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int64_t workers = server->hooks_.rules->Get()->config().value("policyd.workers").number;
  if (workers > 0) {
    auto pool = WorkerPool::Create(static_cast<int>(workers));
    if (!pool.ok()) return pool.status();
    server->pool_ = std::move(pool).value();
  }
  return server;
}

void PolicyServer::Stop() {
  // Lock-free atomics are async-signal-safe.
  stop_requested_.store(true, std::memory_order_relaxed);
  uint64_t one = 1;
  // Async-signal-safe; a full counter (impossible in practice) still leaves it readable.
  ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
  (void)n;
}

std::chrono::seconds PolicyServer::IdleTimeout() const {
  return std::chrono::seconds(rules_->config().policyd.idle_timeout);
}

Status PolicyServer::Run() {
  std::array<epoll_event, kMaxEvents> events;
  now_ = Clock::now();
  for (;;) {
    // A reload replaces the snapshots; the loop reads them before and after each wait.
    rules_ = hooks_.rules->Get();
    log_ = hooks_.log->Get();
    if (stopping_ && (connections_.empty() || now_ >= stop_deadline_)) break;
    int n = epoll_wait(epoll_fd_.get(), events.data(), kMaxEvents, NextTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("epoll_wait: " + Errno(errno));
    }
    now_ = Clock::now();
    // Again after the wait, which may have been long: a reload in between applies to the
    // very next request.
    rules_ = hooks_.rules->Get();
    log_ = hooks_.log->Get();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      uint32_t ev = events[i].events;
      if (tag == kListenTag) {
        if (listen_fd_.valid()) OnAccept();
        continue;
      }
      if (tag == kSignalTag) {
        OnSignal();
        continue;
      }
      if (tag == kWakeTag) {
        OnWake();
        continue;
      }
      // A connection closed earlier in this round is simply not found.
      auto it = connections_.find(tag);
      if (it == connections_.end()) continue;
      Connection& conn = *it->second;
      if ((ev & EPOLLOUT) && !OnWritable(conn)) continue;
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (conn.interest & EPOLLIN) {
          if (!OnReadable(conn)) continue;
        } else if (ev & (EPOLLHUP | EPOLLERR)) {
          Close(conn);
          continue;
        }
      }
      FinishIfDone(conn);
    }
    ExpireIdle();
    LogRefused(false);
    if (drain_sweep_pending_) DrainSweep();
  }
  uint64_t busy = 0;
  for (const auto& [id, conn] : connections_) {
    if (!conn->parser.idle() || conn->pending() > 0 || conn->busy()) ++busy;
  }
  if (busy > 0) {
    LogWarn("closing " + Plural(busy, "connection") +
            " in the middle of a request (policyd.shutdown_timeout passed or stop repeated); "
            "Postfix applies its smtpd_policy_service_default_action");
  }
  while (!connections_.empty()) Close(*connections_.begin()->second);
  // Evaluations still running use their own snapshots; their answers have nowhere to go.
  if (pool_) pool_->Shutdown();
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_.clear();
  }
  LogRefused(true);
  rules_.reset();
  log_.reset();
  return Status::Ok();
}

int PolicyServer::NextTimeoutMs() const {
  Clock::time_point next = Clock::time_point::max();
  if (!by_activity_.empty()) next = by_activity_.front()->last_activity + IdleTimeout();
  if (stopping_) next = std::min(next, stop_deadline_);
  if (refused_unlogged_ > 0) next = std::min(next, refused_logged_at_ + kRefusedLogInterval);
  if (next == Clock::time_point::max()) return -1;
  Clock::time_point now = Clock::now();
  if (next <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

void PolicyServer::OnAccept() {
  for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EMFILE || err == ENFILE) {
        // Out of descriptors: the pending connection would keep the listener readable
        // and spin the loop. Give up the spare descriptor to accept it and close it.
        spare_fd_.reset();
        int victim = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (victim >= 0) close(victim);
        spare_fd_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
        NoteRefused("out of file descriptors (raise LimitNOFILE / ulimit -n)");
        return;
      }
      LogError("accept: " + Errno(err));
      return;
    }
    UniqueFd client(fd);
    const PolicydOptions& options = rules_->config().policyd;
    if (static_cast<int64_t>(connections_.size()) >= options.max_connections) {
      NoteRefused("policyd.max_connections (" + std::to_string(options.max_connections) +
                  ") reached");
      continue;  // `client` closes the socket
    }
    uint64_t id = kFirstConnectionId + next_id_++;
    PolicyLimits limits{static_cast<size_t>(options.max_line_length),
                        static_cast<size_t>(options.max_attributes)};
    auto conn = std::make_unique<Connection>(id, std::move(client), PeerName(addr), limits, now_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, conn->fd.get(), &ev) != 0) {
      LogError("epoll_ctl: " + Errno(errno) + "; dropping a new connection");
      continue;
    }
    conn->activity_pos = by_activity_.insert(by_activity_.end(), conn.get());
    connections_.emplace(id, std::move(conn));
    counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  }
}

void PolicyServer::NoteRefused(const std::string& why) {
  counters_.refused.fetch_add(1, std::memory_order_relaxed);
  ++refused_unlogged_;
  refused_reason_ = why;
  LogRefused(false);
}

void PolicyServer::LogRefused(bool force) {
  if (refused_unlogged_ == 0) return;
  if (!force && now_ - refused_logged_at_ < kRefusedLogInterval) return;
  LogWarn("refused " + Plural(refused_unlogged_, "connection") + ": " + refused_reason_);
  refused_unlogged_ = 0;
  refused_logged_at_ = now_;
}

void PolicyServer::OnSignal() {
  for (int i = 0; i < kMaxSignalsPerEvent; ++i) {
    signalfd_siginfo info{};
    ssize_t n = read(signal_fd_.get(), &info, sizeof(info));
    if (n != static_cast<ssize_t>(sizeof(info))) return;
    switch (info.ssi_signo) {
      case SIGHUP:
        if (hooks_.reload) hooks_.reload();
        break;
      case SIGUSR1:
        if (Status s = log_->Reopen(); !s.ok()) {
          LogError(s.message());
        } else {
          LogInfo("decision log reopened");
        }
        break;
      case SIGTERM:
      case SIGINT:
        BeginStop();
        break;
      default:
        break;
    }
  }
}

void PolicyServer::OnWake() {
  uint64_t count = 0;
  ssize_t n = read(wake_fd_.get(), &count, sizeof(count));
  (void)n;
  if (stop_requested_.exchange(false, std::memory_order_relaxed)) BeginStop();
  TakeDone();
}

void PolicyServer::TakeDone() {
  std::vector<Done> done;
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done.swap(done_);
  }
  for (Done& d : done) {
    // The connection may have closed while its request was in a worker.
    auto it = connections_.find(d.connection_id);
    if (it == connections_.end()) continue;
    Connection& conn = *it->second;
    conn.evaluating = false;
    if (!Deliver(conn, std::move(d.outcome))) continue;
    if (!Dispatch(conn)) continue;
    if (!Flush(conn)) continue;
    FinishIfDone(conn);
  }
}

void PolicyServer::BeginStop() {
  if (stopping_) {
    LogInfo("stop requested again: closing the remaining connections now");
    stop_deadline_ = now_;
    return;
  }
  stopping_ = true;
  if (listen_fd_.valid()) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
    listen_fd_.reset();
  }
  int64_t grace = rules_->config().policyd.shutdown_timeout;
  stop_deadline_ = now_ + std::chrono::seconds(grace);
  drain_sweep_pending_ = true;
  LogInfo("stopping: no new connections; answering requests already received on " +
          Plural(connections_.size(), "connection") + " (at most " + std::to_string(grace) + "s)");
}

void PolicyServer::DrainSweep() {
  drain_sweep_pending_ = false;
  std::vector<uint64_t> ids;
  ids.reserve(connections_.size());
  for (const auto& [id, conn] : connections_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    Connection& conn = *it->second;
    // One read picks up requests that arrived since the last epoll round; an idle
    // connection just sees EAGAIN and is closed below.
    if ((conn.interest & EPOLLIN) && !OnReadable(conn)) continue;
    FinishIfDone(conn);
  }
}

void PolicyServer::ExpireIdle() {
  constexpr int kDetailedLines = 3;  // per round; the rest is summed up
  auto timeout = IdleTimeout();
  std::string why =
      "no complete request for " + std::to_string(timeout.count()) + "s (policyd.idle_timeout)";
  uint64_t quiet = 0, unfinished = 0;
  std::string quiet_name;
  // Connections are ordered by last activity, so only the oldest need looking at.
  while (!by_activity_.empty()) {
    Connection& conn = *by_activity_.front();
    if (conn.last_activity + timeout > now_) break;
    if (conn.busy()) {
      // Waiting for its answer is not idleness.
      conn.last_activity = now_;
      by_activity_.splice(by_activity_.end(), by_activity_, conn.activity_pos);
      continue;
    }
    counters_.idle_closed.fetch_add(1, std::memory_order_relaxed);
    if (conn.parser.idle()) {
      // Routine: an smtpd that had nothing to ask. Summed up below.
      if (++quiet == 1) quiet_name = conn.Name() + " after " + Plural(conn.requests, "request");
    } else if (++unfinished <= kDetailedLines) {
      LogWarn(conn.Name() + ": " + why + "; dropping " +
              std::to_string(conn.parser.buffered_bytes()) + " bytes of an unfinished request");
    }
    Close(conn);
  }
  if (quiet == 1) LogInfo("closed " + quiet_name + ": " + why);
  if (quiet > 1) LogInfo("closed " + Plural(quiet, "idle connection") + ": " + why);
  if (unfinished > kDetailedLines) {
    LogWarn("dropped " + std::to_string(unfinished - kDetailedLines) +
            " more connections with an unfinished request: " + why);
  }
}

bool PolicyServer::OnReadable(Connection& conn) {
  ssize_t n = read(conn.fd.get(), read_buffer_.data(), read_buffer_.size());
  if (n < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return true;
    if (err != ECONNRESET || !conn.parser.idle()) {
      LogWarn(conn.Name() + ": read: " + Errno(err) + "; closing");
    }
    Close(conn);
    return false;
  }
  if (n == 0) {
    // Postfix closes idle policy connections itself (smtpd_policy_service_max_idle): only
    // a close in the middle of a request is worth a line.
    if (conn.busy()) {
      LogWarn(conn.Name() + ": client closed the connection before its answer was ready");
    } else if (!conn.parser.idle()) {
      LogWarn(conn.Name() + ": client closed the connection in the middle of a request");
    }
    Close(conn);
    return false;
  }
  std::string_view data(read_buffer_.data(), static_cast<size_t>(n));
  // Each round either consumes bytes or completes a request, so this ends.
  while (!data.empty()) {
    Result<size_t> used = conn.parser.Feed(data);
    if (!used.ok()) {
      counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      LogWarn(conn.Name() + ": " + used.status().message() + "; closing without an answer after " +
              Plural(conn.requests, "request"));
      return CloseAfterAnswers(conn);
    }
    data.remove_prefix(*used);
    if (conn.parser.has_request()) {
      PolicyRequest request = conn.parser.TakeRequest();
      if (request.request() != "smtpd_access_policy") {
        counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
        LogWarn(conn.Name() + ": unsupported request type " + PrintableExcerpt(request.request()) +
                " (only smtpd_access_policy); closing without an answer");
        return CloseAfterAnswers(conn);
      }
      conn.waiting.push_back(std::move(request));
      conn.last_activity = now_;
      by_activity_.splice(by_activity_.end(), by_activity_, conn.activity_pos);
    } else if (*used == 0) {
      break;  // cannot happen; never spin
    }
  }
  // A chunk holds at most kReadChunk bytes, so `waiting` may pass kMaxQueuedRequests by
  // that much at most; UpdateInterest() then stops reading.
  if (!Dispatch(conn)) return false;
  return Flush(conn);
}

bool PolicyServer::CloseAfterAnswers(Connection& conn) {
  conn.closing = true;
  // Answers to earlier requests go out first: Dispatch() closes the connection after the
  // last one, now when they are evaluated inline, else when the pool's answer comes back.
  if (Dispatch(conn)) Flush(conn);  // reading stops: `closing`
  return false;
}

bool PolicyServer::UsePool(const PolicyRequest& request) {
  if (!pool_) return false;
  if (options_.pool_every_request) return true;
  if (store_rules_checked_ != rules_.get()) {
    store_rules_checked_ = rules_.get();
    store_rules_ = PolicyRules::NeedsAccountDirectory(rules_->config()) ||
                   PolicyRules::NeedsRateCounters(rules_->config());
  }
  return store_rules_ && !rules_->AnswersFromMemory(request);
}

bool PolicyServer::Dispatch(Connection& conn) {
  while (!conn.evaluating && !conn.waiting.empty()) {
    PolicyRequest request = std::move(conn.waiting.front());
    conn.waiting.pop_front();
    if (UsePool(request)) {
      uint64_t id = conn.id;
      bool all = options_.log_every_answer;
      bool queued =
          pool_->Submit([this, id, all, rules = rules_, log = log_, request = std::move(request)] {
            Outcome outcome = EvaluateRequest(*rules, *log, request, all);
            bool was_empty;
            {
              std::lock_guard<std::mutex> lock(done_mu_);
              was_empty = done_.empty();
              done_.push_back({id, std::move(outcome)});
            }
            // One wake-up per batch: the loop takes every answer queued when it wakes.
            if (was_empty) {
              uint64_t one = 1;
              ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
              (void)n;
            }
          });
      if (!queued) {
        // Only after Shutdown(), which Run() calls once the loop is over: cannot happen.
        LogError(conn.Name() + ": the worker pool is shut down; closing");
        Close(conn);
        return false;
      }
      conn.evaluating = true;
      counters_.pooled.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    if (!Deliver(conn, EvaluateRequest(*rules_, *log_, request, options_.log_every_answer))) {
      return false;
    }
  }
  if (conn.closing && !conn.busy()) {
    if (Flush(conn)) Close(conn);
    return false;
  }
  return true;
}

PolicyServer::Outcome PolicyServer::EvaluateRequest(const PolicyRules& rules, DecisionLog& log,
                                                    const PolicyRequest& request, bool log_all) {
  Outcome outcome;
  try {
    PolicyDecision decision;
    try {
      decision = rules.Evaluate(request);
    } catch (const std::exception& e) {
      // Out of memory or a bug outside any rule: answer per on_internal_error if we can.
      decision = rules.InternalError("", e.what());
    }
    if (PolicyRules::ShouldLog(decision, log_all)) {
      // The answer does not depend on the log: a record that cannot be built is reported
      // and the answer goes out anyway.
      try {
        log.Write(rules.DecisionRecord(request, decision));
      } catch (const std::exception& e) {
        outcome.error = "cannot write the decision log: " + std::string(e.what());
      }
    }
    outcome.answer = decision.ActionLine();
    outcome.answer += "\n\n";
  } catch (const std::exception& e) {
    outcome.close = true;
    outcome.answer.clear();
    outcome.error = "cannot answer (" + std::string(e.what()) + "); closing";
  }
  return outcome;
}

bool PolicyServer::Deliver(Connection& conn, Outcome outcome) {
  if (outcome.close) {
    LogError(conn.Name() + ": " + outcome.error);
    Close(conn);
    return false;
  }
  if (!outcome.error.empty()) LogError(conn.Name() + ": " + outcome.error);
  conn.out += outcome.answer;
  ++conn.requests;
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  conn.last_activity = now_;
  by_activity_.splice(by_activity_.end(), by_activity_, conn.activity_pos);
  return true;
}

bool PolicyServer::OnWritable(Connection& conn) { return Flush(conn); }

bool PolicyServer::Flush(Connection& conn) {
  while (conn.pending() > 0) {
    ssize_t n = send(conn.fd.get(), conn.out.data() + conn.out_pos, conn.pending(), MSG_NOSIGNAL);
    if (n > 0) {
      conn.out_pos += static_cast<size_t>(n);
      continue;
    }
    int err = errno;
    if (n < 0 && err == EINTR) continue;
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) break;
    if (err != EPIPE && err != ECONNRESET) LogWarn(conn.Name() + ": send: " + Errno(err));
    Close(conn);
    return false;
  }
  if (conn.pending() == 0) {
    conn.out.clear();
    conn.out_pos = 0;
  } else if (conn.out_pos >= kOutputHighWater) {
    conn.out.erase(0, conn.out_pos);
    conn.out_pos = 0;
  }
  UpdateInterest(conn);
  return true;
}

void PolicyServer::UpdateInterest(Connection& conn) {
  uint32_t want = 0;
  // Else back-pressure: the client reads its answers, or its queue drains, first.
  if (conn.pending() < kOutputHighWater && conn.waiting.size() < kMaxQueuedRequests &&
      !conn.closing) {
    want |= EPOLLIN;
  }
  if (conn.pending() > 0) want |= EPOLLOUT;
  if (want == conn.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = conn.id;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, conn.fd.get(), &ev) != 0) {
    LogError(conn.Name() + ": epoll_ctl: " + Errno(errno));
    return;
  }
  conn.interest = want;
}

bool PolicyServer::FinishIfDone(Connection& conn) {
  if (stopping_ && conn.parser.idle() && conn.pending() == 0 && !conn.busy()) {
    Close(conn);
    return false;
  }
  return true;
}

void PolicyServer::Close(Connection& conn) {
  by_activity_.erase(conn.activity_pos);
  // Destroying the connection closes its socket, which also leaves the epoll set.
  connections_.erase(conn.id);
}

}  // namespace mailwarden

// mailwarden-policyd's network side: one thread running one epoll loop over the listening
// socket, every client connection, a signalfd and a wake-up eventfd.
//
// Postfix keeps one persistent connection per smtpd process and sends one request at a
// time on it, so the daemon holds many mostly idle connections and answers each request
// in microseconds from memory: one thread serves them all without locks, and a slow
// client only ever costs its own buffers. Sockets are non-blocking and level-triggered;
// each connection has a bounded request parser (see policy_request.h) and an output
// buffer; when a client does not read its answers, the server stops reading from it
// until the buffer drains, so pipelining cannot grow memory without bound.
//
// Limits, from the rules snapshot's config at the time they apply: max_connections
// (extra connections are accepted and closed at once, with a rate-limited log line, so
// clients do not hang in the backlog), idle_timeout (no complete request for that long
// closes the connection), max_line_length and max_attributes (for new connections).
//
// Signals (when Options::handle_signals; block them first with BlockDaemonSignals()):
// SIGHUP calls Hooks::reload, SIGUSR1 reopens the decision log, SIGTERM/SIGINT stop:
// the listener closes, requests already received are answered, idle connections close,
// and Run() returns once every connection is done or policyd.shutdown_timeout has passed
// (a second SIGTERM/SIGINT cuts the wait short).
//
// Run() must be called from one thread; Stop() and counters() from any thread.
#ifndef MAILWARDEN_POLICYD_SERVER_H_
#define MAILWARDEN_POLICYD_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/decision_log.h"
#include "common/snapshot.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "policyd/policy_request.h"
#include "policyd/policy_rules.h"

namespace mailwarden {

class PolicyServer {
 public:
  struct Hooks {
    SnapshotHolder<const PolicyRules>* rules = nullptr;  // the rules (and config) in force
    SnapshotHolder<DecisionLog>* log = nullptr;          // the decision log in force
    // Called on SIGHUP from the loop thread; must return at once (hand the work over to
    // another thread, which then replaces the snapshots above).
    std::function<void()> reload;
  };
  struct Options {
    bool handle_signals = true;     // false: only Stop() ends Run() (tests)
    bool log_every_answer = false;  // also log DUNNO answers no rule produced (--debug)
  };
  // Monotonic counters, readable from any thread.
  struct Counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> refused{0};          // over max_connections or out of descriptors
    std::atomic<uint64_t> requests{0};         // answered
    std::atomic<uint64_t> protocol_errors{0};  // connections closed for bad input
    std::atomic<uint64_t> idle_closed{0};      // connections closed by idle_timeout
  };

  // Takes `listen_fd` (a non-blocking listening socket, from OpenListener) and sets up
  // the loop. kIoError when epoll, signalfd or eventfd cannot be created.
  static Result<std::unique_ptr<PolicyServer>> Create(UniqueFd listen_fd, Hooks hooks,
                                                      Options options);
  ~PolicyServer();
  PolicyServer(const PolicyServer&) = delete;
  PolicyServer& operator=(const PolicyServer&) = delete;

  // Serves until stopped (signal or Stop()), then drains as described above.
  // kIoError only when epoll itself fails.
  Status Run();
  // Starts the graceful stop, like SIGTERM. Thread-safe and async-signal-safe.
  void Stop();
  const Counters& counters() const { return counters_; }

 private:
  struct Connection;
  using Clock = std::chrono::steady_clock;

  PolicyServer(UniqueFd listen_fd, Hooks hooks, Options options);
  void OnAccept();
  void OnSignal();
  void OnWake();
  // Each returns false when it closed the connection (`conn` is then gone).
  bool OnReadable(Connection& conn);
  bool OnWritable(Connection& conn);
  bool HandleRequest(Connection& conn, const PolicyRequest& request);
  bool Flush(Connection& conn);
  bool FinishIfDone(Connection& conn);
  void UpdateInterest(Connection& conn);
  void Close(Connection& conn);
  void BeginStop();
  void ExpireIdle();
  void DrainSweep();
  void NoteRefused(const std::string& why);
  void LogRefused(bool force);
  int NextTimeoutMs() const;
  std::chrono::seconds IdleTimeout() const;

  Hooks hooks_;
  Options options_;
  std::shared_ptr<const PolicyRules> rules_;  // this round's snapshots
  std::shared_ptr<DecisionLog> log_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd signal_fd_;
  UniqueFd wake_fd_;
  UniqueFd spare_fd_;  // given up to accept-and-close when out of descriptors
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::list<Connection*> by_activity_;  // least recently active first
  uint64_t next_id_ = 0;
  Clock::time_point now_;
  bool stopping_ = false;
  bool drain_sweep_pending_ = false;
  Clock::time_point stop_deadline_;
  uint64_t refused_unlogged_ = 0;
  std::string refused_reason_;
  Clock::time_point refused_logged_at_;
  std::vector<char> read_buffer_;
  Counters counters_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_SERVER_H_

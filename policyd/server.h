// mailwarden-policyd's network side: one thread running one epoll loop over the listening
// socket, every client connection, a signalfd and a wake-up eventfd, plus a fixed pool of
// worker threads (policyd.workers, worker_pool.h) for the rules that call a store.
//
// Postfix keeps one persistent connection per smtpd process and sends one request at a
// time on it, so the daemon holds many mostly idle connections. The loop thread alone
// accepts, reads, parses (bounded parser, see policy_request.h) and writes; sockets are
// non-blocking and level-triggered, each connection has an output buffer, and when a
// client does not read its answers the server stops reading from it until the buffer
// drains, so pipelining cannot grow memory without bound.
//
// Where a request is evaluated: on the loop thread when its rules can answer from memory
// (PolicyRules::AnswersFromMemory): memory-only rules (sender_blocklist) always, store
// rules when what they need is in their caches (lookup_cache.h; with SQLite stores, whose
// change marks keep answers until someone writes, that is nearly every request once the
// accounts in use have been seen). That takes microseconds, and the hand-over to a thread
// costs more (measured, 2 cores, 64 connections: a median of 44,500 requests/s inline
// against 20,200 through the pool; bench/README.md). Requests whose rules must call a
// store (a cache miss, a counter update at END-OF-MESSAGE) may wait up to the store's
// timeout_ms budget (200 ms) on a disk or a network, which on the loop would stall every
// connection; they go to the pool, and the answer comes back through a queue and the
// wake-up eventfd (one write per batch of answers). Its point is that a slow store call
// holds one worker, not every connection. policyd.workers = 0 evaluates everything
// inline. The choice is made per request from the rules snapshot in force
// (Options::pool_every_request forces the pool, for tests and measurements).
// Per connection at most one request is evaluated at a time; requests that follow it on
// the same connection wait (at most kMaxQueuedRequests, then reading from that client
// pauses), so answers keep request order. Workers post answers by connection id: an
// answer for a connection closed meanwhile is dropped.
//
// Limits, from the rules snapshot's config at the time they apply: max_connections
// (extra connections are accepted and closed at once, with a rate-limited log line, so
// clients do not hang in the backlog), idle_timeout (no complete request for that long
// closes the connection; one being evaluated is never idle), max_line_length and
// max_attributes (for new connections). policyd.workers is read once, by Create().
//
// Signals (when Options::handle_signals; block them first with BlockDaemonSignals()):
// SIGHUP calls Hooks::reload, SIGUSR1 reopens the decision log, SIGTERM/SIGINT stop:
// the listener closes, requests already received (those in workers included) are
// answered, idle connections close, and Run() returns once every connection is done or
// policyd.shutdown_timeout has passed (a second SIGTERM/SIGINT cuts the wait short). Run()
// then drops the requests not yet started and waits for the workers' running evaluations
// (each bounded by its store's budget) before it returns.
//
// Run() must be called from one thread; Stop() and counters() from any thread. The rules
// and the decision log are thread-safe (policy_rules.h, decision_log.h); each request
// uses the snapshots in force when it was handed over.
#ifndef MAILWARDEN_POLICYD_SERVER_H_
#define MAILWARDEN_POLICYD_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/decision_log.h"
#include "common/snapshot.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "policyd/policy_request.h"
#include "policyd/policy_rules.h"
#include "policyd/worker_pool.h"

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
    // Sends every request to the pool (when policyd.workers > 0), memory-only rules too
    // (tests of the pool's paths, and measuring the hand-over's cost).
    bool pool_every_request = false;
  };
  // Monotonic counters, readable from any thread.
  struct Counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> refused{0};          // over max_connections or out of descriptors
    std::atomic<uint64_t> requests{0};         // answered
    std::atomic<uint64_t> pooled{0};           // of those, evaluated in the worker pool
    std::atomic<uint64_t> protocol_errors{0};  // connections closed for bad input
    std::atomic<uint64_t> idle_closed{0};      // connections closed by idle_timeout
  };

  // Requests waiting behind the one being evaluated on a connection before reading from
  // it pauses.
  static constexpr size_t kMaxQueuedRequests = 64;

  // Takes `listen_fd` (a non-blocking listening socket, from OpenListener) and sets up
  // the loop and policyd.workers threads. kIoError when epoll, signalfd or eventfd cannot
  // be created, kInternal when the threads cannot be started.
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
  // What evaluating one request produced: the answer lines, or (close) none at all.
  struct Outcome {
    std::string answer;  // "action=...\n\n"
    bool close = false;  // no answer could be built: close the connection
    std::string error;   // for the log, with the connection's name before it
  };
  struct Done {
    uint64_t connection_id;
    Outcome outcome;
  };

  PolicyServer(UniqueFd listen_fd, Hooks hooks, Options options);
  void OnAccept();
  void OnSignal();
  void OnWake();
  // Each returns false when it closed the connection (`conn` is then gone) or stopped
  // serving it (bad input: it closes once the answers before are out).
  bool OnReadable(Connection& conn);
  bool OnWritable(Connection& conn);
  // Evaluates the requests waiting on `conn`, inline or one at a time in the pool.
  bool Dispatch(Connection& conn);
  bool Deliver(Connection& conn, Outcome outcome);
  // Closes `conn` once the answers to the requests before a bad one are out.
  bool CloseAfterAnswers(Connection& conn);
  // Whether `request` goes to the pool: its rules need a store call (not answered from
  // the caches).
  bool UsePool(const PolicyRequest& request);
  void TakeDone();
  static Outcome EvaluateRequest(const PolicyRules& rules, DecisionLog& log,
                                 const PolicyRequest& request, bool log_all);
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
  std::atomic<bool> stop_requested_{false};  // set by Stop(), read by OnWake()
  // Does rules_ call a store? Cached per snapshot.
  const PolicyRules* store_rules_checked_ = nullptr;
  bool store_rules_ = false;
  std::mutex done_mu_;
  std::vector<Done> done_;  // answers from the workers, guarded by done_mu_
  // Last: destroyed first, so no worker outlives what its tasks use.
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_SERVER_H_

// mailwarden-milter's network side: serves the milter protocol (session.h) on a listening
// socket, one connection per worker thread, with buffered reads.
//
// Why not libmilter: libmilter reads each command with a poll() and two read()s (length,
// then data), writes each reply packet with its own write(), and creates and destroys a
// thread per MTA connection. For a filter that answers two steps per message and streams
// the rest, those system calls and thread starts cost more CPU than the inspection of a
// 4 KiB message (bench/README.md). Here a worker reads whatever the MTA has sent into one
// buffer (often several commands, or two body chunks, per read), hands every complete
// packet to the session, and writes the replies of that batch in one write().
//
// Threads: Postfix keeps one milter connection per smtpd process for the whole SMTP
// session, and end of message may take long (archives, later virus scans), so a
// connection keeps a thread while it lasts: a slow message never delays another
// connection. Workers wait in accept() on the shared listening socket; a worker that takes
// the last idle slot starts another one first, up to max_connections; a worker that
// finishes a connection while many others are idle ends. Beyond max_connections, new
// connections wait in the listen backlog until one ends (the MTA's connect timeout, 30 s in
// Postfix, then applies its milter_default_action); the limit being reached is logged.
//
// Each read and write waits at most timeout_seconds (SO_RCVTIMEO/SO_SNDTIMEO): an MTA
// silent for that long is dropped, and the message it had in progress is aborted.
#ifndef MAILWARDEN_MILTER_PROTOCOL_SERVER_H_
#define MAILWARDEN_MILTER_PROTOCOL_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "common/unique_fd.h"
#include "milter/protocol/session.h"

namespace mailwarden {

class MilterServer {
 public:
  struct Options {
    int timeout_seconds = 300;   // between two reads or writes of one connection
    int max_connections = 1024;  // served at once
  };
  struct Counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> protocol_errors{0};  // connections closed for bad input
    std::atomic<uint64_t> timeouts{0};         // connections closed for silence
    std::atomic<int> active{0};                // connections being served now
    std::atomic<int> workers{0};               // worker threads alive
  };

  // Takes a listening socket (OpenListener). `factory` makes the filter's side of each
  // connection; it and the capabilities must stay valid while the process runs.
  MilterServer(UniqueFd listen_fd, MilterCapabilities capabilities,
               MilterSession::HandlerFactory factory, Options options);
  MilterServer(const MilterServer&) = delete;
  MilterServer& operator=(const MilterServer&) = delete;

  // Serves in the calling thread and in the workers it starts. Returns only when the
  // listening socket fails for good (kIoError); the daemon ends the process otherwise, so
  // workers are never joined.
  Status Run();
  const Counters& counters() const { return counters_; }

 private:
  // Accepts and serves until the socket fails. A worker that may retire ends when enough
  // others are idle; the one in Run() never does, so Run() returns only on failure.
  void WorkerLoop(bool may_retire);
  void StartWorker();
  void Serve(UniqueFd fd, const std::string& peer);
  void NoteLimitReached();

  UniqueFd listen_fd_;
  const MilterCapabilities capabilities_;
  const MilterSession::HandlerFactory factory_;
  const Options options_;
  std::atomic<int> idle_{0};     // workers waiting in accept()
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> limit_logged_at_{0};
  Counters counters_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_PROTOCOL_SERVER_H_

// Socket plumbing shared by the mailwarden benchmark tools.
//
// Socket addresses are mailwarden's SocketSpec (common/socket_spec.h);
// ParseBenchSocket() adds the one convenience the tools have always had on
// top of it: an inet spec without a host means loopback.
//
// Connection is a client stream socket whose every operation is bounded in
// time. Writes are buffered and only hit the wire on Flush(), because
// that is how Postfix talks to milters: it assembles a whole "transaction"
// (e.g. the MACRO packet plus the event packet, or a run of header packets
// when the milter does not reply per header) in a VSTREAM buffer and flushes
// it right before it waits for a reply. Emulating that matters: writing each
// packet with its own send() would let Nagle's algorithm on the client side
// stall the exchange, which Postfix never sees.
//
// Thread-safety: a Connection belongs to one thread. ParseBenchSocket() is a
// pure function.

#ifndef MAILWARDEN_BENCH_BENCH_NET_H_
#define MAILWARDEN_BENCH_BENCH_NET_H_

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/socket_spec.h"
#include "common/status.h"

namespace mailwarden::bench {

using Clock = std::chrono::steady_clock;

// Parses a socket spec given on a tool's command line: mailwarden's notation
// (ParseSocketSpec: "inet:HOST:PORT", "inet:[V6ADDR]:PORT", "inet:PORT@HOST",
// "inet6:PORT@HOST", "unix:/path", "local:/path"), and, for the inet types,
// "inet:PORT", "inet:PORT@" and "inet::PORT", whose host is 127.0.0.1 (::1
// for inet6). kInvalidArgument on malformed input.
Result<SocketSpec> ParseBenchSocket(std::string_view text);

// Whether `sa` is a loopback address (127/8, ::1, or 127/8 mapped into IPv6): a load
// generator refuses other destinations unless told otherwise.
bool IsLoopback(const sockaddr* sa);

// Outcome of an I/O operation on a Connection.
enum class IoStatus {
  kOk,
  kTimeout,  // the deadline passed before the operation completed
  kEof,      // the peer closed the connection
  kError,    // a socket error; Connection::last_error() says which
};

// Returns "ok", "timeout", "eof" or "error".
const char* IoStatusName(IoStatus status);

// A connected client stream socket with a write buffer and a read buffer.
// After Open() the socket is blocking with SO_RCVTIMEO/SO_SNDTIMEO set to the
// open timeout, so each send()/recv() waits at most that long; the deadline
// given to Flush()/ReadExact()/ReadLine() is checked between system calls.
// An operation therefore ends by deadline + timeout at the latest. Move-only;
// the destructor closes the socket.
class Connection {
 public:
  Connection() = default;
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to `spec` within `timeout`, which also becomes the limit of
  // every later send() and recv() on the socket. For inet sockets `tcp_nodelay`
  // decides TCP_NODELAY on the client socket. Unless `allow_remote`, inet
  // destinations must resolve to loopback addresses (a load generator must
  // not be pointed at someone else's server by accident). On failure
  // returns false and sets *error.
  bool Open(const SocketSpec& spec, std::chrono::milliseconds timeout, bool tcp_nodelay,
            bool allow_remote, std::string* error);

  // True while a socket is open.
  bool is_open() const { return fd_ >= 0; }

  // Closes the socket (idempotent) and drops buffered data.
  void Close();

  // Appends bytes to the write buffer; nothing is sent until Flush().
  void Append(std::string_view bytes) { out_.append(bytes); }

  // Bytes waiting in the write buffer.
  size_t pending_output() const { return out_.size(); }

  // Sends the whole write buffer, waiting at most until `deadline`.
  IoStatus Flush(Clock::time_point deadline);

  // Reads exactly `n` bytes into `dst`, waiting at most until `deadline`.
  IoStatus ReadExact(char* dst, size_t n, Clock::time_point deadline);

  // Reads one '\n'-terminated line (the terminator is stripped, as is a
  // preceding '\r') of at most `max_len` bytes. A longer line is an error
  // (kError with last_error() "line too long").
  IoStatus ReadLine(std::string* line, size_t max_len, Clock::time_point deadline);

  // Description of the last kError (or connect failure).
  const std::string& last_error() const { return last_error_; }

 private:
  // Fills the read buffer with at least one more byte.
  IoStatus Fill(Clock::time_point deadline);

  int fd_ = -1;
  std::string out_;
  std::string in_;
  size_t in_pos_ = 0;
  std::string last_error_;
};

// Milliseconds left until `deadline`, clamped to [0, INT_MAX], rounded up.
int MillisUntil(Clock::time_point deadline);

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_BENCH_NET_H_

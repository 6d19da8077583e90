// RedisClient: a small, bounded client for one Redis server (hiredis underneath), shared by
// the stores that keep state in Redis (the rate counters of several policy daemons; keys
// written by other programs, e.g. Dovecot's last-login dict, read with GET).
//
// Addresses (ParseRedisUrl):
//   redis://[:password@]host[:port][/db]    TCP; port 6379 and db 0 by default; an IPv6
//                                           host in brackets ([::1]:6379)
//   redis+unix:/path/to/redis.sock[?db=N]   a Unix socket
// The password is sent with AUTH and the database chosen with SELECT on every new
// connection. Messages and logs name the server as host:port or the socket path (Name()),
// never the password.
//
// Time: every call has one budget (Options::timeout_ms) covering the wait for a pooled
// connection, connecting (with AUTH/SELECT) and each round trip: hiredis's socket timeouts
// are set to what is left of it before each step. Out of budget: kTimeout.
// A host name is resolved by the system (getaddrinfo), outside the budget: give an address,
// or a name /etc/hosts answers.
//
// Connections: a pool of at most Options::pool_size, made on demand. A call takes an idle
// one, or makes one (at most one connection attempt per call), or waits for one within its
// budget. A connection that fails (I/O error, timeout, protocol error) is closed, and the
// idle ones are dropped with it (after a server restart they are all dead); a later call
// connects anew. A call is never retried on another connection: the command may have run.
//
// Errors: kUnavailable (cannot connect, connection lost, AUTH/SELECT refused) or kTimeout,
// both naming the server. An error reply from Redis to a command ("-ERR ...", "-NOSCRIPT")
// is no failure of the connection: it comes back as a RedisReply of kind kError.
//
// Thread-safe: every method may be called from several threads at once. Creating a client
// sets SIGPIPE to SIG_IGN when it is still at its default (hiredis writes with write(2), and
// a write to a connection the server closed must fail, not kill the process).
#ifndef MAILWARDEN_POLICYD_STORE_REDIS_CLIENT_H_
#define MAILWARDEN_POLICYD_STORE_REDIS_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct redisContext;  // hiredis

namespace mailwarden {

// Where a Redis server is and how to log in.
struct RedisEndpoint {
  std::string host;       // TCP; empty for a Unix socket
  int port = 6379;        // TCP
  std::string unix_path;  // a Unix socket; empty for TCP
  std::string password;   // AUTH when not empty
  int db = 0;             // SELECT when not 0

  // "host:port", "[v6]:port" or the socket path: for messages (no password).
  std::string Name() const;
};

// The endpoint `url` names (forms above); kInvalidArgument naming the mistake (and not the
// password) otherwise.
Result<RedisEndpoint> ParseRedisUrl(std::string_view url);
// Whether `url` starts like a Redis address (redis:// or redis+unix:), valid or not.
bool LooksLikeRedisUrl(std::string_view url);
// `url` with its password, if any, replaced by "***": for logs.
std::string RedactRedisUrl(std::string_view url);

// One reply of Redis, copied out of hiredis.
struct RedisReply {
  enum class Kind { kNil, kInteger, kString, kStatus, kError, kArray };
  Kind kind = Kind::kNil;
  int64_t integer = 0;            // kInteger
  std::string text;               // kString, kStatus, kError
  std::vector<RedisReply> items;  // kArray

  bool IsError() const { return kind == Kind::kError; }
};

// A Lua script run with EVALSHA: loaded (SCRIPT LOAD) the first time a client runs it, run
// again with EVAL (which loads it too) when the server answers NOSCRIPT (restarted, SCRIPT
// FLUSH). One object per script text, shared by the calls; thread-safe.
class RedisScript {
 public:
  explicit RedisScript(std::string body) : body_(std::move(body)) {}
  const std::string& body() const { return body_; }

 private:
  friend class RedisClient;
  std::string Sha() const;
  void SetSha(std::string sha) const;

  const std::string body_;
  mutable std::mutex mu_;
  mutable std::string sha_;  // guarded by mu_; empty until loaded
};

class RedisClient {
 public:
  struct Options {
    int64_t timeout_ms = 200;     // budget of one call, > 0
    int pool_size = 4;            // connections at most, > 0
    std::string label = "redis";  // what the messages call the server ("rate limit store")
  };

  // A client of `endpoint`; connects nothing yet (see Ping()). kInvalidArgument for bad
  // options.
  static Result<std::unique_ptr<RedisClient>> Create(RedisEndpoint endpoint, Options options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command (argv[0] the command name; every argument is sent as a binary-safe
  // bulk string, never spliced into a command line).
  Result<RedisReply> Command(const std::vector<std::string>& argv) const;
  // Runs `script` with `keys` and `args` (EVALSHA, loading or re-sending it as needed).
  Result<RedisReply> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args) const;
  // Sends every command of `commands` at once and reads their replies in order: one round
  // trip, one budget, for many commands. Not atomic: other clients' commands may come
  // between them (use a script for that).
  Result<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) const;
  // PING: OK when the server answers within the budget.
  Status Ping() const;

  const RedisEndpoint& endpoint() const { return endpoint_; }
  // Open connections, idle or in use (for tests).
  int OpenConnections() const;

 private:
  class Lease;
  using Clock = std::chrono::steady_clock;

  RedisClient(RedisEndpoint endpoint, Options options)
      : endpoint_(std::move(endpoint)), options_(std::move(options)) {}
  // A connection for a call ending at `deadline`: idle, new, or freed in time.
  Result<redisContext*> Acquire(Clock::time_point deadline) const;
  // Gives `c` back; closes it (and every idle one) when `broken`.
  void Release(redisContext* c, bool broken) const;
  // A new connection, logged in, within `deadline`.
  Result<redisContext*> Connect(Clock::time_point deadline) const;
  // "<label> <server>: <what>".
  std::string Describe(std::string_view what) const;
  // The failure hiredis recorded on `c` (null: allocation failed); `saved_errno` tells a
  // timeout (kTimeout) from a lost or refused connection (kUnavailable).
  Status ContextError(const redisContext* c, int saved_errno) const;

  const RedisEndpoint endpoint_;
  const Options options_;
  mutable std::mutex mu_;
  mutable std::condition_variable freed_;
  mutable std::vector<redisContext*> idle_;  // guarded by mu_
  mutable int open_ = 0;                     // guarded by mu_: idle + in use + connecting
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_STORE_REDIS_CLIENT_H_

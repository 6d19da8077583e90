// The Redis client (see the header).
//
// Distrusts: the URL (from the configuration: parsed strictly, the password kept out of
// every message); the server's replies (copied out of hiredis, whose reader bounds them);
// the arguments (sent as bulk strings with their lengths, never formatted into a command).
// Limits: one budget per call, pool_size connections. Fails with a Status; never throws.
#include "policyd/store/redis_client.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace mailwarden {
namespace {

constexpr std::string_view kTcpScheme = "redis://";
constexpr std::string_view kUnixScheme = "redis+unix:";
constexpr int kMaxDb = 1'000'000;

bool ParseInt(std::string_view s, int min, int max, int* out) {
  if (s.empty()) return false;
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

// %XX-decodes `s` (a password may hold '@', ':' or '/'); false on a bad escape.
bool PercentDecode(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size()) return false;
    auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || end != s.data() + i + 3) return false;
    out->push_back(static_cast<char>(v));
    i += 2;
  }
  return true;
}

struct timeval ToTimeval(std::chrono::steady_clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us < 1000) us = 1000;  // hiredis treats {0, 0} as "no timeout"
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(us / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  return tv;
}

// `argv` as hiredis takes it: pointers and lengths, sent as binary-safe bulk strings.
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv) {
    args.reserve(argv.size());
    lengths.reserve(argv.size());
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lengths.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(args.size()); }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
};

// Sends `argv` and waits for the reply (null on a connection error).
redisReply* SendArgv(redisContext* c, const std::vector<std::string>& argv) {
  ArgvView v(argv);
  return static_cast<redisReply*>(redisCommandArgv(c, v.count(), v.args.data(), v.lengths.data()));
}

// Queues `argv` in the output buffer, sending nothing yet.
int AppendArgv(redisContext* c, const std::vector<std::string>& argv) {
  ArgvView v(argv);
  return redisAppendCommandArgv(c, v.count(), v.args.data(), v.lengths.data());
}

RedisReply Copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.kind = r->type == REDIS_REPLY_STRING   ? RedisReply::Kind::kString
                 : r->type == REDIS_REPLY_STATUS ? RedisReply::Kind::kStatus
                                                 : RedisReply::Kind::kError;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::kArray;
      out.items.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.items.push_back(Copy(r->element[i]));
      break;
    default:
      out.kind = RedisReply::Kind::kNil;
      break;
  }
  return out;
}

}  // namespace

// ---- addresses ---------------------------------------------------------------------------

std::string RedisEndpoint::Name() const {
  if (!unix_path.empty()) return unix_path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool LooksLikeRedisUrl(std::string_view url) {
  return url.starts_with(kTcpScheme) || url.starts_with(kUnixScheme);
}

std::string RedactRedisUrl(std::string_view url) {
  if (!url.starts_with(kTcpScheme)) return std::string(url);
  const size_t at = url.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(kTcpScheme) + "***" + std::string(url.substr(at));
}

Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    // The URL may hold a password: quote only its scheme.
    return Status::InvalidArgument(
        std::string(url.starts_with(kUnixScheme) ? "redis+unix: address: " : "redis:// address: ") +
        std::string(why));
  };
  RedisEndpoint e;
  if (url.starts_with(kUnixScheme)) {
    std::string_view rest = url.substr(kUnixScheme.size());
    if (rest.starts_with("//")) rest.remove_prefix(2);  // redis+unix:///path
    if (size_t q = rest.find('?'); q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      if (!query.starts_with("db=") || !ParseInt(query.substr(3), 0, kMaxDb, &e.db)) {
        return bad("expected ?db=N after the socket path");
      }
    }
    if (!rest.starts_with('/')) return bad("expected an absolute socket path");
    e.unix_path = std::string(rest);
    return e;
  }
  if (!url.starts_with(kTcpScheme)) {
    return bad("expected redis://[:password@]host:port[/db] or redis+unix:/path[?db=N]");
  }
  std::string_view rest = url.substr(kTcpScheme.size());
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = user_info.find(':');
    if (colon != 0 || !PercentDecode(user_info.substr(1), &e.password)) {
      return bad("expected :password@ before the host (a password %-encoded)");
    }
  }
  std::string_view authority = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, kMaxDb, &e.db)) return bad("bad database number");
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return bad("expected :port after the host");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (e.host.empty()) return bad("no host");
  if (!port.empty() && !ParseInt(port, 1, 65535, &e.port)) return bad("bad port");
  return e;
}

// ---- scripts -----------------------------------------------------------------------------

std::string RedisScript::Sha() const {
  std::lock_guard lock(mu_);
  return sha_;
}

void RedisScript::SetSha(std::string sha) const {
  std::lock_guard lock(mu_);
  sha_ = std::move(sha);
}

// ---- a connection lent to one call -------------------------------------------------------

// Holds a pooled connection for one call; gives it back (closed when broken) when done.
class RedisClient::Lease {
 public:
  Lease(const RedisClient* client, redisContext* c, Clock::time_point deadline)
      : client_(client), c_(c), deadline_(deadline) {}
  ~Lease() { client_->Release(c_, broken_); }

  // One round trip: sends `argv`, waits for its reply within the deadline.
  Result<RedisReply> Run(const std::vector<std::string>& argv) {
    if (broken_) return Status::Unavailable(client_->Describe("connection lost"));
    const auto left = deadline_ - Clock::now();
    if (left <= Clock::duration::zero()) {
      broken_ = true;  // a reply may still come: the connection is out of step
      return Status::Timeout(client_->Describe(
          "no answer within " + std::to_string(client_->options_.timeout_ms) + " ms"));
    }
    redisSetTimeout(c_, ToTimeval(left));
    errno = 0;
    redisReply* reply = SendArgv(c_, argv);
    const int saved_errno = errno;
    if (reply == nullptr) {
      broken_ = true;
      return client_->ContextError(c_, saved_errno);
    }
    RedisReply out = Copy(reply);
    freeReplyObject(reply);
    return out;
  }

  // One round trip for all of `commands`: appends them to the output buffer, then reads
  // one reply each (hiredis writes the buffer on the first read).
  Result<std::vector<RedisReply>> RunAll(const std::vector<std::vector<std::string>>& commands) {
    if (broken_) return Status::Unavailable(client_->Describe("connection lost"));
    const auto left = deadline_ - Clock::now();
    if (left <= Clock::duration::zero()) {
      broken_ = true;
      return Status::Timeout(client_->Describe(
          "no answer within " + std::to_string(client_->options_.timeout_ms) + " ms"));
    }
    redisSetTimeout(c_, ToTimeval(left));
    for (const auto& argv : commands) {
      if (AppendArgv(c_, argv) != REDIS_OK) {
        broken_ = true;
        return client_->ContextError(c_, errno);
      }
    }
    std::vector<RedisReply> out;
    out.reserve(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      errno = 0;
      void* raw = nullptr;
      const int rc = redisGetReply(c_, &raw);
      const int saved_errno = errno;
      if (rc != REDIS_OK || raw == nullptr) {
        broken_ = true;  // replies may still be on their way: the connection is out of step
        return client_->ContextError(c_, saved_errno);
      }
      auto* reply = static_cast<redisReply*>(raw);
      out.push_back(Copy(reply));
      freeReplyObject(reply);
    }
    return out;
  }

 private:
  const RedisClient* client_;
  redisContext* c_;
  Clock::time_point deadline_;
  bool broken_ = false;
};

// ---- RedisClient -------------------------------------------------------------------------

Result<std::unique_ptr<RedisClient>> RedisClient::Create(RedisEndpoint endpoint, Options options) {
  if (options.timeout_ms <= 0 || options.pool_size <= 0) {
    return Status::InvalidArgument(options.label + " " + endpoint.Name() +
                                   ": timeout and pool size must be positive");
  }
  if (endpoint.host.empty() == endpoint.unix_path.empty()) {
    return Status::InvalidArgument(options.label + ": a host or a socket path, not both");
  }
  // hiredis writes with write(2): a connection the server closed would raise SIGPIPE,
  // whose default kills the process. The daemons ignore it already (common/daemon.h).
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(endpoint), std::move(options)));
}

RedisClient::~RedisClient() {
  std::lock_guard lock(mu_);
  for (redisContext* c : idle_) redisFree(c);
  idle_.clear();
}

std::string RedisClient::Describe(std::string_view what) const {
  return options_.label + " " + endpoint_.Name() + ": " + std::string(what);
}

Status RedisClient::ContextError(const redisContext* c, int saved_errno) const {
  std::string why = c && c->errstr[0] ? c->errstr : "cannot allocate a connection";
  const bool timed_out = c && c->err == REDIS_ERR_IO &&
                         (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
                          saved_errno == ETIMEDOUT || saved_errno == EINPROGRESS);
  if (timed_out) {
    return Status::Timeout(
        Describe("no answer within " + std::to_string(options_.timeout_ms) + " ms (" + why + ")"));
  }
  return Status::Unavailable(Describe(why));
}

Result<redisContext*> RedisClient::Connect(Clock::time_point deadline) const {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) {
    return Status::Timeout(Describe("no time left to connect"));
  }
  errno = 0;
  redisContext* c =
      endpoint_.unix_path.empty()
          ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, ToTimeval(left))
          : redisConnectUnixWithTimeout(endpoint_.unix_path.c_str(), ToTimeval(left));
  const int saved_errno = errno;
  if (c == nullptr || c->err) {
    Status s = ContextError(c, saved_errno);
    if (c) redisFree(c);
    return s;
  }
  // Log in on the new connection; it is closed unless that succeeds.
  struct Closer {
    redisContext* c;
    bool keep = false;
    ~Closer() {
      if (!keep) redisFree(c);
    }
  } closer{c};
  auto step = [&](const std::vector<std::string>& argv, std::string_view what) -> Status {
    const auto step_left = deadline - Clock::now();
    if (step_left <= Clock::duration::zero()) {
      return Status::Timeout(Describe("no answer to " + std::string(what) + " within " +
                                      std::to_string(options_.timeout_ms) + " ms"));
    }
    redisSetTimeout(c, ToTimeval(step_left));
    errno = 0;
    redisReply* reply = SendArgv(c, argv);
    const int step_errno = errno;
    if (reply == nullptr) return ContextError(c, step_errno);
    Status s;
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis's own text ("WRONGPASS ...", "ERR DB index is out of range"); never the
      // password, which is only ever an argument.
      s = Status::Unavailable(
          Describe(std::string(what) + " refused: " + std::string(reply->str, reply->len)));
    }
    freeReplyObject(reply);
    return s;
  };
  if (!endpoint_.password.empty()) {
    if (Status s = step({"AUTH", endpoint_.password}, "AUTH"); !s.ok()) return s;
  }
  if (endpoint_.db != 0) {
    if (Status s = step({"SELECT", std::to_string(endpoint_.db)}, "SELECT"); !s.ok()) return s;
  }
  closer.keep = true;
  return c;
}

Result<redisContext*> RedisClient::Acquire(Clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  while (idle_.empty() && open_ >= options_.pool_size) {
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.pool_size) {
      return Status::Timeout(Describe("all " + std::to_string(options_.pool_size) +
                                      " connections busy for " +
                                      std::to_string(options_.timeout_ms) + " ms"));
    }
  }
  if (!idle_.empty()) {
    redisContext* c = idle_.back();
    idle_.pop_back();
    return c;
  }
  ++open_;  // a slot for the connection being made, outside the lock
  lock.unlock();
  auto c = Connect(deadline);
  if (!c.ok()) {
    lock.lock();
    --open_;
    freed_.notify_one();
  }
  return c;
}

void RedisClient::Release(redisContext* c, bool broken) const {
  std::vector<redisContext*> close;
  {
    std::lock_guard lock(mu_);
    if (broken) {
      // The others most likely broke with it (a restarted server): start afresh.
      close.swap(idle_);
      close.push_back(c);
      open_ -= static_cast<int>(close.size());
    } else {
      idle_.push_back(c);
    }
  }
  freed_.notify_all();
  for (redisContext* dead : close) redisFree(dead);
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) const {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  auto c = Acquire(deadline);
  if (!c.ok()) return c.status();
  Lease lease(this, *c, deadline);
  return lease.Run(argv);
}

Result<RedisReply> RedisClient::Eval(const RedisScript& script,
                                     const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) const {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  auto c = Acquire(deadline);
  if (!c.ok()) return c.status();
  Lease lease(this, *c, deadline);
  std::string sha = script.Sha();
  if (sha.empty()) {
    auto loaded = lease.Run({"SCRIPT", "LOAD", script.body()});
    if (!loaded.ok()) return loaded.status();
    if (loaded->kind != RedisReply::Kind::kString) {
      return Status::Unavailable(Describe("SCRIPT LOAD refused: " + loaded->text));
    }
    sha = loaded->text;
    script.SetSha(sha);
  }
  std::vector<std::string> argv = {"EVALSHA", sha, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto reply = lease.Run(argv);
  if (reply.ok() && reply->IsError() && reply->text.starts_with("NOSCRIPT")) {
    // The server forgot it (restarted, SCRIPT FLUSH): EVAL runs and caches it again.
    argv[0] = "EVAL";
    argv[1] = script.body();
    reply = lease.Run(argv);
  }
  return reply;
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) const {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  auto c = Acquire(deadline);
  if (!c.ok()) return c.status();
  Lease lease(this, *c, deadline);
  return lease.RunAll(commands);
}

Status RedisClient::Ping() const {
  auto reply = Command({"PING"});
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) return Status::Unavailable(Describe("PING refused: " + reply->text));
  return Status::Ok();
}

int RedisClient::OpenConnections() const {
  std::lock_guard lock(mu_);
  return open_;
}

}  // namespace mailwarden

// The Redis rate counter store (see the header).
//
// Distrusts: the keys (a SASL login or an address from the SMTP client): capped at
// kMaxKeyLength and only ever passed as script KEYS, never into the script text; the
// deltas (negative ones are refused); the server's replies (their shape is checked).
// Limits: one budget per call (rate_limits.timeout_ms), at most 14 buckets per sum.
#include "policyd/store/redis_rate_counters.h"

#include <charconv>
#include <cstdint>

#include "common/log.h"

namespace mailwarden {
namespace {

constexpr char kLabel[] = "rate limit store";

// Lua: sums the counters of every bucket in KEYS and returns {messages, recipients, bytes}.
// The end of both scripts.
constexpr char kSumBucketsLua[] = R"LUA(local m, r, b = 0, 0, 0
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'm', 'r', 'b')
  m = m + (tonumber(v[1]) or 0)
  r = r + (tonumber(v[2]) or 0)
  b = b + (tonumber(v[3]) or 0)
end
return {m, r, b}
)LUA";

// KEYS[1]: the bucket holding `now`; KEYS[1..n]: every bucket the window sums.
// ARGV[1..3]: messages, recipients, bytes to add; ARGV[4]: the bucket's expiry (Unix
// seconds, the caller's clock); ARGV[5]: milliseconds from `now` to that expiry.
// Returns {messages, recipients, bytes} over KEYS.
const RedisScript kAddScript(std::string(R"LUA(
local bucket = KEYS[1]
redis.call('HINCRBY', bucket, 'm', ARGV[1])
redis.call('HINCRBY', bucket, 'r', ARGV[2])
redis.call('HINCRBY', bucket, 'b', ARGV[3])
local expires = tonumber(ARGV[4])
if expires > (tonumber(redis.call('HGET', bucket, 'e')) or 0) then
  redis.call('HSET', bucket, 'e', ARGV[4])
  redis.call('PEXPIRE', bucket, ARGV[5])
end
)LUA") + kSumBucketsLua);

Status CheckKey(std::string_view key) {
  if (key.empty() || key.size() > RedisRateCounterStore::kMaxKeyLength) {
    return Status::InvalidArgument(std::string(kLabel) + ": counter key empty or longer than " +
                                   std::to_string(RedisRateCounterStore::kMaxKeyLength) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RedisRateCounterStore>> RedisRateCounterStore::Open(
    std::string_view url, const RateCounterOptions& options) {
  auto endpoint = ParseRedisUrl(url);
  if (!endpoint.ok()) return endpoint.status();
  auto client = RedisClient::Create(
      std::move(endpoint).value(),
      {.timeout_ms = options.timeout_ms, .pool_size = kPoolSize, .label = kLabel});
  if (!client.ok()) return client.status();
  // One try now, for the log; the store works (and reconnects) without it.
  if (Status s = (*client)->Ping(); !s.ok()) {
    LogWarn(s.message() + " (tried again on each use)");
  }
  return std::unique_ptr<RedisRateCounterStore>(
      new RedisRateCounterStore(std::move(client).value()));
}

std::string RedisRateCounterStore::BucketKey(std::string_view key, int64_t bucket_start) {
  std::string out(kKeyPrefix);
  out.reserve(out.size() + key.size() + 24);
  out += '{';
  out += key;
  out += "}:";
  out += std::to_string(bucket_start);
  return out;
}

std::vector<std::string> RedisRateCounterStore::WindowKeys(std::string_view key,
                                                           const RateWindow& window, int64_t now) {
  const int64_t width = window.BucketSeconds();
  const int64_t current = window.BucketStart(now);
  std::vector<std::string> keys;
  keys.reserve(RateWindow::kBuckets + 3);
  keys.push_back(BucketKey(key, current));
  keys.push_back(BucketKey(key, current + width));  // a peer whose clock is a little ahead
  for (int64_t b = current - width; b >= window.OldestCounted(now); b -= width) {
    keys.push_back(BucketKey(key, b));
  }
  return keys;
}

Result<RateUsage> RedisRateCounterStore::Totals(const Result<RedisReply>& reply) const {
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) {
    return Status::Unavailable(std::string(kLabel) + " " + client_->endpoint().Name() + ": " +
                               reply->text);
  }
  if (reply->kind != RedisReply::Kind::kArray || reply->items.size() != 3) {
    return Status::Unavailable(std::string(kLabel) + " " + client_->endpoint().Name() +
                               ": unexpected reply to the counter script");
  }
  for (const RedisReply& item : reply->items) {
    if (item.kind != RedisReply::Kind::kInteger) {
      return Status::Unavailable(std::string(kLabel) + " " + client_->endpoint().Name() +
                                 ": unexpected reply to the counter script");
    }
  }
  return RateUsage{reply->items[0].integer, reply->items[1].integer, reply->items[2].integer};
}

Result<RateUsage> RedisRateCounterStore::Add(std::string_view key, const RateWindow& window,
                                             const RateUsage& delta, int64_t now) {
  if (Status s = CheckKey(key); !s.ok()) return s;
  if (delta.messages < 0 || delta.recipients < 0 || delta.bytes < 0 || window.seconds <= 0) {
    return Status::InvalidArgument(std::string(kLabel) + ": negative count or empty window");
  }
  const int64_t expires = window.ExpiresAt(window.BucketStart(now));
  // Relative to `now`, so Redis's own clock does not matter for how long a bucket lives.
  const int64_t ttl_ms = (expires - now) * 1000;
  return Totals(client_->Eval(
      kAddScript, WindowKeys(key, window, now),
      {std::to_string(delta.messages), std::to_string(delta.recipients),
       std::to_string(delta.bytes), std::to_string(expires), std::to_string(ttl_ms)}));
}

Result<RateUsage> RedisRateCounterStore::Read(std::string_view key, const RateWindow& window,
                                              int64_t now) const {
  if (Status s = CheckKey(key); !s.ok()) return s;
  if (window.seconds <= 0) return Status::InvalidArgument(std::string(kLabel) + ": empty window");
  // A plain HMGET per bucket, pipelined: one round trip like the script, for a fraction
  // of the server's time (no script to run; reads need no atomicity, as an Add changes
  // one bucket only).
  std::vector<std::vector<std::string>> commands;
  for (std::string& bucket : WindowKeys(key, window, now)) {
    commands.push_back({"HMGET", std::move(bucket), "m", "r", "b"});
  }
  auto replies = client_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  RateUsage sum;
  for (const RedisReply& reply : *replies) {
    int64_t counts[3] = {0, 0, 0};
    bool shaped = reply.kind == RedisReply::Kind::kArray && reply.items.size() == 3;
    for (size_t i = 0; shaped && i < 3; ++i) {
      const RedisReply& item = reply.items[i];
      if (item.kind == RedisReply::Kind::kNil) continue;  // no such bucket (or field)
      const char* end = item.text.data() + item.text.size();
      auto [ptr, ec] = std::from_chars(item.text.data(), end, counts[i]);
      shaped = item.kind == RedisReply::Kind::kString && ec == std::errc() && ptr == end &&
               counts[i] >= 0;
    }
    if (!shaped) {
      return Status::Unavailable(
          std::string(kLabel) + " " + client_->endpoint().Name() +
          (reply.IsError() ? ": " + reply.text : std::string(": unexpected bucket contents")));
    }
    // Saturating: the contents are the server's, and a limit only needs "too many".
    auto add = [](int64_t& total, int64_t n) {
      if (__builtin_add_overflow(total, n, &total)) total = INT64_MAX;
    };
    add(sum.messages, counts[0]);
    add(sum.recipients, counts[1]);
    add(sum.bytes, counts[2]);
  }
  return sum;
}

}  // namespace mailwarden

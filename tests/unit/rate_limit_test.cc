// Sender rate limits: the window arithmetic, the counter stores (the same cases on a real
// SQLite file and a real Redis server: isolation, persistence, concurrency; then what is
// particular to each: purge, locks and migrations for SQLite; expiry, AUTH/SELECT, a killed
// or silent server for Redis) and the rate_limit rule through PolicyRules with an injected
// clock. The Redis cases need a server: MW_TEST_REDIS_URL, or the ctest fixture (redis).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "policyd/policy_rules.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/rate_counters.h"
#include "policyd/store/redis_client.h"
#include "policyd/store/redis_rate_counters.h"
#include "policyd/store/sqlite_rate_counters.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using testing::TempDir;

constexpr int64_t kNow = 1717200000;  // 2024-06-01T00:00:00Z, a multiple of 300

std::unique_ptr<SqliteRateCounterStore> OpenOrDie(const std::string& path,
                                                  int64_t timeout_ms = 2000) {
  auto store = SqliteRateCounterStore::Open(path, {.timeout_ms = timeout_ms});
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(store).value() : nullptr;
}

RateUsage Message(int64_t recipients, int64_t bytes) { return {1, recipients, bytes}; }

// ---- window arithmetic -------------------------------------------------------------------

TEST(RateWindowTest, HourIsTwelveFiveMinuteBuckets) {
  RateWindow w{3600};
  EXPECT_EQ(w.BucketSeconds(), 300);
  EXPECT_EQ(w.BucketStart(kNow + 299), kNow);
  EXPECT_EQ(w.BucketStart(kNow + 300), kNow + 300);
  // The window ending at now sums from the bucket holding now - 1h.
  EXPECT_EQ(w.OldestCounted(kNow + 10), kNow - 3600);
  EXPECT_EQ(w.ExpiresAt(kNow), kNow + 300 + 3600);
}

TEST(RateWindowTest, ShortAndUnevenWindows) {
  EXPECT_EQ(RateWindow{5}.BucketSeconds(), 1);
  EXPECT_EQ(RateWindow{13}.BucketSeconds(), 2);   // rounded up: never more than 12 + 1 buckets
  EXPECT_EQ(RateWindow{60}.BucketStart(-1), -5);  // floors before the epoch too
}

// ---- the stores: the same cases against SQLite and Redis -------------------------------

// The Redis server of the unit tests: $MW_TEST_REDIS_URL, or the URL in the file
// $MW_TEST_REDIS_URL_FILE (written by the ctest fixture fixture.redis.start); "" when neither.
std::string TestRedisUrl() {
  if (const char* url = getenv("MW_TEST_REDIS_URL"); url && *url) return url;
  if (const char* file = getenv("MW_TEST_REDIS_URL_FILE"); file && *file) {
    std::string url = testing::ReadFile(file);
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
    return url;
  }
  return "";
}

constexpr char kNoRedis[] =
    "no Redis for the tests: set MW_TEST_REDIS_URL=redis://127.0.0.1:PORT (e.g. from "
    "python3 tests/integration/mwredis.py start DIR; DIR/url), or run them through ctest, "
    "whose fixture fixture.redis.start provides one";

std::unique_ptr<RedisRateCounterStore> OpenRedisOrDie(const std::string& url,
                                                      int64_t timeout_ms = 2000) {
  auto store = RedisRateCounterStore::Open(url, {.timeout_ms = timeout_ms});
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(store).value() : nullptr;
}

// A key no other test (or earlier run) uses: the Redis server is shared.
std::string UniqueKey(const std::string& name) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name() + "|" +
         std::to_string(getpid()) + "." +
         std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "." +
         std::to_string(counter++) + "|" + name;
}

// GetParam(): "sqlite" or "redis".
class RateCounterStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      url_ = TestRedisUrl();
      ASSERT_FALSE(url_.empty()) << kNoRedis;
    }
  }
  // Another store object on the same data: a new connection, as another process has.
  std::unique_ptr<RateCounterStore> Open(int64_t timeout_ms = 2000) {
    if (GetParam() == "redis") return OpenRedisOrDie(url_, timeout_ms);
    return OpenOrDie(dir_.Path("rl.db"), timeout_ms);
  }
  std::string Key(const std::string& name) {
    auto [it, fresh] = keys_.try_emplace(name);
    if (fresh) it->second = UniqueKey(name);
    return it->second;
  }

  TempDir dir_;
  std::string url_;
  std::map<std::string, std::string> keys_;
};

INSTANTIATE_TEST_SUITE_P(Stores, RateCounterStoreTest, ::testing::Values("sqlite", "redis"),
                         [](const auto& info) { return info.param; });

TEST_P(RateCounterStoreTest, CountsForAtLeastTheWindowAndAtMostABucketMore) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  RateWindow w{3600};
  ASSERT_TRUE(store->Add(Key("k"), w, Message(2, 100), kNow + 10).ok());
  // Still counted one window later...
  EXPECT_EQ(store->Read(Key("k"), w, kNow + 10 + 3600)->messages, 1);
  // ...and up to the end of its bucket's reach, then no more.
  EXPECT_EQ(store->Read(Key("k"), w, kNow + 3600 + 299)->messages, 1);
  EXPECT_EQ(store->Read(Key("k"), w, kNow + 3600 + 300)->messages, 0);
}

TEST_P(RateCounterStoreTest, AddReturnsTheWindowTotalWithTheDelta) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  RateWindow w{600};
  ASSERT_TRUE(store->Add(Key("k"), w, Message(3, 1000), kNow).ok());
  ASSERT_TRUE(store->Add(Key("k"), w, Message(1, 10), kNow + 200).ok());  // another bucket
  auto total = store->Add(Key("k"), w, Message(2, 5), kNow + 400);
  ASSERT_TRUE(total.ok()) << total.status().message();
  EXPECT_EQ(*total, (RateUsage{3, 6, 1015}));
  EXPECT_EQ(*store->Read(Key("k"), w, kNow + 650), (RateUsage{2, 3, 15}));  // first bucket gone
}

TEST_P(RateCounterStoreTest, KeysAreIsolated) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  RateWindow w{3600};
  const std::string alice = Key("r|sasl_username|alice");
  const std::string bob = Key("r|sasl_username|bob");
  ASSERT_TRUE(store->Add(alice, w, Message(1, 1), kNow).ok());
  ASSERT_TRUE(store->Add(alice, w, Message(1, 1), kNow).ok());
  ASSERT_TRUE(store->Add(bob, w, Message(1, 1), kNow).ok());
  EXPECT_EQ(store->Read(alice, w, kNow)->messages, 2);
  EXPECT_EQ(store->Read(bob, w, kNow)->messages, 1);
  EXPECT_EQ(store->Read(Key("r|sasl_username|carol"), w, kNow)->messages, 0);
  // Keys that only a hash tag or a bucket suffix would confuse stay apart.
  ASSERT_TRUE(store->Add(Key("x}:1"), w, Message(1, 1), kNow).ok());
  EXPECT_EQ(store->Read(Key("x"), w, kNow)->messages, 0);
}

TEST_P(RateCounterStoreTest, CountersSurviveReopening) {
  RateWindow w{3600};
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Add(Key("k"), w, Message(4, 400), kNow).ok());
  }
  auto store = Open();
  EXPECT_EQ(*store->Read(Key("k"), w, kNow + 60), (RateUsage{1, 4, 400}));
}

TEST_P(RateCounterStoreTest, ConcurrentAddsAreExact) {
  // Two store objects on the same data: two connections (pools), as two processes have.
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  RateWindow w{3600};
  const std::string key = Key("shared");
  constexpr int kThreads = 8;
  constexpr int kAdds = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RateCounterStore* store = t % 2 ? a.get() : b.get();
      for (int i = 0; i < kAdds; ++i) {
        if (!store->Add(key, w, Message(2, 10), kNow + i).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*a->Read(key, w, kNow + kAdds),
            (RateUsage{kThreads * kAdds, 2 * kThreads * kAdds, 10 * kThreads * kAdds}));
}

TEST_P(RateCounterStoreTest, BadKeysAndDeltasAreRefused) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Add("", RateWindow{60}, Message(1, 1), kNow).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(store->Read(std::string(2000, 'k'), RateWindow{60}, kNow).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(store->Add(Key("k"), RateWindow{60}, {-1, 0, 0}, kNow).status().code(),
            Status::Code::kInvalidArgument);
}

// ---- SQLite only -------------------------------------------------------------------------

TEST(SqliteRateCounterStoreTest, SchemaVersionIsTheLatest) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"));
  EXPECT_EQ(*store->SchemaVersion(), SqliteRateCounterStore::LatestSchemaVersion());
}

TEST(SqliteRateCounterStoreTest, ExpiredBucketsArePurged) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"));
  RateWindow w{60};  // 5 s buckets
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store->Add("k" + std::to_string(i), w, Message(1, 1), kNow).ok());
  EXPECT_EQ(*store->BucketCount(), 10);
  // Long after: the next Add purges the ten expired buckets and keeps its own.
  ASSERT_TRUE(store->Add("k", w, Message(1, 1), kNow + 3600).ok());
  EXPECT_EQ(*store->BucketCount(), 1);
}

TEST(SqliteRateCounterStoreTest, LockedFileTimesOutWithinTheBudget) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"), /*timeout_ms=*/50);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir.Path("rl.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto start = std::chrono::steady_clock::now();
  auto r = store->Add("k", RateWindow{60}, Message(1, 1), kNow);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  EXPECT_LT(took, std::chrono::milliseconds(500));
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_TRUE(store->Add("k", RateWindow{60}, Message(1, 1), kNow).ok());
}

TEST(SqliteRateCounterStoreTest, NewerSchemaIsRefused) {
  TempDir dir;
  { OpenOrDie(dir.Path("rl.db")); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.Path("rl.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO rate_limit_schema_version VALUES (99, 'future', 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteRateCounterStore::Open(dir.Path("rl.db"), {});
  EXPECT_EQ(store.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

// ---- Redis only --------------------------------------------------------------------------

TEST(RateCounterSpecTest, SqliteAndRedisFormsAreUnderstood) {
  EXPECT_TRUE(CheckRateCounterSpec("sqlite:/x/rl.db").ok());
  EXPECT_TRUE(CheckRateCounterSpec("redis://127.0.0.1:6379").ok());
  EXPECT_TRUE(CheckRateCounterSpec("redis://:secret@redis.example.org:6380/2").ok());
  EXPECT_TRUE(CheckRateCounterSpec("redis+unix:/run/redis/redis.sock?db=3").ok());
  Status bad = CheckRateCounterSpec("memcached://x");
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument);
  for (const char* form : {"sqlite:", "redis://", "redis+unix:"}) {
    EXPECT_NE(bad.message().find(form), std::string::npos) << bad.message();
  }
  // A malformed URL is refused without repeating its password.
  Status port = CheckRateCounterSpec("redis://:hunter2@host:99999");
  EXPECT_EQ(port.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(port.message().find("hunter2"), std::string::npos) << port.message();
  EXPECT_EQ(OpenRateCounterStore("redis://").status().code(), Status::Code::kInvalidArgument);
}

TEST(RedisUrlTest, Forms) {
  auto tcp = ParseRedisUrl("redis://:p%40ss%2Fw@10.0.0.5:6380/4");
  ASSERT_TRUE(tcp.ok()) << tcp.status().message();
  EXPECT_EQ(tcp->host, "10.0.0.5");
  EXPECT_EQ(tcp->port, 6380);
  EXPECT_EQ(tcp->password, "p@ss/w");
  EXPECT_EQ(tcp->db, 4);
  EXPECT_EQ(tcp->Name(), "10.0.0.5:6380");
  auto plain = ParseRedisUrl("redis://redis.example.org");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->Name(), "redis.example.org:6379");
  EXPECT_EQ(plain->db, 0);
  auto v6 = ParseRedisUrl("redis://[::1]:7000/1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->Name(), "[::1]:7000");
  auto unix_socket = ParseRedisUrl("redis+unix:/run/redis/redis.sock?db=2");
  ASSERT_TRUE(unix_socket.ok());
  EXPECT_EQ(unix_socket->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(unix_socket->db, 2);
  EXPECT_EQ(RateCounterSpecForLog("redis://:p@ss@10.0.0.5:6380/4"), "redis://***@10.0.0.5:6380/4");
  EXPECT_EQ(RateCounterSpecForLog("sqlite:/x/rl.db"), "sqlite:/x/rl.db");
  for (const char* bad : {"redis://", "redis://host:0", "redis://host:x", "redis://host/x",
                          "redis://user@host", "redis://[::1", "redis+unix:relative.sock",
                          "redis+unix:/s.sock?database=1", "http://host"}) {
    EXPECT_EQ(ParseRedisUrl(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

// The test's own redis-server (mwredis.py), to kill and restart without disturbing the
// shared one.
class OwnRedisServer {
 public:
  explicit OwnRedisServer(const std::string& extra = "") : extra_(extra) {}
  ~OwnRedisServer() { Run("stop"); }
  bool Run(const std::string& action) {
    std::string cmd = "python3 " MW_SOURCE_DIR "/tests/integration/mwredis.py " + action + " " +
                      dir_.Path("redis") + (action == "start" ? " " + extra_ : "") + " >/dev/null";
    return std::system(cmd.c_str()) == 0;
  }
  std::string Port() { return testing::ReadFile(dir_.Path("redis/port")); }

 private:
  TempDir dir_;
  std::string extra_;
};

class RedisRateCounterTest : public ::testing::Test {
 protected:
  std::string Key(const std::string& name) { return UniqueKey(name); }
  // A store on the tests' shared server (the ctest fixture's); null, with a failure saying
  // why, when there is none.
  std::unique_ptr<RedisRateCounterStore> SharedStore() {
    const std::string url = TestRedisUrl();
    EXPECT_FALSE(url.empty()) << kNoRedis;
    return url.empty() ? nullptr : OpenRedisOrDie(url);
  }
};

TEST_F(RedisRateCounterTest, BucketsExpireByThemselves) {
  auto store = SharedStore();
  ASSERT_NE(store, nullptr);
  const std::string key = Key("k");
  RateWindow w{3600};  // 300 s buckets
  ASSERT_TRUE(store->Add(key, w, Message(1, 1), kNow + 10).ok());
  const std::string bucket = RedisRateCounterStore::BucketKey(key, kNow);
  EXPECT_EQ(bucket, "mailwarden:rate:{" + key + "}:" + std::to_string(kNow));
  auto ttl = store->client().Command({"TTL", bucket});
  ASSERT_TRUE(ttl.ok()) << ttl.status().message();
  ASSERT_EQ(ttl->kind, RedisReply::Kind::kInteger) << ttl->text;
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, w.seconds + w.BucketSeconds());
  // The fields the script keeps.
  auto fields = store->client().Command({"HMGET", bucket, "m", "r", "b"});
  ASSERT_TRUE(fields.ok());
  ASSERT_EQ(fields->items.size(), 3u);
  EXPECT_EQ(fields->items[0].text, "1");
  // A shorter window later on the same key does not shorten the bucket's life.
  ASSERT_TRUE(store->Add(key, RateWindow{60}, Message(1, 1), kNow + 20).ok());
  auto again = store->client().Command({"TTL", bucket});
  ASSERT_TRUE(again.ok());
  EXPECT_GT(again->integer, 60 + 5);
}

// Reads are pipelined HMGETs: buckets summed in one round trip; a bucket holding what no
// mailwarden wrote (another type, a non-number) makes the read unavailable, never a guess.
TEST_F(RedisRateCounterTest, ReadsSumTheBucketsAndRefuseForeignContents) {
  auto store = SharedStore();
  ASSERT_NE(store, nullptr);
  const std::string key = Key("k");
  RateWindow w{3600};  // 300 s buckets
  ASSERT_TRUE(store->Add(key, w, {1, 2, 30}, kNow - 600).ok());
  ASSERT_TRUE(store->Add(key, w, {1, 3, 40}, kNow).ok());
  auto read = store->Read(key, w, kNow);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, (RateUsage{2, 5, 70}));
  // Pipeline: replies in order.
  auto replies = store->client().Pipeline({{"PING"}, {"ECHO", "x"}});
  ASSERT_TRUE(replies.ok()) << replies.status().message();
  ASSERT_EQ(replies->size(), 2u);
  EXPECT_EQ((*replies)[1].text, "x");

  const std::string bucket = RedisRateCounterStore::BucketKey(key, w.BucketStart(kNow));
  ASSERT_TRUE(store->client().Command({"HSET", bucket, "m", "many"}).ok());
  auto garbled = store->Read(key, w, kNow);
  EXPECT_EQ(garbled.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(garbled.status().message().find("unexpected bucket contents"), std::string::npos)
      << garbled.status().message();
  ASSERT_TRUE(store->client().Command({"DEL", bucket}).ok());
  ASSERT_TRUE(store->client().Command({"SET", bucket, "a string"}).ok());
  auto wrong_type = store->Read(key, w, kNow);
  EXPECT_EQ(wrong_type.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(wrong_type.status().message().find("WRONGTYPE"), std::string::npos)
      << wrong_type.status().message();
  store->client().Command({"DEL", bucket});
}

TEST_F(RedisRateCounterTest, ScriptsSurviveAScriptFlush) {
  OwnRedisServer server;  // SCRIPT FLUSH would disturb the shared server's other users
  ASSERT_TRUE(server.Run("start"));
  auto store = OpenRedisOrDie("redis://127.0.0.1:" + server.Port());
  ASSERT_NE(store, nullptr);
  RateWindow w{60};
  ASSERT_TRUE(store->Add("k", w, Message(1, 1), kNow).ok());
  ASSERT_TRUE(store->client().Command({"SCRIPT", "FLUSH"}).ok());
  auto total = store->Add("k", w, Message(1, 1), kNow);  // NOSCRIPT -> EVAL
  ASSERT_TRUE(total.ok()) << total.status().message();
  EXPECT_EQ(total->messages, 2);
  EXPECT_EQ(store->Read("k", w, kNow)->messages, 2);
}

TEST_F(RedisRateCounterTest, AuthAndSelectAndAWrongPassword) {
  OwnRedisServer server("--password s3cret");
  ASSERT_TRUE(server.Run("start"));
  const std::string port = server.Port();
  auto store = OpenRedisOrDie("redis://:s3cret@127.0.0.1:" + port + "/3");
  ASSERT_NE(store, nullptr);
  RateWindow w{60};
  ASSERT_TRUE(store->Add("k", w, Message(1, 1), kNow).ok());
  // The bucket is in database 3, not 0.
  auto in3 = store->client().Command({"EXISTS", RedisRateCounterStore::BucketKey("k", kNow)});
  ASSERT_TRUE(in3.ok());
  EXPECT_EQ(in3->integer, 1);
  auto db0 = RedisRateCounterStore::Open("redis://:s3cret@127.0.0.1:" + port, {});
  ASSERT_TRUE(db0.ok());
  EXPECT_EQ((*db0)->Read("k", w, kNow)->messages, 0);

  auto wrong = RedisRateCounterStore::Open("redis://:not-it@127.0.0.1:" + port, {});
  ASSERT_TRUE(wrong.ok());  // opening tolerates a server it cannot use yet
  auto refused = (*wrong)->Add("k", w, Message(1, 1), kNow);
  EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(refused.status().message().find("AUTH"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("not-it"), std::string::npos);
}

TEST_F(RedisRateCounterTest, KilledServerIsUnavailableWithinTheBudgetThenRecovers) {
  OwnRedisServer server("--password s3cret");
  ASSERT_TRUE(server.Run("start"));
  const std::string port = server.Port();
  constexpr int64_t kBudgetMs = 300;
  auto store = OpenRedisOrDie("redis://:s3cret@127.0.0.1:" + port, kBudgetMs);
  ASSERT_NE(store, nullptr);
  RateWindow w{60};
  ASSERT_TRUE(store->Add("k", w, Message(1, 1), kNow).ok());
  EXPECT_EQ(store->client().OpenConnections(), 1);

  ASSERT_TRUE(server.Run("kill"));
  // The pooled connection is found dead, then nobody listens: both fail at once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto start = std::chrono::steady_clock::now();
    auto r = store->Add("k", w, Message(1, 1), kNow);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find("127.0.0.1:" + port), std::string::npos)
        << r.status().message();
    EXPECT_EQ(r.status().message().find("s3cret"), std::string::npos);
    EXPECT_LT(took, std::chrono::milliseconds(kBudgetMs + 1000));
    EXPECT_EQ(store->Read("k", w, kNow).status().code(), Status::Code::kUnavailable);
  }
  EXPECT_EQ(store->client().OpenConnections(), 0);

  // Back on the same port (without persistence: the counts start afresh).
  ASSERT_TRUE(server.Run("start"));
  auto total = store->Add("k", w, Message(1, 1), kNow);
  ASSERT_TRUE(total.ok()) << total.status().message();
  EXPECT_EQ(total->messages, 1);
}

TEST_F(RedisRateCounterTest, SilentServerTimesOutWithinTheBudget) {
  // A listener that never accepts: the kernel completes the handshake, nobody answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  constexpr int64_t kBudgetMs = 200;
  auto store = OpenRedisOrDie("redis://127.0.0.1:" + port, kBudgetMs);
  ASSERT_NE(store, nullptr);
  auto start = std::chrono::steady_clock::now();
  auto r = store->Add("k", RateWindow{60}, Message(1, 1), kNow);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  EXPECT_NE(r.status().message().find("127.0.0.1:" + port), std::string::npos);
  EXPECT_LT(took, std::chrono::milliseconds(kBudgetMs + 1000));
  close(fd);
}

// ---- the rule ----------------------------------------------------------------------------

PolicyRequest Request(const std::string& state, const std::string& sasl,
                      const std::string& size = "0", const std::string& count = "0") {
  return PolicyRequest({{"request", "smtpd_access_policy"},
                        {"protocol_state", state},
                        {"sender", "someone@example.org"},
                        {"recipient", state == "RCPT" ? "x@example.net" : ""},
                        {"sasl_username", sasl},
                        {"client_address", "192.0.2.7"},
                        {"size", size},
                        {"recipient_count", count}});
}

class RateLimitRuleTest : public ::testing::Test {
 protected:
  std::shared_ptr<const PolicyRules> Rules(const std::string& rules) {
    PolicyServices services;
    services.rate_counters = store_;
    services.clock = [this] { return now_; };
    auto built = PolicyRules::Build(testing::ConfigWithRules(rules), services);
    EXPECT_TRUE(built.ok()) << built.status().message();
    return built.ok() ? *built : nullptr;
  }
  // Sends one message of `alice`'s through `rules`: RCPT then END-OF-MESSAGE; the RCPT reply.
  std::string Send(const PolicyRules& rules, const std::string& sasl = "alice",
                   const std::string& recipients = "1", const std::string& size = "100") {
    PolicyDecision rcpt = rules.Evaluate(Request("RCPT", sasl));
    if (rcpt.IsDunno()) rules.Evaluate(Request("END-OF-MESSAGE", sasl, size, recipients));
    return rcpt.reply;
  }

  TempDir dir_;
  std::shared_ptr<RateCounterStore> store_{OpenOrDie(dir_.Path("rl.db"))};
  int64_t now_ = kNow;
};

constexpr char kThreePerHour[] = R"(  - id: sasl-rate
    check: rate_limit
    max_messages: 3
)";

TEST_F(RateLimitRuleTest, RefusesAtRcptOnceTheWindowIsFull) {
  auto rules = Rules(kThreePerHour);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Send(*rules), "DUNNO") << i;
  std::string reply = Send(*rules);
  EXPECT_EQ(reply,
            "450 4.7.1 sending limit reached (3 messages per 1h), try again later "
            "(mailwarden rule sasl-rate)");
  // Another login is not affected; a request without a login is not limited.
  EXPECT_EQ(Send(*rules, "bob"), "DUNNO");
  EXPECT_EQ(Send(*rules, ""), "DUNNO");
  // An hour and a bucket later the window has room again.
  now_ += 3600 + 300;
  EXPECT_EQ(Send(*rules), "DUNNO");
}

TEST_F(RateLimitRuleTest, TotalsAreCachedAndAnotherProcesssCountsSeenWithinTheLag) {
  auto rules = Rules(kThreePerHour);
  PolicyRequest rcpt = Request("RCPT", "alice");
  EXPECT_FALSE(rules->AnswersFromMemory(rcpt));
  EXPECT_EQ(Send(*rules), "DUNNO");
  EXPECT_EQ(Send(*rules), "DUNNO");
  // Read once and kept: its own counts entered the cache as they were added.
  EXPECT_TRUE(rules->AnswersFromMemory(rcpt));
  // Counting is a write: never from memory.
  EXPECT_FALSE(rules->AnswersFromMemory(Request("END-OF-MESSAGE", "alice", "100", "1")));
  // Another daemon on the same file counts alice's third message.
  auto other = OpenOrDie(dir_.Path("rl.db"));
  ASSERT_TRUE(
      other->Add("sasl-rate|sasl_username|alice", RateWindow{3600}, {1, 1, 100}, now_).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(AccountDirectory::kChangeLagMs + 50));
  EXPECT_NE(Send(*rules), "DUNNO");
  EXPECT_EQ(Send(*rules, "bob"), "DUNNO");
  // The window's start moving on by a bucket: totals kept from the earlier start are an
  // upper bound, good enough for bob's, under the limit; alice's reach it and are read
  // again (her first messages may have left the window).
  now_ += 300;
  EXPECT_TRUE(rules->AnswersFromMemory(Request("RCPT", "bob")));
  EXPECT_FALSE(rules->AnswersFromMemory(rcpt));
}

TEST_F(RateLimitRuleTest, LoginsDifferingInCaseShareACounter) {
  auto rules = Rules(kThreePerHour);
  for (const char* login : {"alice", "Alice", "ALICE"}) EXPECT_EQ(Send(*rules, login), "DUNNO");
  EXPECT_NE(Send(*rules, "aLiCe"), "DUNNO");
}

TEST_F(RateLimitRuleTest, RefusedEndOfMessageIsNotCounted) {
  // A second rule refuses every message at END-OF-MESSAGE: nothing was sent, nothing counts.
  auto rules = Rules(std::string(kThreePerHour) + R"(  - id: no-eom
    check: sender_blocklist
    senders: ["someone@example.org"]
    when:
      authenticated: true
)");
  PolicyDecision eom = rules->Evaluate(Request("END-OF-MESSAGE", "alice", "100", "1"));
  EXPECT_EQ(eom.action, Action::kReject);
  EXPECT_EQ(store_->Read("sasl-rate|sasl_username|alice", RateWindow{3600}, now_)->messages, 0);
}

TEST_F(RateLimitRuleTest, CountsRecipientsAndBytes) {
  auto rules = Rules(R"(  - id: r
    check: rate_limit
    key: sasl_username
    window: 10m
    max_recipients: 5
    max_bytes: 1000
)");
  EXPECT_EQ(Send(*rules, "alice", "4", "10"), "DUNNO");
  EXPECT_EQ(Send(*rules, "alice", "1", "10"), "DUNNO");
  EXPECT_EQ(Send(*rules),
            "450 4.7.1 sending limit reached (5 recipients per 10m), try again "
            "later (mailwarden rule r)");
  // Bytes: an announced SIZE that would take the window over max_bytes is refused at once.
  EXPECT_EQ(Send(*rules, "bob", "1", "500"), "DUNNO");
  EXPECT_EQ(rules->Evaluate(Request("RCPT", "bob", "501")).reply.substr(0, 9), "450 4.7.1");
  EXPECT_TRUE(rules->Evaluate(Request("RCPT", "bob", "500")).IsDunno());
}

TEST_F(RateLimitRuleTest, SenderAndClientKeysAndQuarantine) {
  auto rules = Rules(R"(  - id: per-client
    check: rate_limit
    key: client_address
    action: quarantine
    max_messages: 1
)");
  EXPECT_EQ(Send(*rules, ""), "DUNNO");
  EXPECT_EQ(Send(*rules, "").substr(0, 5), "HOLD ");
  // HOLD is no refusal: the held message is accepted, and counts.
  EXPECT_TRUE(rules->Evaluate(Request("END-OF-MESSAGE", "", "100", "1")).IsDunno());
  EXPECT_EQ(store_->Read("per-client|client_address|192.0.2.7", RateWindow{3600}, now_)->messages,
            2);
}

TEST_F(RateLimitRuleTest, CountersOutliveTheRules) {
  // A reload builds new rules with the same store: the window carries on.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Send(*Rules(kThreePerHour)), "DUNNO");
  EXPECT_NE(Send(*Rules(kThreePerHour)), "DUNNO");
}

TEST_F(RateLimitRuleTest, StoreFailureAnswersOnUnavailable) {
  store_ = nullptr;
  auto rules = Rules(kThreePerHour);
  PolicyDecision d = rules->Evaluate(Request("RCPT", "alice"));
  EXPECT_EQ(d.reply.substr(0, 25), "DEFER_IF_PERMIT 4.3.0 sen");
  // At END-OF-MESSAGE the answer stands; the log says the message was not counted.
  PolicyDecision eom = rules->Evaluate(Request("END-OF-MESSAGE", "alice", "1", "1"));
  EXPECT_TRUE(eom.IsDunno());
  ASSERT_EQ(eom.findings.size(), 1u);
  EXPECT_NE(eom.findings[0].reason.find("not recorded"), std::string::npos);
}

TEST_F(RateLimitRuleTest, BadKeysFailTheLoad) {
  auto config = testing::ConfigWithRules(R"(  - id: r
    check: rate_limit
    key: helo_name
    max_messages: 1
  - id: nothing
    check: rate_limit
)");
  ASSERT_NE(config, nullptr);
  PolicyServices services;
  services.rate_counters = store_;
  auto built = PolicyRules::Build(config, services);
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.status().message().find("rule 'r': key: 'helo_name'"), std::string::npos);
  EXPECT_NE(built.status().message().find("rule 'nothing': limits nothing"), std::string::npos);
}

}  // namespace
}  // namespace mailwarden

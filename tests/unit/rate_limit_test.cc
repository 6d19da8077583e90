// Sender rate limits: the window arithmetic, the SQLite counter store on a real file
// (isolation, persistence, concurrency, expiry, migrations) and the rate_limit rule through
// PolicyRules with an injected clock.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "policyd/policy_rules.h"
#include "policyd/store/rate_counters.h"
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
  EXPECT_EQ(RateWindow{13}.BucketSeconds(), 2);  // rounded up: never more than 12 + 1 buckets
  EXPECT_EQ(RateWindow{60}.BucketStart(-1), -5);  // floors before the epoch too
}

TEST(RateCounterStoreTest, CountsForAtLeastTheWindowAndAtMostABucketMore) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"));
  RateWindow w{3600};
  ASSERT_TRUE(store->Add("k", w, Message(2, 100), kNow + 10).ok());
  // Still counted one window later...
  EXPECT_EQ(store->Read("k", w, kNow + 10 + 3600)->messages, 1);
  // ...and up to the end of its bucket's reach, then no more.
  EXPECT_EQ(store->Read("k", w, kNow + 3600 + 299)->messages, 1);
  EXPECT_EQ(store->Read("k", w, kNow + 3600 + 300)->messages, 0);
}

TEST(RateCounterStoreTest, AddReturnsTheWindowTotalWithTheDelta) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"));
  RateWindow w{600};
  ASSERT_TRUE(store->Add("k", w, Message(3, 1000), kNow).ok());
  ASSERT_TRUE(store->Add("k", w, Message(1, 10), kNow + 200).ok());  // another bucket
  auto total = store->Add("k", w, Message(2, 5), kNow + 400);
  ASSERT_TRUE(total.ok()) << total.status().message();
  EXPECT_EQ(*total, (RateUsage{3, 6, 1015}));
  EXPECT_EQ(*store->Read("k", w, kNow + 650), (RateUsage{2, 3, 15}));  // first bucket gone
}

TEST(RateCounterStoreTest, KeysAreIsolated) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"));
  RateWindow w{3600};
  ASSERT_TRUE(store->Add("r|sasl_username|alice", w, Message(1, 1), kNow).ok());
  ASSERT_TRUE(store->Add("r|sasl_username|alice", w, Message(1, 1), kNow).ok());
  ASSERT_TRUE(store->Add("r|sasl_username|bob", w, Message(1, 1), kNow).ok());
  EXPECT_EQ(store->Read("r|sasl_username|alice", w, kNow)->messages, 2);
  EXPECT_EQ(store->Read("r|sasl_username|bob", w, kNow)->messages, 1);
  EXPECT_EQ(store->Read("r|sasl_username|carol", w, kNow)->messages, 0);
}

TEST(RateCounterStoreTest, CountersSurviveReopening) {
  TempDir dir;
  RateWindow w{3600};
  {
    auto store = OpenOrDie(dir.Path("rl.db"));
    ASSERT_TRUE(store->Add("k", w, Message(4, 400), kNow).ok());
  }
  auto store = OpenOrDie(dir.Path("rl.db"));
  EXPECT_EQ(*store->Read("k", w, kNow + 60), (RateUsage{1, 4, 400}));
  EXPECT_EQ(*store->SchemaVersion(), SqliteRateCounterStore::LatestSchemaVersion());
}

TEST(RateCounterStoreTest, ConcurrentAddsAreExact) {
  TempDir dir;
  // Two store objects on one file: two connections, as two processes would have.
  auto a = OpenOrDie(dir.Path("rl.db"));
  auto b = OpenOrDie(dir.Path("rl.db"));
  RateWindow w{3600};
  constexpr int kThreads = 8;
  constexpr int kAdds = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RateCounterStore* store = t % 2 ? a.get() : b.get();
      for (int i = 0; i < kAdds; ++i) {
        if (!store->Add("shared", w, Message(2, 10), kNow + i).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*a->Read("shared", w, kNow + kAdds),
            (RateUsage{kThreads * kAdds, 2 * kThreads * kAdds, 10 * kThreads * kAdds}));
}

TEST(RateCounterStoreTest, ExpiredBucketsArePurged) {
  TempDir dir;
  auto store = OpenOrDie(dir.Path("rl.db"));
  RateWindow w{60};  // 5 s buckets
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Add("k" + std::to_string(i), w, Message(1, 1), kNow).ok());
  EXPECT_EQ(*store->BucketCount(), 10);
  // Long after: the next Add purges the ten expired buckets and keeps its own.
  ASSERT_TRUE(store->Add("k", w, Message(1, 1), kNow + 3600).ok());
  EXPECT_EQ(*store->BucketCount(), 1);
}

TEST(RateCounterStoreTest, LockedFileTimesOutWithinTheBudget) {
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

TEST(RateCounterStoreTest, NewerSchemaIsRefused) {
  TempDir dir;
  { OpenOrDie(dir.Path("rl.db")); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.Path("rl.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO rate_limit_schema_version VALUES (99, 'future', 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteRateCounterStore::Open(dir.Path("rl.db"), {});
  EXPECT_EQ(store.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST(RateCounterStoreTest, SpecMustBeSqlite) {
  EXPECT_TRUE(CheckRateCounterSpec("sqlite:/x/rl.db").ok());
  EXPECT_EQ(OpenRateCounterStore("redis://x").status().code(),
            Status::Code::kInvalidArgument);
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
  EXPECT_EQ(Send(*rules), "450 4.7.1 sending limit reached (5 recipients per 10m), try again "
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

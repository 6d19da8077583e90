// Change marks and the lookup caches built on them: PRAGMA data_version watching of the
// SQLite stores (sqlite_db.h SqliteChangeWatch, the account directory's AccountsMark, the
// rate counters' ChangeMark), and LookupCache keeping answers by mark or by time.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "policyd/checks/lookup_cache.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/sqlite_account_directory.h"
#include "policyd/store/sqlite_rate_counters.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using testing::TempDir;

// Longer than any store's change lag: the next mark asked for polls again.
void PastTheLag() {
  std::this_thread::sleep_for(std::chrono::milliseconds(AccountDirectory::kChangeLagMs + 50));
}

// ---- LookupCache -------------------------------------------------------------------------

TEST(LookupCacheTest, MarkedAnswersLastUntilTheMarkMoves) {
  LookupCache<int> cache(/*ttl_ms=*/1);
  cache.Put("a", 1, uint64_t{7});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the time to live
  EXPECT_EQ(cache.Get("a", uint64_t{7}), 1);
  EXPECT_TRUE(cache.Has("a", uint64_t{7}, 1000000));
  EXPECT_EQ(cache.Get("a", uint64_t{8}), std::nullopt);
  // An answer kept by mark is no answer when the store can no longer tell.
  EXPECT_EQ(cache.Get("a", std::nullopt), std::nullopt);
}

TEST(LookupCacheTest, UnmarkedAnswersLastTheTimeToLive) {
  LookupCache<int> cache(/*ttl_ms=*/60000);
  cache.Put("a", 1, std::nullopt);
  EXPECT_EQ(cache.Get("a", std::nullopt), 1);
  // A probe wants the answer to outlive it by its margin.
  EXPECT_TRUE(cache.Has("a", std::nullopt, 1000));
  EXPECT_FALSE(cache.Has("a", std::nullopt, 120000));
  // An answer kept by time does not hold under a mark: the store now tells.
  EXPECT_EQ(cache.Get("a", uint64_t{1}), std::nullopt);

  LookupCache<int> no_time(/*ttl_ms=*/0);
  no_time.Put("a", 1, std::nullopt);
  EXPECT_EQ(no_time.Get("a", std::nullopt), std::nullopt);
  no_time.Put("a", 2, uint64_t{1});
  EXPECT_EQ(no_time.Get("a", uint64_t{1}), 2);
}

TEST(LookupCacheTest, PutMergedMergesOnlyWithAGoodValue) {
  LookupCache<int> cache(60000);
  auto max = [](int a, int b) { return std::max(a, b); };
  cache.PutMerged("a", 5, uint64_t{1}, max);
  cache.PutMerged("a", 3, uint64_t{1}, max);  // an older answer arriving late
  EXPECT_EQ(cache.Get("a", uint64_t{1}), 5);
  cache.PutMerged("a", 3, uint64_t{2}, max);  // under a new mark the old value is gone
  EXPECT_EQ(cache.Get("a", uint64_t{2}), 3);
}

TEST(LookupCacheTest, StartsAfreshWhenFull) {
  LookupCache<int> cache(60000, /*max_entries=*/2);
  cache.Put("a", 1, std::nullopt);
  cache.Put("b", 2, std::nullopt);
  cache.Put("b", 3, std::nullopt);  // replacing one does not count
  EXPECT_EQ(cache.Get("a", std::nullopt), 1);
  cache.Put("c", 4, std::nullopt);
  EXPECT_EQ(cache.Get("a", std::nullopt), std::nullopt);
  EXPECT_EQ(cache.Get("c", std::nullopt), 4);
}

// ---- the SQLite account directory --------------------------------------------------------

std::unique_ptr<SqliteAccountDirectory> OpenDirectory(const std::string& path) {
  auto d = SqliteAccountDirectory::Open(path, {});
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? std::move(d).value() : nullptr;
}

Account Someone(const std::string& address) {
  Account a;
  a.address = address;
  return a;
}

TEST(SqliteChangeMarkTest, DirectoryMarkMovesWhenAnotherConnectionWrites) {
  TempDir dir;
  auto daemon = OpenDirectory(dir.Path("accounts.db"));
  auto cli = OpenDirectory(dir.Path("accounts.db"));
  ASSERT_TRUE(daemon && cli);
  ASSERT_TRUE(cli->Add(Someone("a@example.org")).ok());
  auto first = daemon->AccountsMark();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(daemon->UsageMark(), first);
  // Nothing written: the mark stands, however often it is asked for.
  PastTheLag();
  EXPECT_EQ(daemon->AccountsMark(), first);
  // Reads change nothing either.
  ASSERT_TRUE(daemon->Find("a@example.org").ok());
  PastTheLag();
  EXPECT_EQ(daemon->AccountsMark(), first);

  Account suspended = Someone("a@example.org");
  suspended.state = AccountState::kSuspended;
  suspended.state_reason = "test";
  ASSERT_TRUE(cli->Update(suspended).ok());
  PastTheLag();
  auto second = daemon->AccountsMark();
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second, first);
  ASSERT_TRUE(cli->SetUsage("a@example.org", {100, 1}).ok());
  PastTheLag();
  EXPECT_NE(daemon->UsageMark(), second);
}

TEST(SqliteChangeMarkTest, RateStoreIgnoresItsOwnAddsButNotAnotherProcesss) {
  TempDir dir;
  auto open = [&] {
    auto s = SqliteRateCounterStore::Open(dir.Path("rl.db"), {});
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  };
  auto daemon = open();
  auto other = open();
  ASSERT_TRUE(daemon && other);
  const RateWindow window{3600};
  auto first = daemon->ChangeMark();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(daemon->Add("k", window, {1, 1, 10}, 1717200000).ok());
  PastTheLag();
  EXPECT_EQ(daemon->ChangeMark(), first);
  ASSERT_TRUE(other->Add("k", window, {1, 1, 10}, 1717200000).ok());
  PastTheLag();
  EXPECT_NE(daemon->ChangeMark(), first);
}

}  // namespace
}  // namespace mailwarden

// The policy server end to end on a unix socket: a real event loop in a thread, real
// client sockets, no signals (Stop() ends it). The worker pool is driven through a rate
// counter store that holds requests of "slow" senders at a gate, so the tests decide when
// a slow evaluation ends instead of guessing with sleeps.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/daemon.h"
#include "policyd/reload.h"
#include "policyd/server.h"
#include "policyd/store/rate_counters.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGood =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=ok@example.org\n"
    "recipient=r@bacgiang.gov.vn\nclient_address=127.0.0.1\n\n";
constexpr const char* kBlocked =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=bad@spam.example\n"
    "recipient=r@bacgiang.gov.vn\nqueue_id=Q1\nclient_address=127.0.0.1\n\n";
constexpr const char* kRejectLine =
    "action=550 5.7.1 sender blocked by policy (mailwarden rule sender-blocklist)\n\n";

// A rate counter store whose reads for keys containing "slow" wait: for `delay` when the
// gate is open, else until it opens (at most 10 s, so a broken test cannot hang).
class GatedCounters : public RateCounterStore {
 public:
  Result<RateUsage> Add(std::string_view, const RateWindow&, const RateUsage& delta,
                        int64_t) override {
    return delta;
  }
  Result<RateUsage> Read(std::string_view key, const RateWindow&, int64_t) const override {
    reads_.fetch_add(1);
    if (key.find("slow") == std::string_view::npos) return RateUsage{};
    std::unique_lock<std::mutex> lock(mu_);
    ++started_;
    changed_.notify_all();
    if (open_) {
      lock.unlock();
      std::this_thread::sleep_for(delay_);
    } else {
      changed_.wait_for(lock, std::chrono::seconds(10), [this] { return open_; });
    }
    ++finished_;
    return RateUsage{};
  }
  // nullopt (the default): a store that cannot tell changes, read every time.
  std::optional<uint64_t> ChangeMark() const override {
    uint64_t m = mark_.load();
    return m == 0 ? std::nullopt : std::optional<uint64_t>(m);
  }
  void SetMark(uint64_t m) { mark_.store(m); }
  int reads() const { return reads_.load(); }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits (at most 5 s) until `n` slow reads have started; false on timeout.
  bool WaitStarted(int n) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return started_ >= n; });
  }
  int finished() const {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  mutable int started_ = 0;
  mutable int finished_ = 0;
  bool open_ = true;
  std::chrono::milliseconds delay_{100};
  std::atomic<uint64_t> mark_{0};
  mutable std::atomic<int> reads_{0};
};

// A client socket with a receive timeout, so a broken server fails the test instead of
// hanging it.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{5, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until `answers` complete answers (each ends with an empty line) have arrived;
  // returns them concatenated, or what came before EOF / the timeout.
  std::string Read(int answers = 1) {
    std::string got;
    char buf[4096];
    while (Count(got) < answers) {
      ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  // True when the server closed the connection (EOF) within the receive timeout.
  bool ClosedByServer() {
    char buf[256];
    for (;;) {
      ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }
  std::string Ask(std::string_view request) {
    if (!Send(request)) return "";
    return Read(1);
  }

 private:
  static int Count(const std::string& s) {
    int n = 0;
    for (size_t pos = s.find("\n\n"); pos != std::string::npos; pos = s.find("\n\n", pos + 2)) ++n;
    return n;
  }
  UniqueFd fd_;
  bool connected_ = false;
};

struct ServerSetup {
  // With a store: a rate_limit rule keyed on the sender reads `counters_` (so requests
  // go to the worker pool), besides the sender blocklist.
  bool with_store = false;
  bool pool_every_request = false;
};

class PolicyServerTest : public ::testing::Test {
 protected:
  // Starts a server with `policyd` options (YAML lines under "policyd:").
  void Start(const std::string& policyd = "", ServerSetup setup = {}) {
    std::string rules_text =
        "version: 1\nrules:\n  - id: sender-blocklist\n"
        "    check: sender_blocklist\n    senders: [\"@spam.example\"]\n";
    if (setup.with_store) {
      rules_text +=
          "  - id: rate\n    check: rate_limit\n    key: sender\n    max_messages: 1000\n";
    }
    rules_file_ = dir_.Write("rules.yaml", rules_text);
    socket_ = dir_.Path("policy.sock");
    config_ = dir_.Write(
        "c.yaml", "version: 1\nrule_files: [rules.yaml]\npolicyd:\n  listen: unix:" + socket_ +
                      "\n" + policyd + "log:\n  path: " + dir_.Path("decisions.json") + "\n");
    std::shared_ptr<const PolicyRules> built;
    if (setup.with_store) {
      auto config = LoadConfig(config_);
      ASSERT_TRUE(config.ok()) << config.status().message();
      PolicyServices services;
      services.rate_counters = counters_;
      auto rules = PolicyRules::Build(*config, services);
      ASSERT_TRUE(rules.ok()) << rules.status().message();
      built = *rules;
    } else {
      auto rules = LoadPolicyRules({config_, ""});
      ASSERT_TRUE(rules.ok()) << rules.status().message();
      built = *rules;
    }
    rules_.Replace(built);
    auto log = DecisionLog::Open(built->config().log);
    ASSERT_TRUE(log.ok());
    log_.Replace(std::shared_ptr<DecisionLog>(std::move(log).value()));
    auto spec = ParseSocketSpec("unix:" + socket_);
    auto fd = OpenListener(*spec, 128);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    PolicyServer::Hooks hooks{&rules_, &log_, nullptr};
    PolicyServer::Options options;
    options.handle_signals = false;
    options.pool_every_request = setup.pool_every_request;
    auto server = PolicyServer::Create(UniqueFd(*fd), hooks, options);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }

  void TearDown() override {
    counters_->Open();  // a test that failed half-way must not leave a worker waiting
    if (thread_.joinable()) {
      server_->Stop();
      thread_.join();
    }
  }

  std::string DecisionLogText() const {
    std::ifstream in(dir_.Path("decisions.json"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  testing::TempDir dir_;
  std::string rules_file_, socket_, config_;
  SnapshotHolder<const PolicyRules> rules_;
  SnapshotHolder<DecisionLog> log_;
  std::unique_ptr<PolicyServer> server_;
  std::thread thread_;
  Status run_status_;
  std::shared_ptr<GatedCounters> counters_ = std::make_shared<GatedCounters>();
};

TEST_F(PolicyServerTest, AnswersAndKeepsTheConnection) {
  Start();
  Client c(socket_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Ask(kGood), "action=DUNNO\n\n");
  EXPECT_EQ(c.Ask(kBlocked), kRejectLine);
  EXPECT_EQ(c.Ask(kGood), "action=DUNNO\n\n");
  EXPECT_EQ(server_->counters().requests.load(), 3u);
  // Only the refusal is in the decision log.
  std::string log = DecisionLogText();
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_NE(log.find("\"local_id\":\"Q1\""), std::string::npos) << log;
}

TEST_F(PolicyServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  Client c(socket_);
  ASSERT_TRUE(c.Send(std::string(kGood) + kBlocked + kGood + kBlocked));
  EXPECT_EQ(c.Read(4),
            std::string("action=DUNNO\n\n") + kRejectLine + "action=DUNNO\n\n" + kRejectLine);
}

TEST_F(PolicyServerTest, RequestSplitIntoSingleBytes) {
  Start();
  Client c(socket_);
  for (const char* p = kBlocked; *p != '\0'; ++p) ASSERT_TRUE(c.Send(std::string_view(p, 1)));
  EXPECT_EQ(c.Read(1), kRejectLine);
}

TEST_F(PolicyServerTest, BadInputClosesWithoutAnAnswerButAnswersWhatCameBefore) {
  Start();
  Client c(socket_);
  ASSERT_TRUE(c.Send(std::string(kGood) + "this is not a policy request\n\n"));
  EXPECT_EQ(c.Read(1), "action=DUNNO\n\n");
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_EQ(server_->counters().protocol_errors.load(), 1u);
  // The server goes on serving others.
  Client d(socket_);
  EXPECT_EQ(d.Ask(kGood), "action=DUNNO\n\n");
}

TEST_F(PolicyServerTest, UnsupportedRequestTypeCloses) {
  Start();
  Client c(socket_);
  ASSERT_TRUE(c.Send("request=something_else\n\n"));
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(PolicyServerTest, OverlongLineCloses) {
  Start("  max_line_length: 256\n");
  Client c(socket_);
  c.Send("request=smtpd_access_policy\nsender=" + std::string(10000, 'a'));
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(PolicyServerTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  Start("  max_connections: 2\n");
  Client a(socket_), b(socket_);
  EXPECT_EQ(a.Ask(kGood), "action=DUNNO\n\n");
  EXPECT_EQ(b.Ask(kGood), "action=DUNNO\n\n");
  Client c(socket_);
  ASSERT_TRUE(c.connected());  // accepted by the kernel, then closed by the server
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_EQ(server_->counters().refused.load(), 1u);
  EXPECT_EQ(a.Ask(kBlocked), kRejectLine);
}

TEST_F(PolicyServerTest, ClientThatDoesNotReadIsThrottledNotBuffered) {
  Start();
  Client c(socket_);
  constexpr int kRequests = 5000;  // ~500 KB of answers, far above the output high water
  std::string burst;
  for (int i = 0; i < kRequests; ++i) burst += kBlocked;
  std::thread sender([&] { EXPECT_TRUE(c.Send(burst)); });
  std::this_thread::sleep_for(200ms);  // let the server hit its high-water mark first
  std::string answers = c.Read(kRequests);
  sender.join();
  size_t count = 0;
  for (size_t pos = answers.find(kRejectLine); pos != std::string::npos;
       pos = answers.find(kRejectLine, pos + 1)) {
    ++count;
  }
  EXPECT_EQ(count, static_cast<size_t>(kRequests));
}

TEST_F(PolicyServerTest, StopFinishesARequestInProgressAndClosesIdleConnections) {
  Start();
  Client idle(socket_), busy(socket_);
  ASSERT_EQ(idle.Ask(kGood), "action=DUNNO\n\n");
  std::string half = std::string(kBlocked).substr(0, 40);
  ASSERT_TRUE(busy.Send(half));
  std::this_thread::sleep_for(100ms);
  server_->Stop();
  EXPECT_TRUE(idle.ClosedByServer());
  ASSERT_TRUE(busy.Send(std::string(kBlocked).substr(40)));
  EXPECT_EQ(busy.Read(1), kRejectLine);
  EXPECT_TRUE(busy.ClosedByServer());
  thread_.join();
  EXPECT_TRUE(run_status_.ok());
  EXPECT_FALSE(Client(socket_).connected());  // the listener is gone
}

TEST_F(PolicyServerTest, ReloadSwapsRulesAndAFailedOneKeepsThem) {
  Start();
  Client c(socket_);
  ASSERT_EQ(c.Ask(kBlocked), kRejectLine);
  // A broken rule file: refused, old rules stay.
  dir_.Write("rules.yaml", "version: 1\nrules:\n  - id: sender-blocklist\n    check: nope\n");
  Status s = ReloadPolicyd({config_, ""}, &rules_, &log_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rules.yaml:4:12: unknown check 'nope'"), std::string::npos)
      << s.message();
  EXPECT_EQ(c.Ask(kBlocked), kRejectLine);
  // A changed list takes effect on the same connection.
  dir_.Write("rules.yaml",
             "version: 1\nrules:\n  - id: sender-blocklist\n"
             "    check: sender_blocklist\n    senders: [ok@example.org]\n");
  ASSERT_TRUE(ReloadPolicyd({config_, ""}, &rules_, &log_).ok());
  EXPECT_EQ(c.Ask(kBlocked), "action=DUNNO\n\n");
  EXPECT_EQ(c.Ask(kGood), kRejectLine);
}

TEST_F(PolicyServerTest, ReloaderRunsInItsOwnThread) {
  Start();
  dir_.Write("rules.yaml", "version: 1\nrules: []\n");
  {
    Reloader reloader({config_, ""}, &rules_, &log_);
    reloader.Request();
    for (int i = 0; i < 500 && reloader.completed() == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(reloader.completed(), 1u);
  }
  Client c(socket_);
  EXPECT_EQ(c.Ask(kBlocked), "action=DUNNO\n\n");
}

// ---- the worker pool ----------------------------------------------------------------------

constexpr const char* kSlow =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=slow@example.org\n"
    "recipient=r@bacgiang.gov.vn\nclient_address=127.0.0.1\n\n";
// Slow, and refused: tells its answer apart from kGood's in an ordering test.
constexpr const char* kSlowBlocked =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=slow@spam.example\n"
    "recipient=r@bacgiang.gov.vn\nclient_address=127.0.0.1\n\n";

TEST_F(PolicyServerTest, SlowRuleOnOneConnectionDoesNotDelayAnother) {
  Start("  workers: 2\n", {.with_store = true});
  counters_->Close();
  Client slow(socket_), fast(socket_);
  ASSERT_TRUE(slow.Send(kSlow));
  ASSERT_TRUE(counters_->WaitStarted(1));
  // The slow request holds a worker (and would hold the loop if evaluated there); the
  // other connection is answered meanwhile, more than once.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fast.Ask(kGood), "action=DUNNO\n\n");
    EXPECT_EQ(fast.Ask(kBlocked), kRejectLine);
  }
  EXPECT_EQ(counters_->finished(), 0);
  counters_->Open();
  EXPECT_EQ(slow.Read(1), "action=DUNNO\n\n");
  EXPECT_EQ(server_->counters().requests.load(), 7u);
}

TEST_F(PolicyServerTest, SleepingRuleAnswersInTime) {
  // The gate open: each slow read sleeps ~100 ms. Four connections with a slow request
  // each and four workers: the answers overlap instead of queueing behind one another.
  Start("  workers: 4\n", {.with_store = true});
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(std::make_unique<Client>(socket_));
  auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) ASSERT_TRUE(c->Send(kSlow));
  Client fast(socket_);
  EXPECT_EQ(fast.Ask(kGood), "action=DUNNO\n\n");
  for (auto& c : clients) EXPECT_EQ(c->Read(1), "action=DUNNO\n\n");
  // Serially 400 ms; generous bound, no timing assertion beyond "not queued forever".
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(PolicyServerTest, PipelinedRequestsThroughThePoolKeepTheirOrder) {
  Start("", {.with_store = true});
  Client c(socket_);
  // Slow ones first: a later, fast request must not overtake them.
  ASSERT_TRUE(c.Send(std::string(kSlowBlocked) + kGood + kSlow + kBlocked + kSlowBlocked + kGood));
  EXPECT_EQ(c.Read(6), std::string(kRejectLine) + "action=DUNNO\n\n" + "action=DUNNO\n\n" +
                           kRejectLine + kRejectLine + "action=DUNNO\n\n");
}

TEST_F(PolicyServerTest, CachedStoreAnswersStayOnTheLoop) {
  counters_->SetMark(1);
  Start("", {.with_store = true});
  Client c(socket_);
  ASSERT_TRUE(c.Send(kGood));
  EXPECT_EQ(c.Read(1), "action=DUNNO\n\n");
  EXPECT_EQ(server_->counters().pooled.load(), 1u);
  EXPECT_EQ(counters_->reads(), 1);
  // The same sender again: its totals are cached, answered on the loop without a read.
  ASSERT_TRUE(c.Send(kGood));
  EXPECT_EQ(c.Read(1), "action=DUNNO\n\n");
  EXPECT_EQ(server_->counters().pooled.load(), 1u);
  EXPECT_EQ(counters_->reads(), 1);
  // The store saw another writer: read again, in the pool.
  counters_->SetMark(2);
  ASSERT_TRUE(c.Send(kGood));
  EXPECT_EQ(c.Read(1), "action=DUNNO\n\n");
  EXPECT_EQ(server_->counters().pooled.load(), 2u);
  EXPECT_EQ(counters_->reads(), 2);
  // Mixed: a slow pooled request, then cached ones answered on the loop, then pooled ones
  // again; the answers keep request order.
  ASSERT_TRUE(c.Send(std::string(kSlowBlocked) + kGood + kGood + kBlocked + kSlow + kGood));
  EXPECT_EQ(c.Read(6), std::string(kRejectLine) + "action=DUNNO\n\n" + "action=DUNNO\n\n" +
                           kRejectLine + "action=DUNNO\n\n" + "action=DUNNO\n\n");
}

TEST_F(PolicyServerTest, PipelinedMemoryRulesThroughThePoolKeepTheirOrder) {
  Start("", {.pool_every_request = true});
  Client c(socket_);
  std::string burst, expected;
  for (int i = 0; i < 200; ++i) {
    burst += i % 3 == 0 ? kBlocked : kGood;
    expected += i % 3 == 0 ? std::string(kRejectLine) : std::string("action=DUNNO\n\n");
  }
  ASSERT_TRUE(c.Send(burst));
  EXPECT_EQ(c.Read(200), expected);
}

TEST_F(PolicyServerTest, ClientThatDoesNotReadIsThrottledThroughThePool) {
  Start("", {.pool_every_request = true});
  Client c(socket_);
  constexpr int kRequests = 5000;
  std::string burst;
  for (int i = 0; i < kRequests; ++i) burst += kBlocked;
  std::thread sender([&] { EXPECT_TRUE(c.Send(burst)); });
  std::this_thread::sleep_for(200ms);
  std::string answers = c.Read(kRequests);
  sender.join();
  size_t count = 0;
  for (size_t pos = answers.find(kRejectLine); pos != std::string::npos;
       pos = answers.find(kRejectLine, pos + 1)) {
    ++count;
  }
  EXPECT_EQ(count, static_cast<size_t>(kRequests));
  EXPECT_EQ(server_->counters().requests.load(), static_cast<uint64_t>(kRequests));
}

TEST_F(PolicyServerTest, BadInputAfterAPooledRequestClosesAfterItsAnswer) {
  Start("", {.with_store = true});
  counters_->Close();
  Client c(socket_);
  ASSERT_TRUE(c.Send(std::string(kSlow) + "this is not a policy request\n\n"));
  ASSERT_TRUE(counters_->WaitStarted(1));
  counters_->Open();
  EXPECT_EQ(c.Read(1), "action=DUNNO\n\n");
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_EQ(server_->counters().protocol_errors.load(), 1u);
}

TEST_F(PolicyServerTest, ClientClosingMidEvaluationDropsTheAnswer) {
  Start("", {.with_store = true});
  counters_->Close();
  {
    Client gone(socket_);
    ASSERT_TRUE(gone.Send(std::string(kSlow) + kGood));
    ASSERT_TRUE(counters_->WaitStarted(1));
  }  // closed while its request is in a worker, with another waiting behind it
  Client other(socket_);
  EXPECT_EQ(other.Ask(kGood), "action=DUNNO\n\n");
  counters_->Open();
  for (int i = 0; i < 500 && counters_->finished() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(counters_->finished(), 1);
  // The late answer went nowhere; the server serves on, and only answers sent count.
  EXPECT_EQ(other.Ask(kBlocked), kRejectLine);
  EXPECT_EQ(server_->counters().requests.load(), 2u);
}

TEST_F(PolicyServerTest, StopAnswersRequestsInWorkersFirst) {
  Start("", {.with_store = true});
  counters_->Close();
  Client busy(socket_), idle(socket_);
  ASSERT_EQ(idle.Ask(kGood), "action=DUNNO\n\n");
  // One request in a worker, one waiting behind it on the same connection.
  ASSERT_TRUE(busy.Send(std::string(kSlowBlocked) + kGood));
  ASSERT_TRUE(counters_->WaitStarted(1));
  server_->Stop();
  EXPECT_TRUE(idle.ClosedByServer());
  counters_->Open();
  EXPECT_EQ(busy.Read(2), std::string(kRejectLine) + "action=DUNNO\n\n");
  EXPECT_TRUE(busy.ClosedByServer());
  thread_.join();
  EXPECT_TRUE(run_status_.ok());
  EXPECT_EQ(server_->counters().requests.load(), 3u);
}

TEST_F(PolicyServerTest, StopWaitsNoLongerThanShutdownTimeout) {
  Start("  shutdown_timeout: 1s\n", {.with_store = true});
  counters_->Close();
  Client busy(socket_);
  ASSERT_TRUE(busy.Send(kSlow));
  ASSERT_TRUE(counters_->WaitStarted(1));
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_TRUE(busy.ClosedByServer());  // after the timeout, without an answer
  counters_->Open();                   // lets Run() join the worker
  thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s + 5s);
  EXPECT_EQ(server_->counters().requests.load(), 0u);
}

TEST_F(PolicyServerTest, NoWorkersEvaluatesInline) {
  Start("  workers: 0\n", {.with_store = true});
  Client c(socket_);
  EXPECT_EQ(c.Ask(kSlowBlocked), kRejectLine);
  EXPECT_EQ(c.Ask(kGood), "action=DUNNO\n\n");
}

}  // namespace
}  // namespace mailwarden

// rspamd and spamd clients: the wire format against in-test peers (what is sent, how each
// reply and each failure is read), then the real rspamd and spamd started privately on
// loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "milter/spam/external_scorer.h"
#include "tests/unit/spam_test_servers.h"

namespace mailwarden::spam {
namespace {

using std::chrono::milliseconds;
using testing::SpamFakeServer;

const char kMessage[] =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: hello\n"
    "\n"
    "Hello Bob,\n"
    "see you.\n";

const char kMessageCrlf[] =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "see you.\r\n";

ScorerContext Context() {
  ScorerContext c;
  c.client_addr = "192.0.2.1";
  c.client_name = "mail.example.com";
  c.helo = "mail.example.com";
  c.mail_from = "alice@example.com";
  c.recipients = {"bob@example.org", "carol@example.org"};
  c.queue_id = "4BqX1d2Yz";
  return c;
}

std::unique_ptr<ExternalScorer> Make(ExternalScorerOptions::Kind kind, const std::string& address,
                                     milliseconds timeout = milliseconds(3000),
                                     double weight = 1.0) {
  ExternalScorerOptions o;
  o.kind = kind;
  o.address = address;
  o.timeout = timeout;
  o.weight = weight;
  auto s = ExternalScorer::Create(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::unique_ptr<ExternalScorer> Rspamd(const SpamFakeServer& server,
                                       milliseconds timeout = milliseconds(3000),
                                       double weight = 1.0) {
  return Make(ExternalScorerOptions::Kind::kRspamd, "http://" + server.address(), timeout, weight);
}

std::unique_ptr<ExternalScorer> Spamd(const SpamFakeServer& server,
                                      milliseconds timeout = milliseconds(3000)) {
  return Make(ExternalScorerOptions::Kind::kSpamd, server.address(), timeout);
}

std::string Http(const std::string& status, const std::string& body) {
  return "HTTP/1.1 " + status +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

SpamFakeServer::Behaviour Replying(std::string reply) {
  return {std::move(reply), false, testing::SpamRequestComplete};
}

const char kRspamdJson[] =
    R"({"is_skipped":false,"score":7.2,"required_score":15.0,"action":"add header",)"
    R"("symbols":{"ARC_NA":{"name":"ARC_NA","score":0.0},)"
    R"("MISSING_MID":{"name":"MISSING_MID","score":2.5},)"
    R"("MIME_GOOD":{"name":"MIME_GOOD","score":-3.1},)"
    R"("HFILTER_HOSTNAME_UNKNOWN":{"name":"HFILTER_HOSTNAME_UNKNOWN","score":2.5},)"
    R"("BAD\r\nNAME!":{"score":0.5}},"messages":{}})";

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
}

// ---- configuration --------------------------------------------------------------------------

TEST(ExternalScorerCreate, ChecksAddresses) {
  using K = ExternalScorerOptions::Kind;
  for (const char* good :
       {"http://127.0.0.1:11333", "http://localhost:11333/", "http://[::1]:11333",
        "http://rspamd.example/scan/", "http://127.0.0.1", "unix:/run/rspamd.sock"}) {
    EXPECT_TRUE(ExternalScorer::Create({K::kRspamd, good}).ok()) << good;
  }
  for (const char* bad :
       {"", "https://127.0.0.1:11334", "127.0.0.1:11333", "http://", "http://:11333",
        "http://u:p@127.0.0.1:11333", "http://127.0.0.1:99999", "unix:relative"}) {
    auto s = ExternalScorer::Create({K::kRspamd, bad});
    EXPECT_FALSE(s.ok()) << bad;
  }
  for (const char* good : {"127.0.0.1:783", "127.0.0.1", "localhost:783", "[::1]:783", "::1",
                           "inet:127.0.0.1:783", "unix:/run/spamd.sock"}) {
    EXPECT_TRUE(ExternalScorer::Create({K::kSpamd, good}).ok()) << good;
  }
  for (const char* bad : {"", "127.0.0.1:0", "127.0.0.1:x", "unix:", "[::1"}) {
    EXPECT_FALSE(ExternalScorer::Create({K::kSpamd, bad}).ok()) << bad;
  }
  auto s = ExternalScorer::Create({K::kSpamd, "127.0.0.1:783"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->name(), "SPAMD");
  EXPECT_EQ((*ExternalScorer::Create({K::kRspamd, "http://127.0.0.1:1"}))->name(), "RSPAMD");
}

// ---- rspamd protocol --------------------------------------------------------------------------

TEST(RspamdClient, SendsEnvelopeAndCrlfMessageAndReadsVerdict) {
  SpamFakeServer server(Replying(Http("200 OK", kRspamdJson)));
  auto scorer = Rspamd(server, milliseconds(3000), /*weight=*/0.5);
  auto signal = scorer->Score(kMessage, Context());
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_EQ(signal->name, "RSPAMD");
  EXPECT_DOUBLE_EQ(signal->score, 3.6);
  // Weightiest symbols first (either sign), names cleaned.
  EXPECT_EQ(signal->detail,
            "rspamd 7.2/15 action=add header symbols=MIME_GOOD,HFILTER_HOSTNAME_UNKNOWN,"
            "MISSING_MID,BADNAME,ARC_NA");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const std::string& req = requests[0];
  EXPECT_TRUE(req.starts_with("POST /checkv2 HTTP/1.1\r\n")) << req;
  for (const char* line : {"\r\nHost: 127.0.0.1:", "\r\nConnection: close\r\n",
                           "\r\nIP: 192.0.2.1\r\n", "\r\nHostname: mail.example.com\r\n",
                           "\r\nHelo: mail.example.com\r\n", "\r\nFrom: alice@example.com\r\n",
                           "\r\nRcpt: bob@example.org\r\nRcpt: carol@example.org\r\n",
                           "\r\nQueue-Id: 4BqX1d2Yz\r\n"}) {
    EXPECT_NE(req.find(line), std::string::npos) << line << "\n" << req;
  }
  EXPECT_EQ(req.find("\r\nUser:"), std::string::npos);  // not authenticated
  std::string body = std::string(kMessageCrlf);
  EXPECT_NE(req.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_TRUE(req.ends_with("\r\n\r\n" + body)) << req;
}

TEST(RspamdClient, NullSenderAuthUserAndNoHeaderInjection) {
  SpamFakeServer server(Replying(Http("200 OK", R"({"score":-1.5,"action":"no action"})")));
  ScorerContext ctx = Context();
  ctx.mail_from = "";
  ctx.auth_user = "alice";
  ctx.helo = "evil\r\nX-Injected: 1";
  auto signal = Rspamd(server)->Score(kMessageCrlf, ctx);
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_DOUBLE_EQ(signal->score, -1.5);
  EXPECT_EQ(signal->detail, "rspamd -1.5 action=no action");
  const std::string req = server.requests().at(0);
  EXPECT_NE(req.find("\r\nFrom: <>\r\n"), std::string::npos);
  EXPECT_NE(req.find("\r\nUser: alice\r\n"), std::string::npos);
  EXPECT_NE(req.find("\r\nHelo: evilX-Injected: 1\r\n"), std::string::npos) << req;
  EXPECT_EQ(req.find("\r\nX-Injected"), std::string::npos);
  // A CRLF message is sent unchanged.
  EXPECT_TRUE(req.ends_with(std::string("\r\n\r\n") + kMessageCrlf));
}

TEST(RspamdClient, PathPrefixAndChunkedReply) {
  std::string json = R"({"score":12.25,"required_score":15,"action":"rewrite subject"})";
  std::string reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  reply += "a\r\n" + json.substr(0, 10) + "\r\n";
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", json.size() - 10);
  reply += std::string(size) + "\r\n" + json.substr(10) + "\r\n0\r\n\r\n";
  SpamFakeServer server(Replying(reply));
  auto scorer =
      Make(ExternalScorerOptions::Kind::kRspamd, "http://" + server.address() + "/rspamd/");
  auto signal = scorer->Score(kMessage, Context());
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_DOUBLE_EQ(signal->score, 12.25);
  EXPECT_EQ(signal->detail, "rspamd 12.25/15 action=rewrite subject");
  EXPECT_TRUE(server.requests().at(0).starts_with("POST /rspamd/checkv2 HTTP/1.1\r\n"));
}

TEST(RspamdClient, OverUnixSocket) {
  testing::SpamTempDir dir;
  const std::string path = dir.path() + "/rspamd.sock";
  SpamFakeServer server(Replying(Http("200 OK", R"({"score":1,"required_score":15})")), path);
  auto signal = Make(ExternalScorerOptions::Kind::kRspamd, "unix:" + path)->Score(kMessage, {});
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_EQ(signal->detail, "rspamd 1/15");
}

TEST(RspamdClient, HostNamesAreLookedUp) {
  SpamFakeServer server(Replying(Http("200 OK", R"({"score":2,"required_score":15})")));
  const std::string port = server.address().substr(server.address().rfind(':') + 1);
  auto signal =
      Make(ExternalScorerOptions::Kind::kRspamd, "http://localhost:" + port)->Score(kMessage, {});
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_EQ(signal->detail, "rspamd 2/15");
}

TEST(RspamdClient, NameThatCannotBeLookedUpFailsWithinTheTimeout) {
  // Whatever this machine's resolver does with a name under .invalid (answer NXDOMAIN, or
  // not answer at all), the exchange ends by its timeout.
  const auto start = std::chrono::steady_clock::now();
  auto signal = Make(ExternalScorerOptions::Kind::kRspamd, "http://scorer.mailwarden.invalid:11333",
                     milliseconds(500))
                    ->Score(kMessage, {});
  ASSERT_FALSE(signal.ok());
  EXPECT_TRUE(signal.status().code() == Status::Code::kUnavailable ||
              signal.status().code() == Status::Code::kTimeout)
      << signal.status().ToString();
  EXPECT_NE(signal.status().message().find("scorer.mailwarden.invalid"), std::string::npos);
  EXPECT_LT(MillisSince(start), 500 + 700);  // a bound, with slack for a busy machine
}

TEST(RspamdClient, ErrorsAreClassified) {
  struct Case {
    std::string reply;
    Status::Code code;
    const char* says;
  };
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  std::vector<Case> cases = {
      {Http("500 Internal Server Error", "{}"), Status::Code::kUnavailable, "500"},
      {Http("404 Not Found", "{}"), Status::Code::kInternal, "404"},
      {"hello world\r\n\r\n", Status::Code::kInternal, "not an HTTP answer"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nnot json!!!!", Status::Code::kInternal,
       "not a JSON object"},
      {Http("200 OK", R"({"action":"reject"})"), Status::Code::kInternal, "no score"},
      {Http("200 OK", R"({"score":"high"})"), Status::Code::kInternal, "no score"},
      {Http("200 OK", R"({"error":"cannot parse message"})"), Status::Code::kUnavailable,
       "cannot parse message"},
      {Http("200 OK", deep), Status::Code::kInternal, "nested"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"score\":1}", Status::Code::kUnavailable,
       "closed in the middle"},
  };
  for (const Case& c : cases) {
    SpamFakeServer server(Replying(c.reply));
    auto signal = Rspamd(server)->Score(kMessage, Context());
    ASSERT_FALSE(signal.ok()) << c.reply;
    EXPECT_EQ(signal.status().code(), c.code) << c.reply << " -> " << signal.status().ToString();
    EXPECT_NE(signal.status().message().find(c.says), std::string::npos)
        << signal.status().message();
    EXPECT_NE(signal.status().message().find("rspamd at http://127.0.0.1:"), std::string::npos);
  }
}

// ---- spamd protocol ---------------------------------------------------------------------------

TEST(SpamdClient, SendsSymbolsRequestAndReadsVerdict) {
  const std::string symbols = "BAYES_99,GTUBE,MISSING_DATE";
  SpamFakeServer server(
      Replying("SPAMD/1.1 0 EX_OK\r\nContent-length: " + std::to_string(symbols.size()) +
               "\r\nSpam: True ; 1007.3 / 5.0\r\n\r\n" + symbols));
  ScorerContext ctx = Context();
  ctx.recipients = {"bob@example.org"};
  auto signal = Spamd(server)->Score(kMessage, ctx);
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_EQ(signal->name, "SPAMD");
  EXPECT_DOUBLE_EQ(signal->score, 1007.3);
  EXPECT_EQ(signal->detail, "spamd 1007.3/5 spam=yes symbols=BAYES_99,GTUBE,MISSING_DATE");
  const std::string body = kMessageCrlf;
  EXPECT_EQ(server.requests().at(0),
            "SYMBOLS SPAMC/1.5\r\nContent-length: " + std::to_string(body.size()) +
                "\r\nUser: bob@example.org\r\n\r\n" + body);
}

TEST(SpamdClient, HamWithoutSymbolsAndSeveralRecipients) {
  SpamFakeServer server(
      Replying("SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; -0.4 / 5.0\r\n\r\n"));
  auto signal = Spamd(server)->Score(kMessage, Context());
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_DOUBLE_EQ(signal->score, -0.4);
  EXPECT_EQ(signal->detail, "spamd -0.4/5 spam=no");
  EXPECT_EQ(server.requests().at(0).find("User:"), std::string::npos);
}

TEST(SpamdClient, OverUnixSocket) {
  testing::SpamTempDir dir;
  const std::string path = dir.path() + "/spamd.sock";
  SpamFakeServer server(Replying("SPAMD/1.1 0 EX_OK\r\nSpam: Yes ; 6 / 5\r\n\r\n"), path);
  auto signal = Make(ExternalScorerOptions::Kind::kSpamd, "unix:" + path)->Score(kMessage, {});
  ASSERT_TRUE(signal.ok()) << signal.status().ToString();
  EXPECT_EQ(signal->detail, "spamd 6/5 spam=yes");
}

TEST(SpamdClient, ErrorsAreClassified) {
  struct Case {
    std::string reply;
    Status::Code code;
    const char* says;
  };
  std::vector<Case> cases = {
      {"SPAMD/1.0 76 Bad header line: (EOF)\r\n", Status::Code::kInternal, "76 Bad header"},
      {"SPAMD/1.0 75 EX_TEMPFAIL\r\n", Status::Code::kUnavailable, "75"},
      {"HTTP/1.1 200 OK\r\n\r\n", Status::Code::kInternal, "not a spamd answer"},
      {"SPAMD/1.1 0 EX_OK\r\n\r\n", Status::Code::kInternal, "no Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n", Status::Code::kInternal, "Spam header"},
      {"SPAMD/1.1 0 EX_OK\r\nSpam: True ; lots / 5\r\n\r\n", Status::Code::kInternal,
       "Spam header"},
      {"SPAMD/1.1 x EX_OK\r\n\r\n", Status::Code::kInternal, "status code"},
  };
  for (const Case& c : cases) {
    SpamFakeServer server(Replying(c.reply));
    auto signal = Spamd(server)->Score(kMessage, Context());
    ASSERT_FALSE(signal.ok()) << c.reply;
    EXPECT_EQ(signal.status().code(), c.code) << c.reply << " -> " << signal.status().ToString();
    EXPECT_NE(signal.status().message().find(c.says), std::string::npos)
        << signal.status().message();
  }
}

// ---- failures common to both ------------------------------------------------------------------

class ScorerFailureTest : public ::testing::TestWithParam<ExternalScorerOptions::Kind> {
 protected:
  std::unique_ptr<ExternalScorer> At(const std::string& host_port,
                                     milliseconds timeout = milliseconds(3000)) {
    bool rspamd = GetParam() == ExternalScorerOptions::Kind::kRspamd;
    return Make(GetParam(), rspamd ? "http://" + host_port : host_port, timeout);
  }
};

TEST_P(ScorerFailureTest, UnreachablePortIsUnavailableQuickly) {
  int port = testing::SpamFreePort(SOCK_STREAM);
  auto start = std::chrono::steady_clock::now();
  auto signal = At("127.0.0.1:" + std::to_string(port))->Score(kMessage, Context());
  ASSERT_FALSE(signal.ok());
  EXPECT_EQ(signal.status().code(), Status::Code::kUnavailable) << signal.status().ToString();
  EXPECT_NE(signal.status().message().find("Connection refused"), std::string::npos);
  EXPECT_LT(MillisSince(start), 1000);
}

TEST_P(ScorerFailureTest, SilentServerTimesOutNearTheTimeout) {
  SpamFakeServer server({"", /*hang=*/true, testing::SpamRequestComplete});
  auto start = std::chrono::steady_clock::now();
  auto signal = At(server.address(), milliseconds(300))->Score(kMessage, Context());
  int64_t elapsed = MillisSince(start);
  ASSERT_FALSE(signal.ok());
  EXPECT_EQ(signal.status().code(), Status::Code::kTimeout) << signal.status().ToString();
  EXPECT_NE(signal.status().message().find("no answer within 300 ms"), std::string::npos);
  EXPECT_GE(elapsed, 290);
  EXPECT_LT(elapsed, 300 + 700);  // a bound, with slack for a busy machine
}

TEST_P(ScorerFailureTest, ClosedWithoutAnswerIsUnavailable) {
  SpamFakeServer server({"", false, testing::SpamRequestComplete});
  auto signal = At(server.address())->Score(kMessage, Context());
  ASSERT_FALSE(signal.ok());
  EXPECT_EQ(signal.status().code(), Status::Code::kUnavailable) << signal.status().ToString();
  EXPECT_NE(signal.status().message().find("without an answer"), std::string::npos);
}

TEST_P(ScorerFailureTest, GarbageIsInternal) {
  SpamFakeServer server(Replying(std::string("\x01\x02garbage\xff\r\n\r\nmore", 18)));
  auto signal = At(server.address())->Score(kMessage, Context());
  ASSERT_FALSE(signal.ok());
  EXPECT_EQ(signal.status().code(), Status::Code::kInternal) << signal.status().ToString();
  EXPECT_NE(signal.status().message().find("..garbage."), std::string::npos);
}

TEST_P(ScorerFailureTest, EndlessAnswerIsCut) {
  std::string endless = GetParam() == ExternalScorerOptions::Kind::kRspamd
                            ? "HTTP/1.1 200 OK\r\n\r\n" + std::string(3 << 20, ' ')
                            : "SPAMD/1.1 0 EX_OK\r\n" + std::string(100 << 10, 'x');
  SpamFakeServer server(Replying(endless));
  auto signal = At(server.address())->Score(kMessage, Context());
  ASSERT_FALSE(signal.ok());
  EXPECT_EQ(signal.status().code(), Status::Code::kInternal) << signal.status().ToString();
  EXPECT_NE(signal.status().message().find("answer longer than"), std::string::npos);
}

TEST_P(ScorerFailureTest, LargeMessageIsNotSent) {
  SpamFakeServer server(Replying(Http("200 OK", "{}")));
  ExternalScorerOptions o;
  o.kind = GetParam();
  o.address = GetParam() == ExternalScorerOptions::Kind::kRspamd ? "http://" + server.address()
                                                                 : server.address();
  o.max_message_bytes = 10;
  auto scorer = ExternalScorer::Create(o);
  ASSERT_TRUE(scorer.ok());
  auto signal = (*scorer)->Score(kMessage, Context());
  ASSERT_FALSE(signal.ok());
  EXPECT_EQ(signal.status().code(), Status::Code::kLimitExceeded);
  EXPECT_NE(signal.status().message().find("max_message_bytes 10"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());
}

INSTANTIATE_TEST_SUITE_P(Both, ScorerFailureTest,
                         ::testing::Values(ExternalScorerOptions::Kind::kRspamd,
                                           ExternalScorerOptions::Kind::kSpamd),
                         [](const auto& info) {
                           return info.param == ExternalScorerOptions::Kind::kRspamd ? "Rspamd"
                                                                                     : "Spamd";
                         });

// ---- the real servers --------------------------------------------------------------------------

const char kGtube[] = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

std::string Mail(const std::string& subject, const std::string& body) {
  return "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: " + subject +
         "\nDate: Tue, 01 Dec 2026 09:00:00 +0000\nMessage-ID: <" + subject +
         "@mail.example.com>\n\n" + body + "\n";
}

TEST(RealSpamd, ScoresWithItsRulesAndSiteRules) {
  if (!testing::SpamSpamd::Available()) {
    GTEST_SKIP() << "spamd is not installed (Debian package spamd)";
  }
  testing::SpamSpamd spamd;
  std::string error;
  ASSERT_TRUE(
      spamd.Start("required_score 5.0\n"
                  "use_bayes 0\n"
                  "body MW_TEST_PHRASE /mailwarden-spam-test-phrase/\n"
                  "score MW_TEST_PHRASE 7.5\n",
                  &error))
      << error;
  auto scorer =
      Make(ExternalScorerOptions::Kind::kSpamd, spamd.address(), milliseconds(20000), 2.0);
  ScorerContext ctx = Context();
  ctx.recipients = {"bob@example.org"};

  auto spam = scorer->Score(Mail("offer", "Hello mailwarden-spam-test-phrase."), ctx);
  ASSERT_TRUE(spam.ok()) << spam.status().ToString();
  EXPECT_EQ(spam->name, "SPAMD");
  EXPECT_GE(spam->score, 2.0 * 7.5);
  EXPECT_TRUE(spam->detail.starts_with("spamd ")) << spam->detail;
  EXPECT_NE(spam->detail.find("/5 spam=yes"), std::string::npos) << spam->detail;
  EXPECT_NE(spam->detail.find("MW_TEST_PHRASE"), std::string::npos) << spam->detail;

  auto gtube = scorer->Score(Mail("gtube", kGtube), ctx);
  ASSERT_TRUE(gtube.ok()) << gtube.status().ToString();
  EXPECT_GE(gtube->score, 2.0 * 900);
  EXPECT_NE(gtube->detail.find("GTUBE"), std::string::npos) << gtube->detail;

  auto ham = scorer->Score(Mail("lunch", "Shall we meet for lunch on Friday?"), ctx);
  ASSERT_TRUE(ham.ok()) << ham.status().ToString();
  EXPECT_LT(ham->score, 2.0 * 5.0);
  EXPECT_NE(ham->detail.find("spam=no"), std::string::npos) << ham->detail;
}

TEST(RealRspamd, ScoresGtubeAndPlainMail) {
  if (!testing::SpamRspamd::Available()) {
    GTEST_SKIP() << "rspamd is not installed (Debian package rspamd)";
  }
  testing::SpamRspamd rspamd;
  std::string error;
  ASSERT_TRUE(rspamd.Start(&error)) << error;
  auto scorer = Make(ExternalScorerOptions::Kind::kRspamd, rspamd.url(), milliseconds(20000));

  auto gtube = scorer->Score(Mail("gtube", kGtube), Context());
  ASSERT_TRUE(gtube.ok()) << gtube.status().ToString();
  EXPECT_EQ(gtube->name, "RSPAMD");
  EXPECT_DOUBLE_EQ(gtube->score, 15.0);
  EXPECT_EQ(gtube->detail, "rspamd 15/15 action=reject symbols=GTUBE");

  // Several at once: one connection each.
  std::vector<std::thread> threads;
  std::vector<Result<Signal>> results(4, Status::Internal("not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = scorer->Score(Mail("lunch" + std::to_string(i), "Lunch on Friday?"), Context());
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_LT(r->score, 15.0);
    EXPECT_TRUE(r->detail.starts_with("rspamd ")) << r->detail;
    EXPECT_NE(r->detail.find("/15 action="), std::string::npos) << r->detail;
  }
}

}  // namespace
}  // namespace mailwarden::spam

// Scores that are not finite numbers are garbage, not a verdict (strtod-like parsers read
// "nan" and "inf").
TEST(SpamdReply, NonFiniteScoreIsRefused) {
  for (const char* score : {"nan", "inf", "-inf"}) {
    std::string reply =
        std::string("SPAMD/1.1 0 EX_OK\r\nSpam: True ; ") + score + " / 5.0\r\n\r\nGTUBE\r\n";
    auto parsed = mailwarden::spam::ParseSpamdReply(reply, 1.0);
    ASSERT_FALSE(parsed.ok()) << score;
    EXPECT_EQ(parsed.status().code(), mailwarden::Status::Code::kInternal) << score;
  }
}

// A non-200 status line is the peer's text: it reaches the log cleaned and bounded.
TEST(RspamdReply, StatusLineIsCleanedForTheLog) {
  std::string reply =
      "HTTP/1.1 418 teapot\x01\x02" + std::string(500, 'x') + "\r\nContent-Length: 0\r\n\r\n";
  auto parsed = mailwarden::spam::ParseRspamdReply(reply, 1.0);
  ASSERT_FALSE(parsed.ok());
  const std::string& m = parsed.status().message();
  EXPECT_LT(m.size(), 400u);
  for (char c : m) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << m;
}

#include "policyd/policy_request.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mailwarden {
namespace {

constexpr const char* kRequest =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "queue_id=8045F2AB23\n"
    "sender=foo@bar.tld\n"
    "recipient=bar@foo.tld\n"
    "client_address=1.2.3.4\n"
    "sasl_username=you\n"
    "size=12345\n"
    "\n";

// Feeds `input` in chunks of `chunk` bytes; collects requests until the input ends or
// the parser fails (then `error` holds the Status).
std::vector<PolicyRequest> FeedAll(PolicyRequestParser* parser, std::string_view input,
                                   size_t chunk, Status* error = nullptr) {
  std::vector<PolicyRequest> out;
  while (!input.empty()) {
    std::string_view piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    while (!piece.empty()) {
      Result<size_t> used = parser->Feed(piece);
      if (!used.ok()) {
        if (error != nullptr) *error = used.status();
        return out;
      }
      piece.remove_prefix(*used);
      if (parser->has_request()) out.push_back(parser->TakeRequest());
    }
  }
  return out;
}

Status ErrorFor(std::string_view input, PolicyLimits limits = {}) {
  PolicyRequestParser parser(limits);
  Status error;
  FeedAll(&parser, input, input.size() + 1, &error);
  return error;
}

TEST(PolicyRequest, ParsesOneRequestWithTypedAccess) {
  PolicyRequestParser parser({});
  auto requests = FeedAll(&parser, kRequest, 4096);
  ASSERT_EQ(requests.size(), 1u);
  const PolicyRequest& r = requests[0];
  EXPECT_EQ(r.request(), "smtpd_access_policy");
  EXPECT_EQ(r.protocol_state(), "RCPT");
  EXPECT_EQ(r.Stage(), "rcpt");
  EXPECT_EQ(r.sender(), "foo@bar.tld");
  EXPECT_EQ(r.recipient(), "bar@foo.tld");
  EXPECT_EQ(r.queue_id(), "8045F2AB23");
  EXPECT_EQ(r.client_address(), "1.2.3.4");
  EXPECT_EQ(r.sasl_username(), "you");
  EXPECT_EQ(r.size(), 12345u);
  EXPECT_EQ(r.Get("helo_name"), "");
  EXPECT_FALSE(r.Has("helo_name"));
  EXPECT_EQ(r.attribute_count(), 9u);
  EXPECT_TRUE(parser.idle());
}

TEST(PolicyRequest, ByteByByteGivesTheSameRequest) {
  PolicyRequestParser parser({});
  auto requests = FeedAll(&parser, kRequest, 1);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].sender(), "foo@bar.tld");
  EXPECT_EQ(requests[0].attribute_count(), 9u);
}

TEST(PolicyRequest, PipelinedRequestsInOneChunk) {
  std::string input;
  for (int i = 0; i < 3; ++i) {
    input += "request=smtpd_access_policy\nsender=s" + std::to_string(i) + "@x.org\n\n";
  }
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{50}, input.size()}) {
    PolicyRequestParser parser({});
    auto requests = FeedAll(&parser, input, chunk);
    ASSERT_EQ(requests.size(), 3u) << "chunk " << chunk;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(requests[i].sender(), "s" + std::to_string(i) + "@x.org");
    }
  }
}

TEST(PolicyRequest, FeedStopsAtTheEndOfARequest) {
  PolicyRequestParser parser({});
  std::string first = "request=smtpd_access_policy\n\n";
  std::string input = first + "request=smtpd_access_policy\n";
  auto used = parser.Feed(input);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, first.size());
  EXPECT_TRUE(parser.has_request());
  EXPECT_FALSE(parser.idle());
  // Until the request is taken, nothing more is consumed.
  EXPECT_EQ(*parser.Feed("x"), 0u);
  parser.TakeRequest();
  EXPECT_TRUE(parser.idle());
  used = parser.Feed(std::string_view(input).substr(first.size()));
  ASSERT_TRUE(used.ok());
  EXPECT_FALSE(parser.has_request());
  EXPECT_FALSE(parser.idle());  // half a request buffered
}

TEST(PolicyRequest, ToleratesCrLf) {
  PolicyRequestParser parser({});
  auto requests = FeedAll(&parser, "request=smtpd_access_policy\r\nsender=a@b.c\r\n\r\n", 3);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].sender(), "a@b.c");
}

TEST(PolicyRequest, ValuesMayHoldEqualsSignsAndBeEmpty) {
  PolicyRequestParser parser({});
  auto requests =
      FeedAll(&parser, "request=smtpd_access_policy\nccert_subject=a=b=c\nsender=\n\n", 100);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Get("ccert_subject"), "a=b=c");
  EXPECT_TRUE(requests[0].Has("sender"));
  EXPECT_EQ(requests[0].sender(), "");
}

TEST(PolicyRequest, NumbersAreStrict) {
  PolicyRequest r({{"size", "0"},
                   {"recipient_count", "12x"},
                   {"a", ""},
                   {"b", "18446744073709551615"},
                   {"c", "18446744073709551616"},
                   {"d", "-1"}});
  EXPECT_EQ(r.size(), 0u);
  EXPECT_FALSE(r.recipient_count().has_value());
  EXPECT_FALSE(r.Number("a").has_value());
  EXPECT_FALSE(r.Number("missing").has_value());
  EXPECT_EQ(r.Number("b"), UINT64_MAX);
  EXPECT_FALSE(r.Number("c").has_value());
  EXPECT_FALSE(r.Number("d").has_value());
}

TEST(PolicyRequest, LineWithoutEquals) {
  Status s = ErrorFor("request=smtpd_access_policy\ngarbage\n\n");
  EXPECT_EQ(s.code(), Status::Code::kParseError);
  EXPECT_NE(s.message().find("line 2 is not name=value"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"garbage\""), std::string::npos);
}

TEST(PolicyRequest, EmptyName) {
  Status s = ErrorFor("=value\n\n");
  EXPECT_EQ(s.code(), Status::Code::kParseError);
  EXPECT_NE(s.message().find("empty attribute name"), std::string::npos) << s.message();
}

TEST(PolicyRequest, NameCharacters) {
  for (const char* bad :
       {"Request=x\n", "client-address=x\n", "a b=x\n", "\xc3\xa9=x\n", "a.b=x\n"}) {
    Status s = ErrorFor(bad);
    EXPECT_EQ(s.code(), Status::Code::kParseError) << bad;
    EXPECT_NE(s.message().find("characters outside a-z, 0-9 and '_'"), std::string::npos)
        << s.message();
  }
  EXPECT_TRUE(ErrorFor("request=x\nccert_pubkey_fingerprint2=x\n\n").ok());
}

TEST(PolicyRequest, NulByteAnywhere) {
  using namespace std::string_literals;
  for (const std::string& bad : {"request=smtp\0d\n\n"s, "req\0uest=x\n\n"s, "\0\n"s}) {
    Status s = ErrorFor(bad);
    EXPECT_EQ(s.code(), Status::Code::kParseError);
    EXPECT_NE(s.message().find("NUL byte in line 1"), std::string::npos) << s.message();
  }
}

TEST(PolicyRequest, StrayCarriageReturn) {
  Status s = ErrorFor("request=smtpd\raccess\n\n");
  EXPECT_EQ(s.code(), Status::Code::kParseError);
  EXPECT_NE(s.message().find("CR"), std::string::npos);
}

TEST(PolicyRequest, DuplicateAttribute) {
  Status s = ErrorFor("request=smtpd_access_policy\nsender=a@b\nsender=c@d\n\n");
  EXPECT_EQ(s.code(), Status::Code::kParseError);
  EXPECT_NE(s.message().find("line 3: duplicate attribute 'sender'"), std::string::npos)
      << s.message();
}

TEST(PolicyRequest, LineLengthLimit) {
  PolicyLimits limits{256, 128};
  std::string at_limit = "request=" + std::string(256 - 8, 'x');
  EXPECT_TRUE(ErrorFor(at_limit + "\n\n", limits).ok());
  EXPECT_TRUE(ErrorFor(at_limit + "\r\n\r\n", limits).ok());  // the CR does not count
  Status s = ErrorFor(at_limit + "y\n\n", limits);
  EXPECT_EQ(s.code(), Status::Code::kLimitExceeded);
  EXPECT_NE(s.message().find("line 1 is longer than max_line_length (256 bytes)"),
            std::string::npos)
      << s.message();
}

TEST(PolicyRequest, OverlongLineFailsBeforeItsEnd) {
  // A line that never ends must not grow the buffer: the error comes as soon as the
  // line is too long, LF or not.
  PolicyRequestParser parser(PolicyLimits{256, 128});
  std::string chunk(100, 'a');
  Status error;
  for (int i = 0; i < 10 && error.ok(); ++i) {
    auto used = parser.Feed(chunk);
    if (!used.ok()) error = used.status();
    EXPECT_LE(parser.buffered_bytes(), 257u);
  }
  EXPECT_EQ(error.code(), Status::Code::kLimitExceeded);
}

TEST(PolicyRequest, AttributeLimit) {
  PolicyLimits limits{4096, 8};
  std::string request = "request=smtpd_access_policy\n";
  for (int i = 1; i < 8; ++i) request += "a" + std::to_string(i) + "=x\n";
  EXPECT_TRUE(ErrorFor(request + "\n", limits).ok());
  Status s = ErrorFor(request + "a8=x\n\n", limits);
  EXPECT_EQ(s.code(), Status::Code::kLimitExceeded);
  EXPECT_NE(s.message().find("line 9: more than max_attributes (8)"), std::string::npos)
      << s.message();
}

TEST(PolicyRequest, TenThousandAttributesFailEarly) {
  std::string input;
  for (int i = 0; i < 10000; ++i) input += "a" + std::to_string(i) + "=x\n";
  PolicyRequestParser parser({});
  Status error;
  FeedAll(&parser, input, 4096, &error);
  EXPECT_EQ(error.code(), Status::Code::kLimitExceeded);
  EXPECT_NE(error.message().find("line 129"), std::string::npos) << error.message();
}

TEST(PolicyRequest, EmptyRequestAndMissingRequestAttribute) {
  Status s = ErrorFor("\n");
  EXPECT_EQ(s.code(), Status::Code::kParseError);
  EXPECT_NE(s.message().find("empty request"), std::string::npos);
  s = ErrorFor("sender=a@b\n\n");
  EXPECT_EQ(s.code(), Status::Code::kParseError);
  EXPECT_NE(s.message().find("'request' attribute"), std::string::npos);
}

TEST(PolicyRequest, ErrorIsFinal) {
  PolicyRequestParser parser({});
  EXPECT_FALSE(parser.Feed("bad line\n").ok());
  auto again = parser.Feed("request=smtpd_access_policy\n\n");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("not name=value"), std::string::npos);
  EXPECT_FALSE(parser.idle());
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(PolicyRequest, LineNumbersCountAcrossRequests) {
  Status s = ErrorFor("request=smtpd_access_policy\n\nrequest=smtpd_access_policy\nbad\n");
  EXPECT_NE(s.message().find("line 4 "), std::string::npos) << s.message();
}

// Property: how the bytes are split into reads never changes the outcome. Inputs are
// random mixes of valid and hostile fragments (deterministic seed).
TEST(PolicyRequest, ChunkingNeverChangesTheOutcome) {
  using namespace std::string_literals;
  const std::vector<std::string> fragments = {"request=smtpd_access_policy\n",
                                              "sender=a@b.c\n",
                                              "sender=",
                                              "x",
                                              "\n",
                                              "\r\n",
                                              "\r",
                                              "\0"s,
                                              "=",
                                              "Upper=1\n",
                                              "size=12\n",
                                              std::string(300, 'v'),
                                              "\n\n"};
  std::mt19937 rng(20261130);
  for (int round = 0; round < 2000; ++round) {
    std::string input;
    int pieces = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < pieces; ++i) input += fragments[rng() % fragments.size()];
    PolicyLimits limits{256, 8};
    std::vector<std::string> outcomes;
    for (size_t chunk : {size_t{1}, size_t{3}, size_t{64}, input.size() + 1}) {
      PolicyRequestParser parser(limits);
      Status error;
      auto requests = FeedAll(&parser, input, chunk, &error);
      std::string outcome = std::to_string(requests.size()) + " " + error.ToString();
      for (const auto& r : requests) outcome += " " + std::string(r.sender());
      outcomes.push_back(outcome);
      EXPECT_LE(parser.buffered_bytes(), 256u * 9 + 1);
    }
    for (const auto& o : outcomes) ASSERT_EQ(o, outcomes[0]) << PrintableExcerpt(input, 400);
  }
}

TEST(PolicyRequest, PrintableExcerptEscapes) {
  using namespace std::string_literals;
  EXPECT_EQ(PrintableExcerpt("ab\"\\\x01\xff"s), "\"ab\\x22\\x5c\\x01\\xff\"");
  EXPECT_EQ(PrintableExcerpt(std::string(50, 'a'), 3), "\"aaa...\"");
}

}  // namespace
}  // namespace mailwarden

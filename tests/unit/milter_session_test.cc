// MilterSession: framing, negotiation, replies per step, macros, message life cycle, and
// what a broken or hostile MTA gets. Driven with packets built by the wire codec and a
// handler that records every call.
#include "milter/protocol/session.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "milter/protocol/wire.h"

namespace mailwarden {
namespace {

using namespace milter;  // NOLINT

// Records calls as text lines; answers from the fields the test sets.
class RecordingHandler : public MilterHandler {
 public:
  explicit RecordingHandler(std::vector<std::string>* calls) : calls_(calls) {}
  void OnConnect(const MilterMacros& m, std::string_view host, std::string_view addr) override {
    calls_->push_back("connect " + std::string(host) + " " + std::string(addr) + " " +
                      std::string(m.Get("client_addr")));
  }
  void OnHelo(const MilterMacros&, std::string_view helo) override {
    calls_->push_back("helo " + std::string(helo));
  }
  MilterReply OnMailFrom(const MilterMacros& m, const std::vector<std::string_view>& args) override {
    std::string line = "mail";
    for (auto a : args) line += " " + std::string(a);
    calls_->push_back(line + " auth=" + std::string(m.Get("auth_authen")));
    return mail_reply;
  }
  MilterReply OnRcpt(const MilterMacros&, const std::vector<std::string_view>& args) override {
    calls_->push_back("rcpt " + std::string(args[0]));
    return MilterReply::Continue();
  }
  void OnHeader(const MilterMacros&, std::string_view n, std::string_view v) override {
    calls_->push_back("header " + std::string(n) + "=" + std::string(v));
  }
  void OnBody(const MilterMacros&, std::string_view chunk) override {
    calls_->push_back("body " + std::to_string(chunk.size()));
  }
  MilterReply OnEndOfMessage(const MilterMacros& m) override {
    calls_->push_back("eom i=" + std::string(m.Get("i")));
    return eom_reply;
  }
  void OnAbort() override { calls_->push_back("abort"); }

  MilterReply mail_reply;
  MilterReply eom_reply = MilterReply::Accept();

 private:
  std::vector<std::string>* calls_;
};

MilterCapabilities TestCapabilities() {
  MilterCapabilities c;
  c.required_actions = kActAddHeaders | kActQuarantine;
  c.actions = kActAddHeaders | kActQuarantine | kActSetSymList;
  c.skipped_steps = kProtoNoData | kProtoNoUnknown;
  c.unanswered_steps = kProtoNrConnect | kProtoNrHelo | kProtoNrRcpt | kProtoNrHeader |
                       kProtoNrEoh | kProtoNrBody;
  c.macros[static_cast<size_t>(MacroStage::kMail)] = "{auth_authen}";
  c.macros[static_cast<size_t>(MacroStage::kEndOfMessage)] = "i";
  return c;
}

std::string Packet(char cmd, std::string_view data = {}) {
  std::string out;
  AppendPacket(&out, cmd, data);
  return out;
}

std::string Optneg(uint32_t version = 6, uint32_t actions = kAllActions,
                   uint32_t protocol = kAllProtocol) {
  std::string data;
  AppendUint32(&data, version);
  AppendUint32(&data, actions);
  AppendUint32(&data, protocol);
  return Packet(kCmdOptneg, data);
}

std::string Strings(std::initializer_list<std::string_view> parts) {
  std::string data;
  for (auto p : parts) AppendCString(&data, p);
  return data;
}

std::string Macros(char stage, std::initializer_list<std::string_view> pairs) {
  return Packet(kCmdMacro, std::string(1, stage) + Strings(pairs));
}

// Replies as (code, data) pairs.
std::vector<std::pair<char, std::string>> Replies(std::string_view out) {
  std::vector<std::pair<char, std::string>> r;
  while (out.size() >= 5) {
    uint32_t len = ReadUint32(out);
    r.emplace_back(out[4], std::string(out.substr(5, len - 1)));
    out.remove_prefix(4 + len);
  }
  EXPECT_TRUE(out.empty()) << "trailing bytes in the replies";
  return r;
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest()
      : session_(TestCapabilities(),
                 [this] {
                   ++handlers_made_;
                   auto h = std::make_unique<RecordingHandler>(&calls_);
                   handler_ = h.get();
                   h->mail_reply = next_mail_reply_;
                   h->eom_reply = next_eom_reply_;
                   return h;
                 },
                 "test session") {}

  // Feeds `bytes` whole; every byte must be used unless the session closed.
  std::string Feed(const std::string& bytes) {
    std::string out;
    size_t wanted = 0;
    size_t used = session_.Consume(bytes, &out, &wanted);
    if (!session_.closed()) {
      EXPECT_EQ(used, bytes.size());
    }
    return out;
  }

  std::string Message() {
    return Macros(kCmdMail, {"{auth_authen}", "alice"}) +
           Packet(kCmdMail, Strings({"<a@example.net>", "SIZE=100"})) +
           Packet(kCmdRcpt, Strings({"<b@example.com>"})) +
           Packet(kCmdHeader, Strings({"Subject", "hi"})) + Packet(kCmdEoh) +
           Packet(kCmdBody, "hello\r\n") + Macros(kCmdBodyEob, {"i", "QID1"}) +
           Packet(kCmdBodyEob);
  }

  std::vector<std::string> calls_;
  RecordingHandler* handler_ = nullptr;
  int handlers_made_ = 0;
  MilterReply next_mail_reply_;
  MilterReply next_eom_reply_ = MilterReply::Accept();
  MilterSession session_;
};

TEST_F(SessionTest, NegotiatesWhatTheMtaOffersAndAsksForMacros) {
  auto r = Replies(Feed(Optneg()));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].first, kCmdOptneg);
  std::string_view d = r[0].second;
  ASSERT_GE(d.size(), 12u);
  EXPECT_EQ(ReadUint32(d), 6u);
  EXPECT_EQ(ReadUint32(d.substr(4)), kActAddHeaders | kActQuarantine | kActSetSymList);
  const MilterCapabilities c = TestCapabilities();
  EXPECT_EQ(ReadUint32(d.substr(8)), c.skipped_steps | c.unanswered_steps);
  // Macro lists: (stage, names) for the two stages asked for, in stage order.
  std::string lists;
  AppendUint32(&lists, static_cast<uint32_t>(MacroStage::kMail));
  AppendCString(&lists, "{auth_authen}");
  AppendUint32(&lists, static_cast<uint32_t>(MacroStage::kEndOfMessage));
  AppendCString(&lists, "i");
  EXPECT_EQ(d.substr(12), lists);
}

TEST_F(SessionTest, MasksByTheMtaOfferAndSkipsMacroListsWithoutSetSymList) {
  auto r = Replies(Feed(Optneg(6, kActAddHeaders | kActQuarantine, kProtoNoData)));
  ASSERT_EQ(r.size(), 1u);
  std::string_view d = r[0].second;
  EXPECT_EQ(d.size(), 12u);
  EXPECT_EQ(ReadUint32(d.substr(4)), kActAddHeaders | kActQuarantine);
  EXPECT_EQ(ReadUint32(d.substr(8)), kProtoNoData);
}

TEST_F(SessionTest, OlderMtaGetsItsOwnVersion) {
  auto r = Replies(Feed(Optneg(4, kActAddHeaders | kActQuarantine, 0)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ReadUint32(r[0].second), 4u);
}

TEST_F(SessionTest, RefusesAnMtaWithoutTheRequiredActions) {
  std::string out = Feed(Optneg(6, kActAddHeaders, kAllProtocol));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(session_.closed());
  EXPECT_NE(session_.error().find("does not offer the actions"), std::string::npos)
      << session_.error();
}

TEST_F(SessionTest, RefusesProtocolVersionOne) {
  Feed(Optneg(1));
  EXPECT_TRUE(session_.closed());
  EXPECT_NE(session_.error().find("version 1"), std::string::npos) << session_.error();
}

TEST_F(SessionTest, WholeMessageAnswersOnlyMailFromAndEndOfMessage) {
  Feed(Optneg());
  next_eom_reply_.add_headers = {{"X-Test", "yes"}};
  auto r = Replies(Feed(Packet(kCmdConnect, Strings({"client.example"}) + "4" +
                                                std::string("\x01\x02", 2) +
                                                Strings({"192.0.2.7"})) +
                        Packet(kCmdHelo, Strings({"helo.example"})) + Message()));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, kRepContinue);  // MAIL FROM
  EXPECT_EQ(r[1].first, kRepAddHeader);
  EXPECT_EQ(r[1].second, Strings({"X-Test", "yes"}));
  EXPECT_EQ(r[2].first, kRepAccept);
  EXPECT_EQ(calls_, (std::vector<std::string>{
                        "connect client.example 192.0.2.7 ", "helo helo.example",
                        "mail <a@example.net> SIZE=100 auth=alice", "rcpt <b@example.com>",
                        "header Subject=hi", "body 7", "eom i=QID1"}));
  EXPECT_EQ(session_.messages(), 1u);
  EXPECT_FALSE(session_.closed());
}

TEST_F(SessionTest, AnswersEveryStepWhenTheMtaOffersNoNoReplySteps) {
  Feed(Optneg(6, kAllActions, kProtoNoData | kProtoNoUnknown));
  auto r = Replies(Feed(Message()));
  // MAIL, RCPT, header, EOH, body: continue; end of message: accept.
  ASSERT_EQ(r.size(), 6u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(r[i].first, kRepContinue) << i;
  EXPECT_EQ(r[5].first, kRepAccept);
}

TEST_F(SessionTest, RefusalsCarryTheSmtpReply) {
  Feed(Optneg());
  next_mail_reply_ = MilterReply::Refuse("552 5.3.4 message too big");
  auto r = Replies(Feed(Macros(kCmdMail, {}) + Packet(kCmdMail, Strings({"<a@b>"}))));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].first, kRepReplyCode);
  EXPECT_EQ(r[0].second, Strings({"552 5.3.4 message too big"}));
}

TEST_F(SessionTest, ReplyTheMtaWouldRefuseFallsBackToPlainTempfail) {
  Feed(Optneg());
  next_mail_reply_ = MilterReply::Refuse("451 5.7.1 class mismatch");
  auto r = Replies(Feed(Packet(kCmdMail, Strings({"<a@b>"}))));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].first, kRepTempfail);
}

TEST_F(SessionTest, QuarantineAtEndOfMessage) {
  Feed(Optneg());
  next_eom_reply_.quarantine_reason = "held by rule x";
  auto r = Replies(Feed(Message()));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].first, kRepQuarantine);
  EXPECT_EQ(r[1].second, Strings({"held by rule x"}));
  EXPECT_EQ(r[2].first, kRepAccept);
}

TEST_F(SessionTest, QuarantineWithoutTheActionIsATempfailNeverAPass) {
  MilterCapabilities c = TestCapabilities();
  c.required_actions = 0;
  std::vector<std::string> calls;
  MilterSession s(
      c,
      [&] {
        auto h = std::make_unique<RecordingHandler>(&calls);
        h->eom_reply.quarantine_reason = "hold";
        return h;
      },
      "no quarantine");
  std::string out;
  size_t wanted = 0;
  std::string in = Optneg(6, kActAddHeaders, kAllProtocol) + Message();
  s.Consume(in, &out, &wanted);
  auto r = Replies(out);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.back().first, kRepReplyCode);
  EXPECT_EQ(r.back().second.substr(0, 3), "451");
}

// The replies at end of message of a session whose milter asks for header changes, the MTA
// offering `mta_actions`, and whose handler answers `eom`.
std::vector<std::pair<char, std::string>> EndOfMessageReplies(uint32_t mta_actions,
                                                              const MilterReply& eom) {
  MilterCapabilities c = TestCapabilities();
  c.actions |= kActChangeHeaders;
  std::vector<std::string> calls;
  MilterSession s(
      c,
      [&] {
        auto h = std::make_unique<RecordingHandler>(&calls);
        h->eom_reply = eom;
        return h;
      },
      "change headers");
  std::string out;
  size_t wanted = 0;
  s.Consume(Optneg(6, mta_actions, kAllProtocol), &out, &wanted);
  out.clear();
  std::string in = Packet(kCmdMail, Strings({"<a@example.net>"})) +
                   Packet(kCmdRcpt, Strings({"<b@example.com>"})) +
                   Packet(kCmdHeader, Strings({"Subject", "hi"})) + Packet(kCmdEoh) +
                   Packet(kCmdBody, "hello\r\n") + Packet(kCmdBodyEob);
  s.Consume(in, &out, &wanted);
  EXPECT_FALSE(s.closed()) << s.error();
  return Replies(out);
}

TEST(MilterChangeHeader, SubjectChangeIsSentAsChgHeaderIndexOne) {
  MilterReply eom = MilterReply::Accept();
  eom.add_headers = {{"X-Spam-Flag", "YES"}};
  eom.change_headers = {{"Subject", "[SPAM] hi"}};
  auto r = EndOfMessageReplies(kAllActions, eom);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].first, kRepContinue);  // MAIL FROM
  EXPECT_EQ(r[1].first, kRepAddHeader);
  EXPECT_EQ(r[1].second, Strings({"X-Spam-Flag", "YES"}));
  // SMFIR_CHGHEADER: the index (1: the first field of that name), the name, the new value.
  EXPECT_EQ(r[2].first, kRepChgHeader);
  std::string want;
  AppendUint32(&want, 1);
  want += Strings({"Subject", "[SPAM] hi"});
  EXPECT_EQ(r[2].second, want);
  EXPECT_EQ(r[3].first, kRepAccept);
}

TEST(MilterChangeHeader, MtaWithoutChangeHeadersGetsTheMessageUnchanged) {
  MilterReply eom = MilterReply::Accept();
  eom.add_headers = {{"X-Spam-Flag", "YES"}};
  eom.change_headers = {{"Subject", "[SPAM] hi"}};
  auto r = EndOfMessageReplies(kActAddHeaders | kActQuarantine, eom);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].first, kRepAddHeader);
  EXPECT_EQ(r[2].first, kRepAccept);
}

TEST(MilterChangeHeader, RefusedMessageGetsNoHeaderChange) {
  MilterReply eom = MilterReply::Refuse("550 5.7.1 message scored 15.0 as spam");
  eom.change_headers = {{"Subject", "[SPAM] hi"}};
  auto r = EndOfMessageReplies(kAllActions, eom);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].first, kRepReplyCode);
  EXPECT_EQ(r[1].second, Strings({"550 5.7.1 message scored 15.0 as spam"}));
}

TEST_F(SessionTest, MacrosOfAMessageAreForgottenByTheNextOne) {
  Feed(Optneg());
  Feed(Message());
  calls_.clear();
  // A second message without the AUTH and queue-id macros must not see the old values.
  Feed(Macros(kCmdMail, {}) + Packet(kCmdMail, Strings({"<c@d>"})) + Packet(kCmdBodyEob));
  EXPECT_EQ(calls_, (std::vector<std::string>{"mail <c@d> auth=", "eom i="}));
}

TEST_F(SessionTest, AbortNewMailFromAndCloseEndTheMessageInProgress) {
  Feed(Optneg());
  Feed(Packet(kCmdMail, Strings({"<a@b>"})) + Packet(kCmdAbort));
  Feed(Packet(kCmdMail, Strings({"<c@d>"})) + Packet(kCmdMail, Strings({"<e@f>"})));
  session_.Close();
  EXPECT_EQ(calls_, (std::vector<std::string>{"mail <a@b> auth=", "abort", "mail <c@d> auth=",
                                              "abort", "mail <e@f> auth=", "abort"}));
  session_.Close();  // idempotent
  EXPECT_EQ(calls_.size(), 6u);
}

TEST_F(SessionTest, QuitNcStartsAFreshHandler) {
  Feed(Optneg());
  Feed(Packet(kCmdHelo, Strings({"one"})) + Packet(kCmdQuitNc) +
       Packet(kCmdHelo, Strings({"two"})));
  EXPECT_EQ(handlers_made_, 2);
  EXPECT_FALSE(session_.closed());
  Feed(Packet(kCmdQuit));
  EXPECT_TRUE(session_.closed());
  EXPECT_TRUE(session_.error().empty());
}

TEST_F(SessionTest, ByteAtATimeGivesTheSameRepliesAsOneRead) {
  std::string in = Optneg() + Message() + Message();
  std::string whole = Feed(in);
  std::vector<std::string> whole_calls = calls_;

  std::vector<std::string> calls;
  MilterSession s(
      TestCapabilities(), [&] { return std::make_unique<RecordingHandler>(&calls); }, "bytes");
  std::string buffer, out;
  for (char c : in) {
    buffer.push_back(c);
    size_t wanted = 0;
    size_t used = s.Consume(buffer, &out, &wanted);
    buffer.erase(0, used);
    if (!buffer.empty()) {
      EXPECT_GT(wanted, buffer.size());
    }
  }
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(out, whole);
  EXPECT_EQ(calls, whole_calls);
}

TEST_F(SessionTest, IncompletePacketAsksForItsSize) {
  std::string in = Optneg();
  std::string out;
  size_t wanted = 0;
  EXPECT_EQ(session_.Consume(std::string_view(in).substr(0, 7), &out, &wanted), 0u);
  EXPECT_EQ(wanted, in.size());
  EXPECT_EQ(session_.Consume(std::string_view(in).substr(0, 2), &out, &wanted), 0u);
  EXPECT_EQ(wanted, 4u);
}

TEST_F(SessionTest, BadLengthsAreProtocolErrors) {
  std::string zero(4, '\0');
  Feed(zero);
  EXPECT_TRUE(session_.closed());
  EXPECT_NE(session_.error().find("packet length 0"), std::string::npos) << session_.error();

  MilterSession big(TestCapabilities(), [&] { return std::make_unique<RecordingHandler>(&calls_); },
                    "big");
  std::string huge;
  AppendUint32(&huge, 0x7FFFFFFF);
  huge += "O";
  std::string out;
  size_t wanted = 0;
  big.Consume(huge, &out, &wanted);
  EXPECT_TRUE(big.closed());
  EXPECT_LE(wanted, kMaxMilterPacket + 4);
}

TEST_F(SessionTest, CommandBeforeNegotiationUnknownCommandAndShortOptneg) {
  Feed(Packet(kCmdMail, Strings({"<a@b>"})));
  EXPECT_TRUE(session_.closed());
  EXPECT_NE(session_.error().find("before option negotiation"), std::string::npos);

  auto fresh = [&] {
    return std::make_unique<MilterSession>(
        TestCapabilities(), [&] { return std::make_unique<RecordingHandler>(&calls_); }, "x");
  };
  std::string out;
  size_t wanted = 0;
  auto s1 = fresh();
  s1->Consume(Optneg() + Packet('Z', "whatever"), &out, &wanted);
  EXPECT_TRUE(s1->closed());
  EXPECT_NE(s1->error().find("unknown command 'Z'"), std::string::npos) << s1->error();

  auto s2 = fresh();
  s2->Consume(Packet(kCmdOptneg, std::string(2, '\0')), &out, &wanted);
  EXPECT_TRUE(s2->closed());
  EXPECT_NE(s2->error().find("OPTNEG of 2 bytes"), std::string::npos) << s2->error();
}

TEST_F(SessionTest, UnterminatedStringsAreReadLeniently) {
  Feed(Optneg());
  Feed(Packet(kCmdConnect, "host-without-nul") + Packet(kCmdMail, "<a@b>") +
       Packet(kCmdRcpt, "") + Packet(kCmdHeader, "Subject"));
  EXPECT_EQ(calls_, (std::vector<std::string>{"connect host-without-nul  ", "mail <a@b> auth=",
                                              "rcpt ", "header Subject="}));
}

TEST(MilterMacros, NewestStageWinsAndBracesAreStripped) {
  MilterMacros m;
  m.Set(kCmdConnect, {{"client_addr", "192.0.2.1"}, {"j", "mx"}});
  m.Set(kCmdMail, {{"client_addr", "192.0.2.2"}});
  EXPECT_EQ(m.Get("client_addr"), "192.0.2.2");
  EXPECT_EQ(m.Get("j"), "mx");
  m.ClearMessage();
  EXPECT_EQ(m.Get("client_addr"), "192.0.2.1");
  m.Set('?', {{"x", "y"}});  // not a stage: ignored
  EXPECT_EQ(m.Get("x"), "");
  m.ClearAll();
  EXPECT_EQ(m.Get("j"), "");
}

TEST(MilterWire, ReplyCodesTheMtaAccepts) {
  EXPECT_TRUE(IsValidReplyCode("550 5.7.1 no"));
  EXPECT_TRUE(IsValidReplyCode("421 4.3.2 later"));
  EXPECT_FALSE(IsValidReplyCode("250 ok"));
  EXPECT_FALSE(IsValidReplyCode("550 4.7.1 class mismatch"));
  EXPECT_FALSE(IsValidReplyCode("55"));
}

}  // namespace
}  // namespace mailwarden

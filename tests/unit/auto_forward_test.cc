// The automatic forwarding ban: domain patterns, the traces each forwarding mechanism
// leaves, and how auto_forward_out and auto_forward_in weigh them, with the must-pass
// controls (forwarding by hand, between state domains, ordinary mail with public
// providers, mailing lists, delivery reports) next to every refusal.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/domain_patterns.h"
#include "milter/checks/forwarding_traces.h"
#include "milter/eml_reader.h"
#include "milter/engine.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

// ---- domain patterns -------------------------------------------------------------------

TEST(DomainPatternsTest, PlainCoversSubdomainsStarOnlySubdomainsSuffixAnyTld) {
  auto p = DomainPatterns::Parse({"gov.vn", "*.edu.vn", "gmx.*"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->Match("gov.vn").value_or(""), "gov.vn");
  EXPECT_EQ(p->Match("Bacgiang.GOV.vn.").value_or(""), "gov.vn");
  EXPECT_FALSE(p->Match("notgov.vn"));
  EXPECT_FALSE(p->Match("edu.vn"));
  EXPECT_EQ(p->Match("hus.edu.vn").value_or(""), "*.edu.vn");
  EXPECT_EQ(p->Match("gmx.de").value_or(""), "gmx.*");
  EXPECT_EQ(p->Match("gmx.co.uk").value_or(""), "gmx.*");
  EXPECT_FALSE(p->Match("gmx"));
  EXPECT_FALSE(p->Match("mygmx.de"));
  EXPECT_FALSE(p->Match(""));
}

TEST(DomainPatternsTest, BadEntriesAreRefusedWithTheReason) {
  EXPECT_EQ(DomainPatterns::EntryProblem("gov.vn"), "");
  EXPECT_NE(DomainPatterns::EntryProblem("g*v.vn"), "");
  EXPECT_NE(DomainPatterns::EntryProblem("*.*"), "");
  EXPECT_NE(DomainPatterns::EntryProblem("user@gov.vn"), "");
  EXPECT_NE(DomainPatterns::EntryProblem("gov..vn"), "");
  EXPECT_NE(DomainPatterns::EntryProblem(""), "");
  EXPECT_FALSE(DomainPatterns::Parse({"ok.vn", "bad domain"}).ok());
}

TEST(MailDomainsTest, InternalBeforeStateBeforePublic) {
  auto d = MailDomains::Build({"bacgiang.gov.vn"}, {"gov.vn"}, {"gmail.com", "yahoo.*"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->Classify("so.bacgiang.gov.vn"), DomainKind::kInternal);
  EXPECT_EQ(d->Classify("hanoi.gov.vn"), DomainKind::kState);
  EXPECT_EQ(d->Classify("gmail.com"), DomainKind::kPublicProvider);
  EXPECT_EQ(d->Classify("yahoo.com.vn"), DomainKind::kPublicProvider);
  EXPECT_EQ(d->Classify("example.com"), DomainKind::kOther);
  EXPECT_EQ(d->ClassifyAddress("a@hanoi.gov.vn"), DomainKind::kState);
  EXPECT_TRUE(d->IsState("bacgiang.gov.vn"));
  EXPECT_FALSE(d->IsState(""));
}

TEST(MailDomainsTest, ConfigErrorsPointAtTheEntry) {
  testing::TempDir dir;
  std::string path = dir.Write("c.yaml",
                               "version: 1\nrule_files: []\ndomains:\n  state: [gov.vn, 'x*y.vn']\n");
  auto config = LoadConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("c.yaml:4:"), std::string::npos)
      << config.status().message();
  EXPECT_NE(config.status().message().find("x*y.vn"), std::string::npos);
}

TEST(MailDomainsTest, ShippedRulesAndProviderListLoad) {
  testing::TempDir dir;
  std::string src = MW_SOURCE_DIR;
  std::string path = dir.Write(
      "c.yaml", "version: 1\nrule_files: [" + src + "/rules/forwarding.yaml]\n" +
                    "domains:\n  internal: [bacgiang.gov.vn]\n  public_providers: " + src +
                    "/rules/public-providers.yaml\n");
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto d = MailDomains::Build(**config);
  ASSERT_TRUE(d.ok());
  for (const char* p : {"gmail.com", "googlemail.com", "yahoo.com", "yahoo.com.vn", "ymail.com",
                        "hotmail.com", "outlook.com", "live.com", "msn.com", "icloud.com",
                        "me.com", "aol.com", "proton.me", "protonmail.com", "zoho.com", "gmx.de",
                        "gmx.net", "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com"}) {
    EXPECT_EQ(d->Classify(p), DomainKind::kPublicProvider) << p;
  }
  EXPECT_EQ(d->Classify("hanoi.gov.vn"), DomainKind::kState);
  EXPECT_TRUE(Engine::Build(*config).ok());
}

TEST(AutoForwardConfigTest, UnknownForwardersValueIsRefused) {
  auto config = testing::ConfigWithRules(
      "  - id: in\n    check: auto_forward_in\n    forwarders: everybody\n");
  ASSERT_NE(config, nullptr);
  auto engine = Engine::Build(config);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("forwarders"), std::string::npos);
}

// ---- trace parsing ---------------------------------------------------------------------

TEST(ForwardingTracesTest, AddressesSkipDisplayNamesAndComments) {
  EXPECT_EQ(AddressesIn("\"a@fake.example\" <Alice@Bacgiang.Gov.vn> (c@comment.example)"),
            std::vector<std::string>{"alice@bacgiang.gov.vn"});
  EXPECT_EQ(AddressesIn("alice@gmail.com bob@hanoi.gov.vn"),
            (std::vector<std::string>{"alice@gmail.com", "bob@hanoi.gov.vn"}));
  EXPECT_TRUE(AddressesIn("203.0.113.7, 198.51.100.1").empty());
  EXPECT_TRUE(AddressesIn("user@localhost").empty());
}

TEST(ForwardingTracesTest, OrcptIsXtextDecoded) {
  EXPECT_EQ(DecodeOrcpt("rfc822;alice@bacgiang.gov.vn"), "alice@bacgiang.gov.vn");
  EXPECT_EQ(DecodeOrcpt("RFC822;a+2Bb@x.vn"), "a+b@x.vn");
  EXPECT_EQ(DecodeOrcpt("rfc822;<alice@x.vn>"), "alice@x.vn");
  EXPECT_EQ(DecodeOrcpt("utf-8;alice@x.vn"), "");
  EXPECT_EQ(DecodeOrcpt("rfc822;a+2"), "");
  EXPECT_EQ(DecodeOrcpt("rfc822;a+zzb@x.vn"), "");
}

std::vector<ForwardingTrace> Traces(const std::vector<HeaderField>& headers, Envelope env) {
  auto out = HeaderTraces(headers, env);
  auto more = EnvelopeTraces(env);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

TEST(ForwardingTracesTest, EachMechanismIsRecognisedWithItsStrength) {
  Envelope env;
  env.recipients = {"target@gmail.com"};
  struct Case {
    HeaderField header;
    const char* trace;
    TraceStrength strength;
    const char* forwarder;
  };
  const Case cases[] = {
      {{"X-Sieve-Redirected-From", "alice@bacgiang.gov.vn"}, "sieve-redirect",
       TraceStrength::kProof, "alice@bacgiang.gov.vn"},
      {{"X-Zimbra-Forwarded", "alice@bacgiang.gov.vn"}, "zimbra-forward", TraceStrength::kProof,
       "alice@bacgiang.gov.vn"},
      {{"X-MS-Exchange-Inbox-Rules-Loop", "alice@bacgiang.gov.vn"}, "exchange-inbox-rule",
       TraceStrength::kProof, "alice@bacgiang.gov.vn"},
      {{"X-MS-Exchange-ForwardingLoop", "alice@bacgiang.gov.vn;7e4ab5c1-0d2f-4c44-a4f4-1b2c"},
       "exchange-forwarding", TraceStrength::kProof, "alice@bacgiang.gov.vn"},
      {{"X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"},
       "exchange-mailbox-rule", TraceStrength::kProof, ""},
      {{"X-Forwarded-For", "alice@gmail.com bob@bacgiang.gov.vn"}, "gmail-forward",
       TraceStrength::kProof, "alice@gmail.com"},
      {{"X-Forwarded-To", "bob@bacgiang.gov.vn"}, "gmail-forward", TraceStrength::kProof, ""},
      {{"X-Yandex-Forward", "4f7d1c8b2a9e0d3c5b6a7f8e9d0c1b2a"}, "yandex-forward",
       TraceStrength::kProof, ""},
      {{"X-MailRu-Forward", "1"}, "mailru-forward", TraceStrength::kProof, ""},
      {{"Auto-Submitted", "auto-forwarded"}, "auto-submitted-forwarded", TraceStrength::kProof,
       ""},
      {{"Auto-Submitted", "auto-generated; type=notice"}, "auto-submitted-generated",
       TraceStrength::kHint, ""},
      {{"Resent-From", "Alice <alice@bacgiang.gov.vn>"}, "resent", TraceStrength::kHint,
       "alice@bacgiang.gov.vn"},
      {{"X-Sieve", "Pigeonhole Sieve 0.5.19"}, "sieve-processed", TraceStrength::kHint, ""},
      {{"Delivered-To", "alice@bacgiang.gov.vn"}, "delivered-before", TraceStrength::kStrong,
       "alice@bacgiang.gov.vn"},
  };
  for (const Case& c : cases) {
    auto traces = Traces({c.header}, env);
    ASSERT_EQ(traces.size(), 1u) << c.header.name;
    EXPECT_EQ(traces[0].trace, c.trace) << c.header.name;
    EXPECT_EQ(traces[0].strength, c.strength) << c.header.name;
    EXPECT_EQ(traces[0].forwarder, c.forwarder) << c.header.name;
  }
  // Not traces: other Exchange agents, HTTP-style X-Forwarded-For, vacation replies, a
  // Delivered-To of the recipient itself.
  EXPECT_TRUE(Traces({{"X-MS-Exchange-Generated-Message-Source", "Transport Rule Agent"}}, env)
                  .empty());
  EXPECT_TRUE(Traces({{"X-Forwarded-For", "203.0.113.9"}}, env).empty());
  EXPECT_TRUE(Traces({{"Auto-Submitted", "auto-replied"}}, env).empty());
  EXPECT_TRUE(Traces({{"Delivered-To", "target@gmail.com"}}, env).empty());
}

TEST(ForwardingTracesTest, EnvelopeSendersAndOrcpt) {
  Envelope env;
  env.mail_from = "alice+caf_=bob=bacgiang.gov.vn@gmail.com";
  env.recipients = {"bob@bacgiang.gov.vn", "carol@gmail.com"};
  env.original_recipients = {"", "carol@bacgiang.gov.vn"};
  auto traces = EnvelopeTraces(env);
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[0].trace, "gmail-forward-sender");
  EXPECT_EQ(traces[0].forwarder, "alice@gmail.com");
  EXPECT_EQ(traces[0].target, "bob@bacgiang.gov.vn");
  EXPECT_EQ(traces[1].trace, "expanded-recipient");
  EXPECT_EQ(traces[1].forwarder, "carol@bacgiang.gov.vn");
  EXPECT_EQ(traces[1].target, "carol@gmail.com");

  env.mail_from = "SRS0=HHH=TT=example.org=someone@bacgiang.gov.vn";
  env.original_recipients = {"", "CAROL@gmail.com"};  // same address: no expansion
  traces = EnvelopeTraces(env);
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0].trace, "srs-sender");
  EXPECT_EQ(traces[0].forwarder, "@bacgiang.gov.vn");
}

// ---- the checks --------------------------------------------------------------------------

const char kTrusted[] = "192.0.2.10";  // the organisation's mail store, in trusted_networks

struct Forwarding {
  explicit Forwarding(const std::string& in_params = "") {
    config = testing::ConfigWithRules(
        "  - id: auto-forward-out\n    check: auto_forward_out\n"
        "  - id: auto-forward-in\n    check: auto_forward_in\n" + in_params,
        "domains:\n  internal: [bacgiang.gov.vn]\n  state: [gov.vn]\n"
        "  public_providers: [gmail.com, yahoo.*, outlook.com, yandex.*, mail.ru]\n"
        "trusted_networks: [192.0.2.0/24]\n");
    auto built = Engine::Build(config);
    EXPECT_TRUE(built.ok()) << built.status().message();
    if (built.ok()) engine = *built;
  }

  Verdict Judge(Envelope env, const std::string& headers, const std::string& body = "hello\r\n") {
    auto message = engine->NewMessage(std::move(env));
    ReadMessageText(headers + "\r\n" + body, message.get());
    return engine->AtEndOfMessage(*message);
  }

  std::shared_ptr<const Config> config;
  std::shared_ptr<const Engine> engine;
};

Envelope Pickup(const std::string& from, std::vector<std::string> to) {
  Envelope e;
  e.client_addr = "127.0.0.1";
  e.smtp = false;  // Postfix pickup: Dovecot's Sieve and sendmail(1)
  e.mail_from = from;
  e.recipients = std::move(to);
  return e;
}

Envelope FromClient(const std::string& addr, const std::string& from, std::vector<std::string> to,
                    const std::string& login = "") {
  Envelope e;
  e.client_addr = addr;
  e.mail_from = from;
  e.recipients = std::move(to);
  e.auth_user = login;
  return e;
}

const std::string kPlain =
    "From: Someone <someone@example.org>\r\nTo: alice@bacgiang.gov.vn\r\n"
    "Subject: report\r\nMessage-ID: <1@example.org>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0700\r\n";

std::string RuleOf(const Verdict& v) { return v.deciding ? v.deciding->rule_id : ""; }

TEST(AutoForwardOutTest, SieveRedirectToPublicProviderIsRefusedNamingMailboxAndTarget) {
  Forwarding f;
  Verdict v = f.Judge(Pickup("someone@example.org", {"alice.home@gmail.com"}),
                      "X-Sieve-Redirected-From: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(RuleOf(v), "auto-forward-out");
  EXPECT_EQ(v.ReplyLine().substr(0, 9), "550 5.7.1");
  EXPECT_NE(v.text.find("alice@bacgiang.gov.vn"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("alice.home@gmail.com"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("state mail system"), std::string::npos) << v.text;
  const auto& fw = v.deciding->evidence["forwarding"];
  EXPECT_EQ(fw["forwarder"], "alice@bacgiang.gov.vn");
  EXPECT_EQ(fw["targets"][0]["domain_kind"], "public_provider");
  bool sieve = false;
  for (const auto& e : fw["evidence"]) sieve |= e["trace"] == "sieve-redirect";
  EXPECT_TRUE(sieve) << fw.dump();
}

TEST(AutoForwardOutTest, AnyNonStateTargetIsRefusedNotOnlyPublicProviders) {
  Forwarding f;
  Verdict v = f.Judge(Pickup("someone@example.org", {"alice@private-company.example"}),
                      "X-Sieve-Redirected-From: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.deciding->evidence["forwarding"]["targets"][0]["domain_kind"], "other");
}

TEST(AutoForwardOutTest, ForwardingBetweenStateDomainsPasses) {
  Forwarding f;
  Verdict v = f.Judge(Pickup("someone@example.org", {"alice@hanoi.gov.vn"}),
                      "X-Sieve-Redirected-From: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
}

TEST(AutoForwardOutTest, MailStoreRulesFromTrustedRelayAreRefused) {
  Forwarding f;
  for (const std::string& header :
       {std::string("X-MS-Exchange-Inbox-Rules-Loop: alice@bacgiang.gov.vn\r\n"),
        std::string("X-MS-Exchange-ForwardingLoop: alice@bacgiang.gov.vn;a1b2c3\r\n"),
        std::string("X-Zimbra-Forwarded: alice@bacgiang.gov.vn\r\n"),
        std::string("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n"),
        std::string("Auto-Submitted: auto-forwarded\r\n")}) {
    Verdict v = f.Judge(FromClient(kTrusted, "someone@example.org", {"x@yahoo.com"}),
                        header + kPlain);
    EXPECT_EQ(v.action, Action::kReject) << header;
    EXPECT_EQ(RuleOf(v), "auto-forward-out") << header;
  }
}

TEST(AutoForwardOutTest, SrsSenderOfOurDomainIsRefused) {
  Forwarding f;
  Verdict v = f.Judge(
      FromClient(kTrusted, "SRS0=Ab1=Q2=example.org=someone@bacgiang.gov.vn", {"x@gmail.com"}),
      kPlain);
  EXPECT_EQ(v.action, Action::kReject);
}

TEST(AutoForwardOutTest, DeliveredBeforeAndForeignSenderLeavingAreRefusedTogether) {
  // What local(8) .forward copies look like: Delivered-To of the internal mailbox, the
  // original (foreign) sender, handed back to the MTA.
  Forwarding f;
  Verdict v = f.Judge(Pickup("someone@example.org", {"alice@gmail.com"}),
                      "Delivered-To: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kReject);
  // Sieve's redirect with the mailbox as envelope sender: the old delivery, and a recipient
  // the message was not written to.
  v = f.Judge(Pickup("alice@bacgiang.gov.vn", {"x@partner.example"}),
              "Delivered-To: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kReject);
  // One strong trace alone towards a non-provider domain is not enough.
  v = f.Judge(Pickup("alice@bacgiang.gov.vn", {"x@partner.example"}),
              "Delivered-To: alice@bacgiang.gov.vn\r\nTo: x@partner.example\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
}

TEST(AutoForwardOutTest, PersonForwardingByHandPasses) {
  Forwarding f;
  // Authenticated submission, "Fwd:" subject, the original attached: its traces are inside.
  std::string attached =
      "--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b\r\n"
      "Content-Type: message/rfc822\r\n\r\n"
      "X-Sieve-Redirected-From: bob@bacgiang.gov.vn\r\nX-Forwarded-For: a@gmail.com "
      "alice@bacgiang.gov.vn\r\nFrom: a@gmail.com\r\nSubject: hi\r\n\r\nbody\r\n--b--\r\n";
  Verdict v = f.Judge(
      FromClient("203.0.113.50", "alice@bacgiang.gov.vn", {"friend@gmail.com"}, "alice"),
      "From: alice@bacgiang.gov.vn\r\nTo: friend@gmail.com\r\nSubject: Fwd: hi\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
      attached);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  // A client's "redirect" (bounce) by a logged-in person: Resent-* and the old delivery.
  v = f.Judge(FromClient("203.0.113.50", "alice@bacgiang.gov.vn", {"friend@gmail.com"}, "alice"),
              "Resent-From: alice@bacgiang.gov.vn\r\nResent-To: friend@gmail.com\r\n"
              "Delivered-To: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
}

TEST(AutoForwardOutTest, OrdinaryMailToPublicProvidersPasses) {
  Forwarding f;
  Verdict v = f.Judge(
      FromClient("203.0.113.50", "alice@bacgiang.gov.vn", {"friend@gmail.com"}, "alice"), kPlain);
  EXPECT_EQ(v.action, Action::kAccept);
  v = f.Judge(FromClient(kTrusted, "alice@bacgiang.gov.vn", {"friend@gmail.com"}), kPlain);
  EXPECT_EQ(v.action, Action::kAccept);
  v = f.Judge(Pickup("root@bacgiang.gov.vn", {"admin@gmail.com"}),
              "From: root@bacgiang.gov.vn\r\nTo: admin@gmail.com\r\nSubject: cron\r\n");
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
}

TEST(AutoForwardOutTest, ApplicationSendingAsSomeoneElseIsNoForward) {
  // A web application in trusted_networks mailing on behalf of a customer's address: a
  // foreign sender leaving, nothing else. Delivered-To of an internal mailbox makes it one.
  Forwarding f;
  Verdict v = f.Judge(FromClient(kTrusted, "customer@example.org", {"x@gmail.com"}),
                      "From: customer@example.org\r\nTo: x@gmail.com\r\nSubject: order\r\n");
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  v = f.Judge(FromClient(kTrusted, "customer@example.org", {"x@gmail.com"}),
              "Delivered-To: alice@bacgiang.gov.vn\r\nFrom: customer@example.org\r\n"
              "To: x@gmail.com\r\nSubject: order\r\n");
  EXPECT_EQ(v.action, Action::kReject);
}

TEST(AutoForwardOutTest, MailingListsAndBouncesPass) {
  Forwarding f;
  // A list server in trusted_networks re-sending a foreign member's post to a gmail member.
  Verdict v = f.Judge(FromClient(kTrusted, "someone@example.org", {"member@gmail.com"}),
                      "List-Id: <staff.lists.bacgiang.gov.vn>\r\nResent-From: "
                      "staff@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  // A delivery report to an outside sender.
  v = f.Judge(FromClient(kTrusted, "", {"someone@gmail.com"}),
              "From: MAILER-DAEMON@bacgiang.gov.vn\r\nTo: someone@gmail.com\r\n"
              "Auto-Submitted: auto-replied\r\nContent-Type: multipart/report; "
              "report-type=delivery-status; boundary=r\r\n",
              "--r\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--r--\r\n");
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  // But a Sieve stamp on a list post still proves the mailbox forwarded it.
  v = f.Judge(Pickup("someone@example.org", {"alice@gmail.com"}),
              "List-Id: <x.lists.example.org>\r\nX-Sieve-Redirected-From: "
              "alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kReject);
}

TEST(AutoForwardOutTest, EarlierHopTracesDoNotCount) {
  // Gmail forwarded this into alice (its stamp names a Gmail mailbox and target alice); it
  // then leaves to a state domain, or is a trusted relay's ordinary outbound mail.
  Forwarding f;
  Verdict v = f.Judge(FromClient(kTrusted, "alice@bacgiang.gov.vn", {"x@gmail.com"}),
                      "X-Forwarded-For: bob@gmail.com alice@bacgiang.gov.vn\r\n"
                      "X-Forwarded-To: alice@bacgiang.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
}

TEST(AutoForwardOutTest, EgressRefusesEachExpandedRecipientAlone) {
  Forwarding f;
  Envelope env;
  env.egress = true;
  env.client_addr = "127.0.0.1";
  env.mail_from = "someone@example.org";
  auto add = [&](const std::string& rcpt, const std::string& orcpt) {
    env.recipients.push_back(rcpt);
    env.original_recipients.push_back(orcpt);
    return f.engine->AtRecipient(env);
  };
  Verdict v = add("alice@gmail.com", "alice@bacgiang.gov.vn");
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_NE(v.text.find("alice@bacgiang.gov.vn"), std::string::npos);
  EXPECT_NE(v.text.find("alice@gmail.com"), std::string::npos);
  EXPECT_EQ(v.deciding->evidence["forwarding"]["evidence"][0]["trace"], "expanded-recipient");
  // Not expanded (sent to the gmail address itself), expanded within the state, no ORCPT.
  EXPECT_EQ(add("friend@gmail.com", "friend@gmail.com").action, Action::kAccept);
  EXPECT_EQ(add("bob@hanoi.gov.vn", "bob@bacgiang.gov.vn").action, Action::kAccept);
  EXPECT_EQ(add("carol@gmail.com", "").action, Action::kAccept);
  // Expanded from an outside address (the sending side's own aliasing): not ours.
  EXPECT_EQ(add("dave@gmail.com", "dave@example.org").action, Action::kAccept);
}

TEST(AutoForwardOutTest, EgressRunsOnlyTheForwardingRules) {
  auto config = testing::ConfigWithRules(
      "  - id: size\n    check: message_size\n    max_size: 10\n"
      "  - id: auto-forward-out\n    check: auto_forward_out\n",
      "domains:\n  internal: [bacgiang.gov.vn]\n");
  auto engine = Engine::Build(config);
  ASSERT_TRUE(engine.ok());
  Envelope env;
  env.egress = true;
  env.mail_from = "alice@bacgiang.gov.vn";
  env.recipients = {"friend@gmail.com"};
  env.original_recipients = {""};
  auto message = (*engine)->NewMessage(env);
  ReadMessageText(kPlain + "\r\nbody far longer than ten bytes\r\n", message.get());
  EXPECT_EQ((*engine)->AtEndOfMessage(*message).action, Action::kAccept);
  env.egress = false;
  auto ingress = (*engine)->NewMessage(env);
  ReadMessageText(kPlain + "\r\nbody far longer than ten bytes\r\n", ingress.get());
  EXPECT_EQ((*engine)->AtEndOfMessage(*ingress).action, Action::kReject);
}

TEST(AutoForwardInTest, EachProvidersForwardingIntoUsIsRefused) {
  Forwarding f;
  struct Case {
    std::string sender;
    std::string headers;
  };
  const Case cases[] = {
      {"bob+caf_=alice=bacgiang.gov.vn@gmail.com",
       "X-Forwarded-To: alice@bacgiang.gov.vn\r\nX-Forwarded-For: bob@gmail.com "
       "alice@bacgiang.gov.vn\r\nDelivered-To: bob@gmail.com\r\n"},
      {"someone@example.org", "X-Yandex-Forward: 4f7d1c8b2a9e0d3c\r\n"},
      {"someone@example.org", "X-MailRu-Forward: 1\r\n"},
      {"someone@example.org", "X-MS-Exchange-Inbox-Rules-Loop: bob@outlook.com\r\n"},
      {"someone@example.org", "X-Sieve-Redirected-From: bob@private-isp.example\r\n"},
      {"SRS0=x1=T2=example.org=someone@outlook.com", ""},
      {"someone@yahoo.com", "Auto-Submitted: auto-forwarded\r\n"},
  };
  for (const Case& c : cases) {
    Verdict v = f.Judge(FromClient("203.0.113.9", c.sender, {"alice@bacgiang.gov.vn"}),
                        c.headers + kPlain);
    EXPECT_EQ(v.action, Action::kReject) << c.sender << " " << c.headers;
    EXPECT_EQ(RuleOf(v), "auto-forward-in") << c.headers;
    EXPECT_NE(v.text.find("alice@bacgiang.gov.vn"), std::string::npos) << v.text;
  }
}

TEST(AutoForwardInTest, StateForwardersOrdinaryMailAndListsPass) {
  Forwarding f;
  // Another ministry's Sieve forwards to us.
  Verdict v = f.Judge(FromClient("203.0.113.9", "someone@example.org", {"alice@bacgiang.gov.vn"}),
                      "X-Sieve-Redirected-From: bob@hanoi.gov.vn\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  // Ordinary mail from Gmail.
  v = f.Judge(FromClient("203.0.113.9", "friend@gmail.com", {"alice@bacgiang.gov.vn"}), kPlain);
  EXPECT_EQ(v.action, Action::kAccept);
  // A Google Groups post (List-Id) carrying the poster's old Delivered-To.
  v = f.Judge(FromClient("203.0.113.9", "list-bounces@googlegroups.com", {"alice@bacgiang.gov.vn"}),
              "List-Id: <x.googlegroups.com>\r\nDelivered-To: x@googlegroups.com\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  // A person at Gmail resending by hand: a hint only.
  v = f.Judge(FromClient("203.0.113.9", "friend@gmail.com", {"alice@bacgiang.gov.vn"}),
              "Resent-From: friend@gmail.com\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
}

TEST(AutoForwardInTest, PublicProvidersOnlyIsConfigurable) {
  Forwarding f("    forwarders: public_providers\n");
  Verdict v = f.Judge(FromClient("203.0.113.9", "someone@example.org", {"alice@bacgiang.gov.vn"}),
                      "X-Sieve-Redirected-From: bob@private-isp.example\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kAccept) << v.text;
  v = f.Judge(FromClient("203.0.113.9", "someone@example.org", {"alice@bacgiang.gov.vn"}),
              "X-Sieve-Redirected-From: bob@gmail.com\r\n" + kPlain);
  EXPECT_EQ(v.action, Action::kReject);
}

}  // namespace
}  // namespace mailwarden

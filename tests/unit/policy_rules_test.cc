#include "policyd/policy_rules.h"

#include <gtest/gtest.h>

#include <string>

#include "policyd/reload.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

std::shared_ptr<const PolicyRules> RulesWith(const std::string& rules,
                                             const std::string& extra = "") {
  auto built = PolicyRules::Build(testing::ConfigWithRules(rules, extra));
  EXPECT_TRUE(built.ok()) << built.status().message();
  return *built;
}

std::string Blocklist(const std::string& id, const std::string& senders,
                      const std::string& action = "reject", const std::string& more = "") {
  return "  - id: " + id + "\n    check: sender_blocklist\n    senders: " + senders +
         "\n    action: " + action + "\n" + more;
}

PolicyRequest Request(const std::string& sender, const std::string& state = "RCPT") {
  return PolicyRequest({{"request", "smtpd_access_policy"},
                        {"protocol_state", state},
                        {"sender", sender},
                        {"recipient", "rcpt@bacgiang.gov.vn"},
                        {"queue_id", "4XyZ"},
                        {"client_address", "192.0.2.7"},
                        {"client_name", "unknown"},
                        {"sasl_username", "alice"},
                        {"instance", "a1.b2.0"},
                        {"size", "1234"}});
}

// ---- PolicyRules ---------------------------------------------------------------------------

TEST(PolicyRules, RejectsListedSender) {
  auto rules = RulesWith(Blocklist("sender-blocklist", "[blocked@example.net, \"@spam.example\"]"));
  PolicyDecision d = rules->Evaluate(Request("Blocked@example.net"));
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.ActionLine(),
            "action=550 5.7.1 sender blocked by policy (mailwarden rule sender-blocklist)");
  EXPECT_TRUE(PolicyRules::ShouldLog(d, false));
  ASSERT_NE(d.deciding_finding(), nullptr);
  EXPECT_EQ(d.deciding_finding()->evidence["matched"], "blocked@example.net");

  d = rules->Evaluate(Request("x@spam.example"));
  EXPECT_EQ(d.action, Action::kReject);
}

TEST(PolicyRules, UnlistedSenderGetsDunnoAndIsNotLogged) {
  auto rules = RulesWith(Blocklist("sender-blocklist", "[blocked@example.net]"));
  for (const char* sender : {"ok@example.net", ""}) {
    PolicyDecision d = rules->Evaluate(Request(sender));
    EXPECT_EQ(d.ActionLine(), "action=DUNNO");
    EXPECT_TRUE(d.IsDunno());
    EXPECT_FALSE(PolicyRules::ShouldLog(d, false));
    EXPECT_TRUE(PolicyRules::ShouldLog(d, true));  // --debug
  }
}

TEST(PolicyRules, ActionsSpellTheirReplies) {
  auto reply = [](const std::string& action, const std::string& state = "RCPT") {
    auto rules = RulesWith(Blocklist("bl", "[\"@x.org\"]", action));
    return rules->Evaluate(Request("a@x.org", state)).reply;
  };
  EXPECT_EQ(reply("tempfail"),
            "DEFER_IF_PERMIT 4.7.1 sender blocked by policy (mailwarden rule bl)");
  EXPECT_EQ(reply("quarantine"), "HOLD sender blocked by policy (mailwarden rule bl)");
  EXPECT_EQ(reply("tag"), "PREPEND X-Mailwarden-Policy: tag (mailwarden rule bl)");
  EXPECT_EQ(reply("tag", "DATA"), "PREPEND X-Mailwarden-Policy: tag (mailwarden rule bl)");
  EXPECT_EQ(reply("tag", "END-OF-MESSAGE"), "DUNNO");
  EXPECT_EQ(reply("accept"), "DUNNO");
}

TEST(PolicyRules, AcceptRuleIsLoggedThoughTheAnswerIsDunno) {
  auto rules = RulesWith(Blocklist("allow", "[\"@x.org\"]", "accept"));
  PolicyDecision d = rules->Evaluate(Request("a@x.org"));
  EXPECT_TRUE(d.IsDunno());
  EXPECT_EQ(d.action, Action::kAccept);
  EXPECT_TRUE(PolicyRules::ShouldLog(d, false));
}

TEST(PolicyRules, StrongestActionWinsFirstAmongEquals) {
  auto rules = RulesWith(Blocklist("tagger", "[\"@x.org\"]", "tag") +
                         Blocklist("first", "[a@x.org]", "reject") +
                         Blocklist("second", "[\"@x.org\"]", "reject") +
                         Blocklist("holder", "[\"@x.org\"]", "quarantine"));
  PolicyDecision d = rules->Evaluate(Request("a@x.org"));
  EXPECT_EQ(d.findings.size(), 4u);
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.deciding_finding()->rule_id, "first");
  d = rules->Evaluate(Request("b@x.org"));
  EXPECT_EQ(d.deciding_finding()->rule_id, "second");
}

TEST(PolicyRules, ReplyTextReplacesTheReasonAndIsCleaned) {
  auto rules = RulesWith(Blocklist("bl", "[a@x.org]", "reject",
                                   "    reply: \"Contact it@bacgiang.gov.vn\\r\\nX: y\"\n"));
  EXPECT_EQ(rules->Evaluate(Request("a@x.org")).reply,
            "550 5.7.1 Contact it@bacgiang.gov.vn  X: y (mailwarden rule bl)");
}

TEST(PolicyRules, InternalErrorFollowsTheFailureMode) {
  auto answer = [](const std::string& mode) {
    auto rules = RulesWith("", "policyd:\n  on_internal_error: " + mode + "\n");
    return rules->InternalError("bl", "boom");
  };
  PolicyDecision d = answer("tempfail");
  EXPECT_EQ(d.reply,
            "DEFER_IF_PERMIT 4.3.0 temporary failure in the policy check, try again later "
            "(mailwarden rule bl)");
  EXPECT_TRUE(d.internal_error);
  d = answer("reject");
  EXPECT_EQ(d.reply, "550 5.3.0 policy check failed (mailwarden rule bl)");
  d = answer("accept");
  EXPECT_EQ(d.reply, "DUNNO");
  EXPECT_TRUE(PolicyRules::ShouldLog(d, false));  // fail-open is always logged
  EXPECT_EQ(d.deciding_finding()->evidence["fail_open"], true);
}

TEST(PolicyRules, BadEntryFailsTheBuildWithItsPosition) {
  testing::TempDir dir;
  std::string rules_file = dir.Write(
      "rules.yaml",
      "version: 1\nrules:\n  - id: bl\n    check: sender_blocklist\n    senders: [nobody]\n");
  std::string path = dir.Write("c.yaml", "version: 1\nrule_files: [" + rules_file + "]\n");
  auto rules = LoadPolicyRules({path, ""});
  ASSERT_FALSE(rules.ok());
  // Refused by the config loader, at the entry itself.
  EXPECT_NE(rules.status().message().find(rules_file + ":5:15: senders: 'nobody' is not"),
            std::string::npos)
      << rules.status().message();
}

TEST(PolicyRules, ListenOverrideIsValidated) {
  testing::TempDir dir;
  std::string path = dir.Write("c.yaml", "version: 1\nrule_files: []\n");
  auto rules = LoadPolicyRules({path, "unix:/tmp/x.sock"});
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  EXPECT_EQ((*rules)->config().policyd.listen, "unix:/tmp/x.sock");
  EXPECT_FALSE(LoadPolicyRules({path, "bogus"}).ok());
}

TEST(PolicyRules, DecisionRecordHasTheEcsFields) {
  auto rules = RulesWith(Blocklist("sender-blocklist", "[\"@spam.example\"]"));
  PolicyRequest request = Request("x@spam.example");
  PolicyDecision d = rules->Evaluate(request);
  nlohmann::json r = rules->DecisionRecord(request, d);
  EXPECT_EQ(r["event"]["dataset"], "mailwarden.policyd");
  EXPECT_EQ(r["event"]["action"], "reject");
  EXPECT_EQ(r["event"]["reason"], "sender blocked by policy");
  EXPECT_EQ(r["rule"]["id"], "sender-blocklist");
  EXPECT_EQ(r["rule"]["name"], "sender_blocklist");
  EXPECT_EQ(r["email"]["from"]["address"], "x@spam.example");
  EXPECT_EQ(r["email"]["to"]["address"], nlohmann::json::array({"rcpt@bacgiang.gov.vn"}));
  EXPECT_EQ(r["email"]["local_id"], "4XyZ");
  EXPECT_EQ(r["source"]["ip"], "192.0.2.7");
  EXPECT_FALSE(r["source"].contains("domain"));  // "unknown" is no name
  EXPECT_EQ(r["user"]["name"], "alice");
  EXPECT_EQ(r["mailwarden"]["stage"], "rcpt");
  EXPECT_EQ(r["mailwarden"]["reply"], d.reply);
  EXPECT_EQ(r["mailwarden"]["instance"], "a1.b2.0");
  EXPECT_EQ(r["mailwarden"]["findings"][0]["evidence"]["matched"], "@spam.example");
  EXPECT_TRUE(r.contains("@timestamp"));
}

TEST(PolicyRules, NullSenderIsLoggedAsEmpty) {
  auto rules = RulesWith(Blocklist("allow", "[\"@x.org\"]", "accept"));
  PolicyRequest request = Request("");
  nlohmann::json r = rules->DecisionRecord(request, rules->Evaluate(request));
  EXPECT_EQ(r["email"]["from"]["address"], "");
  EXPECT_EQ(r["event"]["action"], "accept");
  EXPECT_FALSE(r.contains("rule"));
}

TEST(PolicyRules, ScopesLimitWhereARuleApplies) {
  // Requests here come from 192.0.2.7 with sasl_username alice.
  auto excepted = RulesWith(Blocklist("bl", "[\"@spam.example\"]", "reject",
                                      "    except: { client_networks: [192.0.2.0/24] }\n"));
  EXPECT_EQ(excepted->Evaluate(Request("x@spam.example")).reply, "DUNNO");
  auto unauthenticated_only = RulesWith(Blocklist(
      "bl", "[\"@spam.example\"]", "reject", "    when: { authenticated: false }\n"));
  EXPECT_EQ(unauthenticated_only->Evaluate(Request("x@spam.example")).reply, "DUNNO");
  auto inbound = RulesWith(Blocklist("bl", "[\"@spam.example\"]", "reject",
                                     "    when: { direction: [inbound] }\n"),
                           "domains:\n  internal: [bacgiang.gov.vn]\n");
  // Authenticated client: outbound/internal, not inbound.
  EXPECT_EQ(inbound->Evaluate(Request("x@spam.example")).reply, "DUNNO");
  auto everywhere = RulesWith(Blocklist("bl", "[\"@spam.example\"]"));
  EXPECT_NE(everywhere->Evaluate(Request("x@spam.example")).reply, "DUNNO");
}

}  // namespace
}  // namespace mailwarden

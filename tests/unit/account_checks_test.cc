// The account rules of mailwarden-policyd (account_state, mailbox_quota, password_age) and
// the effective state they act on, against an in-memory AccountDirectory and a fixed clock.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "policyd/checks/account_check.h"
#include "policyd/checks/password_age.h"
#include "policyd/effective_state.h"
#include "policyd/policy_rules.h"
#include "policyd/store/account_directory.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kNow = 1717200000;  // 2024-06-01T00:00:00Z
constexpr char kDomain[] = "bacgiang.gov.vn";

// ---- an in-memory directory --------------------------------------------------------------

class FakeDirectory : public AccountDirectory {
 public:
  void Put(Account a) {
    for (const auto& alias : a.aliases) aliases_[alias] = a.address;
    accounts_[a.address] = std::move(a);
  }
  void PutUsage(const std::string& address, int64_t bytes) { usage_[address] = {bytes, 1}; }
  void Fail(Status s) { failure_ = std::move(s); }
  mutable int lookups = 0;
  // What AccountsMark() and UsageMark() return: nullopt, a store that cannot tell.
  std::optional<uint64_t> mark;
  std::optional<uint64_t> AccountsMark() const override { return mark; }
  std::optional<uint64_t> UsageMark() const override { return mark; }

  Result<std::optional<Account>> Find(std::string_view address) const override {
    ++lookups;
    if (!failure_.ok()) return failure_;
    std::string key = NormalizeAddress(address);
    if (auto alias = aliases_.find(key); alias != aliases_.end()) key = alias->second;
    auto it = accounts_.find(key);
    if (it == accounts_.end()) return std::optional<Account>();
    return std::optional<Account>(it->second);
  }
  Result<std::optional<MailboxUsage>> Usage(std::string_view address) const override {
    if (!failure_.ok()) return failure_;
    auto it = usage_.find(std::string(address));
    if (it == usage_.end()) return std::optional<MailboxUsage>();
    return std::optional<MailboxUsage>(it->second);
  }
  Status Add(const Account& a) override {
    Put(a);
    return Status::Ok();
  }
  Status Update(const Account& a) override {
    Put(a);
    return Status::Ok();
  }
  Result<std::vector<Account>> List() const override {
    std::vector<Account> out;
    for (const auto& [k, a] : accounts_) out.push_back(a);
    return out;
  }
  Status SetUsage(std::string_view address, const MailboxUsage& u) override {
    usage_[std::string(address)] = u;
    return Status::Ok();
  }
  Status RecordLogin(std::string_view address, int64_t when) override {
    accounts_[std::string(address)].last_login_at = when;
    return Status::Ok();
  }

 private:
  std::map<std::string, Account> accounts_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, MailboxUsage> usage_;
  Status failure_;
};

// An active account that logged in yesterday, created a year ago, password changed a
// month ago.
Account Active(const std::string& local, AccountRole role = AccountRole::kUser) {
  Account a;
  a.address = local + "@" + kDomain;
  a.role = role;
  a.created_at = kNow - 365 * kDay;
  a.state_since = a.created_at;
  a.last_login_at = kNow - kDay;
  a.password_changed_at = kNow - 30 * kDay;
  return a;
}

PolicyRequest Request(const std::string& sender, const std::string& recipient,
                      const std::string& state = "RCPT", const std::string& sasl = "",
                      const std::string& size = "0", const std::string& count = "0") {
  return PolicyRequest({{"request", "smtpd_access_policy"},
                        {"protocol_state", state},
                        {"sender", sender},
                        {"recipient", recipient},
                        {"sasl_username", sasl},
                        {"client_address", "192.0.2.7"},
                        {"size", size},
                        {"recipient_count", count}});
}

class AccountRulesTest : public ::testing::Test {
 protected:
  std::shared_ptr<const PolicyRules> Rules(const std::string& rules,
                                           const std::string& accounts = "") {
    std::string extra = std::string("domains:\n  internal: [") + kDomain + "]\n";
    // The directory fake changes between requests: no reuse of answers unless a test asks.
    extra += "accounts:\n" +
             (accounts.find("cache_ms") == std::string::npos ? std::string("  cache_ms: 0\n")
                                                             : std::string()) +
             accounts;
    auto built = PolicyRules::Build(testing::ConfigWithRules(rules, extra),
                                    {.accounts = directory_, .clock = [] { return kNow; }});
    EXPECT_TRUE(built.ok()) << built.status().message();
    return built.ok() ? *built : nullptr;
  }
  std::string Reply(const std::shared_ptr<const PolicyRules>& rules, const PolicyRequest& r) {
    return rules->Evaluate(r).reply;
  }

  std::shared_ptr<FakeDirectory> directory_ = std::make_shared<FakeDirectory>();
};

const char kStateRule[] = "  - id: account-state\n    check: account_state\n";
const char kQuotaRule[] = "  - id: mailbox-quota\n    check: mailbox_quota\n";
const char kPasswordRule[] = "  - id: password-age\n    check: password_age\n";

// ---- ComputeEffectiveState ---------------------------------------------------------------

EffectiveState At(const Account& a, int64_t now) { return ComputeEffectiveState(a, now, {}); }

TEST(EffectiveState, ActiveAccountThatLoggedInRecently) {
  EffectiveState e = At(Active("a"), kNow);
  EXPECT_EQ(e.state, AccountState::kActive);
  EXPECT_EQ(e.cause, StateCause::kNone);
  EXPECT_EQ(e.reason, "");
  EXPECT_EQ(e.active_since, kNow - kDay);
  EXPECT_EQ(e.inactive_at, kNow - kDay + 90 * kDay);
}

TEST(EffectiveState, InactiveFromExactlyNinetyDaysAfterTheLastLogin) {
  Account a = Active("a");
  a.last_login_at = kNow - 90 * kDay;
  EXPECT_EQ(At(a, kNow - 1).state, AccountState::kActive);
  EffectiveState e = At(a, kNow);
  EXPECT_EQ(e.state, AccountState::kSuspended);
  EXPECT_EQ(e.cause, StateCause::kInactive);
  EXPECT_EQ(e.reason, "no login since 2024-03-03 (90 days or more)");
}

TEST(EffectiveState, NeverLoggedInGetsTheGraceBeforeTheClockStarts) {
  Account a = Active("a");
  a.last_login_at.reset();
  a.created_at = a.state_since = kNow - 120 * kDay;  // 30 days' grace + 90 days
  EXPECT_EQ(At(a, kNow - 1).state, AccountState::kActive);
  EffectiveState e = At(a, kNow);
  EXPECT_EQ(e.state, AccountState::kSuspended);
  EXPECT_EQ(e.active_since, kNow - 90 * kDay);
  EXPECT_EQ(e.reason, "never logged in since its creation on 2024-02-02 (90 days or more)");
  // login_grace 0: the regulation's letter, 90 days from creation.
  EXPECT_EQ(ComputeEffectiveState(a, kNow - 30 * kDay, {90 * kDay, 0}).state,
            AccountState::kSuspended);
  EXPECT_EQ(ComputeEffectiveState(a, kNow - 30 * kDay - 1, {90 * kDay, 0}).state,
            AccountState::kActive);
}

TEST(EffectiveState, ReactivationRestartsTheInactivityClock) {
  Account a = Active("a");
  a.last_login_at = kNow - 200 * kDay;
  EXPECT_EQ(At(a, kNow).state, AccountState::kSuspended);
  a.state_since = kNow - 10 * kDay;  // reactivated ten days ago
  EXPECT_EQ(At(a, kNow).state, AccountState::kActive);
  // state_since of a suspended account is when it was suspended: no effect on the clock.
  a.state = AccountState::kSuspended;
  EXPECT_EQ(At(a, kNow).active_since, kNow - 200 * kDay);
}

TEST(EffectiveState, InactivitySuspensionCanBeTurnedOff) {
  Account a = Active("a");
  a.last_login_at = kNow - 1000 * kDay;
  EffectiveState e = ComputeEffectiveState(a, kNow, {0, 30 * kDay});
  EXPECT_EQ(e.state, AccountState::kActive);
  EXPECT_FALSE(e.inactive_at.has_value());
}

TEST(EffectiveState, FutureLoginCountsAsNow) {
  Account a = Active("a");
  a.last_login_at = kNow + 400 * kDay;  // another host's clock
  EXPECT_EQ(At(a, kNow).active_since, kNow);
  EXPECT_EQ(At(a, kNow + 90 * kDay).state, AccountState::kActive);
  EXPECT_EQ(At(a, kNow + 490 * kDay).state, AccountState::kSuspended);
}

TEST(EffectiveState, TerminationDateInThePastOrNowTerminates) {
  Account a = Active("a");
  a.terminate_at = kNow + 1;
  EXPECT_EQ(At(a, kNow).state, AccountState::kActive);
  a.terminate_at = kNow;
  EffectiveState e = At(a, kNow);
  EXPECT_EQ(e.state, AccountState::kTerminated);
  EXPECT_EQ(e.cause, StateCause::kTerminationDate);
  EXPECT_EQ(e.reason, "terminated on 2024-06-01");
  a.terminate_at = kNow - 30 * kDay;
  EXPECT_EQ(At(a, kNow).state, AccountState::kTerminated);
}

TEST(EffectiveState, StoredStatesAndPrecedence) {
  Account a = Active("a");
  a.state = AccountState::kSuspended;
  a.state_reason = "misuse: spam incident 12";
  EffectiveState e = At(a, kNow);
  EXPECT_EQ(e.state, AccountState::kSuspended);
  EXPECT_EQ(e.cause, StateCause::kStored);
  EXPECT_EQ(e.reason, "misuse: spam incident 12");
  // A scheduled termination that has come outranks a suspension.
  a.terminate_at = kNow - 1;
  EXPECT_EQ(At(a, kNow).state, AccountState::kTerminated);
  // A stored termination outranks everything, with a default reason.
  a.state = AccountState::kTerminated;
  a.state_reason.clear();
  e = At(a, kNow);
  EXPECT_EQ(e.cause, StateCause::kStored);
  EXPECT_EQ(e.reason, "terminated by the administrators");
}

// ---- account_state -----------------------------------------------------------------------

TEST_F(AccountRulesTest, SuspendedSenderIsRefusedSayingWhyAndWhomToContact) {
  Account a = Active("alice");
  a.state = AccountState::kSuspended;
  a.state_reason = "security incident";
  directory_->Put(a);
  auto rules = Rules(kStateRule, "  contact: helpdesk@bacgiang.gov.vn\n");
  PolicyDecision d = rules->Evaluate(Request("alice@bacgiang.gov.vn", "x@example.com"));
  EXPECT_EQ(d.reply,
            "550 5.7.1 sender account alice@bacgiang.gov.vn is suspended: security incident; "
            "contact helpdesk@bacgiang.gov.vn (mailwarden rule account-state)");
  const nlohmann::json& ev = d.deciding_finding()->evidence;
  EXPECT_EQ(ev["side"], "sender");
  EXPECT_EQ(ev["account"]["via"], "sender");
  EXPECT_EQ(ev["account"]["stored_state"], "suspended");
  EXPECT_EQ(ev["account"]["effective_state"], "suspended");
  EXPECT_EQ(ev["account"]["cause"], "stored");
}

TEST_F(AccountRulesTest, InactiveSenderIsRefusedWithTheLastLogin) {
  Account a = Active("bob");
  a.last_login_at = kNow - 100 * kDay;
  directory_->Put(a);
  auto rules = Rules(kStateRule);
  PolicyDecision d = rules->Evaluate(Request("bob@bacgiang.gov.vn", "x@example.com", "MAIL"));
  EXPECT_EQ(d.reply,
            "550 5.7.1 sender account bob@bacgiang.gov.vn is suspended: no login since "
            "2024-02-22 (90 days or more); contact your mail administrators (mailwarden rule "
            "account-state)");
  EXPECT_EQ(d.deciding_finding()->evidence["account"]["cause"], "inactive");
  EXPECT_EQ(d.deciding_finding()->evidence["account"]["last_login_at"], "2024-02-22T00:00:00Z");
}

TEST_F(AccountRulesTest, SenderIsJudgedBySaslLoginAndByInternalEnvelopeSender) {
  Account t = Active("carol");
  t.state = AccountState::kTerminated;
  t.state_reason = "retired";
  directory_->Put(t);
  directory_->Put(Active("dave"));
  auto rules = Rules(kStateRule);
  // Logged in as carol, sending as anyone: refused.
  PolicyDecision d = rules->Evaluate(
      Request("someone@example.org", "x@example.com", "RCPT", "Carol@bacgiang.gov.vn"));
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.deciding_finding()->evidence["account"]["via"], "sasl_username");
  EXPECT_NE(d.reply.find("is terminated: retired"), std::string::npos) << d.reply;
  // dave logged in, sending as carol: still refused (a terminated mailbox does not send).
  d = rules->Evaluate(
      Request("carol@bacgiang.gov.vn", "x@example.com", "RCPT", "dave@bacgiang.gov.vn"));
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.deciding_finding()->evidence["account"]["via"], "sender");
  // An outside sender's address is not looked up at all.
  directory_->lookups = 0;
  d = rules->Evaluate(Request("carol@example.org", "x@example.com"));
  EXPECT_TRUE(d.IsDunno());
  EXPECT_EQ(directory_->lookups, 1);  // the recipient only
}

TEST_F(AccountRulesTest, AliasResolvesToItsAccount) {
  Account a = Active("erin");
  a.state = AccountState::kSuspended;
  a.aliases = {"director@bacgiang.gov.vn"};
  directory_->Put(a);
  auto rules = Rules(kStateRule);
  PolicyDecision d = rules->Evaluate(Request("Director@bacgiang.gov.vn", "x@example.com"));
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.deciding_finding()->evidence["account"]["matched"], "director@bacgiang.gov.vn");
  EXPECT_EQ(d.deciding_finding()->evidence["account"]["address"], "erin@bacgiang.gov.vn");
}

TEST_F(AccountRulesTest, TerminatedRecipientIsNoSuchUser) {
  Account a = Active("frank");
  a.terminate_at = kNow - kDay;
  directory_->Put(a);
  auto rules = Rules(kStateRule, "  contact: it@bacgiang.gov.vn\n");
  EXPECT_EQ(Reply(rules, Request("x@example.com", "frank@bacgiang.gov.vn")),
            "550 5.1.1 mailbox terminated, no longer in use; contact it@bacgiang.gov.vn "
            "(mailwarden rule account-state)");
}

TEST_F(AccountRulesTest, SuspendedRecipientPerConfigAndNoStoredReasonDisclosed) {
  Account a = Active("gina");
  a.state = AccountState::kSuspended;
  a.state_reason = "disciplinary matter";
  directory_->Put(a);
  PolicyRequest r = Request("x@example.com", "gina@bacgiang.gov.vn");
  EXPECT_EQ(Reply(Rules(kStateRule), r),
            "550 5.2.1 mailbox disabled (account suspended) (mailwarden rule account-state)");
  auto tempfail = Rules(std::string(kStateRule) + "    suspended_recipient: tempfail\n");
  EXPECT_EQ(Reply(tempfail, r),
            "450 4.2.1 mailbox disabled (account suspended) (mailwarden rule account-state)");
  auto accept = Rules(std::string(kStateRule) + "    suspended_recipient: accept\n");
  PolicyDecision d = accept->Evaluate(r);
  EXPECT_TRUE(d.IsDunno());
  EXPECT_TRUE(PolicyRules::ShouldLog(d, false));
  EXPECT_EQ(d.findings.at(0).evidence["account"]["stored_reason"], "disciplinary matter");
}

TEST_F(AccountRulesTest, ActiveAndUnknownAccountsAndOtherStatesGetDunno) {
  directory_->Put(Active("hank"));
  Account s = Active("ivy");
  s.state = AccountState::kSuspended;
  directory_->Put(s);
  auto rules = Rules(kStateRule);
  for (const PolicyRequest& r :
       {Request("hank@bacgiang.gov.vn", "hank@bacgiang.gov.vn"),
        Request("nobody@bacgiang.gov.vn", "nobody2@bacgiang.gov.vn"),
        Request("", "hank@bacgiang.gov.vn"),
        Request("ivy@bacgiang.gov.vn", "ivy@bacgiang.gov.vn", "END-OF-MESSAGE"),
        Request("ivy@bacgiang.gov.vn", "ivy@bacgiang.gov.vn", "DATA")}) {
    PolicyDecision d = rules->Evaluate(r);
    EXPECT_TRUE(d.IsDunno()) << d.reply;
    EXPECT_TRUE(d.findings.empty());
  }
}

TEST_F(AccountRulesTest, RuleActionCapsEveryOutcome) {
  Account a = Active("jo");
  a.state = AccountState::kTerminated;
  directory_->Put(a);
  auto tempfail = Rules("  - id: st\n    check: account_state\n    action: tempfail\n");
  EXPECT_EQ(Reply(tempfail, Request("x@example.com", "jo@bacgiang.gov.vn")),
            "450 4.1.1 mailbox terminated, no longer in use (mailwarden rule st)");
  EXPECT_EQ(Reply(tempfail, Request("jo@bacgiang.gov.vn", "x@example.com")),
            "450 4.7.1 sender account jo@bacgiang.gov.vn is terminated: terminated by the "
            "administrators; contact your mail administrators (mailwarden rule st)");
  auto monitor = Rules("  - id: st\n    check: account_state\n    action: accept\n");
  PolicyDecision d = monitor->Evaluate(Request("jo@bacgiang.gov.vn", "x@example.com"));
  EXPECT_TRUE(d.IsDunno());
  EXPECT_EQ(d.findings.at(0).evidence["capped_from"], "reject");
}

TEST_F(AccountRulesTest, AdminReplyReplacesTheText) {
  Account a = Active("kim");
  a.state = AccountState::kSuspended;
  directory_->Put(a);
  auto rules =
      Rules(std::string(kStateRule) + "    reply: \"account locked\"\n", "  contact: ext 1234\n");
  EXPECT_EQ(Reply(rules, Request("kim@bacgiang.gov.vn", "x@example.com")),
            "550 5.7.1 account locked; contact ext 1234 (mailwarden rule account-state)");
}

// ---- directory failures ------------------------------------------------------------------

TEST_F(AccountRulesTest, DirectoryFailureAnswersOnUnavailable) {
  directory_->Fail(Status::Timeout("accounts store /x: no answer within 200 ms"));
  PolicyRequest r = Request("a@bacgiang.gov.vn", "b@bacgiang.gov.vn");
  PolicyDecision d = Rules(kStateRule)->Evaluate(r);
  EXPECT_EQ(d.reply,
            "DEFER_IF_PERMIT 4.3.0 account directory temporarily unavailable, try again later "
            "(mailwarden rule account-state)");
  EXPECT_EQ(d.deciding_finding()->evidence["error"],
            "Timeout: accounts store /x: no answer within 200 ms");
  EXPECT_EQ(d.deciding_finding()->evidence["fail_open"], false);

  d = Rules(kStateRule, "  on_unavailable: accept\n")->Evaluate(r);
  EXPECT_TRUE(d.IsDunno());
  EXPECT_TRUE(PolicyRules::ShouldLog(d, false));
  EXPECT_EQ(d.deciding_finding()->evidence["fail_open"], true);

  EXPECT_EQ(Reply(Rules(kQuotaRule, "  on_unavailable: reject\n"), r),
            "550 5.3.0 account directory unavailable (mailwarden rule mailbox-quota)");
  // Not capped by the rule's action: a monitoring rule still says the store is down.
  EXPECT_EQ(Rules("  - id: p\n    check: password_age\n")->Evaluate(r).action, Action::kTempfail);
}

TEST_F(AccountRulesTest, AfterAFailureTheDirectoryIsLeftAloneForABit) {
  auto rules = Rules(kQuotaRule);
  directory_->Fail(Status::Unavailable("locked"));
  EXPECT_EQ(rules->Evaluate(Request("", "a@bacgiang.gov.vn")).action, Action::kTempfail);
  directory_->Fail(Status::Ok());
  directory_->lookups = 0;
  PolicyDecision d = rules->Evaluate(Request("", "a@bacgiang.gov.vn"));
  EXPECT_EQ(d.action, Action::kTempfail);
  EXPECT_EQ(directory_->lookups, 0);
  EXPECT_NE(d.deciding_finding()->evidence["error"].get<std::string>().find("not asked"),
            std::string::npos);
  // Other rule sets (a reload) start afresh.
  EXPECT_TRUE(Rules(kQuotaRule)->Evaluate(Request("", "a@bacgiang.gov.vn")).IsDunno());
}

TEST_F(AccountRulesTest, NoDirectoryIsAFailureToo) {
  auto built = PolicyRules::Build(testing::ConfigWithRules(kQuotaRule), {});
  ASSERT_TRUE(built.ok()) << built.status().message();
  EXPECT_EQ((*built)->Evaluate(Request("", "a@bacgiang.gov.vn")).action, Action::kTempfail);
  EXPECT_TRUE(PolicyRules::NeedsAccountDirectory((*built)->config()));
  EXPECT_FALSE(PolicyRules::NeedsAccountDirectory(*testing::ConfigWithRules(
      "  - id: b\n    check: sender_blocklist\n    senders: [a@b.org]\n")));
}

// ---- mailbox_quota -----------------------------------------------------------------------

TEST_F(AccountRulesTest, QuotaAtRcptCountsTheAnnouncedSize) {
  Account a = Active("lan");
  a.quota_bytes = 1000;
  directory_->Put(a);
  directory_->PutUsage(a.address, 900);
  auto rules = Rules(kQuotaRule);
  auto at_rcpt = [&](const std::string& size) {
    return Reply(rules, Request("x@example.com", "lan@bacgiang.gov.vn", "RCPT", "", size));
  };
  EXPECT_EQ(at_rcpt("0"), "DUNNO");
  EXPECT_EQ(at_rcpt("100"), "DUNNO");  // exactly full afterwards: fits
  EXPECT_EQ(at_rcpt("101"),
            "552 5.2.2 mailbox full: a message of 101 bytes does not fit (mailwarden rule "
            "mailbox-quota)");
  PolicyDecision d =
      rules->Evaluate(Request("x@example.com", "lan@bacgiang.gov.vn", "RCPT", "", "101"));
  const nlohmann::json& ev = d.deciding_finding()->evidence;
  EXPECT_EQ(ev["usage_bytes"], 900);
  EXPECT_EQ(ev["quota_bytes"], 1000);
  EXPECT_EQ(ev["quota_source"], "account");
  EXPECT_EQ(ev["size"], 101);
  EXPECT_EQ(ev["size_source"], "announced");
}

TEST_F(AccountRulesTest, QuotaOverAlreadyRefusesWithoutSize) {
  Account a = Active("mai");  // default quota
  directory_->Put(a);
  directory_->PutUsage(a.address, (int64_t{2} << 30) + 1);
  EXPECT_EQ(Reply(Rules(kQuotaRule), Request("x@example.com", "mai@bacgiang.gov.vn")),
            "552 5.2.2 mailbox full (mailwarden rule mailbox-quota)");
  // Per-account override, and tempfail.
  a.quota_bytes = int64_t{3} << 30;
  directory_->Put(a);
  EXPECT_EQ(Reply(Rules(kQuotaRule), Request("x@example.com", "mai@bacgiang.gov.vn")), "DUNNO");
  directory_->PutUsage(a.address, int64_t{3} << 30);
  auto tempfail = Rules(std::string(kQuotaRule) + "    action: tempfail\n");
  EXPECT_EQ(Reply(tempfail, Request("x@example.com", "mai@bacgiang.gov.vn", "RCPT", "", "5")),
            "452 4.2.2 mailbox full: a message of 5 bytes does not fit (mailwarden rule "
            "mailbox-quota)");
}

TEST_F(AccountRulesTest, QuotaDefaultFromConfigZeroIsUnlimitedUnknownUsageIsZero) {
  Account a = Active("nam");
  directory_->Put(a);
  auto small = Rules(kQuotaRule, "  default_quota: 1KiB\n");
  EXPECT_EQ(Reply(small, Request("x@example.com", a.address, "RCPT", "", "1024")), "DUNNO");
  EXPECT_EQ(small->Evaluate(Request("x@example.com", a.address, "RCPT", "", "1025"))
                .deciding_finding()
                ->evidence["quota_source"],
            "accounts.default_quota");
  auto unlimited = Rules(kQuotaRule, "  default_quota: 0\n");
  directory_->PutUsage(a.address, int64_t{1} << 40);
  EXPECT_EQ(Reply(unlimited, Request("x@example.com", a.address, "RCPT", "", "999999")), "DUNNO");
}

TEST_F(AccountRulesTest, QuotaAtEndOfMessageOnlyForOneRecipient) {
  Account a = Active("oanh");
  a.quota_bytes = 1000;
  directory_->Put(a);
  directory_->PutUsage(a.address, 900);
  auto rules = Rules(kQuotaRule);
  PolicyDecision d =
      rules->Evaluate(Request("x@example.com", a.address, "END-OF-MESSAGE", "", "500", "1"));
  EXPECT_EQ(d.reply,
            "552 5.2.2 mailbox full: a message of 500 bytes does not fit (mailwarden rule "
            "mailbox-quota)");
  EXPECT_EQ(d.deciding_finding()->evidence["size_source"], "message");
  EXPECT_EQ(Reply(rules, Request("x@example.com", "", "END-OF-MESSAGE", "", "500", "2")), "DUNNO");
  EXPECT_EQ(Reply(rules, Request("x@example.com", a.address, "DATA", "", "500", "1")), "DUNNO");
}

TEST_F(AccountRulesTest, HugeAnnouncedSizeDoesNotOverflow) {
  Account a = Active("phuc");
  directory_->Put(a);
  directory_->PutUsage(a.address, INT64_MAX - 5);
  EXPECT_EQ(Rules(kQuotaRule)
                ->Evaluate(Request("x@example.com", a.address, "RCPT", "", "18446744073709551615"))
                .action,
            Action::kReject);
}

// ---- password_age ------------------------------------------------------------------------

TEST_F(AccountRulesTest, AnswersAreReusedForCacheMsAndFailuresNever) {
  Account a = Active("minh");
  directory_->Put(a);
  auto rules = Rules(kPasswordRule, "  cache_ms: 60000\n");
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")), "DUNNO");
  // Changed in the directory: the answer of a moment ago still stands ...
  a.password_changed_at = kNow - 400 * kDay;
  directory_->Put(a);
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")), "DUNNO");
  // ... and rules built anew (a reload) ask again.
  EXPECT_NE(Reply(Rules(kPasswordRule, "  cache_ms: 60000\n"), Request(a.address, "x@example.com")),
            "DUNNO");
  // A failure is not kept: the next lookup after the directory recovers is answered.
  auto fresh = Rules(kPasswordRule, "  cache_ms: 60000\n");
  directory_->Fail(Status::Timeout("no answer"));
  EXPECT_NE(Reply(fresh, Request("other@" + std::string(kDomain), "x@example.com")), "DUNNO");
}

TEST_F(AccountRulesTest, MarkedAnswersAreKeptUntilTheDirectoryMarkMoves) {
  Account a = Active("hai");
  directory_->Put(a);
  directory_->mark = 1;
  auto rules = Rules(kPasswordRule, "  cache_ms: 1\n");  // by time, a millisecond
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")), "DUNNO");
  EXPECT_EQ(directory_->lookups, 1);
  a.password_changed_at = kNow - 400 * kDay;
  directory_->Put(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // Long past the time to live, but the mark stands: still the answer read before.
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")), "DUNNO");
  EXPECT_EQ(directory_->lookups, 1);
  directory_->mark = 2;  // the store saw a write
  EXPECT_NE(Reply(rules, Request(a.address, "x@example.com")), "DUNNO");
  EXPECT_EQ(directory_->lookups, 2);
}

TEST_F(AccountRulesTest, AnswersFromMemoryOnceEverythingNeededIsCached) {
  Account sender = Active("an");
  Account recipient = Active("binh");
  directory_->Put(sender);
  directory_->Put(recipient);
  directory_->PutUsage(recipient.address, 1000);
  auto rules = Rules(std::string(kStateRule) + kQuotaRule + kPasswordRule, "  cache_ms: 60000\n");
  PolicyRequest rcpt = Request(sender.address, recipient.address);
  EXPECT_FALSE(rules->AnswersFromMemory(rcpt));
  EXPECT_EQ(Reply(rules, rcpt), "DUNNO");
  EXPECT_TRUE(rules->AnswersFromMemory(rcpt));
  // Another recipient is not cached yet; an unknown one neither (the directory says so).
  EXPECT_FALSE(rules->AnswersFromMemory(Request(sender.address, "nobody@" + std::string(kDomain))));
  // END-OF-MESSAGE of one recipient: only mailbox_quota judges, from the cached usage.
  EXPECT_TRUE(rules->AnswersFromMemory(
      Request(sender.address, recipient.address, "END-OF-MESSAGE", "", "100", "1")));
  // Other stages ask nothing.
  EXPECT_TRUE(rules->AnswersFromMemory(Request("x@example.com", "", "CONNECT")));
  // While the directory is backed off after a failure, answers come at once (failures).
  directory_->Fail(Status::Timeout("no answer"));
  PolicyRequest other = Request("chi@" + std::string(kDomain), "x@example.com");
  EXPECT_FALSE(rules->AnswersFromMemory(other));
  EXPECT_NE(Reply(rules, other), "DUNNO");
  EXPECT_TRUE(rules->AnswersFromMemory(other));
}

TEST_F(AccountRulesTest, CachedAnswersStandWhileTheDirectoryIsBackedOff) {
  Account a = Active("dung");
  a.state = AccountState::kSuspended;
  a.state_reason = "left the unit";
  directory_->Put(a);
  auto rules = Rules(kStateRule, "  cache_ms: 60000\n");
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")).substr(0, 3), "550");
  directory_->Fail(Status::Timeout("no answer"));
  // An address not cached fails (and starts the backoff) ...
  EXPECT_EQ(Reply(rules, Request("e@" + std::string(kDomain), "x@example.com")).substr(0, 15),
            "DEFER_IF_PERMIT");
  // ... a cached one is still judged on what the directory said.
  int lookups = directory_->lookups;
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")).substr(0, 3), "550");
  EXPECT_EQ(directory_->lookups, lookups);
}

TEST_F(AccountRulesTest, OldPasswordIsTaggedWithAHeader) {
  Account a = Active("quang");
  a.password_changed_at = kNow - 180 * kDay;
  directory_->Put(a);
  auto rules = Rules(kPasswordRule);
  PolicyDecision d = rules->Evaluate(Request(a.address, "x@example.com"));
  EXPECT_EQ(d.action, Action::kTag);
  EXPECT_EQ(d.reply,
            "PREPEND X-Mailwarden-Password-Age: 180 days (limit 180 days) (mailwarden rule "
            "password-age)");
  const nlohmann::json& ev = d.deciding_finding()->evidence;
  EXPECT_EQ(ev["password_age_days"], 180);
  EXPECT_EQ(ev["max_age_days"], 180);
  EXPECT_EQ(ev["account"]["role"], "user");
  EXPECT_EQ(ev["password_changed_at"], "2023-12-04T00:00:00Z");
  // One second younger: nothing.
  a.password_changed_at = kNow - 180 * kDay + 1;
  directory_->Put(a);
  EXPECT_EQ(Reply(rules, Request(a.address, "x@example.com")), "DUNNO");
}

TEST_F(AccountRulesTest, AdminsHaveTheShorterLimitAndNoRecordedChangeCountsFromCreation) {
  Account admin = Active("root", AccountRole::kAdmin);
  admin.password_changed_at = kNow - 91 * kDay;
  directory_->Put(admin);
  Account never = Active("rin");
  never.password_changed_at.reset();  // created a year ago
  directory_->Put(never);
  auto rules = Rules(kPasswordRule);
  EXPECT_EQ(Reply(rules, Request(admin.address, "x@example.com")),
            "PREPEND X-Mailwarden-Password-Age: 91 days (limit 90 days) (mailwarden rule "
            "password-age)");
  PolicyDecision d = rules->Evaluate(Request(never.address, "x@example.com"));
  EXPECT_EQ(d.deciding_finding()->evidence["password_change_recorded"], false);
  EXPECT_EQ(d.deciding_finding()->evidence["password_age_days"], 365);
  // Custom limits.
  auto lax =
      Rules(std::string(kPasswordRule) + "    max_age_user: 400d\n    max_age_admin: 100d\n");
  EXPECT_EQ(Reply(lax, Request(admin.address, "x@example.com")), "DUNNO");
  EXPECT_EQ(Reply(lax, Request(never.address, "x@example.com")), "DUNNO");
}

TEST_F(AccountRulesTest, OldPasswordRejectTellsToChangeIt) {
  Account a = Active("son");
  a.password_changed_at = kNow - 200 * kDay;
  directory_->Put(a);
  auto rules = Rules(std::string(kPasswordRule) + "    action: reject\n",
                     "  contact: helpdesk@bacgiang.gov.vn\n");
  EXPECT_EQ(Reply(rules, Request("x@example.org", "y@example.com", "RCPT", a.address)),
            "550 5.7.1 the password of son@bacgiang.gov.vn is 200 days old (limit 180 days for "
            "user accounts): change it, then send again; contact helpdesk@bacgiang.gov.vn "
            "(mailwarden rule password-age)");
}

TEST_F(AccountRulesTest, PasswordAgeOnlyBeforeTheContent) {
  Account a = Active("tam");
  a.password_changed_at = kNow - 365 * kDay;
  directory_->Put(a);
  auto rules = Rules(kPasswordRule);
  EXPECT_EQ(rules->Evaluate(Request(a.address, "x@example.com", "MAIL")).action, Action::kTag);
  EXPECT_TRUE(
      rules->Evaluate(Request(a.address, "x@example.com", "END-OF-MESSAGE")).findings.empty());
}

// ---- the decision log --------------------------------------------------------------------

TEST_F(AccountRulesTest, DecisionRecordCarriesTheEvidence) {
  Account a = Active("uyen");
  a.last_login_at = kNow - 95 * kDay;
  directory_->Put(a);
  auto rules = Rules(kStateRule);
  PolicyRequest r = Request(a.address, "x@example.com");
  nlohmann::json rec = rules->DecisionRecord(r, rules->Evaluate(r));
  EXPECT_EQ(rec["rule"]["name"], "account_state");
  const nlohmann::json& f = rec["mailwarden"]["findings"][0];
  std::string dump = f.dump();
  for (const char* key : {"\"effective_state\":\"suspended\"", "\"stored_state\":\"active\"",
                          "\"cause\":\"inactive\"", "\"inactive_at\":"}) {
    EXPECT_NE(dump.find(key), std::string::npos) << key << " in " << dump;
  }
}

TEST(HumanSize, Units) {
  EXPECT_EQ(HumanSize(512), "512 bytes");
  EXPECT_EQ(HumanSize(2048), "2 KiB");
  EXPECT_EQ(HumanSize(int64_t{3} << 29), "1.5 GiB");
  EXPECT_EQ(HumanSize(int64_t{2} << 30), "2 GiB");
}

}  // namespace
}  // namespace mailwarden

#include "policyd/checks/account_check.h"

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/log.h"
#include "policyd/store/civil_time.h"

namespace mailwarden {
namespace {

// Rate limit for the stderr line about directory failures: the decision log has every
// one, stderr gets one line per interval with the count of the others.
int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::atomic<int64_t> g_last_failure_report{INT64_MIN / 2};  // never
std::atomic<uint64_t> g_unreported_failures{0};

void ReportFailure(const std::string& line) {
  int64_t now = SteadySeconds();
  int64_t last = g_last_failure_report.load();
  if (now - last < AccountCheck::kFailureReportInterval ||
      !g_last_failure_report.compare_exchange_strong(last, now)) {
    ++g_unreported_failures;
    return;
  }
  uint64_t others = g_unreported_failures.exchange(0);
  LogError(line + (others ? " (and " + std::to_string(others) + " more since the last report)"
                          : std::string()));
}

}  // namespace

AccountsOptions AccountsOptions::FromConfig(const Config& config) {
  AccountsOptions o;
  o.database = config.value("accounts.database").text;
  o.default_quota = config.value("accounts.default_quota").number;
  o.state.suspend_after_inactive = config.value("accounts.suspend_after_inactive").number;
  o.state.login_grace = config.value("accounts.login_grace").number;
  o.timeout_ms = config.value("accounts.timeout_ms").number;
  o.cache_ms = config.value("accounts.cache_ms").number;
  o.on_unavailable = config.value("accounts.on_unavailable").action;
  o.contact = config.value("accounts.contact").text;
  return o;
}

std::string HumanSize(int64_t bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  int64_t whole = bytes;
  while (unit < 4 && whole >= 1024) {
    whole /= 1024;
    ++unit;
  }
  if (unit == 0) return std::to_string(bytes) + " bytes";
  // One decimal when the unit is coarse ("1.5 GiB"), none when it is exact.
  int64_t scale = int64_t{1} << (10 * unit);
  int64_t tenths = (bytes % scale) * 10 / scale;
  return std::to_string(whole) + (tenths ? "." + std::to_string(tenths) : "") + " " + kUnits[unit];
}

std::vector<AccountRef> AccountCheck::SenderAccounts(const PolicyRequest& request) const {
  std::vector<AccountRef> refs;
  if (!request.sasl_username().empty()) {
    refs.push_back({NormalizeAddress(request.sasl_username()), "sasl_username"});
  }
  std::string sender = NormalizeAddress(request.sender());
  if (!sender.empty() && context_->locality.IsInternalDomain(DomainOf(sender)) &&
      (refs.empty() || refs[0].address != sender)) {
    refs.push_back({std::move(sender), "sender"});
  }
  return refs;
}

Status AccountCheck::MayAsk() const {
  if (!context_->directory) return Status::Unavailable("no account directory is open");
  return context_->backoff.MayAsk("account directory");
}

void AccountCheck::NoteResult(const Status& status) const { context_->backoff.Note(status); }

std::shared_ptr<const Account> AccountCheck::Find(const AccountRef& ref,
                                                  std::vector<PolicyFinding>* out) const {
  const LookupCache<CachedAccount>* cache = context_->accounts.get();
  // Taken before the read (account_directory.h).
  const auto mark =
      cache && context_->directory ? context_->directory->AccountsMark() : std::nullopt;
  // A cached answer needs no directory: it stands during a backoff too.
  if (cache) {
    if (auto cached = cache->Get(ref.address, mark)) return *cached;
  }
  Status may = MayAsk();
  if (!may.ok()) {
    out->push_back(UnavailableFinding(may, "looking up " + ref.address));
    return nullptr;
  }
  auto found = context_->directory->Find(ref.address);
  NoteResult(found.status());
  if (!found.ok()) {
    out->push_back(UnavailableFinding(found.status(), "looking up " + ref.address));
    return nullptr;
  }
  CachedAccount account;
  if (*found) account = std::make_shared<const Account>(std::move(**found));
  if (cache) cache->Put(ref.address, account, mark);
  return account;
}

std::optional<MailboxUsage> AccountCheck::UsageOf(const Account& account,
                                                  std::vector<PolicyFinding>* out) const {
  const LookupCache<MailboxUsage>* cache = context_->usage.get();
  const auto mark = cache && context_->directory ? context_->directory->UsageMark() : std::nullopt;
  if (cache) {
    if (auto cached = cache->Get(account.address, mark)) return *cached;
  }
  Status may = MayAsk();
  if (may.ok()) {
    auto usage = context_->directory->Usage(account.address);
    NoteResult(usage.status());
    if (usage.ok()) {
      MailboxUsage known = usage->value_or(MailboxUsage{});
      if (cache) cache->Put(account.address, known, mark);
      return known;
    }
    may = usage.status();
  }
  out->push_back(UnavailableFinding(may, "reading the usage of " + account.address));
  return std::nullopt;
}

bool AccountCheck::InMemory(const AccountRef& ref, bool with_usage) const {
  // Without a directory, or while backing off, the answer is a failure found at once.
  if (!context_->directory || !MayAsk().ok()) return true;
  const LookupCache<CachedAccount>* cache = context_->accounts.get();
  if (!cache) return false;
  auto account = cache->Get(ref.address, context_->directory->AccountsMark());
  if (!account) return false;
  if (!with_usage || *account == nullptr) return true;
  const LookupCache<MailboxUsage>* usage = context_->usage.get();
  return usage && usage->Has((*account)->address, context_->directory->UsageMark(), kProbeMarginMs);
}

PolicyFinding AccountCheck::Outcome(Action natural, Audience audience, int reply_code,
                                    std::string enhanced_code, std::string reason,
                                    nlohmann::json evidence) const {
  PolicyFinding f;
  f.rule_id = rule_id();
  f.check = check();
  f.action = natural < action() ? natural : action();
  if (f.action != natural) evidence["capped_from"] = ActionName(natural);
  f.reply_code = reply_code;
  f.enhanced_code = std::move(enhanced_code);
  f.reason = reply().empty() ? std::move(reason) : reply();
  if (f.action == Action::kReject || f.action == Action::kTempfail) {
    if (!context_->options.contact.empty()) {
      f.reason += "; contact " + context_->options.contact;
    } else if (audience == Audience::kOwner) {
      f.reason += "; contact your mail administrators";
    }
  }
  f.evidence = std::move(evidence);
  return f;
}

PolicyFinding AccountCheck::UnavailableFinding(const Status& status, std::string_view what) const {
  PolicyFinding f =
      FailureModeFinding(context_->options.on_unavailable,
                         {"account directory unavailable",
                          "account directory unavailable; accepted as accounts.on_unavailable says",
                          "account directory temporarily unavailable, try again later"});
  f.rule_id = rule_id();
  f.check = check();
  f.evidence = {{"error", status.ToString()},
                {"while", std::string(what)},
                {"on_unavailable", ActionName(f.action)},
                {"fail_open", f.action == Action::kAccept}};
  ReportFailure("rule " + rule_id() + ": account directory failed " + std::string(what) + ": " +
                status.ToString() + " -> " + std::string(ActionName(f.action)));
  return f;
}

nlohmann::json AccountCheck::AccountEvidence(const Account& account, const AccountRef& ref,
                                             const EffectiveState& state) {
  nlohmann::json e;
  e["address"] = account.address;
  if (ref.address != account.address) e["matched"] = ref.address;  // an alias
  e["via"] = ref.via;
  e["kind"] = AccountKindName(account.kind);
  e["role"] = AccountRoleName(account.role);
  e["stored_state"] = AccountStateName(account.state);
  e["effective_state"] = AccountStateName(state.state);
  if (state.state != AccountState::kActive) {
    e["cause"] = StateCauseName(state.cause);
    e["reason"] = state.reason;
  }
  if (!account.state_reason.empty()) e["stored_reason"] = account.state_reason;
  if (account.last_login_at) e["last_login_at"] = FormatUtcTime(*account.last_login_at);
  e["active_since"] = FormatUtcTime(state.active_since);
  if (state.inactive_at) e["inactive_at"] = FormatUtcTime(*state.inactive_at);
  if (account.terminate_at) e["terminate_at"] = FormatUtcTime(*account.terminate_at);
  return e;
}

}  // namespace mailwarden

#include "policyd/reload.h"

#include <utility>

#include "common/log.h"
#include "common/socket_spec.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/dovecot_directory.h"
#include "policyd/store/rate_counters.h"

namespace mailwarden {
namespace {

// The account directory `config` asks for: the running one when its settings did not
// change, else a newly opened one.
Result<std::shared_ptr<const AccountDirectory>> AccountsFor(const Config& config,
                                                            const PolicyRules* running) {
  const std::string& spec = config.value("accounts.database").text;
  int64_t timeout_ms = config.value("accounts.timeout_ms").number;
  if (running && running->accounts() &&
      running->config().value("accounts.database").text == spec &&
      running->config().value("accounts.timeout_ms").number == timeout_ms &&
      !DovecotDictSettingsDiffer(running->config(), config)) {
    return running->accounts();
  }
  AccountDirectoryOptions options;
  options.timeout_ms = timeout_ms;
  auto opened = OpenAccountDirectory(spec, options);
  if (!opened.ok()) {
    const Status& s = opened.status();
    bool named = s.message().starts_with("accounts.database");
    std::string message =
        config.path + ": " + (named ? "" : "accounts.database: ") + s.message();
    return s.code() == Status::Code::kInvalidArgument ? Status::InvalidArgument(message)
                                                      : Status::Unavailable(message);
  }
  auto attached = AttachDovecotDicts(std::move(opened).value(), config, timeout_ms);
  if (!attached.ok()) {
    const Status& s = attached.status();
    std::string message = config.path + ": " + s.message();
    return s.code() == Status::Code::kInvalidArgument ? Status::InvalidArgument(message)
                                                      : Status::Unavailable(message);
  }
  LogInfo("account directory " + AccountDirectorySpecForLog(spec) + " open");
  return std::shared_ptr<const AccountDirectory>(std::move(attached).value());
}

// What --check-config can say about accounts.database without opening it.
Status CheckAccountsSpec(const Config& config) {
  const std::string& spec = config.value("accounts.database").text;
  if (spec.starts_with("sqlite:") && spec.size() > 7) return Status::Ok();
  // A PostgreSQL URI is checked by libpq when the daemon connects; here only its form.
  for (std::string_view prefix : {"postgresql://", "postgres://"}) {
    if (spec.starts_with(prefix)) return Status::Ok();
  }
  return Status::InvalidArgument(
      config.path + ": accounts.database '" + spec +
      "': unsupported; expected sqlite:/path/to/accounts.db or postgresql://user@host/db");
}

// The rate counters `config` asks for: the running ones when rate_limits.* did not change
// (so a reload keeps every window), else the store opened anew.
Result<std::shared_ptr<RateCounterStore>> RateCountersFor(const Config& config,
                                                          const PolicyRules* running) {
  const std::string& spec = config.value("rate_limits.database").text;
  RateCounterOptions options;
  options.timeout_ms = config.value("rate_limits.timeout_ms").number;
  if (running && running->rate_counters() &&
      running->config().value("rate_limits.database").text == spec &&
      running->config().value("rate_limits.timeout_ms").number == options.timeout_ms) {
    return running->rate_counters();
  }
  auto opened = OpenRateCounterStore(spec, options);
  if (!opened.ok()) {
    std::string message = config.path + ": rate_limits.database: " + opened.status().message();
    if (opened.status().code() == Status::Code::kInvalidArgument) {
      return Status::InvalidArgument(message);
    }
    return Status::Unavailable(message);
  }
  LogInfo("rate limit store " + RateCounterSpecForLog(spec) + " open");
  return std::shared_ptr<RateCounterStore>(std::move(opened).value());
}

}  // namespace

Result<std::shared_ptr<const PolicyRules>> LoadPolicyRules(const ConfigSource& source,
                                                           const PolicyRules* running) {
  auto loaded = LoadConfig(source.path);
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<const Config> config = *loaded;
  if (!source.listen.empty()) {
    auto spec = ParseSocketSpec(source.listen);
    if (!spec.ok()) return Status::InvalidArgument("--listen: " + spec.status().message());
    auto copy = std::make_shared<Config>(*config);
    copy->policyd.listen = source.listen;
    config = std::move(copy);
  }
  PolicyServices services;
  if (PolicyRules::NeedsAccountDirectory(*config)) {
    if (source.open_stores) {
      auto accounts = AccountsFor(*config, running);
      if (!accounts.ok()) return accounts.status();
      services.accounts = std::move(accounts).value();
    } else if (Status s = CheckAccountsSpec(*config); !s.ok()) {
      return s;
    }
  }
  if (PolicyRules::NeedsRateCounters(*config)) {
    if (source.open_stores) {
      auto counters = RateCountersFor(*config, running);
      if (!counters.ok()) return counters.status();
      services.rate_counters = std::move(counters).value();
    } else if (Status s = CheckRateCounterSpec(config->value("rate_limits.database").text);
               !s.ok()) {
      return Status::InvalidArgument(config->path + ": " + s.message());
    }
  }
  return PolicyRules::Build(std::move(config), std::move(services));
}

Status ReloadPolicyd(const ConfigSource& source, SnapshotHolder<const PolicyRules>* rules,
                     SnapshotHolder<DecisionLog>* log) {
  auto loaded = LoadPolicyRules(source, rules->Get().get());
  if (!loaded.ok()) {
    LogError("reload failed, the running configuration stays in force:\n" +
             loaded.status().message());
    return loaded.status();
  }
  const PolicydOptions& next = (*loaded)->config().policyd;
  std::shared_ptr<const PolicyRules> old_rules = rules->Get();
  const PolicydOptions& old = old_rules->config().policyd;
  if (next.listen != old.listen || next.socket_owner != old.socket_owner ||
      next.socket_mode != old.socket_mode || next.user != old.user) {
    LogWarn(
        "policyd.listen, socket_owner, socket_mode or user changed; the new values take "
        "effect after a restart");
  }
  if (Status s = ReplaceLogIfChanged((*loaded)->config().log, log); !s.ok()) {
    LogError("reload failed, the running configuration stays in force: " + s.message());
    return s;
  }
  rules->Replace(*loaded);
  LogInfo("configuration reloaded from " + source.path + " (" + std::to_string((*loaded)->size()) +
          " policyd rules)");
  return Status::Ok();
}

Reloader::Reloader(ConfigSource source, SnapshotHolder<const PolicyRules>* rules,
                   SnapshotHolder<DecisionLog>* log)
    : task_([source = std::move(source), rules, log] {
        ReloadPolicyd(source, rules, log);  // logs its own outcome
      }) {}

}  // namespace mailwarden

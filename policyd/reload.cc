#include "policyd/reload.h"

#include <utility>

#include "common/log.h"
#include "common/socket_spec.h"

namespace mailwarden {

Result<std::shared_ptr<const PolicyRules>> LoadPolicyRules(const ConfigSource& source) {
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
  return PolicyRules::Build(std::move(config));
}

Status ReloadPolicyd(const ConfigSource& source, SnapshotHolder<const PolicyRules>* rules,
                     SnapshotHolder<DecisionLog>* log) {
  auto loaded = LoadPolicyRules(source);
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

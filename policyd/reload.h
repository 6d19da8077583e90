// Loading the policy daemon's configuration, at start-up and on SIGHUP.
//
// A load reads the config file and its rule files, applies the command line's overrides
// and builds the policyd rules; any error refuses the whole load. A reload that fails
// leaves the rules and the decision log in force untouched and logs every error as
// "file:line:column: reason"; one that succeeds swaps the snapshots, so requests being
// answered finish under the rules they started with.
//
// Reloader runs reloads in a thread of its own, so that parsing YAML never holds up the
// event loop; Request() may be called from any thread and returns at once.
#ifndef MAILWARDEN_POLICYD_RELOAD_H_
#define MAILWARDEN_POLICYD_RELOAD_H_

#include <memory>
#include <string>

#include "common/background_task.h"
#include "common/config.h"
#include "common/decision_log.h"
#include "common/snapshot.h"
#include "common/status.h"
#include "policyd/policy_rules.h"

namespace mailwarden {

// Where the configuration comes from.
struct ConfigSource {
  std::string path;    // the main file
  std::string listen;  // --listen: replaces policyd.listen when not empty
  // Open the stores the rules need (the account directory). False for --check-config,
  // which must not create a database file (as root, in the daemon's directory): the
  // rules are then built without, and accounts.database is only checked for its form.
  bool open_stores = true;
};

// Loads and validates everything the policy daemon runs with. kInvalidArgument with one
// "file:line:column: reason" line per problem.
//
// The account directory is opened (accounts.database, created empty when the file does
// not exist) only when a policyd rule needs it (account_state, mailbox_quota,
// password_age). `running`, the rules in force on a reload, lends its directory when
// accounts.database and accounts.timeout_ms are unchanged, so a reload neither reopens
// nor re-migrates it. A directory that cannot be opened fails the load
// (kUnavailable/kInvalidArgument naming accounts.database): the daemon does not start,
// and a reload keeps the rules in force. The rate counters (rate_limits.database) are
// opened, lent and refused the same way, when a rate_limit rule needs them.
Result<std::shared_ptr<const PolicyRules>> LoadPolicyRules(const ConfigSource& source,
                                                           const PolicyRules* running = nullptr);

// Loads `source` again and, when it is valid, installs the new rules and (if the log
// settings changed) a new decision log. On failure nothing changes and the Status says
// why. Settings that only a restart applies (listen, socket owner and mode, user) are
// reported with a warning.
Status ReloadPolicyd(const ConfigSource& source, SnapshotHolder<const PolicyRules>* rules,
                     SnapshotHolder<DecisionLog>* log);

// Runs ReloadPolicyd() in a thread of its own (see BackgroundTask).
class Reloader {
 public:
  Reloader(ConfigSource source, SnapshotHolder<const PolicyRules>* rules,
           SnapshotHolder<DecisionLog>* log);
  // Asks for a reload; several requests while one runs make one more reload.
  void Request() { task_.Request(); }
  // Reloads finished so far (successful or not); for tests.
  uint64_t completed() const { return task_.completed(); }

 private:
  BackgroundTask task_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_RELOAD_H_

// mailwarden-policyd: command line, start-up and shutdown.
//
//   mailwarden-policyd [--config FILE] [--listen SPEC] [--debug]   run (foreground) until SIGTERM
//   mailwarden-policyd [--config FILE] [--listen SPEC] --check-config
//                                                 validate and exit (0 ok, 1 errors)
//   mailwarden-policyd --print-defaults           every parameter with its default
//   mailwarden-policyd [--config FILE] accounts ... | report inactive ...
//                                                 the account directory (accounts_cli.h)
//
// Start-up order: load and validate everything, open the decision log and the listening
// socket (as root if need be), drop privileges, then serve. Nothing listens when the
// configuration has an error, and a socket another process listens on is never taken over.
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "common/command_line.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/decision_log.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/socket_spec.h"
#include "policyd/accounts_cli.h"
#include "policyd/policy_rules.h"
#include "policyd/reload.h"
#include "policyd/server.h"

namespace mailwarden {
namespace {

constexpr const char* kDefaultConfig = "/etc/mailwarden/mailwarden.yaml";
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string config = kDefaultConfig;
  std::string listen;  // overrides policyd.listen
  bool check_config = false;
  bool print_defaults = false;
  bool debug = false;
};

void Usage(std::ostream& out) {
  out << "usage: mailwarden-policyd [--config FILE] [--listen SPEC] [--debug]\n"
         "       mailwarden-policyd [--config FILE] [--listen SPEC] --check-config\n"
         "       mailwarden-policyd --print-defaults\n"
         "       mailwarden-policyd [--config FILE] accounts|report ... (accounts --help)\n"
         "  --listen SPEC   inet:HOST:PORT or unix:/path, instead of policyd.listen\n"
         "  --debug         also log DUNNO answers no rule produced (one line per request)\n"
         "  default config: "
      << kDefaultConfig << "\n";
}

bool ParseArgs(int argc, char** argv, Options* o) {
  return ParseCommandLine("mailwarden-policyd", argc, argv,
                          {{{"--config", "-c"}, nullptr, &o->config},
                           {{"--listen", "-l"}, nullptr, &o->listen},
                           {{"--check-config", "-n"}, &o->check_config},
                           {{"--print-defaults"}, &o->print_defaults},
                           {{"--debug"}, &o->debug}},
                          Usage);
}

// Each connection costs one descriptor. The daemon does not raise the limit itself (the
// systemd unit forbids setrlimit); it says so when max_connections cannot be reached.
void CheckDescriptorLimit(int64_t max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return;
  constexpr int64_t kReserve = 32;  // listener, epoll, signalfd, eventfd, log, stdio, ...
  if (static_cast<int64_t>(lim.rlim_cur) < max_connections + kReserve) {
    LogWarn("open file limit is " + std::to_string(lim.rlim_cur) +
            ", too low for policyd.max_connections " + std::to_string(max_connections) +
            "; raise LimitNOFILE (systemd) or ulimit -n to at least " +
            std::to_string(max_connections + kReserve));
  }
}

int RunDaemon(const Options& o, std::shared_ptr<const PolicyRules> rules) {
  const Config& config = rules->config();
  SocketSpec spec = *ParseSocketSpec(config.policyd.listen);  // validated by the loader
  auto log = DecisionLog::Open(config.log);
  if (!log.ok()) {
    LogFatal(log.status().message());
    return kExitError;
  }
  auto listener = OpenListener(spec, SOMAXCONN);
  if (!listener.ok()) {
    LogFatal(listener.status().message());
    return kExitError;
  }
  UniqueFd listen_fd(*listener);
  struct stat socket_file {};
  if (spec.kind == SocketSpec::Kind::kUnix) {
    if (Status s = SetSocketOwnerAndMode(spec.path, config.policyd.socket_owner,
                                         config.policyd.socket_mode);
        !s.ok()) {
      LogFatal(s.message());
      unlink(spec.path.c_str());
      return kExitError;
    }
    stat(spec.path.c_str(), &socket_file);
  }
  if (Status s = DropPrivileges(config.policyd.user); !s.ok()) {
    LogFatal(s.message());
    return kExitError;
  }
  CheckDescriptorLimit(config.policyd.max_connections);
  // The stores are opened as the daemon's own user: SQLite creates the database and its
  // -wal and -shm files with the opener's owner, and a root-owned -shm would lock the
  // daemon out of its own directory after the switch.
  {
    auto with_stores = LoadPolicyRules({o.config, o.listen, /*open_stores=*/true});
    if (!with_stores.ok()) {
      LogFatal(with_stores.status().message());
      if (spec.kind == SocketSpec::Kind::kUnix) unlink(spec.path.c_str());
      return kExitError;
    }
    rules = *with_stores;
  }

  SnapshotHolder<const PolicyRules> rules_holder(rules);
  SnapshotHolder<DecisionLog> log_holder(std::shared_ptr<DecisionLog>(std::move(log).value()));
  rules.reset();
  Status result;
  {
    Reloader reloader({o.config, o.listen}, &rules_holder, &log_holder);
    PolicyServer::Hooks hooks;
    hooks.rules = &rules_holder;
    hooks.log = &log_holder;
    hooks.reload = [&reloader] { reloader.Request(); };
    PolicyServer::Options options;
    options.log_every_answer = o.debug;
    auto server = PolicyServer::Create(std::move(listen_fd), std::move(hooks), options);
    if (!server.ok()) {
      LogFatal(server.status().message());
      return kExitError;
    }
    LogInfo("ready on " + spec.ToString());
    result = (*server)->Run();
    const auto& c = (*server)->counters();
    uint64_t requests = c.requests.load(), connections = c.accepted.load();
    LogInfo("stopped after " + std::to_string(requests) +
            (requests == 1 ? " request" : " requests") + " on " + std::to_string(connections) +
            (connections == 1 ? " connection" : " connections"));
  }
  if (spec.kind == SocketSpec::Kind::kUnix) {
    // Remove the socket file only if it is still ours (not replaced by someone else).
    struct stat now {};
    if (stat(spec.path.c_str(), &now) == 0 && now.st_ino == socket_file.st_ino &&
        now.st_dev == socket_file.st_dev) {
      unlink(spec.path.c_str());
    }
  }
  if (!result.ok()) {
    LogFatal(result.message());
    return kExitError;
  }
  return 0;
}

}  // namespace
}  // namespace mailwarden

int main(int argc, char** argv) {
  using namespace mailwarden;
  SetProgramName("mailwarden-policyd");
  // The admin commands share the binary (one package, one config) but none of the daemon's
  // start-up: no signals blocked, no socket, no log.
  if (IsAdminCommand(argc, argv)) {
    return RunAdminCommand(argc, argv, kDefaultConfig, std::cout, std::cerr);
  }
  Options o;
  if (!ParseArgs(argc, argv, &o)) return kExitUsage;
  if (o.print_defaults) {
    PrintDefaults(std::cout);
    return 0;
  }
  // First, before any thread exists: the signals are then read through the server's
  // signalfd, never delivered asynchronously.
  BlockDaemonSignals();
  // The configuration is checked here, without opening a store: --check-config must not
  // create the account database as root, and the daemon opens its stores once it runs as
  // policyd.user (RunDaemon).
  auto rules = LoadPolicyRules({o.config, o.listen, /*open_stores=*/false});
  if (!rules.ok()) {
    std::cerr << rules.status().message() << "\n";
    if (o.check_config) {
      std::cerr << "mailwarden-policyd: configuration has errors\n";
    } else {
      LogFatal("configuration has errors; not starting");
    }
    return kExitError;
  }
  if (o.check_config) {
    std::cout << "mailwarden-policyd: " << o.config << ": ok (" << (*rules)->config().rules.size()
              << " rules, " << (*rules)->size() << " for policyd)\n";
    return 0;
  }
  return RunDaemon(o, *rules);
}

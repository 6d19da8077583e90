// mailwarden-milter: command line, start-up, signals and shutdown.
//
//   mailwarden-milter [--config FILE] [--socket SPEC]      run (foreground) until SIGTERM
//   mailwarden-milter [--config FILE] --check-config       validate and exit (0 ok, 1 errors)
//   mailwarden-milter --print-defaults                     every parameter with its default
//   mailwarden-milter [--config FILE] --test MSG.eml [--from A] [--rcpt B]... [--client-ip IP]
//                     [--auth USER] [--size N]             offline verdict; exit 0 accept,
//                                                          1 reject, 2 tempfail, 3 quarantine
//   mailwarden-milter [--config FILE] train [--db PATH] --spam PATH... --ham PATH...
//                     [--forget PATH]... [--spool DIR]     teach the spam classifier
//                     [--expire DAYS [--expire-keep N]]    (users' reports; expiry)
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/background_task.h"
#include "common/command_line.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/decision_log.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/socket_spec.h"
#include "milter/eml_reader.h"
#include "milter/engine.h"
#include "milter/milter_glue.h"
#include "milter/scan/virus_scanner.h"
#include "milter/spam/train.h"

namespace mailwarden {
namespace {

constexpr const char* kDefaultConfig = "/etc/mailwarden/mailwarden.yaml";
constexpr int kExitConfig = 1;

struct Options {
  std::string config = kDefaultConfig;
  std::string socket;  // overrides milter.socket
  bool check_config = false;
  bool print_defaults = false;
  std::string test_file;
  std::string from;
  std::vector<std::string> rcpts;
  std::string client_ip;
  std::string auth;
  std::string size;
};

void Usage(std::ostream& out) {
  out << "usage: mailwarden-milter [--config FILE] [--socket SPEC]\n"
         "       mailwarden-milter [--config FILE] --check-config\n"
         "       mailwarden-milter --print-defaults\n"
         "       mailwarden-milter [--config FILE] --test MSG.eml [--from ADDR] [--rcpt ADDR]...\n"
         "                         [--client-ip IP] [--auth USER] [--size BYTES]\n"
         "       mailwarden-milter [--config FILE] train [--db PATH] --spam PATH... --ham PATH...\n"
         "                         [--forget PATH]... [--spool DIR] [--expire DAYS]\n"
         "                         (train --help for the details)\n"
         "  --test exits 0 accept, 1 reject, 2 tempfail, 3 quarantine (4: could not run)\n"
         "  default config: "
      << kDefaultConfig << "\n";
}

bool ParseArgs(int argc, char** argv, Options* o) {
  return ParseCommandLine("mailwarden-milter", argc, argv,
                          {{{"--config", "-c"}, nullptr, &o->config},
                           {{"--socket", "-p"}, nullptr, &o->socket},
                           {{"--check-config", "-n"}, &o->check_config},
                           {{"--print-defaults"}, &o->print_defaults},
                           {{"--test"}, nullptr, &o->test_file},
                           {{"--from"}, nullptr, &o->from},
                           {{"--rcpt"}, nullptr, nullptr, &o->rcpts},
                           {{"--client-ip"}, nullptr, &o->client_ip},
                           {{"--auth"}, nullptr, &o->auth},
                           {{"--size"}, nullptr, &o->size}},
                          Usage);
}

// Loads the config and applies command-line overrides; prints errors.
Result<std::shared_ptr<const Config>> LoadWithOverrides(const Options& o) {
  auto loaded = LoadConfig(o.config);
  if (!loaded.ok()) return loaded.status();
  if (o.socket.empty()) return loaded;
  auto spec = ParseSocketSpec(o.socket);
  if (!spec.ok()) return Status::InvalidArgument("--socket: " + spec.status().message());
  auto copy = std::make_shared<Config>(**loaded);
  copy->milter.socket = o.socket;
  return std::shared_ptr<const Config>(std::move(copy));
}

int RunTest(const Options& o, std::shared_ptr<const Config> config) {
  auto engine = Engine::Build(config);
  if (!engine.ok()) {
    std::cerr << engine.status().message() << "\n";
    return 4;
  }
  Envelope env;
  env.client_addr = o.client_ip.empty() ? "127.0.0.1" : o.client_ip;
  env.client_name = "localhost";
  env.helo = "localhost";
  env.mail_from = o.from;
  env.auth_user = o.auth;
  env.recipients = o.rcpts;
  env.queue_id = "TEST";
  if (!o.size.empty()) env.announced_size = std::strtoull(o.size.c_str(), nullptr, 10);
  const Engine& e = **engine;
  std::unique_ptr<Message> owned = e.NewMessage(env);
  Message& message = *owned;
  Verdict v = e.AtMailFrom(message.envelope());
  Stage stage = Stage::kMailFrom;
  if (v.action != Action::kReject && v.action != Action::kTempfail) {
    if (Status s = ReadMessageFile(o.test_file, &message); !s.ok()) {
      std::cerr << "mailwarden-milter: " << s.message() << "\n";
      return 4;
    }
    v = e.AtEndOfMessage(message);
    stage = Stage::kEndOfMessage;
  }
  std::ostringstream out;
  out << "verdict: " << ActionName(v.action);
  if (!v.ReplyLine().empty()) out << " " << v.ReplyLine();
  if (v.action == Action::kQuarantine) out << " (" << v.text << ")";
  out << "\n";
  for (const HeaderField& h : v.add_headers)
    out << "add header: " << h.name << ": " << h.value << "\n";
  for (const HeaderField& h : v.change_headers)
    out << "change header: " << h.name << ":" << h.value << "\n";
  // Names in the record are the sender's bytes: invalid UTF-8 is replaced, as in the log.
  out << e.DecisionRecord(message, v, stage)
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
  WriteToProtectedStdout(out.str());
  switch (v.action) {
    case Action::kAccept:
    case Action::kTag:
      return 0;
    case Action::kReject:
      return 1;
    case Action::kTempfail:
      return 2;
    case Action::kQuarantine:
      return 3;
  }
  return 4;
}

// Loads the configuration again and installs it; a config with errors changes nothing.
// Runs in a BackgroundTask, so the signal loop returns to sigwait() at once.
void Reload(const Options& options, SnapshotHolder<const Engine>* engine_holder,
            SnapshotHolder<DecisionLog>* log_holder) {
  auto config = LoadWithOverrides(options);
  if (!config.ok()) {
    LogError("reload failed, the running configuration stays in force:\n" +
             config.status().message());
    return;
  }
  auto engine = Engine::Build(*config);
  if (!engine.ok()) {
    LogError("reload failed, the running configuration stays in force: " +
             engine.status().message());
    return;
  }
  if ((*config)->milter.socket != engine_holder->Get()->config().milter.socket) {
    LogWarn("milter.socket changed; the new socket takes effect after a restart");
  }
  if ((*config)->milter.egress_socket != engine_holder->Get()->config().milter.egress_socket) {
    LogWarn("milter.egress_socket changed; the change takes effect after a restart");
  }
  if (Status s = ReplaceLogIfChanged((*config)->log, log_holder); !s.ok()) {
    LogError("reload failed, the running configuration stays in force: " + s.message());
    return;
  }
  engine_holder->Replace(*engine);
  // New signatures too, if the directory has any (the old set stays if they fail to load).
  ReloadVirusScanners();
  LogInfo("configuration reloaded from " + options.config + " (" +
          std::to_string((*config)->RulesFor(CheckHost::kMilter).size()) + " milter rules)");
}

int RunDaemon(const Options& o, std::shared_ptr<const Config> config) {
  auto engine = Engine::Build(config);
  if (!engine.ok()) {
    LogFatal(engine.status().message());
    return kExitConfig;
  }
  auto log = DecisionLog::Open(config->log);
  if (!log.ok()) {
    LogFatal(log.status().message());
    return kExitConfig;
  }
  SnapshotHolder<const Engine> engine_holder(*engine);
  SnapshotHolder<DecisionLog> log_holder(std::shared_ptr<DecisionLog>(std::move(log).value()));

  SocketSpec spec = *ParseSocketSpec(config->milter.socket);
  MilterServices services{[&] { return engine_holder.Get(); }, [&] { return log_holder.Get(); }};
  MilterListenOptions listen;
  listen.timeout_seconds = static_cast<int>(config->milter.connection_timeout);
  listen.max_connections = static_cast<int>(config->milter.max_connections);
  std::optional<SocketSpec> egress;
  if (!config->milter.egress_socket.empty())
    egress = *ParseSocketSpec(config->milter.egress_socket);
  if (Status s = MilterOpen(spec, egress ? &*egress : nullptr, listen, services); !s.ok()) {
    LogFatal(s.message());
    return 1;
  }
  for (const SocketSpec* open : {&spec, egress ? &*egress : nullptr}) {
    if (open == nullptr || open->kind != SocketSpec::Kind::kUnix) continue;
    if (Status s = SetSocketOwnerAndMode(open->path, config->milter.socket_owner,
                                         config->milter.socket_mode);
        !s.ok()) {
      LogFatal(s.message());
      return 1;
    }
  }
  if (Status s = DropPrivileges(config->milter.user); !s.ok()) {
    LogFatal(s.message());
    return 1;
  }

  std::atomic<bool> stopping{false};
  std::thread runner([&] {
    Status s = MilterRun();
    // Wake the signal loop if the server stopped on its own.
    if (!stopping.load()) {
      LogError(s.message());
      kill(getpid(), SIGTERM);
    }
  });
  LogInfo("ready on " + spec.ToString() +
          (egress ? ", egress listener on " + egress->ToString() : std::string()));

  {
    BackgroundTask reloader([&] { Reload(o, &engine_holder, &log_holder); });
    RunSignalLoop([&](DaemonSignal sig) {
      switch (sig) {
        case DaemonSignal::kReload:
          reloader.Request();
          return true;
        case DaemonSignal::kReopenLogs:
          if (Status s = log_holder.Get()->Reopen(); !s.ok())
            LogError(s.message());
          else
            LogInfo("decision log reopened");
          return true;
        case DaemonSignal::kStop:
          return false;
      }
      return true;
    });
  }
  stopping.store(true);
  LogInfo("stopping: new messages are tempfailed; waiting for messages in flight");
  MilterDrain();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::seconds(engine_holder.Get()->config().milter.shutdown_timeout);
  while (MilterMessagesInFlight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int left = MilterMessagesInFlight();
  if (left > 0)
    LogWarn(std::to_string(left) +
            " messages still in flight at shutdown; the MTA applies its milter_default_action");
  LogInfo("stopped");
  // Worker threads may still hold idle connections; leave without running static
  // destructors under them.
  std::cerr.flush();
  _exit(0);
}

// `train`: the classifier's store is the --db given, else the bayes_db of the config's spam
// rule; messages are read with that config's content limits, as the milter reads them.
int RunTrainCommand(std::string config_path, std::span<char* const> args) {
  auto parsed = spam::ParseTrainArgs(args);
  if (!parsed.ok()) {
    std::cerr << "mailwarden-milter train: " << parsed.status().message() << "\n";
    spam::TrainUsage(std::cerr);
    return 2;
  }
  spam::TrainOptions options = std::move(*parsed);
  if (options.help) {
    spam::TrainUsage(std::cout);
    return 0;
  }
  if (!options.config_path.empty()) config_path = options.config_path;
  // Without --db the config names the store; with it, a config that is not there is no
  // error (the defaults read messages the same way).
  const bool config_given = !config_path.empty();
  if (config_path.empty()) config_path = kDefaultConfig;
  auto config = LoadConfig(config_path);
  if (config.ok()) {
    for (const RuleSpec* rule : (*config)->RulesFor(CheckHost::kMilter)) {
      if (rule->check != "spam") continue;
      if (options.db_path.empty()) {
        std::string db = rule->param("bayes_db").text;
        if (!db.empty() && db.front() != '/')
          db = (std::filesystem::path(rule->where.file).parent_path() / db).string();
        options.db_path = db;
      }
      options.view.max_text_bytes = static_cast<size_t>(rule->param("max_text").number);
      options.view.max_raw_bytes = static_cast<size_t>(rule->param("max_raw").number);
      break;
    }
    // The milter's content limits, without building the engine (no signatures to load).
    ContentLimits limits = ContentLimitsOf(**config);
    limits.keep_text_bodies = true;
    limits.keep_raw_bytes = std::max(limits.keep_raw_bytes, options.view.max_raw_bytes);
    options.new_message = [limits] { return std::make_unique<Message>(Envelope{}, limits); };
  } else if (config_given || options.db_path.empty()) {
    std::cerr << config.status().message() << "\n";
    if (options.db_path.empty())
      std::cerr << "mailwarden-milter train: no store: give --db, or a config with a spam rule\n";
    return 2;
  }
  if (options.db_path.empty()) {
    std::cerr << "mailwarden-milter train: " << config_path
              << " has no spam rule naming a bayes_db; give --db\n";
    return 2;
  }
  return spam::RunTrain(options, std::cout, std::cerr);
}

}  // namespace
}  // namespace mailwarden

int main(int argc, char** argv) {
  using namespace mailwarden;
  SetProgramName("mailwarden-milter");
  TuneAllocatorForContent();
  // `train` is a command of its own, after an optional --config.
  for (int i = 1; i < argc && i <= 3; ++i) {
    if (std::strcmp(argv[i], "train") != 0) continue;
    std::string config;
    if (i == 3 && (std::strcmp(argv[1], "--config") == 0 || std::strcmp(argv[1], "-c") == 0))
      config = argv[2];
    else if (i != 1)
      break;
    return RunTrainCommand(config, std::span<char* const>(argv + i + 1, argc - i - 1));
  }
  Options o;
  if (!ParseArgs(argc, argv, &o)) return 2;
  if (o.print_defaults) {
    PrintDefaults(std::cout);
    return 0;
  }
  BlockDaemonSignals();
  // From here on, only decision lines and --test output reach the real stdout.
  if (!o.check_config) ProtectStdout();
  auto config = LoadWithOverrides(o);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    if (o.check_config)
      std::cerr << "mailwarden-milter: configuration has errors\n";
    else
      LogFatal("configuration has errors; not starting");
    return o.test_file.empty() ? kExitConfig : 4;
  }
  if (o.check_config) {
    auto engine = Engine::Build(*config);
    if (!engine.ok()) {
      std::cerr << engine.status().message() << "\n";
      return kExitConfig;
    }
    std::cout << "mailwarden-milter: " << o.config << ": ok (" << (*config)->rules.size()
              << " rules)\n";
    return 0;
  }
  if (!o.test_file.empty()) return RunTest(o, *config);
  return RunDaemon(o, *config);
}

// mw-milter-bench: milter-protocol load generator playing the MTA.
//
// Speaks milter protocol version 6 the way Postfix does (see
// milter_client.h) from --concurrency threads, each with its own connection,
// and reports throughput, per-message latency, the verdicts the milter gave
// and any errors. Latency of a message runs from the TCP connect (or, on a
// reused connection, from MAIL) to the final reply to end-of-message (or the
// earlier reply that decided the message).
//
// TCP_NODELAY and Postfix. Postfix's milter client (src/milter/milter8.c,
// milter8_connect) opens the socket with inet_connect()/unix_connect(), which
// set no socket options, and then calls vstream_tweak_tcp() on inet sockets.
// That function (src/util/vstream_tweak.c) asks the kernel for TCP_MAXSEG
// and, in current Postfix, only enlarges the VSTREAM buffer to 4 x MSS; it
// sets TCP_NODELAY only in old versions that cannot resize the buffer, and
// then only when the MSS exceeds the buffer size. So Postfix leaves Nagle on
// for milter connections and relies on writing a whole command batch with
// one write() before it waits. This tool does the same by default (its
// writes are batched identically); --tcp-nodelay turns Nagle off on the
// client side for comparison. The well-known 40 ms stall with milters is on
// the other side: libmilter writes each reply at end-of-message (e.g. an
// SMFIR_ADDHEADER, then SMFIR_ACCEPT) with its own write(), Nagle holds the
// second until the first is ACKed, and the MTA, which sends nothing while it
// waits, delays that ACK (40 ms minimum on Linux). Only the milter can avoid
// it (TCP_NODELAY on its socket; see SetNodelayOnListeners in common/daemon.h).
//
// Exit status: 0 all messages completed without error; 1 any error
// (connect, timeout, I/O, protocol) occurred, or nothing completed;
// 2 usage error.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_net.h"
#include "bench_util.h"
#include "eml.h"
#include "load_run.h"
#include "milter_client.h"

namespace mailwarden::bench {
namespace {

constexpr char kUsage[] =
    "usage: mw-milter-bench [options] [FILE.eml|DIR ...]\n"
    "  --socket SPEC        inet:HOST:PORT | inet:PORT@HOST | unix:/path\n"
    "                       (default inet:127.0.0.1:8891)\n"
    "  --concurrency N      threads, one connection each (default 1)\n"
    "  --messages N         messages to send (default 1000)\n"
    "  --duration SECONDS   run for a time instead of a message count\n"
    "  --per-connection N   messages per connection (default 1, as Postfix)\n"
    "  --warmup N           unmeasured messages before the run (default 0)\n"
    "  --from ADDR          envelope sender (default sender@bench.example)\n"
    "  --rcpt ADDR          envelope recipient, repeatable\n"
    "                       (default rcpt@bench.example)\n"
    "  --auth USER          report an authenticated client (SASL macros)\n"
    "  --size-param         send SIZE=<bytes> with MAIL (default)\n"
    "  --no-size-param      omit SIZE=\n"
    "  --message-size BYTES size of the built-in message when no files are\n"
    "                       given (default 4096)\n"
    "  --tcp-nodelay        set TCP_NODELAY on the client socket\n"
    "  --no-tcp-nodelay     leave Nagle on (default, as Postfix does)\n"
    "  --timeout SECONDS    connect and per-read timeout (default 10)\n"
    "  --max-errors N       stop the run after N errors (default 1000)\n"
    "  --allow-remote       permit a non-loopback milter address\n"
    "  --json               print the results as one JSON object\n"
    "  --verbose            print the negotiated options and error samples\n";

constexpr char kTool[] = "mw-milter-bench";

struct Config : LoadOptions {
  Config() { socket_text = "inet:127.0.0.1:8891"; }
  uint64_t messages = 1000;
  uint64_t per_connection = 1;
  std::string from = "sender@bench.example";
  std::vector<std::string> rcpts;
  std::string auth_user;
  bool size_param = true;
  uint64_t message_size = 4096;
  bool tcp_nodelay = false;
  bool verbose = false;
  std::vector<std::string> paths;
};

struct Stats : LoadStats {
  uint64_t header_mods = 0;
  uint64_t other_mods = 0;
  uint64_t quarantined = 0;
  uint64_t rcpt_rejects = 0;
  uint64_t progress = 0;
  LatencyHistogram setup;
  std::map<std::string, uint64_t> verdicts;
  std::map<std::string, uint64_t> replycodes;
  std::map<std::string, uint64_t> stages;
  bool negotiated = false;
  uint32_t version = 0, actions = 0, protocol = 0;

  void Merge(const Stats& o) {
    LoadStats::Merge(o);
    header_mods += o.header_mods;
    other_mods += o.other_mods;
    quarantined += o.quarantined;
    rcpt_rejects += o.rcpt_rejects;
    progress += o.progress;
    setup.Merge(o.setup);
    for (const auto& [k, v] : o.verdicts) verdicts[k] += v;
    for (const auto& [k, v] : o.replycodes) replycodes[k] += v;
    for (const auto& [k, v] : o.stages) stages[k] += v;
    if (!negotiated && o.negotiated) {
      negotiated = true;
      version = o.version;
      actions = o.actions;
      protocol = o.protocol;
    }
  }
};

void RecordError(const Outcome& o, Phase* phase, Stats* stats) {
  stats->RecordError(
      ErrorKindName(o.error),
      std::string(ErrorKindName(o.error)) + " at " + StageName(o.stage) + ": " + o.error_text,
      phase);
}

void RecordVerdict(const Outcome& o, std::chrono::nanoseconds latency, Stats* stats) {
  ++stats->completed;
  stats->latency.Record(latency);
  ++stats->verdicts[VerdictName(o.verdict)];
  if (o.verdict == Verdict::kReplyCode) {
    ++stats->replycodes[o.reply.substr(0, 3)];
  }
  ++stats->stages[StageName(o.stage)];
  stats->header_mods += o.header_mods;
  stats->other_mods += o.other_mods;
  stats->rcpt_rejects += o.rcpt_rejects;
  stats->progress += o.progress;
  if (o.quarantined) ++stats->quarantined;
}

void RunWorker(int id, const Config& config, const std::vector<TestMessage>& messages, Phase* phase,
               Stats* stats) {
  SessionOptions options;
  options.spec = config.spec;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  options.tcp_nodelay = config.tcp_nodelay;
  options.allow_remote = config.allow_remote;
  MilterSession session(options);

  Envelope envelope;
  envelope.from = config.from;
  envelope.rcpts = config.rcpts;
  envelope.size_param = config.size_param;
  envelope.auth_user = config.auth_user;

  uint64_t connection_serial = 0;
  uint64_t message_serial = 0;
  uint64_t on_connection = 0;
  uint64_t index = 0;
  while (phase->Claim(&index)) {
    const TestMessage& message = messages[index % messages.size()];
    const Clock::time_point start = Clock::now();

    if (!session.is_open()) {
      ++connection_serial;
      SmtpClient client;
      client.name = "client-" + std::to_string(id) + ".bench.example";
      client.address = "192.0.2." + std::to_string(1 + (id * 7 + connection_serial) % 254);
      client.port = static_cast<uint16_t>(1024 + connection_serial % 60000);
      client.helo = client.name;
      Outcome opened = session.Open(client);
      ++stats->connections;
      if (!opened.ok()) {
        RecordError(opened, phase, stats);
        // Do not spin against a milter that is down.
        if (opened.error == ErrorKind::kConnect) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        continue;
      }
      if (!session.is_open()) {
        // Connection-level verdict at CONNECT/HELO decides this message.
        RecordVerdict(opened, Clock::now() - start, stats);
        continue;
      }
      stats->setup.Record(Clock::now() - start);
      if (!stats->negotiated) {
        stats->negotiated = true;
        stats->version = session.milter_version();
        stats->actions = session.milter_actions();
        stats->protocol = session.milter_protocol();
      }
      on_connection = 0;
    }

    char queue_id[24];
    std::snprintf(queue_id, sizeof(queue_id), "%02X%09llX", id & 0xFF,
                  static_cast<unsigned long long>(++message_serial));
    envelope.queue_id = queue_id;
    Outcome outcome = session.RunMessage(message, envelope);
    const Clock::time_point done = Clock::now();
    if (!outcome.ok()) {
      RecordError(outcome, phase, stats);
      continue;  // the session closed itself; the next message reconnects
    }
    RecordVerdict(outcome, done - start, stats);
    ++on_connection;
    if (!session.is_open()) continue;
    const bool more = on_connection < config.per_connection;
    if (outcome.stage != Stage::kEom || more) session.Abort();
    if (!more) session.Quit();
  }
  session.Quit();
}

// Runs one phase with config.concurrency threads; returns merged stats and
// the elapsed wall time.
Stats RunMilterPhase(const Config& config, const std::vector<TestMessage>& messages, uint64_t limit,
                     double duration_s, double* elapsed_s) {
  return RunPhase<Stats>(
      config.concurrency, limit, duration_s, config.max_errors,
      [&](int id, Phase* phase, Stats* stats) { RunWorker(id, config, messages, phase, stats); },
      elapsed_s);
}

void Report(const Config& config, const Stats& s, double elapsed_s, uint64_t warmup_done,
            double avg_bytes) {
  const double rate = elapsed_s > 0 ? s.completed / elapsed_s : 0.0;
  const std::map<std::string, uint64_t> errors = s.ErrorsByKind();
  if (config.json) {
    Json negotiated = nullptr;
    if (s.negotiated) {
      negotiated = Json::object();
      negotiated["version"] = s.version;
      negotiated["actions"] = HexString(s.actions);
      negotiated["protocol"] = HexString(s.protocol);
    }
    Json o = Json::object();
    o["tool"] = kTool;
    o["socket"] = config.spec.ToString();
    o["concurrency"] = config.concurrency;
    o["per_connection"] = config.per_connection;
    o["tcp_nodelay"] = config.tcp_nodelay;
    o["message_bytes_avg"] = Decimal3(avg_bytes);
    o["warmup"] = warmup_done;
    o["messages"] = s.completed;
    o["failed"] = s.failed;
    o["connections"] = s.connections;
    o["elapsed_s"] = Decimal3(elapsed_s);
    o["msgs_per_s"] = Decimal3(rate);
    o["latency_ms"] = LatencyJson(s.latency);
    o["setup_ms"] = LatencyJson(s.setup);
    o["verdicts"] = CountsJson(s.verdicts);
    o["replycodes"] = CountsJson(s.replycodes);
    o["stages"] = CountsJson(s.stages);
    o["header_mods"] = s.header_mods;
    o["other_mods"] = s.other_mods;
    o["quarantined"] = s.quarantined;
    o["rcpt_rejects"] = s.rcpt_rejects;
    o["errors"] = CountsJson(errors);
    o["negotiated"] = std::move(negotiated);
    PrintJson(o);
    return;
  }
  std::printf(
      "mw-milter-bench: %s concurrency=%d per-connection=%llu "
      "tcp_nodelay=%s message=%.0fB\n",
      config.spec.ToString().c_str(), config.concurrency,
      static_cast<unsigned long long>(config.per_connection), config.tcp_nodelay ? "on" : "off",
      avg_bytes);
  std::printf(
      "  messages     %llu completed, %llu failed, %llu connections"
      " (warmup %llu)\n",
      static_cast<unsigned long long>(s.completed), static_cast<unsigned long long>(s.failed),
      static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(warmup_done));
  std::printf("  elapsed      %.3f s\n", elapsed_s);
  std::printf("  throughput   %.1f msg/s\n", rate);
  std::printf("  latency ms   %s\n", FormatLatencyLine(s.latency).c_str());
  std::printf("  setup ms     p50 %s  p99 %s  (connect+negotiate+CONNECT+HELO)\n",
              FormatMs(s.setup.PercentileNs(50)).c_str(),
              FormatMs(s.setup.PercentileNs(99)).c_str());
  std::printf("  verdicts     %s\n", FormatCounts(s.verdicts).c_str());
  std::printf("  reply codes  %s\n", FormatCounts(s.replycodes).c_str());
  std::printf("  decided at   %s\n", FormatCounts(s.stages).c_str());
  std::printf(
      "  mods         headers=%llu other=%llu quarantined=%llu "
      "rcpt_rejects=%llu\n",
      static_cast<unsigned long long>(s.header_mods), static_cast<unsigned long long>(s.other_mods),
      static_cast<unsigned long long>(s.quarantined),
      static_cast<unsigned long long>(s.rcpt_rejects));
  std::printf("  errors       %s\n", FormatCounts(errors).c_str());
}

int Usage(const char* error) { return UsageError(kTool, kUsage, error); }

int Main(int argc, char** argv) {
  Config config;
  bool have_messages = false;
  std::string error;
  ArgReader args(argc, argv, /*inline_values=*/true);
  while (args.Next()) {
    const std::string& arg = args.arg();
    std::string v;
    if (OptionResult r = ParseLoadOption(args, &config, &error); r != OptionResult::kNotMine) {
      if (r == OptionResult::kBad) return Usage(error.c_str());
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--messages") {
      if (!args.Uint(1, 1000000000, &config.messages)) {
        return Usage("--messages needs 1..1000000000");
      }
      have_messages = true;
    } else if (arg == "--per-connection") {
      if (!args.Uint(1, 1000000000, &config.per_connection)) {
        return Usage("--per-connection needs a positive count");
      }
    } else if (arg == "--from") {
      if (!args.Value(&config.from)) return Usage("--from needs an address");
    } else if (arg == "--rcpt") {
      if (!args.Value(&v) || v.empty()) return Usage("--rcpt needs an address");
      config.rcpts.push_back(v);
    } else if (arg == "--auth") {
      if (!args.Value(&config.auth_user)) return Usage("--auth needs a user");
    } else if (arg == "--size-param") {
      config.size_param = true;
    } else if (arg == "--no-size-param") {
      config.size_param = false;
    } else if (arg == "--message-size") {
      if (!args.Uint(1, 64ull << 20, &config.message_size)) {
        return Usage("--message-size needs 1..67108864");
      }
    } else if (arg == "--tcp-nodelay") {
      config.tcp_nodelay = true;
    } else if (arg == "--no-tcp-nodelay") {
      config.tcp_nodelay = false;
    } else if (arg == "--verbose") {
      config.verbose = true;
    } else if (arg.starts_with("-") && arg != "-") {
      return Usage(("unknown option " + arg).c_str());
    } else {
      config.paths.push_back(arg);
    }
  }
  Result<SocketSpec> spec = ParseBenchSocket(config.socket_text);
  if (!spec.ok()) return Usage(spec.status().message().c_str());
  config.spec = std::move(spec).value();
  if (config.duration_s > 0 && have_messages) {
    return Usage("give --messages or --duration, not both");
  }
  if (config.rcpts.empty()) config.rcpts.push_back("rcpt@bench.example");

  std::vector<TestMessage> messages;
  if (config.paths.empty()) {
    messages.push_back(BuiltinMessage(config.message_size));
  } else if (!LoadMessages(config.paths, EmlLimits{}, &messages, &error)) {
    std::fprintf(stderr, "mw-milter-bench: %s\n", error.c_str());
    return 2;
  }
  double avg_bytes = 0;
  for (const TestMessage& m : messages) avg_bytes += m.size;
  avg_bytes /= messages.size();

  InstallStopSignals();

  bool failed = false;
  uint64_t warmup_done = 0;
  if (config.warmup > 0) {
    double warm_elapsed = 0;
    Stats warm = RunMilterPhase(config, messages, config.warmup, 0, &warm_elapsed);
    warmup_done = warm.completed;
    if (warm.TotalErrors() > 0) {
      failed = true;
      std::fprintf(stderr, "mw-milter-bench: warmup: %llu errors (%s)\n",
                   static_cast<unsigned long long>(warm.TotalErrors()),
                   FormatCounts(warm.errors).c_str());
      for (const std::string& e : warm.error_samples) {
        std::fprintf(stderr, "  %s\n", e.c_str());
      }
    }
  }

  double elapsed_s = 0;
  const uint64_t limit = config.duration_s > 0 ? UINT64_MAX : config.messages;
  Stats stats = RunMilterPhase(config, messages, limit, config.duration_s, &elapsed_s);
  if (config.verbose && stats.negotiated) {
    std::fprintf(stderr,
                 "mw-milter-bench: milter negotiated version %u actions %s "
                 "protocol %s\n",
                 stats.version, HexString(stats.actions).c_str(),
                 HexString(stats.protocol).c_str());
  }
  if (stats.TotalErrors() > 0) {
    failed = true;
    for (const std::string& e : stats.error_samples) {
      std::fprintf(stderr, "mw-milter-bench: %s\n", e.c_str());
    }
  }
  if (stats.completed == 0) failed = true;
  if (StopRequested()) std::fprintf(stderr, "mw-milter-bench: interrupted\n");
  Report(config, stats, elapsed_s, warmup_done, avg_bytes);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace mailwarden::bench

int main(int argc, char** argv) { return mailwarden::bench::Main(argc, argv); }

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

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_net.h"
#include "bench_util.h"
#include "eml.h"
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

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true); }

struct Config {
  SocketSpec spec;
  int concurrency = 1;
  uint64_t messages = 1000;
  double duration_s = 0;  // > 0: duration mode
  uint64_t per_connection = 1;
  uint64_t warmup = 0;
  std::string from = "sender@bench.example";
  std::vector<std::string> rcpts;
  std::string auth_user;
  bool size_param = true;
  uint64_t message_size = 4096;
  bool tcp_nodelay = false;
  double timeout_s = 10;
  uint64_t max_errors = 1000;
  bool allow_remote = false;
  bool json = false;
  bool verbose = false;
  std::vector<std::string> paths;
};

struct Stats {
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t connections = 0;
  uint64_t header_mods = 0;
  uint64_t other_mods = 0;
  uint64_t quarantined = 0;
  uint64_t rcpt_rejects = 0;
  uint64_t progress = 0;
  LatencyHistogram latency;
  LatencyHistogram setup;
  std::map<std::string, uint64_t> verdicts;
  std::map<std::string, uint64_t> replycodes;
  std::map<std::string, uint64_t> stages;
  std::map<std::string, uint64_t> errors;
  std::vector<std::string> error_samples;
  bool negotiated = false;
  uint32_t version = 0, actions = 0, protocol = 0;

  void Merge(const Stats& o) {
    completed += o.completed;
    failed += o.failed;
    connections += o.connections;
    header_mods += o.header_mods;
    other_mods += o.other_mods;
    quarantined += o.quarantined;
    rcpt_rejects += o.rcpt_rejects;
    progress += o.progress;
    latency.Merge(o.latency);
    setup.Merge(o.setup);
    for (const auto& [k, v] : o.verdicts) verdicts[k] += v;
    for (const auto& [k, v] : o.replycodes) replycodes[k] += v;
    for (const auto& [k, v] : o.stages) stages[k] += v;
    for (const auto& [k, v] : o.errors) errors[k] += v;
    for (const auto& s : o.error_samples) {
      if (error_samples.size() < 10) error_samples.push_back(s);
    }
    if (!negotiated && o.negotiated) {
      negotiated = true;
      version = o.version;
      actions = o.actions;
      protocol = o.protocol;
    }
  }

  uint64_t TotalErrors() const {
    uint64_t n = 0;
    for (const auto& [k, v] : errors) n += v;
    return n;
  }
};

// State shared by the workers of one phase (warmup or measured run).
struct Phase {
  uint64_t limit = 0;  // messages to claim
  Clock::time_point end = Clock::time_point::max();
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> errors{0};
  uint64_t max_errors = 0;

  // Claims the next message index; false when the phase is over.
  bool Claim(uint64_t* index) {
    if (g_stop.load(std::memory_order_relaxed)) return false;
    if (errors.load(std::memory_order_relaxed) >= max_errors) return false;
    if (Clock::now() >= end) return false;
    uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
    if (i >= limit) return false;
    *index = i;
    return true;
  }
};

void RecordError(const Outcome& o, Phase* phase, Stats* stats) {
  ++stats->failed;
  ++stats->errors[ErrorKindName(o.error)];
  phase->errors.fetch_add(1, std::memory_order_relaxed);
  if (stats->error_samples.size() < 5) {
    stats->error_samples.push_back(std::string(ErrorKindName(o.error)) + " at " +
                                   StageName(o.stage) + ": " + o.error_text);
  }
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
Stats RunPhase(const Config& config, const std::vector<TestMessage>& messages, uint64_t limit,
               double duration_s, double* elapsed_s) {
  Phase phase;
  phase.limit = limit;
  phase.max_errors = config.max_errors;
  const Clock::time_point start = Clock::now();
  if (duration_s > 0) {
    phase.end = start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(duration_s));
  }
  std::vector<Stats> per_thread(static_cast<size_t>(config.concurrency));
  std::vector<std::thread> threads;
  threads.reserve(per_thread.size());
  for (int i = 0; i < config.concurrency; ++i) {
    threads.emplace_back(RunWorker, i, std::cref(config), std::cref(messages), &phase,
                         &per_thread[static_cast<size_t>(i)]);
  }
  for (std::thread& t : threads) t.join();
  *elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  Stats total;
  for (const Stats& s : per_thread) total.Merge(s);
  return total;
}

std::string HexString(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

std::string LatencyJson(const LatencyHistogram& h) {
  JsonObject o;
  o.Add("p50", h.PercentileNs(50) / 1e6)
      .Add("p90", h.PercentileNs(90) / 1e6)
      .Add("p99", h.PercentileNs(99) / 1e6)
      .Add("max", h.max_ns() / 1e6)
      .Add("min", h.min_ns() / 1e6)
      .Add("mean", h.mean_ns() / 1e6);
  return o.Render();
}

void Report(const Config& config, const Stats& s, double elapsed_s, uint64_t warmup_done,
            double avg_bytes) {
  const double rate = elapsed_s > 0 ? s.completed / elapsed_s : 0.0;
  std::map<std::string, uint64_t> errors = {
      {"connect", 0}, {"timeout", 0}, {"io", 0}, {"protocol", 0}};
  for (const auto& [k, v] : s.errors) errors[k] += v;
  if (config.json) {
    JsonObject negotiated;
    negotiated.Add("version", static_cast<uint64_t>(s.version))
        .Add("actions", HexString(s.actions))
        .Add("protocol", HexString(s.protocol));
    JsonObject o;
    o.Add("tool", "mw-milter-bench")
        .Add("socket", config.spec.ToString())
        .Add("concurrency", config.concurrency)
        .Add("per_connection", config.per_connection)
        .Add("tcp_nodelay", config.tcp_nodelay)
        .Add("message_bytes_avg", avg_bytes)
        .Add("warmup", warmup_done)
        .Add("messages", s.completed)
        .Add("failed", s.failed)
        .Add("connections", s.connections)
        .Add("elapsed_s", elapsed_s)
        .Add("msgs_per_s", rate)
        .AddRaw("latency_ms", LatencyJson(s.latency))
        .AddRaw("setup_ms", LatencyJson(s.setup))
        .AddCounts("verdicts", s.verdicts)
        .AddCounts("replycodes", s.replycodes)
        .AddCounts("stages", s.stages)
        .Add("header_mods", s.header_mods)
        .Add("other_mods", s.other_mods)
        .Add("quarantined", s.quarantined)
        .Add("rcpt_rejects", s.rcpt_rejects)
        .AddCounts("errors", errors)
        .AddRaw("negotiated", s.negotiated ? negotiated.Render() : "null");
    std::printf("%s\n", o.Render().c_str());
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
  std::printf("  latency ms   p50 %s  p90 %s  p99 %s  max %s\n",
              FormatMs(s.latency.PercentileNs(50)).c_str(),
              FormatMs(s.latency.PercentileNs(90)).c_str(),
              FormatMs(s.latency.PercentileNs(99)).c_str(), FormatMs(s.latency.max_ns()).c_str());
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

int Usage(const char* error) {
  if (error != nullptr) std::fprintf(stderr, "mw-milter-bench: %s\n", error);
  std::fputs(kUsage, stderr);
  return 2;
}

int Main(int argc, char** argv) {
  Config config;
  std::string socket_text = "inet:127.0.0.1:8891";
  bool have_messages = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (arg.starts_with("--")) {
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
        has_inline = true;
      }
    }
    auto next = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    uint64_t n = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--socket") {
      if (!next(&socket_text)) return Usage("--socket needs a value");
    } else if (arg == "--concurrency") {
      if (!next(&v) || !ParseUint(v, 1, 1024, &n)) {
        return Usage("--concurrency needs 1..1024");
      }
      config.concurrency = static_cast<int>(n);
    } else if (arg == "--messages") {
      if (!next(&v) || !ParseUint(v, 1, 1000000000, &config.messages)) {
        return Usage("--messages needs 1..1000000000");
      }
      have_messages = true;
    } else if (arg == "--duration") {
      if (!next(&v) || !ParseSeconds(v, 86400, &config.duration_s)) {
        return Usage("--duration needs seconds in (0, 86400]");
      }
    } else if (arg == "--per-connection") {
      if (!next(&v) || !ParseUint(v, 1, 1000000000, &config.per_connection)) {
        return Usage("--per-connection needs a positive count");
      }
    } else if (arg == "--warmup") {
      if (!next(&v) || !ParseUint(v, 0, 100000000, &config.warmup)) {
        return Usage("--warmup needs a count");
      }
    } else if (arg == "--from") {
      if (!next(&config.from)) return Usage("--from needs an address");
    } else if (arg == "--rcpt") {
      if (!next(&v) || v.empty()) return Usage("--rcpt needs an address");
      config.rcpts.push_back(v);
    } else if (arg == "--auth") {
      if (!next(&config.auth_user)) return Usage("--auth needs a user");
    } else if (arg == "--size-param") {
      config.size_param = true;
    } else if (arg == "--no-size-param") {
      config.size_param = false;
    } else if (arg == "--message-size") {
      if (!next(&v) || !ParseUint(v, 1, 64ull << 20, &config.message_size)) {
        return Usage("--message-size needs 1..67108864");
      }
    } else if (arg == "--tcp-nodelay") {
      config.tcp_nodelay = true;
    } else if (arg == "--no-tcp-nodelay") {
      config.tcp_nodelay = false;
    } else if (arg == "--timeout") {
      if (!next(&v) || !ParseSeconds(v, 3600, &config.timeout_s)) {
        return Usage("--timeout needs seconds in (0, 3600]");
      }
    } else if (arg == "--max-errors") {
      if (!next(&v) || !ParseUint(v, 1, 1000000000, &config.max_errors)) {
        return Usage("--max-errors needs a positive count");
      }
    } else if (arg == "--allow-remote") {
      config.allow_remote = true;
    } else if (arg == "--json") {
      config.json = true;
    } else if (arg == "--verbose") {
      config.verbose = true;
    } else if (arg.starts_with("-") && arg != "-") {
      return Usage(("unknown option " + arg).c_str());
    } else {
      config.paths.push_back(arg);
    }
  }
  std::string error;
  if (!SocketSpec::Parse(socket_text, &config.spec, &error)) {
    return Usage(error.c_str());
  }
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

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  bool failed = false;
  uint64_t warmup_done = 0;
  if (config.warmup > 0) {
    double warm_elapsed = 0;
    Stats warm = RunPhase(config, messages, config.warmup, 0, &warm_elapsed);
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
  Stats stats = RunPhase(config, messages, limit, config.duration_s, &elapsed_s);
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
  if (g_stop.load()) std::fprintf(stderr, "mw-milter-bench: interrupted\n");
  Report(config, stats, elapsed_s, warmup_done, avg_bytes);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace mailwarden::bench

int main(int argc, char** argv) { return mailwarden::bench::Main(argc, argv); }

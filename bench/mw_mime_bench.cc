// mw-mime-bench: the inspection engine alone, no MTA, no milter protocol, one thread.
//
// Builds the Engine from a configuration (by default a temporary one whose only rule file
// is the source tree's rules/default.yaml) and feeds it messages the way the milter glue
// does for each message: NewMessage(envelope) -> AtMailFrom -> AddHeader per field ->
// AppendBody in chunks of --chunk bytes (65535 by default: Postfix's milter body chunk) ->
// AtEndOfMessage, then the Message is destroyed. With --record the decision-log record is
// built and serialised too (what mailwarden-milter does for every message with
// log.log_accepted: true; it is not written anywhere). The time of one message runs from
// NewMessage to the destruction of the Message.
//
// Messages: .eml files and directories (their *.eml), loaded like mw-milter-bench does
// (eml.h), and/or generated ones (--kind, see mime_corpus.h). They are fed round-robin.
//
// Exit status: 0 done; 1 the engine could not be built or a message failed; 2 usage.

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "common/config.h"
#include "eml.h"
#include "milter/engine.h"
#include "milter/message.h"
#include "mime_corpus.h"

#ifndef MW_SOURCE_DIR
#define MW_SOURCE_DIR "."
#endif

namespace mailwarden::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kTool[] = "mw-mime-bench";

std::string UsageText() {
  return std::string(
             "usage: mw-mime-bench [options] [FILE.eml|DIR ...]\n"
             "  --config FILE      mailwarden.yaml to build the engine from (default: a\n"
             "                     temporary config with the rule file of --rules)\n"
             "  --rules FILE       rule file of the temporary config (default\n"
             "                     " MW_SOURCE_DIR "/rules/default.yaml)\n"
             "  --kind KIND        generated messages, repeatable: ") +
         CorpusKindList() +
         "\n"
         "  --messages N       messages to feed (default 1000)\n"
         "  --duration SECONDS feed for a time instead of a count\n"
         "  --warmup N         unmeasured messages first (default: one of each)\n"
         "  --chunk BYTES      body chunk size (default 65535, as Postfix sends)\n"
         "  --record           also build and serialise the decision-log record\n"
         "  --write-eml DIR    write the --kind messages to DIR/NAME.eml and exit\n"
         "  --json             print the results as one JSON object\n";
}

struct Options {
  std::string config_path;
  std::string rules_path = MW_SOURCE_DIR "/rules/default.yaml";
  std::vector<std::string> kinds;
  std::vector<std::string> paths;
  uint64_t messages = 1000;
  bool have_messages = false;
  double duration_s = 0;
  uint64_t warmup = 0;
  bool have_warmup = false;
  uint64_t chunk = 65535;
  bool record = false;
  std::string write_dir;
  bool json = false;
};

// Per message name (kind or file), when there are few of them.
struct KindStats {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  LatencyHistogram latency;
  uint64_t parts = 0;            // leaf parts of the last message
  uint64_t archive_members = 0;  // archive members listed in the last message
  std::string action;            // verdict of the last message
};

struct Stats {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t findings = 0;
  uint64_t limit_hits = 0;
  uint64_t record_bytes = 0;
  LatencyHistogram latency;
  std::map<std::string, uint64_t> verdicts;
  std::map<std::string, uint64_t> decided_by;
  std::map<std::string, KindStats> kinds;
};

// A temporary mailwarden.yaml naming `rules` (absolute), loaded and removed again.
Result<std::shared_ptr<const Config>> LoadTemporaryConfig(const std::string& rules) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(rules, ec);
  if (ec || !std::filesystem::exists(abs)) {
    return Status::InvalidArgument("rule file " + rules + " not found (give --rules or --config)");
  }
  char dir_template[] = "/tmp/mw-mime-bench.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return Status::IoError("mkdtemp failed");
  const std::string dir = dir_template;
  const std::string path = dir + "/mailwarden.yaml";
  {
    std::string quoted;
    for (char c : abs.lexically_normal().string()) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    std::ofstream out(path);
    out << "version: 1\nrule_files: [\"" << quoted << "\"]\n";
  }
  auto loaded = LoadConfig(path);
  std::filesystem::remove_all(dir, ec);
  return loaded;
}

uint64_t PeakRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// The header value as an MTA hands it to a milter that did not ask for SMFIP_HDR_LEADSPC.
std::string MilterValue(const std::string& raw) {
  size_t i = 0;
  while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
  return raw.substr(i);
}

// Feeds one message through the engine; returns its verdict (and fills the counters).
void FeedOne(const Engine& engine, const TestMessage& m, const Options& o, uint64_t serial,
             Stats* stats, bool measured) {
  const SteadyClock::time_point start = SteadyClock::now();
  Envelope env;
  env.client_addr = "192.0.2.10";
  env.client_name = "client.bench.example";
  env.helo = "client.bench.example";
  env.daemon_name = "smtpd";
  env.mail_from = "sender@bench.example";
  env.announced_size = m.size;
  env.recipients = {"rcpt@bench.example"};
  char qid[24];
  std::snprintf(qid, sizeof(qid), "4XB%09llX", static_cast<unsigned long long>(serial));
  env.queue_id = qid;

  std::unique_ptr<Message> message = engine.NewMessage(std::move(env));
  Verdict v = engine.AtMailFrom(message->envelope());
  Stage stage = Stage::kMailFrom;
  if (v.action != Action::kReject && v.action != Action::kTempfail) {
    for (const auto& [name, value] : m.headers) message->AddHeader(name, MilterValue(value));
    std::string_view body(m.body);
    while (!body.empty()) {
      size_t n = std::min<size_t>(body.size(), o.chunk);
      message->AppendBody(body.substr(0, n));
      body.remove_prefix(n);
    }
    v = engine.AtEndOfMessage(*message);
    stage = Stage::kEndOfMessage;
  }
  uint64_t record_bytes = 0;
  if (o.record && engine.ShouldLog(v)) {
    record_bytes = engine.DecisionRecord(*message, v, stage).dump().size();
  }
  uint64_t parts = message->content().parts.size();
  uint64_t members = 0;
  for (const ContentPart& cp : message->content().parts) {
    if (cp.archive) members += cp.archive->members.size();
  }
  uint64_t limit_hits = message->content().limit_hits.size();
  message.reset();
  const SteadyClock::duration took = SteadyClock::now() - start;
  if (!measured) return;

  ++stats->messages;
  stats->bytes += m.size;
  stats->findings += v.findings.size();
  stats->limit_hits += limit_hits;
  stats->record_bytes += record_bytes;
  stats->latency.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(took));
  const std::string action(ActionName(v.action));
  ++stats->verdicts[action];
  if (v.deciding != nullptr) ++stats->decided_by[v.deciding->rule_id];
  KindStats& k = stats->kinds[m.name];
  ++k.messages;
  k.bytes += m.size;
  k.latency.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(took));
  k.parts = parts;
  k.archive_members = members;
  k.action = action;
}

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

Json LatencyUsJson(const LatencyHistogram& h) {
  Json o = Json::object();
  o["p50"] = Decimal3(Us(h.PercentileNs(50)));
  o["p90"] = Decimal3(Us(h.PercentileNs(90)));
  o["p99"] = Decimal3(Us(h.PercentileNs(99)));
  o["max"] = Decimal3(Us(h.max_ns()));
  o["min"] = Decimal3(Us(h.min_ns()));
  o["mean"] = Decimal3(h.mean_ns() / 1000.0);
  return o;
}

void Report(const Options& o, const std::string& config_label, const Stats& s, double elapsed_s) {
  const double rate = elapsed_s > 0 ? s.messages / elapsed_s : 0;
  const double mbps = elapsed_s > 0 ? s.bytes / elapsed_s / 1e6 : 0;
  const bool per_kind = s.kinds.size() > 1 && s.kinds.size() <= 32;
  const uint64_t rss = PeakRssKb();
  if (o.json) {
    Json j = Json::object();
    j["tool"] = kTool;
    j["config"] = config_label;
    j["chunk_bytes"] = o.chunk;
    j["record"] = o.record;
    j["messages"] = s.messages;
    j["elapsed_s"] = Decimal3(elapsed_s);
    j["msgs_per_s"] = Decimal3(rate);
    j["mb_per_s"] = Decimal3(mbps);
    j["message_bytes_avg"] = Decimal3(s.messages ? double(s.bytes) / s.messages : 0);
    j["latency_us"] = LatencyUsJson(s.latency);
    j["verdicts"] = CountsJson(s.verdicts);
    j["decided_by"] = CountsJson(s.decided_by);
    j["findings"] = s.findings;
    j["limit_hits"] = s.limit_hits;
    if (o.record) j["record_bytes_avg"] = Decimal3(s.messages ? double(s.record_bytes) / s.messages : 0);
    j["peak_rss_kb"] = rss;
    Json kinds = Json::object();
    for (const auto& [name, k] : s.kinds) {
      if (!per_kind && s.kinds.size() > 1) break;
      Json kj = Json::object();
      kj["messages"] = k.messages;
      kj["message_bytes"] = k.messages ? k.bytes / k.messages : 0;
      kj["latency_us"] = LatencyUsJson(k.latency);
      kj["us_per_mb"] = Decimal3(k.bytes ? k.latency.mean_ns() * k.messages / 1000.0 / (k.bytes / 1e6) : 0);
      kj["parts"] = k.parts;
      kj["archive_members"] = k.archive_members;
      kj["verdict"] = k.action;
      kinds[name] = std::move(kj);
    }
    j["kinds"] = std::move(kinds);
    PrintJson(j);
    return;
  }
  std::printf("mw-mime-bench: %s, chunk %llu B%s, one thread\n", config_label.c_str(),
              static_cast<unsigned long long>(o.chunk), o.record ? ", decision record built" : "");
  std::printf("  messages     %llu in %.3f s (avg %.0f B)\n",
              static_cast<unsigned long long>(s.messages), elapsed_s,
              s.messages ? double(s.bytes) / s.messages : 0.0);
  std::printf("  throughput   %.1f msg/s  %.2f MB/s (wire bytes, MB = 10^6)\n", rate, mbps);
  std::printf("  latency us   p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
              Us(s.latency.PercentileNs(50)), Us(s.latency.PercentileNs(90)),
              Us(s.latency.PercentileNs(99)), Us(s.latency.max_ns()));
  std::printf("  verdicts     %s\n", FormatCounts(s.verdicts).c_str());
  std::printf("  decided by   %s\n", FormatCounts(s.decided_by).c_str());
  std::printf("  findings %llu, limit hits %llu, peak RSS %llu kB\n",
              static_cast<unsigned long long>(s.findings),
              static_cast<unsigned long long>(s.limit_hits),
              static_cast<unsigned long long>(rss));
  if (per_kind || s.kinds.size() == 1) {
    std::printf("  %-28s %6s %9s %10s %10s %6s %7s  %s\n", "message", "count", "bytes", "p50 us",
                "p99 us", "parts", "members", "verdict");
    for (const auto& [name, k] : s.kinds) {
      std::printf("  %-28s %6llu %9llu %10.1f %10.1f %6llu %7llu  %s\n",
                  name.size() > 28 ? name.substr(name.size() - 28).c_str() : name.c_str(),
                  static_cast<unsigned long long>(k.messages),
                  static_cast<unsigned long long>(k.messages ? k.bytes / k.messages : 0),
                  Us(k.latency.PercentileNs(50)), Us(k.latency.PercentileNs(99)),
                  static_cast<unsigned long long>(k.parts),
                  static_cast<unsigned long long>(k.archive_members), k.action.c_str());
    }
  }
}

int Usage(const char* error) { return UsageError(kTool, UsageText().c_str(), error); }

int Main(int argc, char** argv) {
  Options o;
  ArgReader args(argc, argv, /*inline_values=*/true);
  std::string v;
  while (args.Next()) {
    const std::string& arg = args.arg();
    if (arg == "--help" || arg == "-h") {
      std::fputs(UsageText().c_str(), stdout);
      return 0;
    } else if (arg == "--config") {
      if (!args.Value(&o.config_path) || o.config_path.empty()) return Usage("--config needs a file");
    } else if (arg == "--rules") {
      if (!args.Value(&o.rules_path) || o.rules_path.empty()) return Usage("--rules needs a file");
    } else if (arg == "--kind") {
      if (!args.Value(&v) || v.empty()) return Usage("--kind needs a kind");
      o.kinds.push_back(v);
    } else if (arg == "--messages") {
      if (!args.Uint(1, 1000000000, &o.messages)) return Usage("--messages needs 1..1000000000");
      o.have_messages = true;
    } else if (arg == "--duration") {
      if (!args.Seconds(86400, &o.duration_s)) return Usage("--duration needs seconds");
    } else if (arg == "--warmup") {
      if (!args.Uint(0, 1000000, &o.warmup)) return Usage("--warmup needs 0..1000000");
      o.have_warmup = true;
    } else if (arg == "--chunk") {
      if (!args.Uint(1, 64ull << 20, &o.chunk)) return Usage("--chunk needs 1..67108864");
    } else if (arg == "--record") {
      o.record = true;
    } else if (arg == "--write-eml") {
      if (!args.Value(&o.write_dir) || o.write_dir.empty()) return Usage("--write-eml needs a directory");
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg.starts_with("-") && arg != "-") {
      return Usage(("unknown option " + arg).c_str());
    } else {
      o.paths.push_back(arg);
    }
  }
  if (o.duration_s > 0 && o.have_messages) return Usage("give --messages or --duration, not both");

  std::string error;
  std::vector<GeneratedMessage> generated;
  for (const std::string& kind : o.kinds) {
    if (!GenerateKind(kind, &generated, &error)) return Usage(error.c_str());
  }
  if (!o.write_dir.empty()) {
    if (generated.empty()) return Usage("--write-eml needs --kind");
    std::error_code ec;
    std::filesystem::create_directories(o.write_dir, ec);
    for (const GeneratedMessage& g : generated) {
      const std::string path = o.write_dir + "/" + g.name + ".eml";
      std::ofstream out(path, std::ios::binary);
      out << g.text;
      if (!out.flush()) {
        std::fprintf(stderr, "mw-mime-bench: cannot write %s\n", path.c_str());
        return 1;
      }
      std::printf("%s %zu\n", path.c_str(), g.text.size());
    }
    return 0;
  }

  std::vector<TestMessage> messages;
  for (const GeneratedMessage& g : generated) {
    TestMessage m;
    if (!ParseMessage(g.text, g.name, EmlLimits{}, &m, &error)) {
      std::fprintf(stderr, "mw-mime-bench: %s\n", error.c_str());
      return 1;
    }
    messages.push_back(std::move(m));
  }
  if (!o.paths.empty() && !LoadMessages(o.paths, EmlLimits{}, &messages, &error)) {
    std::fprintf(stderr, "mw-mime-bench: %s\n", error.c_str());
    return 2;
  }
  if (messages.empty()) messages.push_back(BuiltinMessage(4096));

  auto config = o.config_path.empty() ? LoadTemporaryConfig(o.rules_path) : LoadConfig(o.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "mw-mime-bench: %s\n", config.status().message().c_str());
    return 1;
  }
  auto engine = Engine::Build(*config);
  if (!engine.ok()) {
    std::fprintf(stderr, "mw-mime-bench: %s\n", engine.status().message().c_str());
    return 1;
  }
  const std::string config_label = o.config_path.empty()
                                       ? "rules " + o.rules_path + " (" +
                                             std::to_string((*config)->RulesFor(CheckHost::kMilter).size()) +
                                             " milter rules)"
                                       : "config " + o.config_path;

  Stats stats;
  uint64_t serial = 0;
  const uint64_t warmup = o.have_warmup ? o.warmup : messages.size();
  for (uint64_t i = 0; i < warmup; ++i) {
    FeedOne(**engine, messages[i % messages.size()], o, ++serial, &stats, false);
  }
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point end =
      o.duration_s > 0 ? start + std::chrono::duration_cast<SteadyClock::duration>(
                                     std::chrono::duration<double>(o.duration_s))
                       : SteadyClock::time_point::max();
  for (uint64_t i = 0;; ++i) {
    if (o.duration_s > 0 ? SteadyClock::now() >= end : i >= o.messages) break;
    FeedOne(**engine, messages[i % messages.size()], o, ++serial, &stats, true);
  }
  const double elapsed_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  Report(o, config_label, stats, elapsed_s);
  return stats.messages > 0 ? 0 : 1;
}

}  // namespace
}  // namespace mailwarden::bench

int main(int argc, char** argv) {
  mailwarden::TuneAllocatorForContent();  // as mailwarden-milter does
  return mailwarden::bench::Main(argc, argv);
}

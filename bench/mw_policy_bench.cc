// mw-policy-bench: load generator for Postfix's SMTPD access policy
// delegation protocol (SMTPD_POLICY_README), playing smtpd.
//
// Protocol: the client sends "name=value" lines followed by an empty line;
// the server answers "action=..." (possibly with further attributes) and an
// empty line, and keeps the connection open for the next request. Postfix
// keeps one persistent connection per smtpd process and sends one request
// at a time on it; here each of --concurrency threads does the same.
//
// Latency of a request runs from the first byte written to the empty line
// that ends the reply. Connection setup is not included (it happens once per
// connection and is reported separately).
//
// Exit status: 0 all requests answered without error; 1 any error
// (connect, timeout, I/O, protocol) or nothing completed; 2 usage error.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_net.h"
#include "bench_util.h"
#include "load_run.h"

namespace mailwarden::bench {
namespace {

constexpr char kUsage[] =
    "usage: mw-policy-bench [options]\n"
    "  --socket SPEC          inet:HOST:PORT | inet:PORT@HOST | unix:/path\n"
    "                         (default inet:127.0.0.1:10040)\n"
    "  --concurrency N        persistent connections (default 32)\n"
    "  --requests N           requests to send (default 10000)\n"
    "  --duration SECONDS     run for a time instead of a request count\n"
    "  --warmup N             unmeasured requests first (default 0)\n"
    "  --sender ADDR          sender (repeatable; default "
    "sender@bench.example)\n"
    "  --recipient ADDR       recipient (repeatable; default "
    "rcpt@bench.example)\n"
    "  --senders-file FILE    senders, one per line (used round-robin)\n"
    "  --recipients-file FILE recipients, one per line (used round-robin)\n"
    "  --protocol-state S     RCPT (default), DATA, END-OF-MESSAGE, ...\n"
    "  --sasl-username USER   report an authenticated client\n"
    "  --size BYTES           size attribute (default 4096)\n"
    "  --timeout SECONDS      connect and per-reply timeout (default 10)\n"
    "  --max-errors N         stop after N errors (default 1000)\n"
    "  --allow-remote         permit a non-loopback policy server address\n"
    "  --json                 print the results as one JSON object\n";

// Bounds on what we accept from the server.
constexpr size_t kMaxReplyLine = 4096;
constexpr int kMaxReplyLines = 64;

constexpr char kTool[] = "mw-policy-bench";

struct Config : LoadOptions {
  Config() {
    socket_text = "inet:127.0.0.1:10040";
    concurrency = 32;
  }
  uint64_t requests = 10000;
  std::vector<std::string> senders;
  std::vector<std::string> recipients;
  std::string protocol_state = "RCPT";
  std::string sasl_username;
  uint64_t size = 4096;
};

struct Stats : LoadStats {
  std::map<std::string, uint64_t> actions;

  void Merge(const Stats& o) {
    LoadStats::Merge(o);
    for (const auto& [k, v] : o.actions) actions[k] += v;
  }
};

// Builds the request Postfix's smtpd would send for request number `i`.
// Attribute values are varied per request where a real stream varies them
// (client, instance, queue id, sender, recipient).
std::string BuildRequest(const Config& c, int worker, uint64_t i) {
  const std::string& sender = c.senders[i % c.senders.size()];
  const std::string& rcpt = c.recipients[i % c.recipients.size()];
  const uint64_t client = i % 254 + 1;
  char instance[48];
  std::snprintf(instance, sizeof(instance), "%x.%llx.%llx.0", worker & 0xFFFF,
                static_cast<unsigned long long>(i >> 20),
                static_cast<unsigned long long>(i & 0xFFFFF));
  char queue_id[24];
  std::snprintf(queue_id, sizeof(queue_id), "%02X%09llX", worker & 0xFF,
                static_cast<unsigned long long>(i));
  const bool in_rcpt = c.protocol_state == "RCPT";
  std::string r;
  r.reserve(1024);
  auto add = [&r](const char* name, const std::string& value) {
    r += name;
    r += '=';
    r += value;
    r += '\n';
  };
  add("request", "smtpd_access_policy");
  add("protocol_state", c.protocol_state);
  add("protocol_name", "ESMTP");
  add("helo_name", "client-" + std::to_string(client) + ".bench.example");
  add("queue_id", queue_id);
  add("sender", sender);
  add("recipient", rcpt);
  // Non-zero only in the DATA and END-OF-MESSAGE stages.
  add("recipient_count", in_rcpt ? "0" : "1");
  add("client_address", "192.0.2." + std::to_string(client));
  add("client_name", "client-" + std::to_string(client) + ".bench.example");
  add("reverse_client_name", "client-" + std::to_string(client) + ".bench.example");
  add("instance", instance);
  add("sasl_method", c.sasl_username.empty() ? "" : "plain");
  add("sasl_username", c.sasl_username);
  add("sasl_sender", "");
  add("size", std::to_string(c.size));
  add("ccert_subject", "");
  add("ccert_issuer", "");
  add("ccert_fingerprint", "");
  add("ccert_pubkey_fingerprint", "");
  add("encryption_protocol", "TLSv1.3");
  add("encryption_cipher", "TLS_AES_256_GCM_SHA384");
  add("encryption_keysize", "256");
  add("etrn_domain", "");
  add("stress", "");
  add("client_port", std::to_string(1024 + i % 60000));
  add("policy_context", "");
  add("server_address", "127.0.0.1");
  add("server_port", "25");
  add("compatibility_level", "3.6");
  add("mail_version", "3.7.11");
  r += '\n';
  return r;
}

// The action word for counting: the first word of the action value,
// upper-cased ("dunno" and "DUNNO" are the same action; "450 4.7.1 text"
// counts as "450").
std::string ActionWord(std::string_view value) {
  size_t end = value.find_first_of(" \t");
  std::string word(value.substr(0, end));
  for (char& ch : word) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return word.empty() ? std::string("(empty)") : word;
}

void RecordError(const char* kind, const std::string& text, Phase* phase, Stats* stats) {
  stats->RecordError(kind, std::string(kind) + ": " + text, phase);
}

const char* KindOf(IoStatus st) { return st == IoStatus::kTimeout ? "timeout" : "io"; }

void RunWorker(int id, const Config& config, Phase* phase, Stats* stats) {
  Connection conn;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  uint64_t index = 0;
  std::string line;
  while (phase->Claim(&index)) {
    if (!conn.is_open()) {
      std::string error;
      ++stats->connections;
      // Like Postfix's policy client, leave Nagle on: each request is
      // written with one send() and then the client waits for the reply.
      if (!conn.Open(config.spec, timeout, /*tcp_nodelay=*/false, config.allow_remote, &error)) {
        RecordError("connect", error, phase, stats);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
    }
    conn.Append(BuildRequest(config, id, index));
    const Clock::time_point start = Clock::now();
    IoStatus st = conn.Flush(start + timeout);
    if (st != IoStatus::kOk) {
      RecordError(KindOf(st), std::string("write: ") + IoStatusName(st) + " " + conn.last_error(),
                  phase, stats);
      conn.Close();
      continue;
    }
    std::string action;
    bool have_action = false;
    bool done = false;
    const char* fail_kind = nullptr;
    std::string fail_text;
    for (int n = 0; n < kMaxReplyLines; ++n) {
      st = conn.ReadLine(&line, kMaxReplyLine, Clock::now() + timeout);
      if (st != IoStatus::kOk) {
        fail_kind = st == IoStatus::kError && conn.last_error() == "line too long" ? "protocol"
                                                                                   : KindOf(st);
        fail_text = std::string("read: ") + IoStatusName(st) + " " + conn.last_error();
        break;
      }
      if (line.empty()) {
        done = true;
        break;
      }
      if (line.starts_with("action=") && !have_action) {
        action = ActionWord(std::string_view(line).substr(7));
        have_action = true;
      } else if (line.find('=') == std::string::npos) {
        fail_kind = "protocol";
        fail_text = "reply line without '=': " + line.substr(0, 80);
        break;
      }
    }
    if (fail_kind == nullptr && !done) {
      fail_kind = "protocol";
      fail_text = "reply longer than " + std::to_string(kMaxReplyLines) + " lines";
    }
    if (fail_kind == nullptr && !have_action) {
      fail_kind = "protocol";
      fail_text = "reply without action=";
    }
    if (fail_kind != nullptr) {
      RecordError(fail_kind, fail_text, phase, stats);
      conn.Close();
      continue;
    }
    stats->latency.Record(Clock::now() - start);
    ++stats->completed;
    ++stats->actions[action];
  }
}

Stats RunPolicyPhase(const Config& config, uint64_t limit, double duration_s, double* elapsed_s) {
  return RunPhase<Stats>(
      config.concurrency, limit, duration_s, config.max_errors,
      [&](int id, Phase* phase, Stats* stats) { RunWorker(id, config, phase, stats); }, elapsed_s);
}

bool ReadListFile(const std::string& path, std::vector<std::string>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::string line;
  constexpr size_t kMaxEntries = 10000000;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > 1000 || line.find('\n') != std::string::npos) {
      *error = path + ": entry too long";
      return false;
    }
    out->push_back(line);
    if (out->size() > kMaxEntries) {
      *error = path + ": too many entries";
      return false;
    }
  }
  return true;
}

void Report(const Config& config, const Stats& s, double elapsed_s, uint64_t warmup_done) {
  const double rate = elapsed_s > 0 ? s.completed / elapsed_s : 0.0;
  const std::map<std::string, uint64_t> errors = s.ErrorsByKind();
  if (config.json) {
    Json o = Json::object();
    o["tool"] = kTool;
    o["socket"] = config.spec.ToString();
    o["concurrency"] = config.concurrency;
    o["protocol_state"] = config.protocol_state;
    o["warmup"] = warmup_done;
    o["requests"] = s.completed;
    o["failed"] = s.failed;
    o["connections"] = s.connections;
    o["elapsed_s"] = Decimal3(elapsed_s);
    o["req_per_s"] = Decimal3(rate);
    o["latency_ms"] = LatencyJson(s.latency);
    o["actions"] = CountsJson(s.actions);
    o["errors"] = CountsJson(errors);
    PrintJson(o);
    return;
  }
  std::printf("mw-policy-bench: %s concurrency=%d state=%s\n", config.spec.ToString().c_str(),
              config.concurrency, config.protocol_state.c_str());
  std::printf(
      "  requests     %llu completed, %llu failed, %llu connections"
      " (warmup %llu)\n",
      static_cast<unsigned long long>(s.completed), static_cast<unsigned long long>(s.failed),
      static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(warmup_done));
  std::printf("  elapsed      %.3f s\n", elapsed_s);
  std::printf("  throughput   %.1f req/s\n", rate);
  std::printf("  latency ms   %s\n", FormatLatencyLine(s.latency).c_str());
  std::printf("  actions      %s\n", FormatCounts(s.actions).c_str());
  std::printf("  errors       %s\n", FormatCounts(errors).c_str());
}

int Usage(const char* error) { return UsageError(kTool, kUsage, error); }

int Main(int argc, char** argv) {
  Config config;
  bool have_requests = false;
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
    } else if (arg == "--requests") {
      if (!args.Uint(1, 1000000000, &config.requests)) {
        return Usage("--requests needs 1..1000000000");
      }
      have_requests = true;
    } else if (arg == "--sender") {
      if (!args.Value(&v)) return Usage("--sender needs an address");
      config.senders.push_back(v);
    } else if (arg == "--recipient") {
      if (!args.Value(&v)) return Usage("--recipient needs an address");
      config.recipients.push_back(v);
    } else if (arg == "--senders-file") {
      if (!args.Value(&v)) return Usage("--senders-file needs a file");
      if (!ReadListFile(v, &config.senders, &error)) return Usage(error.c_str());
    } else if (arg == "--recipients-file") {
      if (!args.Value(&v)) return Usage("--recipients-file needs a file");
      if (!ReadListFile(v, &config.recipients, &error)) return Usage(error.c_str());
    } else if (arg == "--protocol-state") {
      if (!args.Value(&config.protocol_state) || config.protocol_state.empty()) {
        return Usage("--protocol-state needs a value");
      }
    } else if (arg == "--sasl-username") {
      if (!args.Value(&config.sasl_username)) return Usage("--sasl-username needs a user");
    } else if (arg == "--size") {
      if (!args.Uint(0, UINT64_MAX / 2, &config.size)) return Usage("--size needs a byte count");
    } else {
      return Usage(("unknown argument " + arg).c_str());
    }
  }
  Result<SocketSpec> spec = ParseBenchSocket(config.socket_text);
  if (!spec.ok()) return Usage(spec.status().message().c_str());
  config.spec = std::move(spec).value();
  if (config.duration_s > 0 && have_requests) {
    return Usage("give --requests or --duration, not both");
  }
  for (const auto* list : {&config.senders, &config.recipients}) {
    for (const std::string& a : *list) {
      if (a.find_first_of("\r\n") != std::string::npos) {
        return Usage("addresses must not contain line breaks");
      }
    }
  }
  if (config.senders.empty()) config.senders.push_back("sender@bench.example");
  if (config.recipients.empty()) {
    config.recipients.push_back("rcpt@bench.example");
  }

  InstallStopSignals();

  bool failed = false;
  uint64_t warmup_done = 0;
  if (config.warmup > 0) {
    double warm_elapsed = 0;
    Stats warm = RunPolicyPhase(config, config.warmup, 0, &warm_elapsed);
    warmup_done = warm.completed;
    if (warm.TotalErrors() > 0) {
      failed = true;
      std::fprintf(stderr, "mw-policy-bench: warmup: %llu errors\n",
                   static_cast<unsigned long long>(warm.TotalErrors()));
    }
  }
  double elapsed_s = 0;
  Stats stats = RunPolicyPhase(config, config.duration_s > 0 ? UINT64_MAX : config.requests,
                               config.duration_s, &elapsed_s);
  if (stats.TotalErrors() > 0) {
    failed = true;
    for (const std::string& e : stats.error_samples) {
      std::fprintf(stderr, "mw-policy-bench: %s\n", e.c_str());
    }
  }
  if (stats.completed == 0) failed = true;
  if (StopRequested()) std::fprintf(stderr, "mw-policy-bench: interrupted\n");
  Report(config, stats, elapsed_s, warmup_done);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace mailwarden::bench

int main(int argc, char** argv) { return mailwarden::bench::Main(argc, argv); }

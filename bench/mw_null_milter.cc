// mw-null-milter: the "do-nothing" libmilter milter that mailwarden-milter
// is benchmarked against. It links the same libmilter, registers a callback
// for every step (so the MTA sends every step, as it will to mailwarden) and
// lets every message through: the floor cost of libmilter plus the protocol.
//
// Options that change the behaviour exist to exercise the MTA side and to
// demonstrate effects, not to filter mail:
//   --add-header   add one header at end of message: two replies back to
//                  back, which shows the Nagle/delayed-ACK stall
//   --nodelay      TCP_NODELAY on the accepted sockets (common/daemon.h)
//   --no-reply     negotiate SMFIP_NR_* for every step the MTA offers
//   --skip-steps   ask the MTA not to send HELO, DATA, headers, EOH, body
//   --reject-at S  refuse at step S, with --reply "CODE X.Y.Z text"
//   --quarantine   quarantine every message at end of message
//   --trace        print each callback with its arguments and macros, to
//                  compare what mw-milter-bench and a real Postfix send
//
// Runs until SIGTERM/SIGINT (libmilter handles both) or --max-runtime.

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "bench_net.h"
#include "bench_util.h"
#include "common/daemon.h"

namespace mailwarden::bench {
namespace {

constexpr char kUsage[] =
    "usage: mw-null-milter [options]\n"
    "  --socket SPEC      inet:HOST:PORT | inet:PORT@HOST | unix:/path\n"
    "                     (default inet:127.0.0.1:8899)\n"
    "  --add-header       add \"X-MW-Null: yes\" at end of message\n"
    "  --nodelay          TCP_NODELAY on accepted connections (inet only)\n"
    "  --no-reply         negotiate no-reply (SMFIP_NR_*) for all steps\n"
    "  --skip-steps       ask the MTA to skip HELO, DATA, headers, EOH, body\n"
    "  --reject-at STAGE  connect|helo|mail|rcpt|data|header|eoh|body|eom\n"
    "  --reply TEXT       reply for --reject-at, e.g. \"552 5.3.4 Too big\"\n"
    "                     (4xx = tempfail; default: plain reject)\n"
    "  --quarantine       quarantine every message\n"
    "  --trace            print every callback with its arguments and macros\n"
    "                     on stderr (debugging the MTA side; slow)\n"
    "  --timeout SECONDS  libmilter I/O timeout (default 300)\n"
    "  --backlog N        listen backlog (default: libmilter's)\n"
    "  --max-runtime S    stop by itself after S seconds (default: never)\n";

enum class Step { kNone, kConnect, kHelo, kMail, kRcpt, kData, kHeader, kEoh, kBody, kEom };

// Read-only after main() has parsed the options, before smfi_main() starts
// the connection threads; the callbacks only read it.
struct Settings {
  bool add_header = false;
  bool no_reply = false;
  bool skip_steps = false;
  bool quarantine = false;
  bool trace = false;
  Step reject_at = Step::kNone;
  std::string reply_code;   // "552"
  std::string reply_xcode;  // "5.3.4" (may be empty)
  std::string reply_text;   // "Too big" (may be empty)
};
Settings g_settings;

// The negotiated protocol flags of a connection are kept in libmilter's
// per-connection private pointer, encoded as an integer: the null milter
// must not allocate per connection. kPrivSet marks "negotiated".
constexpr uintptr_t kPrivSet = uintptr_t{1} << 31;

unsigned long NegotiatedFlags(SMFICTX* ctx) {
  auto raw = reinterpret_cast<uintptr_t>(smfi_getpriv(ctx));
  return static_cast<unsigned long>(raw & ~kPrivSet);
}

unsigned long NoReplyBit(Step step) {
  switch (step) {
    case Step::kConnect:
      return SMFIP_NR_CONN;
    case Step::kHelo:
      return SMFIP_NR_HELO;
    case Step::kMail:
      return SMFIP_NR_MAIL;
    case Step::kRcpt:
      return SMFIP_NR_RCPT;
    case Step::kData:
      return SMFIP_NR_DATA;
    case Step::kHeader:
      return SMFIP_NR_HDR;
    case Step::kEoh:
      return SMFIP_NR_EOH;
    case Step::kBody:
      return SMFIP_NR_BODY;
    default:
      return 0;
  }
}

sfsistat Refuse(SMFICTX* ctx) {
  const Settings& s = g_settings;
  if (s.reply_code.empty()) return SMFIS_REJECT;
  // smfi_setreply takes non-const strings but does not modify them.
  std::string code = s.reply_code, xcode = s.reply_xcode, text = s.reply_text;
  if (smfi_setreply(ctx, code.data(), xcode.empty() ? nullptr : xcode.data(),
                    text.empty() ? nullptr : text.data()) != MI_SUCCESS) {
    return SMFIS_TEMPFAIL;  // cannot happen for a reply ParseReply accepted
  }
  return s.reply_code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

// The answer for every step before end of message.
sfsistat Answer(SMFICTX* ctx, Step step) {
  if (step == g_settings.reject_at) return Refuse(ctx);
  if ((NegotiatedFlags(ctx) & NoReplyBit(step)) != 0) return SMFIS_NOREPLY;
  return SMFIS_CONTINUE;
}

sfsistat OnNegotiate(SMFICTX* ctx, unsigned long actions_offered, unsigned long protocol_offered,
                     unsigned long, unsigned long, unsigned long* actions, unsigned long* protocol,
                     unsigned long* f2, unsigned long* f3) {
  const Settings& s = g_settings;
  if (!s.no_reply && !s.skip_steps) {
    smfi_setpriv(ctx, reinterpret_cast<void*>(kPrivSet));
    return SMFIS_ALL_OPTS;  // everything offered; no special requests
  }
  unsigned long want_actions = 0;
  if (s.add_header) want_actions |= SMFIF_ADDHDRS;
  if (s.quarantine) want_actions |= SMFIF_QUARANTINE;
  if ((want_actions & actions_offered) != want_actions) return SMFIS_REJECT;
  unsigned long want = 0;
  if (s.no_reply) {
    want |= SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA |
            SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_UNKN;
    want &= ~NoReplyBit(s.reject_at);  // a refusal needs a reply
  }
  if (s.skip_steps) {
    want |=
        SMFIP_NOHELO | SMFIP_NODATA | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN;
  }
  want &= protocol_offered;  // ask only for what the MTA can do
  *actions = want_actions;
  *protocol = want;
  *f2 = 0;
  *f3 = 0;
  smfi_setpriv(ctx, reinterpret_cast<void*>(kPrivSet | want));
  return SMFIS_CONTINUE;
}

// --trace: one line per callback, with the macros libmilter received for
// the step, so the MTA side (mw-milter-bench, or a real Postfix) can be
// checked against each other.
void Trace(SMFICTX* ctx, const char* step, const std::string& args,
           std::initializer_list<const char*> macros) {
  if (!g_settings.trace) return;
  std::string line = std::string("trace: ") + step;
  if (!args.empty()) line += " " + args;
  for (const char* name : macros) {
    // smfi_getsymval takes a non-const name but does not modify it.
    std::string copy(name);
    const char* value = smfi_getsymval(ctx, copy.data());
    if (value != nullptr) line += std::string(" ") + name + "=" + value;
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

std::string JoinArgs(char** argv) {
  std::string out;
  for (int i = 0; argv != nullptr && argv[i] != nullptr && i < 64; ++i) {
    if (i > 0) out += ' ';
    out += '[' + std::string(argv[i]) + ']';
  }
  return out;
}

sfsistat OnConnect(SMFICTX* ctx, char* host, _SOCK_ADDR* addr) {
  if (g_settings.trace) {
    std::string args = std::string("host=") + host;
    if (addr != nullptr && addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      char text[INET_ADDRSTRLEN] = "";
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      args += std::string(" addr=") + text + " port=" + std::to_string(ntohs(in->sin_port));
    }
    Trace(ctx, "connect", args, {"j", "{daemon_name}", "{daemon_addr}", "v", "_"});
  }
  return Answer(ctx, Step::kConnect);
}
sfsistat OnHelo(SMFICTX* ctx, char* helo) {
  Trace(ctx, "helo", helo, {"{tls_version}", "{cipher}"});
  return Answer(ctx, Step::kHelo);
}
sfsistat OnEnvFrom(SMFICTX* ctx, char** argv) {
  Trace(ctx, "mail", JoinArgs(argv),
        {"i", "{mail_addr}", "{auth_type}", "{auth_authen}", "{mail_host}", "{mail_mailer}"});
  return Answer(ctx, Step::kMail);
}
sfsistat OnEnvRcpt(SMFICTX* ctx, char** argv) {
  Trace(ctx, "rcpt", JoinArgs(argv), {"i", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"});
  return Answer(ctx, Step::kRcpt);
}
sfsistat OnData(SMFICTX* ctx) {
  Trace(ctx, "data", "", {"i"});
  return Answer(ctx, Step::kData);
}
sfsistat OnHeader(SMFICTX* ctx, char* name, char* value) {
  if (g_settings.trace) {
    std::string v(value);
    for (char& c : v) {
      if (c == '\n') c = '|';  // show folding without breaking the line
      if (c == '\r') c = '~';
    }
    // Built with append(): GCC 12 reports a false -Wrestrict for the
    // equivalent chain of operator+ here.
    std::string args = "[";
    args.append(name).append("]=[").append(v).append("]");
    Trace(ctx, "header", args, {});
  }
  return Answer(ctx, Step::kHeader);
}
sfsistat OnEoh(SMFICTX* ctx) {
  Trace(ctx, "eoh", "", {"i"});
  return Answer(ctx, Step::kEoh);
}
sfsistat OnBody(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  if (g_settings.trace) {
    std::string head(reinterpret_cast<const char*>(chunk), len < 16 ? len : 16);
    for (char& c : head) {
      if (c == '\n') c = '|';
      if (c == '\r') c = '~';
    }
    Trace(ctx, "body", "len=" + std::to_string(len) + " start=[" + head + "]", {});
  }
  return Answer(ctx, Step::kBody);
}

sfsistat OnEom(SMFICTX* ctx) {
  Trace(ctx, "eom", "", {"i"});
  if (g_settings.reject_at == Step::kEom) return Refuse(ctx);
  if (g_settings.add_header) {
    char name[] = "X-MW-Null";
    char value[] = "yes";
    if (smfi_addheader(ctx, name, value) != MI_SUCCESS) return SMFIS_TEMPFAIL;
  }
  if (g_settings.quarantine) {
    char reason[] = "mw-null-milter --quarantine";
    if (smfi_quarantine(ctx, reason) != MI_SUCCESS) return SMFIS_TEMPFAIL;
  }
  return SMFIS_ACCEPT;
}

sfsistat OnAbort(SMFICTX* ctx) {
  Trace(ctx, "abort", "", {});
  return SMFIS_CONTINUE;
}

sfsistat OnClose(SMFICTX* ctx) {
  Trace(ctx, "close", "", {});
  smfi_setpriv(ctx, nullptr);  // libmilter warns about leftover private data
  return SMFIS_CONTINUE;
}

bool ParseStep(const std::string& text, Step* out) {
  static const std::pair<const char*, Step> kSteps[] = {
      {"connect", Step::kConnect}, {"helo", Step::kHelo}, {"mail", Step::kMail},
      {"rcpt", Step::kRcpt},       {"data", Step::kData}, {"header", Step::kHeader},
      {"eoh", Step::kEoh},         {"body", Step::kBody}, {"eom", Step::kEom}};
  for (const auto& [name, step] : kSteps) {
    if (text == name) {
      *out = step;
      return true;
    }
  }
  return false;
}

// Splits "552 5.3.4 Message too big" into code, enhanced code and text.
// The enhanced code is optional; it must be of the same class as the code.
bool ParseReply(const std::string& text, Settings* s) {
  auto digits = [](std::string_view t) {
    return !t.empty() && t.size() <= 3 &&
           t.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (text.size() < 3 || (text[0] != '4' && text[0] != '5') ||
      !digits(std::string_view(text).substr(0, 3)) || (text.size() > 3 && text[3] != ' ')) {
    return false;
  }
  s->reply_code = text.substr(0, 3);
  std::string rest = text.size() > 4 ? text.substr(4) : std::string();
  size_t space = rest.find(' ');
  std::string_view first = std::string_view(rest).substr(0, space);
  size_t dot1 = first.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : first.find('.', dot1 + 1);
  if (dot2 != std::string_view::npos && first[0] == text[0] && digits(first.substr(0, dot1)) &&
      digits(first.substr(dot1 + 1, dot2 - dot1 - 1)) && digits(first.substr(dot2 + 1))) {
    s->reply_xcode = std::string(first);
    rest = space == std::string::npos ? std::string() : rest.substr(space + 1);
  }
  s->reply_text = rest;
  return true;
}

int Usage(const char* error) { return UsageError("mw-null-milter", kUsage, error); }

int Main(int argc, char** argv) {
  std::string socket_text = "inet:127.0.0.1:8899";
  bool nodelay = false;
  uint64_t timeout_s = 300;
  uint64_t backlog = 0;
  double max_runtime_s = 0;
  std::string reply_text;
  // An option's value is the next argument; "--name=VALUE" is not accepted here.
  ArgReader args(argc, argv, /*inline_values=*/false);
  while (args.Next()) {
    const std::string& arg = args.arg();
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--socket") {
      if (!args.Value(&socket_text)) return Usage("--socket needs a value");
    } else if (arg == "--add-header") {
      g_settings.add_header = true;
    } else if (arg == "--nodelay") {
      nodelay = true;
    } else if (arg == "--no-reply") {
      g_settings.no_reply = true;
    } else if (arg == "--skip-steps") {
      g_settings.skip_steps = true;
    } else if (arg == "--trace") {
      g_settings.trace = true;
    } else if (arg == "--quarantine") {
      g_settings.quarantine = true;
    } else if (arg == "--reject-at") {
      if (!args.Value(&v) || !ParseStep(v, &g_settings.reject_at)) {
        return Usage("--reject-at needs a step name");
      }
    } else if (arg == "--reply") {
      if (!args.Value(&reply_text) || !ParseReply(reply_text, &g_settings)) {
        return Usage("--reply needs \"4xx|5xx [X.Y.Z] [text]\"");
      }
    } else if (arg == "--timeout") {
      if (!args.Uint(1, 86400, &timeout_s)) return Usage("--timeout needs 1..86400 seconds");
    } else if (arg == "--backlog") {
      if (!args.Uint(1, 65535, &backlog)) return Usage("--backlog needs 1..65535");
    } else if (arg == "--max-runtime") {
      if (!args.Seconds(7 * 86400, &max_runtime_s)) return Usage("--max-runtime needs seconds");
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  Result<SocketSpec> parsed = ParseBenchSocket(socket_text);
  if (!parsed.ok()) return Usage(parsed.status().message().c_str());
  const SocketSpec spec = std::move(parsed).value();
  if (nodelay && spec.kind != SocketSpec::Kind::kInet) {
    std::fprintf(stderr, "mw-null-milter: --nodelay ignored for a unix socket\n");
    nodelay = false;
  }

  unsigned long flags = 0;
  if (g_settings.add_header) flags |= SMFIF_ADDHDRS;
  if (g_settings.quarantine) flags |= SMFIF_QUARANTINE;
  char name[] = "mw-null-milter";
  smfiDesc desc{};
  desc.xxfi_name = name;
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = flags;
  desc.xxfi_connect = OnConnect;
  desc.xxfi_helo = OnHelo;
  desc.xxfi_envfrom = OnEnvFrom;
  desc.xxfi_envrcpt = OnEnvRcpt;
  desc.xxfi_header = OnHeader;
  desc.xxfi_eoh = OnEoh;
  desc.xxfi_body = OnBody;
  desc.xxfi_eom = OnEom;
  desc.xxfi_abort = OnAbort;
  desc.xxfi_close = OnClose;
  desc.xxfi_data = OnData;
  desc.xxfi_negotiate = OnNegotiate;

  std::string conn = spec.ToLibmilter();
  if (smfi_setconn(conn.data()) != MI_SUCCESS) {
    std::fprintf(stderr, "mw-null-milter: smfi_setconn(%s) failed\n", conn.c_str());
    return 1;
  }
  if (smfi_settimeout(static_cast<int>(timeout_s)) != MI_SUCCESS ||
      (backlog > 0 && smfi_setbacklog(static_cast<int>(backlog)) != MI_SUCCESS)) {
    std::fprintf(stderr, "mw-null-milter: bad timeout or backlog\n");
    return 1;
  }
  if (smfi_register(desc) != MI_SUCCESS) {
    std::fprintf(stderr, "mw-null-milter: smfi_register failed\n");
    return 1;
  }
  // Bind and listen now, so that "ready" is true when printed and the
  // listening socket exists for --nodelay. true: remove a stale unix socket.
  if (smfi_opensocket(true) != MI_SUCCESS) {
    std::fprintf(stderr, "mw-null-milter: cannot listen on %s\n", conn.c_str());
    return 1;
  }
  if (nodelay) {
    // The same call mailwarden-milter makes, so the baseline is stall-free the same way.
    mailwarden::Status s = mailwarden::SetNodelayOnListeners(spec.port);
    if (!s.ok()) {
      std::fprintf(stderr, "mw-null-milter: --nodelay: %s\n", s.ToString().c_str());
      return 1;
    }
  }

  // --max-runtime: a watchdog asks libmilter to stop; smfi_main() returns
  // once its listener notices (within about a second).
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::thread watchdog;
  if (max_runtime_s > 0) {
    watchdog = std::thread([&] {
      // smfi_main() blocks these signals in its threads and waits for them in
      // a dedicated one; this thread predates it and must not catch them.
      sigset_t blocked;
      sigemptyset(&blocked);
      sigaddset(&blocked, SIGHUP);
      sigaddset(&blocked, SIGINT);
      sigaddset(&blocked, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, std::chrono::duration<double>(max_runtime_s),
                       [&] { return finished; })) {
        std::fprintf(stderr, "mw-null-milter: --max-runtime reached\n");
        smfi_stop();
      }
    });
  }

  if (nodelay) {
    std::fprintf(stderr, "mw-null-milter: TCP_NODELAY set on the listener\n");
  }
  std::fprintf(stderr, "mw-null-milter: ready on %s\n", spec.ToString().c_str());
  std::fflush(stderr);
  int rc = smfi_main();
  {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
  }
  cv.notify_all();
  if (watchdog.joinable()) watchdog.join();
  return rc == MI_SUCCESS ? 0 : 1;
}

}  // namespace
}  // namespace mailwarden::bench

int main(int argc, char** argv) { return mailwarden::bench::Main(argc, argv); }

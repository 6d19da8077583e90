// libmilter callbacks. Distrusts what the MTA sends only as far as libmilter does not:
// every string may be null, and every callback catches exceptions and turns them into the
// configured on_internal_error verdict (an exception must never unwind into libmilter's C).
#include "milter/milter_glue.h"

#include <libmilter/mfapi.h>
#include <string.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <string>

#include "common/daemon.h"
#include "common/log.h"

namespace mailwarden {
namespace {

MilterServices* g_services = nullptr;
std::atomic<int> g_in_flight{0};
std::atomic<bool> g_draining{false};

// State of one MTA connection (one SMTP session, several messages).
struct Connection {
  Envelope session;                      // client and HELO, kept across messages
  unsigned long no_reply_steps = 0;      // SMFIP_NR_* flags the MTA agreed to
  std::shared_ptr<const Engine> engine;  // taken at MAIL FROM
  std::unique_ptr<Message> message;      // the message in progress
  bool counted = false;                  // counted in g_in_flight

  void EndMessage() {
    message.reset();
    engine.reset();
    if (counted) {
      g_in_flight.fetch_sub(1);
      counted = false;
    }
  }
};

Connection* Conn(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }

// The connection state, created on first use (at negotiation with a protocol-6 MTA, at
// connect otherwise). libmilter's private pointer owns it until OnClose takes it back.
Connection* EnsureConn(SMFICTX* ctx) {
  if (Connection* c = Conn(ctx)) return c;
  auto c = std::make_unique<Connection>();
  smfi_setpriv(ctx, c.get());
  return c.release();
}

std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

std::string Macro(SMFICTX* ctx, const char* name) {
  return Str(smfi_getsymval(ctx, const_cast<char*>(name)));
}

// "<a@b>" -> "a@b".
std::string StripBrackets(std::string addr) {
  if (addr.size() >= 2 && addr.front() == '<' && addr.back() == '>') {
    addr = addr.substr(1, addr.size() - 2);
  }
  return addr;
}

// The answer to a step the milter only listens to: none when the MTA agreed not to wait
// for one (SMFIP_NR_*), "continue" otherwise.
sfsistat Streamed(SMFICTX* ctx, unsigned long no_reply_flag) {
  Connection* c = Conn(ctx);
  return c != nullptr && (c->no_reply_steps & no_reply_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

void LogDecision(const Engine& engine, const Message& message, const Verdict& verdict,
                 Stage stage) {
  if (!engine.ShouldLog(verdict)) return;
  if (auto log = g_services->decision_log()) {
    log->Write(engine.DecisionRecord(message, verdict, stage));
  }
}

// Applies a reject or tempfail verdict: the reply and the matching libmilter status.
sfsistat Refuse(SMFICTX* ctx, const Verdict& verdict) {
  std::string code = std::to_string(verdict.smtp_code);
  // libmilter treats '%' as a format character in replies; the engine removed them.
  if (smfi_setreply(ctx, code.data(), const_cast<char*>(verdict.enhanced_code.c_str()),
                    const_cast<char*>(verdict.text.c_str())) != MI_SUCCESS) {
    LogWarn("smfi_setreply refused the reply \"" + verdict.ReplyLine() + "\"");
  }
  return verdict.action == Action::kReject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

// The failure mode for an exception escaping our code inside a callback.
sfsistat InternalError(SMFICTX* ctx, const char* where, const char* what) {
  LogError(std::string("internal error in ") + where + ": " + what);
  Connection* c = Conn(ctx);
  std::shared_ptr<const Engine> engine = c && c->engine ? c->engine : g_services->engine();
  Action mode = engine ? engine->config().milter.on_internal_error : Action::kTempfail;
  if (c) c->EndMessage();
  if (mode == Action::kAccept) return SMFIS_ACCEPT;
  Verdict v;
  v.action = mode;
  v.smtp_code = mode == Action::kReject ? 550 : 451;
  v.enhanced_code = mode == Action::kReject ? "5.3.0" : "4.3.0";
  v.text = mode == Action::kReject
               ? "message could not be checked"
               : "temporary failure while checking the message, try again later";
  return Refuse(ctx, v);
}

// Runs a callback's body; an exception becomes the configured on_internal_error verdict
// instead of unwinding into libmilter's C code.
template <typename Body>
sfsistat Guarded(SMFICTX* ctx, const char* where, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return InternalError(ctx, where, e.what());
  } catch (...) {
    return InternalError(ctx, where, "unknown exception");
  }
}

// The reply while the daemon is stopping: the MTA keeps the message and retries.
sfsistat Draining(SMFICTX* ctx) {
  smfi_setreply(ctx, const_cast<char*>("421"), const_cast<char*>("4.3.2"),
                const_cast<char*>("mail filter restarting, try again later"));
  return SMFIS_TEMPFAIL;
}

sfsistat OnNegotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long /*f2*/,
                     unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1,
                     unsigned long* pf2, unsigned long* pf3) {
  return Guarded(ctx, "negotiate", [&] {
    // Actions: add and change headers, quarantine (Postfix's hold queue).
    if ((f0 & (SMFIF_ADDHDRS | SMFIF_QUARANTINE)) != (SMFIF_ADDHDRS | SMFIF_QUARANTINE)) {
      LogError("the MTA does not offer header changes and quarantine; refusing to filter");
      return SMFIS_REJECT;
    }
    *pf0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST) & f0;
    // Steps we skip, and steps we take without answering: fewer round trips per message.
    // We answer MAIL FROM (early size refusal) and end of message; everything else streams.
    unsigned long skip = SMFIP_NOUNKNOWN | SMFIP_NODATA;
    unsigned long no_reply =
        SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
    *pf1 = (skip | no_reply) & f1;
    *pf2 = 0;
    *pf3 = 0;
    EnsureConn(ctx)->no_reply_steps = no_reply & f1;
    // Ask only for the macros we use, at the stage we use them.
    smfi_setsymlist(ctx, SMFIM_CONNECT,
                    const_cast<char*>("{client_addr} {client_name} {daemon_name} {daemon_port}"));
    smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen} {daemon_name}"));
    smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
    return SMFIS_CONTINUE;
  });
}

sfsistat OnConnect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* /*hostaddr*/) {
  return Guarded(ctx, "connect", [&] {
    // No refusal here even while draining: the connect step is negotiated without a reply
    // (SMFIP_NR_CONN), so a reply would desynchronise the MTA. MAIL FROM refuses instead.
    Connection* c = EnsureConn(ctx);
    c->session.client_name = Str(hostname);
    c->session.client_addr = Macro(ctx, "{client_addr}");
    c->session.daemon_name = Macro(ctx, "{daemon_name}");
    // Postfix's non_smtpd_milters (pickup, sendmail) see a made-up connection from
    // localhost [127.0.0.1] whose ports are "0"; a real SMTP session always has a server
    // port. An MTA that does not send the macro is taken to be speaking SMTP.
    c->session.smtp = Macro(ctx, "{daemon_port}") != "0";
    return Streamed(ctx, SMFIP_NR_CONN);
  });
}

sfsistat OnHelo(SMFICTX* ctx, char* helo) {
  return Guarded(ctx, "helo", [&] {
    if (Connection* c = Conn(ctx)) c->session.helo = Str(helo);
    return Streamed(ctx, SMFIP_NR_HELO);
  });
}

sfsistat OnEnvFrom(SMFICTX* ctx, char** argv) {
  return Guarded(ctx, "mail_from", [&] {
    Connection* c = Conn(ctx);
    if (c == nullptr) return InternalError(ctx, "mail_from", "no connection state");
    c->EndMessage();
    Envelope env = c->session;
    env.mail_from = StripBrackets(Str(argv[0]));
    env.auth_user = Macro(ctx, "{auth_authen}");
    for (int i = 1; argv[i] != nullptr; ++i) {
      if (strncasecmp(argv[i], "SIZE=", 5) == 0) {
        char* end = nullptr;
        unsigned long long n = std::strtoull(argv[i] + 5, &end, 10);
        if (end != argv[i] + 5 && *end == '\0') env.announced_size = n;
      }
    }
    // Count the message before looking at the drain flag: the stopping thread sets the flag
    // before it reads the count, so a message is either refused here or waited for.
    g_in_flight.fetch_add(1);
    c->counted = true;
    if (g_draining.load()) {
      c->EndMessage();
      return Draining(ctx);
    }
    c->engine = g_services->engine();
    c->message = c->engine->NewMessage(std::move(env));
    // Without an SMTP dialogue (env.smtp false) there is nothing to refuse before end of
    // message: Postfix treats a non_smtpd milter's early refusal as a configuration error.
    if (!c->message->envelope().smtp) return SMFIS_CONTINUE;
    Verdict v = c->engine->AtMailFrom(c->message->envelope());
    if (v.action != Action::kReject && v.action != Action::kTempfail) return SMFIS_CONTINUE;
    LogDecision(*c->engine, *c->message, v, Stage::kMailFrom);
    sfsistat status = Refuse(ctx, v);
    c->EndMessage();
    return status;
  });
}

sfsistat OnEnvRcpt(SMFICTX* ctx, char** argv) {
  return Guarded(ctx, "rcpt", [&] {
    Connection* c = Conn(ctx);
    if (c != nullptr && c->message) {
      c->message->mutable_envelope().recipients.push_back(StripBrackets(Str(argv[0])));
    }
    return Streamed(ctx, SMFIP_NR_RCPT);
  });
}

sfsistat OnHeader(SMFICTX* ctx, char* name, char* value) {
  return Guarded(ctx, "header", [&] {
    Connection* c = Conn(ctx);
    if (c != nullptr && c->message) c->message->AddHeader(Str(name), Str(value));
    return Streamed(ctx, SMFIP_NR_HDR);
  });
}

sfsistat OnEndOfHeaders(SMFICTX* ctx) { return Streamed(ctx, SMFIP_NR_EOH); }

sfsistat OnBody(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  return Guarded(ctx, "body", [&] {
    Connection* c = Conn(ctx);
    if (c != nullptr && c->message) {
      c->message->AppendBody(std::string_view(reinterpret_cast<const char*>(chunk), len));
    }
    return Streamed(ctx, SMFIP_NR_BODY);
  });
}

sfsistat OnEndOfMessage(SMFICTX* ctx) {
  return Guarded(ctx, "eom", [&] {
    Connection* c = Conn(ctx);
    if (c == nullptr || !c->message) return InternalError(ctx, "eom", "no message state");
    // Postfix assigns the queue id after RCPT; read it as late as possible.
    c->message->mutable_envelope().queue_id = Macro(ctx, "i");
    const Engine& engine = *c->engine;
    Verdict v = engine.AtEndOfMessage(*c->message);
    sfsistat status = SMFIS_ACCEPT;
    if (v.action == Action::kReject || v.action == Action::kTempfail) {
      status = Refuse(ctx, v);
    } else {
      for (const HeaderField& h : v.add_headers) {
        smfi_addheader(ctx, const_cast<char*>(h.name.c_str()), const_cast<char*>(h.value.c_str()));
      }
      if (v.action == Action::kQuarantine &&
          smfi_quarantine(ctx, const_cast<char*>(v.text.c_str())) != MI_SUCCESS) {
        // Holding failed: the message must not slip through; let the sender retry.
        LogError("smfi_quarantine failed for " + c->message->envelope().queue_id);
        Verdict t;
        t.action = Action::kTempfail;
        t.smtp_code = 451;
        t.enhanced_code = "4.3.0";
        t.text = "temporary failure, try again later";
        status = Refuse(ctx, t);
      }
    }
    LogDecision(engine, *c->message, v, Stage::kEndOfMessage);
    c->EndMessage();
    return status;
  });
}

sfsistat OnAbort(SMFICTX* ctx) {
  if (Connection* c = Conn(ctx)) c->EndMessage();
  return SMFIS_CONTINUE;
}

sfsistat OnClose(SMFICTX* ctx) {
  std::unique_ptr<Connection> c(Conn(ctx));
  smfi_setpriv(ctx, nullptr);
  if (c) c->EndMessage();
  return SMFIS_CONTINUE;
}

struct smfiDesc g_filter = {
    const_cast<char*>("mailwarden"),
    SMFI_VERSION,
    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
    OnConnect,
    OnHelo,
    OnEnvFrom,
    OnEnvRcpt,
    OnHeader,
    OnEndOfHeaders,
    OnBody,
    OnEndOfMessage,
    OnAbort,
    OnClose,
    nullptr,  // unknown commands: skipped
    nullptr,  // DATA: skipped
    OnNegotiate,
};

}  // namespace

Status MilterOpen(const SocketSpec& spec, int timeout_seconds, MilterServices services) {
  static MilterServices stored;
  stored = std::move(services);
  g_services = &stored;
  if (Status s = ClaimUnixSocketPath(spec); !s.ok()) return s;
  std::string conn = spec.ToLibmilter();
  if (smfi_setconn(conn.data()) != MI_SUCCESS)
    return Status::InvalidArgument("smfi_setconn " + conn);
  smfi_settimeout(timeout_seconds);
  if (smfi_register(g_filter) != MI_SUCCESS) return Status::Internal("smfi_register failed");
  // rmsocket=false: ClaimUnixSocketPath already removed a stale socket and refused a live one.
  if (smfi_opensocket(false) != MI_SUCCESS) {
    return Status::IoError("cannot listen on " + spec.ToString() +
                           " (address in use, or no permission)");
  }
  if (spec.kind == SocketSpec::Kind::kInet) {
    // libmilter writes each reply with its own small write(2) and sets no TCP_NODELAY: a
    // reply after a header change would wait ~40 ms for the MTA's delayed ACK.
    if (Status s = SetNodelayOnListeners(spec.port); !s.ok()) {
      LogWarn("could not set TCP_NODELAY on the milter socket: " + s.ToString());
    }
  }
  return Status::Ok();
}

Status MilterRun() {
  return smfi_main() == MI_SUCCESS ? Status::Ok() : Status::IoError("smfi_main failed");
}

void MilterDrain() { g_draining.store(true); }

int MilterMessagesInFlight() { return g_in_flight.load(); }

}  // namespace mailwarden

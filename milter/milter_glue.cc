// The filter behind each MTA connection. Every step catches exceptions from our code: one
// at MAIL FROM or end of message becomes the configured on_internal_error verdict at once;
// one while the message streams in (headers, body) ends the message, and its end of
// message gets that verdict, so a failed check never lets a message pass unseen.
#include "milter/milter_glue.h"

#include <strings.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "common/daemon.h"
#include "common/log.h"
#include "milter/checks/forwarding_traces.h"
#include "milter/protocol/server.h"

namespace mailwarden {
namespace {

using namespace milter;  // NOLINT: the wire vocabulary

MilterServices* g_services = nullptr;
std::unique_ptr<MilterServer> g_server;
std::unique_ptr<MilterServer> g_egress_server;  // milter.egress_socket, when set
std::atomic<int> g_in_flight{0};
std::atomic<bool> g_draining{false};

// "<a@b>" -> "a@b".
std::string StripBrackets(std::string_view addr) {
  if (addr.size() >= 2 && addr.front() == '<' && addr.back() == '>') {
    addr = addr.substr(1, addr.size() - 2);
  }
  return std::string(addr);
}

Verdict FailureVerdict(Action mode) {
  Verdict v;
  v.action = mode;
  v.smtp_code = mode == Action::kReject ? 550 : 451;
  v.enhanced_code = mode == Action::kReject ? "5.3.0" : "4.3.0";
  v.text = mode == Action::kReject
               ? "message could not be checked"
               : "temporary failure while checking the message, try again later";
  return v;
}

// State of one MTA connection (one SMTP session, several messages).
class FilterConnection : public MilterHandler {
 public:
  // `egress`: a connection on the egress listener (Envelope::egress).
  explicit FilterConnection(bool egress) : egress_(egress) {}
  ~FilterConnection() override { EndMessage(); }

  // The CONNECT and HELO steps are negotiated away (the client comes as MAIL FROM macros);
  // an MTA that sends them anyway is heard.
  void OnConnect(const MilterMacros& macros, std::string_view host_name,
                 std::string_view address) override {
    Guarded("connect", [&] {
      session_ = Envelope();
      session_.client_name = std::string(host_name);
      session_.client_addr = std::string(address);
      TakeClientMacros(macros);
    });
  }

  void OnHelo(const MilterMacros&, std::string_view helo) override {
    Guarded("helo", [&] { session_.helo = std::string(helo); });
  }

  MilterReply OnMailFrom(const MilterMacros& macros,
                         const std::vector<std::string_view>& args) override {
    return Answered("mail_from", [&] {
      EndMessage();
      failure_.clear();
      TakeClientMacros(macros);
      Envelope env = session_;
      env.egress = egress_;
      env.mail_from = StripBrackets(args[0]);
      env.auth_user = std::string(macros.Get("auth_authen"));
      for (size_t i = 1; i < args.size(); ++i) {
        if (args[i].size() > 5 && strncasecmp(args[i].data(), "SIZE=", 5) == 0) {
          std::string digits(args[i].substr(5));
          char* end = nullptr;
          unsigned long long n = std::strtoull(digits.c_str(), &end, 10);
          if (end != digits.c_str() && *end == '\0') env.announced_size = n;
        }
      }
      // Count the message before looking at the drain flag: the stopping thread sets the
      // flag before it reads the count, so a message is either refused here or waited for.
      g_in_flight.fetch_add(1);
      counted_ = true;
      if (g_draining.load()) {
        EndMessage();
        return MilterReply::Refuse("421 4.3.2 mail filter restarting, try again later");
      }
      engine_ = g_services->engine();
      message_ = engine_->NewMessage(std::move(env));
      // Without an SMTP dialogue there is nothing to refuse before end of message: Postfix
      // treats a non_smtpd milter's early refusal as a configuration error.
      if (!message_->envelope().smtp) return MilterReply::Continue();
      Verdict v = engine_->AtMailFrom(message_->envelope());
      if (v.action != Action::kReject && v.action != Action::kTempfail)
        return MilterReply::Continue();
      LogDecision(v, Stage::kMailFrom);
      EndMessage();
      return MilterReply::Refuse(v.ReplyLine());
    });
  }

  MilterReply OnRcpt(const MilterMacros&, const std::vector<std::string_view>& args) override {
    if (!egress_) {
      Guarded("rcpt", [&] { AddRecipient(args); });
      return MilterReply::Continue();
    }
    // The egress listener answers each recipient: one the MTA expanded into a forward
    // outside the state domains is refused alone, the others go on.
    return Answered("rcpt", [&] {
      if (!message_) return MilterReply::Continue();
      AddRecipient(args);
      Envelope& env = message_->mutable_envelope();
      Verdict v = engine_->AtRecipient(env);
      if (v.action != Action::kReject && v.action != Action::kTempfail)
        return MilterReply::Continue();
      LogDecision(v, Stage::kRecipient);
      // A refused recipient is not part of the message any more.
      env.recipients.pop_back();
      env.original_recipients.pop_back();
      return MilterReply::Refuse(v.ReplyLine());
    });
  }

  void OnHeader(const MilterMacros&, std::string_view name, std::string_view value) override {
    Guarded("header", [&] {
      if (message_) message_->AddHeader(std::string(name), std::string(value));
    });
  }

  void OnBody(const MilterMacros&, std::string_view chunk) override {
    Guarded("body", [&] {
      if (message_) message_->AppendBody(chunk);
    });
  }

  MilterReply OnEndOfMessage(const MilterMacros& macros) override {
    return Answered("eom", [&] {
      if (!failure_.empty()) {
        std::string why = failure_;
        failure_.clear();
        return InternalError("the message's content", why.c_str());
      }
      if (!message_) return InternalError("eom", "end of message without MAIL FROM");
      // Postfix assigns the queue id after RCPT; read it as late as possible.
      message_->mutable_envelope().queue_id = std::string(macros.Get("i"));
      Verdict v = engine_->AtEndOfMessage(*message_);
      MilterReply reply;
      if (v.action == Action::kReject || v.action == Action::kTempfail) {
        reply = MilterReply::Refuse(v.ReplyLine());
      } else {
        reply = MilterReply::Accept();
        for (const HeaderField& h : v.add_headers) reply.add_headers.emplace_back(h.name, h.value);
        for (const HeaderField& h : v.change_headers)
          reply.change_headers.emplace_back(h.name, h.value);
        if (v.action == Action::kQuarantine) reply.quarantine_reason = v.text;
      }
      // The message was logged when it came in; the egress listener logs what it refuses
      // or marks, not every message leaving a second time.
      if (!egress_ || v.action != Action::kAccept) LogDecision(v, Stage::kEndOfMessage);
      EndMessage();
      return reply;
    });
  }

  void OnAbort() override { EndMessage(); }

 private:
  // The client as the MTA's macros describe it. Postfix's non_smtpd_milters (pickup,
  // sendmail) see a made-up connection from localhost whose ports are "0"; a real SMTP
  // session always has a server port. An MTA that does not send the macro is taken to be
  // speaking SMTP.
  void TakeClientMacros(const MilterMacros& macros) {
    if (std::string_view addr = macros.Get("client_addr"); !addr.empty())
      session_.client_addr = std::string(addr);
    // Postfix says "unknown" for a client without a verified name.
    if (std::string_view name = macros.Get("client_name"); !name.empty())
      session_.client_name = name == "unknown" ? std::string() : std::string(name);
    if (std::string_view daemon = macros.Get("daemon_name"); !daemon.empty())
      session_.daemon_name = std::string(daemon);
    session_.smtp = macros.Get("daemon_port") != "0";
  }

  // Adds the recipient of a RCPT step, with its ORCPT.
  void AddRecipient(const std::vector<std::string_view>& args) {
    if (!message_) return;
    Envelope& env = message_->mutable_envelope();
    std::string original;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i].size() > 6 && strncasecmp(args[i].data(), "ORCPT=", 6) == 0)
        original = DecodeOrcpt(args[i].substr(6));
    }
    env.recipients.push_back(StripBrackets(args[0]));
    env.original_recipients.push_back(std::move(original));
  }

  void EndMessage() {
    message_.reset();
    engine_.reset();
    if (counted_) {
      g_in_flight.fetch_sub(1);
      counted_ = false;
    }
  }

  void LogDecision(const Verdict& verdict, Stage stage) {
    if (!engine_->ShouldLog(verdict)) return;
    if (auto log = g_services->decision_log()) {
      log->Write(engine_->DecisionRecord(*message_, verdict, stage));
    }
  }

  // A step without a reply failed: the message is over, and its end of message gets the
  // on_internal_error verdict.
  template <typename Body>
  void Guarded(const char* where, Body&& body) {
    try {
      body();
    } catch (const std::exception& e) {
      Failed(where, e.what());
    } catch (...) {
      Failed(where, "unknown exception");
    }
  }

  // A step with a reply: an exception becomes the on_internal_error verdict at once.
  template <typename Body>
  MilterReply Answered(const char* where, Body&& body) {
    try {
      return body();
    } catch (const std::exception& e) {
      return InternalError(where, e.what());
    } catch (...) {
      return InternalError(where, "unknown exception");
    }
  }

  void Failed(const char* where, const char* what) {
    LogError(std::string("internal error in ") + where + ": " + what);
    if (failure_.empty()) failure_ = std::string(where) + ": " + what;
    if (message_) {
      // Keep counting the message as in flight until its end of message answers it.
      message_.reset();
    }
  }

  // The failure mode for an exception escaping our code at a step with a reply.
  MilterReply InternalError(const char* where, const char* what) {
    LogError(std::string("internal error in ") + where + ": " + what);
    std::shared_ptr<const Engine> engine = engine_ ? engine_ : g_services->engine();
    Action mode = engine ? engine->config().milter.on_internal_error : Action::kTempfail;
    EndMessage();
    if (mode == Action::kAccept) return MilterReply::Accept();
    return MilterReply::Refuse(FailureVerdict(mode).ReplyLine());
  }

  const bool egress_;
  Envelope session_;                      // client and HELO, kept across messages
  std::shared_ptr<const Engine> engine_;  // taken at MAIL FROM
  std::unique_ptr<Message> message_;      // the message in progress
  std::string failure_;                   // why the message in progress failed
  bool counted_ = false;                  // counted in g_in_flight
};

MilterCapabilities FilterCapabilities(bool egress) {
  MilterCapabilities c;
  // Add and change headers, quarantine (Postfix's hold queue).
  c.required_actions = kActAddHeaders | kActQuarantine;
  c.actions = kActAddHeaders | kActChangeHeaders | kActQuarantine | kActSetSymList;
  // Steps we skip, and steps we take without answering: fewer round trips per message.
  // We answer MAIL FROM (early size refusal) and end of message; everything else streams.
  // CONNECT and HELO are skipped too: the MAIL FROM macros carry what we use of them, and
  // each step skipped is a write in Postfix and a wake-up here per SMTP session.
  c.skipped_steps = kProtoNoConnect | kProtoNoHelo | kProtoNoUnknown | kProtoNoData | kProtoNoEoh;
  c.unanswered_steps =
      kProtoNrConnect | kProtoNrHelo | kProtoNrRcpt | kProtoNrHeader | kProtoNrEoh | kProtoNrBody;
  // Only the macros we use, at the stage we use them.
  c.macros[static_cast<size_t>(MacroStage::kMail)] =
      "{auth_authen} {client_addr} {client_name} {daemon_name} {daemon_port}";
  c.macros[static_cast<size_t>(MacroStage::kEndOfMessage)] = "i";
  if (egress) {
    // The egress listener answers each RCPT (refusing one forwarded recipient alone) and
    // judges forwarding from the envelope: the content was judged when it came in, so
    // header and body are not even sent.
    c.unanswered_steps &= ~kProtoNrRcpt;
    c.skipped_steps |= kProtoNoHeaders | kProtoNoBody;
  }
  return c;
}

}  // namespace

namespace {

Result<std::unique_ptr<MilterServer>> OpenServer(const SocketSpec& spec,
                                                 const MilterListenOptions& options, bool egress) {
  if (Status s = ClaimUnixSocketPath(spec); !s.ok()) return s;
  auto listener = OpenListener(spec, SOMAXCONN);
  if (!listener.ok()) return listener.status();
  MilterServer::Options server_options;
  server_options.timeout_seconds = options.timeout_seconds;
  server_options.max_connections = options.max_connections;
  return std::make_unique<MilterServer>(
      UniqueFd(*listener), FilterCapabilities(egress),
      [egress] { return std::make_unique<FilterConnection>(egress); }, server_options);
}

}  // namespace

Status MilterOpen(const SocketSpec& spec, const SocketSpec* egress_spec,
                  const MilterListenOptions& options, MilterServices services) {
  static MilterServices stored;
  stored = std::move(services);
  g_services = &stored;
  auto server = OpenServer(spec, options, /*egress=*/false);
  if (!server.ok()) return server.status();
  g_server = std::move(*server);
  if (egress_spec != nullptr) {
    auto egress = OpenServer(*egress_spec, options, /*egress=*/true);
    if (!egress.ok()) return egress.status();
    g_egress_server = std::move(*egress);
  }
  return Status::Ok();
}

Status MilterRun() {
  if (!g_server) return Status::Internal("MilterRun before MilterOpen");
  if (g_egress_server) {
    // Runs as long as the process; a failed egress socket ends the daemon like the main one.
    std::thread([] {
      Status s = g_egress_server->Run();
      LogError("egress listener stopped: " + s.ToString());
      std::_Exit(1);
    }).detach();
  }
  return g_server->Run();
}

void MilterDrain() { g_draining.store(true); }

int MilterMessagesInFlight() { return g_in_flight.load(); }

}  // namespace mailwarden

// MTA-side milter session (see milter_client.h).
//
// Distrusts: every packet from the milter. Reply lengths are bounded
// (milter::kMaxReplyPacket), every read has the per-read timeout, replies per
// step are bounded (kMaxRepliesPerStep), string arguments must be
// NUL-terminated, reply codes must look like SMTP replies, and replies that
// are not valid for the current step are protocol errors. Any failure closes
// the session; the caller counts it and reconnects.

#include "milter_client.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "bench_util.h"

namespace mailwarden::bench {
namespace {

namespace m = milter;

// A milter may legitimately send many SMFIR_PROGRESS packets or many
// modifications for one step, but not without end.
constexpr int kMaxRepliesPerStep = 100000;

// Output queued without waiting for a reply (no-reply steps, body chunks the
// milter does not answer) is sent once it exceeds this, like a full VSTREAM
// buffer in Postfix.
constexpr size_t kFlushThreshold = 256 * 1024;

std::string Printable(char c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", static_cast<unsigned char>(c));
  return buf;
}

// Splits a space-separated SETSYMLIST value into macro names, stripping
// braces so "{daemon_name}" and "daemon_name" compare equal.
std::vector<std::string> SplitMacroList(std::string_view text) {
  std::vector<std::string> names;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != ',') ++i;
    std::string_view name = text.substr(start, i - start);
    if (name.size() >= 2 && name.front() == '{' && name.back() == '}') {
      name = name.substr(1, name.size() - 2);
    }
    if (!name.empty()) names.emplace_back(name);
  }
  return names;
}

}  // namespace

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kNegotiate:
      return "negotiate";
    case Stage::kConnect:
      return "connect";
    case Stage::kHelo:
      return "helo";
    case Stage::kMail:
      return "mail";
    case Stage::kRcpt:
      return "rcpt";
    case Stage::kData:
      return "data";
    case Stage::kHeader:
      return "header";
    case Stage::kEoh:
      return "eoh";
    case Stage::kBody:
      return "body";
    case Stage::kEom:
      return "eom";
  }
  return "?";
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kContinue:
      return "continue";
    case Verdict::kAccept:
      return "accept";
    case Verdict::kReject:
      return "reject";
    case Verdict::kTempfail:
      return "tempfail";
    case Verdict::kDiscard:
      return "discard";
    case Verdict::kReplyCode:
      return "replycode";
    case Verdict::kShutdown:
      return "shutdown";
    case Verdict::kConnFail:
      return "conn_fail";
  }
  return "?";
}

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone:
      return "none";
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kProtocol:
      return "protocol";
  }
  return "?";
}

MilterSession::MilterSession(SessionOptions options) : options_(std::move(options)) {}

void MilterSession::Fail(Outcome* out, ErrorKind kind, std::string text) {
  out->error = kind;
  out->error_text = std::move(text);
  conn_.Close();
}

bool MilterSession::FlushOrFail(Outcome* out) {
  IoStatus st = conn_.Flush(Clock::now() + options_.timeout);
  if (st == IoStatus::kOk) return true;
  if (st == IoStatus::kTimeout) {
    Fail(out, ErrorKind::kTimeout, "timed out writing to the milter");
  } else {
    Fail(out, ErrorKind::kIo, "write failed: " + conn_.last_error());
  }
  return false;
}

bool MilterSession::MaybeFlush(Outcome* out) {
  if (conn_.pending_output() < kFlushThreshold) return true;
  return FlushOrFail(out);
}

bool MilterSession::ReadPacket(char* code, std::string* data, Outcome* out) {
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  char header[4];
  IoStatus st = conn_.ReadExact(header, sizeof(header), deadline);
  if (st == IoStatus::kOk) {
    uint32_t len = m::ReadUint32(std::string_view(header, sizeof(header)));
    if (len < 1 || len > m::kMaxReplyPacket) {
      Fail(out, ErrorKind::kProtocol, "bad reply packet length " + std::to_string(len));
      return false;
    }
    st = conn_.ReadExact(code, 1, deadline);
    if (st == IoStatus::kOk) {
      data->resize(len - 1);
      st = conn_.ReadExact(data->data(), len - 1, deadline);
    }
  }
  switch (st) {
    case IoStatus::kOk:
      return true;
    case IoStatus::kTimeout:
      Fail(out, ErrorKind::kTimeout, "timed out waiting for the milter");
      return false;
    case IoStatus::kEof:
      Fail(out, ErrorKind::kIo, "milter closed the connection");
      return false;
    case IoStatus::kError:
      Fail(out, ErrorKind::kIo, "read failed: " + conn_.last_error());
      return false;
  }
  return false;
}

Outcome MilterSession::Open(const SmtpClient& client) {
  Outcome out;
  out.stage = Stage::kNegotiate;
  std::string error;
  if (!conn_.Open(options_.spec, options_.timeout, options_.tcp_nodelay, options_.allow_remote,
                  &error)) {
    Fail(&out, ErrorKind::kConnect, error);
    return out;
  }
  if (!Negotiate(&out)) return out;

  std::string data;
  // CONNECT, with the connect macros Postfix sends by default
  // (milter_connect_macros = j {daemon_name} {daemon_addr} v _).
  QueueMacros(kMacConnect, m::kCmdConnect,
              {{"j", options_.mta_hostname},
               {"daemon_name", options_.mta_hostname},  // $myhostname
               {"daemon_addr", "127.0.0.1"},
               {"v", "Postfix 3.7.11"},
               {"_", client.name + " [" + client.address + "]"}});
  m::AppendConnectData(&data, client.name, client.port, client.address);
  StepResult r =
      Step(Stage::kConnect, m::kProtoNoConnect, m::kProtoNrConnect, m::kCmdConnect, data, &out);
  if (r == StepResult::kContinue) {
    // HELO. Postfix's default HELO macros are all TLS properties, which are
    // undefined on a plaintext connection, so no MACRO packet is needed.
    data.clear();
    m::AppendCString(&data, client.helo);
    r = Step(Stage::kHelo, m::kProtoNoHelo, m::kProtoNrHelo, m::kCmdHelo, data, &out);
  }
  if (r == StepResult::kError) return out;
  if (r == StepResult::kFinal || r == StepResult::kSkip) {
    if (r == StepResult::kSkip) {
      Fail(&out, ErrorKind::kProtocol, "SMFIR_SKIP outside the body");
      return out;
    }
    // A connection-level decision: stop talking to this milter.
    Quit();
    return out;
  }
  out.verdict = Verdict::kContinue;
  return out;
}

bool MilterSession::Negotiate(Outcome* out) {
  scratch_.clear();
  m::AppendOptneg(&scratch_, m::kProtocolVersion, options_.actions, options_.protocol);
  conn_.Append(scratch_);
  if (!FlushOrFail(out)) return false;
  char code = 0;
  std::string data;
  if (!ReadPacket(&code, &data, out)) return false;
  if (code != m::kCmdOptneg || data.size() < 12) {
    Fail(out, ErrorKind::kProtocol,
         "bad OPTNEG reply " + Printable(code) + " with " + std::to_string(data.size()) +
             " data bytes");
    return false;
  }
  version_ = m::ReadUint32(std::string_view(data).substr(0, 4));
  actions_ = m::ReadUint32(std::string_view(data).substr(4, 4));
  protocol_ = m::ReadUint32(std::string_view(data).substr(8, 4));
  if (version_ < 2 || version_ > m::kProtocolVersion) {
    Fail(out, ErrorKind::kProtocol,
         "milter protocol version " + std::to_string(version_) + " not supported");
    return false;
  }
  if ((actions_ & ~options_.actions) != 0) {
    // Postfix refuses such a milter too ("request mask conflict").
    Fail(out, ErrorKind::kProtocol,
         "milter wants actions " + HexString(actions_) + " beyond offered " +
             HexString(options_.actions));
    return false;
  }
  // Bits we did not offer are ignored, as Postfix does, except "no reply"
  // bits: honouring those is the only way to stay in step with the milter.
  constexpr uint32_t kNoReplyBits = m::kProtoNrHeader | m::kProtoNrConnect | m::kProtoNrHelo |
                                    m::kProtoNrMail | m::kProtoNrRcpt | m::kProtoNrData |
                                    m::kProtoNrUnknown | m::kProtoNrEoh | m::kProtoNrBody;
  if ((protocol_ & kNoReplyBits & ~options_.protocol) != 0) {
    Fail(out, ErrorKind::kProtocol,
         "milter will not reply to steps " + HexString(protocol_ & kNoReplyBits) + " but only " +
             HexString(options_.protocol & kNoReplyBits) + " were offered");
    return false;
  }
  protocol_ &= options_.protocol | kNoReplyBits;

  // Optional macro lists: (uint32 stage, NUL-terminated names)*.
  std::string_view rest = std::string_view(data).substr(12);
  macro_list_set_.fill(false);
  while (!rest.empty()) {
    size_t nul = rest.size() >= 4 ? rest.find('\0', 4) : std::string::npos;
    if (nul == std::string_view::npos) {
      Fail(out, ErrorKind::kProtocol, "malformed macro list in OPTNEG reply");
      return false;
    }
    uint32_t stage = m::ReadUint32(rest.substr(0, 4));
    if (stage < kMacStages) {
      macro_lists_[stage] = SplitMacroList(rest.substr(4, nul - 4));
      macro_list_set_[stage] = true;
    }
    rest.remove_prefix(nul + 1);
  }
  return true;
}

void MilterSession::QueueMacros(MacroStage stage, char command,
                                const std::vector<m::Macro>& macros) {
  std::vector<m::Macro> selected;
  if (macro_list_set_[stage]) {
    for (const m::Macro& macro : macros) {
      for (const std::string& wanted : macro_lists_[stage]) {
        if (wanted == macro.first) {
          selected.push_back(macro);
          break;
        }
      }
    }
  } else {
    selected = macros;
  }
  if (selected.empty()) return;
  scratch_.clear();
  m::AppendMacros(&scratch_, command, selected);
  conn_.Append(scratch_);
}

MilterSession::StepResult MilterSession::Step(Stage stage, uint32_t no_send_flag,
                                              uint32_t no_reply_flag, char command,
                                              std::string_view data, Outcome* out) {
  out->stage = stage;  // where an error, if any, happened
  if (no_send_flag != 0 && (protocol_ & no_send_flag) != 0) {
    return StepResult::kContinue;
  }
  scratch_.clear();
  m::AppendPacket(&scratch_, command, data);
  conn_.Append(scratch_);
  if (no_reply_flag != 0 && (protocol_ & no_reply_flag) != 0) {
    return MaybeFlush(out) ? StepResult::kContinue : StepResult::kError;
  }
  return AwaitReply(stage, out);
}

MilterSession::StepResult MilterSession::AwaitReply(Stage stage, Outcome* out) {
  if (!FlushOrFail(out)) return StepResult::kError;
  std::string data;
  std::vector<std::string_view> strings;
  for (int i = 0; i < kMaxRepliesPerStep; ++i) {
    char code = 0;
    if (!ReadPacket(&code, &data, out)) return StepResult::kError;

    auto final_verdict = [&](Verdict v) {
      if (!data.empty()) {
        Fail(out, ErrorKind::kProtocol, std::string(m::ReplyName(code)) + " with unexpected data");
        return StepResult::kError;
      }
      out->verdict = v;
      out->stage = stage;
      return StepResult::kFinal;
    };

    switch (code) {
      case m::kRepProgress:
        ++out->progress;
        continue;
      case m::kRepContinue:
        if (!data.empty()) break;
        if (stage == Stage::kEom) {
          out->verdict = Verdict::kContinue;
          out->stage = stage;
          return StepResult::kFinal;
        }
        return StepResult::kContinue;
      case m::kRepAccept:
        return final_verdict(Verdict::kAccept);
      case m::kRepReject:
        return final_verdict(Verdict::kReject);
      case m::kRepTempfail:
        return final_verdict(Verdict::kTempfail);
      case m::kRepDiscard:
        if (stage == Stage::kConnect || stage == Stage::kHelo) {
          Fail(out, ErrorKind::kProtocol, "SMFIR_DISCARD is not allowed for CONNECT or HELO");
          return StepResult::kError;
        }
        return final_verdict(Verdict::kDiscard);
      case m::kRepShutdown:
        return final_verdict(Verdict::kShutdown);
      case m::kRepConnFail:
        return final_verdict(Verdict::kConnFail);
      case m::kRepReplyCode: {
        if (data.empty() || data.back() != '\0') {
          Fail(out, ErrorKind::kProtocol, "SMFIR_REPLYCODE not terminated");
          return StepResult::kError;
        }
        data.pop_back();
        if (!m::IsValidReplyCode(data)) {
          Fail(out, ErrorKind::kProtocol,
               "malformed SMFIR_REPLYCODE \"" + data.substr(0, 80) + "\"");
          return StepResult::kError;
        }
        out->verdict = Verdict::kReplyCode;
        out->stage = stage;
        out->reply = data;
        return StepResult::kFinal;
      }
      case m::kRepSkip:
        if (stage == Stage::kBody && (protocol_ & m::kProtoSkip) != 0 && data.empty()) {
          return StepResult::kSkip;
        }
        break;
      default:
        break;
    }

    // Everything else is only valid as a modification at end of message.
    if (stage == Stage::kEom) {
      bool well_formed = false;
      switch (code) {
        case m::kRepAddHeader:
          well_formed =
              m::SplitCStrings(data, &strings) && strings.size() == 2 && !strings[0].empty();
          if (well_formed) ++out->header_mods;
          break;
        case m::kRepChgHeader:
        case m::kRepInsHeader:
          well_formed = data.size() > 4 &&
                        m::SplitCStrings(std::string_view(data).substr(4), &strings) &&
                        strings.size() == 2 && !strings[0].empty();
          if (well_formed) ++out->header_mods;
          break;
        case m::kRepAddRcpt:
        case m::kRepDelRcpt:
          well_formed = m::SplitCStrings(data, &strings) && strings.size() == 1;
          if (well_formed) ++out->other_mods;
          break;
        case m::kRepAddRcptPar:
        case m::kRepChgFrom:
          well_formed =
              m::SplitCStrings(data, &strings) && (strings.size() == 1 || strings.size() == 2);
          if (well_formed) ++out->other_mods;
          break;
        case m::kRepReplBody:
          well_formed = true;
          ++out->other_mods;
          break;
        case m::kRepQuarantine:
          well_formed = m::SplitCStrings(data, &strings) && strings.size() == 1;
          if (well_formed) out->quarantined = true;
          break;
        default:
          break;
      }
      if (well_formed) continue;
      Fail(out, ErrorKind::kProtocol,
           "malformed or unknown reply " + Printable(code) + " (" + m::ReplyName(code) +
               ") at end of message");
      return StepResult::kError;
    }
    Fail(out, ErrorKind::kProtocol,
         "unexpected reply " + Printable(code) + " (" + m::ReplyName(code) + ") to " +
             StageName(stage));
    return StepResult::kError;
  }
  Fail(out, ErrorKind::kProtocol,
       "more than " + std::to_string(kMaxRepliesPerStep) + " replies to " + StageName(stage));
  return StepResult::kError;
}

Outcome MilterSession::RunMessage(const TestMessage& message, const Envelope& envelope) {
  Outcome out;
  if (!conn_.is_open()) {
    Fail(&out, ErrorKind::kIo, "session is not open");
    return out;
  }
  // Connection-level verdicts end the session; message-level ones do not.
  auto finish = [&](StepResult r) {
    if (r == StepResult::kFinal &&
        (out.verdict == Verdict::kShutdown || out.verdict == Verdict::kConnFail)) {
      Quit();
    }
    return out;
  };

  // MAIL FROM. Postfix's default milter_mail_macros are
  // "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host}
  // {mail_mailer}"; only defined ones are sent, and the queue id (i) does
  // not exist yet at MAIL time (smtpd_delay_open_until_valid_rcpt).
  // {mail_host}/{mail_mailer} are the sender address's resolved next hop
  // and transport.
  const size_t from_at = envelope.from.rfind('@');
  std::vector<m::Macro> macros = {
      {"mail_addr", envelope.from},
      {"mail_host",
       from_at == std::string::npos ? std::string() : envelope.from.substr(from_at + 1)},
      {"mail_mailer", "smtp"}};
  if (!envelope.auth_user.empty()) {
    macros.push_back({"auth_type", "PLAIN"});
    macros.push_back({"auth_authen", envelope.auth_user});
  }
  QueueMacros(kMacMail, m::kCmdMail, macros);
  std::string data;
  m::AppendCString(&data, "<" + envelope.from + ">");
  if (envelope.size_param) {
    m::AppendCString(&data, "SIZE=" + std::to_string(message.size));
  }
  StepResult r = Step(Stage::kMail, m::kProtoNoMail, m::kProtoNrMail, m::kCmdMail, data, &out);
  if (r != StepResult::kContinue) return finish(r);

  // RCPT TO, one step per recipient. A refused recipient is dropped; the
  // transaction continues while at least one recipient was accepted.
  size_t accepted = 0;
  Outcome last_refusal;
  for (const std::string& rcpt : envelope.rcpts) {
    size_t at = rcpt.rfind('@');
    QueueMacros(kMacRcpt, m::kCmdRcpt,
                {{"rcpt_addr", rcpt},
                 {"rcpt_host", at == std::string::npos ? std::string() : rcpt.substr(at + 1)},
                 {"rcpt_mailer", "smtp"}});
    data.clear();
    m::AppendCString(&data, "<" + rcpt + ">");
    r = Step(Stage::kRcpt, m::kProtoNoRcpt, m::kProtoNrRcpt, m::kCmdRcpt, data, &out);
    if (r == StepResult::kError) return out;
    if (r == StepResult::kFinal) {
      switch (out.verdict) {
        case Verdict::kReject:
        case Verdict::kTempfail:
        case Verdict::kReplyCode:
          ++out.rcpt_rejects;
          last_refusal = out;
          out.verdict = Verdict::kContinue;
          out.reply.clear();
          continue;
        default:
          return finish(r);  // accept/discard/shutdown decide the message
      }
    }
    ++accepted;
  }
  if (accepted == 0) {
    last_refusal.rcpt_rejects = out.rcpt_rejects;
    last_refusal.progress = out.progress;
    out = last_refusal;
    return out;
  }

  // DATA. From here on the queue id exists.
  const std::vector<m::Macro> queue_macro = {{"i", envelope.queue_id}};
  QueueMacros(kMacData, m::kCmdData, queue_macro);
  r = Step(Stage::kData, m::kProtoNoData, m::kProtoNrData, m::kCmdData, {}, &out);
  if (r != StepResult::kContinue) return finish(r);

  // Header fields. Without SMFIP_HDR_LEADSPC the MTA strips the whitespace
  // between the colon and the value.
  const bool keep_space = (protocol_ & m::kProtoHeaderLeadingSpace) != 0;
  for (const auto& [name, raw_value] : message.headers) {
    std::string_view value(raw_value);
    if (!keep_space) {
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
    }
    data.clear();
    m::AppendCString(&data, name);
    m::AppendCString(&data, value);
    r = Step(Stage::kHeader, m::kProtoNoHeaders, m::kProtoNrHeader, m::kCmdHeader, data, &out);
    if (r != StepResult::kContinue) return finish(r);
  }

  QueueMacros(kMacEoh, m::kCmdEoh, queue_macro);
  r = Step(Stage::kEoh, m::kProtoNoEoh, m::kProtoNrEoh, m::kCmdEoh, {}, &out);
  if (r != StepResult::kContinue) return finish(r);

  // Body chunks; SMFIR_SKIP ends the body early.
  std::string_view body(message.body);
  while (!body.empty()) {
    size_t n = std::min(body.size(), m::kMaxChunk);
    r = Step(Stage::kBody, m::kProtoNoBody, m::kProtoNrBody, m::kCmdBody, body.substr(0, n), &out);
    body.remove_prefix(n);
    if (r == StepResult::kSkip) break;
    if (r != StepResult::kContinue) return finish(r);
  }

  QueueMacros(kMacEom, m::kCmdBodyEob, queue_macro);
  r = Step(Stage::kEom, 0, 0, m::kCmdBodyEob, {}, &out);
  if (r == StepResult::kContinue || r == StepResult::kSkip) {
    Fail(&out, ErrorKind::kProtocol, "no final reply at end of message");
    return out;
  }
  return finish(r);
}

void MilterSession::Abort() {
  if (!conn_.is_open()) return;
  scratch_.clear();
  m::AppendPacket(&scratch_, m::kCmdAbort, {});
  conn_.Append(scratch_);
}

void MilterSession::Quit() {
  if (!conn_.is_open()) return;
  scratch_.clear();
  m::AppendPacket(&scratch_, m::kCmdQuit, {});
  conn_.Append(scratch_);
  (void)conn_.Flush(Clock::now() + options_.timeout);
  conn_.Close();
}

}  // namespace mailwarden::bench

// The milter protocol state machine (see session.h).
#include "milter/protocol/session.h"

#include <algorithm>

#include "common/log.h"

namespace mailwarden {

using namespace milter;  // NOLINT: the wire vocabulary

namespace {

// Splits NUL-terminated strings, leniently: an unterminated last string still counts, so a
// peer that forgets a NUL gets its text seen rather than a dropped step.
void SplitLenient(std::string_view data, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  while (start < data.size()) {
    size_t nul = data.find('\0', start);
    if (nul == std::string_view::npos) nul = data.size();
    out->push_back(data.substr(start, nul - start));
    start = nul + 1;
  }
}

std::string_view At(const std::vector<std::string_view>& v, size_t i) {
  return i < v.size() ? v[i] : std::string_view();
}

std::string_view StripBraces(std::string_view name) {
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}')
    return name.substr(1, name.size() - 2);
  return name;
}

std::string Hex(uint32_t value) {
  std::string text;
  do {
    text.insert(text.begin(), "0123456789abcdef"[value & 15]);
    value >>= 4;
  } while (value != 0);
  return "0x" + text;
}

// A byte as text for a log line: the character when printable, else its code.
std::string Printable(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7F) return std::string("'") + c + "'";
  return Hex(u);
}

}  // namespace

std::string_view MilterMacros::Get(std::string_view name) const {
  for (size_t i = kStages; i-- > 0;) {
    for (const auto& [n, v] : stages_[i]) {
      if (n == name) return v;
    }
  }
  return {};
}

void MilterMacros::Set(char command, std::vector<std::pair<std::string, std::string>> values) {
  const char* pos = std::find(std::begin(kOrder), std::end(kOrder), command);
  if (pos == std::end(kOrder)) return;
  size_t stage = static_cast<size_t>(pos - std::begin(kOrder));
  stages_[stage] = std::move(values);
  if (command == kCmdMail) {
    for (size_t i = stage + 1; i < kStages; ++i) stages_[i].clear();
  }
}

void MilterMacros::ClearMessage() {
  for (size_t i = 2; i < kStages; ++i) stages_[i].clear();  // kOrder[2] is MAIL FROM
}

void MilterMacros::ClearAll() {
  for (auto& stage : stages_) stage.clear();
}

MilterReply MilterReply::Refuse(std::string smtp_reply) {
  MilterReply r;
  r.kind = !smtp_reply.empty() && smtp_reply[0] == '5' ? Kind::kReject : Kind::kTempfail;
  r.smtp_reply = std::move(smtp_reply);
  return r;
}

MilterSession::MilterSession(const MilterCapabilities& capabilities, HandlerFactory factory,
                             std::string name)
    : capabilities_(capabilities), factory_(std::move(factory)), name_(std::move(name)) {}

MilterSession::~MilterSession() { Close(); }

MilterHandler& MilterSession::handler() {
  if (!handler_) handler_ = factory_();
  return *handler_;
}

size_t MilterSession::Consume(std::string_view input, std::string* out, size_t* wanted) {
  size_t used = 0;
  *wanted = 4;
  while (!closed_) {
    std::string_view rest = input.substr(used);
    if (rest.size() < 4) {
      *wanted = 4;
      break;
    }
    uint32_t length = ReadUint32(rest);
    if (length == 0 || length > kMaxMilterPacket) {
      Fail("packet length " + std::to_string(length) + " outside 1.." +
           std::to_string(kMaxMilterPacket));
      break;
    }
    if (rest.size() - 4 < length) {
      *wanted = size_t{4} + length;
      break;
    }
    HandlePacket(rest[4], rest.substr(5, length - 1), out);
    used += size_t{4} + length;
  }
  return used;
}

void MilterSession::Close() {
  AbortMessage();
  handler_.reset();
  closed_ = true;
}

void MilterSession::Fail(std::string why) {
  error_ = std::move(why);
  Close();
}

void MilterSession::AbortMessage() {
  if (handler_ && in_message_) handler_->OnAbort();
  in_message_ = false;
}

void MilterSession::Answer(uint32_t no_reply_flag, std::string* out) {
  if ((unanswered_ & no_reply_flag) == 0) AppendPacket(out, kRepContinue, {});
}

void MilterSession::HandlePacket(char command, std::string_view data, std::string* out) {
  if (!negotiated_ && command != kCmdOptneg) {
    Fail("command " + Printable(command) + " before option negotiation");
    return;
  }
  switch (command) {
    case kCmdOptneg:
      Negotiate(data, out);
      return;
    case kCmdMacro: {
      if (data.empty()) return;
      SplitLenient(data.substr(1), &args_);
      std::vector<std::pair<std::string, std::string>> values;
      values.reserve(args_.size() / 2);
      for (size_t i = 0; i + 1 < args_.size(); i += 2) {
        values.emplace_back(StripBraces(args_[i]), args_[i + 1]);
      }
      macros_.Set(data[0], std::move(values));
      return;
    }
    case kCmdConnect: {
      // host name NUL, family, then (unless unknown) port (2 bytes) and address NUL.
      size_t nul = data.find('\0');
      std::string_view host = data.substr(0, nul);
      std::string_view address;
      if (nul != std::string_view::npos && nul + 1 < data.size()) {
        char family = data[nul + 1];
        if (family != kFamilyUnknown && nul + 4 <= data.size()) {
          address = data.substr(nul + 4);
          if (!address.empty() && address.back() == '\0') address.remove_suffix(1);
        }
      }
      handler().OnConnect(macros_, host, address);
      Answer(kProtoNrConnect, out);
      return;
    }
    case kCmdHelo:
      SplitLenient(data, &args_);
      handler().OnHelo(macros_, At(args_, 0));
      Answer(kProtoNrHelo, out);
      return;
    case kCmdMail: {
      AbortMessage();
      SplitLenient(data, &args_);
      if (args_.empty()) args_.emplace_back();
      in_message_ = true;
      MilterReply reply = handler().OnMailFrom(macros_, args_);
      if (reply.kind != MilterReply::Kind::kContinue) in_message_ = false;
      if (unanswered_ & kProtoNrMail) {
        if (reply.kind != MilterReply::Kind::kContinue)
          LogError(name_ + ": a MAIL FROM refusal cannot be sent, the step has no reply");
        return;
      }
      SendReply(reply, false, out);
      return;
    }
    case kCmdRcpt:
      SplitLenient(data, &args_);
      if (args_.empty()) args_.emplace_back();
      {
        MilterReply reply = handler().OnRcpt(macros_, args_);
        if (unanswered_ & kProtoNrRcpt) {
          if (reply.kind != MilterReply::Kind::kContinue)
            LogError(name_ + ": a RCPT refusal cannot be sent, the step has no reply");
          return;
        }
        SendReply(reply, false, out);
        return;
      }
    case kCmdHeader:
      SplitLenient(data, &args_);
      handler().OnHeader(macros_, At(args_, 0), At(args_, 1));
      Answer(kProtoNrHeader, out);
      return;
    case kCmdEoh:
      Answer(kProtoNrEoh, out);
      return;
    case kCmdBody:
      handler().OnBody(macros_, data);
      Answer(kProtoNrBody, out);
      return;
    case kCmdBodyEob: {
      // End of body may carry the last chunk.
      if (!data.empty()) handler().OnBody(macros_, data);
      MilterReply reply = handler().OnEndOfMessage(macros_);
      in_message_ = false;
      ++messages_;
      SendReply(reply, true, out);
      return;
    }
    case kCmdData:
      Answer(kProtoNrData, out);
      return;
    case kCmdUnknown:
      Answer(kProtoNrUnknown, out);
      return;
    case kCmdAbort:
      AbortMessage();
      macros_.ClearMessage();
      return;
    case kCmdQuitNc:
      // The MTA keeps the connection for a new SMTP session: CONNECT follows.
      AbortMessage();
      handler_.reset();
      macros_.ClearAll();
      return;
    case kCmdQuit:
      Close();
      return;
    default:
      Fail("unknown command " + Printable(command));
      return;
  }
}

void MilterSession::Negotiate(std::string_view data, std::string* out) {
  if (negotiated_) {
    Fail("second option negotiation");
    return;
  }
  if (data.size() < 12) {
    Fail("OPTNEG of " + std::to_string(data.size()) + " bytes, 12 expected");
    return;
  }
  mta_version_ = ReadUint32(data);
  uint32_t mta_actions = ReadUint32(data.substr(4));
  uint32_t mta_protocol = ReadUint32(data.substr(8));
  if (mta_version_ < kOldestProtocolVersion) {
    Fail("MTA speaks milter protocol version " + std::to_string(mta_version_) +
         ", the oldest supported is " + std::to_string(kOldestProtocolVersion));
    return;
  }
  if ((mta_actions & capabilities_.required_actions) != capabilities_.required_actions) {
    Fail("the MTA does not offer the actions this filter needs (offered " + Hex(mta_actions) +
         ", needed " + Hex(capabilities_.required_actions) + "); refusing to filter");
    return;
  }
  actions_ = capabilities_.actions & mta_actions;
  uint32_t protocol = (capabilities_.skipped_steps | capabilities_.unanswered_steps) & mta_protocol;
  unanswered_ = capabilities_.unanswered_steps & mta_protocol;
  bool symlists = mta_version_ >= kProtocolVersion && (mta_actions & kActSetSymList) != 0;
  if (!symlists) actions_ &= ~kActSetSymList;

  std::string reply;
  AppendUint32(&reply, std::min(mta_version_, kProtocolVersion));
  AppendUint32(&reply, actions_);
  AppendUint32(&reply, protocol);
  if (symlists) {
    for (size_t stage = 0; stage < kMacroStages; ++stage) {
      const std::string& names = capabilities_.macros[stage];
      if (names.empty()) continue;
      AppendUint32(&reply, static_cast<uint32_t>(stage));
      AppendCString(&reply, names);
    }
  }
  AppendPacket(out, kCmdOptneg, reply);
  negotiated_ = true;
}

void MilterSession::SendReply(const MilterReply& reply, bool end_of_message, std::string* out) {
  using Kind = MilterReply::Kind;
  Kind kind = reply.kind;
  std::string smtp_reply = reply.smtp_reply;
  if (end_of_message && (kind == Kind::kContinue || kind == Kind::kAccept)) {
    if (!reply.quarantine_reason.empty() && (actions_ & kActQuarantine) == 0) {
      // Holding is impossible: the message must not slip through; the sender retries.
      LogError(name_ + ": the MTA did not agree to quarantine; message tempfailed");
      kind = Kind::kTempfail;
      smtp_reply = "451 4.3.0 temporary failure, try again later";
    } else {
      for (const auto& [name, value] : reply.add_headers) {
        if ((actions_ & kActAddHeaders) == 0) {
          LogWarn(name_ + ": the MTA did not agree to header changes; " + name + " not added");
          continue;
        }
        std::string data;
        AppendCString(&data, name);
        AppendCString(&data, value);
        AppendPacket(out, kRepAddHeader, data);
      }
      for (const auto& [name, value] : reply.change_headers) {
        if ((actions_ & kActChangeHeaders) == 0) {
          LogWarn(name_ + ": the MTA did not agree to header changes; " + name + " not changed");
          continue;
        }
        std::string data;
        AppendUint32(&data, 1);
        AppendCString(&data, name);
        AppendCString(&data, value);
        AppendPacket(out, kRepChgHeader, data);
      }
      if (!reply.quarantine_reason.empty()) {
        std::string data;
        AppendCString(&data, reply.quarantine_reason);
        AppendPacket(out, kRepQuarantine, data);
      }
    }
  }
  switch (kind) {
    case Kind::kContinue:
      AppendPacket(out, end_of_message ? kRepAccept : kRepContinue, {});
      return;
    case Kind::kAccept:
      AppendPacket(out, kRepAccept, {});
      return;
    case Kind::kReject:
    case Kind::kTempfail: {
      char expected = kind == Kind::kReject ? '5' : '4';
      if (IsValidReplyCode(smtp_reply) && smtp_reply[0] == expected &&
          smtp_reply.find('\0') == std::string::npos) {
        std::string data;
        AppendCString(&data, smtp_reply);
        AppendPacket(out, kRepReplyCode, data);
        return;
      }
      if (!smtp_reply.empty())
        LogWarn(name_ + ": reply \"" + smtp_reply +
                "\" is not one an MTA accepts; sent without it");
      AppendPacket(out, kind == Kind::kReject ? kRepReject : kRepTempfail, {});
      return;
    }
  }
}

}  // namespace mailwarden

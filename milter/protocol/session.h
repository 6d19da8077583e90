// One MTA connection's milter protocol state machine, apart from sockets and from what the
// filter decides: MilterSession turns the bytes an MTA sends into calls on a MilterHandler
// and the handler's answers into reply packets.
//
// What it takes care of:
//   - framing: 4-byte length + command; a packet longer than kMaxPacket, a zero length, an
//     unknown command or a malformed OPTNEG is a protocol error (the connection is closed;
//     the MTA applies its milter_default_action, tempfail in Postfix's default);
//   - negotiation: offers the handler's capabilities masked by what the MTA offers, asks
//     for the handler's macros per stage, refuses an MTA that lacks a required action;
//   - replies: exactly one per step the MTA waits for; none for steps negotiated without
//     one (kProtoNr*), so the MTA never blocks on us for them;
//   - macros: kept per stage and cleared as libmilter does (a new MAIL FROM clears the
//     message stages, ABORT too, QUIT_NC everything);
//   - messages: a new MAIL FROM or an ABORT ends any message in progress (OnAbort), and so
//     does the end of the connection, however it ends.
//
// Commands may arrive out of order or carry malformed strings (a missing NUL): the session
// passes empty strings rather than refusing, and the handler decides what a message
// without MAIL FROM means. Thread-compatible: one session per connection, one thread at a
// time.
#ifndef MAILWARDEN_MILTER_PROTOCOL_SESSION_H_
#define MAILWARDEN_MILTER_PROTOCOL_SESSION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "milter/protocol/wire.h"

namespace mailwarden {

// Largest packet accepted from the MTA. Postfix sends a header field in one packet, up to
// its header_size_limit (100 KiB by default), and body chunks of at most 64 KiB.
inline constexpr size_t kMaxMilterPacket = size_t{1} << 20;

// What the filter needs from the MTA, offered at negotiation.
struct MilterCapabilities {
  uint32_t required_actions = 0;  // without these the session refuses to filter
  uint32_t actions = 0;           // kAct*, masked by the MTA's offer
  uint32_t skipped_steps = 0;     // kProtoNo*: steps the MTA need not send
  uint32_t unanswered_steps = 0;  // kProtoNr*: steps we take without replying
  // Macro names per stage (space-separated, as in "{client_addr} {daemon_name}"), indexed
  // by milter::MacroStage; empty leaves the stage at the MTA's default list.
  std::array<std::string, milter::kMacroStages> macros;
};

// The macros the MTA sent, by name without braces ("client_addr", "i").
class MilterMacros {
 public:
  // The newest value of `name` over every stage, "" when the MTA sent none.
  std::string_view Get(std::string_view name) const;
  // Replaces the macros of the stage of `command` (a kCmd* letter; others are ignored).
  // The MAIL FROM stage also forgets the later stages: a new message begins.
  void Set(char command, std::vector<std::pair<std::string, std::string>> values);
  // Forgets the message stages (MAIL FROM onwards), or everything.
  void ClearMessage();
  void ClearAll();

 private:
  // Stages in the order the MTA sends them; a later stage's value wins.
  static constexpr char kOrder[] = {milter::kCmdConnect, milter::kCmdHelo, milter::kCmdMail,
                                    milter::kCmdRcpt,    milter::kCmdData, milter::kCmdEoh,
                                    milter::kCmdBodyEob};
  static constexpr size_t kStages = sizeof(kOrder);
  std::array<std::vector<std::pair<std::string, std::string>>, kStages> stages_;
};

// An answer to a step the MTA waits for.
struct MilterReply {
  enum class Kind { kContinue, kAccept, kReject, kTempfail };
  Kind kind = Kind::kContinue;
  // For kReject/kTempfail: the full SMTP reply ("550 5.7.1 text"); sent as
  // SMFIR_REPLYCODE when it is one the MTA accepts (milter::IsValidReplyCode), else the
  // plain reject/tempfail reply (the MTA's own text) is sent and the session logs why.
  std::string smtp_reply;
  // End of message only, before the final reply: headers to add, and a non-empty reason
  // puts the message on hold (quarantine).
  std::vector<std::pair<std::string, std::string>> add_headers;
  // Fields whose first occurrence gets a new value (SMFIR_CHGHEADER, index 1).
  std::vector<std::pair<std::string, std::string>> change_headers;
  std::string quarantine_reason;

  static MilterReply Continue() { return MilterReply{}; }
  static MilterReply Accept() { return MilterReply{Kind::kAccept, {}, {}, {}, {}}; }
  // kReject when `smtp_reply` starts with '5', else kTempfail.
  static MilterReply Refuse(std::string smtp_reply);
};

// The filter's side of a connection. Every call gets the macros the MTA sent so far. The
// string views live until the call returns. Exceptions must not escape (the session does
// not catch them; the server closes the connection on one, which the MTA treats as a
// failed milter).
class MilterHandler {
 public:
  virtual ~MilterHandler() = default;
  // CONNECT: the client's host name and address (empty for an unknown family).
  virtual void OnConnect(const MilterMacros& macros, std::string_view host_name,
                         std::string_view address) = 0;
  virtual void OnHelo(const MilterMacros& macros, std::string_view helo) = 0;
  // MAIL FROM: args[0] is the sender as sent ("<a@b>"), then ESMTP parameters ("SIZE=10").
  // Only a refusal (kReject/kTempfail) or kContinue is meaningful here.
  virtual MilterReply OnMailFrom(const MilterMacros& macros,
                                 const std::vector<std::string_view>& args) = 0;
  // RCPT TO: args[0] is the recipient as sent, then ESMTP parameters ("ORCPT=rfc822;a@b").
  // A refusal refuses this recipient only, and is sent only when the step is answered.
  virtual MilterReply OnRcpt(const MilterMacros& macros,
                             const std::vector<std::string_view>& args) = 0;
  virtual void OnHeader(const MilterMacros& macros, std::string_view name,
                        std::string_view value) = 0;
  virtual void OnBody(const MilterMacros& macros, std::string_view chunk) = 0;
  // End of message: the verdict. kContinue means accept.
  virtual MilterReply OnEndOfMessage(const MilterMacros& macros) = 0;
  // The message in progress, if any, is over without a verdict (ABORT, a new MAIL FROM,
  // QUIT_NC, or the end of the connection).
  virtual void OnAbort() = 0;
};

class MilterSession {
 public:
  using HandlerFactory = std::function<std::unique_ptr<MilterHandler>()>;
  // `name` prefixes the session's log lines ("milter connection #12").
  MilterSession(const MilterCapabilities& capabilities, HandlerFactory factory, std::string name);
  ~MilterSession();
  MilterSession(const MilterSession&) = delete;
  MilterSession& operator=(const MilterSession&) = delete;

  // Handles every complete packet at the front of `input` and returns how many bytes it
  // used; replies are appended to *out. Stops early, with closed() true, after QUIT or a
  // protocol error. *wanted is set to the size of the packet the rest of `input` begins
  // (header included), so the caller can size its buffer; at most kMaxMilterPacket + 4.
  size_t Consume(std::string_view input, std::string* out, size_t* wanted);

  // Ends the connection: the message in progress, if any, is aborted. Idempotent.
  void Close();

  bool closed() const { return closed_; }
  // Why the session closed on a protocol error; empty after a QUIT or while open.
  const std::string& error() const { return error_; }
  // Messages that reached end of message on this connection.
  uint64_t messages() const { return messages_; }

 private:
  void HandlePacket(char command, std::string_view data, std::string* out);
  void Negotiate(std::string_view data, std::string* out);
  void Answer(uint32_t no_reply_flag, std::string* out);
  void SendReply(const MilterReply& reply, bool end_of_message, std::string* out);
  void AbortMessage();
  void Fail(std::string why);
  MilterHandler& handler();

  MilterCapabilities capabilities_;
  HandlerFactory factory_;
  std::string name_;
  std::unique_ptr<MilterHandler> handler_;
  MilterMacros macros_;
  uint32_t mta_version_ = 0;
  uint32_t actions_ = 0;     // agreed
  uint32_t unanswered_ = 0;  // agreed kProtoNr* steps
  bool negotiated_ = false;
  bool in_message_ = false;
  bool closed_ = false;
  uint64_t messages_ = 0;
  std::string error_;
  std::vector<std::string_view> args_;  // reused for split strings
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_PROTOCOL_SESSION_H_

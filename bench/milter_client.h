// MTA side of the Sendmail milter protocol (version 6), modelled on what
// Postfix's smtpd/cleanup do when they talk to a milter: negotiate, report
// CONNECT and HELO once per connection, then one MAIL..end-of-message
// transaction per message, honouring the steps the milter asked to skip
// (SMFIP_NO*) and the replies it said it will not send (SMFIP_NR_*).
//
// Sequence per message: MACRO 'M' + MAIL (with "SIZE=n"), MACRO 'R' + RCPT
// per recipient, MACRO 'T' + DATA, HEADER per header field, MACRO 'N' + EOH,
// BODY chunks of at most 65535 bytes, MACRO 'E' + BODYEOB, then the replies
// to end-of-message: any number of modification requests followed by one
// final reply. Every packet of one step is flushed in one write right before
// the client waits for a reply, as Postfix's VSTREAM does.
//
// Early verdicts: a reject/tempfail/reply code/discard/accept for MAIL, for
// DATA, a header, EOH or a body chunk ends the message at that stage. A
// rejection of one RCPT only drops that recipient (as in SMTP); the message
// ends at RCPT only when no recipient is left. A verdict for CONNECT or HELO
// applies to the whole connection: the session closes (Postfix also stops
// talking to the milter then, and libmilter would disconnect anyway).
// After an early verdict the caller should send Abort() before the next
// transaction.
//
// Thread-safety: a MilterSession belongs to one thread.

#ifndef MAILWARDEN_BENCH_MILTER_CLIENT_H_
#define MAILWARDEN_BENCH_MILTER_CLIENT_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_net.h"
#include "eml.h"
#include "milter_wire.h"

namespace mailwarden::bench {

// Protocol step at which an outcome was decided.
enum class Stage {
  kNegotiate,
  kConnect,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kHeader,
  kEoh,
  kBody,
  kEom,
};

// Returns "negotiate", "connect", "helo", "mail", "rcpt", "data", "header",
// "eoh", "body" or "eom".
const char* StageName(Stage stage);

// Final answer of the milter for a message (or connection).
enum class Verdict {
  kContinue,   // SMFIR_CONTINUE (at end of message: deliver as usual)
  kAccept,     // SMFIR_ACCEPT
  kReject,     // SMFIR_REJECT
  kTempfail,   // SMFIR_TEMPFAIL
  kDiscard,    // SMFIR_DISCARD
  kReplyCode,  // SMFIR_REPLYCODE; the text is in Outcome::reply
  kShutdown,   // SMFIR_SHUTDOWN (421, connection-level)
  kConnFail,   // SMFIR_CONN_FAIL (connection-level)
};

// Returns "continue", "accept", "reject", "tempfail", "discard",
// "replycode", "shutdown" or "conn_fail".
const char* VerdictName(Verdict verdict);

// Why an exchange failed.
enum class ErrorKind {
  kNone,
  kConnect,   // could not connect
  kTimeout,   // no (complete) reply within the per-read timeout
  kIo,        // socket error, or the milter closed the connection
  kProtocol,  // malformed or unexpected packet
};

// Returns "none", "connect", "timeout", "io" or "protocol".
const char* ErrorKindName(ErrorKind kind);

// The SMTP client the MTA reports in CONNECT and HELO.
struct SmtpClient {
  std::string name = "client.bench.example";  // reverse DNS name
  std::string address = "192.0.2.10";         // IPv4 text (TEST-NET-1)
  uint16_t port = 40000;
  std::string helo = "client.bench.example";
};

// One message's envelope.
struct Envelope {
  std::string from = "sender@bench.example";
  std::vector<std::string> rcpts = {"rcpt@bench.example"};
  bool size_param = true;  // send "SIZE=<message size>" with MAIL
  std::string queue_id;    // value of the 'i' macro from DATA on
  std::string auth_user;   // non-empty: {auth_type}/{auth_authen} macros
};

// Result of Open() or RunMessage().
struct Outcome {
  ErrorKind error = ErrorKind::kNone;
  std::string error_text;
  Verdict verdict = Verdict::kContinue;
  Stage stage = Stage::kNegotiate;
  std::string reply;          // SMFIR_REPLYCODE text, e.g. "552 5.3.4 Too big"
  uint32_t header_mods = 0;   // SMFIR_ADDHEADER/CHGHEADER/INSHEADER
  uint32_t other_mods = 0;    // recipient, sender and body changes
  uint32_t rcpt_rejects = 0;  // recipients refused at RCPT
  uint32_t progress = 0;      // SMFIR_PROGRESS packets seen
  bool quarantined = false;   // SMFIR_QUARANTINE seen

  bool ok() const { return error == ErrorKind::kNone; }
};

struct SessionOptions {
  SocketSpec spec;
  std::chrono::milliseconds timeout{10000};  // connect and each read/write
  // Postfix does not set TCP_NODELAY on milter sockets (see
  // mw_milter_bench.cc for the evidence), so the default mirrors that.
  bool tcp_nodelay = false;
  bool allow_remote = false;
  uint32_t actions = milter::kAllActions;         // offered in OPTNEG
  uint32_t protocol = milter::kAllProtocol;       // offered in OPTNEG
  std::string mta_hostname = "mx.bench.example";  // the 'j' macro
};

class MilterSession {
 public:
  explicit MilterSession(SessionOptions options);

  // Connects, negotiates and reports CONNECT and HELO. On success the
  // outcome has verdict kContinue and is_open() is true. A connection-level
  // verdict (e.g. reject at CONNECT) or an error closes the session.
  Outcome Open(const SmtpClient& client);

  // True while the session can run a transaction.
  bool is_open() const { return conn_.is_open(); }

  // Runs MAIL..end-of-message for `message`. Requires is_open(). On an error
  // or a connection-level verdict the session is closed.
  Outcome RunMessage(const TestMessage& message, const Envelope& envelope);

  // Queues SMFIC_ABORT (no reply expected); sent with the next flush.
  void Abort();

  // Sends SMFIC_QUIT and closes the connection (errors are ignored: the
  // milter owes no reply to QUIT).
  void Quit();

  // Closes the connection without a QUIT.
  void Close() { conn_.Close(); }

  // Negotiated values (valid after a successful Open()).
  uint32_t milter_version() const { return version_; }
  uint32_t milter_actions() const { return actions_; }
  uint32_t milter_protocol() const { return protocol_; }

 private:
  enum class StepResult { kContinue, kSkip, kFinal, kError };

  // Index of a macro stage in the SETSYMLIST numbering (SMFIM_*).
  enum MacroStage {
    kMacConnect,
    kMacHelo,
    kMacMail,
    kMacRcpt,
    kMacData,
    kMacEom,
    kMacEoh,
    kMacStages
  };

  bool Negotiate(Outcome* out);
  // Queues a MACRO packet for `command`, filtered by the milter's macro list
  // for `stage` if it sent one. Nothing is queued for an empty list.
  void QueueMacros(MacroStage stage, char command, const std::vector<milter::Macro>& macros);
  // Flushes, then reads replies until the step's final answer.
  StepResult AwaitReply(Stage stage, Outcome* out);
  // Queues a step and, unless `no_reply_flag` is negotiated, awaits the
  // reply. A step whose `no_send_flag` is negotiated is not sent at all.
  StepResult Step(Stage stage, uint32_t no_send_flag, uint32_t no_reply_flag, char command,
                  std::string_view data, Outcome* out);
  // Reads one reply packet. False with out->error set on failure.
  bool ReadPacket(char* code, std::string* data, Outcome* out);
  // Sends queued output if it grew large (replies not expected for a while).
  bool MaybeFlush(Outcome* out);
  bool FlushOrFail(Outcome* out);
  void Fail(Outcome* out, ErrorKind kind, std::string text);

  SessionOptions options_;
  Connection conn_;
  uint32_t version_ = 0;
  uint32_t actions_ = 0;
  uint32_t protocol_ = 0;
  // Macro names the milter asked for per stage (the lists that follow the
  // OPTNEG reply when the milter called smfi_setsymlist()). Stages without a
  // list (macro_list_set_ false) get all our macros, as in Postfix.
  std::array<std::vector<std::string>, kMacStages> macro_lists_;
  std::array<bool, kMacStages> macro_list_set_{};
  std::string scratch_;
};

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_MILTER_CLIENT_H_

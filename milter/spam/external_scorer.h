// External spam scorers a site may already run: rspamd (its HTTP scan endpoint, POST
// /checkv2 on the normal worker) and SpamAssassin's spamd (the spamc protocol, SYMBOLS
// command). Each scorer's verdict becomes one weighted Signal; a scorer that cannot answer
// within its timeout, is not there, or answers something unreadable yields a non-OK Status
// instead, which the spam check logs before going on without that signal.
//
// What is sent: the message as received, with every line ending changed to CRLF (the form
// SMTP carried it in; either form of input is accepted) and, for rspamd, the envelope as
// its protocol headers: IP, Hostname, Helo, From ("<>" for the null sender), one Rcpt per
// recipient, Queue-Id, and User when the client authenticated. spamd has no envelope
// headers: it reads the relays from the message's Received fields; its User header carries
// the recipient when there is exactly one (per-user preferences; spamd logs an unknown
// user and goes on with the site's), none otherwise. One connection per message
// (Connection: close); the name lookup of a non-numeric host (resolve.h), the connect,
// every write and every read wait for one deadline, so that the whole exchange takes at
// most `timeout` even when the site's resolver does not answer.
//
// Thread-safety: an ExternalScorer is immutable after Create(); Score() may run on many
// threads at once.
#ifndef MAILWARDEN_MILTER_SPAM_EXTERNAL_SCORER_H_
#define MAILWARDEN_MILTER_SPAM_EXTERNAL_SCORER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "milter/spam/spam_types.h"

namespace mailwarden::spam {

struct ExternalScorerOptions {
  enum class Kind { kRspamd, kSpamd };
  Kind kind = Kind::kRspamd;
  // rspamd: "http://HOST:PORT[/prefix]" (no TLS; /checkv2 is appended to the prefix), or
  //   "unix:/path" for a worker bound to a unix socket.
  // spamd: "HOST:PORT", "HOST" (port 783), "[v6addr]:PORT", "inet:HOST:PORT" or "unix:/path".
  std::string address;
  std::chrono::milliseconds timeout{5000};  // connect, send and answer together
  double weight = 1.0;                      // the signal's score is weight * the scorer's
  size_t max_message_bytes = 1 << 20;       // larger messages are not sent (kLimitExceeded)
};

// The SMTP envelope of the message being scored.
struct ScorerContext {
  std::string client_addr;  // "192.0.2.1", "" when unknown
  std::string client_name;  // the client's verified reverse name as the MTA saw it
                            // ("unknown" when none); "" when not known at all
  std::string helo;
  std::string mail_from;  // "" for the null sender
  std::vector<std::string> recipients;
  std::string queue_id;
  std::string auth_user;  // SASL login, "" when not authenticated
};

class ExternalScorer {
 public:
  // Checks the address's spelling; does not connect (a scorer down at start is no reason to
  // refuse the configuration: each message reports it).
  static Result<std::unique_ptr<ExternalScorer>> Create(ExternalScorerOptions options);
  virtual ~ExternalScorer() = default;

  // The scorer's verdict on `raw_message` as Signal {name(), weight * score, detail}:
  // "rspamd 7.2/15 action=add header symbols=MISSING_MID,..." (at most ten symbols, the
  // weightiest first) or "spamd 10.8/5 spam=yes symbols=MISSING_DATE,...". Errors:
  // kUnavailable (cannot connect, connection closed early, the scorer reports a temporary
  // failure), kTimeout (no complete answer within the timeout), kInternal (an answer that
  // does not follow the protocol, or an error the scorer will not recover from by itself),
  // kLimitExceeded (the message is larger than max_message_bytes; nothing was sent).
  virtual Result<Signal> Score(std::string_view raw_message, const ScorerContext& ctx) const = 0;

  // "RSPAMD" or "SPAMD": the signal's name, for logs of skipped scorers too.
  virtual const std::string& name() const = 0;
  virtual const ExternalScorerOptions& options() const = 0;
};

// The readers Score() applies to the bytes a scorer sent back, exposed for tests: whether
// `reply` holds a whole answer yet (false: read on), and the answer as a Signal scaled by
// `weight`, or kUnavailable / kInternal as Score() reports them.
bool RspamdReplyComplete(std::string_view reply);
Result<Signal> ParseRspamdReply(std::string_view reply, double weight);
bool SpamdReplyComplete(std::string_view reply);
Result<Signal> ParseSpamdReply(std::string_view reply, double weight);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_EXTERNAL_SCORER_H_

// The message model: what the milter knows about one message, independent of the milter protocol.
//
// An Envelope is filled from the SMTP dialogue (or from the command line in --test mode);
// a Message adds the header fields and the body as they arrive, streaming them through a
// ContentReader (content.h); FinishContent() at end of message makes content() available.
// Checks read a finished Message and never change it. A Message belongs to one connection's
// thread; not thread-safe.
#ifndef MAILWARDEN_MILTER_MESSAGE_H_
#define MAILWARDEN_MILTER_MESSAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/rule_scope.h"
#include "milter/content.h"

namespace mailwarden {

struct Envelope {
  std::string client_addr;  // "192.0.2.1", or "" when unknown (local submission)
  std::string client_name;  // reverse DNS name as the MTA saw it
  std::string helo;         // HELO name; empty when the MTA skips the step (as negotiated)
  std::string auth_user;    // SASL login, "" when not authenticated
  std::string daemon_name;  // the MTA's {daemon_name} macro
  std::string mail_from;    // envelope sender without angle brackets; "" for the null sender
  std::optional<uint64_t> announced_size;  // ESMTP SIZE= at MAIL FROM
  std::vector<std::string> recipients;     // without angle brackets
  // Per recipient, the address its ESMTP ORCPT parameter names (RFC 3461), "" when none:
  // the recipient before the sending MTA expanded aliases and forwards.
  std::vector<std::string> original_recipients;
  std::string queue_id;  // known at end of message with Postfix
  bool smtp = true;      // false for mail submitted locally (Postfix non_smtpd_milters)
  // Mail leaving the queue through the egress listener (milter.egress_socket): recipients
  // are expanded, and only the rules that judge forwarding run.
  bool egress = false;
};

struct HeaderField {
  std::string name;
  std::string value;  // as the MTA hands it: folded lines joined by "\n", no trailing CRLF
};

class Message {
 public:
  explicit Message(Envelope envelope, ContentLimits limits = {})
      : envelope_(std::move(envelope)),
        keep_raw_bytes_(limits.keep_raw_bytes),
        reader_(std::make_unique<ContentReader>(limits)) {}

  const Envelope& envelope() const { return envelope_; }
  Envelope& mutable_envelope() { return envelope_; }

  void AddHeader(std::string name, std::string value);
  // Body bytes as they arrive; they are parsed on the fly, never kept whole.
  void AppendBody(std::string_view chunk);
  // Ends the content: parses what is left, opens archives and TNEF parts. Idempotent; the
  // engine calls it at end of message.
  void FinishContent();
  // The content; empty until FinishContent().
  const MessageContent& content() const { return content_; }

  const std::vector<HeaderField>& headers() const { return headers_; }
  // The first header field named `name` (case-insensitive), or nullptr.
  const HeaderField* FindHeader(std::string_view name) const;
  uint64_t body_bytes() const { return body_bytes_; }
  // The size of the message as transmitted: header lines with CRLF, the empty line, the
  // body. Postfix hands milters the body with CRLF line ends, so this matches what an MTA
  // counts against message_size_limit.
  uint64_t size() const { return header_bytes_ + 2 + body_bytes_; }
  // The message as received, "Name: value\n" lines, an empty line, then the body with
  // CRLF as LF: its first ContentLimits::keep_raw_bytes bytes ("" when not asked for).
  // raw_truncated() says whether more was received.
  const std::string& raw() const { return raw_; }
  bool raw_truncated() const { return raw_truncated_; }

 private:
  Envelope envelope_;
  std::vector<HeaderField> headers_;
  uint64_t header_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  size_t keep_raw_bytes_ = 0;
  std::string raw_;
  bool raw_truncated_ = false;
  bool raw_body_started_ = false;
  bool raw_pending_cr_ = false;  // a body chunk ended in CR
  // Appends to raw_ within keep_raw_bytes_.
  void KeepRaw(std::string_view bytes);
  std::unique_ptr<ContentReader> reader_;  // null once finished
  MessageContent content_;
};

// The envelope as rule scopes and direction see it (views into `envelope`).
ScopeInput ScopeOf(const Envelope& envelope);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MESSAGE_H_

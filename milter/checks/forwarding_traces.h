// The traces automatic forwarding leaves on a message, read from its top-level header
// and its envelope, for the auto_forward_out and auto_forward_in checks.
//
// A trace says how much it proves:
//   proof   a forwarding mechanism stamped the message: a mail store's filter or rule
//           engine (Sieve redirect, Zimbra, Exchange inbox rules), a provider's forwarding
//           (Gmail, Yandex, Mail.ru), Auto-Submitted: auto-forwarded, an SRS sender, or an
//           envelope recipient the MTA expanded from another address (ORCPT). A person
//           forwarding by hand produces none of these.
//   strong  the message was delivered to a mailbox before and is sent on (Delivered-To of
//           a mailbox that is not a recipient now), or mail of a foreign sender leaves from
//           inside without anybody logging in: what forwarding looks like, but also what a
//           person's "redirect" or a relay does.
//   hint    consistent with forwarding, proves nothing alone: Resent-* fields, Auto-
//           Submitted: auto-generated, X-Sieve, a recipient absent from To/Cc/Bcc.
// Where a trace names the mailbox that forwarded (`forwarder`, an address or "@domain")
// and where to (`target`), they are kept, so a check can tell forwarding by this
// organisation from forwarding that happened at an earlier hop.
//
// Only the top-level header is read: a message attached to a hand-written forward keeps
// its own traces inside, and they are not this message's.
#ifndef MAILWARDEN_MILTER_CHECKS_FORWARDING_TRACES_H_
#define MAILWARDEN_MILTER_CHECKS_FORWARDING_TRACES_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "milter/message.h"

namespace mailwarden {

enum class TraceStrength { kProof, kStrong, kHint };
std::string_view TraceStrengthName(TraceStrength s);  // "proof", "strong", "hint"

struct ForwardingTrace {
  std::string trace;   // what it is: "sieve-redirect", "gmail-forward", "srs-sender", ...
  std::string source;  // where: a header name, "envelope sender", "envelope recipient 2"
  std::string value;   // the header value or address, cut to 200 bytes
  TraceStrength strength = TraceStrength::kHint;
  std::string forwarder;         // the forwarding mailbox ("a@b") or domain ("@b"), lower case; ""
  std::string target;            // the address it was forwarded to, lower case; "" when not named
  bool public_provider = false;  // the trace itself names a public provider (Yandex, Mail.ru)

  nlohmann::json ToJson() const;
};

// Traces in the top-level header fields of `headers` (at most `kMaxTraceHeaders` fields
// are looked at, a bound on attacker-controlled input). `envelope` tells which mailboxes
// the message is addressed to now: a Delivered-To of one of them is no trace.
std::vector<ForwardingTrace> HeaderTraces(const std::vector<HeaderField>& headers,
                                          const Envelope& envelope);
// Traces in the envelope: the sender (Gmail "+caf_=", SRS0/SRS1) and recipients whose ORCPT
// names another address.
std::vector<ForwardingTrace> EnvelopeTraces(const Envelope& envelope);
// The ORCPT trace of recipient `index` alone, if it has one.
bool RecipientTrace(const Envelope& envelope, size_t index, ForwardingTrace* out);

// Addresses (local@domain, lower case) found in a header value, in order; display names,
// comments and angle brackets are skipped. At most `max` of them.
std::vector<std::string> AddressesIn(std::string_view value, size_t max = 50);

// Decodes an ESMTP ORCPT value "rfc822;alice+2Bx@example.org" (RFC 3461 xtext) to the
// address; "" when it is not an rfc822 address type or not valid xtext.
std::string DecodeOrcpt(std::string_view value);

constexpr size_t kMaxTraceHeaders = 500;

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_FORWARDING_TRACES_H_

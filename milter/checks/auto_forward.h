// The automatic forwarding ban (REGULATIONS.md M4): an official mailbox does not forward
// automatically to a mailbox the state did not issue, nor the reverse.
//
// Both checks read the traces of forwarding_traces.h and weigh them:
//   - a trace naming a forwarding mailbox counts only for the side it names (an internal
//     mailbox for "out", a mailbox outside the state domains for "in"), so the trace of an
//     earlier hop (Gmail's stamp on mail it forwarded to us) never decides about a later one;
//   - proof decides alone; otherwise two strong traces, or a strong one and a hint, or one
//     strong trace when the other side is a public provider (domains.public_providers);
//   - mail that is a mailing-list post (List-Id) or a delivery report (null sender,
//     multipart/report) is judged on proof only: lists and bounces re-send others' mail by
//     design;
//   - an authenticated sender (a person submitting) is judged on proof naming a mailbox
//     only: a hand-written forward or a client's "redirect" carries no such stamp.
//
// auto_forward_out (550 5.7.1): a message forwarded automatically from an internal
// mailbox to targets outside the state domains (domains.internal, domains.state). It judges
// at end of message on the ingress socket (smtpd and non_smtpd milters: Sieve redirects
// and sendmail come through pickup), and each recipient at RCPT on the egress listener,
// where the MTA's own forwarding (aliases, virtual aliases, .forward) shows as a recipient
// whose ORCPT names the internal address it was expanded from.
//
// auto_forward_in (550 5.7.1): a message forwarded automatically from a mailbox outside
// the state domains (or, with `forwarders: public_providers`, from a public provider only)
// into an internal mailbox.
//
// The log gets every trace that counted, and the reply names the forwarding mailbox and
// target; the reply never quotes other header content.
#ifndef MAILWARDEN_MILTER_CHECKS_AUTO_FORWARD_H_
#define MAILWARDEN_MILTER_CHECKS_AUTO_FORWARD_H_

#include "common/domain_patterns.h"
#include "common/rule_scope.h"
#include "milter/checks/check.h"
#include "milter/checks/forwarding_traces.h"

namespace mailwarden {

class AutoForwardCheck : public Check {
 public:
  enum class Side { kOut, kIn };
  // kInvalidArgument (with the rule's position) for a bad parameter or domain list.
  static Result<std::unique_ptr<Check>> Create(const RuleSpec& rule, const Config& config,
                                               Side side);
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;
  Status OnRecipient(const Envelope& envelope, size_t index,
                     std::vector<Finding>* out) const override;
  bool RunsAtEgress() const override { return side_ == Side::kOut; }

 private:
  AutoForwardCheck(const RuleSpec& rule, Side side, MailDomains domains, Locality locality)
      : Check(rule), side_(side), domains_(std::move(domains)), locality_(std::move(locality)) {}

  // The traces that count for this side, with the structural one added where it applies.
  std::vector<ForwardingTrace> CountingTraces(const Message& message,
                                              const std::vector<std::string>& targets) const;
  // Mail handed over by this organisation's side: logged in, from trusted_networks, an
  // internal sender, local submission, or the egress listener.
  bool FromInside(const Envelope& env) const;
  bool Decides(const std::vector<ForwardingTrace>& traces, bool public_other_side) const;
  Finding MakeForwardFinding(const std::string& forwarder, const std::vector<std::string>& targets,
                             const std::vector<ForwardingTrace>& traces) const;

  Side side_;
  bool public_only_ = false;  // auto_forward_in with forwarders: public_providers
  MailDomains domains_;
  Locality locality_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_AUTO_FORWARD_H_

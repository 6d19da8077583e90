#include "milter/checks/auto_forward.h"

#include <strings.h>

#include <algorithm>

namespace mailwarden {
namespace {

constexpr size_t kTargetsInReply = 3;
constexpr char kForeignSenderLeaving[] = "foreign-sender-leaving";

// A delivery report (RFC 3464) or other multipart/report: bounces re-send parts of
// others' mail by design.
bool IsReport(const Message& message) {
  if (!message.envelope().mail_from.empty()) return false;
  const HeaderField* ct = message.FindHeader("Content-Type");
  if (ct == nullptr) return false;
  std::string_view type = ct->value;
  size_t start = type.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return false;
  type.remove_prefix(start);
  return type.size() >= 16 && strncasecmp(type.data(), "multipart/report", 16) == 0;
}

std::string TargetList(const std::vector<std::string>& targets) {
  std::string out;
  for (size_t i = 0; i < targets.size() && i < kTargetsInReply; ++i)
    out += (i ? ", " : "") + targets[i];
  if (targets.size() > kTargetsInReply)
    out += " and " + std::to_string(targets.size() - kTargetsInReply) + " more";
  return out;
}

}  // namespace

Result<std::unique_ptr<Check>> AutoForwardCheck::Create(const RuleSpec& rule, const Config& config,
                                                        Side side) {
  auto domains = MailDomains::Build(config);
  if (!domains.ok())
    return Status::InvalidArgument(rule.where.ToString() + ": " + domains.status().message());
  auto locality = Locality::Build(config);
  if (!locality.ok())
    return Status::InvalidArgument(rule.where.ToString() + ": " + locality.status().message());
  std::unique_ptr<AutoForwardCheck> check(
      new AutoForwardCheck(rule, side, std::move(*domains), std::move(*locality)));
  if (side == Side::kIn) {
    const std::string& from = rule.param("forwarders").text;
    if (from != "non_state" && from != "public_providers") {
      return Status::InvalidArgument(rule.where.ToString() + ": forwarders: '" + from +
                                     "' is not one of non_state, public_providers");
    }
    check->public_only_ = from == "public_providers";
  }
  return std::unique_ptr<Check>(std::move(check));
}

std::vector<ForwardingTrace> AutoForwardCheck::CountingTraces(
    const Message& message, const std::vector<std::string>& targets) const {
  const Envelope& env = message.envelope();
  const bool exempt = message.FindHeader("List-Id") != nullptr || IsReport(message);
  const bool authenticated = !env.auth_user.empty();
  const DomainKind sender_kind = domains_.ClassifyAddress(env.mail_from);
  const bool trusted = locality_.IsTrustedClient(env.client_addr);
  const bool from_inside = FromInside(env);

  std::vector<ForwardingTrace> all = HeaderTraces(message.headers(), env);
  std::vector<ForwardingTrace> from_envelope = EnvelopeTraces(env);
  all.insert(all.end(), std::make_move_iterator(from_envelope.begin()),
             std::make_move_iterator(from_envelope.end()));

  std::vector<ForwardingTrace> counted;
  for (ForwardingTrace& t : all) {
    // A trace that names its target tells which hop it belongs to: going out, a forward
    // to a state domain (or into this organisation, an earlier hop) is none of ours.
    if (side_ == Side::kOut && !t.target.empty() && domains_.IsState(DomainOf(t.target))) continue;
    if (!t.forwarder.empty()) {
      // A named forwarder says whose forwarding this is: only that side's counts.
      std::string domain = DomainOf(t.forwarder);
      DomainKind kind = domains_.Classify(domain);
      if (side_ == Side::kOut) {
        if (kind != DomainKind::kInternal) continue;
      } else {
        if (domains_.IsState(domain)) continue;
        if (public_only_ && kind != DomainKind::kPublicProvider) continue;
      }
    } else if (side_ == Side::kOut) {
      // Unnamed: it is ours if the message leaves from inside, and nobody logged in to
      // send it (a person's redirect may carry old stamps).
      if (t.public_provider || !from_inside || authenticated) continue;
    } else {
      // Unnamed, arriving: the forwarder is whoever hands it to us, known by the sender's
      // domain unless the trace itself names a provider.
      if (from_inside) continue;
      if (!t.public_provider) {
        if (!env.mail_from.empty() && domains_.IsState(DomainOf(env.mail_from))) continue;
        if (public_only_ && sender_kind != DomainKind::kPublicProvider) continue;
      }
    }
    if (t.strength != TraceStrength::kProof && (exempt || authenticated)) continue;
    counted.push_back(std::move(t));
  }

  // Mail of a foreign sender that leaves from inside without a login: a mail store, a
  // relay in trusted_networks or a local program sending on someone else's message.
  if (side_ == Side::kOut && !exempt && !authenticated && !env.mail_from.empty() &&
      sender_kind != DomainKind::kInternal && (env.egress || !env.smtp || trusted)) {
    ForwardingTrace t;
    t.trace = kForeignSenderLeaving;
    t.source = "envelope sender";
    t.value = env.mail_from.substr(0, 200);
    t.strength = TraceStrength::kStrong;
    t.target = targets.front();
    counted.push_back(std::move(t));
  }
  return counted;
}

bool AutoForwardCheck::FromInside(const Envelope& env) const {
  return env.egress || !env.smtp || !env.auth_user.empty() ||
         locality_.IsTrustedClient(env.client_addr) ||
         domains_.ClassifyAddress(env.mail_from) == DomainKind::kInternal;
}

bool AutoForwardCheck::Decides(const std::vector<ForwardingTrace>& traces,
                               bool public_other_side) const {
  int strong = 0, hints = 0, stamped_strong = 0;
  for (const auto& t : traces) {
    if (t.strength == TraceStrength::kProof) return true;
    (t.strength == TraceStrength::kStrong ? strong : hints) += 1;
    if (t.strength == TraceStrength::kStrong && t.trace != kForeignSenderLeaving) ++stamped_strong;
  }
  // Towards a public provider one strong trace is enough, but not the structural one
  // alone: an application in trusted_networks sending as a customer's address is no forward.
  return strong >= 2 || (strong >= 1 && hints >= 1) || (stamped_strong >= 1 && public_other_side);
}

Finding AutoForwardCheck::MakeForwardFinding(const std::string& forwarder,
                                             const std::vector<std::string>& targets,
                                             const std::vector<ForwardingTrace>& traces) const {
  nlohmann::json evidence = nlohmann::json::array();
  for (const auto& t : traces) evidence.push_back(t.ToJson());
  nlohmann::json target_json = nlohmann::json::array();
  for (const auto& t : targets) {
    target_json.push_back(
        {{"address", t}, {"domain_kind", DomainKindName(domains_.ClassifyAddress(t))}});
  }
  nlohmann::json detail = {{"direction", side_ == Side::kOut ? "out" : "in"},
                           {"targets", target_json},
                           {"evidence", evidence}};
  if (!forwarder.empty()) {
    detail["forwarder"] = forwarder;
    detail["forwarder_domain_kind"] = DomainKindName(domains_.Classify(DomainOf(forwarder)));
  }
  std::string reason;
  if (side_ == Side::kOut) {
    reason = "automatic forwarding" + (forwarder.empty() ? "" : " from " + forwarder) + " to " +
             TargetList(targets) +
             " is forbidden: official mailboxes may forward automatically only to mailboxes "
             "of the state mail system";
  } else {
    reason = "mail forwarded automatically" +
             (forwarder.empty() ? std::string(" from outside") : " from " + forwarder) + " to " +
             TargetList(targets) +
             " is not accepted: automatic forwarding from mailboxes outside the state mail "
             "system is forbidden; the original sender should write to the recipient directly";
  }
  return MakeFinding(side_ == Side::kOut ? "auto_forward_out" : "auto_forward_in", 550, "5.7.1",
                     std::move(reason), {{"forwarding", std::move(detail)}});
}

Status AutoForwardCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  const Envelope& env = message.envelope();
  // Forwarding into the organisation is judged on mail arriving from outside only.
  if (side_ == Side::kIn && FromInside(env)) return Status::Ok();
  std::vector<std::string> targets;
  for (const auto& r : env.recipients) {
    DomainKind kind = domains_.ClassifyAddress(r);
    bool state = kind == DomainKind::kInternal || kind == DomainKind::kState;
    if (side_ == Side::kOut ? !state : kind == DomainKind::kInternal) targets.push_back(r);
  }
  if (targets.empty()) return Status::Ok();
  std::vector<ForwardingTrace> traces = CountingTraces(message, targets);
  if (traces.empty()) return Status::Ok();

  // The forwarding mailbox: the first counting trace that names one, else the sender.
  std::string forwarder;
  for (const auto& t : traces) {
    if (!t.forwarder.empty()) {
      forwarder = t.forwarder;
      break;
    }
  }
  bool public_other_side = false;
  if (side_ == Side::kOut) {
    public_other_side = std::any_of(targets.begin(), targets.end(), [&](const std::string& t) {
      return domains_.ClassifyAddress(t) == DomainKind::kPublicProvider;
    });
    if (forwarder.empty() && domains_.ClassifyAddress(env.mail_from) == DomainKind::kInternal)
      forwarder = env.mail_from;
  } else {
    if (forwarder.empty()) forwarder = env.mail_from;
    public_other_side =
        domains_.Classify(DomainOf(forwarder)) == DomainKind::kPublicProvider ||
        std::any_of(traces.begin(), traces.end(), [](const auto& t) { return t.public_provider; });
  }
  if (!Decides(traces, public_other_side)) return Status::Ok();
  out->push_back(MakeForwardFinding(forwarder, targets, traces));
  return Status::Ok();
}

Status AutoForwardCheck::OnRecipient(const Envelope& envelope, size_t index,
                                     std::vector<Finding>* out) const {
  if (side_ != Side::kOut || index >= envelope.recipients.size()) return Status::Ok();
  const std::string& rcpt = envelope.recipients[index];
  if (domains_.IsState(DomainOf(rcpt))) return Status::Ok();
  ForwardingTrace t;
  if (!RecipientTrace(envelope, index, &t)) return Status::Ok();
  if (domains_.ClassifyAddress(t.forwarder) != DomainKind::kInternal) return Status::Ok();
  out->push_back(MakeForwardFinding(t.forwarder, {rcpt}, {t}));
  return Status::Ok();
}

}  // namespace mailwarden

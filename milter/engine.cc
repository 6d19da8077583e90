#include "milter/engine.h"

#include <unistd.h>

#include <algorithm>
#include <exception>

#include "common/decision_log.h"
#include "common/log.h"
#include "milter/checks/file_name.h"

namespace mailwarden {
namespace {

// SMTP replies longer than this are cut: RFC 5321 allows 512 octets per reply line.
constexpr size_t kMaxReplyText = 400;
// event.severity of alerts (ECS leaves the scale to the source; 73 is "high" on the
// 0-100 scale SIEMs such as Elastic use for detection rules).
constexpr int kAlertSeverity = 73;

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

// A finding made by the engine itself (not by a rule's check).
Finding EngineFinding(std::string rule_id, std::string check, Action action, std::string reason,
                      nlohmann::json evidence) {
  Finding f;
  f.rule_id = std::move(rule_id);
  f.check = std::move(check);
  f.action = action;
  f.smtp_code = action == Action::kTempfail ? 451 : 550;
  f.enhanced_code = action == Action::kTempfail ? "4.7.1" : "5.7.1";
  f.reason = std::move(reason);
  f.evidence = std::move(evidence);
  return f;
}

// Attachments logged per message: a message with thousands of parts is refused by the
// mime limits anyway, and the log line must stay readable.
constexpr size_t kMaxAttachmentsLogged = 100;

// ECS email.attachments[]: file.* as ECS defines it, and what mailwarden learnt about the
// part under "mailwarden" (part path, true type, archive summary).
nlohmann::json AttachmentRecords(const MessageContent& content) {
  nlohmann::json out = nlohmann::json::array();
  for (const ContentPart& cp : content.parts) {
    const mime::MimePart& p = cp.part;
    if (p.is_main_body) continue;
    if (out.size() == kMaxAttachmentsLogged) break;
    nlohmann::json file, mw;
    if (!p.file_name.empty()) {
      file["name"] = p.file_name;
      std::string ext = FinalExtension(NormaliseFileName(p.file_name));
      if (!ext.empty()) file["extension"] = ext;
    }
    file["size"] = p.size;
    // ECS wants the most specific type: what the content is, not what the sender said.
    file["mime_type"] = p.detected_type.empty() ? p.content_type : p.detected_type;
    if (p.content_type != file["mime_type"]) mw["declared_type"] = p.content_type;
    if (!p.sha256.empty()) file["hash"]["sha256"] = p.sha256;
    mw["part"] = p.path;
    if (!p.other_name.empty()) mw["content_type_name"] = p.other_name;
    if (p.true_type != TrueType::kUnknown) mw["true_type"] = TrueTypeName(p.true_type);
    if (!cp.container.empty()) mw["container"] = cp.container;
    if (p.in_attached_message) mw["in_attached_message"] = true;
    if (p.from_uuencode) mw["uuencoded"] = true;
    if (cp.archive) {
      const ArchiveListing& a = *cp.archive;
      mw["archive"] = {{"format", a.format}, {"members", a.members.size()}};
      if (a.encrypted_entries || a.encrypted_header) mw["archive"]["encrypted"] = true;
      if (a.document) mw["archive"]["document"] = true;
      if (a.macro_enabled) mw["archive"]["macro_enabled"] = true;
      if (a.truncated) mw["archive"]["incomplete"] = true;
    }
    out.push_back({{"file", std::move(file)}, {"mailwarden", std::move(mw)}});
  }
  return out;
}

}  // namespace

ContentLimits ContentLimitsOf(const Config& c) {
  auto n = [&](std::string_view name) { return static_cast<uint64_t>(c.value(name).number); };
  ContentLimits l;
  l.mime.max_depth = n("mime.max_depth");
  l.mime.max_parts = n("mime.max_parts");
  l.mime.max_header_line_bytes = n("mime.max_header_line_bytes");
  l.mime.max_header_bytes = n("mime.max_header_bytes");
  l.mime.max_headers = n("mime.max_headers");
  l.mime.max_boundary_length = n("mime.max_boundary_length");
  l.mime.max_kept_part_bytes = n("mime.max_kept_part_bytes");
  l.mime.max_kept_total_bytes = n("mime.max_kept_total_bytes");
  l.archive.max_depth = static_cast<int>(n("archive.max_depth"));
  l.archive.max_members = n("archive.max_members");
  l.archive.max_total_expanded = n("archive.max_total_expanded");
  l.archive.max_ratio = n("archive.max_ratio");
  l.archive.min_expanded_for_ratio = n("archive.min_expanded_for_ratio");
  l.archive.max_member_bytes_read = n("archive.max_member_bytes_read");
  // A virus can hide in the text body too (EICAR in a plain message), and so can a
  // classification marking: keep the bodies whole when a rule reads them.
  for (const RuleSpec* rule : c.RulesFor(CheckHost::kMilter)) {
    if (rule->check == "antivirus" || rule->check == "classified_document" ||
        rule->check == "spam") {
      l.keep_text_bodies = true;
    }
    // The spam check's raw rules read the message as received.
    if (rule->check == "spam") {
      l.keep_raw_bytes =
          std::max(l.keep_raw_bytes, static_cast<size_t>(rule->param("max_raw").number));
    }
    // Documents inside archives are kept by the archive walk for their text to be read.
    if (rule->check == "classified_document") {
      l.archive.max_kept_documents =
          std::max(l.archive.max_kept_documents,
                   static_cast<uint64_t>(rule->param("max_archived_documents").number));
    }
  }
  l.tnef.max_files = n("tnef.max_files");
  l.tnef.max_total_bytes = n("tnef.max_total_bytes");
  return l;
}

Engine::Engine(std::shared_ptr<const Config> config, Locality locality)
    : config_(std::move(config)),
      locality_(std::move(locality)),
      content_limits_(ContentLimitsOf(*config_)) {}

std::unique_ptr<Message> Engine::NewMessage(Envelope envelope) const {
  return std::make_unique<Message>(std::move(envelope), content_limits_);
}

void Engine::IncompleteContentFindings(const MessageContent& content,
                                       std::vector<Finding>* out) const {
  // One finding per kind is enough for the reply; the evidence lists them all.
  if (!content.limit_hits.empty()) {
    const ContentLimitHit& first = content.limit_hits.front();
    nlohmann::json hits = nlohmann::json::array();
    for (const ContentLimitHit& h : content.limit_hits) {
      hits.push_back({{"limit", h.name}, {"value", h.value}, {"part", h.where}});
    }
    out->push_back(EngineFinding(
        "mime-limits", "on_limit_exceeded", config_->value("mime.on_limit_exceeded").action,
        "message exceeds the limit " + first.name + " (" + std::to_string(first.value) +
            ") at part " + first.where + " and cannot be fully checked",
        {{"limits", std::move(hits)}}));
  }
  if (!content.damaged.empty()) {
    nlohmann::json parts = nlohmann::json::array();
    for (const std::string& p : content.damaged) parts.push_back(p);
    out->push_back(
        EngineFinding("mime-damaged", "on_damaged", config_->value("mime.on_damaged").action,
                      "attachment at part " + content.damaged.front() +
                          " is a damaged or unreadable archive and cannot be fully checked",
                      {{"parts", std::move(parts)}}));
  }
}

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kMailFrom:
      return "mail_from";
    case Stage::kRecipient:
      return "rcpt";
    case Stage::kEndOfMessage:
      return "eom";
  }
  return "eom";
}

std::string Verdict::ReplyLine() const {
  if (action != Action::kReject && action != Action::kTempfail) return "";
  return std::to_string(smtp_code) + " " + enhanced_code + " " + text;
}

Result<std::shared_ptr<const Engine>> Engine::Assemble(std::shared_ptr<const Config> config,
                                                       std::vector<std::unique_ptr<Check>> checks,
                                                       std::vector<const RuleSpec*> rules) {
  auto locality = Locality::Build(*config);
  if (!locality.ok()) return locality.status();
  std::shared_ptr<Engine> engine(new Engine(config, std::move(locality).value()));
  for (size_t i = 0; i < checks.size(); ++i) {
    RuleScope scope;
    if (i < rules.size()) {
      auto built = RuleScope::Build(*rules[i]);
      if (!built.ok()) {
        return Status::InvalidArgument(rules[i]->where.ToString() + ": " +
                                       built.status().message());
      }
      scope = std::move(built).value();
    }
    engine->checks_.push_back({std::move(checks[i]), std::move(scope)});
  }
  return std::shared_ptr<const Engine>(std::move(engine));
}

Result<std::shared_ptr<const Engine>> Engine::Build(std::shared_ptr<const Config> config) {
  std::vector<const RuleSpec*> rules = config->RulesFor(CheckHost::kMilter);
  std::vector<std::unique_ptr<Check>> checks;
  for (const RuleSpec* rule : rules) {
    auto check = MakeCheck(*rule, *config);
    if (!check.ok()) return check.status();
    checks.push_back(std::move(check).value());
  }
  return Assemble(std::move(config), std::move(checks), std::move(rules));
}

std::shared_ptr<const Engine> Engine::FromChecks(std::shared_ptr<const Config> config,
                                                 std::vector<std::unique_ptr<Check>> checks) {
  auto engine = Assemble(std::move(config), std::move(checks), {});
  return engine.ok() ? *engine : nullptr;
}

Direction Engine::DirectionOf(const Envelope& envelope) const {
  return locality_.Classify(ScopeOf(envelope));
}

Finding Engine::FailureFinding(const Check& check, const Status& status) const {
  bool timeout = status.code() == Status::Code::kTimeout;
  Finding f;
  f.rule_id = check.rule_id();
  f.check = timeout ? "on_timeout" : "on_internal_error";
  f.action = timeout ? config_->milter.on_timeout : config_->milter.on_internal_error;
  if (f.action == Action::kReject) {
    f.smtp_code = 550;
    f.enhanced_code = "5.3.0";
    f.reason = "message could not be checked";
  } else {
    f.smtp_code = 451;
    f.enhanced_code = "4.3.0";
    f.reason = "temporary failure while checking the message, try again later";
  }
  f.evidence = {{"error", status.ToString()}, {"fail_open", f.action == Action::kAccept}};
  LogError("rule " + check.rule_id() + " failed: " + status.ToString() + " -> " +
           std::string(ActionName(f.action)));
  return f;
}

Verdict Engine::Decide(std::vector<Finding> findings) const {
  Verdict v;
  v.findings = std::move(findings);
  for (const Finding& f : v.findings) {
    if (v.deciding == nullptr || f.action > v.deciding->action) v.deciding = &f;
  }
  if (v.deciding == nullptr) return v;
  const Finding& d = *v.deciding;
  v.action = d.action;
  if (v.action == Action::kReject || v.action == Action::kTempfail) {
    v.smtp_code = d.smtp_code;
    v.enhanced_code = d.enhanced_code;
    // A tempfail must carry a 4xx code whatever the finding said, and a reject a 5xx.
    if (v.action == Action::kTempfail && v.smtp_code / 100 != 4) {
      v.smtp_code = 451;
      v.enhanced_code = "4" + (v.enhanced_code.size() > 1 ? v.enhanced_code.substr(1) : ".7.1");
    } else if (v.action == Action::kReject && v.smtp_code / 100 != 5) {
      v.smtp_code = 550;
      v.enhanced_code = "5" + (v.enhanced_code.size() > 1 ? v.enhanced_code.substr(1) : ".7.1");
    }
    std::string text = d.reason.substr(0, kMaxReplyText);
    for (char& c : text) {
      if (c == '\r' || c == '\n' || c == '%') c = ' ';  // keep the reply one clean line
    }
    v.text = text + " (mailwarden rule " + d.rule_id + ")";
  } else if (v.action == Action::kQuarantine) {
    v.text = "mailwarden rule " + d.rule_id + ": " + d.reason;
  }
  return v;
}

Verdict Engine::AtMailFrom(const Envelope& envelope) const {
  std::vector<Finding> findings;
  ScopeInput in = ScopeOf(envelope);
  Direction direction = locality_.Classify(in);
  for (const auto& [check, scope] : checks_) {
    // A rule scoped by direction or recipients cannot be judged before RCPT: it decides
    // at end of message.
    if (scope.needs_recipients() || !scope.Applies(in, direction)) continue;
    if (envelope.egress && !check->RunsAtEgress()) continue;
    Status s;
    try {
      s = check->OnMailFrom(envelope, &findings);
    } catch (const std::exception& e) {
      s = Status::Internal(e.what());
    }
    if (!s.ok()) findings.push_back(FailureFinding(*check, s));
  }
  return Decide(std::move(findings));
}

Verdict Engine::AtEndOfMessage(Message& message) const {
  std::vector<Finding> findings;
  message.FinishContent();
  ScopeInput in = ScopeOf(message.envelope());
  Direction direction = locality_.Classify(in);
  const bool egress = message.envelope().egress;
  for (const auto& [check, scope] : checks_) {
    if (!scope.Applies(in, direction)) continue;
    if (egress && !check->RunsAtEgress()) continue;
    Status s;
    try {
      s = check->Inspect(message, &findings);
    } catch (const std::exception& e) {
      s = Status::Internal(e.what());
    }
    if (!s.ok()) findings.push_back(FailureFinding(*check, s));
  }
  // After the rules: on equal actions the first finding decides, and a rule's reason
  // ("executable found") tells the sender more than "could not check everything".
  // The egress listener judges forwarding only; the content was judged when it came in.
  if (!egress) IncompleteContentFindings(message.content(), &findings);
  Verdict v = Decide(std::move(findings));
  if (v.action == Action::kTag || v.action == Action::kQuarantine || v.action == Action::kAccept) {
    std::string rules;
    for (const Finding& f : v.findings) {
      if (f.action != Action::kAccept) rules += (rules.empty() ? "" : ",") + f.rule_id;
    }
    // On every accepted message the header would cost Postfix a queue-file edit per
    // message (bench/README.md); the decision log has every verdict anyway.
    bool wanted =
        v.action != Action::kAccept || !rules.empty() || config_->milter.verdict_header_on_accept;
    if (wanted && !config_->milter.verdict_header.empty()) {
      static const std::string kHost = Hostname();
      std::string value = std::string(ActionName(v.action)) + " (" + kHost + ")";
      if (!rules.empty()) value += " rules=" + rules;
      v.add_headers.push_back({config_->milter.verdict_header, value});
    }
    // What the findings ask to mark the message with (a spam score, a subject tag).
    std::string prefix;
    for (const Finding& f : v.findings) {
      for (const HeaderField& h : f.add_headers) v.add_headers.push_back(h);
      if (!f.subject_prefix.empty() && prefix.find(f.subject_prefix) == std::string::npos)
        prefix += f.subject_prefix + " ";
    }
    if (!prefix.empty()) {
      const HeaderField* subject = message.FindHeader("Subject");
      if (subject == nullptr) {
        prefix.pop_back();
        v.add_headers.push_back({"Subject", prefix});
      } else {
        // A value may come with its leading space; a folded value keeps its folds.
        std::string_view old = subject->value;
        while (!old.empty() && (old.front() == ' ' || old.front() == '\t')) old.remove_prefix(1);
        if (old.compare(0, prefix.size(), prefix) != 0)
          v.change_headers.push_back({"Subject", prefix + std::string(old)});
      }
    }
  }
  return v;
}

Verdict Engine::AtRecipient(const Envelope& envelope) const {
  std::vector<Finding> findings;
  if (envelope.recipients.empty()) return Decide(std::move(findings));
  const size_t index = envelope.recipients.size() - 1;
  // The scope sees this recipient alone: an `except: {recipients: ...}` exempts it.
  ScopeInput in = ScopeOf(envelope);
  in.recipients = std::span<const std::string>(&envelope.recipients[index], 1);
  Direction direction = locality_.Classify(in);
  for (const auto& [check, scope] : checks_) {
    if (envelope.egress && !check->RunsAtEgress()) continue;
    if (!scope.Applies(in, direction)) continue;
    Status s;
    try {
      s = check->OnRecipient(envelope, index, &findings);
    } catch (const std::exception& e) {
      s = Status::Internal(e.what());
    }
    if (!s.ok()) findings.push_back(FailureFinding(*check, s));
  }
  return Decide(std::move(findings));
}

bool Engine::ShouldLog(const Verdict& verdict) const {
  return verdict.action != Action::kAccept || config_->log.log_accepted;
}

nlohmann::json Engine::DecisionRecord(const Message& message, const Verdict& verdict,
                                      Stage stage) const {
  const Envelope& env = message.envelope();
  nlohmann::json r = NewDecisionRecord("milter");
  auto& event = r["event"];
  event["action"] = ActionName(verdict.action);
  event["category"] = nlohmann::json::array({"email"});
  event["type"] = nlohmann::json::array(
      {verdict.action == Action::kReject || verdict.action == Action::kTempfail ? "denied"
                                                                                : "allowed"});
  event["outcome"] = "success";
  // A classified document held or refused is an alert for the SOC, not a routine event.
  for (const Finding& f : verdict.findings) {
    if (f.alert && f.action != Action::kAccept) {
      event["kind"] = "alert";
      event["severity"] = kAlertSeverity;
      break;
    }
  }
  if (verdict.deciding != nullptr) {
    event["reason"] = verdict.deciding->reason;
    r["rule"] = {{"id", verdict.deciding->rule_id}, {"name", verdict.deciding->check}};
  }
  nlohmann::json email;
  if (!env.queue_id.empty()) email["local_id"] = env.queue_id;
  if (const HeaderField* mid = message.FindHeader("Message-ID")) email["message_id"] = mid->value;
  if (config_->log.include_subject) {
    if (const HeaderField* subj = message.FindHeader("Subject")) email["subject"] = subj->value;
  }
  email["from"]["address"] = env.mail_from;
  email["to"]["address"] = env.recipients;
  // Before RCPT (a refusal at MAIL FROM) there are no recipients to judge a direction by.
  if (!env.recipients.empty()) {
    email["direction"] = DirectionName(DirectionOf(env));
  }
  if (stage == Stage::kEndOfMessage) {
    nlohmann::json attachments = AttachmentRecords(message.content());
    if (!attachments.empty()) email["attachments"] = std::move(attachments);
  }
  r["email"] = std::move(email);
  if (!env.client_addr.empty()) r["source"]["ip"] = env.client_addr;
  // "[192.0.2.1]" is how the MTA says the address has no name.
  if (!env.client_name.empty() && env.client_name.front() != '[') {
    r["source"]["domain"] = env.client_name;
  }
  if (!env.auth_user.empty()) r["user"]["name"] = env.auth_user;
  nlohmann::json mw;
  mw["stage"] = StageName(stage);
  mw["smtp"] = env.smtp;
  if (env.egress) mw["role"] = "egress";
  if (stage == Stage::kEndOfMessage) mw["size"] = message.size();
  if (env.announced_size) mw["announced_size"] = *env.announced_size;
  std::string reply = verdict.ReplyLine();
  if (!reply.empty()) mw["reply"] = reply;
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : verdict.findings) {
    findings.push_back(FindingRecord(f.rule_id, f.check, f.action, f.reason, f.evidence));
  }
  mw["findings"] = std::move(findings);
  r["mailwarden"] = std::move(mw);
  return r;
}

}  // namespace mailwarden

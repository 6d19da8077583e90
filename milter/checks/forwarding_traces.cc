#include "milter/checks/forwarding_traces.h"

#include <strings.h>

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace mailwarden {
namespace {

constexpr size_t kMaxValue = 200;

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool ContainsNoCase(std::string_view s, std::string_view needle) {
  if (needle.size() > s.size()) return false;
  for (size_t i = 0; i + needle.size() <= s.size(); ++i) {
    if (strncasecmp(s.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

std::string Trimmed(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  return std::string(v.substr(0, kMaxValue));
}

bool IsLocalChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
}

bool IsDomainChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

ForwardingTrace Make(std::string trace, std::string source, std::string_view value,
                     TraceStrength strength) {
  ForwardingTrace t;
  t.trace = std::move(trace);
  t.source = std::move(source);
  t.value = Trimmed(value);
  t.strength = strength;
  return t;
}

std::string FirstAddress(std::string_view value) {
  auto all = AddressesIn(value, 1);
  return all.empty() ? std::string() : all.front();
}

bool IsRecipient(const Envelope& envelope, std::string_view address) {
  return std::any_of(envelope.recipients.begin(), envelope.recipients.end(),
                     [&](const std::string& r) { return EqualsNoCase(r, address); });
}

}  // namespace

std::string_view TraceStrengthName(TraceStrength s) {
  switch (s) {
    case TraceStrength::kProof:
      return "proof";
    case TraceStrength::kStrong:
      return "strong";
    case TraceStrength::kHint:
      return "hint";
  }
  return "hint";
}

nlohmann::json ForwardingTrace::ToJson() const {
  nlohmann::json j = {{"trace", trace},
                      {"source", source},
                      {"value", value},
                      {"strength", TraceStrengthName(strength)}};
  if (!forwarder.empty()) j["forwarder"] = forwarder;
  if (!target.empty()) j["target"] = target;
  return j;
}

std::vector<std::string> AddressesIn(std::string_view value, size_t max) {
  std::vector<std::string> out;
  bool quoted = false;
  int comment = 0;
  for (size_t i = 0; i < value.size() && out.size() < max; ++i) {
    char c = value[i];
    // Display names in quotes and (comments) may hold '@' that is not an address.
    if (c == '"' && comment == 0 && (i == 0 || value[i - 1] != '\\')) {
      quoted = !quoted;
      continue;
    }
    if (quoted) continue;
    if (c == '(') ++comment;
    if (c == ')' && comment > 0) --comment;
    if (comment > 0 || c != '@') continue;
    size_t begin = i, end = i + 1;
    while (begin > 0 && IsLocalChar(value[begin - 1])) --begin;
    while (end < value.size() && IsDomainChar(value[end])) ++end;
    std::string_view local = value.substr(begin, i - begin);
    std::string_view domain = value.substr(i + 1, end - i - 1);
    while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (!local.empty() && domain.find('.') != std::string_view::npos)
      out.push_back(AsciiLower(local) + "@" + AsciiLower(domain));
    i = end > i ? end - 1 : i;
  }
  return out;
}

std::string DecodeOrcpt(std::string_view value) {
  if (!StartsWithNoCase(value, "rfc822;")) return "";
  value.remove_prefix(7);
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '+') {
      // "+XX": two upper-case hex digits (RFC 3461 section 4).
      if (i + 2 >= value.size()) return "";
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(value[i + 1]), lo = hex(value[i + 2]);
      if (hi < 0 || lo < 0) return "";
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c < '!' || c > '~' || c == '=') {
      return "";
    } else {
      out.push_back(c);
    }
  }
  if (out.size() >= 2 && out.front() == '<' && out.back() == '>')
    out = out.substr(1, out.size() - 2);
  return AsciiLower(out);
}

std::vector<ForwardingTrace> HeaderTraces(const std::vector<HeaderField>& headers,
                                          const Envelope& envelope) {
  std::vector<ForwardingTrace> out;
  bool resent_seen = false, delivered_seen = false;
  size_t n = std::min(headers.size(), kMaxTraceHeaders);
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = headers[i].name;
    std::string_view value = headers[i].value;
    if (EqualsNoCase(name, "X-Sieve-Redirected-From")) {
      // Pigeonhole (Dovecot) stamps the mailbox whose Sieve script redirected.
      ForwardingTrace t = Make("sieve-redirect", name, value, TraceStrength::kProof);
      t.forwarder = FirstAddress(value);
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-Zimbra-Forwarded")) {
      ForwardingTrace t = Make("zimbra-forward", name, value, TraceStrength::kProof);
      t.forwarder = FirstAddress(value);
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-MS-Exchange-Inbox-Rules-Loop")) {
      // Exchange stamps the mailbox whose inbox rule forwarded or redirected.
      ForwardingTrace t = Make("exchange-inbox-rule", name, value, TraceStrength::kProof);
      t.forwarder = FirstAddress(value);
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-MS-Exchange-ForwardingLoop")) {
      // "mailbox@domain;tenant-id": mailbox-level forwarding (ForwardingSmtpAddress).
      ForwardingTrace t = Make("exchange-forwarding", name, value, TraceStrength::kProof);
      t.forwarder = FirstAddress(value);
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-MS-Exchange-Generated-Message-Source")) {
      // Only the inbox-rule agent forwards; other agents (transport rules, journaling)
      // generate mail of their own.
      if (ContainsNoCase(value, "Mailbox Rules Agent") || ContainsNoCase(value, "Forward"))
        out.push_back(Make("exchange-mailbox-rule", name, value, TraceStrength::kProof));
    } else if (EqualsNoCase(name, "X-Forwarded-To")) {
      // Gmail's forwarding: the address the copy goes to. The same name is used by HTTP
      // proxies for client addresses, so it counts only when it holds a mail address.
      std::string target = FirstAddress(value);
      if (target.empty()) continue;
      ForwardingTrace t = Make("gmail-forward", name, value, TraceStrength::kProof);
      t.target = target;
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-Forwarded-For")) {
      // Gmail: "forwarding-mailbox target".
      auto addrs = AddressesIn(value, 2);
      if (addrs.empty()) continue;
      ForwardingTrace t = Make("gmail-forward", name, value, TraceStrength::kProof);
      t.forwarder = addrs[0];
      if (addrs.size() > 1) t.target = addrs[1];
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-Yandex-Forward")) {
      ForwardingTrace t = Make("yandex-forward", name, value, TraceStrength::kProof);
      t.public_provider = true;
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-MailRu-Forward")) {
      ForwardingTrace t = Make("mailru-forward", name, value, TraceStrength::kProof);
      t.public_provider = true;
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "Auto-Submitted")) {
      // RFC 3834 / RFC 5436: "auto-forwarded" is forwarding; "auto-generated" is a
      // machine-made message (a notice), not forwarding; "auto-replied" (vacation) is
      // neither.
      std::string kw = AsciiLower(Trimmed(value.substr(0, value.find(';'))));
      if (kw == "auto-forwarded")
        out.push_back(Make("auto-submitted-forwarded", name, value, TraceStrength::kProof));
      else if (kw == "auto-generated")
        out.push_back(Make("auto-submitted-generated", name, value, TraceStrength::kHint));
    } else if (StartsWithNoCase(name, "Resent-")) {
      // A resend (RFC 5322 3.6.6): what a person's "redirect" produces too. One trace for
      // the block, the newest (topmost) Resent-From or Resent-Sender naming who resent.
      if (resent_seen) continue;
      if (!EqualsNoCase(name, "Resent-From") && !EqualsNoCase(name, "Resent-Sender")) continue;
      resent_seen = true;
      ForwardingTrace t = Make("resent", name, value, TraceStrength::kHint);
      t.forwarder = FirstAddress(value);
      out.push_back(std::move(t));
    } else if (EqualsNoCase(name, "X-Sieve")) {
      out.push_back(Make("sieve-processed", name, value, TraceStrength::kHint));
    } else if (EqualsNoCase(name, "Delivered-To") || EqualsNoCase(name, "X-Original-To")) {
      // The newest delivery stamp: delivered to that mailbox before, and now sent on to
      // someone else.
      if (delivered_seen) continue;
      delivered_seen = true;
      std::string mailbox = FirstAddress(value);
      if (mailbox.empty() || IsRecipient(envelope, mailbox)) continue;
      ForwardingTrace t = Make("delivered-before", name, value, TraceStrength::kStrong);
      t.forwarder = mailbox;
      out.push_back(std::move(t));
    }
  }
  // A message handed back to the MTA (local submission) whose recipients are in none of
  // To, Cc and Bcc was not written to them: a redirect, a forward, or a plain Bcc.
  if (!envelope.smtp && !envelope.recipients.empty()) {
    std::vector<std::string> listed;
    for (size_t i = 0; i < n; ++i) {
      const std::string& name = headers[i].name;
      if (EqualsNoCase(name, "To") || EqualsNoCase(name, "Cc") || EqualsNoCase(name, "Bcc")) {
        auto a = AddressesIn(headers[i].value);
        listed.insert(listed.end(), a.begin(), a.end());
      }
    }
    bool any_listed = std::any_of(
        envelope.recipients.begin(), envelope.recipients.end(), [&](const std::string& r) {
          return std::find(listed.begin(), listed.end(), AsciiLower(r)) != listed.end();
        });
    if (!any_listed) {
      out.push_back(Make("recipient-not-in-header", "envelope recipients",
                         envelope.recipients.front(), TraceStrength::kHint));
    }
  }
  return out;
}

std::vector<ForwardingTrace> EnvelopeTraces(const Envelope& envelope) {
  std::vector<ForwardingTrace> out;
  std::string_view sender = envelope.mail_from;
  size_t at = sender.rfind('@');
  if (at != std::string_view::npos && at > 0) {
    std::string_view local = sender.substr(0, at), domain = sender.substr(at + 1);
    if (size_t caf = AsciiLower(local).find("+caf_="); caf != std::string::npos) {
      // Gmail and Google Workspace forwarding: "mailbox+caf_=target=target-domain@domain".
      std::string_view encoded = local.substr(caf + 6);
      ForwardingTrace t =
          Make("gmail-forward-sender", "envelope sender", sender, TraceStrength::kProof);
      t.forwarder = AsciiLower(local.substr(0, caf)) + "@" + AsciiLower(domain);
      if (size_t eq = encoded.rfind('='); eq != std::string_view::npos && eq > 0)
        t.target = AsciiLower(encoded.substr(0, eq)) + "@" + AsciiLower(encoded.substr(eq + 1));
      out.push_back(std::move(t));
    } else if (StartsWithNoCase(local, "SRS0=") || StartsWithNoCase(local, "SRS1=") ||
               StartsWithNoCase(local, "SRS0+") || StartsWithNoCase(local, "SRS0-") ||
               StartsWithNoCase(local, "SRS1+") || StartsWithNoCase(local, "SRS1-")) {
      // Sender Rewriting Scheme: a forwarder at `domain` sent on mail of someone else.
      ForwardingTrace t = Make("srs-sender", "envelope sender", sender, TraceStrength::kProof);
      t.forwarder = "@" + AsciiLower(domain);
      out.push_back(std::move(t));
    }
  }
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    ForwardingTrace t;
    if (RecipientTrace(envelope, i, &t)) out.push_back(std::move(t));
  }
  return out;
}

bool RecipientTrace(const Envelope& envelope, size_t index, ForwardingTrace* out) {
  if (index >= envelope.recipients.size() || index >= envelope.original_recipients.size())
    return false;
  const std::string& original = envelope.original_recipients[index];
  const std::string& now = envelope.recipients[index];
  if (original.empty() || EqualsNoCase(original, now)) return false;
  // The MTA expanded `original` (an alias, a virtual alias, a .forward) into `now`.
  *out = Make("expanded-recipient", "envelope recipient " + std::to_string(index + 1) + " ORCPT",
              original, TraceStrength::kProof);
  out->forwarder = AsciiLower(original);
  out->target = AsciiLower(now);
  return true;
}

}  // namespace mailwarden

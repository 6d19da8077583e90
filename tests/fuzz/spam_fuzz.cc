// libFuzzer target: the parsers of the spam check. The first byte of the input picks what
// the rest is (its value modulo 4; the seeds in corpus/spam/ start with the digit):
//   0  an admins' spam rule file (SpamRuleSet::Parse): it loads, or is refused with an
//      InvalidArgument whose every line is "fuzz.yaml:LINE:COLUMN: reason" (both from 1);
//      a loaded set is matched against a small fixed message;
//   1  a message, read as from the MTA and finished, then viewed (BuildMessageView, with
//      small limits so that the truncation paths are reached), judged by the built-in
//      heuristics and by the shipped rules/spam-rules.yaml, and tokenized;
//   2  an answer from rspamd (HTTP, JSON), 3  an answer from spamd (the SYMBOLS reply), as
//      read back from the scorer's socket.
// Nothing may crash, hang or leak, and each result must keep its header's contract.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milter/eml_reader.h"
#include "milter/message.h"
#include "milter/spam/external_scorer.h"
#include "milter/spam/heuristics.h"
#include "milter/spam/message_view.h"
#include "milter/spam/spam_rules.h"
#include "milter/spam/spam_types.h"
#include "milter/spam/tokenizer.h"

namespace spam = mailwarden::spam;

namespace {

constexpr char kFileName[] = "fuzz.yaml";

// Small, so that a fuzzer-sized message reaches every cut.
spam::ViewLimits SmallViewLimits() {
  spam::ViewLimits limits;
  limits.max_text_bytes = 2048;
  limits.max_links = 8;
  limits.max_raw_bytes = 4096;
  limits.max_headers = 24;
  limits.max_header_bytes = 512;
  return limits;
}

constexpr size_t kMaxTokens = 300;
constexpr size_t kMaxLinkUrl = 2048;  // spam_types.h: Link::url

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF. Written here
// rather than shared with the code under test, so that both cannot be wrong the same way.
bool StrictUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

bool ValidSignalName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A signal as the decision log and X-Spam-Status print it: a name, a finite score, and a
// detail without control characters.
void CheckSignals(const std::vector<spam::Signal>& signals) {
  for (const spam::Signal& s : signals) {
    if (!ValidSignalName(s.name) || !std::isfinite(s.score)) std::abort();
    for (char c : s.detail) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) std::abort();
    }
  }
}

// ---- 0: a rule file ---------------------------------------------------------------------

// "fuzz.yaml:L:C: reason" with L and C decimal numbers of at least 1.
bool IsDiagnosticLine(std::string_view line) {
  const std::string prefix = std::string(kFileName) + ":";
  if (!line.starts_with(prefix)) return false;
  line.remove_prefix(prefix.size());
  for (int field = 0; field < 2; ++field) {
    size_t digits = 0;
    uint64_t value = 0;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9' && digits < 10) {
      value = value * 10 + static_cast<uint64_t>(line[digits] - '0');
      ++digits;
    }
    if (digits == 0 || value < 1 || digits >= line.size() || line[digits] != ':') return false;
    line.remove_prefix(digits + 1);
  }
  return line.starts_with(" ") && line.size() > 1;
}

const spam::MessageView& FixedView() {
  static const spam::MessageView view = [] {
    spam::MessageView v;
    v.headers = {{"From", "Phòng Tài chính <ketoan@example.vn>"},
                 {"To", "b@example.gov.vn"},
                 {"Subject", "TRÚNG THƯỞNG 100% miễn phí"},
                 {"List-Unsubscribe", "<mailto:u@example.vn>"},
                 {"X-Mailer", "Bulk 1.0"}};
    v.subject = v.headers[2].value;
    v.from_address = "ketoan@example.vn";
    v.from_display = "Phòng Tài chính";
    v.body_text =
        "Chúc mừng bạn đã trúng thưởng! Click here: http://192.0.2.7/claim\n"
        "Straße, trung thuong, FREE money $$$\n";
    v.links = {{"http://192.0.2.7/claim", "192.0.2.7", "", false},
               {"https://bit.ly/x", "bit.ly", "www.bank.vn", true}};
    v.raw = "From: ketoan@example.vn\nSubject: =?UTF-8?B?VFLDmk5H?=\n\nQ2jDumMgbeG7q25n\n";
    v.has_text_part = true;
    v.has_html_part = true;
    v.client_addr = "192.0.2.1";
    return v;
  }();
  return view;
}

void FuzzRuleFile(std::string_view text) {
  auto rules = spam::SpamRuleSet::Parse(text, kFileName);
  if (!rules.ok()) {
    const mailwarden::Status& s = rules.status();
    if (s.code() != mailwarden::Status::Code::kInvalidArgument) std::abort();
    std::string_view message = s.message();
    if (message.empty()) std::abort();
    while (!message.empty()) {
      const size_t eol = message.find('\n');
      if (!IsDiagnosticLine(message.substr(0, eol))) std::abort();
      message = eol == std::string_view::npos ? std::string_view() : message.substr(eol + 1);
    }
    return;
  }
  const spam::SpamRuleSet& set = **rules;
  if (set.rule_count() != set.rules().size() || set.rule_count() > spam::SpamRuleSet::kMaxRules) {
    std::abort();
  }
  std::vector<spam::Signal> signals;
  set.Match(spam::RuleMatchInput::Of(FixedView()), &signals);
  CheckSignals(signals);
  if (signals.size() > set.rule_count()) std::abort();  // each rule counts once
}

// ---- 1: a message -------------------------------------------------------------------------

const spam::SpamRuleSet& ShippedRules() {
  static const std::shared_ptr<const spam::SpamRuleSet> rules = [] {
    auto loaded = spam::SpamRuleSet::LoadFile(MW_SOURCE_DIR "/rules/spam-rules.yaml");
    if (!loaded.ok()) std::abort();
    return *loaded;
  }();
  return *rules;
}

const spam::Heuristics& DefaultHeuristics() {
  static const std::unique_ptr<spam::Heuristics> heuristics = [] {
    spam::HeuristicOptions options;
    options.internal_domains = {"example.gov.vn"};
    // A fixed clock: the same input must give the same signals on every run.
    options.now = [] { return std::chrono::system_clock::time_point(std::chrono::hours(480000)); };
    auto created = spam::Heuristics::Create(std::move(options));
    if (!created.ok()) std::abort();
    return std::move(*created);
  }();
  return *heuristics;
}

void FuzzMessage(std::string_view text) {
  mailwarden::Envelope envelope;
  envelope.client_addr = "192.0.2.1";
  envelope.helo = "mail.example.net";
  envelope.mail_from = "a@example.net";
  envelope.recipients = {"b@example.gov.vn"};
  mailwarden::ContentLimits content;
  content.keep_text_bodies = true;
  content.keep_raw_bytes = 64 << 10;
  mailwarden::Message message(std::move(envelope), content);
  mailwarden::ReadMessageText(text, &message);
  message.FinishContent();

  const spam::ViewLimits limits = SmallViewLimits();
  const spam::MessageView view = spam::BuildMessageView(message, limits);
  if (!StrictUtf8(view.body_text) || view.body_text.size() > limits.max_text_bytes) std::abort();
  if (view.links.size() > limits.max_links || view.headers.size() > limits.max_headers) {
    std::abort();
  }
  if (view.raw.size() > limits.max_raw_bytes) std::abort();
  if (!StrictUtf8(view.subject) || !StrictUtf8(view.from_display)) std::abort();
  for (const spam::ViewHeader& h : view.headers) {
    if (!StrictUtf8(h.value)) std::abort();
  }
  for (const spam::Link& link : view.links) {
    if (link.url.size() > kMaxLinkUrl) std::abort();
  }

  std::vector<spam::Signal> signals;
  DefaultHeuristics().Evaluate(view, &signals);
  CheckSignals(signals);

  signals.clear();
  ShippedRules().Match(spam::RuleMatchInput::Of(view), &signals);
  CheckSignals(signals);

  spam::TokenizerLimits token_limits;
  token_limits.max_tokens = kMaxTokens;
  const spam::TokenSet tokens = spam::Tokenize(view, token_limits);
  if (tokens.hashes.size() > kMaxTokens) std::abort();
  for (size_t i = 0; i < tokens.hashes.size(); ++i) {
    if (tokens.hashes[i] == 0) std::abort();
    if (i > 0 && tokens.hashes[i - 1] >= tokens.hashes[i]) std::abort();  // sorted, distinct
  }
}

// ---- 2, 3: a scorer's answer ---------------------------------------------------------------

void FuzzScorerReply(bool rspamd, std::string_view reply) {
  constexpr double kWeight = 0.5;
  // Score() reads until the answer is complete or the peer closes, then parses either way.
  if (rspamd) {
    spam::RspamdReplyComplete(reply);
  } else {
    spam::SpamdReplyComplete(reply);
  }
  auto signal =
      rspamd ? spam::ParseRspamdReply(reply, kWeight) : spam::ParseSpamdReply(reply, kWeight);
  if (signal.ok()) {
    if (signal->name != (rspamd ? "RSPAMD" : "SPAMD")) std::abort();
    CheckSignals({*signal});
    return;
  }
  const mailwarden::Status& s = signal.status();
  if (s.code() != mailwarden::Status::Code::kUnavailable &&
      s.code() != mailwarden::Status::Code::kInternal) {
    std::abort();
  }
  // The error goes to the log as one line.
  if (s.message().empty()) std::abort();
  for (char c : s.message()) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      FuzzRuleFile(rest);
      break;
    case 1:
      FuzzMessage(rest);
      break;
    case 2:
      FuzzScorerReply(/*rspamd=*/true, rest);
      break;
    default:
      FuzzScorerReply(/*rspamd=*/false, rest);
      break;
  }
  return 0;
}

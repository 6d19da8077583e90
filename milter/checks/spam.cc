#include "milter/checks/spam.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/log.h"
#include "milter/spam/bayes.h"
#include "milter/spam/dnsbl.h"
#include "milter/spam/external_scorer.h"
#include "milter/spam/heuristics.h"
#include "milter/spam/message_view.h"
#include "milter/spam/spam_rules.h"
#include "milter/spam/tokenizer.h"

namespace mailwarden {
namespace {

// "7.3", "-1.5": one decimal, as SpamAssassin and rspamd show scores.
std::string FormatScore(double score) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", std::round(score * 10) / 10 + 0.0);
  return buf;
}

// Relative paths in a rule are read from the directory of the file the rule is in.
std::string ResolveNextTo(const std::string& path, const std::string& rule_file) {
  if (path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(rule_file).parent_path() / path).string();
}

// X-Spam-Status: "Yes, score=7.3 tag=5.0 reject=15.0 tests=BAYES=5.1,SUBJ_ALL_CAPS=1.0",
// folded before 78 columns so that no line of the header is overlong.
std::string StatusHeader(bool spam, double score, const SpamCheck::Thresholds& t,
                         const std::vector<spam::Signal>& signals) {
  std::string value = std::string(spam ? "Yes" : "No") + ", score=" + FormatScore(score) +
                      " tag=" + FormatScore(t.tag) + " reject=" + FormatScore(t.reject) + " tests=";
  size_t line = value.size() + 15;  // "X-Spam-Status: "
  bool first = true;
  for (const spam::Signal& s : signals) {
    std::string item = (first ? "" : ",") + s.name + "=" + FormatScore(s.score);
    if (line + item.size() > 76 && !first) {
      value += ",\n\t";
      item.erase(0, 1);
      line = 8;
    }
    value += item;
    line += item.size();
    first = false;
  }
  if (first) value += "none";
  return value;
}

}  // namespace

struct SpamCheck::BayesSlot {
  std::string path;
  std::string rule_id;
  std::atomic<std::shared_ptr<const spam::BayesModel>> model;
  std::atomic<int64_t> next_look_ms{0};  // steady clock
  std::atomic<bool> looking{false};
};

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SpamCheck::SpamCheck(const RuleSpec& rule) : Check(rule) {}

std::shared_ptr<const spam::BayesModel> SpamCheck::CurrentBayes() const {
  if (!bayes_) return nullptr;
  const int64_t now = SteadyMs();
  if (now >= bayes_->next_look_ms.load(std::memory_order_relaxed) &&
      !bayes_->looking.exchange(true)) {
    bayes_->next_look_ms.store(
        now + std::chrono::duration_cast<std::chrono::milliseconds>(kBayesRecheck).count());
    // SQLite is read off the message's path: the slot outlives this check if need be.
    std::thread([slot = bayes_] {
      auto current = slot->model.load();
      auto generation = spam::BayesModel::StoredGeneration(slot->path);
      if (generation.ok() && (!current || *generation != current->generation())) {
        auto fresh = spam::BayesModel::Load(slot->path);
        if (fresh.ok()) {
          slot->model.store(*fresh);
          LogInfo("rule '" + slot->rule_id + "': the classifier store changed; now " +
                  std::to_string((*fresh)->nspam()) + " spam and " +
                  std::to_string((*fresh)->nham()) + " ham learned");
        } else {
          LogWarn("rule '" + slot->rule_id + "': the classifier store changed but cannot be " +
                  "read; the one in use stays: " + fresh.status().message());
        }
      }
      slot->looking.store(false);
    }).detach();
  }
  return bayes_->model.load();
}
SpamCheck::~SpamCheck() = default;

double SpamCheck::BayesScore(double p) {
  static constexpr double kCurve[][2] = {{0, -2},   {0.1, -1},  {0.5, 0}, {0.9, 2},
                                         {0.99, 5}, {0.999, 7}, {1, 8}};
  p = std::clamp(p, 0.0, 1.0);
  for (size_t i = 1; i < std::size(kCurve); ++i) {
    if (p <= kCurve[i][0]) {
      double x0 = kCurve[i - 1][0], y0 = kCurve[i - 1][1];
      double x1 = kCurve[i][0], y1 = kCurve[i][1];
      return y0 + (y1 - y0) * (p - x0) / (x1 - x0);
    }
  }
  return kCurve[std::size(kCurve) - 1][1];
}

Result<std::unique_ptr<Check>> SpamCheck::Create(const RuleSpec& rule, const Config& config) {
  std::unique_ptr<SpamCheck> c(new SpamCheck(rule));
  const std::string where = rule.where.ToString() + ": rule '" + rule.id + "': ";
  c->thresholds_.tag = rule.param("tag_score").decimal;
  c->thresholds_.quarantine = rule.param("quarantine_score").decimal;
  c->thresholds_.reject = rule.param("reject_score").decimal;
  if (c->thresholds_.reject <= c->thresholds_.tag)
    return Status::InvalidArgument(where + "reject_score must be above tag_score");
  if (c->thresholds_.quarantine > 0 && (c->thresholds_.quarantine < c->thresholds_.tag ||
                                        c->thresholds_.quarantine > c->thresholds_.reject))
    return Status::InvalidArgument(where +
                                   "quarantine_score must lie between tag_score and reject_score");
  c->subject_prefix_ = rule.param("subject_prefix").text;
  c->headers_on_all_ = rule.param("headers_on_all").flag;
  c->bayes_weight_ = rule.param("bayes_weight").decimal;
  c->max_text_ = static_cast<size_t>(rule.param("max_text").number);
  c->max_raw_ = static_cast<size_t>(rule.param("max_raw").number);

  // The admins' rules; an error names the rule file's line and column.
  std::string rules_file = ResolveNextTo(rule.param("rules_file").text, rule.where.file);
  if (!rules_file.empty()) {
    auto rules = spam::SpamRuleSet::LoadFile(rules_file);
    if (!rules.ok()) return rules.status();
    c->rules_ = *rules;
  } else {
    auto empty = spam::SpamRuleSet::Parse("rules: []\n", "(none)");
    if (!empty.ok()) return empty.status();
    c->rules_ = *empty;
  }

  spam::HeuristicOptions h;
  h.internal_domains = config.internal_domains;
  h.state_domains = config.value("domains.state").list;
  h.public_providers = config.value("domains.public_providers").list;
  h.organisation_words = rule.param("organisation_words").list;
  h.url_shorteners = rule.param("url_shorteners").list;
  for (const auto& [name, score] : c->rules_->heuristic_scores()) h.scores[name] = score;
  auto heuristics = spam::Heuristics::Create(std::move(h));
  if (!heuristics.ok())
    return Status::InvalidArgument(rules_file + ": heuristics: " + heuristics.status().message());
  c->heuristics_ = std::move(*heuristics);

  // The classifier is evidence, not a requirement: without a trained store the other
  // signals still score, and the load says why the classifier is silent.
  std::string bayes_db = ResolveNextTo(rule.param("bayes_db").text, rule.where.file);
  if (bayes_db.empty()) {
    c->bayes_note_ = "no bayes_db configured";
  } else {
    c->bayes_ = std::make_shared<BayesSlot>();
    c->bayes_->path = bayes_db;
    c->bayes_->rule_id = rule.id;
    auto model = spam::BayesModel::Load(bayes_db);
    if (!model.ok()) {
      c->bayes_note_ = model.status().message();
      LogWarn("rule '" + rule.id + "': the classifier gives no signal: " + c->bayes_note_ +
              " (train it: mailwarden-milter train --spam DIR --ham DIR)");
    } else {
      c->bayes_->model.store(*model);
    }
    c->bayes_->next_look_ms.store(
        SteadyMs() + std::chrono::duration_cast<std::chrono::milliseconds>(kBayesRecheck).count());
  }

  const int64_t budget = rule.param("dnsbl_budget_ms").number;
  if (budget > 0 && !c->rules_->dnsbl_zones().empty()) {
    spam::DnsblOptions d;
    d.servers = rule.param("dnsbl_servers").list;
    d.budget = std::chrono::milliseconds(budget);
    auto dnsbl = spam::DnsblClient::Create(std::move(d), c->rules_->dnsbl_zones());
    if (!dnsbl.ok()) return Status::InvalidArgument(where + dnsbl.status().message());
    c->dnsbl_ = std::move(*dnsbl);
  }

  struct ScorerParams {
    spam::ExternalScorerOptions::Kind kind;
    const char* address;
    const char* weight;
    const char* timeout;
  };
  for (const ScorerParams& p :
       {ScorerParams{spam::ExternalScorerOptions::Kind::kRspamd, "rspamd_url", "rspamd_weight",
                     "rspamd_timeout_ms"},
        ScorerParams{spam::ExternalScorerOptions::Kind::kSpamd, "spamd_address", "spamd_weight",
                     "spamd_timeout_ms"}}) {
    if (rule.param(p.address).text.empty()) continue;
    spam::ExternalScorerOptions o;
    o.kind = p.kind;
    o.address = rule.param(p.address).text;
    o.weight = rule.param(p.weight).decimal;
    o.timeout = std::chrono::milliseconds(rule.param(p.timeout).number);
    auto scorer = spam::ExternalScorer::Create(std::move(o));
    if (!scorer.ok())
      return Status::InvalidArgument(where + p.address + ": " + scorer.status().message());
    c->scorers_.push_back(std::move(*scorer));
  }
  return std::unique_ptr<Check>(std::move(c));
}

Status SpamCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  spam::ViewLimits limits;
  limits.max_text_bytes = max_text_;
  limits.max_raw_bytes = max_raw_;
  const spam::MessageView view = spam::BuildMessageView(message, limits);

  std::vector<spam::Signal> signals;
  nlohmann::json skipped = nlohmann::json::array();
  rules_->Match(spam::RuleMatchInput::Of(view), &signals);
  heuristics_->Evaluate(view, &signals);

  if (std::shared_ptr<const spam::BayesModel> bayes = CurrentBayes()) {
    spam::BayesResult r = bayes->Classify(spam::Tokenize(view));
    if (r.trained) {
      char detail[64];
      std::snprintf(detail, sizeof(detail), "p=%.4f tokens=%d", r.probability, r.tokens_used);
      signals.push_back({"BAYES", bayes_weight_ * BayesScore(r.probability), detail});
    } else {
      skipped.push_back({{"signal", "BAYES"}, {"why", "the store is not trained enough"}});
    }
  } else {
    skipped.push_back(
        {{"signal", "BAYES"}, {"why", bayes_note_.empty() ? "no classifier store" : bayes_note_}});
  }

  nlohmann::json dnsbl_evidence;
  if (dnsbl_) {
    spam::DnsblReport report;
    Status s = dnsbl_->Lookup(view.client_addr, view.links, &signals, &report);
    if (!s.ok()) skipped.push_back({{"signal", "DNSBL"}, {"why", s.message()}});
    dnsbl_evidence = report.ToJson();
  }

  for (const auto& scorer : scorers_) {
    spam::ScorerContext ctx;
    const Envelope& env = message.envelope();
    ctx.client_addr = env.client_addr;
    ctx.client_name = env.client_name;
    ctx.auth_user = env.auth_user;
    ctx.helo = env.helo;
    ctx.mail_from = env.mail_from;
    ctx.recipients = env.recipients;
    ctx.queue_id = env.queue_id;
    if (message.raw_truncated()) {
      skipped.push_back({{"signal", scorer->name()}, {"why", "message larger than max_raw"}});
      continue;
    }
    auto signal = scorer->Score(message.raw(), ctx);
    if (!signal.ok()) {
      // An external scorer is evidence only: its failure is logged, never the message's.
      skipped.push_back({{"signal", scorer->name()}, {"why", signal.status().message()}});
      continue;
    }
    signals.push_back(std::move(*signal));
  }

  double score = 0;
  for (const spam::Signal& s : signals) score += s.score;
  // Scores are shown with one decimal; decide on what is shown, so that "5.0" is a tag.
  score = std::round(score * 10) / 10 + 0.0;

  nlohmann::json list = nlohmann::json::array();
  for (const spam::Signal& s : signals) {
    nlohmann::json j = {{"name", s.name}, {"score", std::round(s.score * 100) / 100}};
    if (!s.detail.empty()) j["detail"] = s.detail;
    list.push_back(std::move(j));
  }
  nlohmann::json evidence = {{"score", score},
                             {"tag_score", thresholds_.tag},
                             {"reject_score", thresholds_.reject},
                             {"signals", std::move(list)}};
  if (thresholds_.quarantine > 0) evidence["quarantine_score"] = thresholds_.quarantine;
  if (!skipped.empty()) evidence["skipped"] = std::move(skipped);
  if (!dnsbl_evidence.is_null()) evidence["dnsbl"] = std::move(dnsbl_evidence);
  if (view.text_truncated) evidence["text_truncated_at"] = max_text_;

  const std::string shown = FormatScore(score);
  Finding f;
  if (score >= thresholds_.reject) {
    f = MakeFinding(
        "spam", 550, "5.7.1",
        "message scored " + shown + " as spam (limit " + FormatScore(thresholds_.reject) + ")",
        std::move(evidence));
  } else {
    f = MakeFinding("spam", 250, "", "spam score " + shown, std::move(evidence));
    if (thresholds_.quarantine > 0 && score >= thresholds_.quarantine) {
      f.action = Action::kQuarantine;
      f.reason = "spam score " + shown;
    } else if (score >= thresholds_.tag) {
      f.action = Action::kTag;
    } else {
      f.action = Action::kAccept;
    }
  }
  const bool spam = score >= thresholds_.tag;
  if (spam || headers_on_all_) {
    if (spam) f.add_headers.push_back({"X-Spam-Flag", "YES"});
    f.add_headers.push_back({"X-Spam-Score", shown});
    f.add_headers.push_back({"X-Spam-Status", StatusHeader(spam, score, thresholds_, signals)});
    if (spam) f.subject_prefix = subject_prefix_;
  }
  out->push_back(std::move(f));
  return Status::Ok();
}

}  // namespace mailwarden

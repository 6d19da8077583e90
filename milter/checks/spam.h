// SpamCheck (REGULATIONS.md M5): mail unfit for official work (spam, advertising) is
// tagged or refused by its score. Every message gets one score, the sum of named signals:
//   - the admins' rules (spam/spam_rules.h): RE2 patterns on header fields, the decoded
//     text, the links and the raw message, and meta rules combining them; compiled once
//     per configuration load;
//   - built-in heuristics (spam/heuristics.h): a missing or malformed Date or Message-ID,
//     a display name claiming the organisation from outside, a Reply-To at a public
//     provider, links whose text shows another domain, URL shorteners, HTML-only mail,
//     all-caps subjects, invisible text;
//   - the site's trained classifier (spam/bayes.h, `mailwarden-milter train`): one
//     signal, BAYES, from its spam probability;
//   - DNS blocklists for the client address and the links' domains (spam/dnsbl.h), within
//     a time budget per message;
//   - rspamd and spamd when configured (spam/external_scorer.h), weighted.
// The score decides: from reject_score the rule's action (reject: 550 5.7.1 naming the
// score), from quarantine_score (when set) the hold queue, from tag_score a tag
// (X-Spam-Flag: YES, X-Spam-Score, X-Spam-Status listing the signals, and the optional
// subject prefix). Below, the score is logged (a finding with action accept), so the
// decision log has every message's score and signals.
//
// The classifier's store is read when the configuration loads, and again, in the
// background, when `mailwarden-milter train` has changed it (its generation is looked at
// every kBayesRecheck), so users' reports count without a reload.
//
// Failures of parts that are only evidence never fail the message: a blocklist that does
// not answer within the budget, an unreachable external scorer or a classifier store that
// is missing leave their signal out, and the log says so (evidence "skipped"). Rules that
// cannot be loaded refuse the configuration (Create fails, naming file:line:column).
// Immutable after construction; Inspect is thread-safe.
#ifndef MAILWARDEN_MILTER_CHECKS_SPAM_H_
#define MAILWARDEN_MILTER_CHECKS_SPAM_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "milter/checks/check.h"
#include "milter/spam/spam_types.h"

namespace mailwarden {

namespace spam {
class SpamRuleSet;
class Heuristics;
class BayesModel;
class DnsblClient;
class ExternalScorer;
}  // namespace spam

class SpamCheck : public Check {
 public:
  struct Thresholds {
    double tag = 5;
    double quarantine = 0;  // 0: never
    double reject = 15;
  };

  static Result<std::unique_ptr<Check>> Create(const RuleSpec& rule, const Config& config);
  ~SpamCheck() override;
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;

  static constexpr std::chrono::seconds kBayesRecheck{30};

  // The classifier's score for spam probability `p` (0..1), before bayes_weight: a
  // piecewise-linear curve through (0, -2), (0.1, -1), (0.5, 0), (0.9, 2), (0.99, 5),
  // (0.999, 7), (1, 8).
  static double BayesScore(double p);

 private:
  explicit SpamCheck(const RuleSpec& rule);
  // The loaded classifier and what keeps it current; shared with the background reload,
  // which may outlive this check (a configuration reload drops the check).
  struct BayesSlot;
  // The current classifier, or null; starts a background look at the store when due.
  std::shared_ptr<const spam::BayesModel> CurrentBayes() const;

  Thresholds thresholds_;
  std::string subject_prefix_;
  bool headers_on_all_ = false;
  double bayes_weight_ = 1;
  size_t max_text_ = 256 << 10;
  size_t max_raw_ = 256 << 10;
  std::string bayes_note_;  // why the classifier gave no signal at load, "" when it did
  std::shared_ptr<const spam::SpamRuleSet> rules_;
  std::unique_ptr<spam::Heuristics> heuristics_;
  std::shared_ptr<BayesSlot> bayes_;  // null without bayes_db
  std::unique_ptr<spam::DnsblClient> dnsbl_;
  std::vector<std::unique_ptr<spam::ExternalScorer>> scorers_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_SPAM_H_

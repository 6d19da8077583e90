// SpamRuleSet: the admins' spam rules (a YAML rule file, docs/spam-rules.md), compiled once
// per load and matched against every message.
//
// A rule is an RE2 pattern with a score on one target:
//   header  the fields of one name (case-insensitive), or ALL: every field as "Name: value";
//   body    the decoded text a reader sees (MessageView::body_text);
//   uri     each link's URL;
//   raw     the message as received, not decoded;
//   meta    a boolean expression (&& || ! and parentheses) over the names of other rules.
// The file also declares DNS blocklist zones and score overrides for the built-in
// heuristics; this class only parses those (dnsbl.h and heuristics.h use them).
//
// Matching. Header, body and uri text is case-folded before matching: NFC, then full Unicode
// case folding (FoldCase in normalize.h, "Straße" -> "strasse"). Their patterns are compiled
// case-insensitive in UTF-8 mode, and the non-ASCII letters a pattern writes outside
// character classes are folded the same way, so a pattern written in any case finds the text
// in any case. Header and body rules are diacritics-insensitive unless the file or the rule
// says otherwise: such a rule matches when its pattern matches the folded text, or when the
// pattern without diacritics (StripDiacritics applied to its letters; escapes are ASCII and
// stay as written) matches the folded text without diacritics. So "trúng thưởng" finds
// "TRÚNG THƯỞNG" and "trung thuong", and "trung thuong" finds "Trúng Thưởng". Raw rules
// see the bytes as received, unfolded and case-sensitive (write (?i) for the contrary).
// A rule counts once per message however often it matches; a header rule matches when any
// field of its name does. Metas are evaluated after all other rules, in dependency order.
//
// Cost: all patterns of one target are compiled into one RE2::Set (linear-time DFA, memory
// bounded); a message costs one set match per target and per header field, one case fold of
// the body and one diacritics strip, and nothing is compiled per message. Should a set's DFA
// exceed its memory budget on some text, that text is matched pattern by pattern (still
// linear, RE2 falls back to its NFA), never skipped.
//
// Loading distrusts the file: every problem is reported, one per line, as
// "file:line:column: reason" in an InvalidArgument Status (YAML syntax, unknown keys, missing
// or doubled keys, bad names, bad patterns with RE2's own message, bad meta expressions with
// the column of the offending token, unknown names and cycles in metas, bad blocklist
// entries), in the order of their position in the file.
// Limits: kMaxRules rules, kMaxPatternBytes per pattern, kMaxFileBytes per file.
//
// A SpamRuleSet is immutable once loaded; Match is thread-safe.
#ifndef MAILWARDEN_MILTER_SPAM_SPAM_RULES_H_
#define MAILWARDEN_MILTER_SPAM_SPAM_RULES_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "milter/spam/spam_types.h"

namespace mailwarden::spam {

// What Match reads; views into the caller's MessageView, valid during the call.
struct RuleMatchInput {
  std::span<const ViewHeader> headers;
  std::string_view body_text;  // as in MessageView, not folded
  // FoldCase(body_text) when the caller has it (MessageView::body_folded); empty while
  // body_text is not: Match folds body_text itself.
  std::string_view body_folded;
  std::span<const Link> links;
  std::string_view raw;

  // All of `view`, which must outlive the input.
  static RuleMatchInput Of(const MessageView& view) {
    RuleMatchInput in;
    in.headers = view.headers;
    in.body_text = view.body_text;
    in.body_folded = view.body_folded;
    in.links = view.links;
    in.raw = view.raw;
    return in;
  }
};

// One rule as the file declares it (for listings and tools; Match needs none of it).
struct SpamRuleInfo {
  enum class Kind { kHeader, kBody, kUri, kRaw, kMeta };
  std::string name;
  Kind kind = Kind::kBody;
  std::string header;   // header rules: the field name as written, or "ALL"
  std::string pattern;  // as written (metas: the expression)
  double score = 0;
  std::string description;
  bool diacritics_insensitive = false;  // header and body rules only
  int line = 0;                         // 1-based position of the rule in its file
};

class SpamRuleSet {
 public:
  static constexpr size_t kMaxRules = 10000;
  static constexpr size_t kMaxPatternBytes = 4096;
  static constexpr size_t kMaxFileBytes = 4u << 20;

  // Reads and compiles the rule file at `path`.
  static Result<std::shared_ptr<const SpamRuleSet>> LoadFile(const std::string& path);
  // Compiles rules given as text; `file_name` only names them in error messages.
  static Result<std::shared_ptr<const SpamRuleSet>> Parse(std::string_view yaml,
                                                          const std::string& file_name);

  ~SpamRuleSet();
  SpamRuleSet(const SpamRuleSet&) = delete;
  SpamRuleSet& operator=(const SpamRuleSet&) = delete;

  // Appends one Signal per rule that matched (metas included), in file order. Rules scored
  // 0 are evaluated (metas may use them) but add no signal. Signal::detail says where the
  // rule matched, never what: "header Subject" (for ALL rules, the first matching field's
  // name), "body", "uri <host of the first matching link>", "raw" or "meta".
  void Match(const RuleMatchInput& in, std::vector<Signal>* out) const;

  // The DNS blocklist zones the file declares, in file order.
  const std::vector<DnsblZone>& dnsbl_zones() const;
  // Score overrides for built-in heuristics by signal name, as written (names are not
  // checked against the heuristics here; 0 turns one off).
  const std::map<std::string, double, std::less<>>& heuristic_scores() const;
  // Number of rules (metas included; blocklist zones not).
  size_t rule_count() const;
  // The rules in file order.
  const std::vector<SpamRuleInfo>& rules() const;
  // The file the rules came from, as given to LoadFile or Parse.
  const std::string& file_name() const;

 private:
  struct Impl;
  explicit SpamRuleSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_SPAM_RULES_H_

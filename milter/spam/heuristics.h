// Built-in spam heuristics: named, scored signals read off a MessageView (message_view.h).
// Each is modest evidence (the classifier and the admins' rules carry the weight) and is
// meant to stay quiet on ordinary mail:
//   DATE_MISSING             no Date header field
//   DATE_MALFORMED           a Date that is not an RFC 5322 date-time (obsolete forms
//                            such as two-digit years and named zones are accepted)
//   DATE_FAR_FUTURE          a Date more than kFutureDateSlack ahead of the clock
//   MSGID_MISSING            no Message-ID header field
//   MSGID_MALFORMED          a Message-ID that is not one "<left@right>"
//   FROM_ORG_SPOOF           From's display name claims the organisation (an internal
//                            domain or its name label, or one of the organisation words)
//                            while From's address is outside the internal domains; the
//                            organisation words do not count for senders in the state
//                            domains (other agencies name themselves that way)
//   REPLYTO_PUBLIC_PROVIDER  Reply-To at a public mailbox provider, in another domain
//                            than From
//   LINK_TEXT_MISMATCH       an HTML link whose text shows one domain and whose target is
//                            another (compared by RegistrableDomain)
//   URL_SHORTENER            a link through a URL shortener
//   HTML_ONLY                an HTML body with no text/plain alternative
//   HTML_IMAGE_ONLY          HTML with images and almost no text (< kImageOnlyTextBytes),
//                            without a text/plain alternative
//   SUBJ_ALL_CAPS            a subject of >= 10 letters, >= 90% of them upper case
//                            (Unicode: Vietnamese capitals count)
//   INVISIBLE_TEXT           >= kInvisibleTextBytes of HTML text styled not to be seen
// A signal's detail names domains or header fields only, never message text.
//
// Immutable after Create(): Evaluate may be called from several threads at once.
#ifndef MAILWARDEN_MILTER_SPAM_HEURISTICS_H_
#define MAILWARDEN_MILTER_SPAM_HEURISTICS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/domain_patterns.h"
#include "common/status.h"
#include "milter/spam/spam_types.h"

namespace mailwarden::spam {

inline constexpr uint64_t kInvisibleTextBytes = 256;
inline constexpr size_t kImageOnlyTextBytes = 120;  // of body text, spaces aside
inline constexpr std::chrono::hours kFutureDateSlack{24};

struct HeuristicInfo {
  std::string_view name;
  double score;  // the default
  std::string_view doc;
};

struct HeuristicOptions {
  // Config::internal_domains: domain patterns (common/domain_patterns.h).
  std::vector<std::string> internal_domains;
  // domains.state (patterns): their senders may use the organisation words.
  std::vector<std::string> state_domains;
  // domains.public_providers (patterns); empty: DefaultPublicProviders().
  std::vector<std::string> public_providers;
  // Words and phrases in a display name that claim the organisation, matched on whole
  // words, case-insensitively (Unicode); a leading '^' matches at the start of the name
  // only. Empty: DefaultOrganisationWords(). The internal domains and their first label
  // (when of 4 characters or more, "bacgiang" of bacgiang.gov.vn) always count.
  std::vector<std::string> organisation_words;
  // Shortener domains (patterns); empty: DefaultUrlShorteners().
  std::vector<std::string> url_shorteners;
  // Score overrides by signal name; 0 turns a signal off.
  std::map<std::string, double, std::less<>> scores;
  // The clock DATE_FAR_FUTURE compares with; the system clock when empty.
  std::function<std::chrono::system_clock::time_point()> now;
};

class Heuristics {
 public:
  // kInvalidArgument naming every unknown signal name in `scores`, or a bad domain
  // pattern.
  static Result<std::unique_ptr<Heuristics>> Create(HeuristicOptions options);
  // Every signal with its default score and a one-line description, in a fixed order.
  static std::span<const HeuristicInfo> All();
  static std::vector<std::string> DefaultOrganisationWords();
  static std::vector<std::string> DefaultUrlShorteners();
  static std::vector<std::string> DefaultPublicProviders();

  // Appends the signals `view` shows to `out` (none with score 0).
  void Evaluate(const MessageView& view, std::vector<Signal>* out) const;
  // The score in force for `name`; 0 for an unknown name.
  double score(std::string_view name) const;

  // A display-name phrase, lower case, as code points.
  struct Phrase {
    std::u32string text;
    bool at_start = false;
  };

 private:
  Heuristics() = default;
  bool Claims(std::u32string_view lower_display, const std::vector<Phrase>& phrases) const;

  std::vector<double> scores_;  // by the index in All()
  DomainPatterns internal_;
  DomainPatterns state_;
  DomainPatterns public_;
  DomainPatterns shorteners_;
  std::vector<Phrase> internal_claims_;  // domains and labels of the organisation
  std::vector<Phrase> org_words_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

// Seconds since the epoch of an RFC 5322 date-time ("Tue, 1 Jul 2025 10:00:00 +0700"),
// obsolete forms included (no day name, two- or three-digit years, named zones, missing
// seconds, comments); nothing when it does not parse or names an impossible date.
std::optional<int64_t> ParseMailDate(std::string_view value);

// True for one msg-id "<left@right>" (comments and spaces around it allowed): printable
// ASCII, no spaces or angle brackets inside, something on both sides of the '@'.
bool IsValidMessageId(std::string_view value);

// The part of `host` (lower-case ASCII, IDNA names in their xn-- form) a registrant
// controls, to compare sites: by the Public Suffix List (libpsl; the newer of its built-in
// list and Debian's publicsuffix package, read once), private suffixes included, so that
// "a.github.io" and "b.github.io" are two sites and "bacgiang.gov.vn" is one below
// "gov.vn". A name that is itself a public suffix, or has one label, and an IP address are
// returned whole. Without a list (libpsl could not load one) it falls back to the last two
// labels, or three under a two-letter country domain with a generic second level ("com.vn",
// "gov.vn", "co.uk").
std::string RegistrableDomain(std::string_view host);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_HEURISTICS_H_

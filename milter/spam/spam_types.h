// Plain values shared by the parts of the spam check (milter/checks/spam.h): the signals
// every scorer reports, the message as the scorers read it, and the DNS blocklist zones a
// spam rule file declares. No behaviour here; see message_view.h, spam_rules.h, bayes.h,
// dnsbl.h and external_scorer.h for who fills and reads them.
#ifndef MAILWARDEN_MILTER_SPAM_SPAM_TYPES_H_
#define MAILWARDEN_MILTER_SPAM_SPAM_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace mailwarden::spam {

// One scored piece of evidence: a rule that matched, a heuristic, the classifier, a
// blocklist answer, an external scorer. The decision log lists every signal with its score.
struct Signal {
  std::string name;    // "SUBJ_ALL_CAPS", "BAYES", "DNSBL_ZEN", "RSPAMD"; [A-Z0-9_]
  double score = 0;    // may be negative (evidence of ham)
  std::string detail;  // short, for the log: never message text beyond a domain or a header name
};

// A link found in the message: in a text body, or an HTML <a href>.
struct Link {
  std::string url;  // as written (entity-decoded for HTML), at most 2 KiB
  // Lower-case host of `url`, an internationalised name in its ASCII form
  // ("xn--bcngan-jxa6332d.vn" for "bộcôngan.vn"; one IDNA refuses stays as written,
  // message_view.h UrlHost); "" when none.
  std::string host;
  std::string text_host;  // HTML only: the host the link's visible text shows, when its
                          // text looks like a URL or domain ("www.bank.vn"), in the same
                          // form as `host`; else ""
  bool from_html = false;
};

// A header field as the scorers read it.
struct ViewHeader {
  std::string name;   // as written
  std::string value;  // unfolded, RFC 2047 decoded to UTF-8, NFC
};

// The message as every spam scorer reads it, built once per message (message_view.h).
// All text is UTF-8 in NFC, not case-folded (each matcher folds what it needs), except
// body_folded, which both the rules and the tokenizer read.
struct MessageView {
  std::vector<ViewHeader> headers;  // the message's own header, in order
  std::string subject;              // decoded Subject, "" when absent
  std::string from_address;         // lower-case addr-spec of From, "" when none or malformed
  std::string from_display;         // From's display name, decoded
  std::string reply_to_address;     // lower-case, "" when none
  // The text a reader sees: text/plain bodies, then HTML bodies reduced to text (when a
  // multipart/alternative has both, both are kept: spam hides words in one of them);
  // lines end with '\n'. Cut at the view's max_text_bytes (text_truncated).
  std::string body_text;
  // FoldCase(body_text) (normalize.h), made with it so that the message's body is folded
  // once, not once per reader. A view assembled by hand may leave it empty: readers then
  // fold body_text themselves.
  std::string body_folded;
  bool text_truncated = false;
  std::vector<Link> links;  // in order, at most max_links (links_truncated)
  bool links_truncated = false;
  // The message as received: header lines and the raw (undecoded) body, the first
  // max_raw_bytes of it, CRLF as LF.
  std::string raw;
  // Facts the heuristics read.
  bool has_text_part = false;      // a text/plain main body
  bool has_html_part = false;      // a text/html main body
  uint64_t html_bytes = 0;         // HTML main bodies, decoded
  uint64_t html_markup_bytes = 0;  // of which tags, comments and skipped content
  uint64_t html_images = 0;
  uint64_t invisible_text_bytes = 0;  // HTML text styled not to be seen
  // The SMTP client, for the client blocklists.
  std::string client_addr;  // "192.0.2.1" or IPv6, "" when unknown or local
  std::string helo;
};

// A DNS blocklist: answers for the client's address ("client") or for the domains of the
// message's links ("uri") under `zone`.
struct DnsblAnswerRule {
  uint32_t first = 0;  // IPv4 answer range, host order, inclusive ("127.0.0.2")
  uint32_t last = 0;
  double score = 0;
  std::string name;  // signal name for this answer; "" uses the zone's
};
struct DnsblZone {
  enum class Target { kClient, kUri };
  std::string name;  // signal name, "DNSBL_ZEN"
  std::string zone;  // "zen.spamhaus.org", lower-case, no trailing dot
  Target target = Target::kClient;
  double score = 0;  // for any 127.0.0.0/8 answer when `answers` is empty
  // When non-empty, only these answers count (the first range holding the answer); other
  // answers are ignored (a list's error codes, such as 127.255.255.254, are not listings).
  std::vector<DnsblAnswerRule> answers;
};

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_SPAM_TYPES_H_

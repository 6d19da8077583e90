// The built-in spam heuristics (see heuristics.h).
//
// Distrusted: the view's header values, display names and links (decoded from the
// message; any length the view allows). Limits: the view bounds every input; the date and
// message-id parsers read one value once; display-name matching is bounded by
// kMaxDisplayChars times the number of phrases. Failure: none at evaluation; Create
// refuses unknown signal names and bad domain patterns.
#include "milter/spam/heuristics.h"

#include <libpsl.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <cstdio>

#include "common/ascii.h"
#include "common/civil_date.h"
#include "milter/mime/vietnamese_text.h"

namespace mailwarden::spam {
namespace {

constexpr size_t kMaxDisplayChars = 256;

enum Id {
  kDateMissing,
  kDateMalformed,
  kDateFarFuture,
  kMsgidMissing,
  kMsgidMalformed,
  kFromOrgSpoof,
  kReplytoPublicProvider,
  kLinkTextMismatch,
  kUrlShortener,
  kHtmlOnly,
  kHtmlImageOnly,
  kSubjAllCaps,
  kInvisibleText,
  kCount,
};

constexpr HeuristicInfo kInfo[] = {
    {"DATE_MISSING", 1.0, "no Date header field"},
    {"DATE_MALFORMED", 1.0, "the Date is not an RFC 5322 date-time"},
    {"DATE_FAR_FUTURE", 1.0, "the Date is more than a day ahead of the clock"},
    {"MSGID_MISSING", 0.5, "no Message-ID header field"},
    {"MSGID_MALFORMED", 1.0, "the Message-ID is not one <left@right>"},
    {"FROM_ORG_SPOOF", 2.0,
     "From's display name claims the organisation, its address is outside it"},
    {"REPLYTO_PUBLIC_PROVIDER", 1.0,
     "Reply-To at a public mailbox provider, in another domain than From"},
    {"LINK_TEXT_MISMATCH", 1.5, "an HTML link's text shows one domain, its target is another"},
    {"URL_SHORTENER", 1.0, "a link through a URL shortener"},
    {"HTML_ONLY", 0.5, "an HTML body without a text/plain alternative"},
    {"HTML_IMAGE_ONLY", 1.5, "HTML-only mail with images and almost no text"},
    {"SUBJ_ALL_CAPS", 1.0, "a subject of 10 or more letters, 90% or more upper case"},
    {"INVISIBLE_TEXT", 1.5, "HTML text styled not to be seen (hidden, zero size, white on white)"},
};
static_assert(std::size(kInfo) == kCount);

bool EqualsNoCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

const std::string* FindHeader(const MessageView& view, std::string_view lower_name) {
  for (const ViewHeader& h : view.headers) {
    if (EqualsNoCase(h.name, lower_name)) return &h.value;
  }
  return nullptr;
}

std::string_view DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

// Letters, digits and combining marks: what a word is made of.
bool IsWordChar(char32_t c) {
  return u_isalnum(static_cast<UChar32>(c)) ||
         (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_M_MASK) != 0;
}

std::u32string LowerChars(std::string_view utf8, size_t max_chars) {
  std::u32string s = mime::DecodeUtf8(mime::NfcNormalize(utf8));
  if (s.size() > max_chars) s.resize(max_chars);
  for (char32_t& c : s) c = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
  return s;
}

Heuristics::Phrase MakePhrase(std::string_view word) {
  Heuristics::Phrase p;
  if (!word.empty() && word.front() == '^') {
    p.at_start = true;
    word.remove_prefix(1);
  }
  p.text = LowerChars(word, kMaxDisplayChars);
  while (!p.text.empty() && p.text.back() == U' ') p.text.pop_back();
  while (!p.text.empty() && p.text.front() == U' ') p.text.erase(0, 1);
  return p;
}

// --- dates -----------------------------------------------------------------------------

class DateReader {
 public:
  explicit DateReader(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ >= s_.size();
  }
  char Peek() { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool Take(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  // Letters, lower case ("" when none).
  std::string Word() {
    SkipSpace();
    std::string w;
    while (i_ < s_.size() &&
           ((s_[i_] >= 'a' && s_[i_] <= 'z') || (s_[i_] >= 'A' && s_[i_] <= 'Z'))) {
      if (w.size() < 16) w.push_back(static_cast<char>(s_[i_] | 0x20));
      ++i_;
    }
    return w;
  }
  // Digits, at most `max` of them; -1 when none (or more than `max`).
  int64_t Number(size_t max, size_t* count = nullptr) {
    SkipSpace();
    size_t start = i_;
    int64_t n = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (i_ - start < 9) n = n * 10 + (s_[i_] - '0');
      ++i_;
    }
    size_t digits = i_ - start;
    if (count != nullptr) *count = digits;
    return digits == 0 || digits > max ? -1 : n;
  }
  // Two digits right here, no space before.
  int TwoDigits() {
    if (i_ + 1 >= s_.size() || s_[i_] < '0' || s_[i_] > '9' || s_[i_ + 1] < '0' ||
        s_[i_ + 1] > '9') {
      return -1;
    }
    int n = (s_[i_] - '0') * 10 + (s_[i_ + 1] - '0');
    i_ += 2;
    return n;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// `value` without its comments (nested, with quoted pairs), each replaced by a space;
// nothing when a comment never ends.
std::optional<std::string> StripComments(std::string_view value) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (depth > 0 && c == '\\') {
      ++i;
      continue;
    }
    if (c == '(') {
      if (depth++ == 0) out.push_back(' ');
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out.push_back(c == '\r' || c == '\n' ? ' ' : c);
    }
  }
  if (depth > 0) return std::nullopt;
  return out;
}

// Offsets of the zone names RFC 5322 keeps as obsolete forms, in minutes.
std::optional<int> NamedZone(std::string_view z) {
  static constexpr struct {
    std::string_view name;
    int minutes;
  } kZones[] = {{"ut", 0},     {"gmt", 0},    {"z", 0},      {"est", -300},
                {"edt", -240}, {"cst", -360}, {"cdt", -300}, {"mst", -420},
                {"mdt", -360}, {"pst", -480}, {"pdt", -420}};
  for (const auto& zone : kZones) {
    if (z == zone.name) return zone.minutes;
  }
  // Other military zones: RFC 5322 says to read them as -0000.
  if (z.size() == 1 && z[0] >= 'a' && z[0] <= 'z' && z[0] != 'j') return 0;
  return std::nullopt;
}

// --- domains ---------------------------------------------------------------------------

bool IsIpLiteral(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;
  return !host.empty() && std::all_of(host.begin(), host.end(),
                                      [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

}  // namespace

// --- public helpers --------------------------------------------------------------------

std::optional<int64_t> ParseMailDate(std::string_view value) {
  std::optional<std::string> clean = StripComments(value.substr(0, 1024));
  if (!clean) return std::nullopt;
  DateReader r(*clean);
  static constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  r.SkipSpace();
  char first = r.Peek();
  if ((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z')) {
    std::string day = r.Word();
    if (std::find(std::begin(kDays), std::end(kDays), day) == std::end(kDays)) return std::nullopt;
    if (!r.Take(',')) return std::nullopt;
  }
  int64_t day = r.Number(2);
  std::string month_name = r.Word();
  auto month_it = std::find(std::begin(kMonths), std::end(kMonths), month_name);
  size_t year_digits = 0;
  int64_t year = r.Number(8, &year_digits);
  if (day < 1 || month_it == std::end(kMonths) || year < 0 || year_digits < 2) return std::nullopt;
  if (year_digits == 2) year += year < 50 ? 2000 : 1900;
  if (year_digits == 3) year += 1900;
  if (year < 1900 || year > 9999) return std::nullopt;
  int month = static_cast<int>(month_it - std::begin(kMonths)) + 1;
  if (day > DaysInMonth(year, month)) return std::nullopt;

  int64_t hour = r.Number(2);
  if (hour < 0 || hour > 23 || !r.Take(':')) return std::nullopt;
  int64_t minute = r.Number(2);
  if (minute < 0 || minute > 59) return std::nullopt;
  int64_t second = 0;
  if (r.Take(':')) {
    second = r.Number(2);
    if (second < 0 || second > 60) return std::nullopt;
  }
  int offset_minutes = 0;
  r.SkipSpace();
  char sign = r.Peek();
  if (sign == '+' || sign == '-') {
    r.Take(sign);
    int hh = r.TwoDigits();
    int mm = r.TwoDigits();
    if (hh < 0 || mm < 0 || mm > 59) return std::nullopt;
    offset_minutes = (hh * 60 + mm) * (sign == '-' ? -1 : 1);
  } else {
    std::optional<int> named = NamedZone(r.Word());
    if (!named) return std::nullopt;
    offset_minutes = *named;
  }
  if (!r.AtEnd()) return std::nullopt;
  return DaysFromCivil(year, static_cast<int>(month), static_cast<int>(day)) * 86400 + hour * 3600 +
         minute * 60 + second - static_cast<int64_t>(offset_minutes) * 60;
}

bool IsValidMessageId(std::string_view value) {
  std::optional<std::string> clean = StripComments(value.substr(0, 4096));
  if (!clean) return false;
  std::string_view v(*clean);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() < 5 || v.front() != '<' || v.back() != '>') return false;
  std::string_view id = v.substr(1, v.size() - 2);
  for (char c : id) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '<' || c == '>') return false;
  }
  size_t at = id.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < id.size();
}

std::string RegistrableDomain(std::string_view host) {
  std::string h = AsciiLower(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (IsIpLiteral(h)) return h;
  // Loaded once and read-only afterwards, which libpsl allows from any thread.
  static const psl_ctx_t* const psl = psl_latest(nullptr);
  if (psl != nullptr) {
    const char* domain = psl_registrable_domain(psl, h.c_str());
    return domain == nullptr ? h : std::string(domain);
  }
  size_t last_dot = h.rfind('.');
  if (last_dot == std::string::npos) return h;
  size_t second_dot = h.rfind('.', last_dot - 1);
  if (last_dot == 0 || second_dot == std::string::npos) return h;
  std::string_view tld = std::string_view(h).substr(last_dot + 1);
  std::string_view second = std::string_view(h).substr(second_dot + 1, last_dot - second_dot - 1);
  static constexpr std::string_view kGenericSecond[] = {
      "ac",  "co",   "com", "edu", "go",  "gob", "gov", "health", "info", "int", "ltd",
      "mil", "name", "ne",  "net", "nic", "or",  "org", "plc",    "pro",  "sch", "biz",
  };
  bool generic = tld.size() == 2 && std::find(std::begin(kGenericSecond), std::end(kGenericSecond),
                                              second) != std::end(kGenericSecond);
  if (!generic) return h.substr(second_dot + 1);
  if (second_dot == 0) return h;
  size_t third_dot = h.rfind('.', second_dot - 1);
  return third_dot == std::string::npos ? h : h.substr(third_dot + 1);
}

// --- Heuristics ------------------------------------------------------------------------

std::span<const HeuristicInfo> Heuristics::All() { return kInfo; }

std::vector<std::string> Heuristics::DefaultOrganisationWords() {
  // Names of state bodies a display name puts first ("Sở Tài chính", "Bộ Công an") or
  // anywhere ("UBND tỉnh ..."); both spellings of "ủy" are in use.
  return {
      "^bộ",       "^sở",     "ủy ban",  "uỷ ban",   "ubnd",     "hđnd",     "hội đồng nhân dân",
      "chính phủ", "tỉnh ủy", "tỉnh uỷ", "thành ủy", "thành uỷ", "huyện ủy", "huyện uỷ"};
}

std::vector<std::string> Heuristics::DefaultUrlShorteners() {
  return {"bit.ly",  "bitly.com", "tinyurl.com", "goo.gl",      "t.co",     "ow.ly",    "is.gd",
          "buff.ly", "cutt.ly",   "rebrand.ly",  "shorturl.at", "tiny.cc",  "rb.gy",    "v.gd",
          "t.ly",    "s.id",      "shorte.st",   "adf.ly",      "bl.ink",   "lnkd.in",  "soo.gd",
          "clck.ru", "qr.ae",     "trib.al",     "x.co",        "short.io", "tiny.one", "urlz.fr"};
}

std::vector<std::string> Heuristics::DefaultPublicProviders() {
  return {"gmail.com", "googlemail.com", "yahoo.*",    "ymail.com",      "hotmail.*", "outlook.*",
          "live.*",    "msn.com",        "icloud.com", "me.com",         "aol.*",     "gmx.*",
          "mail.ru",   "yandex.*",       "proton.me",  "protonmail.com", "zoho.com"};
}

Result<std::unique_ptr<Heuristics>> Heuristics::Create(HeuristicOptions options) {
  std::unique_ptr<Heuristics> h(new Heuristics());
  h->scores_.resize(kCount);
  for (size_t i = 0; i < kCount; ++i) h->scores_[i] = kInfo[i].score;
  std::string unknown;
  for (const auto& [name, score] : options.scores) {
    auto it = std::find_if(std::begin(kInfo), std::end(kInfo),
                           [&name = name](const HeuristicInfo& info) { return info.name == name; });
    if (it == std::end(kInfo)) {
      unknown += (unknown.empty() ? "" : ", ") + name;
      continue;
    }
    h->scores_[static_cast<size_t>(it - std::begin(kInfo))] = score;
  }
  if (!unknown.empty()) return Status::InvalidArgument("unknown heuristic signal(s): " + unknown);

  struct List {
    const char* what;
    const std::vector<std::string>* patterns;
    DomainPatterns* out;
  };
  std::vector<std::string> providers =
      options.public_providers.empty() ? DefaultPublicProviders() : options.public_providers;
  std::vector<std::string> shorteners =
      options.url_shorteners.empty() ? DefaultUrlShorteners() : options.url_shorteners;
  for (const List& l : {List{"internal domains", &options.internal_domains, &h->internal_},
                        List{"state domains", &options.state_domains, &h->state_},
                        List{"public providers", &providers, &h->public_},
                        List{"url shorteners", &shorteners, &h->shorteners_}}) {
    auto parsed = DomainPatterns::Parse(*l.patterns);
    if (!parsed.ok()) {
      return Status::InvalidArgument(std::string(l.what) + ": " + parsed.status().message());
    }
    *l.out = std::move(*parsed);
  }

  // The organisation's own names: its domains, and their first label when distinctive.
  static constexpr std::string_view kGenericLabels[] = {"mail", "email", "smtp", "gov", "www"};
  for (std::string d : options.internal_domains) {
    if (d.rfind("*.", 0) == 0) d.erase(0, 2);
    if (d.size() >= 2 && d.compare(d.size() - 2, 2, ".*") == 0) continue;
    d = AsciiLower(d);
    if (d.find('.') == std::string::npos) continue;
    h->internal_claims_.push_back(MakePhrase(d));
    std::string label = d.substr(0, d.find('.'));
    if (label.size() >= 4 && std::find(std::begin(kGenericLabels), std::end(kGenericLabels),
                                       label) == std::end(kGenericLabels)) {
      h->internal_claims_.push_back(MakePhrase(label));
    }
  }
  std::vector<std::string> words =
      options.organisation_words.empty() ? DefaultOrganisationWords() : options.organisation_words;
  for (const std::string& w : words) {
    Phrase p = MakePhrase(w);
    if (!p.text.empty()) h->org_words_.push_back(std::move(p));
  }
  h->now_ = options.now ? std::move(options.now) : [] { return std::chrono::system_clock::now(); };
  return h;
}

double Heuristics::score(std::string_view name) const {
  for (size_t i = 0; i < kCount; ++i) {
    if (kInfo[i].name == name) return scores_[i];
  }
  return 0;
}

bool Heuristics::Claims(std::u32string_view name, const std::vector<Phrase>& phrases) const {
  size_t first_word = 0;
  while (first_word < name.size() && !IsWordChar(name[first_word])) ++first_word;
  for (const Phrase& p : phrases) {
    if (p.text.empty() || p.text.size() > name.size()) continue;
    size_t from = p.at_start ? first_word : 0;
    for (size_t at = name.find(p.text, from); at != std::u32string_view::npos;
         at = name.find(p.text, at + 1)) {
      if (p.at_start && at != first_word) break;
      size_t end = at + p.text.size();
      bool starts = at == 0 || !IsWordChar(name[at - 1]) || !IsWordChar(p.text.front());
      bool ends = end == name.size() || !IsWordChar(name[end]) || !IsWordChar(p.text.back());
      if (starts && ends) return true;
    }
  }
  return false;
}

void Heuristics::Evaluate(const MessageView& view, std::vector<Signal>* out) const {
  auto emit = [&](Id id, std::string detail) {
    if (scores_[id] != 0)
      out->push_back({std::string(kInfo[id].name), scores_[id], std::move(detail)});
  };
  auto on = [&](Id id) { return scores_[id] != 0; };

  // Date
  if (on(kDateMissing) || on(kDateMalformed) || on(kDateFarFuture)) {
    const std::string* date = FindHeader(view, "date");
    if (date == nullptr) {
      emit(kDateMissing, "");
    } else if (std::optional<int64_t> t = ParseMailDate(*date); !t) {
      emit(kDateMalformed, "Date");
    } else if (on(kDateFarFuture)) {
      int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
      int64_t ahead = *t - now;
      if (ahead > std::chrono::duration_cast<std::chrono::seconds>(kFutureDateSlack).count()) {
        emit(kDateFarFuture, "ahead_hours=" + std::to_string(ahead / 3600));
      }
    }
  }

  // Message-ID
  if (on(kMsgidMissing) || on(kMsgidMalformed)) {
    const std::string* id = FindHeader(view, "message-id");
    if (id == nullptr) {
      emit(kMsgidMissing, "");
    } else if (!IsValidMessageId(*id)) {
      emit(kMsgidMalformed, "Message-ID");
    }
  }

  // From's display name against its address.
  std::string_view from_domain = DomainOf(view.from_address);
  if (on(kFromOrgSpoof) && !from_domain.empty() && !view.from_display.empty() &&
      !internal_.Match(from_domain)) {
    std::u32string name = LowerChars(view.from_display, kMaxDisplayChars);
    bool claims =
        Claims(name, internal_claims_) || (!state_.Match(from_domain) && Claims(name, org_words_));
    if (claims) emit(kFromOrgSpoof, "from=" + std::string(from_domain));
  }

  // Reply-To
  std::string_view reply_domain = DomainOf(view.reply_to_address);
  if (on(kReplytoPublicProvider) && !reply_domain.empty() && reply_domain != from_domain &&
      public_.Match(reply_domain)) {
    emit(kReplytoPublicProvider,
         "reply_to=" + std::string(reply_domain) + " from=" + std::string(from_domain));
  }

  // Links
  if (on(kLinkTextMismatch) || on(kUrlShortener)) {
    size_t mismatches = 0;
    std::string first_mismatch;
    std::string shortener;
    for (const Link& link : view.links) {
      if (link.host.empty()) continue;
      if (!link.text_host.empty() &&
          RegistrableDomain(link.text_host) != RegistrableDomain(link.host)) {
        if (mismatches++ == 0) {
          first_mismatch = "shows=" + link.text_host + " goes=" + link.host;
        }
      }
      if (shortener.empty() && shorteners_.Match(link.host)) shortener = link.host;
    }
    if (mismatches > 0) {
      if (mismatches > 1) first_mismatch += " links=" + std::to_string(mismatches);
      emit(kLinkTextMismatch, first_mismatch);
    }
    if (!shortener.empty()) emit(kUrlShortener, shortener);
  }

  // HTML
  if (view.has_html_part && !view.has_text_part) emit(kHtmlOnly, "");
  // Short replies with a logo in the signature have images and little text too; mail
  // clients send those with a text/plain alternative, bulk senders often without one.
  if (view.has_html_part && !view.has_text_part && view.html_images > 0) {
    size_t ink = 0;
    for (char c : view.body_text) {
      if (c != ' ' && c != '\n' && c != '\t') ++ink;
    }
    if (ink < kImageOnlyTextBytes) {
      emit(kHtmlImageOnly, "images=" + std::to_string(view.html_images));
    }
  }
  if (view.invisible_text_bytes >= kInvisibleTextBytes) {
    emit(kInvisibleText, "bytes=" + std::to_string(view.invisible_text_bytes));
  }

  // Subject
  if (on(kSubjAllCaps) && !view.subject.empty()) {
    size_t upper = 0, lower = 0;
    for (char32_t c : mime::DecodeUtf8(view.subject)) {
      if (u_isUUppercase(static_cast<UChar32>(c))) {
        ++upper;
      } else if (u_isULowercase(static_cast<UChar32>(c))) {
        ++lower;
      }
    }
    size_t letters = upper + lower;
    if (letters >= 10 && upper * 10 >= letters * 9) emit(kSubjAllCaps, "");
  }
}

}  // namespace mailwarden::spam

// Distrusts every byte of the view: header values, link URLs and text come from the
// sender. Work is linear in the view's size (itself bounded by the view's limits); every
// token is at most 40 bytes of the sender's text plus its prefix; a message yields at most
// TokenizerLimits::max_tokens distinct tokens. Text that ICU cannot handle (a failed case
// fold or word break) contributes no word tokens instead of failing the message.
#include "milter/spam/tokenizer.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "milter/spam/normalize.h"

namespace mailwarden::spam {
namespace {

constexpr size_t kMaxWordBytes = 40;
constexpr size_t kMaxNumberBytes = 5;
constexpr size_t kMaxReceived = 10;
constexpr size_t kMaxPathPieces = 8;

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t FnvUpdate(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

// FNV-1a's low bits are weak; the store's hash table indexes by them.
uint64_t Finish(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h == 0 ? 1 : h;
}

// The distinct tokens of one message, in the order found, up to a limit. An
// open-addressing set of hashes keeps the first `max` distinct ones exactly.
class Sink {
 public:
  Sink(size_t max, std::vector<std::string>* strings) : max_(max), strings_(strings) {
    slots_.assign(1024, 0);
  }

  void Add(std::string_view prefix, std::string_view token) {
    if (full_) return;
    uint64_t h = Finish(FnvUpdate(FnvUpdate(kFnvOffset, prefix), token));
    if (!Insert(h)) return;
    if (strings_) {
      std::string s(prefix);
      s += token;
      strings_->push_back(std::move(s));
    }
  }
  bool full() const { return full_; }

  TokenSet Take() {
    TokenSet set;
    set.hashes = std::move(order_);
    std::sort(set.hashes.begin(), set.hashes.end());
    set.truncated = full_;
    return set;
  }

 private:
  // False when `h` is already there or the set is full.
  bool Insert(uint64_t h) {
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      if (slots_[i] == h) return false;
      if (slots_[i] == 0) {
        if (order_.size() >= max_) {
          full_ = true;
          return false;
        }
        slots_[i] = h;
        order_.push_back(h);
        if (order_.size() * 2 > slots_.size()) Grow();
        return true;
      }
    }
  }
  void Grow() {
    std::vector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, 0);
    size_t mask = slots_.size() - 1;
    for (uint64_t h : old) {
      if (h == 0) continue;
      size_t i = h & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = h;
    }
  }

  size_t max_;
  std::vector<std::string>* strings_;
  std::vector<uint64_t> slots_;
  std::vector<uint64_t> order_;
  bool full_ = false;
};

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

std::string LowerAsciiCopy(std::string_view s, size_t max = std::string::npos) {
  std::string out(s.substr(0, std::min(max, s.size())));
  for (char& c : out) c = LowerAscii(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsHostChar(char c) { return IsAlnum(c) || c == '-' || c == '.'; }

// A host name as written in a header: letters, digits, '-' and '.', a dot inside, not
// only digits and dots.
bool LooksLikeHost(std::string_view s) {
  if (s.size() < 4 || s.size() > 100 || s.front() == '.' || s.back() == '.') return false;
  bool dot = false, letter = false;
  for (char c : s) {
    if (!IsHostChar(c)) return false;
    if (c == '.') dot = true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) letter = true;
  }
  return dot && letter;
}

bool IsIpv4(std::string_view s) {
  int parts = 1, digits = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0) return false;
      ++parts;
      digits = 0;
    } else if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts == 4 && digits > 0;
}

// "a.b.example.com" -> itself, "b.example.com", "example.com" (never a lone label).
void AddDomainAndParents(Sink& sink, std::string_view prefix, std::string_view host) {
  if (host.empty() || host.size() > 100) return;
  std::string h = LowerAsciiCopy(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (IsIpv4(h)) {
    sink.Add(prefix, h);
    return;
  }
  std::string_view rest = h;
  for (int level = 0; level < 6; ++level) {
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos) break;
    sink.Add(prefix, rest);
    rest.remove_prefix(dot + 1);
  }
}

// 0, 1, 2, 3-4, 5-8, ...: the number of significant bits, capped.
int LogBucket(uint64_t n) {
  int b = 0;
  while (n > 0 && b < 40) {
    ++b;
    n >>= 1;
  }
  return b;
}

// The word break iterator of this thread (ICU's are stateful), created on first use; null
// when ICU cannot make one.
icu::BreakIterator* ThreadWordBreaker() {
  thread_local std::unique_ptr<icu::BreakIterator> words = [] {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> b(
        icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status)) b.reset();
    return b;
  }();
  return words.get();
}

// Word tokens of `text` under `prefix`, and pairs of adjacent words when `pairs`: two
// words form a pair when only white space separates them.
void AddWords(Sink& sink, std::string_view prefix, std::string_view text, bool pairs) {
  if (text.empty() || sink.full()) return;
  icu::BreakIterator* words = ThreadWordBreaker();
  if (!words) return;
  const std::string folded = FoldCase(text);
  UErrorCode status = U_ZERO_ERROR;
  UText* ut = utext_openUTF8(nullptr, folded.data(), static_cast<int64_t>(folded.size()), &status);
  if (U_FAILURE(status)) return;
  words->setText(ut, status);
  if (U_FAILURE(status)) {
    utext_close(ut);
    return;
  }
  std::string prev;  // the previous word of the phrase, "" after a phrase break
  std::string token;
  std::string pair;
  int32_t start = words->first();
  for (int32_t end = words->next(); end != icu::BreakIterator::DONE && !sink.full();
       start = end, end = words->next()) {
    std::string_view seg(folded.data() + start, static_cast<size_t>(end - start));
    int32_t rule = words->getRuleStatus();
    if (rule < UBRK_WORD_NONE_LIMIT) {
      // Spaces and punctuation: anything but white space ends the phrase.
      for (char c : seg) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          prev.clear();
          break;
        }
      }
      continue;
    }
    if (seg.size() == 1 && static_cast<unsigned char>(seg[0]) < 0x80) {
      prev.clear();
      continue;
    }
    const bool number = rule >= UBRK_WORD_NUMBER && rule < UBRK_WORD_NUMBER_LIMIT;
    if (seg.size() > kMaxWordBytes) {
      // Long runs (encoded blobs, hashes) tell by their shape, not their bytes.
      size_t first = 1;
      unsigned char c0 = static_cast<unsigned char>(seg[0]);
      if (c0 >= 0xC0) first = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;
      first = std::min(first, seg.size());
      token = "skip:";
      token.append(seg.substr(0, first));
      token += ':';
      token += std::to_string(seg.size() / 10 * 10);
      sink.Add(prefix, token);
      prev.clear();
      continue;
    }
    if (number && seg.size() > kMaxNumberBytes) {
      token = "num:" + std::to_string(seg.size());
    } else {
      token.assign(seg);
    }
    sink.Add(prefix, token);
    if (pairs) {
      if (!prev.empty()) {
        pair = prev;
        pair += ' ';
        pair += token;
        sink.Add(prefix, pair);
      }
      prev = token;
    }
  }
  utext_close(ut);
}

// Header fields that delivery adds after the milter has seen the message, or that
// mailbox software keeps: learning them from stored mail would teach nothing the milter
// can use.
bool IsDeliveryField(std::string_view lower) {
  static constexpr std::array<std::string_view, 14> kExact = {"return-path",
                                                              "delivered-to",
                                                              "x-original-to",
                                                              "status",
                                                              "x-status",
                                                              "x-keywords",
                                                              "x-uid",
                                                              "x-uidl",
                                                              "lines",
                                                              "content-length",
                                                              "x-imap",
                                                              "x-evolution",
                                                              "x-mozilla-status",
                                                              "x-mozilla-status2"};
  for (std::string_view e : kExact)
    if (lower == e) return true;
  for (std::string_view p : {"x-spam-", "x-virus-", "x-mailwarden", "x-amavis"})
    if (lower.starts_with(p)) return true;
  return false;
}

// Each domain named in an address list ("a@x.vn, B <b@y.com>") under `prefix`, and the
// list's size as "<prefix>count:<bucket>".
void AddAddressList(Sink& sink, const std::string& prefix, std::string_view value) {
  size_t count = 0;
  for (size_t at = value.find('@'); at != std::string_view::npos; at = value.find('@', at + 1)) {
    ++count;
    size_t end = at + 1;
    while (end < value.size() && IsHostChar(value[end])) ++end;
    std::string_view domain = value.substr(at + 1, end - at - 1);
    if (LooksLikeHost(domain)) sink.Add(prefix + "domain:", LowerAsciiCopy(domain));
    if (count >= 50) break;
  }
  sink.Add(prefix + "count:", std::to_string(std::min<size_t>(LogBucket(count), 5)));
}

void AddReceived(Sink& sink, std::string_view value) {
  std::string piece;
  auto flush = [&] {
    if (piece.empty()) return;
    std::string lower = LowerAsciiCopy(piece);
    if (IsIpv4(lower)) {
      size_t last = lower.rfind('.');
      sink.Add("received:ip:", lower.substr(0, last));
      sink.Add("received:ip:", lower.substr(0, lower.rfind('.', last - 1)));
    } else if (LooksLikeHost(lower)) {
      sink.Add("received:", lower);
      // And its domain, when it ends in a name rather than a number.
      size_t last = lower.rfind('.');
      size_t prev = last == 0 ? std::string::npos : lower.rfind('.', last - 1);
      bool named = last + 1 < lower.size() && lower[last + 1] >= 'a' && lower[last + 1] <= 'z';
      if (named && prev != std::string::npos) sink.Add("received:", lower.substr(prev + 1));
    }
    piece.clear();
  };
  for (char c : value) {
    if (IsHostChar(c)) {
      piece += c;
      if (piece.size() > 100) piece.clear();
    } else {
      flush();
    }
  }
  flush();
}

void AddHeaderFields(Sink& sink, const MessageView& view) {
  bool has_date = false, has_message_id = false;
  size_t received = 0;
  std::string name;
  for (const ViewHeader& h : view.headers) {
    if (sink.full()) return;
    name = LowerAsciiCopy(h.name, 60);
    if (IsDeliveryField(name)) continue;
    sink.Add("header:", name);
    std::string_view value = Trim(h.value);
    if (name == "to" || name == "cc") {
      AddAddressList(sink, name + ":", value);
      if (LowerAsciiCopy(value, 200).find("undisclosed") != std::string::npos)
        sink.Add(name, ":undisclosed");
    } else if (name == "content-type") {
      std::string lower = LowerAsciiCopy(value, 300);
      std::string_view type = Trim(std::string_view(lower).substr(0, lower.find(';')));
      sink.Add("content-type:", type.substr(0, kMaxWordBytes));
      size_t cs = lower.find("charset=");
      if (cs != std::string::npos) {
        std::string_view v = std::string_view(lower).substr(cs + 8);
        if (!v.empty() && v.front() == '"') v.remove_prefix(1);
        size_t end = 0;
        while (end < v.size() && (IsAlnum(v[end]) || v[end] == '-' || v[end] == '_')) ++end;
        if (end > 0) sink.Add("charset:", v.substr(0, std::min(end, kMaxWordBytes)));
      }
    } else if (name == "content-transfer-encoding") {
      sink.Add("content-transfer-encoding:", LowerAsciiCopy(value, 30));
    } else if (name == "x-mailer" || name == "user-agent") {
      std::string lower = LowerAsciiCopy(value, kMaxWordBytes);
      sink.Add("x-mailer:", lower);
      std::string word;
      for (char c : lower + " ") {
        if (c >= 'a' && c <= 'z') {
          word += c;
        } else {
          if (word.size() >= 2) sink.Add("x-mailer:word:", word);
          word.clear();
        }
      }
    } else if (name == "received") {
      if (++received <= kMaxReceived) AddReceived(sink, value.substr(0, 1000));
    } else if (name == "message-id") {
      has_message_id = true;
      size_t at = value.rfind('@');
      if (at == std::string_view::npos) {
        sink.Add("message-id:", "no-at");
      } else {
        std::string_view domain = value.substr(at + 1);
        if (!domain.empty() && domain.back() == '>') domain.remove_suffix(1);
        if (LooksLikeHost(domain))
          AddDomainAndParents(sink, "message-id:domain:", domain);
        else
          sink.Add("message-id:", "odd-domain");
      }
    } else if (name == "list-id") {
      size_t lt = value.find('<'), gt = value.rfind('>');
      std::string_view id = lt != std::string_view::npos && gt != std::string_view::npos && gt > lt
                                ? value.substr(lt + 1, gt - lt - 1)
                                : value;
      sink.Add("list-id:", LowerAsciiCopy(id, 60));
    } else if (name == "precedence" || name == "x-priority" || name == "x-msmail-priority" ||
               name == "importance") {
      sink.Add(name + ":", LowerAsciiCopy(value, 20));
    } else if (name == "date") {
      has_date = true;
      size_t sp = value.find_last_of(" \t");
      std::string_view zone = sp == std::string_view::npos ? value : value.substr(sp + 1);
      if (!zone.empty() && zone.front() == '(') {
        // "+0700 (ICT)": the numeric zone before the comment.
        std::string_view head = Trim(value.substr(0, sp));
        size_t sp2 = head.find_last_of(" \t");
        zone = sp2 == std::string_view::npos ? head : head.substr(sp2 + 1);
      }
      sink.Add("date:zone:", LowerAsciiCopy(zone, 10));
    } else if (name == "organization") {
      AddWords(sink, "organization:", value.substr(0, 200), false);
    }
  }
  if (!has_date) sink.Add("date:", "none");
  if (!has_message_id) sink.Add("message-id:", "none");
}

void AddSenderFields(Sink& sink, const MessageView& view) {
  AddWords(sink, "subject:", view.subject.substr(0, 1000), true);
  if (view.subject.empty()) sink.Add("subject:", "none");
  const std::string& from = view.from_address;
  if (from.empty()) {
    sink.Add("from:", "none");
  } else {
    sink.Add("from:addr:", from.substr(0, 100));
    size_t at = from.rfind('@');
    if (at != std::string::npos) AddDomainAndParents(sink, "from:domain:", from.substr(at + 1));
  }
  if (view.from_display.empty()) {
    sink.Add("from:", "noname");
  } else {
    if (view.from_display.find('@') != std::string::npos) sink.Add("from:", "name-has-at");
    AddWords(sink, "from:name:", view.from_display.substr(0, 200), false);
  }
  if (!view.reply_to_address.empty()) {
    size_t at = view.reply_to_address.rfind('@');
    if (at != std::string::npos)
      AddDomainAndParents(sink, "reply-to:domain:", view.reply_to_address.substr(at + 1));
    sink.Add("reply-to:", view.reply_to_address == from ? "same" : "differs");
  }
}

void AddLinks(Sink& sink, const MessageView& view) {
  std::string piece;
  for (const Link& link : view.links) {
    if (sink.full()) return;
    std::string_view url = link.url;
    size_t colon = url.find(':');
    std::string scheme;
    if (colon != std::string_view::npos && colon > 0 && colon < 12) {
      scheme = LowerAsciiCopy(url.substr(0, colon));
      bool ok = std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
      });
      if (!ok) scheme.clear();
    }
    sink.Add("url:scheme:", scheme.empty() ? "none" : scheme);
    if (scheme == "mailto") {
      size_t at = url.find('@');
      if (at != std::string_view::npos) {
        size_t end = at + 1;
        while (end < url.size() && IsHostChar(url[end])) ++end;
        AddDomainAndParents(sink, "url:mailto:", url.substr(at + 1, end - at - 1));
      }
      continue;
    }
    if (link.host.empty()) {
      sink.Add("url:", "nohost");
    } else {
      AddDomainAndParents(sink, "url:host:", link.host);
      if (IsIpv4(link.host)) sink.Add("url:", "ip");
    }
    if (!link.text_host.empty() && LowerAsciiCopy(link.text_host) != link.host)
      sink.Add("url:", "text-host-differs");
    // The path, query and fragment, as alphanumeric pieces.
    size_t authority = url.find("//");
    if (authority == std::string_view::npos) continue;
    size_t path = url.find_first_of("/?#", authority + 2);
    if (path == std::string_view::npos) continue;
    std::string_view auth = url.substr(authority + 2, path - authority - 2);
    if (auth.find('@') != std::string_view::npos) sink.Add("url:", "userinfo");
    size_t pieces = 0;
    piece.clear();
    for (size_t i = path; i <= url.size() && pieces < kMaxPathPieces; ++i) {
      char c = i < url.size() ? url[i] : '/';
      if (IsAlnum(c)) {
        piece += LowerAscii(c);
        continue;
      }
      if (piece.size() >= 2) {
        ++pieces;
        if (piece.size() > 20)
          sink.Add("url:path:", "long");
        else
          sink.Add("url:path:", piece);
      }
      piece.clear();
    }
  }
  sink.Add("links:", std::to_string(std::min(LogBucket(view.links.size()), 6)));
}

void AddFacts(Sink& sink, const MessageView& view) {
  const char* kind = view.has_text_part && view.has_html_part ? "text+html"
                     : view.has_html_part                     ? "html"
                     : view.has_text_part                     ? "text"
                                                              : "none";
  sink.Add("view:", kind);
  if (view.has_html_part) {
    sink.Add("view:images:", std::to_string(std::min(LogBucket(view.html_images), 5)));
    if (view.invisible_text_bytes > 0)
      sink.Add("view:invisible:",
               std::to_string(std::min(LogBucket(view.invisible_text_bytes), 12)));
    if (view.html_bytes > 0)
      sink.Add("view:markup:", std::to_string(view.html_markup_bytes * 10 /
                                              std::max<uint64_t>(view.html_bytes, 1)));
  }
  sink.Add("view:text-bytes:", std::to_string(LogBucket(view.body_text.size())));
  if (view.text_truncated) sink.Add("view:", "text-truncated");
}

void Run(const MessageView& view, Sink& sink) {
  AddFacts(sink, view);
  AddSenderFields(sink, view);
  AddHeaderFields(sink, view);
  AddLinks(sink, view);
  AddWords(sink, "", view.body_text, true);
}

}  // namespace

uint64_t TokenHash(std::string_view token) { return Finish(FnvUpdate(kFnvOffset, token)); }

TokenSet Tokenize(const MessageView& view, const TokenizerLimits& limits) {
  Sink sink(limits.max_tokens, nullptr);
  Run(view, sink);
  return sink.Take();
}

std::vector<std::string> TokenStrings(const MessageView& view, const TokenizerLimits& limits) {
  std::vector<std::string> strings;
  Sink sink(limits.max_tokens, &strings);
  Run(view, sink);
  return strings;
}

}  // namespace mailwarden::spam

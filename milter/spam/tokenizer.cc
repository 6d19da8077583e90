// Distrusts every byte of the view: header values, link URLs and text come from the
// sender. Work is linear in the view's size (itself bounded by the view's limits, and the
// body text read by TokenizerLimits::max_body_bytes); every token is at most 40 bytes of the
// sender's text plus its prefix; a message yields at most TokenizerLimits::max_tokens
// distinct tokens. Ill-formed UTF-8 goes to ICU (after case folding made it U+FFFD); a
// stretch of text that ICU cannot handle contributes no word tokens instead of failing the
// message.
#include "milter/spam/tokenizer.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
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

// Sorts token hashes ascending. They are well mixed, so a counting sort by their top bits
// leaves a few in each bucket, and sorting the buckets one by one is linear; when many share
// their top bits (chosen tokens), it is no worse than sorting them all at once.
void SortHashes(std::vector<uint64_t>& hashes) {
  const size_t n = hashes.size();
  if (n < 256) {
    std::sort(hashes.begin(), hashes.end());
    return;
  }
  const int bits = std::clamp(static_cast<int>(std::bit_width(n)) - 2, 6, 16);
  const int shift = 64 - bits;
  std::vector<uint32_t> start((size_t{1} << bits) + 1, 0);
  for (uint64_t h : hashes) ++start[(h >> shift) + 1];
  for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::vector<uint64_t> sorted(n);
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  for (uint64_t h : hashes) sorted[next[h >> shift]++] = h;
  for (size_t b = 0; b + 1 < start.size(); ++b) {
    auto first = sorted.begin() + start[b], last = sorted.begin() + start[b + 1];
    if (last - first < 2) continue;
    if (last - first <= 16) {
      // Insertion sort: buckets are tiny.
      for (auto i = first + 1; i != last; ++i) {
        const uint64_t v = *i;
        auto j = i;
        for (; j != first && *(j - 1) > v; --j) *j = *(j - 1);
        *j = v;
      }
    } else {
      std::sort(first, last);
    }
  }
  hashes.swap(sorted);
}

// The distinct tokens of one message, in the order found, up to a limit. An
// open-addressing set of hashes keeps the first `max` distinct ones exactly. Its table is the
// thread's, kept from one message to the next (fresh large allocations cost page faults).
class Sink {
 public:
  // `expected`: about how many distinct tokens to make room for at once.
  Sink(size_t max, std::vector<std::string>* strings, size_t expected)
      : max_(max), strings_(strings), slots_(ThreadSlots()) {
    size_t slots = 1024;
    while (slots < 2 * std::min(expected, max) && slots < (size_t{1} << 20)) slots *= 2;
    slots_.assign(slots, 0);
    order_.reserve(std::min(expected, max));
  }

  void Add(std::string_view prefix, std::string_view token) {
    if (full_) return;
    if (Insert(Finish(FnvUpdate(FnvUpdate(kFnvOffset, prefix), token))) && strings_) {
      std::string s(prefix);
      s += token;
      strings_->push_back(std::move(s));
    }
  }
  // True when `h` is new and kept.
  bool AddHash(uint64_t h) { return !full_ && Insert(h); }
  // Token strings are wanted (TokenStrings): AddString after each AddHash that kept one.
  bool wants_strings() const { return strings_ != nullptr; }
  void AddString(std::string s) { strings_->push_back(std::move(s)); }
  bool full() const { return full_; }

  TokenSet Take() {
    TokenSet set;
    set.hashes = std::move(order_);
    SortHashes(set.hashes);
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
  // Rare, so out of line.
  [[gnu::noinline]] void Grow() {
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

  static std::vector<uint64_t>& ThreadSlots() {
    thread_local std::vector<uint64_t> slots;
    return slots;
  }

  size_t max_;
  std::vector<std::string>* strings_;
  std::vector<uint64_t>& slots_;
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

// ---- body words ----
//
// Words are found as ICU's root word break iterator finds them (Unicode's word boundaries,
// UAX #29, with ICU's choices: '@' is a letter, ':' does not join letters; a word's kind is
// the rule status ICU reports, "number" when it ends in a digit, or in '_' after a digit).
// ICU is slow on long texts, so a scanner of our own applies the same rules to the code
// points whose classes are simple (ASCII, Latin, Vietnamese, Greek, Cyrillic, general
// punctuation), and only the stretches around any other code point (combining marks, format
// characters, emoji, Hebrew, CJK and the scripts ICU segments with dictionaries) go to ICU.
// A stretch is cut at "hard" ASCII characters (white space and punctuation that never joins
// anything), where ICU always breaks whatever surrounds them; it begins with the hard
// character before it, to which ICU attaches a following combining mark.

// A code point as the word rules see it.
enum class Cls : uint8_t {
  kSpace,      // ' ', '\t', '\n', '\r': between words of one phrase
  kOther,      // any other separator: ends the phrase
  kLetter,     // ALetter (and '@')
  kDigit,      // Numeric
  kJoin,       // ExtendNumLet ('_'): joins letters, digits and itself
  kMidLetter,  // MidLetter ('·'): joins two letters
  kMidNum,     // MidNum (',', ';'): joins two digits
  kMidNumLet,  // MidNumLet and Single_Quote ('.', '\'', '’'): joins two letters or two digits
  kComplex,    // anything else: left to ICU
};

constexpr bool IsWordCls(Cls c) { return c == Cls::kLetter || c == Cls::kDigit || c == Cls::kJoin; }

constexpr std::array<Cls, 128> kAsciiCls = [] {
  std::array<Cls, 128> t{};
  for (Cls& c : t) c = Cls::kOther;
  for (char c : {' ', '\t', '\n', '\r'}) t[static_cast<size_t>(c)] = Cls::kSpace;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = Cls::kLetter;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = Cls::kLetter;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = Cls::kDigit;
  t['@'] = Cls::kLetter;
  t['_'] = Cls::kJoin;
  t[','] = Cls::kMidNum;
  t[';'] = Cls::kMidNum;
  t['.'] = Cls::kMidNumLet;
  t['\''] = Cls::kMidNumLet;
  return t;
}();

// An ASCII character at which ICU always breaks on both sides. '"' is not one: it joins
// Hebrew letters.
bool IsHard(char ch) {
  const auto b = static_cast<unsigned char>(ch);
  return b < 0x80 && b != '"' && (kAsciiCls[b] == Cls::kSpace || kAsciiCls[b] == Cls::kOther);
}

// The classes of the non-ASCII code points the scanner handles, from ICU's own Unicode
// properties; every other code point is kComplex.
class NonAsciiClasses {
 public:
  static const NonAsciiClasses& Get() {
    static const NonAsciiClasses classes;
    return classes;
  }
  Cls Of(UChar32 c) const {
    return c >= 0x80 && c < kEnd ? table_[static_cast<size_t>(c - 0x80)] : Cls::kComplex;
  }

 private:
  // Latin-1 to Latin Extended-B, Greek and Cyrillic, Latin Extended Additional (Vietnamese),
  // General Punctuation; the blocks between are left to ICU.
  static constexpr std::array<std::pair<UChar32, UChar32>, 4> kRanges = {
      {{0x80, 0x250}, {0x370, 0x530}, {0x1E00, 0x1F00}, {0x2000, 0x2070}}};
  static constexpr UChar32 kEnd = 0x2070;

  NonAsciiClasses() {
    table_.fill(Cls::kComplex);
    for (auto [low, high] : kRanges)
      for (UChar32 c = low; c < high; ++c) table_[static_cast<size_t>(c - 0x80)] = Classify(c);
  }
  static Cls Classify(UChar32 c) {
    // Emoji take part in emoji sequences; dictionary scripts are segmented by ICU's engines.
    if (u_hasBinaryProperty(c, UCHAR_EMOJI) ||
        u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC) ||
        u_getIntPropertyValue(c, UCHAR_LINE_BREAK) == U_LB_COMPLEX_CONTEXT)
      return Cls::kComplex;
    switch (u_getIntPropertyValue(c, UCHAR_WORD_BREAK)) {
      case U_WB_OTHER:
      case U_WB_WSEGSPACE:
        return Cls::kOther;
      case U_WB_ALETTER:
        return Cls::kLetter;
      case U_WB_NUMERIC:
        return Cls::kDigit;
      case U_WB_EXTENDNUMLET:
        return Cls::kJoin;
      case U_WB_MIDLETTER:
        return Cls::kMidLetter;
      case U_WB_MIDNUM:
        return Cls::kMidNum;
      case U_WB_MIDNUMLET:
      case U_WB_SINGLE_QUOTE:
        return Cls::kMidNumLet;
      default:
        return Cls::kComplex;
    }
  }

  std::array<Cls, kEnd - 0x80> table_;
};

struct CodePoint {
  Cls cls;
  size_t len;  // bytes
};

// The non-ASCII code point at text[i]. Ill-formed UTF-8 is kComplex.
CodePoint AtNonAscii(std::string_view text, size_t i) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const unsigned b0 = s[i];
  // The two- and three-byte forms, which hold every code point of the table, decoded here;
  // anything else through ICU's checked decoder.
  if (b0 >= 0xC2 && b0 < 0xE0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80)
    return {NonAsciiClasses::Get().Of(static_cast<UChar32>(((b0 & 0x1F) << 6) | (s[i + 1] & 0x3F))),
            2};
  if (b0 >= 0xE0 && b0 < 0xF0 && i + 2 < n && (s[i + 1] & 0xC0) == 0x80 &&
      (s[i + 2] & 0xC0) == 0x80) {
    const auto c =
        static_cast<UChar32>(((b0 & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F));
    // Overlong forms and surrogates are ill-formed.
    if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) return {NonAsciiClasses::Get().Of(c), 3};
  }
  int64_t next = static_cast<int64_t>(i);
  UChar32 c;
  U8_NEXT(s, next, static_cast<int64_t>(n), c);
  const size_t len = static_cast<size_t>(next) - i;
  return {c < 0 ? Cls::kComplex : NonAsciiClasses::Get().Of(c), len};
}

// The code point at text[i], i < text.size().
template <bool kAsciiOnly>
inline CodePoint At(std::string_view text, size_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  if (kAsciiOnly || b < 0x80) return {kAsciiCls[b & 0x7F], 1};
  return AtNonAscii(text, i);
}

// The first kComplex code point in text[from, limit), or npos.
size_t FindComplex(std::string_view text, size_t from, size_t limit) {
  for (size_t i = from; i < limit;) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const CodePoint cp = AtNonAscii(text, i);
    if (cp.cls == Cls::kComplex) return i;
    i += cp.len;
  }
  return std::string_view::npos;
}

// Stretches for ICU closer together than this are given to it as one: each call costs more
// than scanning this much text with it.
constexpr size_t kJoinStretches = 64;

// The word tokens of one text under one prefix: each word, and when `pairs`, each pair of
// adjacent words of one phrase (words separated only by white space). Hashes are computed
// over the bytes as they come, from the prefix's FNV state, so no token string is built
// unless the sink wants strings.
class WordWriter {
 public:
  WordWriter(Sink& sink, std::string_view prefix, bool pairs)
      : sink_(sink), prefix_(prefix), prefix_state_(FnvUpdate(kFnvOffset, prefix)), pairs_(pairs) {}

  bool full() const { return sink_.full(); }

  // The FNV states of a word being scanned: the word's own (after the prefix) and the pair's
  // (after the prefix, the previous word and a space), fed the same lower-cased bytes.
  struct Hashes {
    uint64_t word;
    uint64_t pair;
    void Feed(char c) {
      const auto b = static_cast<unsigned char>(LowerAscii(c));
      word = (word ^ b) * kFnvPrime;
      pair = (pair ^ b) * kFnvPrime;
    }
  };
  Hashes Start() const { return {prefix_state_, (prev_state_ ^ ' ') * kFnvPrime}; }

  // A word scanned with `h` fed its bytes: the same as Word(seg, number).
  void Word(std::string_view seg, bool number, const Hashes& h) {
    if (seg.size() > kMaxWordBytes || (number && seg.size() > kMaxNumberBytes) ||
        sink_.wants_strings()) [[unlikely]] {
      Word(seg, number);
      return;
    }
    sink_.AddHash(Finish(h.word));
    if (!pairs_) return;
    if (has_prev_) sink_.AddHash(Finish(h.pair));
    prev_state_ = h.word;
    has_prev_ = true;
  }

  // A word: `seg` as found (ASCII letters may still be upper case), `number` when ICU would
  // report it as one. Out of line: the scanner's loop stays small.
  [[gnu::noinline]] void Word(std::string_view seg, bool number) {
    char buf[kMaxWordBytes + 32];
    size_t n = 0;
    if (seg.size() > kMaxWordBytes) {
      // Long runs (encoded blobs, hashes) tell by their shape, not their bytes.
      size_t first = 1;
      const auto c0 = static_cast<unsigned char>(seg[0]);
      if (c0 >= 0xC0) first = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;
      first = std::min(first, seg.size());
      n = Append(buf, n, "skip:");
      for (size_t i = 0; i < first; ++i) buf[n++] = LowerAscii(seg[i]);
      buf[n++] = ':';
      n = AppendNumber(buf, n, seg.size() / 10 * 10);
      Emit(std::string_view(buf, n));
      Break();
      return;
    }
    if (number && seg.size() > kMaxNumberBytes) {
      n = Append(buf, n, "num:");
      n = AppendNumber(buf, n, seg.size());
    } else {
      for (char c : seg) buf[n++] = LowerAscii(c);
    }
    const std::string_view token(buf, n);
    if (!pairs_) {
      Emit(token);
      return;
    }
    // The word's and the pair's hashes in one pass: two independent multiply chains.
    uint64_t word = prefix_state_;
    uint64_t pair = (prev_state_ ^ ' ') * kFnvPrime;
    for (unsigned char c : token) {
      word = (word ^ c) * kFnvPrime;
      pair = (pair ^ c) * kFnvPrime;
    }
    if (sink_.AddHash(Finish(word)) && sink_.wants_strings()) sink_.AddString(Joined(token, false));
    if (has_prev_ && sink_.AddHash(Finish(pair)) && sink_.wants_strings())
      sink_.AddString(Joined(token, true));
    prev_state_ = word;
    has_prev_ = true;
    if (sink_.wants_strings()) prev_.assign(token);
  }

  // A separator that ends the phrase.
  void Break() { has_prev_ = false; }

 private:
  static size_t Append(char* buf, size_t n, std::string_view s) {
    s.copy(buf + n, s.size());
    return n + s.size();
  }
  static size_t AppendNumber(char* buf, size_t n, size_t v) {
    char digits[24];
    size_t k = 0;
    do {
      digits[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0);
    while (k > 0) buf[n++] = digits[--k];
    return n;
  }
  // A token that pairs with nothing.
  void Emit(std::string_view token) {
    if (sink_.AddHash(Finish(FnvUpdate(prefix_state_, token))) && sink_.wants_strings())
      sink_.AddString(Joined(token, false));
  }
  std::string Joined(std::string_view token, bool with_prev) const {
    std::string s(prefix_);
    if (with_prev) {
      s += prev_;
      s += ' ';
    }
    s += token;
    return s;
  }

  Sink& sink_;
  std::string_view prefix_;
  uint64_t prefix_state_;
  bool pairs_;
  bool has_prev_ = false;
  uint64_t prev_state_ = 0;  // FNV state after prefix and the previous word of the phrase
  std::string prev_;         // that word, when the sink wants strings
};

// The words of text[begin, end), which holds no kComplex code point and is followed by a hard
// character or the end of the text; kAsciiOnly when it is all ASCII.
template <bool kAsciiOnly>
void ScanSimple(std::string_view text, size_t begin, size_t end, WordWriter& out) {
  size_t i = begin;
  while (i < end) {
    const CodePoint first = At<kAsciiOnly>(text, i);
    if (!IsWordCls(first.cls)) {
      if (first.cls != Cls::kSpace) out.Break();
      i += first.len;
      continue;
    }
    if (out.full()) return;
    WordWriter::Hashes h = out.Start();
    const size_t start = i;
    for (const size_t stop = i + first.len; i < stop; ++i) h.Feed(text[i]);
    Cls last = first.cls;
    Cls before_last = Cls::kOther;  // the word's code point before `last`
    bool single = true;
    while (i < end) {
      const CodePoint next = At<kAsciiOnly>(text, i);
      if (IsWordCls(next.cls)) {
        before_last = last;
        last = next.cls;
        for (const size_t stop = i + next.len; i < stop; ++i) h.Feed(text[i]);
        single = false;
        continue;
      }
      // A middle character joins two letters or two digits.
      if (i + next.len >= end) break;
      const bool letters =
          last == Cls::kLetter && (next.cls == Cls::kMidLetter || next.cls == Cls::kMidNumLet);
      const bool digits =
          last == Cls::kDigit && (next.cls == Cls::kMidNum || next.cls == Cls::kMidNumLet);
      if (!letters && !digits) break;
      const CodePoint after = At<kAsciiOnly>(text, i + next.len);
      if (after.cls != last) break;
      before_last = last;
      for (const size_t stop = i + next.len + after.len; i < stop; ++i) h.Feed(text[i]);
      single = false;
    }
    const std::string_view seg = text.substr(start, i - start);
    // One ASCII character, or a lone joiner (which ICU does not count as a word).
    if (single && (seg.size() == 1 || last == Cls::kJoin)) {
      out.Break();
      continue;
    }
    out.Word(seg, last == Cls::kDigit || (last == Cls::kJoin && before_last == Cls::kDigit), h);
  }
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

// The words of `stretch` (case-folded UTF-8), by ICU.
void ScanWithIcu(std::string_view stretch, WordWriter& out) {
  icu::BreakIterator* words = ThreadWordBreaker();
  if (!words) return;
  UErrorCode status = U_ZERO_ERROR;
  UText* ut =
      utext_openUTF8(nullptr, stretch.data(), static_cast<int64_t>(stretch.size()), &status);
  if (U_FAILURE(status)) return;
  words->setText(ut, status);
  if (U_FAILURE(status)) {
    utext_close(ut);
    return;
  }
  int32_t start = words->first();
  for (int32_t end = words->next(); end != icu::BreakIterator::DONE && !out.full();
       start = end, end = words->next()) {
    const std::string_view seg(stretch.data() + start, static_cast<size_t>(end - start));
    const int32_t rule = words->getRuleStatus();
    if (rule < UBRK_WORD_NONE_LIMIT) {
      // Spaces and punctuation: anything but white space ends the phrase.
      for (char c : seg) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          out.Break();
          break;
        }
      }
      continue;
    }
    if (seg.size() == 1 && static_cast<unsigned char>(seg[0]) < 0x80) {
      out.Break();
      continue;
    }
    out.Word(seg, rule >= UBRK_WORD_NUMBER && rule < UBRK_WORD_NUMBER_LIMIT);
  }
  utext_close(ut);
}

// Word tokens of `text` under `prefix`, and pairs of adjacent words when `pairs`: two
// words form a pair when only white space separates them. `already_folded`: `text` is
// FoldCase's output (the view's folded body), not to be folded again.
void AddWords(Sink& sink, std::string_view prefix, std::string_view text, bool pairs,
              bool already_folded = false) {
  if (text.empty() || sink.full()) return;
  WordWriter out(sink, prefix, pairs);
  if (IsAscii(text)) {
    // No case folding beyond ASCII's (the writer lowers each word), nothing for ICU.
    ScanSimple<true>(text, 0, text.size(), out);
    return;
  }
  std::string folded;
  if (!already_folded) folded = FoldCase(text);
  const std::string_view t = already_folded ? text : std::string_view(folded);
  size_t pos = 0;
  while (pos < t.size() && !out.full()) {
    const size_t complex = FindComplex(t, pos, t.size());
    if (complex == std::string_view::npos) {
      ScanSimple<false>(t, pos, t.size(), out);
      return;
    }
    size_t begin = complex;
    while (begin > pos && !IsHard(t[begin - 1])) --begin;
    if (begin > pos) --begin;  // the hard character before the stretch
    size_t end = complex;
    for (;;) {
      while (end < t.size() && !IsHard(t[end])) ++end;
      const size_t next = FindComplex(t, end, std::min(t.size(), end + kJoinStretches));
      if (next == std::string_view::npos) break;
      end = next;
    }
    ScanSimple<false>(t, pos, begin, out);
    ScanWithIcu(t.substr(begin, end - begin), out);
    pos = end;
  }
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

// The first `max` bytes of the body text, or a little less so that no word is cut.
std::string_view BodyPrefix(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && max - end < 256 && !IsHard(text[end])) --end;
  if (!IsHard(text[end])) {
    // One long word: cut at a character boundary.
    end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  return text.substr(0, end);
}

void Run(const MessageView& view, const TokenizerLimits& limits, Sink& sink) {
  AddFacts(sink, view);
  AddSenderFields(sink, view);
  AddHeaderFields(sink, view);
  AddLinks(sink, view);
  // The view's folded body, cut: the same words whether a message is learned or scored.
  if (!view.body_folded.empty() || view.body_text.empty()) {
    AddWords(sink, "", BodyPrefix(view.body_folded, limits.max_body_bytes), true, true);
  } else {
    AddWords(sink, "", BodyPrefix(FoldCase(view.body_text), limits.max_body_bytes), true, true);
  }
}

// Room for the tokens of a message of this size: most mail repeats its words.
size_t ExpectedTokens(const MessageView& view, const TokenizerLimits& limits) {
  return 256 + std::min(view.body_text.size(), limits.max_body_bytes) / 16;
}

}  // namespace

uint64_t TokenHash(std::string_view token) { return Finish(FnvUpdate(kFnvOffset, token)); }

TokenSet Tokenize(const MessageView& view, const TokenizerLimits& limits) {
  Sink sink(limits.max_tokens, nullptr, ExpectedTokens(view, limits));
  Run(view, limits, sink);
  return sink.Take();
}

std::vector<std::string> TokenStrings(const MessageView& view, const TokenizerLimits& limits) {
  std::vector<std::string> strings;
  Sink sink(limits.max_tokens, &strings, ExpectedTokens(view, limits));
  Run(view, limits, sink);
  return strings;
}

}  // namespace mailwarden::spam

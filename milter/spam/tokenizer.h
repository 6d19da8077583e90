// The features the trained classifier (bayes.h) counts: a message, as the spam scorers read
// it (MessageView), turned into a set of 64-bit token hashes.
//
// The same function serves training (`mailwarden-milter train`) and classification (the
// spam check), so that what is learned is what is looked up. Tokens are strings hashed
// with a fixed function (TokenHash); the store keeps only the hashes. Changing what a token
// means, or the hash, invalidates every trained store: kTokenizerVersion names the
// tokenizer a store was trained with.
//
// Tokens (every one case-folded, each source with its prefix):
//   - body words: the words of the visible text, at Unicode's word boundaries as ICU's root
//     word break iterator draws them (so scripts without spaces are segmented by ICU's
//     dictionaries, and Vietnamese comes out as syllables), plus the pairs of adjacent words
//     ("trúng thưởng", "click here") inside one phrase, which is where Vietnamese words
//     live; one-byte words are dropped, numbers longer than five bytes become
//     "num:<length>", words longer than 40 bytes become "skip:<first character>:<length
//     rounded down to tens>". Text in ASCII, Latin, Vietnamese, Greek and Cyrillic letters
//     is split by a scanner of our own that applies the same rules as ICU 72 (a unit test
//     holds it to the ICU in use); ICU itself reads only the stretches around other
//     characters (CJK, Thai, combining marks, emoji, ...). Only the first
//     TokenizerLimits::max_body_bytes of the folded body text (MessageView::body_folded)
//     are read;
//   - header fields: "subject:" words and pairs, "from:addr:", "from:domain:" (and the
//     parent domains), "from:name:" words, Reply-To's domain and whether it differs from
//     From, To/Cc domains and count, Content-Type and its charset, X-Mailer / User-Agent,
//     the host names and IPv4 prefixes in Received, Message-ID's domain, List-Id,
//     Precedence, Date's zone, and "header:<name>" for every field present. Fields that
//     delivery adds after the milter has seen the message (Return-Path, Delivered-To,
//     X-Spam-*, ...) are ignored, so mail taken from mailboxes trains what the milter sees;
//   - links: "url:host:" for the host and its parent domains, the scheme, pieces of the
//     path, "url:text-host-differs" when the link's text shows another host, and a count;
//   - facts: text/HTML/both, image, invisible-text and size buckets, truncated text.
// A message yields each token at most once, and at most TokenizerLimits::max_tokens of
// them (headers and links first, then the body).
//
// Thread-safe: the ICU word breaker is one per thread, created on first use, and so is the
// table that finds repeated tokens (kept from one message to the next, less than 32 bytes
// per TokenizerLimits::max_tokens: 512 KiB by default).
#ifndef MAILWARDEN_MILTER_SPAM_TOKENIZER_H_
#define MAILWARDEN_MILTER_SPAM_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "milter/spam/spam_types.h"

namespace mailwarden::spam {

// Bumped whenever a token's meaning changes; a store remembers the version it was
// trained with (bayes.h).
inline constexpr int kTokenizerVersion = 1;

struct TokenizerLimits {
  size_t max_tokens = 20000;  // distinct tokens per message
  // Body text read for words: the first this many bytes (a little less, not to cut a word).
  // Longer texts repeat what their beginning says, and time grows with the text.
  size_t max_body_bytes = 64 << 10;
};

// A message's tokens: distinct hashes in ascending order, never 0.
struct TokenSet {
  std::vector<uint64_t> hashes;
  bool truncated = false;  // max_tokens was reached
};

// The tokens of `view`.
TokenSet Tokenize(const MessageView& view, const TokenizerLimits& limits = {});

// The same tokens as strings ("subject:free", "url:host:example.com"), in the order they
// were found, each once: to explain a classification and to test the tokenizer.
std::vector<std::string> TokenStrings(const MessageView& view, const TokenizerLimits& limits = {});

// The hash of one token string, as Tokenize computes it: FNV-1a 64 with a final avalanche
// mix, 0 mapped to 1. Fixed: stores depend on it.
uint64_t TokenHash(std::string_view token);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_TOKENIZER_H_

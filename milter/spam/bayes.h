// The site's trained classifier: token counts learned from the site's own spam and ham
// (BayesStore, written by `mailwarden-milter train`), and an immutable in-memory snapshot
// of them that classifies messages in the milter (BayesModel).
//
// The store is one SQLite file (WAL journal, so the milter can load it while a training
// run writes), mode 0640; its directory must exist. Tables (schema 2):
//   meta(key TEXT PRIMARY KEY, value)           schema, tokenizer, nspam, nham, generation
//   tokens(hash INTEGER PRIMARY KEY, spam INTEGER, ham INTEGER, day INTEGER)
//                                               per token (tokenizer.h), the number of spam
//                                               and ham messages that had it, and the day
//                                               (since 1970-01-01 UTC) a message that had
//                                               it was last learned (forgetting one leaves
//                                               the day as it was)
//   learned(msg_key TEXT PRIMARY KEY, is_spam INTEGER)
//                                               every message learned, by MessageKey
// A message learned twice counts once; learned again as the other class it moves (a
// user's "report as spam" of mail once learned as ham). A store remembers the tokenizer
// version it was trained with; a model refuses a store of another version (its tokens
// would mean something else), and so does training into one that is not empty.
//
// Schema 1 had no `day`. BayesStore::Open upgrades such a store in place, its tokens
// counted as learned on the day of the upgrade (so none expires before a whole period has
// passed); BayesModel reads both schemas, so a running milter keeps working across the
// upgrade. A store of a later schema is refused.
//
// Classification follows Robinson and SpamBayes: each token's spam probability f(w) is the
// ratio of its spam and ham frequencies pulled toward 0.5 when it was seen in few messages;
// the tokens farthest from 0.5 (up to max_clues) are combined with Fisher's chi-square
// method into one probability, near 0 for ham, near 1 for spam, and near 0.5 when the
// evidence is weak or contradictory.
//
// BayesStore belongs to one thread. BayesModel is immutable: Classify may be called from
// any number of threads at once.
#ifndef MAILWARDEN_MILTER_SPAM_BAYES_H_
#define MAILWARDEN_MILTER_SPAM_BAYES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "milter/spam/spam_types.h"
#include "milter/spam/tokenizer.h"

struct sqlite3;

namespace mailwarden::spam {

// The key under which a message is learned: hex SHA-256 of its Message-ID and its visible
// text with white space collapsed (so a copy of the message with other delivery headers, or
// a subject tag, is the same message). Without either, the subject, From and Date stand in.
std::string MessageKey(const MessageView& view);

struct StoreCounts {
  uint64_t nspam = 0;   // messages learned as spam
  uint64_t nham = 0;    // messages learned as ham
  uint64_t tokens = 0;  // distinct tokens, as of the last Open or Commit
};

enum class LearnOutcome {
  kLearned,       // a new message
  kAlreadyKnown,  // learned before as the same class: nothing changed
  kMoved,         // learned before as the other class: its counts moved
};

enum class ForgetOutcome { kForgotten, kNotKnown };

class BayesStore {
 public:
  // Opens the store at `path`; with `create`, a missing file is created (mode 0640; not its
  // directory). kNotFound when missing and not `create`; kParseError when the file is not
  // a classifier store (another database, a damaged file); kInvalidArgument when it was
  // trained with another tokenizer; kIoError when SQLite cannot open it.
  static Result<std::unique_ptr<BayesStore>> Open(const std::string& path, bool create);
  // Learning not committed is rolled back.
  ~BayesStore();
  BayesStore(const BayesStore&) = delete;
  BayesStore& operator=(const BayesStore&) = delete;

  // Counts `tokens` once for the message `key` as spam or ham (see LearnOutcome). `tokens`
  // must be the message's tokens as Tokenize gives them, the same each time the message is
  // learned. Work is batched: nothing is visible to readers before Commit().
  Status Learn(const TokenSet& tokens, std::string_view key, bool is_spam, LearnOutcome* outcome);
  // Removes what learning the message `key` (with these `tokens`) counted.
  Status Forget(const TokenSet& tokens, std::string_view key, ForgetOutcome* outcome);
  // Writes the batch in one transaction, and a new generation (BayesModel::generation).
  Status Commit();

  // Removes the tokens last learned more than `max_age_days` before today() and counted
  // in fewer than `keep_count` messages (spam and ham together); `*removed` (may be null)
  // says how many. Rare old tokens are most of a store's growth and the weakest evidence;
  // tokens common enough to matter stay however old they are, so a site that stops
  // training for a while keeps its classifier. Pending learning is committed first. The
  // removal is one transaction with a new generation (running milters reload the store);
  // message counts and the learned messages stay as they were, and a message whose tokens
  // were removed can still be forgotten or moved (counts stop at 0). When anything was
  // removed the file is then compacted (VACUUM): that needs free disk space of up to twice
  // the store's size and blocks other writers while it runs (readers go on). kInvalidArgument
  // when `max_age_days` is negative.
  Status Expire(int64_t max_age_days, uint32_t keep_count, uint64_t* removed);

  // The day that Learn records and Expire counts from, in days since 1970-01-01 UTC: the
  // clock's at Open(). set_today moves it, so that tests need not wait for days (a
  // schema-1 store is upgraded within Open, so always with the clock's day).
  int64_t today() const { return today_; }
  void set_today(int64_t day) { today_ = day; }

  // Including the learning not yet committed (except `tokens`).
  StoreCounts counts() const { return counts_; }
  const std::string& path() const { return path_; }

 private:
  BayesStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status Init(bool fresh);
  Status Exec(const char* sql);
  Status Begin();
  Status Flush();
  Status Fail(const char* what);
  // Adds schema 2's `day` to a schema-1 store, in one transaction.
  Status Upgrade();
  // +1/-1 per class for every token of a message; `learned`: by Learn (dates the tokens).
  void AddDeltas(const TokenSet& tokens, int spam, int ham, bool learned);

  std::string path_;
  sqlite3* db_;
  bool in_transaction_ = false;
  bool changed_ = false;
  StoreCounts counts_;
  uint64_t generation_ = 0;
  int64_t today_ = 0;
  // What the batch changes of one token, in as little room as two counts (a batch may
  // hold millions).
  struct Delta {
    int32_t spam = 0;
    int32_t ham : 31 = 0;
    uint32_t learned : 1 = 0;  // a Learn counted the token: it is dated today_
  };
  static_assert(sizeof(Delta) == 8);
  std::unordered_map<uint64_t, Delta> deltas_;  // by token hash
};

struct BayesParams {
  double unknown_strength = 0.45;  // Robinson's s: how many messages' worth of prior belief
  double unknown_prob = 0.5;       // Robinson's x: f(w) of a token never seen
  double min_strength = 0.1;       // tokens with |f(w) - 0.5| below this are not clues
  int max_clues = 150;             // the strongest clues combined
  uint64_t min_messages = 50;      // of each class before the model gives a verdict
};

struct BayesResult {
  double probability = 0.5;  // 0 ham .. 1 spam
  int tokens_used = 0;       // clues combined
  bool trained = false;      // false: too few messages learned of a class; no verdict
};

// Counts of one token in a model.
struct TokenCounts {
  uint32_t spam = 0;
  uint32_t ham = 0;
};

class BayesModel {
 public:
  // Reads the store at `path` (read-only; it may be in use by a training run: the model is
  // the last committed generation). kNotFound when there is no file; kParseError when it
  // is not a classifier store; kInvalidArgument when its tokenizer is not this program's.
  static Result<std::shared_ptr<const BayesModel>> Load(const std::string& path,
                                                        const BayesParams& params = {});
  // The generation of the store at `path` (each Commit makes a new one), to tell whether a
  // loaded model is still current; cheap. Errors as Load.
  static Result<uint64_t> StoredGeneration(const std::string& path);

  BayesResult Classify(const TokenSet& tokens) const;
  // f(w) of one token, as Classify uses it.
  double TokenProbability(uint64_t hash) const;
  TokenCounts Lookup(uint64_t hash) const;

  uint64_t nspam() const { return nspam_; }
  uint64_t nham() const { return nham_; }
  uint64_t token_count() const { return count_; }
  uint64_t generation() const { return generation_; }
  // Memory held by the token table.
  size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty (Tokenize never yields 0)
    uint32_t spam = 0;
    uint32_t ham = 0;
  };
  BayesModel() = default;
  double Probability(uint32_t spam, uint32_t ham) const;
  // A token's first slot, from the hash's top bits: the store yields tokens in hash order,
  // so loading fills the table front to back instead of at random.
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash >> shift_); }

  BayesParams params_;
  uint64_t nspam_ = 0;
  uint64_t nham_ = 0;
  uint64_t count_ = 0;
  uint64_t generation_ = 0;
  std::vector<Slot> slots_;  // open addressing, power-of-two size, linear probing
  int shift_ = 63;           // 64 - log2(slots_.size())
};

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_BAYES_H_

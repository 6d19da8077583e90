// The trainable classifier: tokenizer, store, model, training input and the train command.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "milter/spam/bayes.h"
#include "milter/spam/mail_source.h"
#include "milter/spam/normalize.h"
#include "milter/spam/tokenizer.h"
#include "milter/spam/train.h"
#include "tests/unit/test_files.h"

namespace mailwarden::spam {
namespace {

using testing::TempDir;

bool Has(const std::vector<std::string>& tokens, const std::string& t) {
  return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
}

MessageView TextView(const std::string& body, const std::string& subject = "") {
  MessageView v;
  v.body_text = body;
  v.subject = subject;
  v.has_text_part = true;
  return v;
}

// ---- tokenizer ----

TEST(SpamTokenizer, VietnameseSyllablesAndPairs) {
  auto t = TokenStrings(TextView("Chúc mừng bạn đã TRÚNG THƯỞNG một chiếc xe máy!\n"));
  EXPECT_TRUE(Has(t, "chúc"));
  EXPECT_TRUE(Has(t, "trúng"));
  EXPECT_TRUE(Has(t, "thưởng"));
  EXPECT_TRUE(Has(t, "trúng thưởng"));
  EXPECT_TRUE(Has(t, "chúc mừng"));
  EXPECT_TRUE(Has(t, "xe máy"));
  EXPECT_FALSE(Has(t, "TRÚNG"));  // case-folded
}

TEST(SpamTokenizer, EnglishWordsPairsAndPunctuation) {
  auto t = TokenStrings(TextView("Click here to claim a FREE prize. Now, act fast!"));
  EXPECT_TRUE(Has(t, "click"));
  EXPECT_TRUE(Has(t, "click here"));
  EXPECT_TRUE(Has(t, "free"));
  EXPECT_FALSE(Has(t, "a"));           // one byte
  EXPECT_FALSE(Has(t, "claim free"));  // the dropped word breaks the pair
  EXPECT_FALSE(Has(t, "prize now"));   // punctuation ends the phrase
  EXPECT_TRUE(Has(t, "act fast"));
  EXPECT_FALSE(Has(t, "!"));
}

TEST(SpamTokenizer, LongWordsAndNumbers) {
  auto t = TokenStrings(TextView("price 1999 call 0912345678 id " + std::string(57, 'q')));
  EXPECT_TRUE(Has(t, "1999"));
  EXPECT_TRUE(Has(t, "num:10"));
  EXPECT_TRUE(Has(t, "skip:q:50"));
  EXPECT_FALSE(Has(t, std::string(57, 'q')));
}

TEST(SpamTokenizer, NonAsciiSingleCharactersAreKept) {
  auto t = TokenStrings(TextView("免费 ợ x"));
  EXPECT_TRUE(Has(t, "ợ"));
  EXPECT_FALSE(Has(t, "x"));
}

TEST(SpamTokenizer, HeaderFieldsArePrefixed) {
  MessageView v = TextView("hello there", "Cheap Meds Today");
  v.from_address = "promo@deals.example.com";
  v.from_display = "Best Pharmacy";
  v.reply_to_address = "collect@other.example";
  v.headers = {{"Subject", "Cheap Meds Today"},
               {"From", "Best Pharmacy <promo@deals.example.com>"},
               {"To", "a@site.example.vn, b@other.example"},
               {"Message-ID", "<123.abc@mailer.deals.example.com>"},
               {"Content-Type", "text/plain; charset=\"Windows-1252\""},
               {"X-Mailer", "Mass Sender 4.2"},
               {"Received", "from relay.deals.example.com (relay [203.0.113.9]) by mx.site.vn"},
               {"Return-Path", "<bounce@x.example>"},
               {"X-Spam-Flag", "YES"}};
  auto t = TokenStrings(v);
  EXPECT_TRUE(Has(t, "subject:cheap"));
  EXPECT_TRUE(Has(t, "subject:cheap meds"));
  EXPECT_TRUE(Has(t, "from:addr:promo@deals.example.com"));
  EXPECT_TRUE(Has(t, "from:domain:deals.example.com"));
  EXPECT_TRUE(Has(t, "from:domain:example.com"));
  EXPECT_FALSE(Has(t, "from:domain:com"));
  EXPECT_TRUE(Has(t, "from:name:pharmacy"));
  EXPECT_TRUE(Has(t, "reply-to:domain:other.example"));
  EXPECT_TRUE(Has(t, "reply-to:differs"));
  EXPECT_TRUE(Has(t, "to:domain:site.example.vn"));
  EXPECT_TRUE(Has(t, "message-id:domain:example.com"));
  EXPECT_TRUE(Has(t, "content-type:text/plain"));
  EXPECT_TRUE(Has(t, "charset:windows-1252"));
  EXPECT_TRUE(Has(t, "x-mailer:mass sender 4.2"));
  EXPECT_TRUE(Has(t, "x-mailer:word:sender"));
  EXPECT_TRUE(Has(t, "received:relay.deals.example.com"));
  EXPECT_TRUE(Has(t, "received:ip:203.0.113"));
  EXPECT_TRUE(Has(t, "header:x-mailer"));
  EXPECT_TRUE(Has(t, "date:none"));
  // Added by delivery, not seen by the milter.
  EXPECT_FALSE(Has(t, "header:return-path"));
  EXPECT_FALSE(Has(t, "header:x-spam-flag"));
  // Body words carry no prefix.
  EXPECT_TRUE(Has(t, "hello"));
  EXPECT_FALSE(Has(t, "subject:hello"));
}

TEST(SpamTokenizer, LinkTokens) {
  MessageView v = TextView("see link");
  Link link;
  link.url = "https://login.bank.example.vn/verify/Account?id=123";
  link.host = "login.bank.example.vn";
  link.text_host = "www.bank.vn";
  link.from_html = true;
  v.links.push_back(link);
  Link mail;
  mail.url = "mailto:sales@shop.example";
  v.links.push_back(mail);
  auto t = TokenStrings(v);
  EXPECT_TRUE(Has(t, "url:host:login.bank.example.vn"));
  EXPECT_TRUE(Has(t, "url:host:bank.example.vn"));
  EXPECT_TRUE(Has(t, "url:host:example.vn"));
  EXPECT_FALSE(Has(t, "url:host:vn"));
  EXPECT_TRUE(Has(t, "url:scheme:https"));
  EXPECT_TRUE(Has(t, "url:path:verify"));
  EXPECT_TRUE(Has(t, "url:path:account"));
  EXPECT_TRUE(Has(t, "url:path:123"));
  EXPECT_TRUE(Has(t, "url:text-host-differs"));
  EXPECT_TRUE(Has(t, "url:mailto:shop.example"));
  EXPECT_TRUE(Has(t, "links:2"));
}

TEST(SpamTokenizer, FactsOfTheView) {
  MessageView v;
  v.has_html_part = true;
  v.html_bytes = 1000;
  v.html_markup_bytes = 900;
  v.html_images = 3;
  auto t = TokenStrings(v);
  EXPECT_TRUE(Has(t, "view:html"));
  EXPECT_TRUE(Has(t, "view:images:2"));
  EXPECT_TRUE(Has(t, "view:markup:9"));
  EXPECT_TRUE(Has(t, "subject:none"));
  EXPECT_TRUE(Has(t, "from:none"));
}

TEST(SpamTokenizer, HashesMatchTheStringsSortedAndDistinct) {
  MessageView v = TextView("win win win money money now", "win money");
  TokenSet set = Tokenize(v);
  auto strings = TokenStrings(v);
  std::set<uint64_t> expected;
  for (const std::string& s : strings) expected.insert(TokenHash(s));
  EXPECT_EQ(std::vector<uint64_t>(expected.begin(), expected.end()), set.hashes);
  EXPECT_EQ(strings.size(), set.hashes.size());  // no string twice
  EXPECT_FALSE(set.truncated);
  EXPECT_EQ(std::count(set.hashes.begin(), set.hashes.end(), 0u), 0);
  // Stores depend on the hash: it must never change.
  EXPECT_EQ(TokenHash("subject:free"), TokenHash("subject:free"));
  EXPECT_NE(TokenHash("subject:free"), TokenHash("free"));
}

TEST(SpamTokenizer, BoundedNumberOfTokens) {
  std::string body;
  for (int i = 0; i < 50000; ++i) body += "w" + std::to_string(i) + " ";
  TokenizerLimits limits;
  limits.max_tokens = 1000;
  MessageView v = TextView(body, "subject words");
  TokenSet set = Tokenize(v, limits);
  EXPECT_EQ(set.hashes.size(), 1000u);
  EXPECT_TRUE(set.truncated);
  // Header tokens come first, so they survive the cut.
  EXPECT_TRUE(std::binary_search(set.hashes.begin(), set.hashes.end(), TokenHash("subject:words")));
  EXPECT_EQ(Tokenize(v).hashes.size(), TokenizerLimits{}.max_tokens);
}

TEST(SpamTokenizer, HostileInputDoesNotBreakIt) {
  MessageView v = TextView("\xff\xfe\xc3 broken \xe1\x80 utf8");
  v.headers = {{"Received", std::string(5000, '.')}, {"Message-ID", "@"}, {"To", "@@@@"}};
  Link l;
  l.url = "://";
  v.links.push_back(l);
  auto t = TokenStrings(v);
  EXPECT_TRUE(Has(t, "broken"));
}

// The body's tokens among those of a TextView: all but the facts and the sender fields.
std::vector<std::string> BodyTokens(const std::vector<std::string>& tokens) {
  std::vector<std::string> body;
  for (const std::string& t : tokens) {
    bool other = false;
    for (const char* p : {"view:", "subject:", "from:", "date:", "message-id:", "links:"})
      other = other || t.starts_with(p);
    if (!other) body.push_back(t);
  }
  return body;
}

TEST(SpamTokenizer, AsciiWordsFollowUnicodeWordBoundaries) {
  auto t = BodyTokens(TokenStrings(
      TextView("Don't miss: e.g. 3.14 or 1,000,000 USD at user@Example.com, foo_bar v2.0 a:b")));
  const std::vector<std::string> expected = {"don't",
                                             "miss",
                                             "don't miss",
                                             "e.g",
                                             "3.14",
                                             "or",
                                             "3.14 or",
                                             "num:9",
                                             "or num:9",
                                             "usd",
                                             "num:9 usd",
                                             "at",
                                             "usd at",
                                             "user@example.com",
                                             "at user@example.com",
                                             "foo_bar",
                                             "v2.0",
                                             "foo_bar v2.0"};
  EXPECT_EQ(t, expected);
}

TEST(SpamTokenizer, ScriptsMixInOnePhrase) {
  auto t = BodyTokens(TokenStrings(TextView("Click here: naïve café’s ĐƠN GIÁ 免费 now")));
  const std::vector<std::string> expected = {
      "click",      "here", "click here", "naïve", "café’s",   "naïve café’s", "đơn",
      "café’s đơn", "giá",  "đơn giá",    "免费",  "giá 免费", "now",          "免费 now"};
  EXPECT_EQ(t, expected);
}

TEST(SpamTokenizer, CombiningMarksAndEmoji) {
  // "e" and a combining acute compose to "é"; the emoji ends the phrase.
  auto t = BodyTokens(TokenStrings(TextView("x e\u0301t go \U0001F44D\U0001F3FD ok")));
  const std::vector<std::string> expected = {"ét", "go", "ét go", "ok"};
  EXPECT_EQ(t, expected);
}

// Body tokens as ICU's word break iterator draws the words over the whole case-folded text:
// the tokenizer finds most words with a scanner of its own, which must agree.
std::vector<std::string> IcuBodyTokens(const std::string& text) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& token) {
    if (seen.insert(token).second) out.push_back(token);
  };
  const std::string folded = FoldCase(text);
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> words(
      icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  UText* ut = utext_openUTF8(nullptr, folded.data(), static_cast<int64_t>(folded.size()), &status);
  words->setText(ut, status);
  EXPECT_TRUE(U_SUCCESS(status));
  std::string prev;
  int32_t start = words->first();
  for (int32_t end = words->next(); end != icu::BreakIterator::DONE;
       start = end, end = words->next()) {
    const std::string seg = folded.substr(start, end - start);
    const int32_t rule = words->getRuleStatus();
    if (rule < UBRK_WORD_NONE_LIMIT) {
      if (seg.find_first_not_of(" \t\r\n") != std::string::npos) prev.clear();
      continue;
    }
    if (seg.size() == 1 && static_cast<unsigned char>(seg[0]) < 0x80) {
      prev.clear();
      continue;
    }
    if (seg.size() > 40) {
      const auto c0 = static_cast<unsigned char>(seg[0]);
      const size_t first = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : c0 >= 0xC0 ? 2 : 1;
      add("skip:" + seg.substr(0, first) + ":" + std::to_string(seg.size() / 10 * 10));
      prev.clear();
      continue;
    }
    const bool number = rule >= UBRK_WORD_NUMBER && rule < UBRK_WORD_NUMBER_LIMIT;
    const std::string token = number && seg.size() > 5 ? "num:" + std::to_string(seg.size()) : seg;
    add(token);
    if (!prev.empty()) add(prev + " " + token);
    prev = token;
  }
  utext_close(ut);
  return out;
}

TEST(SpamTokenizer, WordsAgreeWithIcuWordBreaking) {
  // Pieces that exercise every rule: letters, digits and what joins them, separators, and
  // characters only ICU handles (combining marks, format characters, emoji, CJK, Thai,
  // Hebrew, ill-formed UTF-8) next to the scanner's.
  const std::vector<std::string> ascii = {"a", "B", "z", "Q",  "@", "0", "7", "_",  ".",  ",",
                                          ";", ":", "'", "\"", " ", " ", " ", "\t", "\n", "\r\n",
                                          "-", "!", "/", "#",  "$", "%", "(", ")",  "x",  "ab"};
  const std::vector<std::string> other = {
      "é",      "Đ",          "ư",          "ở",      "ß",      "ẞ",      "İ",      "Ω",
      "ж",      "Ж",          "·",          "’",      "‘",      "\u2024", "\u00a0", "\u00ad",
      "\u200b", "\u200c",     "\u200d",     "\u0301", "\u0323", "\ufeff", "\u2028", "€",
      "©",      "\U0001F44D", "\U0001F3FD", "\u20e3", "\ufe0f", "中",     "文",     "カ",
      "ก",      "า",          "א",          "ב",      "\u05f4", "٣",      "１",     "：",
      "\xff",   "\xc3",       "\u2044",     "\u203f", "ǅ",      "ŉ"};
  std::mt19937 rng(20261201);
  for (int n = 0; n < 4000; ++n) {
    const bool mixed = n % 2 == 1;
    std::string text;
    const size_t pieces = 1 + rng() % 40;
    for (size_t i = 0; i < pieces; ++i) {
      if (mixed && rng() % 4 == 0)
        text += other[rng() % other.size()];
      else
        text += ascii[rng() % ascii.size()];
    }
    ASSERT_EQ(BodyTokens(TokenStrings(TextView(text))), IcuBodyTokens(text)) << "text: " << text;
  }
}

TEST(SpamTokenizer, LongBodyIsReadUpToTheLimit) {
  // "waa wab ... wlm ": word i at 4 * i.
  auto word = [](int i) {
    return std::string{'w', static_cast<char>('a' + i / 26), static_cast<char>('a' + i % 26)};
  };
  std::string body;
  for (int i = 0; i < 300; ++i) body += word(i) + " ";
  TokenizerLimits limits;
  limits.max_body_bytes = 4 * 140 + 2;  // inside word 140
  auto t = TokenStrings(TextView(body), limits);
  EXPECT_TRUE(Has(t, word(139)));
  EXPECT_FALSE(Has(t, word(140)));
  EXPECT_FALSE(Has(t, word(140).substr(0, 2)));  // no word is cut
  EXPECT_FALSE(Has(t, word(200)));
  EXPECT_TRUE(Has(TokenStrings(TextView(body)), word(299)));  // 64 KiB by default
}

// ---- store and model ----

TokenSet Tokens(std::initializer_list<const char*> words) {
  TokenSet t;
  for (const char* w : words) t.hashes.push_back(TokenHash(w));
  std::sort(t.hashes.begin(), t.hashes.end());
  return t;
}

TEST(SpamBayesStore, LearnRelearnMovesAndForget) {
  TempDir dir;
  auto store = BayesStore::Open(dir.Path("b.sqlite"), true);
  ASSERT_TRUE(store.ok()) << store.status().message();
  TokenSet t = Tokens({"cheap", "pills"});
  LearnOutcome o;
  ASSERT_TRUE((*store)->Learn(t, "k1", true, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kLearned);
  ASSERT_TRUE((*store)->Learn(t, "k1", true, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kAlreadyKnown);
  ASSERT_TRUE((*store)->Learn(Tokens({"cheap", "meeting"}), "k2", false, &o).ok());
  EXPECT_EQ((*store)->counts().nspam, 1u);
  EXPECT_EQ((*store)->counts().nham, 1u);
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ((*store)->counts().tokens, 3u);

  auto model = BayesModel::Load(dir.Path("b.sqlite"));
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).spam, 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).ham, 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("pills")).spam, 1u);

  // The user reports k2 as spam: it moves.
  ASSERT_TRUE((*store)->Learn(Tokens({"cheap", "meeting"}), "k2", true, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kMoved);
  EXPECT_EQ((*store)->counts().nspam, 2u);
  EXPECT_EQ((*store)->counts().nham, 0u);
  ASSERT_TRUE((*store)->Commit().ok());
  model = BayesModel::Load(dir.Path("b.sqlite"));
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).spam, 2u);
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).ham, 0u);
  EXPECT_EQ((*model)->Lookup(TokenHash("meeting")).spam, 1u);
  EXPECT_EQ((*model)->nspam(), 2u);

  ForgetOutcome f;
  ASSERT_TRUE((*store)->Forget(t, "k1", &f).ok());
  EXPECT_EQ(f, ForgetOutcome::kForgotten);
  ASSERT_TRUE((*store)->Forget(t, "k1", &f).ok());
  EXPECT_EQ(f, ForgetOutcome::kNotKnown);
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ((*store)->counts().nspam, 1u);
  model = BayesModel::Load(dir.Path("b.sqlite"));
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->Lookup(TokenHash("pills")).spam, 0u);  // row gone
  EXPECT_EQ((*model)->token_count(), 2u);
}

TEST(SpamBayesStore, TwoTrainingRunsAddUp) {
  // A user's report and an admin's run open the store at the same time: the one that
  // commits second builds on the first's counts and generation, not on what it read at Open.
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  auto a = BayesStore::Open(path, true);
  auto b = BayesStore::Open(path, false);
  ASSERT_TRUE(a.ok() && b.ok());
  LearnOutcome o;
  ASSERT_TRUE((*b)->Learn(Tokens({"s1", "s2"}), "spam-1", true, &o).ok());
  ASSERT_TRUE((*b)->Commit().ok());
  auto g1 = BayesModel::StoredGeneration(path);
  ASSERT_TRUE(g1.ok());
  ASSERT_TRUE((*a)->Learn(Tokens({"h1"}), "ham-1", false, &o).ok());
  ASSERT_TRUE((*a)->Commit().ok());
  EXPECT_EQ((*a)->counts().nspam, 1u);
  EXPECT_EQ((*a)->counts().nham, 1u);
  auto g2 = BayesModel::StoredGeneration(path);
  ASSERT_TRUE(g2.ok());
  EXPECT_GT(*g2, *g1);  // a milter that loaded after the first commit reloads again
  auto model = BayesModel::Load(path);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->nspam(), 1u);
  EXPECT_EQ((*model)->nham(), 1u);
  EXPECT_EQ((*model)->token_count(), 3u);
}

TEST(SpamBayesStore, PersistsAcrossReopenAndRollsBackUncommitted) {
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  uint64_t generation = 0;
  {
    auto store = BayesStore::Open(path, true);
    ASSERT_TRUE(store.ok());
    LearnOutcome o;
    ASSERT_TRUE((*store)->Learn(Tokens({"a1", "b1"}), "k1", true, &o).ok());
    ASSERT_TRUE((*store)->Commit().ok());
    auto g = BayesModel::StoredGeneration(path);
    ASSERT_TRUE(g.ok());
    generation = *g;
    ASSERT_TRUE((*store)->Learn(Tokens({"c1"}), "k2", false, &o).ok());
    // Not committed: lost when the store goes.
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // The journal files stay (a reader that may not create them needs them), as private.
  ASSERT_EQ(stat((path + "-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_size, 0);
  auto store = BayesStore::Open(path, false);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->counts().nspam, 1u);
  EXPECT_EQ((*store)->counts().nham, 0u);
  EXPECT_EQ((*store)->counts().tokens, 2u);
  LearnOutcome o;
  ASSERT_TRUE((*store)->Learn(Tokens({"c1"}), "k2", false, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kLearned);
  ASSERT_TRUE((*store)->Commit().ok());
  auto g = BayesModel::StoredGeneration(path);
  ASSERT_TRUE(g.ok());
  EXPECT_GT(*g, generation);
}

TEST(SpamBayesStore, MissingAndCorruptedFiles) {
  TempDir dir;
  auto missing = BayesStore::Open(dir.Path("none.sqlite"), false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  auto model = BayesModel::Load(dir.Path("none.sqlite"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), Status::Code::kNotFound);

  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is not a database at all\n";
  const std::string bad = dir.Write("bad.sqlite", garbage);
  auto opened = BayesStore::Open(bad, true);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kParseError) << opened.status().message();
  model = BayesModel::Load(bad);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), Status::Code::kParseError) << model.status().message();

  // Another program's database.
  const std::string other = dir.Path("other.sqlite");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  opened = BayesStore::Open(other, false);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kParseError);
  model = BayesModel::Load(other);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), Status::Code::kParseError);
}

TEST(SpamBayesStore, RefusesAnotherTokenizer) {
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  {
    auto store = BayesStore::Open(path, true);
    ASSERT_TRUE(store.ok());
    LearnOutcome o;
    ASSERT_TRUE((*store)->Learn(Tokens({"x1"}), "k", true, &o).ok());
    ASSERT_TRUE((*store)->Commit().ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value=999 WHERE key='tokenizer'", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto model = BayesModel::Load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(BayesStore::Open(path, false).ok());
}

// ---- expiry, and the schema before it ----

// One integer the store's file holds (what `sql` selects), or -1.
int64_t Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

// The day the store has for the token `word`; -1 when it has no such token.
int64_t DayOf(const std::string& path, const char* word) {
  return Query(path, "SELECT day FROM tokens WHERE hash=" +
                         std::to_string(static_cast<int64_t>(TokenHash(word))));
}

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "") << " in " << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

// A store as the first schema's Init wrote it, with three tokens and five messages learned.
void WriteSchema1Store(const std::string& path) {
  auto h = [](const char* w) { return std::to_string(static_cast<int64_t>(TokenHash(w))); };
  Exec(path,
       "PRAGMA journal_mode=WAL;"
       "BEGIN IMMEDIATE;"
       "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
       "CREATE TABLE tokens(hash INTEGER PRIMARY KEY, spam INTEGER NOT NULL, "
       "ham INTEGER NOT NULL);"
       "CREATE TABLE learned(msg_key TEXT PRIMARY KEY, is_spam INTEGER NOT NULL) WITHOUT ROWID;"
       "INSERT INTO meta VALUES('schema',1),('tokenizer'," +
           std::to_string(kTokenizerVersion) +
           "),('nspam',0),('nham',0),('generation',0);"
           "COMMIT;"
           "INSERT INTO tokens VALUES(" +
           h("cheap") + ",3,1),(" + h("pills") + ",1,0),(" + h("meeting") +
           ",0,2);"
           "INSERT INTO learned VALUES('s1',1),('s2',1),('s3',1),('h1',0),('h2',0);"
           "UPDATE meta SET value=CASE key WHEN 'nspam' THEN 3 WHEN 'nham' THEN 2 "
           "WHEN 'generation' THEN 7 END WHERE key IN ('nspam','nham','generation');");
}

void ExpectSchema1Counts(const std::string& path) {
  auto model = BayesModel::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->nspam(), 3u);
  EXPECT_EQ((*model)->nham(), 2u);
  EXPECT_EQ((*model)->token_count(), 3u);
  EXPECT_EQ((*model)->generation(), 7u);
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).spam, 3u);
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).ham, 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("meeting")).ham, 2u);
}

TEST(SpamBayesStore, ReadsAndUpgradesTheFirstSchema) {
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  WriteSchema1Store(path);
  // A milter of this version reads a store not upgraded yet, and leaves it as it is.
  ExpectSchema1Counts(path);
  auto g = BayesModel::StoredGeneration(path);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(*g, 7u);
  EXPECT_EQ(Query(path, "SELECT value FROM meta WHERE key='schema'"), 1);

  int64_t today = 0;
  {
    auto store = BayesStore::Open(path, false);
    ASSERT_TRUE(store.ok()) << store.status().message();
    today = (*store)->today();
    EXPECT_EQ((*store)->counts().nspam, 3u);
    EXPECT_EQ((*store)->counts().nham, 2u);
    EXPECT_EQ((*store)->counts().tokens, 3u);
  }
  EXPECT_EQ(Query(path, "SELECT value FROM meta WHERE key='schema'"), 2);
  // Every token dated the day of the upgrade.
  EXPECT_EQ(DayOf(path, "cheap"), today);
  EXPECT_EQ(DayOf(path, "meeting"), today);
  ExpectSchema1Counts(path);

  // Opening it again changes nothing; learning and forgetting go on as before.
  auto store = BayesStore::Open(path, false);
  ASSERT_TRUE(store.ok()) << store.status().message();
  LearnOutcome o;
  ASSERT_TRUE((*store)->Learn(Tokens({"cheap", "offer"}), "s4", true, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kLearned);
  ForgetOutcome f;
  ASSERT_TRUE((*store)->Forget(Tokens({"meeting"}), "h2", &f).ok());
  EXPECT_EQ(f, ForgetOutcome::kForgotten);
  ASSERT_TRUE((*store)->Commit().ok());
  auto model = BayesModel::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->nspam(), 4u);
  EXPECT_EQ((*model)->nham(), 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("cheap")).spam, 4u);
  EXPECT_EQ((*model)->Lookup(TokenHash("meeting")).ham, 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("offer")).spam, 1u);

  // The upgraded tokens are as old as the upgrade: kept for a whole period.
  (*store)->set_today(today + 30);
  uint64_t removed = 99;
  ASSERT_TRUE((*store)->Expire(30, 5, &removed).ok());
  EXPECT_EQ(removed, 0u);
  (*store)->set_today(today + 31);
  ASSERT_TRUE((*store)->Expire(30, 5, &removed).ok());
  EXPECT_EQ(removed, 3u);  // all but "cheap", seen in 5 messages
}

TEST(SpamBayesStore, RefusesALaterSchema) {
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  WriteSchema1Store(path);
  Exec(path, "UPDATE meta SET value=3 WHERE key='schema'");
  auto model = BayesModel::Load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), Status::Code::kParseError);
  EXPECT_NE(model.status().message().find("schema 3"), std::string::npos)
      << model.status().message();
  EXPECT_FALSE(BayesModel::StoredGeneration(path).ok());
  auto store = BayesStore::Open(path, false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kParseError);
  EXPECT_EQ(Query(path, "SELECT value FROM meta WHERE key='schema'"), 3);
}

TEST(SpamBayesStore, LearningDatesTokensAndForgettingDoesNot) {
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  auto store = BayesStore::Open(path, true);
  ASSERT_TRUE(store.ok());
  LearnOutcome o;
  (*store)->set_today(100);
  ASSERT_TRUE((*store)->Learn(Tokens({"a1", "b1"}), "k1", true, &o).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ(DayOf(path, "a1"), 100);
  EXPECT_EQ(DayOf(path, "b1"), 100);

  // The same message again counts nothing and dates nothing.
  (*store)->set_today(200);
  ASSERT_TRUE((*store)->Learn(Tokens({"a1", "b1"}), "k1", true, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kAlreadyKnown);
  ASSERT_TRUE((*store)->Learn(Tokens({"b1", "c1"}), "k2", false, &o).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ(DayOf(path, "a1"), 100);
  EXPECT_EQ(DayOf(path, "b1"), 200);
  EXPECT_EQ(DayOf(path, "c1"), 200);

  // Forgetting leaves the day; a token forgotten to 0/0 goes.
  (*store)->set_today(300);
  ForgetOutcome f;
  ASSERT_TRUE((*store)->Forget(Tokens({"b1", "c1"}), "k2", &f).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ(DayOf(path, "b1"), 200);
  EXPECT_EQ(DayOf(path, "c1"), -1);

  // A message that moves is learned again.
  (*store)->set_today(400);
  ASSERT_TRUE((*store)->Learn(Tokens({"a1", "b1"}), "k1", false, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kMoved);
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ(DayOf(path, "a1"), 400);
  EXPECT_EQ(DayOf(path, "b1"), 400);

  // Learned and forgotten within one batch: no row left at 0/0. A token that one message
  // brought and another took away in the same batch (its counts as they were) is dated
  // by the learning.
  (*store)->set_today(500);
  ASSERT_TRUE((*store)->Learn(Tokens({"d1"}), "k3", true, &o).ok());
  ASSERT_TRUE((*store)->Forget(Tokens({"d1"}), "k3", &f).ok());
  ASSERT_TRUE((*store)->Learn(Tokens({"b1"}), "k4", false, &o).ok());
  ASSERT_TRUE((*store)->Forget(Tokens({"a1", "b1"}), "k1", &f).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ(DayOf(path, "d1"), -1);
  EXPECT_EQ(DayOf(path, "a1"), -1);
  EXPECT_EQ(DayOf(path, "b1"), 500);
  EXPECT_EQ(Query(path, "SELECT ham FROM tokens WHERE hash=" +
                            std::to_string(static_cast<int64_t>(TokenHash("b1")))),
            1);
  EXPECT_EQ(Query(path, "SELECT count(*) FROM tokens WHERE spam=0 AND ham=0"), 0);
}

TEST(SpamBayesStore, ExpireRemovesOldRareTokensOnly) {
  TempDir dir;
  const std::string path = dir.Path("b.sqlite");
  auto store = BayesStore::Open(path, true);
  ASSERT_TRUE(store.ok());
  LearnOutcome o;
  (*store)->set_today(1000);
  // "freq" in five messages, the rest in one each; and many one-off tokens, so the file
  // has pages to give back.
  TokenSet bulk;
  for (int i = 0; i < 20000; ++i) bulk.hashes.push_back(TokenHash("bulk" + std::to_string(i)));
  std::sort(bulk.hashes.begin(), bulk.hashes.end());
  ASSERT_TRUE((*store)->Learn(Tokens({"rare1", "freq"}), "s1", true, &o).ok());
  ASSERT_TRUE((*store)->Learn(Tokens({"rare2", "freq"}), "s2", true, &o).ok());
  ASSERT_TRUE((*store)->Learn(Tokens({"hamrare", "freq"}), "h1", false, &o).ok());
  ASSERT_TRUE((*store)->Learn(Tokens({"freq"}), "h2", false, &o).ok());
  ASSERT_TRUE((*store)->Learn(Tokens({"freq"}), "h3", false, &o).ok());
  ASSERT_TRUE((*store)->Learn(bulk, "h4", false, &o).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  (*store)->set_today(1100);
  ASSERT_TRUE((*store)->Learn(Tokens({"recent"}), "s6", true, &o).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  EXPECT_EQ((*store)->counts().tokens, 20005u);
  auto g = BayesModel::StoredGeneration(path);
  ASSERT_TRUE(g.ok());
  const uint64_t generation = *g;
  Exec(path, "PRAGMA wal_checkpoint(TRUNCATE)");  // everything in the file, to measure it
  struct stat before;
  ASSERT_EQ(stat(path.c_str(), &before), 0);

  uint64_t removed = 99;
  EXPECT_EQ((*store)->Expire(-1, 5, &removed).code(), Status::Code::kInvalidArgument);
  // Exactly max_age_days old is not older than that: nothing goes, no new generation.
  (*store)->set_today(1030);
  ASSERT_TRUE((*store)->Expire(30, 5, &removed).ok());
  EXPECT_EQ(removed, 0u);
  EXPECT_EQ(*BayesModel::StoredGeneration(path), generation);

  (*store)->set_today(1100);
  ASSERT_TRUE((*store)->Expire(30, 5, &removed).ok());
  EXPECT_EQ(removed, 20003u);  // rare1, rare2, hamrare and the bulk
  EXPECT_EQ((*store)->counts().tokens, 2u);
  EXPECT_EQ((*store)->counts().nspam, 3u);
  EXPECT_EQ((*store)->counts().nham, 4u);
  EXPECT_GT(*BayesModel::StoredGeneration(path), generation);
  EXPECT_EQ(Query(path, "SELECT count(*) FROM learned"), 7);
  struct stat after;
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_LT(after.st_size, before.st_size / 4);  // compacted
  ASSERT_EQ(stat((path + "-wal").c_str(), &after), 0);
  EXPECT_EQ(after.st_size, 0);

  BayesParams few;
  few.min_messages = 1;
  auto model = BayesModel::Load(path, few);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->nspam(), 3u);
  EXPECT_EQ((*model)->nham(), 4u);
  EXPECT_EQ((*model)->token_count(), 2u);
  EXPECT_EQ((*model)->Lookup(TokenHash("freq")).spam, 2u);
  EXPECT_EQ((*model)->Lookup(TokenHash("freq")).ham, 3u);
  EXPECT_EQ((*model)->Lookup(TokenHash("recent")).spam, 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("rare1")).spam, 0u);
  BayesResult r = (*model)->Classify(Tokens({"recent", "rare1", "freq"}));
  EXPECT_TRUE(r.trained);
  EXPECT_EQ(r.tokens_used, 1);  // "recent"; "freq" is no clue, "rare1" is gone
  EXPECT_GT(r.probability, 0.5);

  // Messages whose tokens were expired are still forgotten and moved, counts stopping at 0.
  ForgetOutcome f;
  ASSERT_TRUE((*store)->Forget(Tokens({"rare1", "freq"}), "s1", &f).ok());
  EXPECT_EQ(f, ForgetOutcome::kForgotten);
  ASSERT_TRUE((*store)->Learn(Tokens({"hamrare", "freq"}), "h1", true, &o).ok());
  EXPECT_EQ(o, LearnOutcome::kMoved);
  ASSERT_TRUE((*store)->Commit().ok());
  model = BayesModel::Load(path, few);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->nspam(), 3u);
  EXPECT_EQ((*model)->nham(), 3u);
  EXPECT_EQ((*model)->Lookup(TokenHash("rare1")).spam, 0u);
  EXPECT_EQ((*model)->Lookup(TokenHash("freq")).spam, 2u);
  EXPECT_EQ((*model)->Lookup(TokenHash("freq")).ham, 2u);
  EXPECT_EQ((*model)->Lookup(TokenHash("hamrare")).spam, 1u);
  EXPECT_EQ((*model)->Lookup(TokenHash("hamrare")).ham, 0u);
  EXPECT_EQ((*model)->token_count(), 3u);
  EXPECT_EQ(Query(path, "SELECT count(*) FROM tokens WHERE spam<0 OR ham<0"), 0);

  // Learning not committed yet is committed first, then counted.
  ASSERT_TRUE((*store)->Learn(Tokens({"late"}), "s7", true, &o).ok());
  ASSERT_TRUE((*store)->Expire(30, 5, &removed).ok());
  EXPECT_EQ(removed, 0u);
  EXPECT_EQ(Query(path, "SELECT value FROM meta WHERE key='nspam'"), 4);
  EXPECT_EQ(DayOf(path, "late"), 1100);
}

// A synthetic site: spam about prizes and pills, ham about meetings and reports, and words
// both use.
std::vector<std::string> kSpamWords = {"prize", "winner", "cheap",  "pills",  "offer",
                                       "click", "trúng",  "thưởng", "khuyến", "mãi"};
std::vector<std::string> kHamWords = {"meeting",  "report", "agenda", "budget", "minutes",
                                      "schedule", "họp",    "báo",    "cáo",    "phòng"};
std::vector<std::string> kCommonWords = {"the", "and", "you", "today", "please", "bạn"};

TokenSet SyntheticMessage(bool spam, int n) {
  const auto& own = spam ? kSpamWords : kHamWords;
  std::string body;
  for (int i = 0; i < 6; ++i) body += own[(n * 7 + i * 3) % own.size()] + " ";
  for (int i = 0; i < 4; ++i) body += kCommonWords[(n + i) % kCommonWords.size()] + ". ";
  body += "unique" + std::to_string(n) + (spam ? "s" : "h");
  return Tokenize(TextView(body));
}

std::string TrainSynthetic(const TempDir& dir, int per_class) {
  const std::string path = dir.Path("b.sqlite");
  auto store = BayesStore::Open(path, true);
  EXPECT_TRUE(store.ok());
  LearnOutcome o;
  for (int i = 0; i < per_class; ++i) {
    EXPECT_TRUE((*store)->Learn(SyntheticMessage(true, i), "s" + std::to_string(i), true, &o).ok());
    EXPECT_TRUE(
        (*store)->Learn(SyntheticMessage(false, i), "h" + std::to_string(i), false, &o).ok());
  }
  EXPECT_TRUE((*store)->Commit().ok());
  return path;
}

TEST(SpamBayesModel, UntrainedGivesNoVerdict) {
  TempDir dir;
  auto model = BayesModel::Load(TrainSynthetic(dir, 20));
  ASSERT_TRUE(model.ok());
  BayesResult r = (*model)->Classify(SyntheticMessage(true, 1000));
  EXPECT_FALSE(r.trained);
  BayesParams few;
  few.min_messages = 10;
  model = BayesModel::Load(dir.Path("b.sqlite"), few);
  ASSERT_TRUE(model.ok());
  EXPECT_TRUE((*model)->Classify(SyntheticMessage(true, 1000)).trained);
}

TEST(SpamBayesModel, SeparatesSpamFromHam) {
  TempDir dir;
  auto model = BayesModel::Load(TrainSynthetic(dir, 60));
  ASSERT_TRUE(model.ok());
  for (int n = 1000; n < 1010; ++n) {
    BayesResult spam = (*model)->Classify(SyntheticMessage(true, n));
    BayesResult ham = (*model)->Classify(SyntheticMessage(false, n));
    ASSERT_TRUE(spam.trained);
    EXPECT_GT(spam.probability, 0.99) << n;
    EXPECT_LT(ham.probability, 0.01) << n;
    EXPECT_GT(spam.tokens_used, 3);
  }
  // Nothing known: no evidence either way.
  BayesResult unknown = (*model)->Classify(Tokens({"never", "seen", "before"}));
  EXPECT_DOUBLE_EQ(unknown.probability, 0.5);
  EXPECT_EQ(unknown.tokens_used, 0);
  // Only words both classes use: no clue strong enough.
  BayesResult common = (*model)->Classify(Tokenize(TextView("the and you today please")));
  EXPECT_NEAR(common.probability, 0.5, 0.2);
}

TEST(SpamBayesModel, ClassifiesFromManyThreadsAtOnce) {
  TempDir dir;
  auto loaded = BayesModel::Load(TrainSynthetic(dir, 60));
  ASSERT_TRUE(loaded.ok());
  std::shared_ptr<const BayesModel> model = *loaded;
  std::vector<TokenSet> inputs;
  std::vector<double> expected;
  for (int n = 0; n < 40; ++n) {
    inputs.push_back(SyntheticMessage(n % 2 == 0, 2000 + n));
    expected.push_back(model->Classify(inputs.back()).probability);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          if (model->Classify(inputs[i]).probability != expected[i]) ++mismatches;
        }
        // The tokenizer too runs on every thread.
        if (Tokenize(TextView("Chúc mừng trúng thưởng")).hashes.size() < 4) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(SpamBayesModel, MessageKeyIgnoresDeliveryHeadersAndWhiteSpace) {
  MessageView a = TextView("Hello  there\n\nfriend\n");
  a.headers = {{"Message-ID", " <1@x> "}, {"Received", "by a"}};
  MessageView b = TextView("Hello there friend");
  b.headers = {{"Received", "by b"}, {"Message-ID", "<1@x>"}, {"X-Spam-Flag", "YES"}};
  EXPECT_EQ(MessageKey(a), MessageKey(b));
  EXPECT_EQ(MessageKey(a).size(), 64u);
  b.headers[1].value = "<2@x>";
  EXPECT_NE(MessageKey(a), MessageKey(b));
  EXPECT_NE(MessageKey(TextView("one")), MessageKey(TextView("two")));
}

// ---- mail source ----

struct Collected {
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<MailProblem> problems;
};

Collected Read(const std::string& path, MailSourceLimits limits = {}) {
  Collected c;
  Status s = ReadMailSource(
      path, limits,
      [&](const std::string& origin, std::string_view text) {
        c.messages.emplace_back(origin, std::string(text));
      },
      [&](const MailProblem& p) { c.problems.push_back(p); });
  EXPECT_TRUE(s.ok()) << s.message();
  return c;
}

TEST(SpamMailSource, MboxSplitsAndUnquotesFrom) {
  TempDir dir;
  const std::string box = dir.Write("box",
                                    "From alice@example.com Mon Jan  1 00:00:00 2024\n"
                                    "Subject: one\n\n"
                                    ">From the start\n"
                                    ">>From twice\n"
                                    "From inside a paragraph stays\n"
                                    "\n"
                                    "From bob@example.com Mon Jan  1 00:00:01 2024\n"
                                    "Subject: two\n\nbody two\n");
  Collected c = Read(box);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.messages[0].first, box + "#1");
  EXPECT_EQ(c.messages[0].second,
            "Subject: one\n\nFrom the start\n>From twice\nFrom inside a paragraph stays\n");
  EXPECT_EQ(c.messages[1].second, "Subject: two\n\nbody two\n");
}

TEST(SpamMailSource, MboxInSmallReadsAndLongLines) {
  TempDir dir;
  std::string long_line(200000, 'x');
  const std::string box = dir.Write("box", "From a\r\nSubject: a\r\n\r\n" + long_line +
                                               "\r\n\r\nFrom b\r\n"
                                               "Subject: b\r\n\r\nb\r\n");
  Collected c = Read(box);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].second, "Subject: a\r\n\r\n" + long_line + "\r\n");
  EXPECT_EQ(c.messages[1].second, "Subject: b\r\n\r\nb\r\n");
}

TEST(SpamMailSource, MaildirReadsCurAndNewOnly) {
  TempDir dir;
  dir.Write("md/cur/1.host:2,S", "Subject: cur\n\nx\n");
  dir.Write("md/new/2.host", "Subject: new\n\nx\n");
  dir.Write("md/tmp/3.host", "Subject: tmp\n\nx\n");
  dir.Write("md/cur/.hidden", "Subject: hidden\n\nx\n");
  dir.Write("md/.Junk/cur/4.host", "Subject: subfolder\n\nx\n");
  Collected c = Read(dir.Path("md"));
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].second, "Subject: cur\n\nx\n");
  EXPECT_EQ(c.messages[1].second, "Subject: new\n\nx\n");
}

TEST(SpamMailSource, DirectoriesAreReadRecursively) {
  TempDir dir;
  dir.Write("d/a.eml", "Subject: a\n\nx\n");
  dir.Write("d/sub/b.eml", "Subject: b\n\nx\n");
  dir.Write("d/sub/box.mbox", "From x\nSubject: c\n\nx\n\nFrom y\nSubject: d\n\nx\n");
  dir.Write("d/.git/config", "not mail");
  dir.Write("d/empty.eml", "");
  dir.Write("d/big.eml", "Subject: big\n\n" + std::string(500, 'x'));
  MailSourceLimits limits;
  limits.max_message_bytes = 200;
  Collected c = Read(dir.Path("d"), limits);
  std::vector<std::string> subjects;
  for (const auto& [origin, text] : c.messages) subjects.push_back(text.substr(0, 10));
  EXPECT_EQ(subjects,
            (std::vector<std::string>{"Subject: a", "Subject: b", "Subject: c", "Subject: d"}));
  ASSERT_EQ(c.problems.size(), 2u);
  EXPECT_EQ(c.problems[0].kind, MailProblem::Kind::kTooLarge);
  EXPECT_EQ(c.problems[0].origin, dir.Path("d/big.eml"));
  EXPECT_EQ(c.problems[1].kind, MailProblem::Kind::kEmpty);
}

TEST(SpamMailSource, OversizedMboxMessageIsSkipped) {
  TempDir dir;
  const std::string box = dir.Write(
      "box", "From a\nSubject: a\n\n" + std::string(1000, 'y') + "\n\nFrom b\nSubject: b\n\nb\n");
  MailSourceLimits limits;
  limits.max_message_bytes = 100;
  Collected c = Read(box, limits);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].second, "Subject: b\n\nb\n");
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].origin, box + "#1");
}

TEST(SpamMailSource, MissingPath) {
  Status s = ReadMailSource(
      "/nonexistent/mail", {}, [](const std::string&, std::string_view) {},
      [](const MailProblem&) {});
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
}

// ---- the train command ----

std::string Mail(bool spam, int n) {
  const auto& own = spam ? kSpamWords : kHamWords;
  std::string body;
  for (int i = 0; i < 8; ++i) body += own[(n * 5 + i * 3) % own.size()] + " ";
  body += "\nreference " + std::to_string(n) + "\n";
  return std::string("From: ") + (spam ? "promo@deals.example" : "colleague@site.example") +
         "\nTo: user@site.example\nSubject: " + own[n % own.size()] + " " +
         own[(n + 1) % own.size()] + "\nMessage-ID: <" + std::to_string(n) + (spam ? "s" : "h") +
         "@x>\n\n" + body;
}

void WriteMails(const TempDir& dir, const std::string& sub, bool spam, int from, int count) {
  for (int n = from; n < from + count; ++n)
    dir.Write(sub + "/" + std::to_string(n) + ".eml", Mail(spam, n));
}

// Options that learn 60 spam and 60 ham messages, written under `dir`, into
// dir/store.sqlite.
TrainOptions SixtyOfEach(const TempDir& dir) {
  WriteMails(dir, "spam", true, 0, 60);
  WriteMails(dir, "ham", false, 0, 60);
  TrainOptions o;
  o.db_path = dir.Path("store.sqlite");
  o.spam_paths = {dir.Path("spam")};
  o.ham_paths = {dir.Path("ham")};
  return o;
}

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> v;
  for (std::string& a : args) v.push_back(a.data());
  return v;
}

TEST(SpamTrain, ParsesArguments) {
  std::vector<std::string> args = {"--db",    "x.sqlite", "--spam", "a",        "--spam",
                                   "b",       "--ham",    "c",      "--forget", "d",
                                   "--quiet", "--config", "m.yaml"};
  auto argv = Argv(args);
  auto o = ParseTrainArgs(argv);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->db_path, "x.sqlite");
  EXPECT_EQ(o->spam_paths, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o->ham_paths, (std::vector<std::string>{"c"}));
  EXPECT_EQ(o->forget_paths, (std::vector<std::string>{"d"}));
  EXPECT_EQ(o->config_path, "m.yaml");
  EXPECT_TRUE(o->quiet);

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--db", "x"}, {"--spam"}, {"--bogus", "x", "--spam", "a"}, {}}) {
    auto v = Argv(bad);
    EXPECT_FALSE(ParseTrainArgs(v).ok());
  }
  std::vector<std::string> help = {"--help"};
  auto h = Argv(help);
  ASSERT_TRUE(ParseTrainArgs(h).ok());
  EXPECT_TRUE(ParseTrainArgs(h)->help);
}

TEST(SpamTrain, EndToEnd) {
  TempDir dir;
  TrainOptions o = SixtyOfEach(dir);
  std::ostringstream out, err;
  ASSERT_EQ(RunTrain(o, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("read 120 messages"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("spam: 60 learned"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("60 spam, 60 ham"), std::string::npos) << out.str();

  auto model = BayesModel::Load(o.db_path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->nspam(), 60u);

  // Again: nothing counted twice.
  std::ostringstream out2, err2;
  ASSERT_EQ(RunTrain(o, out2, err2), 0) << err2.str();
  EXPECT_NE(out2.str().find("0 learned, 60 already known"), std::string::npos) << out2.str();

  // Users report five of the ham as spam (an mbox of them): they move.
  std::string box;
  for (int n = 0; n < 5; ++n) box += "From x\n" + Mail(false, n) + "\n";
  TrainOptions report;
  report.db_path = o.db_path;
  report.spam_paths = {dir.Write("reported.mbox", box)};
  std::ostringstream out3, err3;
  ASSERT_EQ(RunTrain(report, out3, err3), 0) << err3.str();
  EXPECT_NE(out3.str().find("5 moved from ham"), std::string::npos) << out3.str();
  EXPECT_NE(out3.str().find("65 spam, 55 ham"), std::string::npos) << out3.str();

  // And forgotten.
  TrainOptions forget;
  forget.db_path = o.db_path;
  forget.forget_paths = {report.spam_paths[0]};
  std::ostringstream out4, err4;
  ASSERT_EQ(RunTrain(forget, out4, err4), 0) << err4.str();
  EXPECT_NE(out4.str().find("forgotten: 5"), std::string::npos) << out4.str();
  EXPECT_NE(out4.str().find("60 spam, 55 ham"), std::string::npos) << out4.str();
}

TEST(SpamTrain, ExitStatus) {
  TempDir dir;
  WriteMails(dir, "ham", false, 0, 3);
  TrainOptions o;
  o.db_path = dir.Path("store.sqlite");
  o.ham_paths = {dir.Path("ham"), dir.Path("missing")};
  std::ostringstream out, err;
  EXPECT_EQ(RunTrain(o, out, err), 1);
  EXPECT_NE(err.str().find("missing"), std::string::npos);
  EXPECT_NE(out.str().find("3 learned"), std::string::npos) << out.str();

  o.ham_paths = {dir.Path("ham")};
  o.db_path = dir.Path("no/such/dir/store.sqlite");
  EXPECT_EQ(RunTrain(o, out, err), 2);
  o.db_path = "";
  EXPECT_EQ(RunTrain(o, out, err), 2);
  o.db_path = dir.Write("garbage.sqlite", std::string(4096, 'g'));
  EXPECT_EQ(RunTrain(o, out, err), 2);
}

TEST(SpamTrain, ParsesExpireArguments) {
  std::vector<std::string> alone = {"--db", "x.sqlite", "--expire", "180"};
  auto a = Argv(alone);
  auto o = ParseTrainArgs(a);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->expire_days, 180);
  EXPECT_EQ(o->expire_keep, 5u);
  std::vector<std::string> both = {"--spam", "s", "--expire-keep", "1000000", "--expire", "36500"};
  auto b = Argv(both);
  o = ParseTrainArgs(b);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->expire_days, 36500);
  EXPECT_EQ(o->expire_keep, 1000000u);
  EXPECT_EQ(o->spam_paths, (std::vector<std::string>{"s"}));
  // Without --expire there is none.
  std::vector<std::string> none = {"--spam", "s"};
  auto n = Argv(none);
  EXPECT_EQ(ParseTrainArgs(n)->expire_days, 0);

  for (std::vector<std::string> bad :
       std::vector<std::vector<std::string>>{{"--expire", "0"},
                                             {"--expire", "36501"},
                                             {"--expire", "-5"},
                                             {"--expire", "30d"},
                                             {"--expire", " 30"},
                                             {"--expire", "abc"},
                                             {"--expire", "99999999999999999999999"},
                                             {"--expire"},
                                             {"--expire", "30", "--expire-keep", "0"},
                                             {"--expire", "30", "--expire-keep", "1000001"},
                                             {"--expire", "30", "--expire-keep", "x"},
                                             {"--spam", "s", "--expire-keep", "3"}}) {
    auto v = Argv(bad);
    auto r = ParseTrainArgs(v);
    ASSERT_FALSE(r.ok()) << bad[0] << " " << (bad.size() > 1 ? bad[1] : "");
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--expire"), std::string::npos) << r.status().message();
  }
  std::vector<std::string> range = {"--expire", "0"};
  auto rv = Argv(range);
  EXPECT_NE(ParseTrainArgs(rv).status().message().find("from 1 to 36500"), std::string::npos)
      << ParseTrainArgs(rv).status().message();
  std::ostringstream usage;
  TrainUsage(usage);
  EXPECT_NE(usage.str().find("--expire DAYS"), std::string::npos);
}

// YYYY-MM-DD, `days_ago` days before today (UTC).
std::string DateDaysAgo(int64_t days_ago) {
  const int64_t today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())
                            .time_since_epoch()
                            .count();
  const time_t t = static_cast<time_t>((today - days_ago) * 86400);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

TEST(SpamTrain, ExpireAloneAndAfterLearning) {
  TempDir dir;
  TrainOptions o = SixtyOfEach(dir);
  std::ostringstream out, err;
  ASSERT_EQ(RunTrain(o, out, err), 0) << err.str();
  const int64_t tokens = Query(o.db_path, "SELECT count(*) FROM tokens");
  const int64_t rare = Query(o.db_path, "SELECT count(*) FROM tokens WHERE spam+ham < 5");
  ASSERT_GT(rare, 0);
  ASSERT_LT(rare, tokens);

  // Alone: nothing is old yet.
  TrainOptions expire;
  expire.db_path = o.db_path;
  expire.expire_days = 180;
  std::ostringstream out2, err2;
  ASSERT_EQ(RunTrain(expire, out2, err2), 0) << err2.str();
  EXPECT_EQ(out2.str().find("read "), std::string::npos) << out2.str();
  EXPECT_NE(
      out2.str().find("train: expired 0 tokens last learned before " + DateDaysAgo(180) +
                      " and seen in fewer than 5 messages; " + std::to_string(tokens) + " left"),
      std::string::npos)
      << out2.str();

  // A year later (the store made older) the rare tokens go, the store's totals stay.
  Exec(o.db_path, "UPDATE tokens SET day=day-365");
  std::ostringstream out3, err3;
  ASSERT_EQ(RunTrain(expire, out3, err3), 0) << err3.str();
  EXPECT_NE(out3.str().find("train: expired " + std::to_string(rare) + " tokens"),
            std::string::npos)
      << out3.str();
  EXPECT_NE(out3.str().find("; " + std::to_string(tokens - rare) + " left"), std::string::npos)
      << out3.str();
  EXPECT_NE(out3.str().find("60 spam, 60 ham, " + std::to_string(tokens - rare) + " tokens"),
            std::string::npos)
      << out3.str();
  auto model = BayesModel::Load(o.db_path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->nspam(), 60u);
  EXPECT_EQ((*model)->token_count(), static_cast<uint64_t>(tokens - rare));

  // With learning: the new messages' tokens are today's and stay; --expire-keep 1000
  // takes every old token.
  WriteMails(dir, "more", true, 100, 3);
  TrainOptions both;
  both.db_path = o.db_path;
  both.spam_paths = {dir.Path("more")};
  both.expire_days = 30;
  both.expire_keep = 1000;
  std::ostringstream out4, err4;
  ASSERT_EQ(RunTrain(both, out4, err4), 0) << err4.str();
  EXPECT_NE(out4.str().find("read 3 messages"), std::string::npos) << out4.str();
  EXPECT_NE(out4.str().find("\n  expired "), std::string::npos) << out4.str();
  EXPECT_NE(out4.str().find("seen in fewer than 1000 messages"), std::string::npos) << out4.str();
  EXPECT_NE(out4.str().find("63 spam, 60 ham"), std::string::npos) << out4.str();
  const int64_t today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())
                            .time_since_epoch()
                            .count();
  EXPECT_EQ(Query(o.db_path, "SELECT count(*) FROM tokens WHERE day < " + std::to_string(today)),
            0);
  EXPECT_GT(Query(o.db_path, "SELECT count(*) FROM tokens"), 0);

  // --quiet prints nothing; a store that cannot be opened is exit 2.
  expire.quiet = true;
  std::ostringstream out5, err5;
  EXPECT_EQ(RunTrain(expire, out5, err5), 0) << err5.str();
  EXPECT_EQ(out5.str(), "");
  expire.db_path = dir.Write("garbage.sqlite", std::string(4096, 'g'));
  EXPECT_EQ(RunTrain(expire, out5, err5), 2);
}

TEST(SpamTrain, CrossCheckSplitsByTheNamesDigit) {
  TempDir dir;
  // Names carry a 32-hex-digit part, like the public corpus.
  for (int n = 0; n < 200; ++n) {
    char md5[40];
    std::snprintf(md5, sizeof(md5), "%x%031d", n % 16, n);
    dir.Write("spam/" + std::string(md5) + ".eml", Mail(true, n));
    dir.Write("ham/h." + std::string(md5) + ".eml", Mail(false, n));
  }
  TrainOptions o;
  o.spam_paths = {dir.Path("spam")};
  o.ham_paths = {dir.Path("ham")};
  o.cross_check = dir.Path("out.tsv");
  std::ostringstream out, err;
  ASSERT_EQ(RunTrain(o, out, err), 0) << err.str();
  // n % 16 is the digit: 13 of the 200 for each of 0-7, 12 for each of 8-f.
  EXPECT_NE(out.str().find("learned 104 spam and 104 ham"), std::string::npos) << out.str();
  std::string tsv = testing::ReadFile(o.cross_check);
  EXPECT_EQ(std::count(tsv.begin(), tsv.end(), '\n'), 192);
}

// ---- standard input and the report spool ----

// Runs `read` with standard input reading `bytes` from a pipe, then puts it back. A writer
// thread feeds the pipe, so input larger than a pipe's buffer works; input left unread
// ends in EPIPE once the reading end is closed.
template <typename Read>
void WithStdin(const std::string& bytes, Read read) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  void (*old_pipe)(int) = ::signal(SIGPIPE, SIG_IGN);
  std::thread writer([fd = fds[1], &bytes] {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  ::close(fds[0]);
  read();
  ::dup2(saved, STDIN_FILENO);  // closes the pipe's last reading end
  ::close(saved);
  writer.join();
  ::signal(SIGPIPE, old_pipe);
}

TEST(SpamMailSource, StandardInputIsOneMessageOrAnMbox) {
  Collected one, box, empty, big;
  WithStdin("Subject: reported\r\n\r\nbody\r\n", [&] { one = Read("-"); });
  ASSERT_EQ(one.messages.size(), 1u);
  EXPECT_EQ(one.messages[0].first, "stdin");
  EXPECT_EQ(one.messages[0].second, "Subject: reported\r\n\r\nbody\r\n");
  EXPECT_TRUE(one.problems.empty());

  WithStdin("From a\nSubject: a\n\nx\n\nFrom b\nSubject: b\n\ny\n", [&] { box = Read("-"); });
  ASSERT_EQ(box.messages.size(), 2u);
  EXPECT_EQ(box.messages[0].first, "stdin#1");
  EXPECT_EQ(box.messages[1].second, "Subject: b\n\ny\n");

  WithStdin("", [&] { empty = Read("-"); });
  EXPECT_TRUE(empty.messages.empty());
  ASSERT_EQ(empty.problems.size(), 1u);
  EXPECT_EQ(empty.problems[0].kind, MailProblem::Kind::kEmpty);

  // A pipe has no size to look at first: the message is measured as it is read.
  MailSourceLimits limits;
  limits.max_message_bytes = 1000;
  WithStdin("Subject: big\n\n" + std::string(300000, 'x'), [&] { big = Read("-", limits); });
  EXPECT_TRUE(big.messages.empty());
  ASSERT_EQ(big.problems.size(), 1u);
  EXPECT_EQ(big.problems[0].kind, MailProblem::Kind::kTooLarge);
  EXPECT_EQ(big.problems[0].origin, "stdin");
}

TEST(SpamTrain, ParsesSpoolArguments) {
  std::vector<std::string> alone = {"--spool", "/var/spool/r", "--quiet"};
  auto a = Argv(alone);
  auto o = ParseTrainArgs(a);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->spool_dir, "/var/spool/r");
  EXPECT_TRUE(o->quiet);

  std::vector<std::string> with = {"--spam", "s", "--spool", "r", "--expire", "180"};
  auto w = Argv(with);
  o = ParseTrainArgs(w);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->spool_dir, "r");
  EXPECT_EQ(o->expire_days, 180);

  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--spool"},
           {"--spool", ""},
           {"--spool", "a", "--spool", "b"},
           {"--cross-check", "f", "--spam", "a", "--ham", "b", "--spool", "r"}}) {
    auto v = Argv(bad);
    EXPECT_FALSE(ParseTrainArgs(v).ok()) << bad[0] << " " << bad.size();
  }
}

// The entries of the spool's tmp/ and new/ directories, sorted ("spam/new/NAME").
std::vector<std::string> SpoolFiles(const TempDir& dir) {
  std::vector<std::string> names;
  for (const char* sub : {"ham/new", "ham/tmp", "spam/new", "spam/tmp"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir.Path("reports/") + sub, ec))
      names.push_back(std::string(sub) + "/" + e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

StoreCounts CountsOf(const std::string& db) {
  auto store = BayesStore::Open(db, false);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? (*store)->counts() : StoreCounts{};
}

TEST(SpamTrain, SpoolLearnsReportsInTheOrderMadeThenRemovesThem) {
  TempDir dir;
  TrainOptions base = SixtyOfEach(dir);
  std::ostringstream out0, err0;
  ASSERT_EQ(RunTrain(base, out0, err0), 0) << err0.str();

  // Names start with the time of the report: the order they are learned in, across classes.
  dir.Write("reports/spam/new/1700000000000000100.7.mx", Mail(false, 100));  // spam, then
  dir.Write("reports/ham/new/1700000000000000200.8.mx", Mail(false, 100));   // ham: ham
  dir.Write("reports/ham/new/1700000000000000300.9.mx", Mail(false, 101));   // ham, then
  dir.Write("reports/spam/new/1700000000000000400.9.mx", Mail(false, 101));  // spam: spam
  dir.Write("reports/spam/new/1700000000000000050.6.mx", Mail(true, 102));
  dir.Write("reports/ham/new/1700000000000000500.1.mx", "");                      // empty
  dir.Write("reports/ham/new/1700000000000000600.1.mx", std::string(5000, 'x'));  // too large
  dir.Write("reports/spam/tmp/1700000000000000700.2.mx", Mail(true, 103));        // being written
  dir.Write("reports/ham/new/.keep", Mail(false, 104));
  TrainOptions o;
  o.db_path = base.db_path;
  o.spool_dir = dir.Path("reports");
  o.source.max_message_bytes = 4096;
  std::ostringstream out, err;
  ASSERT_EQ(RunTrain(o, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("learned 5 reports (3 spam, 2 ham), removed from the spool; 2 "
                           "skipped and removed"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("spam: 2 learned, 0 already known, 1 moved from ham"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("ham:  1 learned, 0 already known, 1 moved from spam"),
            std::string::npos)
      << out.str();
  EXPECT_NE(err.str().find("1700000000000000500.1.mx: skipped, empty"), std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find("1700000000000000600.1.mx: skipped, too large"), std::string::npos)
      << err.str();
  StoreCounts c = CountsOf(o.db_path);
  EXPECT_EQ(c.nspam, 62u);  // 60 + 102 + 101
  EXPECT_EQ(c.nham, 61u);   // 60 + 100
  EXPECT_EQ(SpoolFiles(dir),
            (std::vector<std::string>{"ham/new/.keep", "spam/tmp/1700000000000000700.2.mx"}));

  // Nothing waiting: nothing done.
  std::ostringstream out2, err2;
  ASSERT_EQ(RunTrain(o, out2, err2), 0) << err2.str();
  EXPECT_NE(out2.str().find("learned 0 reports (0 spam, 0 ham)\n"), std::string::npos)
      << out2.str();

  // A report learned but not removed (a run stopped between the commit and the removal)
  // is found already known the next time.
  dir.Write("reports/spam/new/1700000000000000400.9.mx", Mail(false, 101));
  std::ostringstream out3, err3;
  ASSERT_EQ(RunTrain(o, out3, err3), 0) << err3.str();
  EXPECT_NE(out3.str().find("spam: 0 learned, 1 already known"), std::string::npos) << out3.str();
  EXPECT_NE(out3.str().find("learned 1 report (1 spam, 0 ham)"), std::string::npos) << out3.str();
  c = CountsOf(o.db_path);
  EXPECT_EQ(c.nspam, 62u);
  EXPECT_EQ(c.nham, 61u);

  // With --spam and --ham in the same run: the reports come last.
  dir.Write("reports/ham/new/1700000000000000800.3.mx", Mail(true, 105));
  dir.Write("more/105.eml", Mail(true, 105));
  TrainOptions both = o;
  both.spam_paths = {dir.Path("more")};
  std::ostringstream out4, err4;
  ASSERT_EQ(RunTrain(both, out4, err4), 0) << err4.str();
  EXPECT_NE(out4.str().find("ham:  0 learned, 0 already known, 1 moved from spam"),
            std::string::npos)
      << out4.str();
  c = CountsOf(o.db_path);
  EXPECT_EQ(c.nspam, 62u);
  EXPECT_EQ(c.nham, 62u);
}

TEST(SpamTrain, SpoolMissingDirectoriesAndOddEntries) {
  TempDir dir;
  TrainOptions o;
  o.db_path = dir.Path("store.sqlite");
  o.spool_dir = dir.Path("reports");
  std::ostringstream out, err;
  // No spool at all: a usage error, before the store is touched.
  EXPECT_EQ(RunTrain(o, out, err), 2);
  EXPECT_NE(err.str().find(dir.Path("reports")), std::string::npos) << err.str();
  EXPECT_FALSE(std::filesystem::exists(o.db_path));
  o.spool_dir = dir.Write("README", "not a spool");
  EXPECT_EQ(RunTrain(o, out, err), 2);

  // A spool without its class directories holds no reports.
  o.spool_dir = dir.Path("reports");
  std::filesystem::create_directories(o.spool_dir);
  std::ostringstream out1, err1;
  ASSERT_EQ(RunTrain(o, out1, err1), 0) << err1.str();
  EXPECT_NE(out1.str().find("learned 0 reports"), std::string::npos) << out1.str();

  // The spool is a drop box anyone may write to: a link, a FIFO or a directory there is
  // never read (reading a FIFO would block the run). Links and FIFOs are removed; a
  // directory cannot be, and is set aside under a dot name, which no run lists again (the
  // path unit would otherwise start the learner over and over for it).
  const std::string secret = dir.Write("secret.eml", Mail(true, 7));
  std::filesystem::create_directories(dir.Path("reports/spam/new"));
  std::filesystem::create_directories(dir.Path("reports/ham/new/1700000000000000300.1.mx"));
  std::filesystem::create_symlink(secret, dir.Path("reports/spam/new/1700000000000000100.1.mx"));
  ASSERT_EQ(::mkfifo(dir.Path("reports/ham/new/1700000000000000200.1.mx").c_str(), 0600), 0);
  dir.Write("reports/spam/new/1700000000000000400.1.mx", Mail(true, 8));
  std::ostringstream out2, err2;
  EXPECT_EQ(RunTrain(o, out2, err2), 1);
  EXPECT_NE(err2.str().find("1700000000000000100.1.mx: skipped, "), std::string::npos)
      << err2.str();
  EXPECT_NE(err2.str().find("1700000000000000200.1.mx: skipped, not a regular file"),
            std::string::npos)
      << err2.str();
  EXPECT_NE(err2.str().find("cannot remove " + dir.Path("reports/ham/new/1700000000000000300"
                                                        ".1.mx")),
            std::string::npos)
      << err2.str();
  EXPECT_NE(out2.str().find("learned 1 report (1 spam, 0 ham), removed from the spool; 2 "
                            "skipped and removed; 1 set aside"),
            std::string::npos)
      << out2.str();
  EXPECT_NE(err2.str().find("set aside as " + dir.Path("reports/ham/new/.1700000000000000300"
                                                       ".1.mx")),
            std::string::npos)
      << err2.str();
  EXPECT_EQ(SpoolFiles(dir), (std::vector<std::string>{"ham/new/.1700000000000000300.1.mx"}));
  EXPECT_EQ(CountsOf(o.db_path).nspam, 1u);  // the link's target was not learned
  EXPECT_TRUE(std::filesystem::exists(secret));
  std::ostringstream out_again, err_again;
  EXPECT_EQ(RunTrain(o, out_again, err_again), 0) << err_again.str();
  EXPECT_NE(out_again.str().find("learned 0 reports"), std::string::npos) << out_again.str();

  // A report the learner may not read is set aside too (as root every file is readable, so
  // only an unprivileged run can show it).
  if (::geteuid() != 0) {
    const std::string locked =
        dir.Write("reports/ham/new/1700000000000000900.1.mx", Mail(false, 9));
    ::chmod(locked.c_str(), 0);
    std::ostringstream out3, err3;
    EXPECT_EQ(RunTrain(o, out3, err3), 1);
    EXPECT_NE(err3.str().find("1700000000000000900.1.mx: cannot read"), std::string::npos)
        << err3.str();
    EXPECT_FALSE(std::filesystem::exists(locked));
    EXPECT_TRUE(std::filesystem::exists(dir.Path("reports/ham/new/.1700000000000000900.1.mx")));
  }
}

}  // namespace
}  // namespace mailwarden::spam

// The trainable classifier: tokenizer, store, model, training input and the train command.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include <algorithm>
#include <atomic>
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
  WriteMails(dir, "spam", true, 0, 60);
  WriteMails(dir, "ham", false, 0, 60);
  TrainOptions o;
  o.db_path = dir.Path("store.sqlite");
  o.spam_paths = {dir.Path("spam")};
  o.ham_paths = {dir.Path("ham")};
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

}  // namespace
}  // namespace mailwarden::spam

// Tests of the spam rule engine (milter/spam/spam_rules.h) and its text normalisation
// (milter/spam/normalize.h).
#include "milter/spam/spam_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "milter/spam/normalize.h"

namespace mailwarden::spam {
namespace {

// ---------------------------------------------------------------------------------------
// Normalisation

TEST(FoldCaseTest, AsciiIsLowerCased) {
  EXPECT_EQ(FoldCase("Click HERE now!"), "click here now!");
  EXPECT_EQ(FoldCase(""), "");
  EXPECT_EQ(FoldCase(std::string("A\0B", 3)), std::string("a\0b", 3));
}

TEST(FoldCaseTest, VietnameseIsFolded) {
  EXPECT_EQ(FoldCase("TRÚNG THƯỞNG"), "trúng thưởng");
  EXPECT_EQ(FoldCase("Trúng Thưởng"), "trúng thưởng");
  EXPECT_EQ(FoldCase("ĐÀ NẴNG"), "đà nẵng");
}

TEST(FoldCaseTest, FullCaseFolding) {
  EXPECT_EQ(FoldCase("Straße"), "strasse");
  EXPECT_EQ(FoldCase("STRASSE"), "strasse");
  EXPECT_EQ(FoldCase("ΣΊΣΥΦΟΣ"), "σίσυφοσ");
}

TEST(FoldCaseTest, DecomposedInputIsComposed) {
  // "TRÚNG" with U+0301 COMBINING ACUTE after the U.
  EXPECT_EQ(FoldCase("TRU\xCC\x81NG"), "trúng");
}

TEST(FoldCaseTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(FoldCase("A\xFF"
                     "B"),
            "a\xEF\xBF\xBD"
            "b");
  // A sequence cut short at the end: one U+FFFD for the whole maximal subpart.
  EXPECT_EQ(FoldCase("Ư\xE1\xBB"), "ư\xEF\xBF\xBD");
  // Overlong and surrogate encodings are ill-formed byte by byte.
  EXPECT_EQ(FoldCase("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(FoldCase("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StripDiacriticsTest, Vietnamese) {
  EXPECT_EQ(StripDiacritics("trúng thưởng"), "trung thuong");
  EXPECT_EQ(StripDiacritics("Đà Nẵng"), "Da Nang");
  EXPECT_EQ(StripDiacritics("TỐI MẬT, Ự, đ"), "TOI MAT, U, d");
  EXPECT_EQ(StripDiacritics("khuyến mãi giảm giá"), "khuyen mai giam gia");
}

TEST(StripDiacriticsTest, AsciiIsKept) {
  EXPECT_EQ(StripDiacritics("\\btr\\w+ng\\s+\\d{2}%"), "\\btr\\w+ng\\s+\\d{2}%");
  EXPECT_EQ(StripDiacritics(""), "");
}

TEST(StripDiacriticsTest, EscapesNextToAccentedLettersSurvive) {
  EXPECT_EQ(StripDiacritics("\\bgiảm\\s+giá\\b"), "\\bgiam\\s+gia\\b");
}

TEST(StripDiacriticsTest, DecomposedAndInvalidInput) {
  EXPECT_EQ(StripDiacritics("tru\xCC\x81ng"), "trung");
  EXPECT_EQ(StripDiacritics("á\xFF"), "a\xEF\xBF\xBD");
}

TEST(StripDiacriticsTest, OtherScriptsKeepTheirLetters) {
  EXPECT_EQ(StripDiacritics("Crème brûlée"), "Creme brulee");
  EXPECT_EQ(StripDiacritics("한국어"), "한국어");  // decomposed into jamo, then recomposed
}

// ---------------------------------------------------------------------------------------
// Rules

// A message as Match reads it, owning its text.
struct TestMessage {
  std::vector<ViewHeader> headers;
  std::string body;
  std::vector<Link> links;
  std::string raw;

  RuleMatchInput Input() const {
    RuleMatchInput in;
    in.headers = headers;
    in.body_text = body;
    in.links = links;
    in.raw = raw;
    return in;
  }
};

std::shared_ptr<const SpamRuleSet> Load(const std::string& yaml) {
  auto r = SpamRuleSet::Parse(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return nullptr;
  return *r;
}

// The error text of a file that must not load.
std::string Errors(const std::string& yaml) {
  auto r = SpamRuleSet::Parse(yaml, "t.yaml");
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  return r.status().message();
}

std::vector<Signal> MatchAll(const SpamRuleSet& rules, const TestMessage& m) {
  std::vector<Signal> out;
  rules.Match(m.Input(), &out);
  return out;
}

std::vector<std::string> Names(const SpamRuleSet& rules, const TestMessage& m) {
  std::vector<std::string> names;
  for (const Signal& s : MatchAll(rules, m)) names.push_back(s.name);
  return names;
}

TestMessage Body(std::string text) {
  TestMessage m;
  m.body = std::move(text);
  return m;
}

TestMessage Subject(std::string value) {
  TestMessage m;
  m.headers = {{"From", "a@example.com"}, {"Subject", std::move(value)}};
  return m;
}

using Strings = std::vector<std::string>;

TEST(SpamRulesTest, HeaderRuleMatchesItsFieldCaseInsensitively) {
  auto rules = Load(R"(
rules:
  - name: SUBJ_FREE_MONEY
    header: subject
    pattern: '\bfree money\b'
    score: 2.5
    description: Subject promises free money
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->rule_count(), 1u);
  auto signals = MatchAll(*rules, Subject("Get FREE Money today"));
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].name, "SUBJ_FREE_MONEY");
  EXPECT_DOUBLE_EQ(signals[0].score, 2.5);
  EXPECT_EQ(signals[0].detail, "header subject");
  EXPECT_TRUE(Names(*rules, Subject("freedom money")).empty());
  // Another field with the text does not count.
  TestMessage m;
  m.headers = {{"X-Note", "free money"}, {"SUBJECT", "nothing"}};
  EXPECT_TRUE(Names(*rules, m).empty());
  m.headers.push_back({"SuBjEcT", "free money"});
  EXPECT_EQ(Names(*rules, m), Strings{"SUBJ_FREE_MONEY"});
}

TEST(SpamRulesTest, HeaderRuleCountsOnceOverRepeatedFields) {
  auto rules = Load(R"(
rules:
  - name: RCVD_DYNAMIC
    header: Received
    pattern: 'dynamic'
    score: 1
)");
  ASSERT_TRUE(rules);
  TestMessage m;
  m.headers = {{"Received", "from a"}, {"Received", "from dynamic-1"}, {"Received", "dynamic-2"}};
  auto signals = MatchAll(*rules, m);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].detail, "header Received");
}

TEST(SpamRulesTest, HeaderAllMatchesEveryFieldAsNameAndValue) {
  auto rules = Load(R"(
rules:
  - name: BULK_MAILER
    header: ALL
    pattern: '^x-mailer: .*bulk'
    score: 1
  - name: ANY_FIELD_VIAGRA
    header: all
    pattern: 'viagra'
    score: 2
)");
  ASSERT_TRUE(rules);
  TestMessage m;
  m.headers = {{"From", "x@example.com"}, {"X-Mailer", "SuperBulk 2.0"}};
  auto signals = MatchAll(*rules, m);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].name, "BULK_MAILER");
  EXPECT_EQ(signals[0].detail, "header X-Mailer");
  // '^' is the start of each field, not of the header block.
  m.headers = {{"Subject", "X-Mailer: bulk"}};
  EXPECT_TRUE(Names(*rules, m).empty());
  m.headers = {{"Subject", "hi"}, {"Comments", "VIAGRA"}};
  signals = MatchAll(*rules, m);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].detail, "header Comments");
}

TEST(SpamRulesTest, BodyRuleMatchesOncePerMessage) {
  auto rules = Load(R"(
rules:
  - name: CLICK_HERE
    body: '\bclick here\b'
    score: 0.5
)");
  ASSERT_TRUE(rules);
  auto signals = MatchAll(*rules, Body("Click here. CLICK HERE. click here."));
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].detail, "body");
  EXPECT_TRUE(Names(*rules, Body("clicking here")).empty());
  EXPECT_TRUE(Names(*rules, Subject("click here")).empty());
}

TEST(SpamRulesTest, DiacriticsInsensitiveBothWays) {
  auto rules = Load(R"(
rules:
  - name: VI_TRUNG_THUONG
    body: 'trúng thưởng'
    score: 3
  - name: VI_KHUYEN_MAI
    body: 'khuyen mai'
    score: 1
)");
  ASSERT_TRUE(rules);
  for (const char* text : {"TRÚNG THƯỞNG", "trung thuong", "Trúng Thưởng", "TRUNG THUONG",
                           "Bạn đã trúng thưởng 100 triệu"}) {
    EXPECT_EQ(Names(*rules, Body(text)), Strings{"VI_TRUNG_THUONG"}) << text;
  }
  EXPECT_EQ(Names(*rules, Body("Chương trình KHUYẾN MÃI lớn")), Strings{"VI_KHUYEN_MAI"});
  EXPECT_EQ(Names(*rules, Body("khuyen mai")), Strings{"VI_KHUYEN_MAI"});
  EXPECT_TRUE(Names(*rules, Body("trung tâm thương mại")).empty());
}

TEST(SpamRulesTest, BodyFoldedByTheCallerIsReadAsGiven) {
  auto rules = Load(R"(
rules:
  - name: VI_TRUNG_THUONG
    body: 'trúng thưởng'
    score: 3
)");
  ASSERT_TRUE(rules);
  // Given a folded body, Match reads that and does not fold body_text again: here the two
  // disagree on purpose, and the folded one decides.
  TestMessage m = Body("nothing to see");
  RuleMatchInput in = m.Input();
  const std::string folded = FoldCase("TRÚNG THƯỞNG lớn");
  in.body_folded = folded;
  std::vector<Signal> out;
  rules->Match(in, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "VI_TRUNG_THUONG");
  // Without it, body_text is folded here, as before.
  out.clear();
  rules->Match(Body("TRÚNG THƯỞNG lớn").Input(), &out);
  ASSERT_EQ(out.size(), 1u);
}

TEST(SpamRulesTest, DiacriticsSensitiveByRuleOrFile) {
  auto rules = Load(R"(
rules:
  - name: LO_DE
    body: 'lô đề'
    diacritics: sensitive
    score: 1
  - name: NHA_CAI
    body: 'nhà cái'
    diacritics: insensitive
    score: 1
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Names(*rules, Body("LÔ ĐỀ online")), Strings{"LO_DE"});
  EXPECT_TRUE(Names(*rules, Body("lo de")).empty());
  EXPECT_EQ(Names(*rules, Body("nha cai")), Strings{"NHA_CAI"});

  auto strict = Load(R"(
diacritics_insensitive: false
rules:
  - name: TRUNG_THUONG
    body: 'trúng thưởng'
    score: 1
  - name: SUBJ_TRUNG_THUONG
    header: Subject
    pattern: 'trúng thưởng'
    diacritics: insensitive
    score: 1
)");
  ASSERT_TRUE(strict);
  EXPECT_TRUE(Names(*strict, Body("trung thuong")).empty());
  EXPECT_EQ(Names(*strict, Body("TRÚNG THƯỞNG")), Strings{"TRUNG_THUONG"});
  EXPECT_EQ(Names(*strict, Subject("Trung thuong")), Strings{"SUBJ_TRUNG_THUONG"});
  EXPECT_FALSE(strict->rules()[0].diacritics_insensitive);
  EXPECT_TRUE(strict->rules()[1].diacritics_insensitive);
}

TEST(SpamRulesTest, DiacriticsInsensitiveHeaderRules) {
  auto rules = Load(R"(
rules:
  - name: SUBJ_GIAM_GIA
    header: Subject
    pattern: 'giảm giá \d+%'
    score: 1
  - name: ALL_UU_DAI
    header: ALL
    pattern: '^subject: .*ưu đãi'
    score: 1
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Names(*rules, Subject("GIAM GIA 50% hom nay")), Strings{"SUBJ_GIAM_GIA"});
  EXPECT_EQ(Names(*rules, Subject("Giảm giá 50%, ƯU ĐÃI")),
            (Strings{"SUBJ_GIAM_GIA", "ALL_UU_DAI"}));
  EXPECT_EQ(Names(*rules, Subject("uu dai")), Strings{"ALL_UU_DAI"});
}

TEST(SpamRulesTest, EscapesSurviveStripping) {
  auto rules = Load(R"(
rules:
  - name: VI_PHRASE
    body: '\btrúng\s+thưởng\s+\d+\s*triệu'
    score: 1
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Names(*rules, Body("Ban da TRUNG   thuong 50 trieu")), Strings{"VI_PHRASE"});
  EXPECT_EQ(Names(*rules, Body("Bạn đã trúng thưởng 50 triệu")), Strings{"VI_PHRASE"});
  EXPECT_TRUE(Names(*rules, Body("trúng thưởng năm triệu")).empty());
  EXPECT_TRUE(Names(*rules, Body("xtrung thuong 5 trieu")).empty());
}

TEST(SpamRulesTest, PatternsAreFoldedLikeText) {
  auto rules = Load(R"(
rules:
  - name: STRASSE
    body: 'STRAẞE\b'
    score: 1
  - name: SHARP_S_REPEATED
    body: 'xß{2}y'
    score: 1
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Names(*rules, Body("Hauptstraße 1")), Strings{"STRASSE"});
  EXPECT_EQ(Names(*rules, Body("HAUPTSTRASSE 1")), Strings{"STRASSE"});
  // The quantifier covers the whole folding of ß ("ss").
  EXPECT_EQ(Names(*rules, Body("xßßy")), Strings{"SHARP_S_REPEATED"});
  EXPECT_TRUE(Names(*rules, Body("xsssy")).empty());
}

TEST(SpamRulesTest, UriRuleNamesTheHostOfTheFirstMatchingLink) {
  auto rules = Load(R"(
rules:
  - name: URI_NUMERIC_HOST
    uri: '^https?://\d+\.\d+\.\d+\.\d+'
    score: 1.5
)");
  ASSERT_TRUE(rules);
  TestMessage m;
  m.links = {{"https://example.com/a", "example.com", "", false},
             {"HTTP://192.0.2.7/login", "192.0.2.7", "", true},
             {"http://198.51.100.1/", "198.51.100.1", "", false}};
  auto signals = MatchAll(*rules, m);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].detail, "uri 192.0.2.7");
  m.links.erase(m.links.begin() + 1, m.links.end());
  EXPECT_TRUE(Names(*rules, m).empty());
  // URLs are not the body.
  EXPECT_TRUE(Names(*rules, Body("http://192.0.2.7/")).empty());
}

TEST(SpamRulesTest, RawRuleIsCaseSensitiveAndUnfolded) {
  auto rules = Load(R"(
rules:
  - name: RAW_BASE64_EXE
    raw: 'TVqQAAMAAAAEAAAA'
    score: 2
  - name: RAW_FORM
    raw: '(?i)<form\b'
    score: 1
)");
  ASSERT_TRUE(rules);
  TestMessage m;
  m.raw = "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAA\n";
  auto signals = MatchAll(*rules, m);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].name, "RAW_BASE64_EXE");
  EXPECT_EQ(signals[0].detail, "raw");
  m.raw = "tvqqaamaaaaeaaaa <FORM action=x>";
  EXPECT_EQ(Names(*rules, m), Strings{"RAW_FORM"});
  // The decoded body is not the raw message.
  EXPECT_TRUE(Names(*rules, Body("TVqQAAMAAAAEAAAA")).empty());
}

TEST(SpamRulesTest, MetaRulesCombineOthers) {
  auto rules = Load(R"(
rules:
  - name: A
    body: 'alpha'
    score: 1
  - name: B
    body: 'beta'
    score: 1
  - name: C
    body: 'gamma'
    score: 1
  - name: D
    body: 'delta'
    score: 1
  - name: M_AND
    meta: 'A && B'
    score: 0.5
  - name: M_OR_NOT
    meta: 'A || !B'
    score: 0.5
  - name: M_NESTED
    meta: '(A && (B || C)) && !(D || !C)'
    score: 0.5
  - name: M_OF_META
    meta: 'M_LATER && !M_AND'
    score: 0.5
  - name: M_LATER
    meta: 'C||D'
    score: 0.5
  - name: M_PRECEDENCE
    meta: 'A || B && C'
    score: 0.5
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Names(*rules, Body("alpha beta")),
            (Strings{"A", "B", "M_AND", "M_OR_NOT", "M_PRECEDENCE"}));
  EXPECT_EQ(Names(*rules, Body("nothing")), Strings{"M_OR_NOT"});
  EXPECT_EQ(Names(*rules, Body("alpha gamma")),
            (Strings{"A", "C", "M_OR_NOT", "M_NESTED", "M_OF_META", "M_LATER", "M_PRECEDENCE"}));
  EXPECT_EQ(Names(*rules, Body("alpha gamma delta")),
            (Strings{"A", "C", "D", "M_OR_NOT", "M_OF_META", "M_LATER", "M_PRECEDENCE"}));
  EXPECT_EQ(Names(*rules, Body("beta gamma")),
            (Strings{"B", "C", "M_OF_META", "M_LATER", "M_PRECEDENCE"}));
  auto signals = MatchAll(*rules, Body("alpha beta"));
  EXPECT_EQ(signals[2].detail, "meta");
}

TEST(SpamRulesTest, ZeroScoreRulesFeedMetasSilently) {
  auto rules = Load(R"(
rules:
  - name: HAS_LIST_UNSUBSCRIBE
    header: List-Unsubscribe
    pattern: '.'
    score: 0
  - name: AD
    body: 'sale'
    score: 0
  - name: AD_WITHOUT_LIST
    meta: 'AD && !HAS_LIST_UNSUBSCRIBE'
    score: 1
  - name: HAM_HINT
    body: 'minutes of the meeting'
    score: -1.5
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Names(*rules, Body("big sale")), Strings{"AD_WITHOUT_LIST"});
  TestMessage m = Body("big sale");
  m.headers = {{"List-Unsubscribe", "<mailto:u@example.com>"}};
  EXPECT_TRUE(Names(*rules, m).empty());
  auto signals = MatchAll(*rules, Body("the minutes of the meeting"));
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_DOUBLE_EQ(signals[0].score, -1.5);
}

TEST(SpamRulesTest, DnsblZonesAndHeuristicsAreParsed) {
  auto rules = Load(R"(
rules: []
dnsbl:
  - name: DNSBL_ZEN
    zone: Zen.Spamhaus.ORG.
    target: client
    score: 2.0
    answers:
      - {answer: 127.0.0.2, score: 3.0, name: DNSBL_ZEN_SBL}
      - {answer: 127.0.0.10-127.0.0.11, score: 1.0}
  - name: URIBL_TEST
    zone: uribl.test
    target: uri
    score: 1.5
heuristics:
  HTML_ONLY: 0.5
  SUBJ_ALL_CAPS: 0
)");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->rule_count(), 0u);
  const auto& zones = rules->dnsbl_zones();
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].name, "DNSBL_ZEN");
  EXPECT_EQ(zones[0].zone, "zen.spamhaus.org");
  EXPECT_EQ(zones[0].target, DnsblZone::Target::kClient);
  EXPECT_DOUBLE_EQ(zones[0].score, 2.0);
  ASSERT_EQ(zones[0].answers.size(), 2u);
  EXPECT_EQ(zones[0].answers[0].first, 0x7F000002u);
  EXPECT_EQ(zones[0].answers[0].last, 0x7F000002u);
  EXPECT_EQ(zones[0].answers[0].name, "DNSBL_ZEN_SBL");
  EXPECT_DOUBLE_EQ(zones[0].answers[0].score, 3.0);
  EXPECT_EQ(zones[0].answers[1].first, 0x7F00000Au);
  EXPECT_EQ(zones[0].answers[1].last, 0x7F00000Bu);
  EXPECT_EQ(zones[0].answers[1].name, "");
  EXPECT_EQ(zones[1].target, DnsblZone::Target::kUri);
  EXPECT_TRUE(zones[1].answers.empty());
  const auto& h = rules->heuristic_scores();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_DOUBLE_EQ(h.at("HTML_ONLY"), 0.5);
  EXPECT_DOUBLE_EQ(h.at("SUBJ_ALL_CAPS"), 0);
}

TEST(SpamRulesTest, EmptyRuleFileMatchesNothing) {
  auto rules = Load("rules: []\n");
  ASSERT_TRUE(rules);
  std::vector<Signal> out;
  rules->Match(Body("viagra").Input(), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(Load("dnsbl: []\n"));
}

// ---------------------------------------------------------------------------------------
// Errors: every problem, with file:line:column.

TEST(SpamRulesErrorTest, YamlSyntax) {
  EXPECT_EQ(Errors("rules:\n  - name: A\n   body: x\n"),
            "t.yaml:3:4: YAML syntax error: end of sequence not found");
  EXPECT_EQ(Errors("rules: [\n"), "t.yaml:2:1: YAML syntax error: end of sequence flow not found");
}

TEST(SpamRulesErrorTest, NotAMapping) {
  EXPECT_EQ(Errors(""),
            "t.yaml:1:1: a spam rule file is a mapping with 'rules: [...]' (and optionally "
            "diacritics_insensitive, dnsbl, heuristics)");
  EXPECT_EQ(Errors("rules: 3\n"), "t.yaml:1:8: rules: expected a list of rules");
}

TEST(SpamRulesErrorTest, UnknownKeys) {
  EXPECT_EQ(Errors("rulez: []\n"),
            "t.yaml:1:1: unknown key 'rulez' (known keys: version, diacritics_insensitive, "
            "rules, dnsbl, heuristics)");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    scroe: 1\n    score: 1\n"),
            "t.yaml:4:5: A: unknown key 'scroe' in rule (known keys: name, header, pattern, "
            "body, uri, raw, meta, score, description, diacritics)");
}

TEST(SpamRulesErrorTest, MissingScorePatternTargetName) {
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n"), "t.yaml:2:5: A: rule without 'score'");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    header: Subject\n    score: 1\n"),
            "t.yaml:2:5: A: header rule without 'pattern'");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    score: 1\n"),
            "t.yaml:2:5: A: rule without a target: one of header, body, uri, raw, meta");
  EXPECT_EQ(Errors("rules:\n  - body: x\n    score: 1\n"), "t.yaml:2:5: rule without 'name'");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body:\n    score: 1\n"),
            "t.yaml:3:5: A: body: expected a pattern (a string)");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: ''\n    score: 1\n"),
            "t.yaml:3:11: A: body: empty pattern");
}

TEST(SpamRulesErrorTest, TwoTargetsAndMisplacedKeys) {
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    uri: y\n    score: 1\n"),
            "t.yaml:4:5: A: two targets in one rule ('body' and 'uri'); a rule has one of "
            "header, body, uri, raw, meta");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    pattern: y\n    score: 1\n"),
            "t.yaml:4:5: A: 'pattern' belongs to header rules; a body rule gives its pattern "
            "as the value of 'body'");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    uri: x\n    diacritics: sensitive\n    score: 1\n"),
            "t.yaml:4:5: A: diacritics: only header and body rules have it");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    diacritics: false\n    score: 1\n"),
            "t.yaml:4:17: A: diacritics: expected 'insensitive' or 'sensitive'");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    body: y\n    score: 1\n"),
            "t.yaml:4:5: A: duplicate key 'body' in rule");
}

TEST(SpamRulesErrorTest, NamesAndScores) {
  EXPECT_EQ(Errors("rules:\n  - name: bad-name\n    body: x\n    score: 1\n"),
            "t.yaml:2:11: name: 'bad-name' is not a rule name (A-Z first, then A-Z, 0-9, _; at "
            "most 64)");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    score: 1\n"
                   "  - name: A\n    body: y\n    score: 1\n"),
            "t.yaml:5:11: duplicate name 'A' (first defined at t.yaml:2:11)");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    score: lots\n"),
            "t.yaml:4:12: A: score: expected a number");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: x\n    score: -1000.5\n"),
            "t.yaml:4:12: A: score: at most 1000 either way");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    header: 'Sub ject'\n    pattern: x\n    score: 1\n"),
            "t.yaml:3:13: A: header: expected a header field name or ALL");
}

TEST(SpamRulesErrorTest, BadRegexCarriesRe2Message) {
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: 'free (money'\n    score: 1\n"),
            "t.yaml:3:11: A: body: bad pattern: missing ): free (money");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    header: Subject\n    pattern: 'a**'\n    score: 1\n"),
            "t.yaml:4:14: A: pattern: bad pattern: bad repetition operator: **");
  EXPECT_EQ(Errors("rules:\n  - name: A\n    raw: 'a\\1'\n    score: 1\n"),
            "t.yaml:3:10: A: raw: bad pattern: invalid escape sequence: \\1");
}

TEST(SpamRulesErrorTest, MetaExpressions) {
  const std::string base = "rules:\n  - name: A\n    body: a\n    score: 1\n";
  // Columns point at the offending token: the scalar starts at column 11, its text at 12.
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: 'A && NOPE || OTHER'\n    score: 1\n"),
            "t.yaml:6:17: M: meta: unknown rule 'NOPE'\n"
            "t.yaml:6:25: M: meta: unknown rule 'OTHER'");
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: 'A & A'\n    score: 1\n"),
            "t.yaml:6:14: M: meta: unexpected character '&' (a meta expression holds rule "
            "names, &&, ||, ! and parentheses)");
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: A &&\n    score: 1\n"),
            "t.yaml:6:15: M: meta: expression ends early: expected a rule name, '!' or '('");
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: '(A || A'\n    score: 1\n"),
            "t.yaml:6:12: M: meta: '(' is never closed");
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: 'A A'\n    score: 1\n"),
            "t.yaml:6:14: M: meta: expected '&&', '||' or the end before 'A'");
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: 'A)'\n    score: 1\n"),
            "t.yaml:6:13: M: meta: unbalanced ')'");
  EXPECT_EQ(Errors(base + "  - name: M\n    meta: '&& A'\n    score: 1\n"),
            "t.yaml:6:12: M: meta: expected a rule name, '!' or '(' before '&&'");
  EXPECT_NE(Errors(base + "  - name: M\n    meta: '" + std::string(100, '!') + "A'\n    score: 1\n")
                .find("M: meta: expression nested deeper than 64"),
            std::string::npos);
}

TEST(SpamRulesErrorTest, MetaCycles) {
  EXPECT_EQ(Errors("rules:\n"
                   "  - name: M1\n    meta: 'M2'\n    score: 1\n"
                   "  - name: M2\n    meta: M3 || M1\n    score: 1\n"
                   "  - name: M3\n    meta: '!M3'\n    score: 1\n"),
            "t.yaml:3:11: M1: meta rules name each other in a cycle: M1 -> M2 -> M1\n"
            "t.yaml:9:11: M3: meta rules name each other in a cycle: M3 -> M3");
}

TEST(SpamRulesErrorTest, DnsblEntries) {
  EXPECT_EQ(Errors("dnsbl:\n  - name: Z\n    zone: 'bad zone'\n    target: helo\n    score: 1\n"),
            "t.yaml:3:11: Z: zone: expected a DNS zone such as zen.spamhaus.org\n"
            "t.yaml:4:13: Z: target: expected client or uri");
  EXPECT_EQ(Errors("dnsbl:\n  - name: Z\n    zone: bl.test\n    answers:\n"
                   "      - {answer: 127.0.0.9-127.0.0.3, score: 1}\n"
                   "      - {answer: 127.0.0.300, score: 1}\n"
                   "      - {answer: 127.0.0.2}\n"),
            "t.yaml:5:18: Z: answer: the range ends before it starts\n"
            "t.yaml:6:18: Z: answer: expected an IPv4 address (127.0.0.2) or a range "
            "(127.0.0.10-127.0.0.11)\n"
            "t.yaml:7:9: Z: answer without 'score'");
  EXPECT_EQ(Errors("dnsbl:\n  - zone: bl.test\n    score: 1\n    weight: 2\n"),
            "t.yaml:2:5: dnsbl entry without 'name'\n"
            "t.yaml:4:5: unknown key 'weight' in dnsbl entry (known keys: name, zone, target, "
            "score, answers, description)");
  EXPECT_EQ(Errors("dnsbl:\n  - name: Z\n    zone: bl.test\n"),
            "t.yaml:2:5: Z: dnsbl entry without 'score' (or 'answers')");
  EXPECT_EQ(Errors("rules:\n  - name: Z\n    body: x\n    score: 1\n"
                   "dnsbl:\n  - name: Z\n    zone: bl.test\n    score: 1\n"),
            "t.yaml:6:11: duplicate name 'Z' (first defined at t.yaml:2:11)");
}

TEST(SpamRulesErrorTest, Heuristics) {
  EXPECT_EQ(Errors("heuristics:\n  html_only: 1\n  HTML_ONLY: many\n"),
            "t.yaml:2:3: heuristics: 'html_only' is not a signal name (A-Z, 0-9, _)\n"
            "t.yaml:3:14: heuristics: HTML_ONLY: expected a number, at most 1000 either way");
}

TEST(SpamRulesErrorTest, EveryProblemIsReportedInFileOrder) {
  const std::string message = Errors(R"(diacritics_insensitive: maybe
rules:
  - name: META
    meta: 'MISSING'
    score: 1
  - name: GOOD
    body: 'ok'
    score: 1
  - name: BAD_RE
    body: '(['
    score: x
)");
  EXPECT_EQ(message,
            "t.yaml:1:25: diacritics_insensitive: expected true or false\n"
            "t.yaml:4:12: META: meta: unknown rule 'MISSING'\n"
            "t.yaml:10:11: BAD_RE: body: bad pattern: missing ]: [\n"
            "t.yaml:11:12: BAD_RE: score: expected a number");
}

TEST(SpamRulesErrorTest, Limits) {
  std::string long_pattern(SpamRuleSet::kMaxPatternBytes + 1, 'a');
  EXPECT_EQ(Errors("rules:\n  - name: A\n    body: " + long_pattern + "\n    score: 1\n"),
            "t.yaml:3:11: A: body: longer than 4096 bytes");

  std::string many = "rules:\n";
  for (size_t i = 0; i <= SpamRuleSet::kMaxRules; ++i) {
    many += "  - {name: R" + std::to_string(i) + ", body: x, score: 1}\n";
  }
  EXPECT_EQ(Errors(many), "t.yaml:2:3: rules: more than 10000 rules");

  std::string huge(SpamRuleSet::kMaxFileBytes + 1, '#');
  EXPECT_EQ(Errors(huge), "t.yaml:0:0: larger than 4 MiB, the limit for a spam rule file");
}

TEST(SpamRulesErrorTest, MissingFile) {
  auto r = SpamRuleSet::LoadFile("/nonexistent/spam-rules.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "/nonexistent/spam-rules.yaml:0:0: cannot read: no such file");
}

TEST(SpamRulesTest, TenThousandRulesLoad) {
  std::string many = "rules:\n";
  for (size_t i = 0; i < SpamRuleSet::kMaxRules; ++i) {
    many += "  - {name: R" + std::to_string(i) + ", body: 'word" + std::to_string(i) +
            "\\b', score: 1}\n";
  }
  auto rules = Load(many);
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->rule_count(), SpamRuleSet::kMaxRules);
  EXPECT_EQ(Names(*rules, Body("a word9999 and word12")), (Strings{"R12", "R9999"}));
}

TEST(SpamRulesTest, TextThatExhaustsTheSetDfaIsStillMatched) {
  // 'a' then 25 of [ab] then 'c': the DFA needs a state per pattern of the last 26 letters,
  // far more than its memory budget holds on varied text, so its cache fills and is reset
  // again and again. The answer must stay right (and the time linear).
  auto rules = Load(R"(
rules:
  - name: HOSTILE
    body: 'a[ab]{25}c'
    score: 1
  - name: PLAIN
    body: 'zz'
    score: 1
)");
  ASSERT_TRUE(rules);
  std::string text;
  uint32_t x = 12345;
  while (text.size() < 50000) {
    x = x * 1103515245 + 12345;
    text += (x >> 16) & 1 ? 'a' : 'b';
  }
  EXPECT_TRUE(Names(*rules, Body(text)).empty());
  text += "a" + std::string(25, 'b') + "c zz";
  EXPECT_EQ(Names(*rules, Body(text)), (Strings{"HOSTILE", "PLAIN"}));
}

// ---------------------------------------------------------------------------------------
// The shipped rule file

std::shared_ptr<const SpamRuleSet> Shipped() {
  auto r = SpamRuleSet::LoadFile(MW_SOURCE_DIR "/rules/spam-rules.yaml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : nullptr;
}

double Score(const std::vector<Signal>& signals) {
  double sum = 0;
  for (const Signal& s : signals) sum += s.score;
  return sum;
}

TEST(ShippedSpamRulesTest, Loads) {
  auto rules = Shipped();
  ASSERT_TRUE(rules);
  EXPECT_GE(rules->rule_count(), 40u);
  EXPECT_LE(rules->rule_count(), 80u);
  for (const SpamRuleInfo& r : rules->rules()) {
    EXPECT_LE(r.score, 2.5) << r.name;
    EXPECT_GE(r.score, 0) << r.name;
  }
}

TEST(ShippedSpamRulesTest, OrdinaryLettersScoreLow) {
  auto rules = Shipped();
  ASSERT_TRUE(rules);
  TestMessage m;
  m.headers = {{"From", "Phòng Hành chính <hanhchinh@bacgiang.gov.vn>"},
               {"To", "Các phòng ban <all@bacgiang.gov.vn>"},
               {"Subject", "Lịch họp giao ban tuần 45 và kế hoạch giải ngân vốn đầu tư công"}};
  m.body =
      "Kính gửi các đồng chí,\n"
      "Văn phòng thông báo lịch họp giao ban vào 8h00 thứ Hai tại phòng họp số 2. Nội dung: "
      "tiến độ giải ngân vốn đầu tư công, chương trình vay vốn tín chấp của Ngân hàng Chính "
      "sách xã hội, và quản lý hoạt động khuyến mại trên địa bàn theo Luật Thương mại.\n"
      "Tài liệu xem tại https://bacgiang.gov.vn/tai-lieu/giao-ban.pdf\n"
      "Trân trọng.\n";
  m.links = {{"https://bacgiang.gov.vn/tai-lieu/giao-ban.pdf", "bacgiang.gov.vn", "", false}};
  m.raw = "Subject: =?UTF-8?B?TOG7i2NoIGjhu41w?=\n\n" + m.body;
  EXPECT_LT(Score(MatchAll(*rules, m)), 1.0);

  TestMessage en;
  en.headers = {{"Subject", "Re: minutes of Tuesday's meeting"}};
  en.body =
      "Hi all,\nAttached are the minutes. Please click here to open the shared folder if the "
      "attachment does not open: https://docs.example.org/minutes\nBest,\nAnna\n";
  en.links = {{"https://docs.example.org/minutes", "docs.example.org", "", false}};
  EXPECT_LT(Score(MatchAll(*rules, en)), 1.0);
}

TEST(ShippedSpamRulesTest, AdvertisingAndFraudScore) {
  auto rules = Shipped();
  ASSERT_TRUE(rules);
  TestMessage vi;
  vi.headers = {{"Subject", "[QC] Siêu ưu đãi - GIẢM GIÁ 50% hôm nay!!"}};
  vi.body =
      "Chuong trinh khuyen mai lon: giam gia 50% tat ca san pham, qua tang hap dan. "
      "So luong co han, dat hang ngay! Lien he Zalo: 0912 345 678. "
      "Bam vao day de dang ky ngay.\n";
  auto signals = MatchAll(*rules, vi);
  EXPECT_GE(Score(signals), 5.0);

  TestMessage prize;
  prize.body =
      "Chúc mừng! Quý khách đã trúng thưởng một xe máy SH. Nộp phí nhận thưởng "
      "500.000đ và bấm vào đây để nhận giải thưởng.";
  prize.links = {{"http://203.0.113.9/nhan-thuong", "203.0.113.9", "", true}};
  EXPECT_GE(Score(MatchAll(*rules, prize)), 5.0);

  TestMessage scam;
  scam.body =
      "Dear Friend,\nI am Barrister John, attorney to the late Mr. Smith. I need your urgent "
      "assistance to transfer US$10.5 million to your account as next of kin. Reply "
      "urgently.\n";
  EXPECT_GE(Score(MatchAll(*rules, scam)), 5.0);
}

// ---------------------------------------------------------------------------------------
// Thread safety

TEST(SpamRulesTest, MatchFromFourThreads) {
  auto rules = Shipped();
  ASSERT_TRUE(rules);
  TestMessage m;
  m.headers = {{"Subject", "Trúng thưởng!!"}, {"X-Mailer", "BulkMail Pro"}};
  m.body = "Bạn đã trúng thưởng. Click here: vay tiền nhanh, giảm giá 30%.\n";
  m.links = {{"http://192.0.2.1/x", "192.0.2.1", "", false}};
  m.raw = "X-Mailer: BulkMail Pro\n\nTVqQAAMAAAAEAAAA\n";
  const std::vector<std::string> expected = Names(*rules, m);
  ASSERT_FALSE(expected.empty());
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (Names(*rules, m) != expected) ++mismatches[t];
        TestMessage other = Body(i % 2 ? "nothing" : "trung thuong");
        Names(*rules, other);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << t;
}

}  // namespace
}  // namespace mailwarden::spam

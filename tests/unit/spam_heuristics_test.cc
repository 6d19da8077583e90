#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include "milter/eml_reader.h"
#include "milter/spam/heuristics.h"
#include "milter/spam/message_view.h"

namespace mailwarden::spam {
namespace {

// 2025-07-01 10:00:00 UTC.
constexpr int64_t kNow = 1751364000;

HeuristicOptions Options() {
  HeuristicOptions o;
  o.internal_domains = {"bacgiang.gov.vn"};
  o.state_domains = {"gov.vn"};
  o.public_providers = {"gmail.com", "yahoo.*"};
  o.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };
  return o;
}

std::unique_ptr<Heuristics> Make(HeuristicOptions o = Options()) {
  auto h = Heuristics::Create(std::move(o));
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? std::move(*h) : nullptr;
}

// An ordinary message's view: every signal quiet.
MessageView Ordinary() {
  MessageView v;
  v.headers = {{"From", "Nguyễn Văn An <an@example.com>"},
               {"Date", "Tue, 1 Jul 2025 16:30:00 +0700"},
               {"Message-ID", "<20250701093000.1234@mail.example.com>"},
               {"Subject", "Lịch họp tuần sau"}};
  v.subject = "Lịch họp tuần sau";
  v.from_address = "an@example.com";
  v.from_display = "Nguyễn Văn An";
  v.body_text = "Chào anh, lịch họp gửi kèm. Xem https://example.com/lich\n";
  v.links = {{"https://example.com/lich", "example.com", "", false}};
  v.has_text_part = true;
  return v;
}

std::set<std::string> Names(const Heuristics& h, const MessageView& v) {
  std::vector<Signal> out;
  h.Evaluate(v, &out);
  std::set<std::string> names;
  for (const Signal& s : out) names.insert(s.name);
  return names;
}

const Signal* Find(const std::vector<Signal>& out, std::string_view name) {
  auto it = std::find_if(out.begin(), out.end(), [&](const Signal& s) { return s.name == name; });
  return it == out.end() ? nullptr : &*it;
}

bool Fires(const Heuristics& h, const MessageView& v, const std::string& name) {
  return Names(h, v).count(name) > 0;
}

void SetHeader(MessageView* v, const std::string& name, const std::string& value) {
  for (ViewHeader& h : v->headers) {
    if (h.name == name) {
      h.value = value;
      return;
    }
  }
  v->headers.push_back({name, value});
}

void RemoveHeader(MessageView* v, const std::string& name) {
  std::erase_if(v->headers, [&](const ViewHeader& h) { return h.name == name; });
}

TEST(SpamHeuristics, OrdinaryMessageIsQuiet) {
  auto h = Make();
  EXPECT_EQ(Names(*h, Ordinary()), std::set<std::string>());
}

TEST(SpamHeuristics, AllHaveModestDefaults) {
  std::set<std::string> names;
  for (const HeuristicInfo& info : Heuristics::All()) {
    EXPECT_GE(info.score, 0.3) << info.name;
    EXPECT_LE(info.score, 2.0) << info.name;
    EXPECT_FALSE(info.doc.empty());
    names.insert(std::string(info.name));
  }
  for (const char* n : {"DATE_MISSING", "DATE_MALFORMED", "MSGID_MISSING", "MSGID_MALFORMED",
                        "FROM_ORG_SPOOF", "REPLYTO_PUBLIC_PROVIDER", "LINK_TEXT_MISMATCH",
                        "URL_SHORTENER", "HTML_ONLY", "SUBJ_ALL_CAPS", "INVISIBLE_TEXT"}) {
    EXPECT_EQ(names.count(n), 1u) << n;
  }
}

TEST(SpamHeuristics, Date) {
  auto h = Make();
  MessageView v = Ordinary();
  RemoveHeader(&v, "Date");
  EXPECT_TRUE(Fires(*h, v, "DATE_MISSING"));
  SetHeader(&v, "Date", "yesterday at noon");
  EXPECT_TRUE(Fires(*h, v, "DATE_MALFORMED"));
  EXPECT_FALSE(Fires(*h, v, "DATE_MISSING"));
  SetHeader(&v, "Date", "Sat, 1 Jul 2028 10:00:00 +0000");
  EXPECT_TRUE(Fires(*h, v, "DATE_FAR_FUTURE"));
  SetHeader(&v, "Date", "Tue, 1 Jul 2025 20:00:00 +0000");  // hours ahead: a skewed clock
  EXPECT_EQ(Names(*h, v), std::set<std::string>());
}

TEST(SpamHeuristics, ParseMailDate) {
  EXPECT_EQ(ParseMailDate("Tue, 1 Jul 2025 17:00:00 +0700"), kNow);
  EXPECT_EQ(ParseMailDate("1 Jul 2025 10:00 GMT"), kNow);
  EXPECT_EQ(ParseMailDate("  tue,  01 JUL 2025 06:00:00 EDT (Eastern)  "), kNow);
  EXPECT_EQ(ParseMailDate("Tue, 1 Jul 25 10:00:00 -0000"), kNow);
  EXPECT_EQ(ParseMailDate("Thu, 1 Jan 1970 00:00:00 +0000"), 0);
  EXPECT_EQ(ParseMailDate("Thu, 29 Feb 2024 00:00:00 +0000").has_value(), true);
  EXPECT_FALSE(ParseMailDate("Fri, 29 Feb 2025 00:00:00 +0000"));  // no such day
  EXPECT_FALSE(ParseMailDate("Tue, 1 Jul 2025 10:00:00"));         // no zone
  EXPECT_FALSE(ParseMailDate("Tue, 1 Jul 2025 24:00:00 +0000"));
  EXPECT_FALSE(ParseMailDate("Tue, 1 Jul 2025 10:00:00 +07"));
  EXPECT_FALSE(ParseMailDate("2025-07-01T10:00:00Z"));
  EXPECT_FALSE(ParseMailDate("Tue 1 Jul 2025 10:00:00 +0000"));  // day name without comma
  EXPECT_FALSE(ParseMailDate("Tue, 1 Jul 2025 10:00:00 +0000 garbage"));
  EXPECT_FALSE(ParseMailDate("Tue, 1 Jul 2025 10:00:00 +0000 (never closed"));
  EXPECT_FALSE(ParseMailDate(""));
}

TEST(SpamHeuristics, MessageId) {
  auto h = Make();
  MessageView v = Ordinary();
  RemoveHeader(&v, "Message-ID");
  EXPECT_TRUE(Fires(*h, v, "MSGID_MISSING"));
  for (const char* bad : {"", "no-brackets@example.com", "<no-at-sign>", "<a b@example.com>",
                          "<@example.com>", "<a@>", "<one@example.com> <two@example.com>"}) {
    SetHeader(&v, "Message-ID", bad);
    EXPECT_TRUE(Fires(*h, v, "MSGID_MALFORMED")) << bad;
  }
  for (const char* good : {"<a.b-c$d@[192.0.2.1]>", " <x@y> (comment)", "<\"q\"@example.com>"}) {
    EXPECT_TRUE(IsValidMessageId(good)) << good;
  }
}

TEST(SpamHeuristics, FromOrgSpoof) {
  auto h = Make();
  MessageView v = Ordinary();
  v.from_display = "Sở Tài chính Bắc Giang";
  v.from_address = "thongbao@evil.example";
  std::vector<Signal> out;
  h->Evaluate(v, &out);
  const Signal* s = Find(out, "FROM_ORG_SPOOF");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->detail, "from=evil.example");
  EXPECT_DOUBLE_EQ(s->score, 2.0);

  v.from_display = "UBND TỈNH BẮC GIANG";  // upper case, anywhere
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));
  v.from_display = "Uỷ ban nhân dân";  // the other spelling
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));
  v.from_display = "IT support (admin@bacgiang.gov.vn)";  // an internal domain
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));
  v.from_display = "BacGiang Portal";  // the internal domain's name label
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));

  // From inside: no claim to judge.
  v.from_display = "Sở Tài chính";
  v.from_address = "stc@bacgiang.gov.vn";
  EXPECT_FALSE(Fires(*h, v, "FROM_ORG_SPOOF"));
  // Another agency of the state names itself the same way.
  v.from_address = "stc@hanoi.gov.vn";
  EXPECT_FALSE(Fires(*h, v, "FROM_ORG_SPOOF"));
  // ... but does not claim this organisation's domain.
  v.from_display = "bacgiang.gov.vn helpdesk";
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));
}

TEST(SpamHeuristics, FromOrgSpoofNeedsWholeWords) {
  auto h = Make();
  MessageView v = Ordinary();
  for (const char* name : {"Cơ sở Hoa Mai", "Nguyễn Văn Bộ", "Công ty Sao Mai", "Bob Smith",
                           "Subaru dealer", "Bacgiangshop"}) {
    v.from_display = name;
    EXPECT_FALSE(Fires(*h, v, "FROM_ORG_SPOOF")) << name;
  }
}

TEST(SpamHeuristics, OrganisationWordsAreConfigurable) {
  HeuristicOptions o = Options();
  o.organisation_words = {"Tổng cục", "^Cục"};
  auto h = Make(std::move(o));
  MessageView v = Ordinary();
  v.from_display = "TỔNG CỤC Thuế";
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));
  v.from_display = "Cục Thuế";
  EXPECT_TRUE(Fires(*h, v, "FROM_ORG_SPOOF"));
  v.from_display = "Nhà sách Cục";  // '^': at the start only
  EXPECT_FALSE(Fires(*h, v, "FROM_ORG_SPOOF"));
  v.from_display = "Sở Tài chính";  // the defaults are replaced
  EXPECT_FALSE(Fires(*h, v, "FROM_ORG_SPOOF"));
}

TEST(SpamHeuristics, ReplyToPublicProvider) {
  auto h = Make();
  MessageView v = Ordinary();
  v.reply_to_address = "refund.desk@gmail.com";
  std::vector<Signal> out;
  h->Evaluate(v, &out);
  const Signal* s = Find(out, "REPLYTO_PUBLIC_PROVIDER");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->detail, "reply_to=gmail.com from=example.com");
  v.reply_to_address = "x@yahoo.com.vn";
  EXPECT_TRUE(Fires(*h, v, "REPLYTO_PUBLIC_PROVIDER"));
  // Same domain as From, or not a provider.
  v.from_address = "me@gmail.com";
  v.reply_to_address = "other@gmail.com";
  EXPECT_FALSE(Fires(*h, v, "REPLYTO_PUBLIC_PROVIDER"));
  v.reply_to_address = "list@example.org";
  EXPECT_FALSE(Fires(*h, v, "REPLYTO_PUBLIC_PROVIDER"));
}

TEST(SpamHeuristics, LinkTextMismatch) {
  auto h = Make();
  MessageView v = Ordinary();
  v.links.push_back(
      {"http://login.evil.example/vcb", "login.evil.example", "www.vietcombank.com.vn", true});
  std::vector<Signal> out;
  h->Evaluate(v, &out);
  const Signal* s = Find(out, "LINK_TEXT_MISMATCH");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->detail, "shows=www.vietcombank.com.vn goes=login.evil.example");
  // The same site under another name is no mismatch.
  v.links.back() = {"https://ebank.vietcombank.com.vn/x", "ebank.vietcombank.com.vn",
                    "www.vietcombank.com.vn", true};
  EXPECT_FALSE(Fires(*h, v, "LINK_TEXT_MISMATCH"));
  // A two-label ccTLD suffix is not a site.
  v.links.back() = {"https://evil.com.vn/", "evil.com.vn", "bank.com.vn", true};
  EXPECT_TRUE(Fires(*h, v, "LINK_TEXT_MISMATCH"));
}

// Through the view: hosts compare in their ASCII form, however each side writes them.
TEST(SpamHeuristics, InternationalisedLinkHostsCompareInAsciiForm) {
  auto view = [](const std::string& html) {
    ContentLimits limits;
    limits.keep_text_bodies = true;
    Message m(Envelope{}, limits);
    ReadMessageText("Content-Type: text/html; charset=utf-8\n\n" + html + "\n", &m);
    m.FinishContent();
    return BuildMessageView(m, {});
  };
  auto h = Make();
  // The same site: its name in Vietnamese in the text, in ASCII in the target, or the
  // other way round.
  EXPECT_FALSE(Fires(*h, view("<a href=\"http://xn--bcngan-jxa6332d.vn/\">bộcôngan.vn</a>"),
                     "LINK_TEXT_MISMATCH"));
  EXPECT_FALSE(Fires(*h, view("<a href=\"https://www.BỘCÔNGAN.vn/x\">xn--bcngan-jxa6332d.vn</a>"),
                     "LINK_TEXT_MISMATCH"));
  // Another site behind a Vietnamese name.
  std::vector<Signal> out;
  h->Evaluate(view("<a href=\"http://login.evil.example/\">www.bộcôngan.vn</a>"), &out);
  const Signal* s = Find(out, "LINK_TEXT_MISMATCH");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->detail, "shows=www.xn--bcngan-jxa6332d.vn goes=login.evil.example");
  // Two Vietnamese names of different sites.
  EXPECT_TRUE(
      Fires(*h, view("<a href=\"http://bộcông.vn/\">bộcôngan.vn</a>"), "LINK_TEXT_MISMATCH"));
}

TEST(SpamHeuristics, RegistrableDomain) {
  EXPECT_EQ(RegistrableDomain("www.example.com"), "example.com");
  EXPECT_EQ(RegistrableDomain("a.b.bacgiang.gov.vn"), "bacgiang.gov.vn");
  EXPECT_EQ(RegistrableDomain("news.bbc.co.uk"), "bbc.co.uk");
  EXPECT_EQ(RegistrableDomain("shop.example.vn"), "example.vn");
  EXPECT_EQ(RegistrableDomain("Example.COM."), "example.com");
  EXPECT_EQ(RegistrableDomain("localhost"), "localhost");
  EXPECT_EQ(RegistrableDomain("com.vn"), "com.vn");
  EXPECT_EQ(RegistrableDomain("192.0.2.1"), "192.0.2.1");
  // By the Public Suffix List: private suffixes separate their users' sites, deeper public
  // suffixes are known, and IDNA names count in their ASCII form.
  EXPECT_EQ(RegistrableDomain("a.github.io"), "a.github.io");
  EXPECT_NE(RegistrableDomain("a.github.io"), RegistrableDomain("b.github.io"));
  EXPECT_EQ(RegistrableDomain("a.b.c.kawasaki.jp"), "b.c.kawasaki.jp");
  EXPECT_EQ(RegistrableDomain("co.uk"), "co.uk");
  EXPECT_EQ(RegistrableDomain("www.xn--bcngan-jxa6332d.vn"), "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(RegistrableDomain("mail.example.test"), "example.test");
}

TEST(SpamHeuristics, UrlShortener) {
  auto h = Make();
  MessageView v = Ordinary();
  v.links.push_back({"https://bit.ly/3xyz", "bit.ly", "", false});
  std::vector<Signal> out;
  h->Evaluate(v, &out);
  const Signal* s = Find(out, "URL_SHORTENER");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->detail, "bit.ly");
  HeuristicOptions o = Options();
  o.url_shorteners = {"short.example"};
  auto custom = Make(std::move(o));
  EXPECT_FALSE(Fires(*custom, v, "URL_SHORTENER"));
  v.links.push_back({"http://go.short.example/a", "go.short.example", "", false});
  EXPECT_TRUE(Fires(*custom, v, "URL_SHORTENER"));
}

TEST(SpamHeuristics, HtmlOnlyAndImageOnly) {
  auto h = Make();
  MessageView v = Ordinary();
  v.has_html_part = true;  // with a text alternative: ordinary, however short
  v.html_images = 2;
  EXPECT_EQ(Names(*h, v), std::set<std::string>());
  v.body_text = "Click\n";
  EXPECT_EQ(Names(*h, v), std::set<std::string>());
  v.has_text_part = false;
  v.body_text = std::string(200, 'x') + "\n";
  EXPECT_EQ(Names(*h, v), std::set<std::string>({"HTML_ONLY"}));
  v.body_text = "Click\n";
  EXPECT_EQ(Names(*h, v), std::set<std::string>({"HTML_ONLY", "HTML_IMAGE_ONLY"}));
  v.html_images = 0;
  EXPECT_EQ(Names(*h, v), std::set<std::string>({"HTML_ONLY"}));
}

TEST(SpamHeuristics, SubjectAllCaps) {
  auto h = Make();
  MessageView v = Ordinary();
  v.subject = "KHUYẾN MÃI ĐẶC BIỆT CHỈ HÔM NAY!!!";
  EXPECT_TRUE(Fires(*h, v, "SUBJ_ALL_CAPS"));
  v.subject = "Re: FREE MONEY WAITING NOW";  // one lower-case letter in 20
  EXPECT_TRUE(Fires(*h, v, "SUBJ_ALL_CAPS"));
  v.subject = "URGENT";  // too short
  EXPECT_FALSE(Fires(*h, v, "SUBJ_ALL_CAPS"));
  v.subject = "Báo cáo UBND TỈNH tháng 7";
  EXPECT_FALSE(Fires(*h, v, "SUBJ_ALL_CAPS"));
  v.subject = "2025-07-01 12:00 !!!";
  EXPECT_FALSE(Fires(*h, v, "SUBJ_ALL_CAPS"));
}

TEST(SpamHeuristics, InvisibleText) {
  auto h = Make();
  MessageView v = Ordinary();
  v.invisible_text_bytes = kInvisibleTextBytes - 1;  // a hidden preview line
  EXPECT_FALSE(Fires(*h, v, "INVISIBLE_TEXT"));
  v.invisible_text_bytes = 2000;
  std::vector<Signal> out;
  h->Evaluate(v, &out);
  const Signal* s = Find(out, "INVISIBLE_TEXT");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->detail, "bytes=2000");
}

TEST(SpamHeuristics, OverridesAndDisabling) {
  HeuristicOptions o = Options();
  o.scores["HTML_ONLY"] = 1.75;
  o.scores["SUBJ_ALL_CAPS"] = 0;
  auto h = Make(std::move(o));
  EXPECT_DOUBLE_EQ(h->score("HTML_ONLY"), 1.75);
  EXPECT_DOUBLE_EQ(h->score("SUBJ_ALL_CAPS"), 0);
  EXPECT_DOUBLE_EQ(h->score("DATE_MISSING"), 1.0);
  MessageView v = Ordinary();
  v.has_text_part = false;
  v.has_html_part = true;
  v.subject = "ALL CAPITALS SUBJECT HERE";
  std::vector<Signal> out;
  h->Evaluate(v, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "HTML_ONLY");
  EXPECT_DOUBLE_EQ(out[0].score, 1.75);
}

TEST(SpamHeuristics, UnknownNamesAreRefused) {
  HeuristicOptions o = Options();
  o.scores["HTML_ONLY"] = 1;
  o.scores["NO_SUCH_SIGNAL"] = 1;
  o.scores["ALSO_WRONG"] = 2;
  auto h = Heuristics::Create(std::move(o));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(h.status().message().find("NO_SUCH_SIGNAL"), std::string::npos);
  EXPECT_NE(h.status().message().find("ALSO_WRONG"), std::string::npos);
  EXPECT_EQ(h.status().message().find("HTML_ONLY"), std::string::npos);
}

TEST(SpamHeuristics, BadDomainPatternsAreRefused) {
  HeuristicOptions o = Options();
  o.url_shorteners = {"bad pattern"};
  auto h = Heuristics::Create(std::move(o));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("url shorteners"), std::string::npos);
}

// From a message to the signals, through the view.
TEST(SpamHeuristics, CraftedMessageEndToEnd) {
  std::string hidden;
  for (int i = 0; i < 60; ++i) hidden += "meeting report budget ";
  ContentLimits limits;
  limits.keep_text_bodies = true;
  Message m(Envelope{}, limits);
  ReadMessageText(
      "From: =?UTF-8?Q?S=E1=BB=9F_T=C3=A0i_ch=C3=ADnh?= <notice@bacgiang-gov.example>\n"
      "Reply-To: refund@gmail.com\n"
      "Subject: =?UTF-8?Q?TH=C3=94NG_B=C3=81O_HO=C3=80N_THU=E1=BA=BE_KH=E1=BA=A8N?=\n"
      "Date: someday\n"
      "MIME-Version: 1.0\n"
      "Content-Type: text/html; charset=utf-8\n\n"
      "<p>Nhận tiền hoàn thuế tại <a href=\"http://evil.example/x\">www.gdt.gov.vn</a>"
      " hoặc <a href=\"https://bit.ly/abc\">đây</a>.</p>"
      "<div style=\"display:none\">" +
          hidden + "</div>\n",
      &m);
  m.FinishContent();
  MessageView v = BuildMessageView(m, {});
  auto h = Make();
  EXPECT_EQ(Names(*h, v),
            std::set<std::string>({"DATE_MALFORMED", "MSGID_MISSING", "FROM_ORG_SPOOF",
                                   "REPLYTO_PUBLIC_PROVIDER", "LINK_TEXT_MISMATCH", "URL_SHORTENER",
                                   "HTML_ONLY", "SUBJ_ALL_CAPS", "INVISIBLE_TEXT"}));
}

TEST(SpamHeuristics, OrdinaryMessageEndToEnd) {
  ContentLimits limits;
  limits.keep_text_bodies = true;
  Message m(Envelope{}, limits);
  ReadMessageText(
      "From: =?UTF-8?Q?Nguy=E1=BB=85n_V=C4=83n_An?= <an@example.com>\n"
      "To: binh@bacgiang.gov.vn\n"
      "Subject: =?UTF-8?Q?L=E1=BB=8Bch_h=E1=BB=8Dp?=\n"
      "Date: Tue, 1 Jul 2025 16:30:00 +0700\n"
      "Message-ID: <abc.123@example.com>\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/alternative; boundary=b\n\n"
      "--b\nContent-Type: text/plain; charset=utf-8\n\nXem https://example.com/lich\n"
      "--b\nContent-Type: text/html; charset=utf-8\n\n"
      "<div style=\"display:none\">Lịch họp tuần sau</div>"
      "<p>Xem <a href=\"https://example.com/lich\">example.com/lich</a>"
      "<img src=\"cid:logo\"></p><p>Trân trọng, An</p>\n--b--\n",
      &m);
  m.FinishContent();
  MessageView v = BuildMessageView(m, {});
  auto h = Make();
  EXPECT_EQ(Names(*h, v), std::set<std::string>());
}

}  // namespace
}  // namespace mailwarden::spam

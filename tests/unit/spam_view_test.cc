#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "milter/eml_reader.h"
#include "milter/spam/message_view.h"
#include "milter/spam/normalize.h"
#include "milter/spam/tokenizer.h"
#include "milter/text/html_text.h"

namespace mailwarden::spam {
namespace {

std::unique_ptr<Message> Parse(std::string_view text, Envelope envelope = {}) {
  ContentLimits limits;
  limits.keep_text_bodies = true;
  limits.keep_raw_bytes = 1 << 20;
  auto m = std::make_unique<Message>(std::move(envelope), limits);
  ReadMessageText(text, m.get());
  m->FinishContent();
  return m;
}

MessageView View(std::string_view text, const ViewLimits& limits = {}) {
  return BuildMessageView(*Parse(text), limits);
}

std::string Alternative(std::string_view plain, std::string_view html) {
  return "From: a@example.org\n"
         "Subject: alt\n"
         "MIME-Version: 1.0\n"
         "Content-Type: multipart/alternative; boundary=\"b1\"\n\n"
         "--b1\nContent-Type: text/plain; charset=utf-8\n\n" +
         std::string(plain) + "\n--b1\nContent-Type: text/html; charset=utf-8\n\n" +
         std::string(html) + "\n--b1--\n";
}

std::string HtmlOnly(std::string_view html) {
  return "From: a@example.org\nSubject: html\nMIME-Version: 1.0\n"
         "Content-Type: text/html; charset=utf-8\n\n" +
         std::string(html) + "\n";
}

TEST(SpamView, HeadersAreUnfoldedAndDecoded) {
  MessageView v = View(
      "From: a@example.org\n"
      "Subject: =?UTF-8?B?VGjDtG5nIGLDoW8gbOG7i2NoIGjhu41w?=\n"
      " =?UTF-8?Q?_tu=E1=BA=A7n_sau?=\n"
      "X-Folded: one\n  two\n"
      "\nbody\n");
  EXPECT_EQ(v.subject, "Thông báo lịch họp tuần sau");
  ASSERT_EQ(v.headers.size(), 3u);
  EXPECT_EQ(v.headers[1].name, "Subject");
  EXPECT_EQ(v.headers[1].value, "Thông báo lịch họp tuần sau");
  EXPECT_EQ(v.headers[2].value, "one  two");
}

TEST(SpamView, HeaderTextIsNfc) {
  // "ệ" written as e + U+0323 + U+0302 (decomposed).
  MessageView v = View("Subject: Vi\xC3\xAA\xCC\xA3t\n\nx\n");
  EXPECT_EQ(v.subject, "Việt");
}

TEST(SpamView, RawEightBitHeaderIsReadAsWindows1252) {
  MessageView v = View("Subject: caf\xE9\n\nx\n");
  EXPECT_EQ(v.subject, "café");
}

TEST(SpamView, FromAndReplyTo) {
  MessageView v = View(
      "From: =?UTF-8?Q?S=E1=BB=9F_T=C3=A0i_ch=C3=ADnh?= <Info@Example.COM>\n"
      "Reply-To: \"Help desk\" <helper@GMAIL.com>\n\nx\n");
  EXPECT_EQ(v.from_address, "info@example.com");
  EXPECT_EQ(v.from_display, "Sở Tài chính");
  EXPECT_EQ(v.reply_to_address, "helper@gmail.com");
}

TEST(SpamView, MailboxForms) {
  EXPECT_EQ(ParseMailbox("bare@example.org").address, "bare@example.org");
  EXPECT_EQ(ParseMailbox("bare@example.org").display, "");
  Mailbox comment = ParseMailbox("old@example.org (Old Style)");
  EXPECT_EQ(comment.address, "old@example.org");
  EXPECT_EQ(comment.display, "Old Style");
  Mailbox quoted = ParseMailbox("\"Doe, John \\\"JD\\\"\" <jd@example.org>");
  EXPECT_EQ(quoted.address, "jd@example.org");
  EXPECT_EQ(quoted.display, "Doe, John \"JD\"");
  Mailbox list = ParseMailbox("First <one@example.org>, Second <two@example.org>");
  EXPECT_EQ(list.address, "one@example.org");
  EXPECT_EQ(list.display, "First");
  Mailbox group = ParseMailbox("Team: Ann <ann@example.org>, bob@example.org;");
  EXPECT_EQ(group.address, "ann@example.org");
  EXPECT_EQ(group.display, "Ann");
  Mailbox unquoted_comma = ParseMailbox("Doe, John <jd@example.org>");
  EXPECT_EQ(unquoted_comma.address, "jd@example.org");
  EXPECT_EQ(unquoted_comma.display, "Doe, John");
  EXPECT_EQ(ParseMailbox("Folded\n Name <f@example.org>").display, "Folded Name");
}

TEST(SpamView, MalformedAddressesAreEmpty) {
  EXPECT_EQ(ParseMailbox("no address here").address, "");
  EXPECT_EQ(ParseMailbox("Name <unclosed@example.org").address, "");
  EXPECT_EQ(ParseMailbox("<@example.org>").address, "");
  EXPECT_EQ(ParseMailbox("<user@>").address, "");
  EXPECT_EQ(ParseMailbox("<us er@example.org>").address, "");
  EXPECT_EQ(ParseMailbox("").address, "");
  EXPECT_EQ(ParseMailbox("\"never closed <a@example.org>").address, "");
  EXPECT_EQ(ParseMailbox("Name <a@example.org").display, "Name");
  MessageView v = View("From: Nobody\n\nx\n");
  EXPECT_EQ(v.from_address, "");
  EXPECT_EQ(v.from_display, "");
}

TEST(SpamView, TextAndHtmlAlternativeKeepsBoth) {
  MessageView v = View(Alternative("Plain words.", "<p>Html <b>words</b>.</p>"));
  EXPECT_EQ(v.body_text, "Plain words.\nHtml words.\n");
  EXPECT_TRUE(v.has_text_part);
  EXPECT_TRUE(v.has_html_part);
  // The line end before a boundary belongs to the boundary.
  EXPECT_EQ(v.html_bytes, std::string("<p>Html <b>words</b>.</p>").size());
  EXPECT_GT(v.html_markup_bytes, 10u);
  EXPECT_LT(v.html_markup_bytes, v.html_bytes);
  EXPECT_FALSE(v.text_truncated);
}

TEST(SpamView, PlainTextLinesEndInLf) {
  MessageView v = View("Subject: x\r\n\r\nline one\r\nline two");
  EXPECT_EQ(v.body_text, "line one\nline two\n");
  EXPECT_TRUE(v.has_text_part);
  EXPECT_FALSE(v.has_html_part);
}

TEST(SpamView, HtmlOnly) {
  MessageView v = View(HtmlOnly("<html><body><h1>Sale</h1><img src=x.png></body></html>"));
  EXPECT_FALSE(v.has_text_part);
  EXPECT_TRUE(v.has_html_part);
  EXPECT_EQ(v.body_text, "Sale\n");
  EXPECT_EQ(v.html_images, 1u);
}

TEST(SpamView, CharsetsAreDecoded) {
  // Undeclared 8-bit text that is not UTF-8 is windows-1252.
  MessageView plain = View("Subject: x\n\nna\xEFve caf\xE9\n");
  EXPECT_EQ(plain.body_text, "naïve café\n");
  // Declared charset.
  MessageView latin = View("Content-Type: text/plain; charset=iso-8859-1\n\n\xE0 bient\xF4t\n");
  EXPECT_EQ(latin.body_text, "à bientôt\n");
  // An HTML body declaring its charset in a <meta>.
  MessageView html =
      View("Content-Type: text/html\n\n<meta charset=\"windows-1258\"><p>Vi\xEA\xF2t</p>\n");
  EXPECT_EQ(html.body_text, "Việt\n");
}

TEST(SpamView, BodyTextIsNfc) {
  // "Việt" with the marks written as combining characters, in a plain and an HTML body.
  MessageView v = View(Alternative("Vie\xCC\xA3\xCC\x82t", "<p>Vie\xCC\xA3\xCC\x82t</p>"));
  EXPECT_EQ(v.body_text, "Việt\nViệt\n");
  // Precomposed text stays as it is.
  EXPECT_EQ(View("Subject: x\n\nTiếng Việt — “đúng”\n").body_text, "Tiếng Việt — “đúng”\n");
}

TEST(SpamView, LinksFromText) {
  MessageView v = View(
      "Subject: x\n\nSee http://a.example/x?y=1, or (https://User@B.Example:8443/p).\n"
      "Also www.c.example. And mailto:no@example.org and xhttp://no.example\n"
      "Again http://a.example/x?y=1 here.\n");
  ASSERT_EQ(v.links.size(), 3u);
  EXPECT_EQ(v.links[0].url, "http://a.example/x?y=1");
  EXPECT_EQ(v.links[0].host, "a.example");
  EXPECT_FALSE(v.links[0].from_html);
  EXPECT_EQ(v.links[1].url, "https://User@B.Example:8443/p");
  EXPECT_EQ(v.links[1].host, "b.example");
  EXPECT_EQ(v.links[2].url, "www.c.example");
  EXPECT_EQ(v.links[2].host, "www.c.example");
  EXPECT_EQ(v.links[2].text_host, "");
  EXPECT_FALSE(v.links_truncated);
}

TEST(SpamView, LinksFromHtmlWithTheHostTheirTextShows) {
  MessageView v =
      View(HtmlOnly("<p><a href=\"http://evil.example/login?a=1&amp;b=2\">www.Bank.vn</a>"
                    "<a href='https://shop.example/'>Click <b>here</b></a>"
                    "<a href=\"https://bank.vn/x\">https://bank.vn/x</a>"
                    "<a href=\"#top\">top</a><a href=\"mailto:x@example.org\">mail</a>"
                    " Visit www.plain.example today</p>"));
  ASSERT_EQ(v.links.size(), 4u);
  EXPECT_EQ(v.links[0].url, "http://evil.example/login?a=1&b=2");
  EXPECT_EQ(v.links[0].host, "evil.example");
  EXPECT_EQ(v.links[0].text_host, "www.bank.vn");
  EXPECT_TRUE(v.links[0].from_html);
  EXPECT_EQ(v.links[1].host, "shop.example");
  EXPECT_EQ(v.links[1].text_host, "");
  EXPECT_EQ(v.links[2].text_host, "bank.vn");
  // A URL written in the HTML text is a link too; the texts of the links above are not.
  EXPECT_EQ(v.links[3].url, "www.plain.example");
  EXPECT_TRUE(v.links[3].from_html);
}

TEST(SpamView, LinkTextThatIsNoDomain) {
  MessageView v = View(HtmlOnly(
      "<a href=\"http://a.example/f\">report.pdf</a><a href=\"http://b.example/\">v1.2</a>"
      "<a href=\"http://c.example/\">mail@bank.vn</a><a href=\"http://d.example/\">x</a>"));
  ASSERT_EQ(v.links.size(), 4u);
  for (const Link& l : v.links) EXPECT_EQ(l.text_host, "") << l.url;
}

TEST(SpamView, InvisibleText) {
  std::string hidden(300, 'w');
  MessageView none = View(HtmlOnly("<p>Visible text only</p>"));
  EXPECT_EQ(none.invisible_text_bytes, 0u);
  MessageView v = View(
      HtmlOnly("<p>Shown</p><div style=\"DISPLAY: none\"><p>" + hidden + "</p></div><p>after</p>"));
  EXPECT_EQ(v.invisible_text_bytes, 300u);
  EXPECT_NE(v.body_text.find("after"), std::string::npos);
}

TEST(SpamView, RawIsKeptAndCut) {
  std::string text = "From: a@example.org\r\nSubject: raw\r\n\r\nbody line\r\n";
  MessageView v = View(text);
  EXPECT_EQ(v.raw, "From: a@example.org\nSubject: raw\n\nbody line\n");
  ViewLimits small;
  small.max_raw_bytes = 10;
  EXPECT_EQ(View(text, small).raw, "From: a@ex");
}

TEST(SpamView, EnvelopeFacts) {
  Envelope env;
  env.client_addr = "192.0.2.7";
  env.helo = "mx.example.net";
  auto m = Parse("Subject: x\n\ny\n", env);
  MessageView v = BuildMessageView(*m, {});
  EXPECT_EQ(v.client_addr, "192.0.2.7");
  EXPECT_EQ(v.helo, "mx.example.net");
}

TEST(SpamView, TextIsCutAtTheLimit) {
  std::string body;
  for (int i = 0; i < 200; ++i) body += "Dòng số " + std::to_string(i) + " của thư.\n";
  ViewLimits limits;
  limits.max_text_bytes = 1000;
  MessageView v = View(Alternative(body, "<p>" + body + "</p>"), limits);
  EXPECT_TRUE(v.text_truncated);
  EXPECT_LE(v.body_text.size(), 1000u);
  EXPECT_EQ(v.body_text.rfind("Dòng số 0 của thư.\n", 0), 0u);
  // Still valid UTF-8 where it was cut.
  EXPECT_TRUE(mime::IsValidUtf8(v.body_text));
  // The HTML part was read for its facts all the same.
  EXPECT_TRUE(v.has_html_part);
  EXPECT_GT(v.html_markup_bytes, 0u);
}

TEST(SpamView, LinksAreCapped) {
  std::string html;
  for (int i = 0; i < 50; ++i) {
    html += "<a href=\"http://h" + std::to_string(i) + ".example/\">x</a>";
  }
  std::string plain;
  for (int i = 0; i < 50; ++i) plain += "http://p" + std::to_string(i) + ".example/ ";
  ViewLimits limits;
  limits.max_links = 30;
  MessageView v = View(Alternative(plain, html), limits);
  EXPECT_EQ(v.links.size(), 30u);
  EXPECT_TRUE(v.links_truncated);
  EXPECT_EQ(v.links[0].host, "p0.example");
}

TEST(SpamView, LongUrlsAreCut) {
  std::string url = "http://long.example/" + std::string(5000, 'a');
  MessageView v = View("Subject: x\n\n" + url + "\n");
  ASSERT_EQ(v.links.size(), 1u);
  EXPECT_EQ(v.links[0].url.size(), 2048u);
  EXPECT_EQ(v.links[0].host, "long.example");
}

TEST(SpamView, WithoutKeptBodiesOnlyFactsRemain) {
  auto m = std::make_unique<Message>(Envelope{});  // no keep_text_bodies, no raw
  ReadMessageText(Alternative("plain http://a.example/", "<p>html</p>"), m.get());
  m->FinishContent();
  MessageView v = BuildMessageView(*m, {});
  EXPECT_TRUE(v.has_text_part);
  EXPECT_TRUE(v.has_html_part);
  EXPECT_EQ(v.body_text, "");
  EXPECT_TRUE(v.links.empty());
  EXPECT_EQ(v.raw, "");
}

TEST(SpamView, AttachmentsAreNotBodyText) {
  MessageView v = View(
      "Content-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/plain\n\nBody.\n"
      "--m\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment; "
      "filename=notes.txt\n\nAttached http://attached.example/\n--m--\n");
  EXPECT_EQ(v.body_text, "Body.\n");
  EXPECT_TRUE(v.links.empty());
}

TEST(SpamView, MalformedMimeDoesNotCrash) {
  const std::string cases[] = {
      "Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/html\n\n"
      "<a href=\"http://a.example/\">never closed <div style=\"display:none",
      "Content-Type: multipart/mixed\n\nno boundary at all\n",
      "Content-Type: text/plain; charset=no-such-charset\nContent-Transfer-Encoding: base64\n\n"
      "!!!not base64***\n",
      "From: \"unterminated <a@b\nReply-To: (((\nSubject: =?utf-8?B?====?=\n\n\xff\xfe\x00x",
      std::string(100, '<') + "\n\n" + std::string(1000, '<'),
      "Content-Type: text/html\n\n<a href=\"" + std::string(100000, 'h') + "\">x</a>",
  };
  for (const std::string& text : cases) {
    MessageView v = View(text);
    EXPECT_TRUE(mime::IsValidUtf8(v.body_text));
  }
}

TEST(SpamView, UrlHost) {
  EXPECT_EQ(UrlHost("http://user:pw@Host.Example:8080/x"), "host.example");
  EXPECT_EQ(UrlHost("https://a.example?q=1"), "a.example");
  EXPECT_EQ(UrlHost("www.Example.vn/path"), "www.example.vn");
  EXPECT_EQ(UrlHost("//cdn.example/x"), "cdn.example");
  EXPECT_EQ(UrlHost("http://[2001:db8::1]:80/"), "2001:db8::1");
  EXPECT_EQ(UrlHost("http://example.org./"), "example.org");
  EXPECT_EQ(UrlHost("mailto:a@example.org"), "");
  EXPECT_EQ(UrlHost("/relative/path"), "");
  EXPECT_EQ(UrlHost("http://"), "");
  // A host with control characters, spaces or markup is no host: it would reach the log.
  EXPECT_EQ(UrlHost("http://a\x01b.example/"), "");
  EXPECT_EQ(UrlHost("http://a b.example/"), "");
  EXPECT_EQ(UrlHost("http://a<b>.example/"), "");
}

// The ASCII forms below are Python's IDNA codec's (IDNA 2003), which agrees with UTS #46
// on these letters: "bộcôngan.vn".encode("idna") == b"xn--bcngan-jxa6332d.vn".
TEST(SpamView, AsciiHost) {
  EXPECT_EQ(AsciiHost("bộcôngan.vn"), "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(AsciiHost("BỘCÔNGAN.VN"), "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(AsciiHost("bo\xCC\xA3\xCC\x82"
                      "co\xCC\x82"
                      "ngan.vn"),
            "xn--bcngan-jxa6332d.vn");  // NFD
  EXPECT_EQ(AsciiHost("Mail.Bücher.Example."), "mail.xn--bcher-kva.example");
  EXPECT_EQ(AsciiHost("bộcôngan\xE3\x80\x82vn"), "xn--bcngan-jxa6332d.vn");  // U+3002 as a dot
  EXPECT_EQ(AsciiHost("straße.de"), "xn--strae-oqa.de");  // nontransitional, as browsers
  // ASCII names are lower-cased, nothing more.
  EXPECT_EQ(AsciiHost("Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(AsciiHost("XN--BCNGAN-JXA6332D.vn"), "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(AsciiHost("a..b"), "a..b");
  EXPECT_EQ(AsciiHost(""), "");
  // Names UTS #46 refuses.
  EXPECT_EQ(AsciiHost("\xCC\x81"
                      "abc.vn"),
            "");                       // a label starting with a combining mark
  EXPECT_EQ(AsciiHost("bộ..vn"), "");  // an empty label
  EXPECT_EQ(AsciiHost("b\xFF"
                      "ộ.vn"),
            "");  // not UTF-8
  EXPECT_EQ(AsciiHost("a\xE2\x80\x8D"
                      "ộ.vn"),
            "");  // a joiner out of context
  EXPECT_EQ(AsciiHost("\xD7\x90"
                      "1ộ.vn"),
            "");                                             // Hebrew and Latin in one label: Bidi
  EXPECT_EQ(AsciiHost(std::string(250, 'a') + "ộ.vn"), "");  // too long in ASCII
  // Fullwidth '/' and '<' map to ASCII ones, which are in no host.
  EXPECT_EQ(AsciiHost("bộ\xEF\xBC\x8F"
                      "x.vn"),
            "");
  EXPECT_EQ(AsciiHost("bộ\xEF\xBC\x9C"
                      "x.vn"),
            "");
}

TEST(SpamView, InternationalisedLinkHostsInAsciiForm) {
  EXPECT_EQ(UrlHost("http://bộcôngan.vn/tin-tuc"), "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(UrlHost("https://user@WWW.BỘCÔNGAN.VN:443/"), "www.xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(UrlHost("www.bộcôngan.vn/x"), "www.xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(UrlHost("http://xn--bcngan-jxa6332d.vn/"), "xn--bcngan-jxa6332d.vn");
  // Percent-escapes in a host are not decoded.
  EXPECT_EQ(UrlHost("http://b%E1%BB%99c%C3%B4ngan.vn/"), "b%e1%bb%99c%c3%b4ngan.vn");
  // A name IDNA refuses stays as written, ASCII letters lower-cased.
  EXPECT_EQ(UrlHost("http://\xCC\x81"
                    "Abc.vn/"),
            "\xCC\x81"
            "abc.vn");
  EXPECT_EQ(UrlHost("http://Bộ..vn/"), "bộ..vn");

  MessageView v =
      View(HtmlOnly("<a href=\"http://xn--bcngan-jxa6332d.vn/a\">Bộcôngan.vn</a>"
                    "<a href=\"http://BỘCÔNGAN.vn/b\">https://www.bộcôngan.vn/b</a>"
                    "<a href=\"http://evil.example/c\">bộcôngan.vn</a>"
                    "<a href=\"http://bad.example/d\">\xCC\x81"
                    "abc.vn</a>"
                    "<a href=\"//chínhphủ.vn/e\">Xem</a>"));
  ASSERT_EQ(v.links.size(), 5u);
  EXPECT_EQ(v.links[0].host, "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(v.links[0].text_host, "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(v.links[1].url, "http://BỘCÔNGAN.vn/b");  // the URL itself as written
  EXPECT_EQ(v.links[1].host, "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(v.links[1].text_host, "www.xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(v.links[2].host, "evil.example");
  EXPECT_EQ(v.links[2].text_host, "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(v.links[3].text_host,
            "\xCC\x81"
            "abc.vn");
  EXPECT_EQ(v.links[4].host, "xn--chnhph-4va0152d.vn");
}

TEST(SpamView, InternationalisedUrlsInPlainTextAreReadWhole) {
  // Letters and marks beyond ASCII continue a URL; a curly quote, a non-breaking space or
  // an ideographic full stop after it ends it.
  MessageView v = View(
      "From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\n"
      "Xem \xE2\x80\x9C"
      "http://bộcôngan.vn/tin-tứ\xE2\x80\x9D"
      " "
      "và www.chínhphủ.vn\xC2\xA0"
      "nhé, "
      "http://example.vn\xE3\x80\x82"
      " hết\n");
  ASSERT_EQ(v.links.size(), 3u);
  EXPECT_EQ(v.links[0].url, "http://bộcôngan.vn/tin-tứ");
  EXPECT_EQ(v.links[0].host, "xn--bcngan-jxa6332d.vn");
  EXPECT_EQ(v.links[1].url, "www.chínhphủ.vn");
  EXPECT_EQ(v.links[1].host, "www.xn--chnhph-4va0152d.vn");
  EXPECT_EQ(v.links[2].url, "http://example.vn");
}

TEST(SpamView, BodyIsFoldedOnceForEveryReader) {
  MessageView v = View(
      "From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\n"
      "CHÚC MỪNG! Bạn đã TRÚNG THƯỞNG một chiếc XE MÁY. Straße İstanbul ΣΟΦΙΑ\n");
  EXPECT_EQ(v.body_folded, FoldCase(v.body_text));
  EXPECT_NE(v.body_folded.find("trúng thưởng"), std::string::npos);
  // The tokenizer reads the folded body; a view without it (assembled by hand) folds the
  // text itself, to the same tokens.
  MessageView by_hand = v;
  by_hand.body_folded.clear();
  EXPECT_EQ(Tokenize(v).hashes, Tokenize(by_hand).hashes);
  EXPECT_FALSE(Tokenize(v).hashes.empty());
}

// HtmlToText's link and hidden-text facts, which the view relies on.
TEST(SpamViewHtml, AnchorsAndTheirText) {
  text::HtmlStats stats;
  stats.max_anchors = 2;
  text::ExtractedText t = text::HtmlToText(
      "<a href=\" http://a.example/?x=1&amp;y=&#50; \">Go\n  <b>now</b></a>"
      "<a href=\"http://b.example/\"><img src=i></a><a name=anchor>no href</a>"
      "<a href=\"http://c.example/\">third</a>",
      text::TextLimits{}, &stats);
  EXPECT_EQ(t.text, "Go nowno hrefthird\n");
  ASSERT_EQ(stats.anchors.size(), 2u);
  EXPECT_EQ(stats.anchors[0].href, "http://a.example/?x=1&y=2");
  EXPECT_EQ(stats.anchors[0].text, "Go now");
  EXPECT_EQ(stats.anchors[1].href, "http://b.example/");
  EXPECT_EQ(stats.anchors[1].text, "");
  EXPECT_TRUE(stats.anchors_truncated);
}

TEST(SpamViewHtml, AttributeEntitiesFollowBrowsers) {
  text::HtmlStats stats;
  stats.max_anchors = 5;
  text::HtmlToText("<a href=\"http://a.example/?a=1&copy=2&amp=3&lt;\">x</a>", {}, &stats);
  ASSERT_EQ(stats.anchors.size(), 1u);
  // "&copy=" stays as written in an attribute; "&amp" at "=" too; "&lt;" decodes.
  EXPECT_EQ(stats.anchors[0].href, "http://a.example/?a=1&copy=2&amp=3<");
}

uint64_t InvisibleBytes(const std::string& html) {
  text::HtmlStats stats;
  text::HtmlToText(html, {}, &stats);
  return stats.invisible_text_bytes;
}

TEST(SpamViewHtml, HiddenStyles) {
  EXPECT_EQ(InvisibleBytes("<span style=\"display:none\">abc</span>def"), 3u);
  EXPECT_EQ(InvisibleBytes("<span style='visibility: hidden !important'>abc</span>"), 3u);
  EXPECT_EQ(InvisibleBytes("<span style=\"font-size:0px\">abc</span>"), 3u);
  EXPECT_EQ(InvisibleBytes("<span style=\"font-size:1px\">abc</span>"), 3u);
  EXPECT_EQ(InvisibleBytes("<span style=\"font-size:10px\">abc</span>"), 0u);
  EXPECT_EQ(InvisibleBytes("<span style=\"opacity:0\">abc</span>"), 3u);
  EXPECT_EQ(InvisibleBytes("<span style=\"opacity:0.5\">abc</span>"), 0u);
  EXPECT_EQ(InvisibleBytes("<div hidden>abc</div>"), 3u);
  EXPECT_EQ(InvisibleBytes("<p>abc</p>"), 0u);
}

TEST(SpamViewHtml, WhiteOnWhite) {
  EXPECT_EQ(InvisibleBytes("<span style=\"color:#FFFFFF\">abc</span>"), 3u);
  EXPECT_EQ(InvisibleBytes("<font color=white>abc</font>"), 3u);
  EXPECT_EQ(InvisibleBytes("<span style=\"color: rgb(255, 255, 255)\">abc</span>"), 3u);
  // A background makes white text readable, on the element or above it.
  EXPECT_EQ(InvisibleBytes("<td bgcolor=\"#003366\"><font color=\"#fff\">abc</font></td>"), 0u);
  EXPECT_EQ(InvisibleBytes("<span style=\"color:#fff;background-color:#000\">abc</span>"), 0u);
  // ... unless it is white itself.
  EXPECT_EQ(InvisibleBytes("<body bgcolor=white><font color=white>abc</font></body>"), 3u);
  // A child that sets another colour is seen again.
  EXPECT_EQ(InvisibleBytes("<div style=\"color:#fff\">ab<span style=\"color:#333\">cd</span>"
                           "ef</div>gh"),
            4u);
}

TEST(SpamViewHtml, HiddenScopesFollowNesting) {
  EXPECT_EQ(InvisibleBytes("<div style=\"display:none\"><div>ab</div>cd</div>ef"), 4u);
  // An end tag closes what is still open inside its element.
  EXPECT_EQ(InvisibleBytes("<div><span style=\"display:none\">ab</div>cd"), 2u);
  // Stray end tags and void elements change nothing.
  EXPECT_EQ(InvisibleBytes("<div style=\"display:none\"></span><br><img>ab</div>cd"), 2u);
}

TEST(SpamViewHtml, SloppyParagraphsDoNotPileUp) {
  // Unclosed <p>s end each other; the hidden one ends where the next starts.
  EXPECT_EQ(InvisibleBytes("<p style=\"display:none\">ab<p>cd<p>ef"), 2u);
}

TEST(SpamViewHtml, DeepAndStrayMarkupStaysBounded) {
  std::string html;
  for (size_t i = 0; i < text::kMaxHtmlOpenElements + 100; ++i) html += "<div>";
  html += "<span style=\"display:none\">ab</span>";  // past the limit: not followed
  for (int i = 0; i < 100000; ++i) html += "</em>";  // stray: closes nothing
  html += "cd";
  text::HtmlStats stats;
  text::ExtractedText t = text::HtmlToText(html, {}, &stats);
  EXPECT_EQ(t.text, "abcd\n");
  EXPECT_EQ(stats.invisible_text_bytes, 0u);
  std::string hidden = "<div style=\"display:none\">";
  for (int i = 0; i < 1000; ++i) hidden += "<b><i><u>";
  hidden += "xy</div>zz";
  EXPECT_EQ(InvisibleBytes(hidden), 2u);
}

TEST(SpamViewHtml, PreviewPaddingIsNotCounted) {
  std::string padding;
  for (int i = 0; i < 100; ++i) padding += "&zwnj;&nbsp;";
  EXPECT_EQ(InvisibleBytes("<div style=\"display:none\">Hi" + padding + "</div>"), 2u);
}

TEST(SpamViewHtml, TextIsTheSameWithOrWithoutStats) {
  const std::string html =
      "<html><body bgcolor=#fff><div style=\"display:none\">hidden</div>"
      "<p><a href=\"http://a.example/\">link <i>text</i></a> after</p>"
      "<table><tr><td>cell</td></tr></table><pre> keep  spaces </pre></body></html>";
  text::HtmlStats stats;
  stats.max_anchors = 10;
  EXPECT_EQ(text::HtmlToText(html, {}, &stats).text, text::HtmlToText(html, {}).text);
}

}  // namespace
}  // namespace mailwarden::spam

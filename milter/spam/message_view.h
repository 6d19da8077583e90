// The message as the spam scorers read it (MessageView, spam_types.h), built once per
// message from a finished Message: the header fields unfolded and decoded, From and
// Reply-To parsed, the text a reader sees, the links, a few facts about the HTML, the raw
// message and the SMTP client.
//
// What it reads: header fields as the MTA handed them; the message's main text bodies
// (mime::MimePart::is_main_body), which the Message keeps only when its ContentLimits ask
// for keep_text_bodies (without them body_text and links are empty, the part facts are
// still set); the raw message, kept when ContentLimits::keep_raw_bytes > 0.
//
// Text: text/plain bodies first, then HTML bodies reduced to text (text::HtmlToText), each
// charset-decoded (an undeclared charset is UTF-8, or windows-1252 for bytes that are not
// UTF-8; an HTML body may declare its charset in a <meta>), NFC, lines ending in '\n'.
// Links: http://, https:// and www. URLs written in the text, and the <a href> of HTML
// bodies (http, https, ftp, protocol-relative and www. targets), each URL once; an HTML
// link whose visible text looks like a URL or a domain records the host that text shows
// (Link::text_host). Both hosts are in their ASCII (IDNA) form, the one DNS and URI
// blocklists know, so that "bộcôngan.vn" and "xn--bcngan-jxa6332d.vn" are one host.
//
// Linear in the message, memory bounded by ViewLimits. A pure function, thread-safe.
#ifndef MAILWARDEN_MILTER_SPAM_MESSAGE_VIEW_H_
#define MAILWARDEN_MILTER_SPAM_MESSAGE_VIEW_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "milter/message.h"
#include "milter/spam/spam_types.h"

namespace mailwarden::spam {

struct ViewLimits {
  size_t max_text_bytes = 256 << 10;   // MessageView::body_text (text_truncated beyond)
  size_t max_links = 200;              // MessageView::links (links_truncated beyond)
  size_t max_raw_bytes = 256 << 10;    // MessageView::raw
  size_t max_headers = 500;            // header fields kept in MessageView::headers
  size_t max_header_bytes = 16 << 10;  // of one field's value, before decoding
};

// The view of `message`, which must be finished (Message::FinishContent).
MessageView BuildMessageView(const Message& message, const ViewLimits& limits);

// An address header's first mailbox: "Name <local@domain>", "local@domain (Name)",
// "local@domain", with RFC 2047 words in the display name. The address lower case, ""
// when there is none or it is malformed (no '@', nothing on either side of it, spaces or
// angle brackets inside); the display name decoded, unquoted, NFC.
struct Mailbox {
  std::string address;
  std::string display;
};
Mailbox ParseMailbox(std::string_view value);

// The lower-case host of `url` ("http://user@Host.Example:8080/x" gives
// "host.example"; "www.example.vn/path" gives "www.example.vn"); "" when it names none.
// A name with non-ASCII characters is given in its ASCII form (AsciiHost:
// "http://Bộcôngan.vn/" gives "xn--bcngan-jxa6332d.vn"); one that IDNA refuses stays as
// written, ASCII letters lower-cased, so that comparisons of hosts still see it (DNS
// lookups skip it: it is no letters-digits-hyphens name). Percent-escapes in the host
// are not decoded ("b%E1%BB%99c%C3%B4ngan.vn" stays as it is, lower-cased).
std::string UrlHost(std::string_view url);

// `host` in the ASCII form DNS uses. A name with non-ASCII characters goes through
// UTS #46 ToASCII, nontransitional as browsers resolve it (case folded, "ß" kept,
// "example。com" gives "example.com"), with the Bidi and joiner checks; the result is
// letters, digits, '-', '_' and dots. An ASCII host comes back lower-cased and otherwise
// unchanged (an "xn--" label is taken as it is). Trailing dots are dropped. "" when
// UTS #46 refuses the name (a label that starts with a combining mark, an empty label, a
// disallowed character, bytes that are not UTF-8, more than 253 bytes in ASCII) or its
// ASCII form holds other characters. Thread-safe.
std::string AsciiHost(std::string_view host);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_MESSAGE_VIEW_H_

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
// (Link::text_host).
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
std::string UrlHost(std::string_view url);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_MESSAGE_VIEW_H_

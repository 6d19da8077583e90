// HTML to text: the words a browser would show for an HTML document or fragment, as plain
// lines, for any check that reads what a message says (the classified-documents check, and
// content checks of HTML bodies in general).
//
// An own reducer, not a DOM: one pass over the input, linear time, no tree kept. Input is
// the document already decoded to UTF-8 (the caller converts it from its charset, using
// HtmlDeclaredCharset when the MIME part names none). The rules:
//   - tags are removed, attributes ignored entirely: alt and title text is not shown
//     unless an image fails or the pointer hovers, so it is not the document's text;
//   - block-level elements (p, div, br, hr, li, dt, dd, h1-h6, table, tr, td, th, caption,
//     ul, ol, dl, blockquote, pre, section, article, header, footer, nav, aside, main,
//     address, center, form, fieldset, legend, figure, figcaption, details, summary, option,
//     title, head, body, html and the like) end the current line at their start and end,
//     so every table cell is a line of its own; inline elements (b, i, span, font, a...)
//     do not;
//   - the content of script, style, template, iframe, noembed and noframes is skipped;
//     noscript content is kept (it is what a reader without scripts sees); title and
//     textarea content is text (entities decoded, no tags); xmp and plaintext content is
//     literal preformatted text; comments, <!DOCTYPE>, <?...?> and <![CDATA[...]]> (a
//     comment outside SVG/MathML, as browsers read it) give no text;
//   - character references: the named entities of HTML 4 (all 252) and &apos;, with the
//     ones browsers also accept without ';' (&amp &lt &nbsp &eacute ...); numeric &#NNN;
//     and &#xHH; (';' optional); NUL, surrogates and values past U+10FFFF become U+FFFD,
//     and 128-159 the windows-1252 characters (as browsers do);
//   - whitespace (space, tab, CR, LF, FF) collapses to one space within a line, except in
//     pre, listing, textarea, xmp and plaintext, where spaces and tabs are kept and line
//     ends end lines; &nbsp; (and U+00A0) is a space that does not collapse, so a gap of
//     several &nbsp; stays a gap;
//   - lines are trimmed of spaces and tabs at both ends and end with '\n'; empty lines are
//     dropped; the result is NFC;
//   - a '<' that does not start a tag, comment or declaration is text.
// Damaged input: a tag longer than kMaxHtmlTagBytes (skipped, to its end), a tag, comment
// or declaration that the input ends inside, a script/style/... element never closed: the
// text before is returned, `damaged` says which. Output beyond limits.max_text_bytes is
// cut ("max_text"). Pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_TEXT_HTML_TEXT_H_
#define MAILWARDEN_MILTER_TEXT_HTML_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "milter/text/extracted_text.h"

namespace mailwarden::text {

inline constexpr size_t kMaxHtmlTagBytes = 64u << 10;

inline constexpr size_t kMaxHtmlHrefBytes = 2048;
inline constexpr size_t kMaxHtmlAnchorTextBytes = 256;
inline constexpr size_t kMaxHtmlOpenElements = 512;

// A link of the document: an <a> element with a non-empty href.
struct HtmlAnchor {
  // The href as a browser reads it: character references decoded, tabs and line ends
  // removed, spaces trimmed; at most kMaxHtmlHrefBytes (cut at a character boundary).
  std::string href;
  // The element's visible text, whitespace collapsed, trimmed; at most
  // kMaxHtmlAnchorTextBytes. "" for an image link.
  std::string text;
};

// Counts and facts gathered while reducing, for checks that judge the markup itself (a spam
// check's text-to-markup ratio, image-only mail, hidden text, deceptive links). Gathered
// over the input actually read; the reduced text is the same with or without them.
struct HtmlStats {
  // Set by the caller: how many <a href> links to keep in `anchors` (0: none).
  size_t max_anchors = 0;

  uint64_t elements = 0;      // start tags
  uint64_t links = 0;         // <a> start tags
  uint64_t images = 0;        // <img> start tags
  uint64_t markup_bytes = 0;  // bytes of tags, comments, declarations and skipped content
  // Bytes of text styled not to be seen, spaces and zero-width characters aside (the
  // padding of an e-mail's hidden preview line is not counted). Hidden: inside an element
  // whose style says display:none, visibility:hidden, opacity:0 or a font size of 0 (or of
  // at most 1px/1pt), that carries the `hidden` attribute, or whose text colour is white
  // (style color, <font color>) while no enclosing element sets a background other than
  // white. End tags close elements as in browsers for ordinary nesting (an end tag also
  // closes what is still open inside its element; a stray one closes nothing); elements
  // opened beyond kMaxHtmlOpenElements at once are not followed.
  uint64_t invisible_text_bytes = 0;
  std::vector<HtmlAnchor> anchors;  // in document order
  bool anchors_truncated = false;   // more <a href> than max_anchors were met
};

// The text of `utf8_html` (see the file comment). `stats`, when given, receives the counts
// and facts above.
ExtractedText HtmlToText(std::string_view utf8_html, const TextLimits& limits,
                         HtmlStats* stats = nullptr);

// The charset a document declares in its first 4 KB: <meta charset="..."> or
// <meta http-equiv="Content-Type" content="...; charset=...">, the first such <meta>;
// lower-case, trimmed, "" when none. Returned by value (it is lower-cased).
std::string HtmlDeclaredCharset(std::string_view head);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_HTML_TEXT_H_

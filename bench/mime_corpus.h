// Generated test messages with attachments, for the engine and milter benchmarks.
//
// Every message is built in-process and deterministically (a fixed-seed PRNG), in RFC 5322
// form with CRLF line ends, the way it would arrive over SMTP:
//
//   plain4k      4 KiB text/plain message (the same as mw-milter-bench's built-in one)
//   pdf100k      ~100 KB multipart/mixed: a short text and a base64 PDF (~73 KB decoded:
//                catalog, pages, a text content stream, a high-entropy image stream, xref)
//   zip2m        ~2 MB multipart/mixed: a short text and a base64 zip (deflated, written by
//                libarchive) holding a .docx and a .xlsx (themselves OOXML zips, so the
//                engine opens a second level), a text file, a CSV and a JPEG-like file of
//                random bytes; the text is word salad that deflates about 3:1
//   docx         ~40 KB multipart/mixed with a .docx attachment
//   docx100k     ~95 KB multipart/mixed: a Vietnamese cover note (quoted-printable, RFC 2047
//                subject) and a Vietnamese report as .docx: letterhead table, headings,
//                justified paragraphs in several runs, project tables; about 38 KB of text
//                (28,000 characters, ~9 A4 pages) and a photo; no classification marking,
//                only prose such as "bảo mật thông tin" (the classified_document rule
//                reads all of it)
//   alternative  multipart/alternative, text/plain and quoted-printable text/html
//   inline       multipart/related: HTML referring to an inline PNG-like image (cid:)
//   mixed        ten messages: 4 x plain4k, 2 x alternative, inline, pdf100k, docx, zip2m
//
// Nothing here is malicious by mailwarden's default rules: no executable names or content,
// no encryption, no macros; every message should be accepted.
//
// Thread-safety: pure functions.

#ifndef MAILWARDEN_BENCH_MIME_CORPUS_H_
#define MAILWARDEN_BENCH_MIME_CORPUS_H_

#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::bench {

struct GeneratedMessage {
  std::string name;  // "pdf100k", or "mixed-03-pdf100k" inside the mixed set
  std::string text;  // the whole message, CRLF line ends
};

// The kinds GenerateKind() knows, for usage texts: "plain4k|pdf100k|...".
std::string CorpusKindList();

// Appends the message(s) of `kind` to *out; false with *error for an unknown kind or when
// libarchive cannot write a zip.
bool GenerateKind(std::string_view kind, std::vector<GeneratedMessage>* out, std::string* error);

// Base64 of `bytes` in 76-character lines, each ended by CRLF (RFC 2045).
std::string Base64Lines(std::string_view bytes);

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_MIME_CORPUS_H_

// Raw messages for tests: base64, MIME entities, multiparts and whole messages, built the
// way mail clients write them (CRLF line ends, names in both Content-Type and
// Content-Disposition).
#ifndef MAILWARDEN_TESTS_UNIT_MAIL_BUILDER_H_
#define MAILWARDEN_TESTS_UNIT_MAIL_BUILDER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::testing::mail {

// RFC 2045 base64; `wrap`: 76-character lines, each ending in CRLF.
inline std::string Base64(std::string_view in, bool wrap = true) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(in.size() / 3 * 4 + in.size() / 57 * 2 + 8);
  size_t line = 0;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
    line += 4;
    if (wrap && line == 76) {
      out += "\r\n";
      line = 0;
    }
  }
  if (wrap && line > 0) out += "\r\n";
  return out;
}

// A MIME entity: header lines (each ending in CRLF), the empty line, the body.
inline std::string Entity(const std::string& headers, std::string_view body) {
  return headers + "\r\n" + std::string(body);
}

// A base64 entity with the given Content-Type and Content-Disposition values ("" for none).
inline std::string Base64Entity(const std::string& content_type, const std::string& disposition,
                         std::string_view bytes, const std::string& more_headers = "") {
  std::string h = "Content-Type: " + content_type + "\r\n";
  if (!disposition.empty()) h += "Content-Disposition: " + disposition + "\r\n";
  h += "Content-Transfer-Encoding: base64\r\n" + more_headers;
  return Entity(h, Base64(bytes));
}

// An attachment named `name` in both places mail clients put it.
inline std::string Attachment(const std::string& name, const std::string& type, std::string_view bytes) {
  return Base64Entity(type + "; name=\"" + name + "\"", "attachment; filename=\"" + name + "\"",
                      bytes);
}

// An attachment whose Content-Disposition carries `filename_params` verbatim
// ("filename*=utf-8''..."), for encoded names.
inline std::string AttachmentWithParams(const std::string& filename_params, std::string_view bytes,
                                 const std::string& type = "application/octet-stream") {
  return Base64Entity(type, "attachment; " + filename_params, bytes);
}

// A text part, 8bit UTF-8.
inline std::string Text(std::string_view text, const std::string& type = "text/plain") {
  return Entity("Content-Type: " + type + "; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
                text);
}

inline std::string Multipart(const std::string& subtype, const std::vector<std::string>& parts,
                      const std::string& params = "") {
  static int n = 0;
  std::string boundary = "=_mwtest_" + std::to_string(++n);
  std::string body = "This is a multi-part message in MIME format.\r\n";
  for (const std::string& p : parts) {
    body += "--" + boundary + "\r\n" + p;
    if (!p.ends_with("\r\n")) body += "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return Entity(
      "Content-Type: multipart/" + subtype + "; boundary=\"" + boundary + "\"" + params + "\r\n",
      body);
}

// A whole message: top-level header fields, then `entity` (its own header fields and body).
inline std::string Mail(const std::string& entity, const std::string& subject = "Tài liệu") {
  static int n = 0;
  return "From: Sender <sender@example.net>\r\n"
         "To: staff@bacgiang.gov.vn\r\n"
         "Subject: " +
         subject +
         "\r\n"
         "Date: Mon, 3 Nov 2025 09:00:00 +0700\r\n"
         "Message-ID: <test" +
         std::to_string(++n) +
         "@example.net>\r\n"
         "MIME-Version: 1.0\r\n" +
         entity;
}

inline constexpr char kGreeting[] = "Kính gửi anh chị,\r\nXin gửi tài liệu đính kèm.\r\nTrân trọng.\r\n";

// The usual office mail: a short text and the given attachments.
inline std::string MailWith(const std::vector<std::string>& attachments) {
  std::vector<std::string> parts = {Text(kGreeting)};
  parts.insert(parts.end(), attachments.begin(), attachments.end());
  return Mail(Multipart("mixed", parts));
}

// A message/rfc822 part holding `inner` (a whole message).
inline std::string Forwarded(const std::string& inner) {
  return Entity("Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n", inner);
}

// `size` bytes of plain text lines.
inline std::string TextOfSize(size_t size) {
  static const std::string kLine =
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
  std::string s;
  s.reserve(size + kLine.size());
  while (s.size() < size) s += kLine;
  s.resize(size);
  return s;
}

}  // namespace mailwarden::testing::mail

#endif  // MAILWARDEN_TESTS_UNIT_MAIL_BUILDER_H_

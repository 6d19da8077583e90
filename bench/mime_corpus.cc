// Generated test messages (see mime_corpus.h).
//
// Sizes are targets for the whole message on the wire (CRLF form): the attachment is sized
// so that headers + text part + base64 lines + boundaries land within a few hundred bytes
// of the target. Random bytes stand for already-compressed content (images, PDF image
// streams); word salad from a small vocabulary stands for text (deflate gets about 3:1 out
// of it, which keeps every archive far from mailwarden's expansion-ratio limit).

#include "mime_corpus.h"

#include <archive.h>
#include <archive_entry.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace mailwarden::bench {
namespace {

// splitmix64: small, fast and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

std::string RandomBytes(Rng& rng, size_t n) {
  std::string out(n, '\0');
  size_t i = 0;
  while (i < n) {
    uint64_t v = rng.Next();
    for (int b = 0; b < 8 && i < n; ++b, ++i) {
      out[i] = static_cast<char>(v & 0xFF);
      v >>= 8;
    }
  }
  return out;
}

constexpr const char* kWords[] = {
    "the",        "of",         "and",       "to",          "in",         "budget",
    "report",     "department", "province",  "meeting",     "schedule",   "project",
    "approval",   "document",   "attached",  "please",      "review",     "before",
    "Friday",     "quarter",    "revenue",   "expenses",    "contract",   "supplier",
    "delivery",   "invoice",    "payment",   "office",      "committee",  "decision",
    "regarding",  "according",  "plan",      "implementation", "progress", "summary",
    "district",   "training",   "staff",     "equipment",   "procurement", "tender",
    "deadline",   "minutes",    "agenda",    "item",        "proposal",   "draft",
    "final",      "version",    "changes",   "comments",    "section",    "annex",
    "table",      "figure",     "total",     "estimate",    "actual",     "variance",
    "is",         "are",        "was",       "will",        "be",         "has",
    "have",       "for",        "with",      "on",          "by",         "from",
    "this",       "that",       "these",     "our",         "their",      "all",
    "new",        "current",    "previous",  "next",        "annual",     "monthly",
    "public",     "service",    "health",    "education",   "transport",  "water",
    "road",       "school",     "hospital",  "construction", "maintenance", "inspection",
    "as",         "agreed",     "discussed", "requested",   "submitted",  "received",
    "confirmed",  "updated",    "revised",   "signed",      "issued",     "prepared",
};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

// Sentences of word salad, `bytes` long at least, lines of at most ~72 characters ended
// by `eol`.
std::string WordSalad(Rng& rng, size_t bytes, std::string_view eol = "\r\n") {
  std::string out, line;
  bool sentence_start = true;
  int left_in_sentence = 0;
  while (out.size() < bytes) {
    if (left_in_sentence == 0) left_in_sentence = 6 + static_cast<int>(rng.Below(12));
    std::string word = kWords[rng.Below(kWordCount)];
    if (sentence_start) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
    sentence_start = false;
    if (--left_in_sentence == 0) {
      word += rng.Below(5) == 0 ? ";" : ".";
      sentence_start = word.back() == '.';
    }
    if (!line.empty() && line.size() + 1 + word.size() > 72) {
      out += line;
      out += eol;
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) {
    out += line;
    out += eol;
  }
  return out;
}

// Word salad without line ends, for XML text nodes.
std::string Sentence(Rng& rng) {
  std::string s = WordSalad(rng, 60 + rng.Below(200), " ");
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string Base64Raw(std::string_view bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Wire bytes of Base64Lines() for `decoded` bytes.
size_t Base64WireSize(size_t decoded) { return (decoded + 56) / 57 * 78; }

// Quoted-printable (RFC 2045 §6.7) of ASCII text with CRLF line ends: '=' and bytes
// outside printable ASCII are escaped, lines are soft-broken before 76 characters.
std::string QuotedPrintable(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out, line;
  auto flush_soft = [&] {
    out += line;
    out += "=\r\n";
    line.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out += line;
      out += "\r\n";
      line.clear();
      ++i;
      continue;
    }
    std::string enc;
    if ((c >= 33 && c <= 126 && c != '=') || c == ' ') {
      enc = static_cast<char>(c);
    } else {
      enc = {'=', kHex[c >> 4], kHex[c & 15]};
    }
    if (line.size() + enc.size() > 75) flush_soft();
    line += enc;
  }
  out += line;
  return out;
}

// --- message framing ---------------------------------------------------------------------

std::string HeaderBlock(std::string_view subject, std::string_view id, std::string_view ct) {
  std::string h =
      "Return-Path: <sender@bench.example>\r\n"
      "Received: from client.bench.example (client.bench.example [192.0.2.10])\r\n"
      "\tby mx.bench.example (Postfix) with ESMTPS id 4XBENCH0001\r\n"
      "\tfor <rcpt@bench.example>; Mon, 30 Nov 2026 07:00:00 +0700 (+07)\r\n"
      "From: Bench Sender <sender@bench.example>\r\n"
      "To: Bench Recipient <rcpt@bench.example>\r\n";
  h += "Subject: ";
  h += subject;
  h += "\r\nDate: Mon, 30 Nov 2026 07:00:00 +0700\r\nMessage-ID: <bench-";
  h += id;
  h += "@bench.example>\r\nMIME-Version: 1.0\r\nContent-Type: ";
  h += ct;
  h += "\r\n";
  return h;
}

// One body part: its header lines, an empty line, the content (already encoded, CRLF).
struct Part {
  std::string headers;  // each line ended by CRLF
  std::string body;     // ends with CRLF
};

Part TextPart(std::string body) {
  return {"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n",
          std::move(body)};
}

Part FilePart(std::string_view type, std::string_view name, std::string_view bytes,
              std::string_view disposition = "attachment", std::string_view cid = "") {
  Part p;
  p.headers = "Content-Type: " + std::string(type) + "; name=\"" + std::string(name) + "\"\r\n";
  p.headers += "Content-Disposition: " + std::string(disposition) + "; filename=\"" +
               std::string(name) + "\"\r\n";
  if (!cid.empty()) p.headers += "Content-ID: <" + std::string(cid) + ">\r\n";
  p.headers += "Content-Transfer-Encoding: base64\r\n";
  p.body = Base64Lines(bytes);
  return p;
}

std::string Multipart(std::string_view boundary, const std::vector<Part>& parts,
                      bool preamble = true) {
  std::string out;
  if (preamble) out += "This is a multi-part message in MIME format.\r\n\r\n";
  for (const Part& p : parts) {
    out += "--";
    out += boundary;
    out += "\r\n";
    out += p.headers;
    out += "\r\n";
    out += p.body;
  }
  out += "--";
  out += boundary;
  out += "--\r\n";
  return out;
}

// A message whose body is a multipart of `subtype` with `parts`.
std::string MultipartMessage(std::string_view id, std::string_view subject,
                             std::string_view subtype, const std::vector<Part>& parts,
                             std::string_view extra_ct_params = "") {
  std::string boundary = "=_mwbench_" + std::string(id) + "_b1";
  std::string ct = "multipart/" + std::string(subtype) + ";" + std::string(extra_ct_params) +
                   "\r\n\tboundary=\"" + boundary + "\"";
  return HeaderBlock(subject, id, ct) + "\r\n" + Multipart(boundary, parts);
}

// --- attachment builders -----------------------------------------------------------------

// A PDF 1.7 file of `total` bytes (about): catalog, page tree, one page with a text content
// stream and a /FlateDecode image XObject of high-entropy bytes (what a scanned or
// photographic page holds), a cross-reference table with the real offsets, the trailer.
std::string MakePdf(Rng& rng, size_t total) {
  std::string pdf = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
  std::vector<size_t> offsets;
  auto object = [&](const std::string& body) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
  };
  object("<< /Type /Catalog /Pages 2 0 R >>");
  object("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
  object(
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R\n"
      "   /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>");
  std::string text = "BT /F1 11 Tf 56 790 Td 14 TL\n";
  for (int i = 0; i < 40; ++i) {
    std::string s = Sentence(rng).substr(0, 90);
    text += "(" + s + ") Tj T*\n";
  }
  text += "ET\nq 480 0 0 320 56 120 cm /Im1 Do Q\n";
  object("<< /Length " + std::to_string(text.size()) + " >>\nstream\n" + text + "\nendstream");
  object("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  // The image fills what is left; the xref and trailer take about 200 bytes.
  size_t used = pdf.size() + 400;
  size_t image = total > used ? total - used : 1024;
  object("<< /Type /XObject /Subtype /Image /Width 640 /Height 427 /ColorSpace /DeviceRGB\n"
         "   /BitsPerComponent 8 /Filter /FlateDecode /Length " +
         std::to_string(image) + " >>\nstream\n" + RandomBytes(rng, image) + "\nendstream");
  offsets.push_back(pdf.size());  // /Info
  pdf += std::to_string(offsets.size()) +
         " 0 obj\n<< /Producer (mailwarden bench) /CreationDate (D:20261130070000+07'00') >>"
         "\nendobj\n";
  size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof(line), "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) + " /Root 1 0 R /Info " +
         std::to_string(offsets.size()) + " 0 R >>\nstartxref\n" + std::to_string(xref) +
         "\n%%EOF\n";
  return pdf;
}

// A JPEG-like file: SOI, a JFIF APP0 segment, then random bytes (entropy-coded data), EOI.
std::string MakeJpeg(Rng& rng, size_t total) {
  std::string j("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x01\x00\x48\x00\x48\x00\x00", 20);
  if (total > j.size() + 2) j += RandomBytes(rng, total - j.size() - 2);
  j += "\xFF\xD9";
  return j;
}

// A PNG-like file: signature, IHDR, one IDAT of random bytes, IEND (CRCs are not real).
std::string MakePng(Rng& rng, size_t total) {
  std::string p("\x89PNG\r\n\x1A\n", 8);
  p += std::string("\x00\x00\x00\x0DIHDR\x00\x00\x01\x40\x00\x00\x00\xF0\x08\x02\x00\x00\x00", 21);
  p += RandomBytes(rng, 4);
  size_t idat = total > 60 ? total - 60 : 16;
  p += std::string(1, static_cast<char>((idat >> 24) & 0xFF)) +
       static_cast<char>((idat >> 16) & 0xFF) + static_cast<char>((idat >> 8) & 0xFF) +
       static_cast<char>(idat & 0xFF);
  p += "IDAT" + RandomBytes(rng, idat) + RandomBytes(rng, 4);
  p += std::string("\x00\x00\x00\x00IEND\xAE\x42\x60\x82", 12);
  return p;
}

struct ZipMember {
  std::string name;
  std::string data;
};

la_ssize_t AppendToString(struct archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// A zip (deflated members) of `members`, written by libarchive into memory.
bool WriteZip(const std::vector<ZipMember>& members, std::string* out, std::string* error) {
  out->clear();
  struct archive* a = archive_write_new();
  if (a == nullptr) {
    *error = "archive_write_new failed";
    return false;
  }
  bool ok = archive_write_set_format_zip(a) == ARCHIVE_OK &&
            archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK &&
            archive_write_open(a, out, nullptr, AppendToString, nullptr) == ARCHIVE_OK;
  for (size_t i = 0; ok && i < members.size(); ++i) {
    const ZipMember& m = members[i];
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1796000000, 0);  // a fixed date: same bytes every run
    ok = archive_write_header(a, e) == ARCHIVE_OK;
    size_t done = 0;
    while (ok && done < m.data.size()) {
      la_ssize_t n = archive_write_data(a, m.data.data() + done, m.data.size() - done);
      if (n <= 0) ok = false;
      else done += static_cast<size_t>(n);
    }
    archive_entry_free(e);
  }
  if (!ok) *error = std::string("libarchive: ") + (archive_error_string(a) ? archive_error_string(a) : "zip write failed");
  if (archive_write_close(a) != ARCHIVE_OK && ok) {
    *error = "libarchive: closing the zip failed";
    ok = false;
  }
  archive_write_free(a);
  return ok;
}

constexpr char kXmlDecl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n";

// What word/document.xml starts with, up to the body's first child.
std::string DocumentXmlHead() {
  return std::string(kXmlDecl) +
         "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
         "<w:body>";
}

std::vector<ZipMember> OoxmlCommon(std::string_view main_type, std::string_view main_part,
                                   std::string_view extra_defaults = "") {
  std::vector<ZipMember> m;
  m.push_back({"[Content_Types].xml",
               std::string(kXmlDecl) +
                   "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                   "<Default Extension=\"rels\" ContentType=\"application/"
                   "vnd.openxmlformats-package.relationships+xml\"/>"
                   "<Default Extension=\"xml\" ContentType=\"application/xml\"/>" +
                   std::string(extra_defaults) + "<Override PartName=\"/" +
                   std::string(main_part) + "\" ContentType=\"" + std::string(main_type) +
                   "\"/><Override PartName=\"/docProps/core.xml\" ContentType=\"application/"
                   "vnd.openxmlformats-package.core-properties+xml\"/></Types>"});
  m.push_back({"_rels/.rels",
               std::string(kXmlDecl) +
                   "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                   "relationships\"><Relationship Id=\"rId1\" Type=\"http://"
                   "schemas.openxmlformats.org/officeDocument/2006/relationships/"
                   "officeDocument\" Target=\"" +
                   std::string(main_part) +
                   "\"/><Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/"
                   "package/2006/relationships/metadata/core-properties\" "
                   "Target=\"docProps/core.xml\"/></Relationships>"});
  m.push_back({"docProps/core.xml",
               std::string(kXmlDecl) +
                   "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/"
                   "2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
                   "<dc:title>Quarterly report</dc:title><dc:creator>Bench Sender</dc:creator>"
                   "</cp:coreProperties>"});
  return m;
}

// A .docx whose word/document.xml holds `body` (the children of <w:body> before the
// section properties), an embedded photo of `image_bytes` (none when 0) and the `parts`
// given (styles, settings, ...: name and content; `overrides` are their [Content_Types]
// entries). The one writer of .docx files here.
bool WriteDocx(Rng& rng, std::string_view body, size_t image_bytes, std::vector<ZipMember> parts,
               std::string_view overrides, std::string* out, std::string* error) {
  std::vector<ZipMember> m = OoxmlCommon(
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
      "word/document.xml",
      "<Default Extension=\"jpeg\" ContentType=\"image/jpeg\"/>" + std::string(overrides));
  m.push_back({"word/document.xml",
               DocumentXmlHead() + std::string(body) +
                   "<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/></w:sectPr></w:body>"
                   "</w:document>"});
  m.push_back({"word/_rels/document.xml.rels",
               std::string(kXmlDecl) +
                   "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                   "relationships\"><Relationship Id=\"rId5\" Type=\"http://"
                   "schemas.openxmlformats.org/officeDocument/2006/relationships/image\" "
                   "Target=\"media/image1.jpeg\"/></Relationships>"});
  for (ZipMember& part : parts) m.push_back(std::move(part));
  if (image_bytes > 0) m.push_back({"word/media/image1.jpeg", MakeJpeg(rng, image_bytes)});
  return WriteZip(m, out, error);
}

// A .docx of about `text_bytes` of document text in English word salad (plus an embedded
// photo when `image_bytes` > 0).
bool MakeDocx(Rng& rng, size_t text_bytes, size_t image_bytes, std::string* out,
              std::string* error) {
  const size_t head = DocumentXmlHead().size();
  std::string body;
  while (head + body.size() < text_bytes) {
    body += "<w:p><w:pPr><w:pStyle w:val=\"Normal\"/></w:pPr><w:r><w:t xml:space=\"preserve\">" +
            Sentence(rng) + "</w:t></w:r></w:p>\r\n";
  }
  return WriteDocx(rng, body, image_bytes, {}, "", out, error);
}

// --- a Vietnamese report (.docx) --------------------------------------------------------
//
// What a provincial department sends every day: a report with the letterhead table, upper
// case section headings, justified paragraphs split into runs as Word writes them, and
// tables of projects and figures, in Times New Roman 14 pt. The prose is salad from
// administrative phrases; it holds no classification marking (no "Độ mật" field, no upper
// case degree alone on a line), only words such as "bảo mật" and "mật khẩu" in sentences.

// clang-format off
constexpr const char* kViPhrases[] = {
    "kế hoạch đầu tư công", "giai đoạn 2026-2030", "vốn ngân sách địa phương", "giải ngân",
    "tiến độ", "các dự án", "công trình", "chủ đầu tư", "thẩm định", "phê duyệt", "điều chỉnh",
    "báo cáo", "đề xuất", "thực hiện", "triển khai", "đôn đốc", "kiểm tra", "giám sát",
    "đánh giá", "tổng hợp", "hạ tầng giao thông", "trường học", "bệnh viện", "thủy lợi",
    "nông thôn mới", "chuyển đổi số", "cải cách hành chính", "đấu thầu", "nhà thầu",
    "hợp đồng", "thanh toán", "quyết toán", "khối lượng hoàn thành", "giải phóng mặt bằng",
    "bồi thường, hỗ trợ tái định cư", "theo quy định của pháp luật", "trong năm",
    "đến ngày 30 tháng 11", "so với cùng kỳ", "đạt", "tăng", "giảm", "khoảng", "tỷ đồng",
    "nguồn vốn", "kế hoạch vốn", "đã được giao", "chưa hoàn thành", "còn chậm", "khó khăn",
    "vướng mắc", "nguyên nhân", "giải pháp", "nhiệm vụ trọng tâm", "thời gian tới", "tiếp tục",
    "tăng cường", "phối hợp chặt chẽ", "với", "và", "các", "những", "để", "trên địa bàn tỉnh",
    "huyện", "thị xã", "thành phố", "xã", "phường", "cán bộ, công chức", "người dân",
    "doanh nghiệp", "hiệu quả", "kịp thời", "đúng tiến độ", "chất lượng", "an toàn",
    "bảo mật thông tin", "không chia sẻ mật khẩu", "hệ thống", "phần mềm", "dữ liệu",
    "cơ sở dữ liệu", "văn bản", "hồ sơ", "thủ tục", "dịch vụ công trực tuyến",
    "của Ủy ban nhân dân tỉnh", "Sở Tài chính", "Kho bạc Nhà nước", "Hội đồng nhân dân",
    "nghị quyết", "quyết định", "kết luận", "chỉ đạo", "điều hành", "quản lý",
};
// clang-format on
constexpr size_t kViPhraseCount = sizeof(kViPhrases) / sizeof(kViPhrases[0]);

// clang-format off
constexpr const char* kViOpenings[] = {
    "Trong năm 2026,", "Căn cứ kế hoạch được giao,", "Nhìn chung,", "Bên cạnh đó,",
    "Tuy nhiên,", "Đối với", "Ủy ban nhân dân tỉnh", "Sở Kế hoạch và Đầu tư", "Các chủ đầu tư",
    "Theo báo cáo của các đơn vị,", "Về công tác", "Đến nay,", "Qua kiểm tra,", "Để khắc phục",
    "Dự kiến", "Một số",
};
// clang-format on
constexpr size_t kViOpeningCount = sizeof(kViOpenings) / sizeof(kViOpenings[0]);

constexpr const char* kViSections[] = {
    "KẾT QUẢ THỰC HIỆN KẾ HOẠCH ĐẦU TƯ CÔNG NĂM 2026",
    "TÌNH HÌNH GIẢI NGÂN CÁC NGUỒN VỐN",
    "ĐÁNH GIÁ CHUNG",
    "NHIỆM VỤ, GIẢI PHÁP TRỌNG TÂM NĂM 2027",
    "KIẾN NGHỊ, ĐỀ XUẤT",
};
constexpr const char* kViSubsections[] = {
    "Tình hình giao và phân bổ kế hoạch vốn",
    "Công tác chỉ đạo, điều hành",
    "Kết quả giải ngân",
    "Công tác giải phóng mặt bằng",
    "Công tác đấu thầu, lựa chọn nhà thầu",
    "Tồn tại, hạn chế và nguyên nhân",
    "Ứng dụng công nghệ thông tin, chuyển đổi số",
};
constexpr const char* kViRomans[] = {"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"};

constexpr const char* kViWorks[] = {
    "Xây dựng", "Cải tạo, nâng cấp", "Mở rộng", "Sửa chữa", "Đầu tư trang thiết bị cho",
};
constexpr const char* kViObjects[] = {
    "đường tỉnh 295B",
    "trường THCS Tiên Du",
    "trạm y tế xã Đông Phong",
    "kênh tiêu Ngũ Huyện Khê",
    "trụ sở Ủy ban nhân dân huyện Gia Bình",
    "cầu Hồ",
    "bệnh viện đa khoa huyện Lương Tài",
    "nhà văn hóa thôn Đông",
    "hệ thống cấp nước sạch xã Yên Phụ",
    "đê hữu sông Cầu",
};
constexpr const char* kViOwners[] = {
    "Ban QLDA xây dựng giao thông", "UBND huyện Tiên Du",   "Sở Y tế",
    "Sở Giáo dục và Đào tạo",       "Ban QLDA nông nghiệp", "UBND thị xã Quế Võ",
};
constexpr const char* kViNotes[] = {
    "", "Đang thi công", "Vướng mặt bằng", "Hoàn thành", "Chờ quyết toán", "Điều chỉnh dự án", ""};

template <size_t N>
const char* Pick(Rng& rng, const char* const (&list)[N]) {
  return list[rng.Below(N)];
}

// 12.345.678: the thousands separator of Vietnamese figures.
std::string ViNumber(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += '.';
    out += digits[i];
  }
  return out;
}

std::string ViSentence(Rng& rng) {
  std::string s = kViOpenings[rng.Below(kViOpeningCount)];
  const int words = 8 + static_cast<int>(rng.Below(14));
  for (int i = 0; i < words; ++i) {
    s += ' ';
    s += kViPhrases[rng.Below(kViPhraseCount)];
    if (i + 1 < words && rng.Below(9) == 0) s += ',';
  }
  s += '.';
  return s;
}

// Appends Word markup to `xml` and counts the document's visible text in `text_bytes`.
class ViDocument {
 public:
  explicit ViDocument(Rng& rng) : rng_(rng) {}

  // A paragraph of `runs` (each its own <w:r>, as Word splits text edited at different
  // times), `ppr` its paragraph properties, `rpr` the runs' properties.
  void Paragraph(const std::vector<std::string>& runs, std::string_view ppr,
                 std::string_view rpr = kBodyRun) {
    xml_ += "<w:p w:rsidR=\"" + Rsid() + "\" w:rsidRDefault=\"" + Rsid() + "\"><w:pPr>";
    xml_ += ppr;
    xml_ += "</w:pPr>";
    for (const std::string& r : runs) {
      xml_ += "<w:r w:rsidRPr=\"" + Rsid() + "\"><w:rPr>";
      xml_ += rpr;
      xml_ += "</w:rPr><w:t xml:space=\"preserve\">" + r + "</w:t></w:r>";
      text_bytes_ += r.size();
    }
    xml_ += "</w:p>\r\n";
  }
  void Body(int sentences) {
    std::vector<std::string> runs;
    for (int i = 0; i < sentences; ++i) runs.push_back((i ? " " : "") + ViSentence(rng_));
    Paragraph(runs, kBodyPara);
  }
  void Heading(std::string_view text, bool centred = false) {
    Paragraph({std::string(text)},
              centred ? "<w:spacing w:before=\"240\" w:after=\"120\"/><w:jc w:val=\"center\"/>"
                      : "<w:keepNext/><w:spacing w:before=\"240\" w:after=\"120\"/><w:ind "
                        "w:firstLine=\"567\"/><w:jc w:val=\"both\"/>",
              kBoldRun);
  }
  // A table: `widths` in twentieths of a point, the first row a header repeated on every
  // page; each row's cells centred or left.
  void Table(const std::vector<int>& widths, const std::vector<std::vector<std::string>>& rows,
             bool borders = true) {
    xml_ += "<w:tbl><w:tblPr>";
    xml_ += borders ? "<w:tblStyle w:val=\"TableGrid\"/>" : "";
    xml_ += "<w:tblW w:w=\"5000\" w:type=\"pct\"/><w:tblLook w:val=\"04A0\"/></w:tblPr><w:tblGrid>";
    for (int w : widths) xml_ += "<w:gridCol w:w=\"" + std::to_string(w) + "\"/>";
    xml_ += "</w:tblGrid>\r\n";
    for (size_t r = 0; r < rows.size(); ++r) {
      xml_ += "<w:tr w:rsidR=\"" + Rsid() + "\">";
      if (r == 0 && borders) xml_ += "<w:trPr><w:tblHeader/></w:trPr>";
      for (size_t c = 0; c < rows[r].size() && c < widths.size(); ++c) {
        xml_ += "<w:tc><w:tcPr><w:tcW w:w=\"" + std::to_string(widths[c]) +
                "\" w:type=\"dxa\"/><w:vAlign w:val=\"center\"/></w:tcPr>";
        // A cell's lines are paragraphs of their own.
        std::string_view cell = rows[r][c];
        size_t start = 0;
        do {
          size_t nl = cell.find('\n', start);
          std::string line(cell.substr(start, nl == std::string_view::npos ? nl : nl - start));
          xml_ += "<w:p><w:pPr><w:spacing w:before=\"40\" w:after=\"40\"/><w:jc w:val=\"" +
                  std::string(c == 1 || !borders ? "left" : "center") + "\"/></w:pPr>";
          if (!line.empty()) {
            xml_ += "<w:r><w:rPr>" + std::string(r == 0 && borders ? kBoldCellRun : kCellRun) +
                    "</w:rPr><w:t xml:space=\"preserve\">" + line + "</w:t></w:r>";
            text_bytes_ += line.size();
          }
          xml_ += "</w:p>";
          start = nl == std::string_view::npos ? nl : nl + 1;
        } while (start != std::string_view::npos);
        xml_ += "</w:tc>";
      }
      xml_ += "</w:tr>\r\n";
    }
    xml_ += "</w:tbl>\r\n";
  }
  void ProjectTable(int rows) {
    std::vector<std::vector<std::string>> t = {
        {"STT", "Tên dự án", "Chủ đầu tư", "Kế hoạch vốn năm 2026 (triệu đồng)",
         "Giải ngân đến 30/11 (triệu đồng)", "Tỷ lệ (%)", "Ghi chú"}};
    for (int i = 1; i <= rows; ++i) {
      uint64_t plan = 2000 + rng_.Below(180000);
      uint64_t paid = plan * (20 + rng_.Below(81)) / 100;
      t.push_back({std::to_string(i),
                   std::string(Pick(rng_, kViWorks)) + " " + Pick(rng_, kViObjects),
                   Pick(rng_, kViOwners), ViNumber(plan), ViNumber(paid),
                   std::to_string(paid * 100 / plan) + "," + std::to_string(rng_.Below(10)),
                   Pick(rng_, kViNotes)});
    }
    Table({567, 2835, 1701, 1418, 1418, 850, 1134}, t);
  }

  const std::string& xml() const { return xml_; }
  size_t text_bytes() const { return text_bytes_; }

  static constexpr std::string_view kBodyPara =
      "<w:spacing w:before=\"120\" w:after=\"60\" w:line=\"288\" w:lineRule=\"auto\"/><w:ind "
      "w:firstLine=\"567\"/><w:jc w:val=\"both\"/>";
  static constexpr std::string_view kBodyRun =
      "<w:sz w:val=\"28\"/><w:szCs w:val=\"28\"/><w:lang w:val=\"vi-VN\"/>";
  static constexpr std::string_view kBoldRun =
      "<w:b/><w:bCs/><w:sz w:val=\"28\"/><w:szCs w:val=\"28\"/><w:lang w:val=\"vi-VN\"/>";
  static constexpr std::string_view kCellRun =
      "<w:sz w:val=\"24\"/><w:szCs w:val=\"24\"/><w:lang w:val=\"vi-VN\"/>";
  static constexpr std::string_view kBoldCellRun =
      "<w:b/><w:sz w:val=\"24\"/><w:szCs w:val=\"24\"/><w:lang w:val=\"vi-VN\"/>";

 private:
  std::string Rsid() {
    char b[16];
    std::snprintf(b, sizeof(b), "00%06llX", static_cast<unsigned long long>(rng_.Below(1 << 24)));
    return b;
  }

  Rng& rng_;
  std::string xml_;
  size_t text_bytes_ = 0;
};

// The body of a report of about `text_bytes` of visible text (several pages: an A4 page of
// 14 pt text holds about 3,500 bytes of Vietnamese UTF-8).
std::string ViReportBody(Rng& rng, size_t text_bytes) {
  ViDocument d(rng);
  d.Table({4536, 5386},
          {{"ỦY BAN NHÂN DÂN TỈNH BẮC NINH\nSỞ KẾ HOẠCH VÀ ĐẦU TƯ\nSố: 2145/BC-SKHĐT",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
            "Bắc Ninh, ngày 30 tháng 11 năm 2026"}},
          false);
  d.Heading("BÁO CÁO", true);
  d.Heading("Tình hình thực hiện kế hoạch đầu tư công năm 2026 và dự kiến kế hoạch năm 2027", true);
  d.Body(3);
  size_t section = 0;
  // Leave room for the closing block (~600 bytes).
  while (d.text_bytes() + 600 < text_bytes) {
    d.Heading(std::string(kViRomans[section % 10]) + ". " +
              kViSections[section % (sizeof(kViSections) / sizeof(kViSections[0]))]);
    for (int sub = 1; sub <= 3 && d.text_bytes() + 600 < text_bytes; ++sub) {
      d.Heading(std::to_string(sub) + ". " + Pick(rng, kViSubsections));
      for (int p = 0, n = 2 + static_cast<int>(rng.Below(3)); p < n; ++p) {
        d.Body(3 + static_cast<int>(rng.Below(4)));
      }
    }
    d.Paragraph({"Bảng " + std::to_string(section + 1) +
                 ". Tình hình giải ngân các dự án trọng điểm (số liệu đến ngày 30/11/2026)"},
                "<w:spacing w:before=\"120\" w:after=\"60\"/><w:jc w:val=\"center\"/>",
                ViDocument::kBoldRun);
    d.ProjectTable(8 + static_cast<int>(rng.Below(8)));
    ++section;
  }
  d.Table({4536, 5386},
          {{"Nơi nhận:\n- UBND tỉnh (b/c);\n- Sở Tài chính;\n- Kho bạc Nhà nước tỉnh;\n"
            "- Lưu: VT, TH.",
            "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC\n\n\n\nNguyễn Văn Hùng"}},
          false);
  return d.xml();
}

// The document parts Word always writes besides the text, with their [Content_Types]
// overrides.
std::vector<ZipMember> WordSupportParts() {
  const std::string w = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"";
  std::string styles = std::string(kXmlDecl) + "<w:styles " + w +
                       "><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii=\"Times New "
                       "Roman\" w:hAnsi=\"Times New Roman\" w:cs=\"Times New Roman\"/><w:sz "
                       "w:val=\"28\"/><w:lang w:val=\"vi-VN\"/></w:rPr></w:rPrDefault>"
                       "<w:pPrDefault/></w:docDefaults>";
  for (const char* id : {"Normal", "Heading1", "Heading2", "TableGrid", "Header", "Footer",
                         "ListParagraph", "FootnoteText"}) {
    styles += "<w:style w:type=\"" +
              std::string(std::string_view(id) == "TableGrid" ? "table" : "paragraph") +
              "\" w:styleId=\"" + id + "\"><w:name w:val=\"" + id +
              "\"/><w:qFormat/><w:pPr><w:spacing w:after=\"0\" w:line=\"240\" "
              "w:lineRule=\"auto\"/></w:pPr></w:style>";
  }
  styles += "</w:styles>";
  std::string fonts = std::string(kXmlDecl) + "<w:fonts " + w + ">";
  for (const char* f : {"Times New Roman", "Calibri", "Arial", "Cambria Math"}) {
    fonts += "<w:font w:name=\"" + std::string(f) +
             "\"><w:charset w:val=\"00\"/><w:family w:val=\"roman\"/><w:pitch "
             "w:val=\"variable\"/></w:font>";
  }
  fonts += "</w:fonts>";
  return {
      {"word/styles.xml", std::move(styles)},
      {"word/settings.xml",
       std::string(kXmlDecl) + "<w:settings " + w +
           "><w:zoom w:percent=\"100\"/><w:defaultTabStop "
           "w:val=\"720\"/><w:characterSpacingControl "
           "w:val=\"doNotCompress\"/><w:compat><w:compatSetting w:name=\"compatibilityMode\" "
           "w:uri=\"http://schemas.microsoft.com/office/word\" w:val=\"15\"/></w:compat>"
           "<w:themeFontLang w:val=\"vi-VN\"/></w:settings>"},
      {"word/fontTable.xml", std::move(fonts)},
      {"docProps/app.xml",
       std::string(kXmlDecl) +
           "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/"
           "extended-properties\"><Template>Normal.dotm</Template><Pages>9</Pages>"
           "<Application>Microsoft Office Word</Application><AppVersion>16.0000</AppVersion>"
           "</Properties>"},
  };
}

constexpr char kWordSupportOverrides[] =
    "<Override PartName=\"/word/styles.xml\" ContentType=\"application/"
    "vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/>"
    "<Override PartName=\"/word/settings.xml\" ContentType=\"application/"
    "vnd.openxmlformats-officedocument.wordprocessingml.settings+xml\"/>"
    "<Override PartName=\"/word/fontTable.xml\" ContentType=\"application/"
    "vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml\"/>"
    "<Override PartName=\"/docProps/app.xml\" ContentType=\"application/"
    "vnd.openxmlformats-officedocument.extended-properties+xml\"/>";

// A .xlsx whose one sheet holds about `sheet_bytes` of cells.
bool MakeXlsx(Rng& rng, size_t sheet_bytes, std::string* out, std::string* error) {
  std::vector<ZipMember> m = OoxmlCommon(
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
      "xl/workbook.xml");
  m.push_back({"xl/workbook.xml",
               std::string(kXmlDecl) +
                   "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/"
                   "main\"><sheets><sheet name=\"Budget\" sheetId=\"1\" r:id=\"rId1\"/></sheets>"
                   "</workbook>"});
  std::string sheet = std::string(kXmlDecl) +
                      "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/"
                      "main\"><sheetData>";
  for (int row = 1; sheet.size() < sheet_bytes; ++row) {
    sheet += "<row r=\"" + std::to_string(row) + "\">";
    for (char col = 'A'; col <= 'H'; ++col) {
      sheet += "<c r=\"" + std::string(1, col) + std::to_string(row) + "\"><v>" +
               std::to_string(rng.Below(10000000)) + "." + std::to_string(rng.Below(100)) +
               "</v></c>";
    }
    sheet += "</row>\r\n";
  }
  sheet += "</sheetData></worksheet>";
  m.push_back({"xl/worksheets/sheet1.xml", std::move(sheet)});
  return WriteZip(m, out, error);
}

std::string Csv(Rng& rng, size_t bytes) {
  std::string csv = "date,district,item,quantity,unit_price,total,comment\r\n";
  while (csv.size() < bytes) {
    uint64_t q = 1 + rng.Below(500), p = 1000 + rng.Below(900000);
    csv += "2026-" + std::to_string(1 + rng.Below(12)) + "-" + std::to_string(1 + rng.Below(28)) +
           "," + kWords[rng.Below(kWordCount)] + "," + kWords[rng.Below(kWordCount)] + " " +
           kWords[rng.Below(kWordCount)] + "," + std::to_string(q) + "," + std::to_string(p) +
           "," + std::to_string(q * p) + ",\"" + Sentence(rng).substr(0, 40) + "\"\r\n";
  }
  return csv;
}

// --- the kinds ---------------------------------------------------------------------------

std::string CoverText(Rng& rng, size_t bytes) {
  return "Dear colleague,\r\n\r\n" + WordSalad(rng, bytes) + "\r\nBest regards,\r\nBench Sender\r\n";
}

// Decoded attachment bytes that make a message of `wire_total` bytes, given everything
// else in it weighs `other` bytes.
size_t DecodedFor(size_t wire_total, size_t other) {
  size_t room = wire_total > other ? wire_total - other : 0;
  return room / 78 * 57;
}

std::string Plain(size_t total_bytes, std::string_view id) {
  std::string text =
      HeaderBlock("mailwarden benchmark message", id, "text/plain; charset=us-ascii") +
      "Content-Transfer-Encoding: 7bit\r\n\r\n";
  static constexpr std::string_view kLine =
      "The quick brown fox jumps over the lazy dog while the benchmark counts.\r\n";
  while (text.size() + kLine.size() <= total_bytes) text.append(kLine);
  return text;
}

// A message of about `wire_total` bytes: a short cover text and one base64 attachment made
// by `make(decoded_bytes)`.
template <typename Make>
std::string WithAttachment(Rng& rng, std::string_view id, std::string_view subject,
                           std::string_view type, std::string_view name, size_t wire_total,
                           Make make) {
  Part cover = TextPart(CoverText(rng, 600));
  std::string skeleton = MultipartMessage(id, subject, "mixed", {cover, FilePart(type, name, "")});
  size_t decoded = DecodedFor(wire_total, skeleton.size());
  std::string bytes = make(decoded);
  return MultipartMessage(id, subject, "mixed", {cover, FilePart(type, name, bytes)});
}

std::string Pdf100k(uint64_t seed, std::string_view id) {
  Rng rng(seed);
  return WithAttachment(rng, id, "Quarterly report (PDF)", "application/pdf",
                        "Q3-report-2026.pdf", 100 * 1000,
                        [&](size_t n) { return MakePdf(rng, n); });
}

bool Zip2m(uint64_t seed, std::string_view id, std::string* out, std::string* error) {
  Rng rng(seed);
  std::string docx, xlsx;
  if (!MakeDocx(rng, 400 << 10, 60 << 10, &docx, error)) return false;
  if (!MakeXlsx(rng, 300 << 10, &xlsx, error)) return false;
  std::vector<ZipMember> members = {
      {"Q3 report/report.docx", std::move(docx)},
      {"Q3 report/budget.xlsx", std::move(xlsx)},
      {"Q3 report/minutes.txt", WordSalad(rng, 150 << 10)},
      {"Q3 report/procurement.csv", Csv(rng, 200 << 10)},
      {"Q3 report/site-photo.jpg", ""},
  };
  Part cover = TextPart(CoverText(rng, 600));
  const std::string subject = "Q3 report, all documents (zip)";
  const std::string type = "application/zip", name = "Q3-report-2026.zip";
  std::string skeleton =
      MultipartMessage(id, subject, "mixed", {cover, FilePart(type, name, "")});
  const size_t target = DecodedFor(2u << 20, skeleton.size());
  // The photo (incompressible) fills the zip up to the target; two passes absorb the
  // zip's own overhead for it.
  std::string zip;
  size_t photo = 0;
  for (int pass = 0; pass < 3; ++pass) {
    Rng photo_rng(seed ^ 0x5A5A5A5Aull);
    members.back().data = MakeJpeg(photo_rng, photo);
    if (!WriteZip(members, &zip, error)) return false;
    if (zip.size() == target) break;
    long long next = static_cast<long long>(photo) + static_cast<long long>(target) -
                     static_cast<long long>(zip.size());
    photo = next > 64 ? static_cast<size_t>(next) : 64;
  }
  *out = MultipartMessage(id, subject, "mixed", {cover, FilePart(type, name, zip)});
  return true;
}

bool Docx(uint64_t seed, std::string_view id, std::string* out, std::string* error) {
  Rng rng(seed);
  std::string docx;
  if (!MakeDocx(rng, 60 << 10, 12 << 10, &docx, error)) return false;
  *out = MultipartMessage(
      id, "Draft decision (docx)", "mixed",
      {TextPart(CoverText(rng, 400)),
       FilePart("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "draft-decision.docx", docx)});
  return true;
}

// ~95 KB: a cover note and a report in Vietnamese (.docx: 38 KB of text, about 9 pages, in
// paragraphs and tables, plus a site photo that brings the message to its size).
bool Docx100k(uint64_t seed, std::string_view id, std::string* out, std::string* error) {
  Rng rng(seed);
  const std::string body = ViReportBody(rng, 32 << 10);
  Part cover{
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
      "quoted-printable\r\n",
      QuotedPrintable("Kính gửi các đồng chí,\r\n\r\nSở Kế hoạch và Đầu tư gửi báo "
                      "cáo tình hình thực hiện kế hoạch đầu tư công năm 2026 (tệp "
                      "đính kèm) để tổng hợp trước ngày 05/12/2026.\r\n\r\nTrân "
                      "trọng,\r\nPhòng Tổng hợp\r\n") +
          "\r\n"};
  // RFC 2047: "Báo cáo đầu tư công năm 2026".
  const std::string subject = "=?UTF-8?B?" + Base64Raw("Báo cáo đầu tư công năm 2026") + "?=";
  const std::string type =
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  const std::string name = "BC-dau-tu-cong-2026.docx";
  std::string skeleton = MultipartMessage(id, subject, "mixed", {cover, FilePart(type, name, "")});
  const size_t target = DecodedFor(95 * 1000, skeleton.size());
  // The photo (incompressible) fills the document up to the target, as in Zip2m.
  std::string docx;
  size_t photo = 0;
  for (int pass = 0; pass < 3; ++pass) {
    Rng photo_rng(seed ^ 0xA5A5A5A5ull);
    if (!WriteDocx(photo_rng, body, photo, WordSupportParts(), kWordSupportOverrides, &docx,
                   error)) {
      return false;
    }
    if (docx.size() == target) break;
    long long next = static_cast<long long>(photo) + static_cast<long long>(target) -
                     static_cast<long long>(docx.size());
    if (next <= 64) break;  // the text alone fills the target
    photo = static_cast<size_t>(next);
  }
  *out = MultipartMessage(id, subject, "mixed", {cover, FilePart(type, name, docx)});
  return true;
}

std::string Html(Rng& rng, std::string_view extra_body = "") {
  std::string html =
      "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><style>p {font-family: "
      "Arial; font-size: 11pt}</style></head>\r\n<body>\r\n";
  for (int i = 0; i < 12; ++i) html += "<p class=\"MsoNormal\">" + Sentence(rng) + "</p>\r\n";
  html += extra_body;
  html += "</body></html>\r\n";
  return html;
}

std::string Alternative(uint64_t seed, std::string_view id) {
  Rng rng(seed);
  Part plain = TextPart(CoverText(rng, 2000));
  Part html{"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: "
            "quoted-printable\r\n",
            QuotedPrintable(Html(rng)) + "\r\n"};
  return MultipartMessage(id, "Meeting agenda", "alternative", {plain, html});
}

std::string Inline(uint64_t seed, std::string_view id) {
  Rng rng(seed);
  const std::string cid = "image001.png@01DB4C2A.5E3F1A40";
  Part html{"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: "
            "quoted-printable\r\n",
            QuotedPrintable(Html(rng, "<p><img width=\"320\" height=\"240\" src=\"cid:" + cid +
                                          "\" alt=\"chart\"></p>\r\n")) +
                "\r\n"};
  Part image = FilePart("image/png", "image001.png", MakePng(rng, 30 << 10), "inline", cid);
  return MultipartMessage(id, "Chart for the meeting", "related", {html, image},
                          " type=\"text/html\";");
}

bool One(std::string_view kind, uint64_t seed, std::string_view id, std::string* out,
         std::string* error) {
  if (kind == "plain4k") {
    *out = Plain(4096, id);
  } else if (kind == "pdf100k") {
    *out = Pdf100k(seed, id);
  } else if (kind == "zip2m") {
    return Zip2m(seed, id, out, error);
  } else if (kind == "docx") {
    return Docx(seed, id, out, error);
  } else if (kind == "docx100k") {
    return Docx100k(seed, id, out, error);
  } else if (kind == "alternative") {
    *out = Alternative(seed, id);
  } else if (kind == "inline") {
    *out = Inline(seed, id);
  } else {
    *error = "unknown kind '" + std::string(kind) + "' (known: " + CorpusKindList() + ")";
    return false;
  }
  return true;
}

}  // namespace

std::string CorpusKindList() {
  return "plain4k|pdf100k|zip2m|docx|docx100k|alternative|inline|mixed";
}

std::string Base64Lines(std::string_view bytes) {
  std::string out;
  out.reserve(Base64WireSize(bytes.size()));
  for (size_t i = 0; i < bytes.size(); i += 57) {
    out += Base64Raw(bytes.substr(i, 57));
    out += "\r\n";
  }
  return out;
}

bool GenerateKind(std::string_view kind, std::vector<GeneratedMessage>* out, std::string* error) {
  if (kind == "mixed") {
    static constexpr const char* kMix[] = {"plain4k", "alternative", "plain4k", "inline",
                                           "pdf100k", "plain4k",     "alternative", "docx",
                                           "plain4k", "zip2m"};
    int n = 0;
    for (const char* k : kMix) {
      char name[48];
      std::snprintf(name, sizeof(name), "mixed-%02d-%s", ++n, k);
      GeneratedMessage m;
      m.name = name;
      if (!One(k, 1000 + static_cast<uint64_t>(n), name, &m.text, error)) return false;
      out->push_back(std::move(m));
    }
    return true;
  }
  GeneratedMessage m;
  m.name = std::string(kind);
  if (!One(kind, 1, m.name, &m.text, error)) return false;
  out->push_back(std::move(m));
  return true;
}

}  // namespace mailwarden::bench

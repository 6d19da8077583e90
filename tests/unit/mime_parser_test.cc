#include <gtest/gtest.h>

#include <string>

#include "milter/mime/parser.h"

namespace mailwarden::mime {
namespace {

constexpr char kMixed[] =
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "AwQ=\r\n"
    "--XX--\r\n"
    "epilogue\r\n";

MimeStructure ParseRaw(std::string_view eml, MimeLimits limits = {},
                       MimeParser::KeepPredicate keep = {}) {
  MimeParser p(limits, std::move(keep));
  p.AddRaw(eml);
  return p.Finish();
}

TEST(MimeParserTest, MultipartLeavesPathsSizesAndBodies) {
  auto keep_all = [](const MimePart&, std::string_view) { return true; };
  MimeStructure s = ParseRaw(kMixed, {}, keep_all);
  ASSERT_EQ(s.leaves().size(), 2u);
  const MimePart& text = s.leaves()[0];
  EXPECT_EQ(text.path, "1/1");
  EXPECT_EQ(text.content_type, "text/plain");
  EXPECT_EQ(text.charset, "utf-8");
  EXPECT_EQ(text.content, "Hello");  // the CRLF before the boundary belongs to it
  EXPECT_TRUE(text.is_main_body);
  EXPECT_EQ(text.depth, 1);
  const MimePart& bin = s.leaves()[1];
  EXPECT_EQ(bin.path, "1/2");
  EXPECT_EQ(bin.file_name, "a.bin");
  EXPECT_EQ(bin.content, std::string("\0\1\2\3\4", 5));
  EXPECT_EQ(bin.size, 5u);
  // sha256 of 00 01 02 03 04.
  EXPECT_EQ(bin.sha256, "08bb5e5d6eaac1049ede0893d30ed022b1a4d9b5b48db414871f51c9cb35283d");
  EXPECT_FALSE(bin.is_main_body);
  EXPECT_TRUE(s.limit_hits().empty());
  EXPECT_EQ(s.entity_count(), 3u);
  EXPECT_EQ(s.unclosed_multiparts(), 0u);
}

TEST(MimeParserTest, EverySplitPositionGivesTheSameResult) {
  std::string whole = DescribeForTest(ParseRaw(kMixed));
  std::string_view in(kMixed);
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    MimeParser p;
    p.AddRaw(in.substr(0, cut));
    p.AddRaw(in.substr(cut));
    ASSERT_EQ(DescribeForTest(p.Finish()), whole) << "split at " << cut;
  }
}

TEST(MimeParserTest, MilterFeedEqualsRawFeed) {
  MimeParser p;
  p.AddHeader("Content-Type", "multipart/mixed;\n\tboundary=\"XX\"");
  std::string_view body =
      std::string_view(kMixed).substr(std::string_view(kMixed).find("preamble"));
  for (size_t i = 0; i < body.size(); i += 5) p.AddBody(body.substr(i, 5));
  EXPECT_EQ(DescribeForTest(p.Finish()), DescribeForTest(ParseRaw(kMixed)));
}

TEST(MimeParserTest, PlainMessageIsLeafOne) {
  MimeParser p;
  p.AddHeader("Subject", "x");
  p.AddBody("line\r\n");
  MimeStructure s = p.Finish();
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].path, "1");
  EXPECT_EQ(s.leaves()[0].content_type, "text/plain");
  EXPECT_EQ(s.leaves()[0].size, 6u);  // the last line end is content when no boundary follows
  EXPECT_EQ(s.leaves()[0].depth, 0);
  EXPECT_TRUE(s.leaves()[0].is_main_body);
}

TEST(MimeParserTest, EmptyInputHasOneEmptyLeaf) {
  MimeParser p;
  MimeStructure s = p.Finish();
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].size, 0u);
  EXPECT_EQ(s.leaves()[0].sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MimeParserTest, KeptBytesAreCappedAndFlagged) {
  MimeLimits limits;
  limits.max_kept_part_bytes = 3;
  MimeStructure s =
      ParseRaw(kMixed, limits, [](const MimePart& p, std::string_view) { return p.content_type != "text/plain"; });
  EXPECT_FALSE(s.leaves()[0].kept);
  EXPECT_EQ(s.leaves()[0].content, "");
  EXPECT_TRUE(s.leaves()[1].kept);
  EXPECT_TRUE(s.leaves()[1].truncated);
  EXPECT_EQ(s.leaves()[1].content, std::string("\0\1\2", 3));
  EXPECT_EQ(s.leaves()[1].size, 5u);  // size and hash still cover everything
}

TEST(MimeParserTest, TotalKeptBytesAreCapped) {
  MimeLimits limits;
  limits.max_kept_total_bytes = 7;
  MimeStructure s = ParseRaw(kMixed, limits, [](const MimePart&, std::string_view) { return true; });
  EXPECT_EQ(s.leaves()[0].content, "Hello");
  EXPECT_FALSE(s.leaves()[0].truncated);
  EXPECT_EQ(s.leaves()[1].content, std::string("\0\1", 2));
  EXPECT_TRUE(s.leaves()[1].truncated);
}

TEST(MimeParserTest, PartWithoutBlankLineAfterHeaders) {
  MimeStructure s = ParseRaw(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/x-msdownload\n"
      "Content-Transfer-Encoding: base64\nTVqQAAMAAAAEAAAA\n--b--\n");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].content_type, "application/x-msdownload");
  EXPECT_EQ(s.leaves()[0].size, 12u);
}

TEST(MimeParserTest, OneMegabyteHeaderLine) {
  MimeParser p;
  p.AddHeader("Subject", std::string(1 << 20, 'a'));
  p.AddBody("x");
  MimeStructure s = p.Finish();
  ASSERT_NE(s.FindLimitHit("max_header_line_bytes"), nullptr);
  EXPECT_EQ(s.FindLimitHit("max_header_line_bytes")->part_path, "1");

  std::string raw =
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nX-Long: " + std::string(1 << 20, 'a') +
      "\n\tand folded\nContent-Type: text/html\n\nx\n--b--\n";
  s = ParseRaw(raw);
  ASSERT_NE(s.FindLimitHit("max_header_line_bytes"), nullptr);
  EXPECT_EQ(s.FindLimitHit("max_header_line_bytes")->part_path, "1/1");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].content_type, "text/html");
}

TEST(MimeParserTest, HeaderCountAndBytesLimits) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n";
  for (int i = 0; i < 2000; ++i) raw += "X-H: v\n";
  raw += "Content-Type: application/pdf\n\nx\n--b--\n";
  MimeStructure s = ParseRaw(raw);
  ASSERT_NE(s.FindLimitHit("max_headers"), nullptr);
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].content_type, "text/plain");  // fields past the limit are ignored

  MimeLimits limits;
  limits.max_header_bytes = 1000;
  s = ParseRaw(raw, limits);
  ASSERT_NE(s.FindLimitHit("max_header_bytes"), nullptr);
  EXPECT_EQ(s.FindLimitHit("max_header_bytes")->part_path, "1/1");
}

TEST(MimeParserTest, TenThousandParts) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 10000; ++i) raw += "--b\n\nx\n";
  raw += "--b--\n";
  MimeStructure s = ParseRaw(raw);
  const LimitHit* hit = s.FindLimitHit("max_parts");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->value, 1000u);
  EXPECT_EQ(hit->part_path, "1/1000");
  EXPECT_EQ(s.leaves().size(), 999u);  // the root multipart is an entity too
  EXPECT_EQ(s.entity_count(), 10001u);
  EXPECT_EQ(s.limit_hits().size(), 1u);
}

TEST(MimeParserTest, FiveHundredLevelsOfNesting) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 0; i < 500; ++i) {
    raw += "--b" + std::to_string(i) + "\nContent-Type: multipart/mixed; boundary=b" +
           std::to_string(i + 1) + "\n\n";
  }
  raw += "--b500\n\ndeep\n";
  for (int i = 500; i >= 0; --i) raw += "--b" + std::to_string(i) + "--\n";
  raw += "";
  MimeStructure s = ParseRaw(raw);
  const LimitHit* hit = s.FindLimitHit("max_depth");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->value, 20u);
  EXPECT_TRUE(s.leaves().empty());
  EXPECT_EQ(s.max_depth_seen(), 20);
  EXPECT_EQ(s.unclosed_multiparts(), 0u);

  // Same boundary at every level, and nested messages: still bounded.
  std::string same = "Content-Type: multipart/mixed; boundary=s\n\n";
  for (int i = 0; i < 500; ++i) same += "--s\nContent-Type: multipart/mixed; boundary=s\n\n";
  same += "deep\n";
  s = ParseRaw(same);
  EXPECT_NE(s.FindLimitHit("max_depth"), nullptr);
  std::string messages;
  for (int i = 0; i < 500; ++i) messages += "Content-Type: message/rfc822\n\n";
  messages += "deep\n";
  s = ParseRaw(messages);
  EXPECT_NE(s.FindLimitHit("max_depth"), nullptr);
  EXPECT_TRUE(s.leaves().empty());
}

TEST(MimeParserTest, NulBytesAndBrokenBoundaries) {
  std::string raw = "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n\nA";
  raw += '\0';
  raw += "B\n--b-- \n";
  MimeStructure s = ParseRaw(raw);
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].size, 3u);

  // Boundary declared, never used: the body is reported as one text leaf, so nothing
  // escapes the checks behind a boundary that does not match its delimiter lines.
  s = ParseRaw("Content-Type: multipart/mixed; boundary=b\n\nno parts here\n--c\n");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].path, "1/1");
  EXPECT_EQ(s.leaves()[0].content_type, "text/plain");
  EXPECT_EQ(s.leaves()[0].size, std::string("no parts here\n--c\n").size());
  EXPECT_EQ(s.unclosed_multiparts(), 1u);

  // A preamble before the first delimiter is not a part; a file uuencoded in it neither.
  s = ParseRaw("Content-Type: multipart/mixed; boundary=b\n\nThis is MIME.\n"
               "begin 644 a.exe\n#04)#\n`\nend\n--b\n\nbody\n--b--\n");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].size, 4u);
  EXPECT_GT(s.ignored_bytes(), 0u);

  // No boundary parameter: the multipart is an opaque leaf.
  s = ParseRaw("Content-Type: multipart/mixed\n\n--b\n\nx\n");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].content_type, "multipart/mixed");

  // Boundary longer than the limit.
  s = ParseRaw("Content-Type: multipart/mixed; boundary=" + std::string(300, 'x') + "\n\nx\n");
  EXPECT_NE(s.FindLimitHit("max_boundary_length"), nullptr);

  // A boundary followed by other text is not a boundary.
  s = ParseRaw("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n--b--\n");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].size, 4u);  // "--bx"
}

TEST(MimeParserTest, InnerPartEndsAtEnclosingBoundary) {
  MimeStructure s = ParseRaw(
      "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
      "Content-Type: multipart/alternative; boundary=i\n\n--i\n\ninner\n"
      "--o\nContent-Type: image/png\n\npng\n--o--\n");
  ASSERT_EQ(s.leaves().size(), 2u);
  EXPECT_EQ(s.leaves()[0].path, "1/1/1");
  EXPECT_EQ(s.leaves()[0].size, 5u);
  EXPECT_EQ(s.leaves()[1].path, "1/2");
  EXPECT_EQ(s.unclosed_multiparts(), 1u);
}

TEST(MimeParserTest, VeryLongBodyLineIsStreamed) {
  MimeParser p;
  p.AddHeader("Content-Type", "multipart/mixed; boundary=b");
  p.AddBody("--b\r\n\r\n");
  std::string chunk(1 << 16, 'z');
  for (int i = 0; i < 160; ++i) p.AddBody(chunk);  // 10 MiB without a line end
  p.AddBody("\r\n--b--\r\n");
  MimeStructure s = p.Finish();
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].size, 160u << 16);
}

TEST(MimeParserTest, MainBodyRules) {
  MimeStructure s = ParseRaw(
      "Content-Type: multipart/mixed; boundary=o\n\n"
      "--o\nContent-Type: multipart/alternative; boundary=a\n\n"
      "--a\nContent-Type: text/plain\n\np\n"
      "--a\nContent-Type: multipart/related; boundary=r\n\n"
      "--r\nContent-Type: text/html\n\nh\n--r\nContent-Type: image/png\n\ni\n--r--\n--a--\n"
      "--o\nContent-Type: text/plain\n\nnot the body\n"
      "--o\nContent-Type: text/html\nContent-Disposition: attachment\n\nattached\n--o--\n");
  ASSERT_EQ(s.leaves().size(), 5u);
  EXPECT_TRUE(s.leaves()[0].is_main_body);   // 1/1/1 text/plain
  EXPECT_TRUE(s.leaves()[1].is_main_body);   // 1/1/2/1 text/html
  EXPECT_FALSE(s.leaves()[2].is_main_body);  // image
  EXPECT_FALSE(s.leaves()[3].is_main_body);  // a second text/plain
  EXPECT_FALSE(s.leaves()[4].is_main_body);  // attachment
}

TEST(MimeParserTest, UuencodedFilesInTextBody) {
  MimeStructure s = ParseRaw(
      "Subject: x\n\ntext\nbegin 644 a.exe\n+2&5L;&\\L('5U(0H`\n`\nend\nmore\n"
      "begin 600 b.txt\n#86)C\n");  // second file has no "end"
  ASSERT_EQ(s.leaves().size(), 3u);
  EXPECT_EQ(s.leaves()[1].path, "1/1");
  EXPECT_EQ(s.leaves()[1].file_name, "a.exe");
  EXPECT_EQ(s.leaves()[1].size, 11u);
  EXPECT_TRUE(s.leaves()[1].from_uuencode);
  EXPECT_EQ(s.leaves()[2].path, "1/2");
  EXPECT_EQ(s.leaves()[2].file_name, "b.txt");
  EXPECT_EQ(s.leaves()[2].size, 3u);
}

TEST(MimeParserTest, DigestChildrenDefaultToMessages) {
  MimeStructure s = ParseRaw(
      "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: inner\n\nhello\n--d--\n");
  ASSERT_EQ(s.leaves().size(), 1u);
  EXPECT_EQ(s.leaves()[0].path, "1/1/1");
  EXPECT_TRUE(s.leaves()[0].in_attached_message);
}

}  // namespace
}  // namespace mailwarden::mime

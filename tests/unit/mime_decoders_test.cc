#include <gtest/gtest.h>

#include <string>

#include "milter/mime/decoders.h"

namespace mailwarden::mime {
namespace {

std::string DecodeWhole(Decoder& d, std::string_view in) {
  std::string out;
  d.Feed(in, &out);
  d.Finish(&out);
  return out;
}

// Decodes `in` split at every position (two chunks) and byte by byte; every result must
// equal the one-piece decoding.
template <typename D>
void ExpectSplitInvariant(std::string_view in, const std::string& expected) {
  {
    D d;
    ASSERT_EQ(DecodeWhole(d, in), expected);
  }
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    D d;
    std::string out;
    d.Feed(in.substr(0, cut), &out);
    d.Feed(in.substr(cut), &out);
    d.Finish(&out);
    ASSERT_EQ(out, expected) << "split at " << cut;
  }
  D d;
  std::string out;
  for (char c : in) d.Feed(std::string_view(&c, 1), &out);
  d.Finish(&out);
  EXPECT_EQ(out, expected) << "byte by byte";
}

TEST(MimeTransferEncodingTest, ParsesNamesLeniently) {
  EXPECT_EQ(ParseTransferEncoding("base64"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding(" BASE64 (yes)\n"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("Quoted-Printable"), TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(ParseTransferEncoding("x-uuencode"), TransferEncoding::kUuencode);
  EXPECT_EQ(ParseTransferEncoding("8bit"), TransferEncoding::kIdentity);
  EXPECT_EQ(ParseTransferEncoding("x-bogus"), TransferEncoding::kIdentity);
  EXPECT_EQ(ParseTransferEncoding(""), TransferEncoding::kIdentity);
}

TEST(MimeBase64DecoderTest, DecodesWithLineBreaksAtEverySplit) {
  ExpectSplitInvariant<Base64Decoder>("SGVsbG8s\r\nIHdvcmxk\r\nIQ==\r\n", "Hello, world!");
}

TEST(MimeBase64DecoderTest, SkipsJunkAndWhitespace) {
  ExpectSplitInvariant<Base64Decoder>(" SG*V s\tb#G8\x01=", "Hello");
}

TEST(MimeBase64DecoderTest, AcceptsMissingPadding) {
  ExpectSplitInvariant<Base64Decoder>("SGk", "Hi");
  ExpectSplitInvariant<Base64Decoder>("SA", "H");
  ExpectSplitInvariant<Base64Decoder>("S", "");  // a lone sextet holds no byte
}

TEST(MimeBase64DecoderTest, StopsAtPaddingAndIgnoresASecondRun) {
  Base64Decoder d;
  EXPECT_EQ(DecodeWhole(d, "SGk=\r\nSGVsbG8=\r\n"), "Hi");
  EXPECT_EQ(d.ignored_after_end(), 7u);
  ExpectSplitInvariant<Base64Decoder>("SGk==SGVsbG8=", "Hi");
}

TEST(MimeBase64DecoderTest, BinaryRoundTrip) {
  // 0x00..0xff encoded by a reference encoder (python base64), wrapped at 76.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string enc =
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\n"
      "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\n"
      "cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\n"
      "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\n"
      "5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\n";
  ExpectSplitInvariant<Base64Decoder>(enc, all);
}

TEST(MimeQuotedPrintableDecoderTest, EscapesAndSoftBreaksAtEverySplit) {
  ExpectSplitInvariant<QuotedPrintableDecoder>(
      "H=C3=A0 N=E1=BB=99i =\r\nd=c3=a9j=C3=A0\r\nline two=\n end\r\n",
      "H\xC3\xA0 N\xE1\xBB\x99i d\xC3\xA9j\xC3\xA0\r\nline two end\r\n");
}

TEST(MimeQuotedPrintableDecoderTest, BadEscapesPassThroughLiterally) {
  ExpectSplitInvariant<QuotedPrintableDecoder>("a=ZZb=4 c=\x01", "a=ZZb=4 c=\x01");
  ExpectSplitInvariant<QuotedPrintableDecoder>("100%=\r", "100%");
  ExpectSplitInvariant<QuotedPrintableDecoder>("end=", "end=");
  ExpectSplitInvariant<QuotedPrintableDecoder>("end=4", "end=4");
}

TEST(MimeQuotedPrintableDecoderTest, TrailingWhitespaceRemovedSoftBreakWithSpacesKept) {
  ExpectSplitInvariant<QuotedPrintableDecoder>("a b  \r\nc\t\nd = \t\r\ne=  x", "a b\r\nc\nd e=x");
}

TEST(MimeQuotedPrintableDecoderTest, LongWhitespaceRunIsBounded) {
  QuotedPrintableDecoder d;
  std::string in(100000, ' ');
  in += "x";
  EXPECT_EQ(DecodeWhole(d, in), in);
}

// "Hello, uu!\n" encoded by the classic uuencode(1).
constexpr char kUuFile[] =
    "some text before\r\n"
    "begin 644 hello.txt\r\n"
    "+2&5L;&\\L('5U(0H`\r\n"
    "`\r\n"
    "end\r\n"
    "trailing text\r\n";

TEST(MimeUuDecoderTest, DecodesBetweenBeginAndEndAtEverySplit) {
  ExpectSplitInvariant<UuDecoder>(kUuFile, "Hello, uu!\n");
  UuDecoder d;
  DecodeWhole(d, kUuFile);
  EXPECT_EQ(d.file_name(), "hello.txt");
  EXPECT_TRUE(d.done());
}

TEST(MimeUuDecoderTest, ToleratesMissingEndAndDamagedLines) {
  ExpectSplitInvariant<UuDecoder>("begin 600 a.bin\n+2&5L;&\\L('5U(0H`\n", "Hello, uu!\n");
  // A truncated data line decodes as far as it goes.
  ExpectSplitInvariant<UuDecoder>("begin 600 a.bin\n+2&5L\nend\n", "Hel");
  // No begin line: nothing.
  ExpectSplitInvariant<UuDecoder>("+2&5L;&\\L('5U(0H`\nend\n", "");
  // A bad begin line ("begin" without mode) is not a file.
  ExpectSplitInvariant<UuDecoder>("begin now\n+2&5L;&\\L('5U(0H`\nend\n", "");
}

TEST(MimeUuDecoderTest, OverlongLinesAreCut) {
  UuDecoder d;
  std::string in = "begin 644 x\n" + std::string(1 << 20, 'M') + "\nend\n";
  std::string out = DecodeWhole(d, in);
  EXPECT_EQ(out.size(), 45u);  // 'M' announces 45 bytes; the rest of the line is dropped
  EXPECT_TRUE(d.done());
}

TEST(MimeUuDecoderTest, FeedUntilEndSeparatesFiles) {
  std::string two = std::string(kUuFile) + "begin 644 second.txt\n+2&5L;&\\L('5U(0H`\nend\n";
  UuDecoder d;
  std::string out;
  size_t used = d.FeedUntilEnd(two, &out);
  EXPECT_EQ(out, "Hello, uu!\n");
  EXPECT_EQ(d.file_name(), "hello.txt");
  d.Reset();
  out.clear();
  d.FeedUntilEnd(std::string_view(two).substr(used), &out);
  EXPECT_EQ(d.file_name(), "second.txt");
  EXPECT_EQ(out, "Hello, uu!\n");
}

TEST(MimeMakeDecoderTest, IdentityCopies) {
  auto d = MakeDecoder(TransferEncoding::kIdentity);
  std::string out;
  d->Feed(std::string("a\0b", 3), &out);
  d->Finish(&out);
  EXPECT_EQ(out, std::string("a\0b", 3));
}

}  // namespace
}  // namespace mailwarden::mime

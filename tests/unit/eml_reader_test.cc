#include "milter/eml_reader.h"

#include <gtest/gtest.h>

namespace mailwarden {
namespace {

TEST(EmlReader, UnfoldsHeadersAndCountsBodyWithCrlf) {
  Message m{Envelope{}};
  ReadMessageText("From: a@b\nSubject: one\n two\nX-Empty:\n\nline1\nline2\n", &m);
  ASSERT_EQ(m.headers().size(), 3u);
  EXPECT_EQ(m.headers()[1].name, "Subject");
  EXPECT_EQ(m.headers()[1].value, "one\n two");
  EXPECT_EQ(m.headers()[2].value, "");
  EXPECT_EQ(m.body_bytes(), 14u);  // "line1\r\nline2\r\n"
  ASSERT_NE(m.FindHeader("subject"), nullptr);
  EXPECT_EQ(m.FindHeader("x-none"), nullptr);
}

TEST(EmlReader, SizeIsTheSizeOnTheWire) {
  std::string text = "From: a@b\r\nSubject: one\r\n two\r\n\r\nbody\r\n";
  Message m{Envelope{}};
  ReadMessageText(text, &m);
  EXPECT_EQ(m.size(), text.size());
}

TEST(EmlReader, CrlfInputGivesTheSameResult) {
  Message a{Envelope{}}, b{Envelope{}};
  ReadMessageText("A: 1\nB: 2\n\nbody\n", &a);
  ReadMessageText("A: 1\r\nB: 2\r\n\r\nbody\r\n", &b);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.headers().size(), b.headers().size());
}

TEST(EmlReader, GarbageWithoutHeadersIsAllBody) {
  Message m{Envelope{}};
  ReadMessageText(std::string("no colon here\n\0\xff\n", 17), &m);
  EXPECT_TRUE(m.headers().empty());
  EXPECT_GT(m.body_bytes(), 0u);
  Message empty{Envelope{}};
  ReadMessageText("", &empty);
  EXPECT_EQ(empty.body_bytes(), 0u);
}

}  // namespace
}  // namespace mailwarden

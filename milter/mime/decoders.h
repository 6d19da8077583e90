// Incremental content-transfer-encoding decoders: base64, quoted-printable, uuencode.
//
// A decoder is fed chunks of encoded bytes of any size, in order, and appends the decoded
// bytes to an output string; its state carries across chunk boundaries, so splitting the
// input anywhere yields the same output as feeding it whole. Finish() flushes what a
// damaged or unterminated input left pending. Decoders never fail: real-world mail is
// damaged in every way, so they decode what can be decoded and skip the rest, and their
// memory stays constant (at most one bounded line) whatever the input size.
//
// A decoder belongs to one part of one message; not thread-safe, movable, not copyable.
#ifndef MAILWARDEN_MILTER_MIME_DECODERS_H_
#define MAILWARDEN_MILTER_MIME_DECODERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mailwarden::mime {

enum class TransferEncoding { kIdentity, kBase64, kQuotedPrintable, kUuencode };

// From a Content-Transfer-Encoding value (case-insensitive, whitespace and comments
// tolerated). 7bit, 8bit, binary and anything unknown are kIdentity, as RFC 2045 §6.4
// asks for unknown encodings (the part is then treated as opaque bytes).
TransferEncoding ParseTransferEncoding(std::string_view value);

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Decodes `in`, appending the result to `out`.
  virtual void Feed(std::string_view in, std::string* out) = 0;
  // End of input: appends whatever a truncated input left pending.
  virtual void Finish(std::string* out) = 0;
};

// Copies its input.
class IdentityDecoder final : public Decoder {
 public:
  void Feed(std::string_view in, std::string* out) override { out->append(in); }
  void Finish(std::string* /*out*/) override {}
};

// RFC 2045 §6.8 base64, tolerant: characters outside the alphabet (whitespace, junk) are
// skipped; missing padding is accepted; the first '=' ends the data (what follows, such as
// a second padded run, is ignored and counted in ignored_after_end()).
class Base64Decoder final : public Decoder {
 public:
  void Feed(std::string_view in, std::string* out) override;
  void Finish(std::string* out) override;
  // Alphabet characters seen after the data ended.
  uint64_t ignored_after_end() const { return ignored_after_end_; }

 private:
  void Flush(std::string* out);
  uint32_t quantum_ = 0;  // sextets collected so far, most significant first
  int sextets_ = 0;       // 0..3
  bool ended_ = false;
  uint64_t ignored_after_end_ = 0;
};

// RFC 2045 §6.7 quoted-printable: "=XY" escapes (either case), soft line breaks "=" at the
// end of a line (trailing whitespace after it tolerated), transport-added trailing
// whitespace on a line removed. A malformed escape is passed through literally. Hard line
// breaks are kept as they came (CRLF or LF).
class QuotedPrintableDecoder final : public Decoder {
 public:
  void Feed(std::string_view in, std::string* out) override;
  void Finish(std::string* out) override;

 private:
  enum class State { kText, kEquals, kEqualsHex, kEqualsSpace, kEqualsCr };
  void Text(char c, std::string* out);
  State state_ = State::kText;
  char first_hex_ = 0;
  std::string spaces_;  // whitespace in text not yet known to be data; bounded
};

// uuencode: skips everything up to a "begin <mode> <name>" line, decodes the data lines up
// to "end" (or to the end of the input when "end" is missing), then ignores the rest.
// Damaged data lines (bad characters, wrong length) are decoded as far as they go; over-long
// lines are cut at kMaxLine. Used as a Content-Transfer-Encoding (x-uuencode) and, through
// FeedUntilEnd(), to extract uuencoded files from plain-text bodies.
class UuDecoder final : public Decoder {
 public:
  static constexpr size_t kMaxLine = 1024;
  static constexpr size_t kMaxNameBytes = 255;

  void Feed(std::string_view in, std::string* out) override;
  void Finish(std::string* out) override;
  // Like Feed, but returns after the line that ends the file ("end"), so that a caller can
  // tell one file's bytes from the next; returns how many bytes of `in` it consumed.
  size_t FeedUntilEnd(std::string_view in, std::string* out);

  bool in_file() const { return state_ == State::kData; }
  bool done() const { return state_ == State::kDone; }
  // The name on the "begin" line (raw bytes, at most kMaxNameBytes), "" before it.
  const std::string& file_name() const { return name_; }
  // Back to looking for a "begin" line (for the next file of a text body).
  void Reset();

 private:
  enum class State { kSeekBegin, kData, kDone };
  // Handles one complete line; returns true when it ended the file.
  bool Line(std::string_view line, std::string* out);
  State state_ = State::kSeekBegin;
  std::string line_;
  bool line_cut_ = false;
  std::string name_;
};

// A decoder for `encoding`.
std::unique_ptr<Decoder> MakeDecoder(TransferEncoding encoding);

}  // namespace mailwarden::mime

#endif  // MAILWARDEN_MILTER_MIME_DECODERS_H_

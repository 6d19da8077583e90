// Decoders for content-transfer-encodings.
//
// Distrusts: every byte of the encoded input (it comes from the sender): arbitrary bytes,
// NULs, lines of any length, truncated escapes and quanta, missing terminators.
// Limits: constant memory per decoder (QP keeps at most kMaxPendingSpaces bytes of pending
// whitespace, uuencode one line of at most UuDecoder::kMaxLine bytes); each input byte is
// looked at a bounded number of times.
// Failure: none; damage is skipped or passed through literally, as documented per decoder.
#include "milter/mime/decoders.h"

#include <array>
#include <cctype>

namespace mailwarden::mime {
namespace {

constexpr size_t kMaxPendingSpaces = 998;  // RFC 5322 line length

constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kBase64 = MakeBase64Table();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

TransferEncoding ParseTransferEncoding(std::string_view value) {
  std::string token;
  int comment_depth = 0;
  for (char c : value) {
    if (c == '(') {
      ++comment_depth;
    } else if (c == ')' && comment_depth > 0) {
      --comment_depth;
    } else if (comment_depth == 0 && !std::isspace(static_cast<unsigned char>(c))) {
      if (token.size() < 32)
        token += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (token == "base64") return TransferEncoding::kBase64;
  if (token == "quoted-printable") return TransferEncoding::kQuotedPrintable;
  if (token == "x-uuencode" || token == "x-uue" || token == "uuencode") {
    return TransferEncoding::kUuencode;
  }
  return TransferEncoding::kIdentity;
}

// --- base64 -------------------------------------------------------------------------------

void Base64Decoder::Feed(std::string_view in, std::string* out) {
  // Output is written through a pointer into room reserved up front: at most 3 bytes per 4
  // input characters, plus what a quantum carried over from the last call may still emit.
  const size_t start = out->size();
  out->resize(start + in.size() / 4 * 3 + 8);
  char* w = out->data() + start;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(in.data());
  const unsigned char* end = p + in.size();
  while (p < end) {
    if (ended_) {
      for (; p < end; ++p) {
        if (kBase64[*p] >= 0) ++ignored_after_end_;
      }
      break;
    }
    // The common case: four alphabet characters make three bytes at once.
    if (sextets_ == 0 && end - p >= 4) {
      int a = kBase64[p[0]], b = kBase64[p[1]], c = kBase64[p[2]], d = kBase64[p[3]];
      if ((a | b | c | d) >= 0) {
        uint32_t q = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                     (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
        w[0] = static_cast<char>(q >> 16);
        w[1] = static_cast<char>(q >> 8);
        w[2] = static_cast<char>(q);
        w += 3;
        p += 4;
        continue;
      }
    }
    unsigned char ch = *p++;
    if (ch == '=') {
      std::string tail;
      Flush(&tail);
      for (char t : tail) *w++ = t;
      ended_ = true;
      continue;
    }
    int v = kBase64[ch];
    if (v < 0) continue;  // whitespace, line breaks, junk
    quantum_ = (quantum_ << 6) | static_cast<uint32_t>(v);
    if (++sextets_ == 4) {
      *w++ = static_cast<char>((quantum_ >> 16) & 0xff);
      *w++ = static_cast<char>((quantum_ >> 8) & 0xff);
      *w++ = static_cast<char>(quantum_ & 0xff);
      quantum_ = 0;
      sextets_ = 0;
    }
  }
  out->resize(static_cast<size_t>(w - out->data()));
}

// Emits the bytes a partial quantum holds: 2 sextets give 1 byte, 3 give 2; a lone sextet
// carries less than a byte and is dropped.
void Base64Decoder::Flush(std::string* out) {
  if (sextets_ == 2) {
    out->push_back(static_cast<char>((quantum_ >> 4) & 0xff));
  } else if (sextets_ == 3) {
    out->push_back(static_cast<char>((quantum_ >> 10) & 0xff));
    out->push_back(static_cast<char>((quantum_ >> 2) & 0xff));
  }
  quantum_ = 0;
  sextets_ = 0;
}

void Base64Decoder::Finish(std::string* out) {
  if (!ended_) Flush(out);
  ended_ = true;
}

// --- quoted-printable ---------------------------------------------------------------------

// A character in text state: whitespace is held back until we know whether it trails a line.
void QuotedPrintableDecoder::Text(char c, std::string* out) {
  if (c == '=') {
    out->append(spaces_);  // whitespace before an escape or a soft break is data
    spaces_.clear();
    state_ = State::kEquals;
    return;
  }
  if (IsSpace(c)) {
    if (spaces_.size() >= kMaxPendingSpaces) {
      out->append(spaces_);
      spaces_.clear();
    }
    spaces_.push_back(c);
    return;
  }
  if (c == '\r' || c == '\n') {
    spaces_.clear();  // trailing whitespace was added in transport
  } else {
    out->append(spaces_);
    spaces_.clear();
  }
  out->push_back(c);
}

void QuotedPrintableDecoder::Feed(std::string_view in, std::string* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    switch (state_) {
      case State::kText:
        Text(c, out);
        break;
      case State::kEquals:
        if (HexValue(c) >= 0) {
          first_hex_ = c;
          state_ = State::kEqualsHex;
          break;
        }
        [[fallthrough]];
      case State::kEqualsSpace:
        // After "=" (and maybe whitespace): a line end makes a soft line break; anything
        // else makes a bad escape whose '=' is literal (the whitespace after it is dropped).
        if (IsSpace(c)) {
          state_ = State::kEqualsSpace;
        } else if (c == '\n') {
          state_ = State::kText;
        } else if (c == '\r') {
          state_ = State::kEqualsCr;
        } else {
          out->push_back('=');
          state_ = State::kText;
          Text(c, out);
        }
        break;
      case State::kEqualsHex:
        state_ = State::kText;
        if (HexValue(c) >= 0) {
          out->push_back(static_cast<char>(HexValue(first_hex_) * 16 + HexValue(c)));
        } else {
          out->push_back('=');
          out->push_back(first_hex_);
          Text(c, out);
        }
        break;
      case State::kEqualsCr:
        state_ = State::kText;
        if (c != '\n') Text(c, out);  // "=\r" alone: still a soft break
        break;
    }
  }
}

void QuotedPrintableDecoder::Finish(std::string* out) {
  switch (state_) {
    case State::kText:
      break;  // trailing whitespace at the end of the body is dropped like any other
    case State::kEquals:
    case State::kEqualsSpace:
      out->push_back('=');
      break;
    case State::kEqualsHex:
      out->push_back('=');
      out->push_back(first_hex_);
      break;
    case State::kEqualsCr:
      break;
  }
  spaces_.clear();
  state_ = State::kText;
}

// --- uuencode -----------------------------------------------------------------------------

void UuDecoder::Reset() {
  state_ = State::kSeekBegin;
  line_.clear();
  line_cut_ = false;
  name_.clear();
}

bool UuDecoder::Line(std::string_view line, std::string* out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (state_ == State::kSeekBegin) {
    // "begin 644 name": the mode is octal digits, the name the rest of the line.
    if (line.substr(0, 6) != "begin ") return false;
    std::string_view rest = line.substr(6);
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '7') ++digits;
    if (digits == 0 || digits > 4 || digits >= rest.size() || rest[digits] != ' ') return false;
    name_ = std::string(rest.substr(digits + 1, kMaxNameBytes));
    state_ = State::kData;
    return false;
  }
  if (state_ == State::kDone) return false;
  if (line == "end" || line.substr(0, 4) == "end ") {
    state_ = State::kDone;
    return true;
  }
  if (line.empty()) return false;
  // The first character encodes the count of bytes on the line; then groups of four
  // characters carry three bytes. A backquote stands for zero, as space does.
  size_t want = static_cast<size_t>((line[0] - ' ') & 0x3f);
  size_t produced = 0;
  for (size_t i = 1; i < line.size() && produced < want; i += 4) {
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = i + k < line.size() ? line[i + k] : ' ';
      group = (group << 6) | static_cast<uint32_t>((c - ' ') & 0x3f);
    }
    for (int shift = 16; shift >= 0 && produced < want; shift -= 8, ++produced) {
      out->push_back(static_cast<char>((group >> shift) & 0xff));
    }
  }
  return false;
}

size_t UuDecoder::FeedUntilEnd(std::string_view in, std::string* out) {
  size_t pos = 0;
  while (pos < in.size()) {
    if (state_ == State::kDone) return pos;
    size_t nl = in.find('\n', pos);
    size_t end = nl == std::string_view::npos ? in.size() : nl;
    std::string_view piece = in.substr(pos, end - pos);
    if (!line_cut_) {
      size_t room = kMaxLine - line_.size();
      if (piece.size() > room) {
        piece = piece.substr(0, room);
        line_cut_ = true;
      }
      line_.append(piece);
    }
    if (nl == std::string_view::npos) return in.size();
    pos = nl + 1;
    bool ended = Line(line_, out);
    line_.clear();
    line_cut_ = false;
    if (ended) return pos;
  }
  return pos;
}

void UuDecoder::Feed(std::string_view in, std::string* out) {
  FeedUntilEnd(in, out);  // after "end", the rest is ignored
}

void UuDecoder::Finish(std::string* out) {
  if (!line_.empty()) Line(line_, out);
  line_.clear();
  line_cut_ = false;
}

std::unique_ptr<Decoder> MakeDecoder(TransferEncoding encoding) {
  switch (encoding) {
    case TransferEncoding::kBase64:
      return std::make_unique<Base64Decoder>();
    case TransferEncoding::kQuotedPrintable:
      return std::make_unique<QuotedPrintableDecoder>();
    case TransferEncoding::kUuencode:
      return std::make_unique<UuDecoder>();
    case TransferEncoding::kIdentity:
      break;
  }
  return std::make_unique<IdentityDecoder>();
}

}  // namespace mailwarden::mime

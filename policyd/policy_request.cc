// Parses policy delegation requests from the network.
//
// Distrusts every byte: the peer may be a misconfigured client, a port scanner or an
// attacker on the loopback. Limits: one line at most max_line_length bytes (checked while
// the line is still arriving, so a line without LF cannot grow the buffer), at most
// max_attributes lines per request. Fails with a Status that names the problem and the
// line number on this connection; input is never echoed back unescaped.
#include "policyd/policy_request.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace mailwarden {
namespace {

bool ValidName(std::string_view name) {
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return !name.empty();
}

}  // namespace

std::string PrintableExcerpt(std::string_view text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (text.size() > max) out += "...";
  return "\"" + out + "\"";
}

PolicyRequest::PolicyRequest(const AttributeMap& attributes) {
  for (const auto& [name, value] : attributes) Add(name, value);
}

const PolicyRequest::Field* PolicyRequest::FindField(std::string_view name) const {
  for (const Field& f : fields_) {
    if (f.name_len == name.size() && Slice(f.name_pos, f.name_len) == name) return &f;
  }
  return nullptr;
}

std::string_view PolicyRequest::Get(std::string_view name) const {
  const Field* f = FindField(name);
  return f == nullptr ? std::string_view() : Slice(f->value_pos, f->value_len);
}

bool PolicyRequest::Add(std::string_view name, std::string_view value) {
  if (FindField(name) != nullptr) return false;
  // Room for a typical Postfix request at once: one allocation each, not one per line.
  if (fields_.empty()) {
    text_.reserve(1024);
    fields_.reserve(40);
  }
  // Sizes are bounded by the parser's limits (max_line_length * max_attributes), far
  // below 4 GiB.
  Field f;
  f.name_pos = static_cast<uint32_t>(text_.size());
  f.name_len = static_cast<uint32_t>(name.size());
  text_.append(name);
  f.value_pos = static_cast<uint32_t>(text_.size());
  f.value_len = static_cast<uint32_t>(value.size());
  text_.append(value);
  fields_.push_back(f);
  return true;
}

PolicyRequest::AttributeMap PolicyRequest::attributes() const {
  AttributeMap all;
  for (const Field& f : fields_) {
    all.emplace(Slice(f.name_pos, f.name_len), Slice(f.value_pos, f.value_len));
  }
  return all;
}

std::optional<uint64_t> PolicyRequest::Number(std::string_view name) const {
  std::string_view text = Get(name);
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string PolicyRequest::Stage() const {
  std::string stage(protocol_state());
  for (char& c : stage) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return stage;
}

Status PolicyRequestParser::Fail(Status status) {
  error_ = std::move(status);
  line_.clear();
  line_.shrink_to_fit();
  current_ = PolicyRequest();
  attribute_bytes_ = 0;
  return error_;
}

Result<size_t> PolicyRequestParser::Feed(std::string_view data) {
  if (!error_.ok()) return error_;
  if (ready_) return size_t{0};  // the caller must take the request first
  size_t pos = 0;
  // Each pass consumes at least one byte, so the loop is bounded by data.size().
  while (pos < data.size()) {
    std::string_view rest = data.substr(pos);
    const char* lf = static_cast<const char*>(std::memchr(rest.data(), '\n', rest.size()));
    size_t piece_len = lf != nullptr ? static_cast<size_t>(lf - rest.data()) : rest.size();
    std::string_view piece = rest.substr(0, piece_len);
    uint64_t number = line_number_ + 1;
    // The first offending byte decides which error is reported, so that the outcome never
    // depends on how the input was split into reads. +1: the CR of a CR LF ending is not
    // part of the line.
    size_t room = limits_.max_line_length + 1 - line_.size();
    if (std::memchr(piece.data(), '\0', std::min(piece_len, room)) != nullptr) {
      return Fail(Status::ParseError("NUL byte in line " + std::to_string(number)));
    }
    if (piece_len > room) {
      return Fail(Status::LimitExceeded("line " + std::to_string(number) +
                                        " is longer than max_line_length (" +
                                        std::to_string(limits_.max_line_length) + " bytes)"));
    }
    if (lf == nullptr) {
      line_.append(piece);
      return data.size();
    }
    pos += piece_len + 1;
    ++line_number_;
    if (line_.empty()) {
      Line(piece);
    } else {
      line_.append(piece);
      std::string whole = std::move(line_);
      line_.clear();
      Line(whole);
    }
    if (!error_.ok()) return error_;
    if (ready_) return pos;
  }
  return pos;
}

void PolicyRequestParser::Line(std::string_view line) {
  // Built only for an error: this runs for every line of every request.
  auto where = [this] { return "line " + std::to_string(line_number_); };
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find('\r') != std::string_view::npos) {
    Fail(Status::ParseError(where() + " holds a CR that does not end the line"));
    return;
  }
  if (line.size() > limits_.max_line_length) {
    Fail(Status::LimitExceeded(where() + " is longer than max_line_length (" +
                               std::to_string(limits_.max_line_length) + " bytes)"));
    return;
  }
  if (line.empty()) {
    if (current_.attribute_count() == 0) {
      Fail(Status::ParseError(where() + ": empty request (a blank line with no attributes)"));
    } else if (!current_.Has("request")) {
      Fail(Status::ParseError(where() + ": request without the required 'request' attribute"));
    } else {
      ready_ = true;
    }
    return;
  }
  if (current_.attribute_count() >= limits_.max_attributes) {
    Fail(Status::LimitExceeded(where() + ": more than max_attributes (" +
                               std::to_string(limits_.max_attributes) +
                               ") attributes in one request"));
    return;
  }
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    Fail(Status::ParseError(where() + " is not name=value: " + PrintableExcerpt(line)));
    return;
  }
  std::string_view name = line.substr(0, eq);
  if (name.empty()) {
    Fail(Status::ParseError(where() + " has an empty attribute name: " + PrintableExcerpt(line)));
    return;
  }
  if (!ValidName(name)) {
    Fail(Status::ParseError(where() + ": attribute name " + PrintableExcerpt(name) +
                            " has characters outside a-z, 0-9 and '_'"));
    return;
  }
  if (!current_.Add(name, line.substr(eq + 1))) {
    Fail(Status::ParseError(where() + ": duplicate attribute '" + std::string(name) + "'"));
    return;
  }
  attribute_bytes_ += line.size();
}

PolicyRequest PolicyRequestParser::TakeRequest() {
  PolicyRequest request = std::move(current_);
  current_ = PolicyRequest();
  attribute_bytes_ = 0;
  ready_ = false;
  return request;
}

}  // namespace mailwarden

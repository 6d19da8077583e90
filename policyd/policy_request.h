// Postfix's policy delegation protocol, request side: an incremental, bounded parser and
// the request it produces (SMTPD_POLICY_README).
//
// A request is a run of "name=value" lines ended by LF (a CR before the LF is tolerated)
// and closed by an empty line. The parser takes bytes in whatever chunks the socket hands
// out: a line may straddle reads, and one read may hold several requests (pipelining).
// It is strict, because the peer is only trusted to be Postfix: a line without '=', a name
// outside [a-z0-9_]+, a NUL byte, a stray CR, a duplicate name, a line longer than
// max_line_length, more than max_attributes lines, an empty request or one without the
// required "request" attribute is a kParseError / kLimitExceeded naming the problem and
// its line. Memory per parser stays below about max_line_length * (max_attributes + 1).
//
// PolicyRequest is a plain value (safe to read from several threads); a parser belongs to
// one connection and is not thread-safe.
#ifndef MAILWARDEN_POLICYD_POLICY_REQUEST_H_
#define MAILWARDEN_POLICYD_POLICY_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mailwarden {

// One complete request: its attributes by name. Stored as one text of names and values
// and a list of where each lies (two allocations per request, not two per attribute: the
// daemon parses tens of thousands per second); lookups scan the list, which is short
// (Postfix sends about 30 attributes) and compares lengths first.
class PolicyRequest {
 public:
  using AttributeMap = std::map<std::string, std::string, std::less<>>;

  PolicyRequest() = default;
  // From attributes given whole (tests, tools).
  explicit PolicyRequest(const AttributeMap& attributes);

  // The value of `name`, or "" when the request does not carry it (Postfix also sends
  // "name=" for values it does not have, so the two are deliberately the same).
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const { return FindField(name) != nullptr; }
  size_t attribute_count() const { return fields_.size(); }
  // Every attribute, in name order (a copy).
  AttributeMap attributes() const;

  std::string_view request() const { return Get("request"); }  // "smtpd_access_policy"
  // CONNECT, EHLO, HELO, MAIL, RCPT, DATA, END-OF-MESSAGE, VRFY or ETRN.
  std::string_view protocol_state() const { return Get("protocol_state"); }
  std::string_view protocol_name() const { return Get("protocol_name"); }
  std::string_view helo_name() const { return Get("helo_name"); }
  std::string_view queue_id() const { return Get("queue_id"); }
  // The envelope sender without angle brackets; "" for the null sender <>.
  std::string_view sender() const { return Get("sender"); }
  std::string_view recipient() const { return Get("recipient"); }
  std::string_view client_address() const { return Get("client_address"); }
  std::string_view client_name() const { return Get("client_name"); }
  std::string_view instance() const { return Get("instance"); }
  std::string_view sasl_method() const { return Get("sasl_method"); }
  std::string_view sasl_username() const { return Get("sasl_username"); }
  std::string_view policy_context() const { return Get("policy_context"); }
  // Numeric attributes: nothing when absent, empty, not all digits, or out of range.
  std::optional<uint64_t> size() const { return Number("size"); }
  std::optional<uint64_t> recipient_count() const { return Number("recipient_count"); }
  std::optional<uint64_t> Number(std::string_view name) const;

  // protocol_state in lower case ("rcpt", "end-of-message"): the decision log's stage.
  std::string Stage() const;

 private:
  friend class PolicyRequestParser;
  struct Field {
    uint32_t name_pos, name_len, value_pos, value_len;  // in text_
  };
  // Appends an attribute; false (and nothing appended) when `name` is there already.
  bool Add(std::string_view name, std::string_view value);
  const Field* FindField(std::string_view name) const;
  std::string_view Slice(uint32_t pos, uint32_t len) const { return {text_.data() + pos, len}; }

  std::string text_;
  std::vector<Field> fields_;
};

struct PolicyLimits {
  size_t max_line_length = 4096;  // bytes of one line, its CR LF not counted
  size_t max_attributes = 128;    // lines of one request
};

class PolicyRequestParser {
 public:
  explicit PolicyRequestParser(PolicyLimits limits) : limits_(limits) {}

  // Consumes bytes of `data` up to the end of the first request it completes, or all of
  // it. Returns how many bytes were consumed; when that is less than data.size(), a
  // request is ready (has_request()) and the caller feeds the rest after TakeRequest().
  // After an error the parser is spent: every later call returns the same error.
  Result<size_t> Feed(std::string_view data);

  bool has_request() const { return ready_; }
  // The completed request; the parser starts on the next one.
  PolicyRequest TakeRequest();

  // True between requests with nothing buffered: closing the connection now loses nothing.
  bool idle() const {
    return !ready_ && line_.empty() && current_.attribute_count() == 0 && error_.ok();
  }
  // Bytes held for the request in progress (partial line and attributes so far).
  size_t buffered_bytes() const { return line_.size() + attribute_bytes_; }

 private:
  // Handles one line without its LF; sets error_ on failure.
  void Line(std::string_view line);
  Status Fail(Status status);

  PolicyLimits limits_;
  std::string line_;       // the current line so far, when it straddles Feed() calls
  PolicyRequest current_;  // the request in progress
  size_t attribute_bytes_ = 0;
  uint64_t line_number_ = 0;  // on this connection, 1-based, for error messages
  bool ready_ = false;
  Status error_;
};

// A quoted, printable rendering of untrusted bytes for a log line: at most `max` bytes of
// `text`, anything outside printable ASCII as \xNN, "..." when cut.
std::string PrintableExcerpt(std::string_view text, size_t max = 40);

}  // namespace mailwarden

#endif  // MAILWARDEN_POLICYD_POLICY_REQUEST_H_

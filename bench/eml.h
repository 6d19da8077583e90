// Test messages for the milter benchmark: loading .eml files into the shape
// an MTA hands to a milter (a list of header fields and a CRLF body), and a
// built-in synthetic message for runs without files.
//
// Thread-safety: TestMessage is immutable after loading and may be shared
// between threads.

#ifndef MAILWARDEN_BENCH_EML_H_
#define MAILWARDEN_BENCH_EML_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mailwarden::bench {

// One message ready to be replayed over the milter protocol.
struct TestMessage {
  std::string name;  // file path, or "builtin"
  // Header fields in order: name and raw value (everything after the colon,
  // leading whitespace included). Folded lines are joined with "\n", the way
  // Postfix hands multi-line headers to milters.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;   // with CRLF line endings, as sent in SMFIC_BODY
  uint64_t size = 0;  // size of the whole message in SMTP (CRLF) form
};

// Limits applied while loading; exceeding one fails the load with a message
// naming the limit rather than silently truncating.
struct EmlLimits {
  uint64_t max_file_bytes = 64ull << 20;  // per file
  size_t max_headers = 10000;
  // A header travels in one packet: name + NUL + value + NUL must fit the
  // milter packet size libmilter accepts (65535 bytes of data).
  size_t max_header_bytes = 65000;
  size_t max_files = 100000;
};

// Parses `text` (a message in RFC 5322 form, LF or CRLF line endings) into
// *out. A leading mbox "From " line is skipped. Fails (false, *error) when a
// limit is exceeded.
bool ParseMessage(const std::string& text, const std::string& name, const EmlLimits& limits,
                  TestMessage* out, std::string* error);

// Loads every path in `paths`: a regular file is loaded as one message, a
// directory contributes its "*.eml" files (not recursive) in name order.
// Appends to *out; on failure returns false with *error naming the file.
bool LoadMessages(const std::vector<std::string>& paths, const EmlLimits& limits,
                  std::vector<TestMessage>* out, std::string* error);

// Returns a synthetic plain-text message of roughly `total_bytes` bytes
// (at least a few hundred: the header block is fixed).
TestMessage BuiltinMessage(size_t total_bytes);

}  // namespace mailwarden::bench

#endif  // MAILWARDEN_BENCH_EML_H_

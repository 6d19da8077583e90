// libFuzzer target: the streaming MIME parser against arbitrary messages. The input is fed
// raw (headers included) in chunks whose sizes come from the input's first byte, with small
// limits so that the limit paths are reached. Parsing must never crash, hang or leak, and
// must not depend on how the input is chunked.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milter/mime/parser.h"

namespace {

std::string Run(std::string_view input, size_t chunk) {
  mailwarden::mime::MimeLimits limits;
  limits.max_depth = 6;
  limits.max_parts = 40;
  limits.max_header_line_bytes = 2048;
  limits.max_header_bytes = 8192;
  limits.max_headers = 50;
  limits.max_kept_part_bytes = 1024;
  mailwarden::mime::MimeParser parser(
      limits, [](const mailwarden::mime::MimePart& p, std::string_view) { return p.depth % 2 == 0; });
  for (size_t pos = 0; pos < input.size(); pos += chunk) parser.AddRaw(input.substr(pos, chunk));
  return mailwarden::mime::DescribeForTest(parser.Finish());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string whole = Run(input, input.size() + 1);
  if (Run(input, chunk) != whole) std::abort();  // chunking changed the result
  return 0;
}

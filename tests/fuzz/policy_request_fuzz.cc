// libFuzzer target: the policy delegation protocol parser against arbitrary bytes, fed in
// arbitrary chunks (the first byte picks the chunk size), as a hostile client would send
// them. Must never crash, hang, or hold more than its limits allow.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policyd/policy_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  mailwarden::PolicyLimits limits;
  limits.max_line_length = 256;
  limits.max_attributes = 16;
  mailwarden::PolicyRequestParser parser(limits);
  while (!input.empty()) {
    std::string_view piece = input.substr(0, chunk);
    auto used = parser.Feed(piece);
    if (!used.ok()) return 0;  // a parse error ends the connection
    if (parser.buffered_bytes() > limits.max_line_length * (limits.max_attributes + 2) + 64) {
      std::abort();  // the parser's memory bound was broken
    }
    if (parser.has_request()) {
      mailwarden::PolicyRequest r = parser.TakeRequest();
      (void)r.Stage();
      (void)r.size();
    }
    input.remove_prefix(*used);
  }
  return 0;
}
